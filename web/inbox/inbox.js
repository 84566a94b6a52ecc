// The Agent Inbox: signs in with an agent token, keeps one WebSocket (shared socket
// module: reconnect, heartbeat), shows offers (banner, sound, notification, flashing
// tab title), the agent's own live chats, missed requests, past chats of the last 90
// days (listed by the server's `past_chats` and remembered in this browser;
// transcripts and scores fetched with `history`) and the
// selected chat's transcript and visitor details.
import { LiveSocket, socketUrl } from '/widget/socket.js';
import { linkify } from '/widget/links.js';
import { createStorage } from '/widget/storage.js';
import { Thread, newMessageId, transcriptText } from '/widget/thread.js';

const $ = (id) => document.getElementById(id);
const session = createStorage({ prefix: 'livechat:', kind: 'sessionStorage' });
const local = createStorage({ prefix: 'livechat:' });
const PAST_DAYS = 90;
const TITLE = 'Agent Inbox';
const TYPING_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const ENDED = {
  completed: 'ended', dropped: 'visitor left', missed: 'missed', fallback: 'no agent', timed_out: 'timed out',
};
const WITHDRAWN = {
  timed_out: 'timed out', declined: 'declined', taken: 'taken by another agent or tab', visitor_left: 'the visitor left',
  away: 'you were offline past the grace period',
};

const chats = new Map(); // conversation -> {conversation, visitor, thread, ended, reason, unread, score, typing}
const offers = new Map(); // conversation -> {el, timer, accepting}
let selected = null;
let socket = null;
let me = null;
let typingSentAt = 0;
let typingIdle = null;
const pickingUp = new Set(); // missed requests this inbox asked to pick up
let missedTimer = null;
// `missed` and `past_chats` come a page at a time: a page with `before: null` is the
// newest (it replaces the missed list); `next` asks for the page after it.
let missed = [];
let missedNext = null;
let pastNext = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

const dash = (v) => (v == null || v === '' ? '-' : String(v));

function toast(text, error = false) {
  const t = el('div', `ib-toast${error ? ' ib-toast-error' : ''}`, text);
  $('ib-toasts').append(t);
  setTimeout(() => t.remove(), 6000);
}

function jwtClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch {
    return {};
  }
}

// ---- sign-in ---------------------------------------------------------------

// `#token=` comes from the local gateway's printed links; `#id_token=` from the
// Cognito hosted sign-in's implicit grant redirect in AWS.
function tokenFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token') || params.get('id_token');
  if (token) {
    session.set('agent_token', token);
    history.replaceState(null, '', location.pathname + location.search);
  }
}

// The socket is held to the token's expiry (docs/protocol.md, "Connecting"): warn 5
// minutes before it; a new token reaching this page renews the open socket.
let expiryTimer = null;
function watchExpiry(exp) {
  clearTimeout(expiryTimer);
  const warnIn = exp * 1000 - Date.now() - 5 * 60_000;
  if (!(warnIn < 2 ** 31)) return; // no exp, or beyond what setTimeout can wait
  const at = new Date(exp * 1000).toLocaleTimeString();
  expiryTimer = setTimeout(() => toast(`Your sign-in expires at ${at}: open a new sign-in link to keep your chats.`, true), Math.max(0, warnIn));
}

function tokenArrived() {
  const before = session.get('agent_token');
  tokenFromHash();
  const token = session.get('agent_token');
  if (!token || token === before) return;
  if (socket?.isOpen) socket.send({ action: 'renew_token', token });
  else signIn();
}

function showSignIn(failed) {
  socket?.stop();
  socket = null;
  $('ib-signin').hidden = false;
  $('ib-signin-error').hidden = !failed;
  $('ib-main').hidden = true;
  $('ib-avail-wrap').hidden = $('ib-signout').hidden = true;
  $('ib-me').textContent = '';
  setConn('closed');
}

function signIn() {
  const token = session.get('agent_token');
  if (!token) return showSignIn(false);
  const claims = jwtClaims(token);
  me = claims.sub || claims.agent || null;
  watchExpiry(claims.exp);
  $('ib-me').textContent = claims.name || claims.email || me || '';
  restorePast();
  renderAll();
  $('ib-signin').hidden = true;
  $('ib-main').hidden = false;
  $('ib-signout').hidden = false;
  socket = new LiveSocket({
    url: () => socketUrl('', location, { agent_token: session.get('agent_token') }),
    onState: setConn,
    onOpen() {
      socket.send({ action: 'sync' });
      // Past chats from the server, so another browser lists them too.
      socket.send({ action: 'past_chats' });
      // Requests nobody took stay visible; refreshed every minute.
      socket.send({ action: 'missed' });
      clearInterval(missedTimer);
      missedTimer = setInterval(() => socket?.send({ action: 'missed' }), 60_000);
      for (const chat of chats.values()) {
        for (const p of chat.thread.unacked()) socket.send({ action: 'send_message', conversation: chat.conversation, id: p.id, text: p.text });
      }
    },
    onFrame: handle,
    onClose: ({ opened, failures }) => { if (!opened) checkRefused(failures); },
  });
  socket.start();
}

// A browser cannot read the status of a failed WebSocket handshake, so ask the same
// URL over plain HTTP: a 401/403 means the token was refused. Repeated failures while
// the server answers HTTP are treated as refused too.
async function checkRefused(failures) {
  const current = socket;
  let status = 0;
  try {
    const url = socketUrl('', location, { agent_token: session.get('agent_token') }).replace(/^ws/, 'http');
    status = (await fetch(url, { cache: 'no-store' })).status;
  } catch {
    return; // server unreachable: keep retrying
  }
  if (current !== socket) return;
  if (status === 401 || status === 403 || (failures >= 3 && status !== 0 && status < 500)) {
    session.remove('agent_token');
    showSignIn(true);
  }
}

function setConn(state) {
  const label = { open: 'Connected', connecting: 'Connecting…', waiting: 'Reconnecting…' }[state] || 'Offline';
  $('ib-conn').textContent = label;
  $('ib-conn').dataset.state = state;
}

// ---- frames ----------------------------------------------------------------

function chatFor(conversation, visitor) {
  let chat = chats.get(conversation);
  if (!chat) {
    chat = { conversation, visitor: visitor || {}, thread: new Thread(), ended: false, unread: 0, score: null };
    chats.set(conversation, chat);
  }
  if (visitor) chat.visitor = visitor;
  return chat;
}

function handle(frame) {
  switch (frame.type) {
    case 'availability':
      $('ib-avail-wrap').hidden = false;
      $('ib-avail').checked = Boolean(frame.available);
      $('ib-avail-text').textContent = frame.available ? 'Available' : 'Unavailable';
      $('ib-avail-wrap').title = frame.until ? `Until ${new Date(frame.until).toLocaleString()}` : 'Following your weekly schedule';
      break;
    case 'offer':
      showOffer(frame);
      break;
    case 'offer_withdrawn':
      if (offers.has(frame.conversation)) toast(`Offer closed: ${WITHDRAWN[frame.reason] || frame.reason}.`);
      removeOffer(frame.conversation);
      break;
    case 'chat_started': {
      const fresh = !chats.has(frame.conversation) || chats.get(frame.conversation).ended;
      const chat = chatFor(frame.conversation, frame.visitor);
      chat.ended = false;
      chat.thread.merge(frame.messages || []);
      // The latest page of at most 50; `next` asks for the page before it.
      chat.older = frame.next ?? null;
      const accepted = offers.get(frame.conversation)?.accepting || pickingUp.delete(frame.conversation);
      removeOffer(frame.conversation);
      if (accepted || (fresh && !selected)) select(frame.conversation);
      else renderAll();
      break;
    }
    case 'message': {
      const chat = chats.get(frame.conversation);
      if (!chat || !chat.thread.add(frame.message)) break;
      if (frame.message.sender?.kind === 'visitor') chat.typing = false;
      if (frame.conversation !== selected || document.hidden) chat.unread += 1;
      renderAll();
      break;
    }
    case 'missed': {
      const page = frame.chats || [];
      if (frame.before == null) missed = page;
      else missed = missed.concat(page.filter((m) => !missed.some((o) => o.conversation === m.conversation)));
      missedNext = frame.next ?? null;
      renderMissed(missed);
      break;
    }
    case 'email_sent':
      toast(`Email sent to ${frame.to}`);
      break;
    case 'transcript':
      if (chats.has(frame.conversation)) {
        const chat = chats.get(frame.conversation);
        chat.thread.merge(frame.messages || []);
        if (frame.score != null) chat.score = frame.score;
        if (frame.before == null ? chat.older === undefined : frame.before === chat.older) chat.older = frame.next ?? null;
        chat.askedOlder = false;
        // A download waits for every page: ask for the next one, or save.
        if (chat.downloading) {
          if (chat.older != null) askOlder(chat);
          else { chat.downloading = false; download(chat); }
        }
        renderAll();
      }
      break;
    case 'past_chats':
      pastNext = frame.next ?? null;
      $('ib-past-more').hidden = !pastNext;
      for (const p of frame.chats || []) {
        if (chats.has(p.conversation)) continue;
        chats.set(p.conversation, {
          conversation: p.conversation, visitor: { name: p.visitor_name, email: p.visitor_email }, thread: new Thread(),
          ended: true, reason: p.reason, endedAt: p.ended_at, unread: 0, score: null, loaded: false,
        });
      }
      renderAll();
      break;
    case 'pong':
      break;
    case 'ack':
      for (const chat of chats.values()) if (chat.thread.ack(frame.id)) renderAll();
      break;
    case 'typing': {
      const chat = chats.get(frame.conversation);
      if (!chat || frame.from?.kind !== 'visitor') break;
      chat.typing = Boolean(frame.typing);
      clearTimeout(chat.typingTimer);
      if (chat.typing) chat.typingTimer = setTimeout(() => { chat.typing = false; renderTyping(); }, 8000);
      renderTyping();
      break;
    }
    case 'chat_moved':
      // Offline past the grace period: the chat went back to the queue; it is not ours.
      if (chats.has(frame.conversation) && !chats.get(frame.conversation).ended) {
        chats.delete(frame.conversation);
        if (selected === frame.conversation) selected = null;
        toast('A chat went to another agent: you were offline past the grace period.');
        renderAll();
      }
      break;
    case 'chat_ended': {
      const chat = chats.get(frame.conversation);
      removeOffer(frame.conversation);
      if (!chat) break;
      chat.ended = true;
      chat.reason = frame.reason;
      chat.typing = false;
      chat.endedAt = new Date().toISOString();
      chat.loaded = true;
      rememberPast(chat);
      renderAll();
      break;
    }
    case 'token_renewed':
      watchExpiry(Date.parse(frame.expires_at) / 1000);
      toast('Sign-in renewed.');
      break;
    case 'error':
      toast(frame.code === 'internal' ? 'Something went wrong on our side; please try again.' : frame.message || frame.code, true);
      for (const o of offers.values()) if (o.accepting) { o.accepting = false; o.setBusy(false); }
      break;
    default:
      break;
  }
}

// ---- offers ----------------------------------------------------------------

let audio = null;
function beep() {
  try {
    audio = audio || new AudioContext();
    audio.resume?.();
    [0, 0.22].forEach((delay) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, audio.currentTime + delay);
      gain.gain.exponentialRampToValueAtTime(0.25, audio.currentTime + delay + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + delay + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + delay);
      osc.stop(audio.currentTime + delay + 0.2);
    });
  } catch {
    /* no audio: the banner and notification still show */
  }
}

function summary(v = {}) {
  return [dash(v.name), dash(v.email), dash(v.page_url)].join(' · ');
}

function showOffer(frame) {
  removeOffer(frame.conversation);
  const box = el('div', 'ib-offer');
  const who = el('div', 'ib-offer-who');
  who.append(el('strong', null, `New chat${frame.attempt > 1 ? ' (re-offered)' : ''}: `), document.createTextNode(summary(frame.visitor)));
  who.title = who.textContent;
  const count = el('span', 'ib-offer-count');
  const accept = el('button', 'ib-primary', 'Accept');
  const decline = el('button', null, 'Decline');
  box.append(who, count, accept, decline);
  box.setAttribute('role', 'alert');
  const offer = { el: box, accepting: false, setBusy: (b) => { accept.disabled = decline.disabled = b; } };
  accept.addEventListener('click', () => {
    offer.accepting = true;
    offer.setBusy(true);
    if (!socket?.send({ action: 'accept', conversation: frame.conversation })) { offer.setBusy(false); toast('Not connected.', true); }
  });
  decline.addEventListener('click', () => {
    offer.setBusy(true);
    socket?.send({ action: 'decline', conversation: frame.conversation });
    removeOffer(frame.conversation);
  });
  const expires = new Date(frame.expires_at).getTime();
  const tick = () => {
    const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
    count.textContent = Number.isNaN(left) ? '' : left < 100 ? `${left}s` : `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    if (left <= 0 && !offer.accepting) {
      clearInterval(offer.timer);
      setTimeout(() => removeOffer(frame.conversation), 1500);
    }
  };
  offer.timer = setInterval(tick, 1000);
  tick();
  offers.set(frame.conversation, offer);
  $('ib-offers').append(box);
  updateTitle();
  beep();
  if ('Notification' in window && Notification.permission === 'granted') {
    const n = new Notification('New chat request', { body: summary(frame.visitor), tag: `lc-${frame.conversation}` });
    n.onclick = () => { window.focus(); n.close(); };
    offer.notification = n;
  }
}

function removeOffer(conversation) {
  const offer = offers.get(conversation);
  if (!offer) return;
  clearInterval(offer.timer);
  offer.el.remove();
  offer.notification?.close();
  offers.delete(conversation);
  updateTitle();
}

// While an offer waits, the tab title flashes so an agent on another tab sees it.
let flashTimer = null;
let flashShown = true;
function updateTitle() {
  const unread = [...chats.values()].filter((c) => !c.ended).reduce((n, c) => n + c.unread, 0);
  const base = unread ? `(${unread}) ${TITLE}` : TITLE;
  if (offers.size === 0) {
    clearInterval(flashTimer);
    flashTimer = null;
    flashShown = true;
    document.title = base;
    return;
  }
  if (!flashTimer) {
    flashTimer = setInterval(() => { flashShown = !flashShown; updateTitle(); }, 1000);
    flashShown = true;
  }
  document.title = flashShown ? `New chat request — ${base}` : base;
}

// ---- past chats: remembered in this browser for 90 days ------------------------

function pastKey() {
  return `past:${me || 'agent'}`;
}

function loadPast() {
  try {
    const cutoff = Date.now() - PAST_DAYS * 86_400_000;
    const list = JSON.parse(local.get(pastKey()) || '[]');
    return Array.isArray(list) ? list.filter((p) => p && p.conversation && Date.parse(p.ended_at) > cutoff) : [];
  } catch {
    return [];
  }
}

/** Records an ended chat (who, why, when, score); the transcript stays on the server. */
function rememberPast(chat) {
  const entry = {
    conversation: chat.conversation, visitor: chat.visitor, reason: chat.reason, ended_at: chat.endedAt, score: chat.score,
  };
  const list = [entry, ...loadPast().filter((p) => p.conversation !== chat.conversation)].slice(0, 500);
  local.set(pastKey(), JSON.stringify(list));
}

/** Lists remembered chats; a transcript is asked for (`history`) when one is opened. */
function restorePast() {
  for (const p of loadPast()) {
    if (chats.has(p.conversation)) continue;
    chats.set(p.conversation, {
      conversation: p.conversation, visitor: p.visitor || {}, thread: new Thread(), ended: true, reason: p.reason,
      endedAt: p.ended_at, unread: 0, score: p.score ?? null, loaded: false,
    });
  }
}

function setupNotifyButton() {
  const btn = $('ib-notify');
  if (!('Notification' in window) || Notification.permission !== 'default') return;
  btn.hidden = false;
  btn.addEventListener('click', async () => {
    const result = await Notification.requestPermission();
    btn.hidden = true;
    if (result !== 'granted') toast('Notifications are blocked; you will still see and hear offers here.');
  });
}

// ---- rendering -------------------------------------------------------------

function label(sender) {
  if (sender?.kind === 'visitor') return 'Visitor';
  if (sender?.kind === 'agent') return !me || !sender.agent || sender.agent === me ? 'You' : `Agent ${sender.agent}`;
  if (sender?.kind === 'system') return 'System';
  return 'You';
}

function select(conversation) {
  selected = conversation;
  const chat = chats.get(conversation);
  if (chat) chat.unread = 0;
  if (chat && chat.ended && !chat.loaded && socket?.send({ action: 'history', conversation })) chat.loaded = true;
  renderAll();
  $('ib-input').focus();
}

function listItem(chat) {
  const li = el('li');
  li.append(el('span', 'ib-name', chat.visitor.name || chat.visitor.email || `Visitor ${chat.conversation.slice(-6)}`));
  if (chat.ended) li.append(el('span', 'ib-meta', ENDED[chat.reason] || 'ended'));
  if (chat.unread) li.append(el('span', 'ib-unread', String(chat.unread)));
  if (chat.conversation === selected) li.setAttribute('aria-current', 'true');
  // A button inside the row, so the lists work from the keyboard.
  const open = el('button', 'ib-open');
  open.type = 'button';
  open.append(...li.childNodes);
  open.setAttribute('aria-label', `Open chat with ${li.textContent}`);
  open.addEventListener('click', () => select(chat.conversation));
  li.append(open);
  return li;
}

function renderMissed(missed) {
  const items = missed.map((m) => {
    const li = el('li');
    li.append(el('span', 'ib-name', m.visitor?.name || m.visitor?.email || `Visitor ${m.conversation.slice(-6)}`));
    li.append(el('span', 'ib-meta', `${m.reason === 'fallback' ? 'nobody available' : 'not answered'} · ${new Date(m.at).toLocaleString()}`));
    const take = el('button', null, 'Pick up');
    take.type = 'button';
    take.addEventListener('click', (event) => {
      event.stopPropagation();
      take.disabled = true;
      pickingUp.add(m.conversation);
      socket?.send({ action: 'pick_up', conversation: m.conversation });
      setTimeout(() => socket?.send({ action: 'missed' }), 500);
    });
    li.append(take);
    if (m.visitor?.email) li.append(...replyByEmail(m));
    return li;
  });
  $('ib-missed').replaceChildren(...items);
  $('ib-missed-empty').hidden = items.length > 0;
  $('ib-missed-more').hidden = !missedNext;
}

// For a visitor who left their address and has gone: a short form that emails the
// reply (the server signs it with the agent's name and sets Reply-To to the agent).
function replyByEmail(m) {
  const open = el('button', null, 'Reply by email');
  open.type = 'button';
  const form = el('form', 'ib-reply');
  form.hidden = true;
  const label = `Email reply to ${m.visitor.email}`;
  const text = el('textarea');
  text.rows = 3;
  text.maxLength = 4000;
  text.required = true;
  text.setAttribute('aria-label', label);
  text.placeholder = label;
  const send = el('button', null, 'Send email');
  send.type = 'submit';
  form.append(text, send);
  open.addEventListener('click', (event) => {
    event.stopPropagation();
    form.hidden = !form.hidden;
    if (!form.hidden) text.focus();
  });
  form.addEventListener('click', (event) => event.stopPropagation());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = text.value.trim();
    if (!body) return;
    send.disabled = true;
    socket?.send({ action: 'reply_by_email', conversation: m.conversation, id: newMessageId(), text: body });
  });
  return [open, form];
}

function renderAll() {
  const all = [...chats.values()];
  const active = all.filter((c) => !c.ended);
  const past = all.filter((c) => c.ended).sort((a, b) => String(b.endedAt || '').localeCompare(String(a.endedAt || '')));
  $('ib-active').replaceChildren(...active.map(listItem));
  $('ib-past').replaceChildren(...past.map(listItem));
  $('ib-active-empty').hidden = active.length > 0;
  $('ib-past-empty').hidden = past.length > 0;
  updateTitle();

  const chat = chats.get(selected);
  $('ib-placeholder').hidden = Boolean(chat);
  $('ib-chat-inner').hidden = !chat;
  renderVisitor(chat);
  if (!chat) return;
  $('ib-chat-title').textContent = `${dash(chat.visitor.name)}${chat.ended ? ` — ${ENDED[chat.reason] || 'ended'}` : ''}`;
  $('ib-end').hidden = chat.ended;
  $('ib-input').disabled = chat.ended;
  $('ib-composer').querySelector('button').disabled = chat.ended;
  $('ib-input').placeholder = chat.ended ? 'This chat has ended.' : 'Reply… (Enter sends, Shift+Enter new line)';
  renderScore(chat);
  renderTranscript(chat);
  renderTyping();
}

function renderScore(chat) {
  const box = $('ib-score');
  box.replaceChildren(el('span', 'ib-meta', 'Score'));
  for (let s = 0; s <= 3; s += 1) {
    const b = el('button', null, String(s));
    b.type = 'button';
    b.setAttribute('aria-pressed', String(chat.score === s));
    b.addEventListener('click', () => {
      if (socket?.send({ action: 'score', conversation: chat.conversation, score: s })) {
        chat.score = s;
        if (chat.ended) rememberPast(chat);
        renderScore(chat);
      }
    });
    box.append(b);
  }
}

/** Asks for the page of `chat`'s messages older than those shown. */
function askOlder(chat) {
  if (chat.older == null || chat.askedOlder) return;
  if (socket?.send({ action: 'history', conversation: chat.conversation, before: chat.older })) chat.askedOlder = true;
}

/** Saves the whole transcript as text (every page is loaded first). */
function download(chat) {
  const text = transcriptText({ ...chat, messages: [...chat.thread.byId.values()], label });
  const a = el('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  a.download = `transcript-${chat.conversation}.txt`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function renderTranscript(chat) {
  const box = $('ib-transcript');
  const stick = box.scrollHeight - box.scrollTop - box.clientHeight < 80 || box.dataset.conv !== chat.conversation;
  box.dataset.conv = chat.conversation;
  const older = [];
  if (chat.older != null) {
    const b = el('button', 'ib-older', 'Show older');
    b.type = 'button';
    b.disabled = !!chat.askedOlder;
    b.addEventListener('click', () => { askOlder(chat); renderAll(); });
    older.push(b);
  }
  box.replaceChildren(...older, ...chat.thread.list().map((m) => {
    const kind = m.pending ? 'agent' : m.sender?.kind;
    const div = el('div', `ib-msg${kind === 'agent' ? ' ib-msg-me' : ''}${kind === 'system' ? ' ib-msg-system' : ''}${m.pending && !m.acked ? ' ib-msg-pending' : ''}`);
    div.append(linkify(m.text));
    if (kind !== 'system') {
      const when = m.pending ? (m.acked ? 'Sent' : 'Sending…') : new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      div.append(el('div', 'ib-meta', `${m.pending ? 'You' : label(m.sender)} · ${when}`));
    }
    return div;
  }));
  if (stick) box.scrollTop = box.scrollHeight;
}

function renderTyping() {
  const chat = chats.get(selected);
  $('ib-typing').hidden = !(chat && chat.typing && !chat.ended);
}

function renderVisitor(chat) {
  const v = chat?.visitor || {};
  const rows = [['Name', v.name], ['Job title', v.job_title], ['Email', v.email], ['Phone', v.phone], ['Page', v.page_url]];
  const dl = (pairs) => pairs.flatMap(([k, val]) => {
    const dd = el('dd');
    dd.append(val == null || val === '' ? document.createTextNode('-') : linkify(String(val)));
    return [el('dt', null, k), dd];
  });
  $('ib-visitor-fields').replaceChildren(...dl(chat ? rows : []));
  const answers = (v.answers || []).map((a) => [a.label, a.value]);
  $('ib-visitor-answers').replaceChildren(...(answers.length ? dl(answers) : chat ? [el('dd', null, '-')] : []));
}

// ---- composer and actions ----------------------------------------------------

function sendTyping(typing) {
  if (selected) socket?.send({ action: 'typing', conversation: selected, typing });
}

function sendMessage() {
  const chat = chats.get(selected);
  const input = $('ib-input');
  const text = input.value.trim();
  if (!chat || chat.ended || !text) return;
  input.value = '';
  const entry = chat.thread.addPending(newMessageId(), text);
  socket?.send({ action: 'send_message', conversation: chat.conversation, id: entry.id, text });
  clearTimeout(typingIdle);
  if (typingSentAt) sendTyping(false);
  typingSentAt = 0;
  renderAll();
}

function wire() {
  $('ib-signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('ib-token').value.trim();
    if (!token) return;
    session.set('agent_token', token);
    $('ib-token').value = '';
    signIn();
  });
  $('ib-signout').addEventListener('click', () => {
    session.remove('agent_token');
    chats.clear();
    for (const c of [...offers.keys()]) removeOffer(c);
    selected = null;
    renderAll();
    showSignIn(false);
  });
  $('ib-missed-more').addEventListener('click', () => {
    if (missedNext) socket?.send({ action: 'missed', before: missedNext });
  });
  $('ib-past-more').addEventListener('click', () => {
    if (pastNext) socket?.send({ action: 'past_chats', before: pastNext });
  });
  $('ib-avail').addEventListener('change', (e) => {
    const wanted = e.target.checked;
    e.target.checked = !wanted; // the availability frame sets the real state
    socket?.send({ action: 'set_availability', available: wanted });
  });
  $('ib-composer').addEventListener('submit', (e) => {
    e.preventDefault();
    sendMessage();
  });
  $('ib-input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendMessage();
    }
  });
  $('ib-input').addEventListener('input', () => {
    if (!$('ib-input').value.trim()) return;
    if (Date.now() - typingSentAt > TYPING_EVERY_MS) {
      typingSentAt = Date.now();
      sendTyping(true);
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(() => { sendTyping(false); typingSentAt = 0; }, TYPING_IDLE_MS);
  });
  $('ib-end').addEventListener('click', () => {
    if (selected && window.confirm('End this chat for the visitor?')) socket?.send({ action: 'end_session', conversation: selected });
  });
  $('ib-download').addEventListener('click', () => {
    const chat = chats.get(selected);
    if (!chat) return;
    // The whole chat: older pages are fetched first (the server sends 50 a page).
    if (chat.older != null) {
      chat.downloading = true;
      askOlder(chat);
      return;
    }
    download(chat);
  });
  document.addEventListener('visibilitychange', () => {
    const chat = chats.get(selected);
    if (!document.hidden && chat) { chat.unread = 0; renderAll(); }
  });
  // Browsers only start audio after a user gesture; unlock it on the first click.
  document.addEventListener('pointerdown', () => { audio = audio || new AudioContext(); audio.resume?.(); }, { once: true });
}

wire();
setupNotifyButton();
tokenFromHash();
window.addEventListener('hashchange', tokenArrived);
renderAll();
signIn();
