// The widget's own strings, in English here and in German, French, Spanish and
// Portuguese in lang/<code>.js, each fetched only by a page that needs it (what a
// visitor downloads on first load stays small: tests/browser/size.mjs). No DOM:
// the language pick and the formatting are tested by node (i18n.test.mjs).

/** The languages the widget speaks; any other is English. */
export const LANGUAGES = ['en', 'de', 'fr', 'es', 'pt'];

/** English, and every string another language lacks. `{name}` marks a value. */
export const EN = {
  title: 'Chat with us',
  subtitle: 'We usually reply in a few minutes',
  endChat: 'End chat',
  openChat: 'Open chat',
  openChatUnread: 'Open chat, {n} unread',
  closeChat: 'Close chat',
  dismissTeaser: 'Dismiss',
  conversation: 'Conversation',
  message: 'Message',
  typeMessage: 'Type a message…',
  chooseAbove: 'Choose an option above',
  send: 'Send',
  choose: 'Choose…',
  answer: 'Answer',
  answers: 'Answers',
  skip: 'Skip',
  waiting: 'Waiting for an agent…',
  queueNumber: 'You are number {n} in the queue',
  queueNumberWait: 'You are number {n} in the queue, about {m} minutes',
  queueNumberWaitOne: 'You are number {n} in the queue, about 1 minute',
  connecting: 'Connecting you to an agent…',
  online: 'Online',
  connected: 'Connected',
  showOlder: 'Show older messages',
  typing: '{name} is typing…',
  agent: 'Agent',
  you: 'You',
  sending: 'Sending…',
  sent: 'Sent',
  bookMeeting: 'Book a meeting',
  yourEmail: 'Your email',
  yourMessage: 'Your message (optional)',
  detailsReceived: 'Thanks! We received your details and will get back to you.',
  newChat: 'Start a new chat',
  reconnecting: 'Connection lost — reconnecting…',
  notConnected: 'Not connected — please try again in a moment.',
  chatEnded: 'Chat ended',
  noAgent: 'No agent available',
  endedCompleted: 'The chat has ended.',
  endedMissed: 'Sorry, no agent could take the chat in time.',
  endedFallback: 'No agent is available right now.',
  endedTimedOut: 'The chat ended after 10 minutes without a message.',
  errorInternal: 'Something went wrong on our side; please try again.',
  errorRateLimited: 'That was a lot at once; please wait a moment and try again.',
  errorOther: 'That did not work.',
  theAgent: 'The agent',
  anAgent: 'An agent',
  agentLeft: '{name} left the chat. Connecting you with someone else…',
  agentJoined: '{name} joined the chat',
};

/** A language tag as BCP 47 writes it (`de`, `pt-BR`), lower-cased; `null` if it is none. */
export function normalTag(raw) {
  const tag = String(raw ?? '').trim().replace(/_/g, '-').toLowerCase();
  return tag.length <= 35 && /^[a-z]{2,8}(-[a-z0-9]{1,8})*$/.test(tag) ? tag : null;
}

/** The widget language of a tag: its language without the region (`pt-br` is `pt`), else English. */
export function uiLanguage(tag) {
  const primary = (tag || '').split('-')[0];
  return LANGUAGES.includes(primary) ? primary : 'en';
}

/**
 * The visitor's language: the snippet's `data-lang`, else the page's `<html lang>`,
 * else the first of the browser's languages the widget speaks (else its first).
 * `tag` goes to the server in `start` (a dialog may be written in any language);
 * `ui` is the widget's own language.
 */
export function pickLanguage({ dataLang, htmlLang, navigatorLanguages = [] } = {}) {
  for (const given of [dataLang, htmlLang]) {
    const tag = normalTag(given);
    if (tag) return { tag, ui: uiLanguage(tag) };
  }
  const tags = navigatorLanguages.map(normalTag).filter(Boolean);
  const spoken = tags.find((t) => uiLanguage(t) !== 'en' || t.startsWith('en'));
  const tag = spoken || tags[0] || 'en';
  return { tag, ui: uiLanguage(tag) };
}

/** `strings`' text for `key` with `{name}` marks filled from `values`; English when missing. */
export function format(strings, key, values = {}) {
  const text = strings[key] ?? EN[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}

/**
 * What a `waiting` frame says: the place in the live queue and, when the server
 * estimates one, the wait in whole minutes (at least one); without a place, just
 * waiting. The frame is the server's, but read as hostile: a place is a positive
 * whole number, a wait a finite number of seconds.
 */
export function waitingText(strings, frame) {
  const n = frame?.position;
  if (!Number.isSafeInteger(n) || n < 1) return format(strings, 'waiting');
  const secs = frame.estimated_wait_seconds;
  if (typeof secs !== 'number' || !Number.isFinite(secs) || secs < 0) return format(strings, 'queueNumber', { n });
  const m = Math.max(1, Math.ceil(secs / 60));
  return m === 1 ? format(strings, 'queueNumberWaitOne', { n }) : format(strings, 'queueNumberWait', { n, m });
}

/**
 * The strings of `ui`: English at once, another language from `lang/<ui>.js` beside
 * this file (a URL that bundlers leave alone), English again when that fails.
 */
export async function loadStrings(ui, base = import.meta.url) {
  if (ui === 'en' || !LANGUAGES.includes(ui)) return EN;
  try {
    const url = new URL(`lang/${ui}.js`, base).href;
    const mod = await import(url);
    return { ...EN, ...mod.default };
  } catch {
    return EN;
  }
}
