// The Agent Inbox's state, in one object that the entry (inbox.js) creates and hands to
// whatever needs it, and its transitions: functions of that state and a server frame
// (docs/protocol.md). No DOM, no timer; a transition that sends is given `send(frame)`
// (true when the frame went), so node tests drive them all (state.test.mjs).
import { dash } from '../shared/format.js';
import { Thread } from '../shared/thread.js';

/** How a chat ended (`reason` of `chat_ended` and `past_chats`), as the lists say it. */
export const ENDED = {
  completed: 'ended', dropped: 'visitor left', missed: 'missed', fallback: 'no agent', timed_out: 'timed out',
};

/** Why an offer closed (`reason` of `offer_withdrawn`). */
export const WITHDRAWN = {
  timed_out: 'timed out', declined: 'declined', taken: 'taken by another agent or tab', visitor_left: 'the visitor left',
  away: 'you were offline past the grace period',
};

/**
 * A signed-out inbox. `chats` holds every chat this page knows, live and ended:
 * `{conversation, visitor, thread, ended, reason, endedAt, unread, score, typing,
 * older, askedOlder, loaded, downloading}`, where `older` is the cursor of the
 * transcript's next older page (undefined until a page came, null when all is
 * shown). `missed` and the past chats come a page at a time (docs/protocol.md, "Lists
 * in pages"): `pastNext` is the cursor of the next page of past chats, as `older`.
 */
export function createState() {
  return {
    me: null,
    selected: null,
    chats: new Map(),
    offers: new Map(), // conversation -> {accepting}
    pickingUp: new Set(), // missed requests this inbox asked to pick up
    moved: new Map(), // conversation -> the highest `version` of its `chat_moved`
    missed: { items: [], next: null },
    pastNext: undefined,
  };
}

/**
 * Signs out: forgets every chat, offer, visitor and cursor, so nothing of the agent's
 * visitors stays in the page (nor anywhere in the browser: see storage.js).
 */
export function signOut(state) {
  Object.assign(state, createState());
}

/**
 * The cursor of the next older page once `frame` (a page answering `before`) has
 * come, given the one held. The newest page (`before: null`) sets it only when no
 * page came yet, so a reconnect, which asks for the newest page again, does not send
 * the agent back to the second page; a page answering another cursor than the one
 * held is late, and changes nothing.
 */
export function nextCursor(cursor, frame) {
  const answers = frame.before == null ? cursor === undefined : frame.before === cursor;
  return answers ? frame.next ?? null : cursor;
}

/** The chat of `conversation`, created empty (live) when new; `visitor` replaces its visitor. */
export function chatFor(state, conversation, visitor) {
  let chat = state.chats.get(conversation);
  if (!chat) {
    chat = { conversation, visitor: visitor || {}, thread: new Thread(), ended: false, unread: 0, score: null };
    state.chats.set(conversation, chat);
  }
  if (visitor) chat.visitor = visitor;
  return chat;
}

/**
 * `chat_started`: the chat is live with its latest page of history. Returns whether
 * to show it: this inbox accepted or picked it up, or it is new and nothing is shown.
 * A frame whose `version` is not above that of a `chat_moved` already received for
 * the chat is stale and ignored (docs/protocol.md, "sync").
 */
export function chatStarted(state, frame) {
  // Read before a move this page has heard of already (pushes from two handlers may
  // arrive in either order): the chat is not ours, whatever this frame says.
  if (isStale(state, frame)) return false;
  const known = state.chats.get(frame.conversation);
  const fresh = !known || known.ended;
  const chat = chatFor(state, frame.conversation, frame.visitor);
  chat.ended = false;
  chat.thread.merge(frame.messages || []);
  // The latest page of at most 50; `next` asks for the page before it.
  chat.older = frame.next ?? null;
  const accepted = state.offers.get(frame.conversation)?.accepting || state.pickingUp.delete(frame.conversation);
  return Boolean(accepted || (fresh && !state.selected));
}

/**
 * `message`: adds it to its chat; counts it unread unless the chat is shown in a
 * visible tab. Returns false for an unknown chat or a message already shown.
 */
export function messageArrived(state, frame, tabHidden = false) {
  const chat = state.chats.get(frame.conversation);
  if (!chat || !chat.thread.add(frame.message)) return false;
  if (frame.message.sender?.kind === 'visitor') chat.typing = false;
  if (frame.conversation !== state.selected || tabHidden) chat.unread += 1;
  return true;
}

/**
 * `missed`: the newest page (`before: null`, also the minute's refresh) replaces the
 * list, since picked-up requests leave it; an older page adds the requests not listed.
 */
export function missedPage(state, frame) {
  const page = frame.chats || [];
  const { missed } = state;
  if (frame.before == null) missed.items = page;
  else missed.items = missed.items.concat(page.filter((m) => !missed.items.some((o) => o.conversation === m.conversation)));
  missed.next = frame.next ?? null;
}

/**
 * `past_chats`: lists each chat not known yet as ended (its transcript and score are
 * asked for with `history` when it is opened). The server is the only source: this
 * browser keeps no list of its own.
 */
export function pastChatsPage(state, frame) {
  state.pastNext = nextCursor(state.pastNext, frame);
  for (const p of frame.chats || []) {
    if (state.chats.has(p.conversation)) continue;
    state.chats.set(p.conversation, {
      conversation: p.conversation, visitor: { name: p.visitor_name, email: p.visitor_email }, thread: new Thread(),
      ended: true, reason: p.reason, endedAt: p.ended_at, unread: 0, score: null, loaded: false,
    });
  }
}

/**
 * `transcript` (the answer to `history`): merges the page and the score. Returns
 * null for an unknown chat, else what follows: `older` (a download waits for the next
 * page), `download` (it has them all now) or `show`.
 */
export function transcriptPage(state, frame) {
  const chat = state.chats.get(frame.conversation);
  if (!chat) return null;
  chat.thread.merge(frame.messages || []);
  if (frame.score != null) chat.score = frame.score;
  chat.older = nextCursor(chat.older, frame);
  chat.askedOlder = false;
  if (!chat.downloading) return 'show';
  if (chat.older != null) return 'older';
  chat.downloading = false;
  return 'download';
}

/**
 * `ack`: the pending message with `id` is stored; `message`, the stored message,
 * takes its place in its chat (this tab gets no `message` frame of its own
 * message). Returns whether anything changed.
 */
export function acked(state, id, message) {
  let any = false;
  for (const chat of state.chats.values()) if (chat.thread.ack(id)) any = true;
  const chat = message && state.chats.get(message.conversation);
  if (chat && chat.thread.add(message)) any = true;
  return any;
}

/** `typing` from a visitor: returns the chat whose indicator changed, or null. */
export function visitorTyping(state, frame) {
  const chat = state.chats.get(frame.conversation);
  if (!chat || frame.from?.kind !== 'visitor') return null;
  chat.typing = Boolean(frame.typing);
  return chat;
}

/** The 8 s since the visitor's last `typing: true` went by: the indicator goes. */
export function typingOver(state, conversation) {
  const chat = state.chats.get(conversation);
  if (chat) chat.typing = false;
}

/** The tab is visible again: the chat shown is read. Returns whether one is shown. */
export function seen(state) {
  const chat = state.chats.get(state.selected);
  if (!chat) return false;
  chat.unread = 0;
  return true;
}

/** Whether a `chat_started` was read before a move this page already heard of. */
function isStale(state, frame) {
  const moved = state.moved.get(frame.conversation);
  return moved !== undefined && Number.isInteger(frame.version) && frame.version <= moved;
}

/** `chat_moved`: a live chat went back to the queue (offline past the grace period). Returns whether one did. */
export function chatMoved(state, frame) {
  if (Number.isInteger(frame.version)) {
    state.moved.set(frame.conversation, Math.max(frame.version, state.moved.get(frame.conversation) ?? -1));
  }
  const chat = state.chats.get(frame.conversation);
  if (!chat || chat.ended) return false;
  state.chats.delete(frame.conversation);
  if (state.selected === frame.conversation) state.selected = null;
  return true;
}

/** `chat_ended` at `now` (ISO): the chat moves to the past chats, its transcript already here. */
export function chatEnded(state, frame, now) {
  const chat = state.chats.get(frame.conversation);
  if (!chat) return false;
  Object.assign(chat, { ended: true, reason: frame.reason, typing: false, endedAt: now, loaded: true });
  return true;
}

/** Offers whose Accept waits for an answer, which an `error` frame ends; returns their conversations. */
export function errorArrived(state) {
  const waiting = [...state.offers].filter(([, o]) => o.accepting).map(([c]) => c);
  for (const c of waiting) state.offers.get(c).accepting = false;
  return waiting;
}

/** Shows `conversation`, read; an ended chat not loaded yet asks for its transcript. */
export function select(state, conversation, send) {
  state.selected = conversation;
  const chat = state.chats.get(conversation);
  if (!chat) return;
  chat.unread = 0;
  // The latest page brings the chat's internal notes after it (a live chat's
  // messages came with `chat_started`; its notes come this way, once).
  if (!chat.loaded && send({ action: 'history', conversation })) chat.loaded = true;
}

/**
 * `note`: an internal note of a chat this inbox holds (agents only; never shown to
 * the visitor). Returns whether it is new.
 */
export function noteArrived(state, frame) {
  const chat = state.chats.get(frame.conversation);
  if (!chat || !frame.note) return false;
  chat.notes = chat.notes || new Map();
  if (chat.notes.has(frame.note.id)) return false;
  chat.notes.set(frame.note.id, frame.note);
  return true;
}

/**
 * The chat's messages and notes in time order, each `{ note: true }` or a message:
 * a message still being sent (no time yet) comes last, as it was sent last.
 */
export function timeline(chat) {
  const messages = chat.thread.list();
  const notes = [...(chat.notes?.values() || [])].map((n) => ({ ...n, note: true }));
  if (!notes.length) return messages;
  const time = (m) => (m.at ? Date.parse(m.at) : Infinity);
  return [...messages, ...notes].sort((a, b) => time(a) - time(b));
}

/** Asks for the page of `chat`'s messages older than those shown, once. */
export function askOlder(chat, send) {
  if (chat.older == null || chat.askedOlder) return;
  if (send({ action: 'history', conversation: chat.conversation, before: chat.older })) chat.askedOlder = true;
}

/**
 * The agent asked for the whole transcript as a file: true when every page is here,
 * else the older pages are asked for first and `transcriptPage` says `download`.
 */
export function downloadAsked(chat, send) {
  if (chat.older == null) return true;
  chat.downloading = true;
  askOlder(chat, send);
  return false;
}

/** Scores `chat` (0-3) when the frame goes. */
export function scoreChat(chat, score, send) {
  if (!send({ action: 'score', conversation: chat.conversation, score })) return false;
  chat.score = score;
  return true;
}

/**
 * The agent's reply in the selected chat: shown at once as pending, resent after a
 * reconnect until acked (`resends`). Returns the pending entry, or null when there
 * is nothing to send or nowhere to send it.
 */
export function reply(state, text, id, send) {
  const chat = state.chats.get(state.selected);
  const body = String(text ?? '').trim();
  if (!chat || chat.ended || !body) return null;
  const entry = chat.thread.addPending(id, body);
  for (const frame of outbox(chat)) send(frame);
  return entry;
}

/** The `send_message` frames a chat's thread lets go out now (Thread.outbox). */
function outbox(chat) {
  return chat.thread.outbox()
    .map((p) => ({ action: 'send_message', conversation: chat.conversation, id: p.id, text: p.text }));
}

/** The replies that may go out now in every chat (after an ack freed a place). */
export function sendable(state) {
  return [...state.chats.values()].flatMap(outbox);
}

/** The `send_message` frames of every reply not acked yet, for a socket just opened. */
export function resends(state) {
  for (const chat of state.chats.values()) chat.thread.resendAll();
  return sendable(state);
}

/** The active chats (as they came) and the past ones, most recently ended first. */
export function lists(state) {
  const all = [...state.chats.values()];
  const active = all.filter((c) => !c.ended);
  const past = all.filter((c) => c.ended).sort((a, b) => String(b.endedAt || '').localeCompare(String(a.endedAt || '')));
  return { active, past };
}

/** Unread messages in live chats, for the tab title. */
export function unreadTotal(state) {
  return lists(state).active.reduce((n, c) => n + c.unread, 0);
}

/** Who wrote a message, as the inbox names them: the signed-in agent is "You". */
export function senderLabel(me, sender) {
  if (sender?.kind === 'visitor') return 'Visitor';
  if (sender?.kind === 'agent') return !me || !sender.agent || sender.agent === me ? 'You' : `Agent ${sender.agent}`;
  if (sender?.kind === 'system') return 'System';
  return 'You';
}

/** A chat's or missed request's name in a list: the visitor's name, email, or the id's end. */
export function visitorName(visitor, conversation) {
  return visitor?.name || visitor?.email || `Visitor ${String(conversation).slice(-6)}`;
}

/** The one line an offer shows of its visitor: name · email · page. */
export function visitorSummary(v = {}) {
  return [dash(v.name), dash(v.email), dash(v.page_url)].join(' · ');
}

/**
 * The visitor panel's answers as [label, value, unverified] rows: `unverified` when
 * the server marked the value so (a verified-only attribute that was not signed,
 * docs/identify.md), which routing ignored and the panel must not present as fact.
 */
export function answerRows(v = {}) {
  return (v.answers || []).map((a) => [a.label, a.value, a.unverified === true]);
}

/** How a list names an ended chat. */
export const endedLabel = (reason) => ENDED[reason] || 'ended';
