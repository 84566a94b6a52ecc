// The chat widget's entry: reads its <script> tag, mounts the view, drives the
// visitor side of the protocol (docs/protocol.md) and exposes `window.LiveChat`.
import { createStorage } from '../shared/storage.js';
import { LiveSocket, handshakeRefused, newerToken, socketUrl } from '../shared/socket.js';
import { Thread, newMessageId } from '../shared/thread.js';
import { typingThrottle } from '../shared/typing.js';
import { resolveBranding } from './branding.js';
import { loadSite } from './site.js';
import { format, loadStrings, pickLanguage, waitingText } from './i18n.js';
import { mountWidget } from './render.js';
import { readSite, teaserText, watchTriggers } from './triggers.js';

// What each `chat_ended` reason tells the visitor (./i18n.js keys).
const ENDED = {
  completed: 'endedCompleted',
  dropped: 'endedCompleted',
  missed: 'endedMissed',
  fallback: 'endedFallback',
  timed_out: 'endedTimedOut',
};

function scriptTag() {
  const own = new URL(import.meta.url).href;
  return [...document.querySelectorAll('script[src]')].find((s) => s.src === own)
    || document.querySelector('script[data-socket-url]');
}

// The visitor's language (docs/protocol.md, `start`'s `lang`): the snippet's
// data-lang, else the page's <html lang>, else the browser's.
function language(tag) {
  return pickLanguage({
    dataLang: tag?.dataset.lang,
    htmlLang: document.documentElement.lang,
    navigatorLanguages: navigator.languages?.length ? [...navigator.languages] : [navigator.language],
  });
}

// The snippet's branding overrides (web/README.md): data-accent, data-accent-text,
// data-position, data-offset-x/-y, data-title, data-subtitle, data-launcher-label,
// data-avatar, as `dataset` names them.
const BRAND_ATTRIBUTES = ['accent', 'accentText', 'position', 'offsetX', 'offsetY', 'title', 'subtitle', 'launcherLabel', 'avatar'];

/** The branding: `site` (site.json's `widget` member, or null) under the snippet's overrides. */
function branding(tag, site, lang) {
  const data = {};
  for (const k of BRAND_ATTRIBUTES) if (tag?.dataset[k] != null) data[k] = tag.dataset[k];
  return resolveBranding(site, data, { lang, base: location.href, warn: (why) => console.warn(why) });
}

// How far down the page the visitor scrolled, 0 to 100 (a page that fits: 100).
function scrollDepth() {
  const room = document.documentElement.scrollHeight - window.innerHeight;
  return room <= 0 ? 100 : Math.min(100, (window.scrollY / room) * 100);
}

let initialised = false;

async function init() {
  if (window.LiveChat || initialised) return;
  initialised = true;
  const tag = scriptTag();
  const lang = language(tag);
  // Another language than English is one small file more, fetched before the
  // launcher shows so that nothing appears in English first.
  // site.json (the account's branding and its dialogs' audiences) comes in the same wait.
  const [strings, site] = await Promise.all([loadStrings(lang.ui), loadSite(import.meta.url)]);
  const t = (key, values) => format(strings, key, values);
  const brand = branding(tag, site?.widget, lang.tag);
  const title = () => brand.title || t('title');
  const configuredUrl = tag?.dataset.socketUrl || '';
  const debug = tag?.dataset.debug === 'true';
  const store = createStorage({ prefix: 'livechat:' });

  let attributes = null;
  let identity = null; // a signed identify (docs/identify.md), forwarded as is
  let thread = new Thread();
  let agentName = null;
  let joinedNote = null; // the agent whose "joined" note is shown (a reconnect repeats agent_joined)
  let phase = 'dialog'; // dialog | waiting | chat | fallback | ended
  let started = false;
  const submitted = new Map();

  // Widget events for the host page (web/README.md lists them), one `livechat:event`
  // with `detail.name`: conversation_triggered / engaged / completed / closed,
  // live_chat_requested / initiated / ended / request_timeout. All but `closed` fire
  // once per conversation; the record is stored because a reload continues the same
  // conversation and the host page's analytics must not count it twice.
  const ONCE = new Set(['conversation_triggered', 'conversation_engaged', 'conversation_completed',
    'live_chat_requested', 'live_chat_initiated', 'live_chat_ended', 'live_chat_request_timeout']);
  let fired = new Set();
  try {
    fired = new Set(JSON.parse(store.get('events') || '[]'));
  } catch {
    /* a damaged record: start afresh */
  }
  function emit(name, extra) {
    if (ONCE.has(name)) {
      if (fired.has(name)) return;
      fired.add(name);
      store.set('events', JSON.stringify([...fired]));
    }
    window.dispatchEvent(new CustomEvent('livechat:event', { detail: { name, ...(extra || {}) } }));
  }
  function forgetEvents() {
    fired = new Set();
    store.remove('events');
  }
  const engage = () => emit('conversation_engaged');

  // Per-dialog records (ids): completed dialogs are never offered again, and a
  // teaser dismissed or followed is not shown again.
  const ids = (key) => {
    try {
      const list = JSON.parse(store.get(key) || '[]');
      return new Set(Array.isArray(list) ? list.slice(-50) : []);
    } catch {
      return new Set();
    }
  };
  const remember = (key, set, id) => {
    set.add(id);
    store.set(key, JSON.stringify([...set].slice(-50)));
  };
  const completed = ids('done');
  const teased = ids('teased');
  let siteDialogs = null; // site.json's dialogs (readSite); null: no site.json
  let triggers = null; // watchTriggers() of this page, while the visitor has no conversation
  let anyDialog = false; // the next start names no dialogs
  let teaser = null; // {id, remove()} while a teaser shows
  function dropTeaser(rememberIt) {
    if (!teaser) return;
    if (rememberIt) remember('teased', teased, teaser.id);
    teaser.remove();
    teaser = null;
  }

  // The `before` of the chat's next older page of history, `null` when all is shown.
  let older = null;
  const view = mountWidget({
    onOlder: () => { if (older != null) send({ action: 'history', before: older }); },
    onToggle(open) {
      store.set('open', open ? '1' : '0');
      if (open) {
        dropTeaser(true);
        emit('conversation_triggered');
        connect();
      } else {
        emit('conversation_closed');
      }
    },
    onAnswer: (card, answer) => {
      engage();
      send({ action: 'answer', card, answer });
    },
    onSubmit(card, value) {
      engage();
      submitted.set(card, value);
      send({ action: 'submit', card, value });
    },
    onSend: sendMessage,
    onTyping: typingNow,
    onLeaveDetails: (email, message) => send({ action: 'leave_details', email, ...(message ? { message } : {}) }),
    onRestart: restart,
    onEndChat() {
      send({ action: 'end_chat' });
    },
  }, { strings, lang: lang.ui, brand });

  const socketAt = () => socketUrl(configuredUrl, location, { visitor_token: store.get('visitor_token') });
  const socket = new LiveSocket({
    debug,
    url: socketAt,
    // A token the server refuses (replaced more than 2 minutes ago, or revoked when
    // the chat ended) never works again: start fresh, as a new visitor.
    async onClose({ opened, failures }) {
      const token = store.get('visitor_token');
      if (opened || !token) return;
      if (!(await handshakeRefused(socketAt(), failures)) || store.get('visitor_token') !== token) return;
      // The conversation is over: a visitor who is not looking at it goes back to
      // the page's triggers, as a new one.
      if (siteDialogs && !view.isOpen()) backToTriggers();
      else restart();
    },
    onState(state) {
      view.setStatus(state === 'waiting' ? t('reconnecting') : null);
    },
    onOpen() {
      const frame = { action: 'start', page_url: location.href.slice(0, 2048), lang: lang.tag };
      // The dialogs whose triggers fired (a resume continues its own, whatever
      // they are); none named (no site.json, "Start a new chat", LiveChat.open())
      // lets the server pick any of the page's.
      if (siteDialogs && !anyDialog) frame.dialogs = triggers?.fired() || [];
      if (attributes) frame.attributes = attributes;
      if (identity) frame.identity = identity;
      socket.send(frame);
    },
    onFrame: handle,
  });

  let parked = false; // stopped after a refused token, until the visitor opens the chat
  function connect() {
    if (started) return;
    started = true;
    if (parked) {
      parked = false;
      socket.reconnectNow();
    } else {
      socket.start();
    }
  }

  function send(frame) {
    if (!socket.send(frame)) view.showNotice(t('notConnected'));
  }

  function who(m) {
    const kind = m.sender?.kind;
    if (kind === 'visitor') return t('you');
    if (kind === 'agent') return agentName || t('agent');
    return '';
  }

  function show(m) {
    view.showMessage(m, m.pending || m.sender?.kind === 'visitor', who(m));
  }

  function setPhase(next) {
    phase = next;
    const chatting = next === 'chat';
    view.setComposer(chatting, { ended: t('chatEnded'), waiting: t('waiting') }[next]);
    view.setEndable(chatting || next === 'waiting');
    if (next === 'waiting') view.setHeader(title(), t('connecting'));
    if (chatting) view.setHeader(agentName || title(), agentName ? t('online') : t('connected'));
  }

  // The conversation from the last `session` frame: sent with each message so the
  // server can relay it without looking this connection up.
  let conversation = null;

  function messageFrame(id, text) {
    return conversation ? { action: 'send_message', conversation, id, text } : { action: 'send_message', id, text };
  }

  // Sends what the thread lets go out now (at most MAX_UNACKED unacked at a time).
  function flush() {
    for (const p of thread.outbox()) socket.send(messageFrame(p.id, p.text));
  }

  function sendMessage(text) {
    const entry = thread.addPending(newMessageId(), text);
    show(entry);
    flush();
    stopTyping();
  }

  const typing = typingThrottle((on) => socket.send({ action: 'typing', typing: on }));

  function typingNow() {
    if (phase === 'chat') typing.input();
  }

  function stopTyping() {
    typing.stop();
  }

  function forget() {
    store.remove('visitor_token');
    store.remove('conversation');
    store.remove('dialog');
  }

  // Nothing to show after all (no dialog for this visitor, or the conversation is
  // over): the socket parks and the launcher waits for the page's triggers again.
  function backToTriggers() {
    forget();
    started = false;
    parked = true;
    socket.stop();
    view.setOpen(false);
    watch(siteDialogs);
  }

  function restart() {
    forget();
    anyDialog = true;
    forgetEvents();
    thread = new Thread();
    older = null;
    agentName = null;
    joinedNote = null;
    submitted.clear();
    view.reset();
    view.setHeader(title(), brand.subtitle || t('subtitle'));
    setPhase('dialog');
    started = true;
    emit('conversation_triggered');
    socket.reconnectNow();
  }

  function addMessages(messages) {
    const fresh = thread.merge(messages);
    fresh.forEach(show);
    if (fresh.some((m) => m.sender?.kind === 'agent')) view.bumpUnread();
    if (thread.size && phase !== 'ended' && phase !== 'fallback') setPhase('chat');
    return fresh;
  }

  function handle(frame) {
    switch (frame.type) {
      case 'session':
        if (frame.visitor_token) store.set('visitor_token', newerToken(store.get('visitor_token'), frame.visitor_token));
        conversation = frame.conversation || null;
        // A conversation other than the stored one (the old one was over) starts its
        // own events.
        if (conversation && store.get('conversation') && store.get('conversation') !== conversation) {
          forgetEvents();
          if (view.isOpen()) emit('conversation_triggered');
        }
        if (conversation) store.set('conversation', conversation);
        if (typeof frame.dialog === 'string') store.set('dialog', frame.dialog);
        thread.resendAll();
        flush();
        break;
      case 'cards':
        view.settleCards(new Set((frame.cards || []).map((c) => c.card)));
        for (const card of frame.cards || []) {
          view.showCard(card, { prefill: submitted.get(card.card) });
          if (card.type === 'live_chat' && phase === 'dialog') {
            emit('live_chat_requested');
            setPhase('waiting');
          }
        }
        view.bumpUnread();
        break;
      case 'history':
        // A page of at most 50: the latest after `start`, an older one after `history`.
        if (frame.before == null || frame.before === older) {
          older = frame.next ?? null;
          view.setOlder(older != null);
        }
        addMessages(frame.messages || []);
        break;
      case 'message':
        addMessages([frame.message]);
        break;
      case 'ack':
        // The stored message comes with its ack (this page gets no `message`
        // frame of its own message): it takes the pending one's place.
        if (thread.ack(frame.id)) flush();
        if (frame.message) addMessages([frame.message]);
        break;
      case 'waiting':
        view.setWaiting(waitingText(strings, frame));
        if (phase === 'dialog') setPhase('waiting');
        break;
      case 'agent_left':
        // The agent lost their connection: the chat and its history go to someone else.
        view.note(t('agentLeft', { name: frame.agent_name || t('theAgent') }));
        joinedNote = null;
        setPhase('waiting');
        break;
      case 'agent_joined': {
        agentName = frame.agent_name || t('anAgent');
        if (joinedNote === null) emit('live_chat_initiated', { agent: agentName });
        view.setWaiting(null);
        setPhase('chat');
        // After a reload the history comes before agent_joined: name the agent on
        // the messages already shown and put the note before the agent's first one.
        // A reconnect repeats agent_joined: one note per agent.
        if (joinedNote === null) {
          const fromAgent = thread.list().filter((m) => m.sender?.kind === 'agent');
          fromAgent.forEach(show);
          view.note(t('agentJoined', { name: agentName }), fromAgent[0]?.id);
          view.bumpUnread();
        } else if (joinedNote !== agentName) {
          view.note(t('agentJoined', { name: agentName }));
          view.bumpUnread();
        }
        joinedNote = agentName;
        break;
      }
      case 'typing':
        if (frame.from?.kind !== 'visitor') view.setTyping(Boolean(frame.typing), agentName);
        break;
      case 'fallback':
        emit('live_chat_request_timeout');
        setPhase('fallback');
        view.setComposer(false, t('noAgent'));
        view.showFallback(frame);
        view.bumpUnread();
        break;
      case 'details_received':
        view.detailsReceived();
        break;
      case 'chat_ended': {
        if (phase === 'ended') break;
        if (store.get('dialog')) remember('done', completed, store.get('dialog'));
        // A dialog that ended without a live chat: its last card said goodbye.
        const dialogOver = phase === 'dialog';
        emit(phase === 'chat' ? 'live_chat_ended' : 'conversation_completed', { reason: frame.reason });
        stopTyping();
        setPhase('ended');
        view.showEnded(dialogOver ? '' : t(ENDED[frame.reason] || ENDED.completed));
        view.bumpUnread();
        break;
      }
      case 'error':
        if (frame.code === 'no_dialog' && siteDialogs) {
          backToTriggers();
          break;
        }
        // The server words only the blocked-domain refusal for visitors (in their
        // language); its other messages are for developers.
        view.showNotice(frame.code === 'email_domain_blocked' && frame.message ? frame.message
          : t({ internal: 'errorInternal', rate_limited: 'errorRateLimited' }[frame.code] || 'errorOther'));
        view.enableCards();
        break;
      default:
        break;
    }
  }

  setPhase('dialog');
  window.LiveChat = Object.freeze({
    open() {
      // The host page's own call: any dialog of the page, if no trigger fired.
      if (!triggers?.fired().length) anyDialog = true;
      view.setShown(true);
      view.setOpen(true);
    },
    close: () => view.setOpen(false),
    /** Host-page facts about the visitor; sent with the next `start`. */
    identify(attrs) {
      if (!attrs || typeof attrs !== 'object') return;
      attributes = { ...(attributes || {}), ...attrs };
      for (const [k, v] of Object.entries(attributes)) {
        if (!['string', 'number', 'boolean'].includes(typeof v)) delete attributes[k];
      }
    },
    /** Attributes signed by the company's backend; sent with the next `start`. */
    identifySigned(signed) {
      const { attributes: a, expires, signature } = signed || {};
      if (a && typeof a === 'object') identity = { attributes: a, expires, signature };
    },
  });
  // Watches the page's triggers: the launcher (and a teaser) shows once one fired.
  let scrollWatched = false;
  let watchGen = 0; // a later watch() silences the timers of the one before
  function watch(dialogs) {
    view.setShown(false);
    const gen = ++watchGen;
    triggers = watchTriggers({
      dialogs,
      href: location.href,
      completed,
      clock: { now: () => Date.now(), setTimeout: (f, ms) => setTimeout(f, ms) },
      scroll: scrollDepth,
      onFire(d) {
        if (gen !== watchGen) return;
        view.setShown(true);
        const text = teaserText(d.teaser, lang.tag);
        if (!text || teaser || teased.has(d.id) || view.isOpen()) return;
        teaser = { id: d.id, remove() {} };
        const mine = teaser;
        import('./teaser.js').then(({ showTeaser }) => {
          if (teaser !== mine) return;
          const shown = showTeaser(view, text, {
            closeLabel: t('dismissTeaser'),
            onOpen: () => view.setOpen(true),
            onDismiss: () => dropTeaser(true),
          });
          mine.remove = shown.remove;
        });
      },
    });
    if (!scrollWatched) window.addEventListener('scroll', () => triggers?.scrolled(), { passive: true });
    scrollWatched = true;
  }

  // A visitor with a conversation keeps the launcher and continues it on every
  // page; any other waits for a trigger (no socket opens before).
  siteDialogs = site ? readSite(site) : null;
  if (store.get('visitor_token') || !siteDialogs) {
    view.setShown(true);
    if (store.get('visitor_token') || store.get('open') === '1') connect();
    if (store.get('open') === '1') view.setOpen(true);
  } else {
    watch(siteDialogs);
    if (store.get('open') === '1' && triggers.fired().length) view.setOpen(true);
  }
  window.dispatchEvent(new CustomEvent('livechat:ready'));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init, { once: true });
else init();
