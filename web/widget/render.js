// The widget's DOM: a bubble and a panel inside a Shadow DOM root so host-page CSS
// cannot reach in and ours cannot leak out. Everything people wrote goes in as text
// (textContent, or `linkify` for clickable links); no innerHTML with data.
import { el } from '../shared/dom.js';
import { clockTime } from '../shared/format.js';
import { linkify, safeHref } from '../shared/links.js';
import { TYPING_SHOWN_MS } from '../shared/typing.js';
import { DEFAULT_BRANDING } from './branding.js';
import { EN, format } from './i18n.js';

// The stylesheet (in the shadow root). Its notes are here, not in the string, so
// that visitors do not download them.
// Fixed boxes follow the layout viewport, which a host page that overflows on a phone
// makes wider and taller than the screen. The launcher and the phone panel follow the
// visual viewport instead (the screen the visitor sees, above the keyboard too):
// fitToScreen() sets --lc-x/-y/-w/-h from window.visualViewport; the fallbacks are the
// layout viewport. right/bottom percentages are of the layout viewport.
// Branding (./branding.js) sets the accent (--lc-accent), the text on it (--lc-on), the
// accent as text on white (--lc-ink), and the offset from the corner (--lc-bx/-by);
// a phone gets 60% of the offset, so the default 20 px is the 12 px it always was.
// The @media block at the end: on phones the panel takes the whole screen, above the
// page and the launcher.
const CSS = `
:host { all: initial; }
* { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.lc-root { --lc-accent: #3b5bdb; --lc-on: #fff; --lc-ink: #3b5bdb; --lc-ox: var(--lc-bx, 20px); --lc-oy: var(--lc-by, 20px);
  position: fixed; z-index: 2147483000; color: #1f2430; font-size: 14px; line-height: 1.4;
  right: calc(100% - var(--lc-x, 0px) - var(--lc-w, 100%) + var(--lc-ox));
  bottom: calc(100% - var(--lc-y, 0px) - var(--lc-h, 100%) + var(--lc-oy)); }
.lc-root.lc-left { right: auto; left: calc(var(--lc-x, 0px) + var(--lc-ox)); }
.lc-bubble { min-width: 56px; height: 56px; border-radius: 28px; border: 0; background: var(--lc-accent); color: var(--lc-on); cursor: pointer;
  box-shadow: 0 6px 18px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center; gap: 8px; position: relative;
  font-size: 15px; font-weight: 600; }
.lc-bubble:hover { filter: brightness(.92); }
.lc-bubble svg { width: 26px; height: 26px; fill: currentColor; flex: none; }
.lc-label { padding-right: 6px; }
.lc-bubble.lc-labelled { padding: 0 14px 0 16px; }
.lc-badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; border-radius: 10px; background: #e03131;
  color: #fff; font-size: 12px; font-weight: 600; display: grid; place-items: center; padding: 0 5px; }
.lc-panel { position: absolute; right: 0; bottom: 72px; width: 360px; height: 520px; max-width: calc(var(--lc-w, 100vw) - var(--lc-ox) - 20px);
  max-height: calc(var(--lc-h, 100vh) - var(--lc-oy) - 90px); background: #fff; border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.22);
  display: flex; flex-direction: column; overflow: hidden; }
.lc-left .lc-panel { right: auto; left: 0; }
.lc-panel[hidden], [hidden] { display: none !important; }
.lc-head { background: var(--lc-accent); color: var(--lc-on); padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
.lc-head-text { flex: 1; min-width: 0; }
.lc-avatar { width: 32px; height: 32px; border-radius: 50%; object-fit: cover; flex: none; }
.lc-title { font-weight: 600; font-size: 15px; }
.lc-sub { font-size: 12px; opacity: .85; }
.lc-head button { background: rgba(127,127,127,.22); color: inherit; border: 0; border-radius: 6px; padding: 4px 8px; cursor: pointer; font-size: 12px; }
.lc-head button:hover { background: rgba(127,127,127,.36); }
.lc-status { background: #fff3bf; color: #5c4400; font-size: 12px; padding: 4px 12px; }
.lc-stream { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 8px; background: #f7f8fa; }
.lc-card, .lc-msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.lc-card { background: #fff; border: 1px solid #e3e6ec; align-self: flex-start; }
.lc-msg-them { background: #fff; border: 1px solid #e3e6ec; align-self: flex-start; }
.lc-msg-me { background: var(--lc-accent); color: var(--lc-on); align-self: flex-end; }
.lc-msg-me a { color: inherit; }
.lc-msg-pending { opacity: .6; }
.lc-meta { font-size: 11px; opacity: .7; margin-top: 2px; }
.lc-note { align-self: center; font-size: 12px; color: #667; text-align: center; white-space: pre-wrap; }
.lc-answers { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.lc-btn { border: 1px solid var(--lc-accent); color: var(--lc-ink); background: #fff; border-radius: 16px; padding: 5px 12px; cursor: pointer; font-size: 13px; }
.lc-btn:hover:not(:disabled) { background: #edf2ff; background: color-mix(in srgb, var(--lc-accent) 10%, #fff); }
.lc-btn:disabled { cursor: default; opacity: .55; }
.lc-older { align-self: center; margin-bottom: 6px; }
.lc-btn-chosen:disabled { background: var(--lc-accent); color: var(--lc-on); opacity: 1; }
.lc-btn-solid, .lc-btn-solid:hover:not(:disabled) { background: var(--lc-accent); color: var(--lc-on); }
.lc-btn-solid:hover:not(:disabled) { filter: brightness(.92); }
.lc-form { display: flex; flex-direction: column; gap: 6px; margin-top: 8px; }
.lc-row { display: flex; gap: 6px; }
.lc-input { flex: 1; min-width: 0; border: 1px solid #ced4da; border-radius: 8px; padding: 7px 9px; font-size: 14px; background: #fff; color: inherit; }
.lc-input:focus, .lc-compose textarea:focus { outline: 2px solid #91a7ff; border-color: transparent; }
.lc-error { color: #c92a2a; font-size: 12px; }
.lc-waiting { display: flex; align-items: center; gap: 8px; margin-top: 6px; font-size: 12px; color: #556; }
.lc-dots { display: inline-flex; gap: 3px; }
.lc-dots i { width: 6px; height: 6px; border-radius: 50%; background: #8a94a6; animation: lc-blink 1.2s infinite; }
.lc-dots i:nth-child(2) { animation-delay: .2s; } .lc-dots i:nth-child(3) { animation-delay: .4s; }
@keyframes lc-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
.lc-typing { padding: 2px 14px 4px; font-size: 12px; color: #667; background: #f7f8fa; display: flex; gap: 6px; align-items: center; }
.lc-notice { margin: 0 12px 6px; background: #fff5f5; color: #c92a2a; border: 1px solid #ffc9c9; border-radius: 8px; padding: 6px 9px; font-size: 12px; }
.lc-compose { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e9ecef; background: #fff; }
.lc-compose textarea { flex: 1; resize: none; border: 1px solid #ced4da; border-radius: 8px; padding: 8px 9px; font-size: 14px; height: 40px; max-height: 110px; color: inherit; }
.lc-compose button { border: 0; background: var(--lc-accent); color: var(--lc-on); border-radius: 8px; padding: 0 14px; cursor: pointer; }
.lc-compose button:disabled, .lc-compose textarea:disabled { opacity: .5; cursor: default; }
.lc-panel:focus { outline: none; }
button:focus-visible, a:focus-visible, select:focus-visible { outline: 2px solid #91a7ff; outline-offset: 2px; }
.lc-bubble:focus-visible { outline: 3px solid #91a7ff; outline-offset: 3px; }
@media (max-width: 480px) {
  .lc-root { --lc-ox: calc(var(--lc-bx, 20px) * .6); --lc-oy: calc(var(--lc-by, 20px) * .6); }
  .lc-panel { position: fixed; left: var(--lc-x, 0px); top: var(--lc-y, 0px); right: auto; bottom: auto;
    width: var(--lc-w, 100%); height: var(--lc-h, 100%); max-width: none; max-height: none; border-radius: 0; }
  .lc-open .lc-bubble { display: none; }
  .lc-input, .lc-compose textarea { font-size: 16px; }
  .lc-card, .lc-msg { max-width: 92%; }
}
`;

const SVG_NS = 'http://www.w3.org/2000/svg';
const ICON = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z';

function button(label, className, onClick) {
  const b = el('button', className, label);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

function dots() {
  const d = el('span', 'lc-dots');
  d.append(el('i'), el('i'), el('i'));
  return d;
}

/**
 * Keeps `root`'s --lc-x/-y/-w/-h on the visual viewport (what the screen shows), so the
 * launcher and the phone panel stay on screen when the host page is wider than the
 * phone, when it is pinch-zoomed, and above an on-screen keyboard.
 */
function fitToScreen(root) {
  const vv = window.visualViewport;
  if (!vv) return; // the CSS falls back to the layout viewport
  let queued = false;
  const fit = () => {
    queued = false;
    root.style.setProperty('--lc-x', `${vv.offsetLeft}px`);
    root.style.setProperty('--lc-y', `${vv.offsetTop}px`);
    root.style.setProperty('--lc-w', `${vv.width}px`);
    root.style.setProperty('--lc-h', `${vv.height}px`);
  };
  const later = () => {
    if (!queued) {
      queued = true;
      requestAnimationFrame(fit);
    }
  };
  vv.addEventListener('resize', later);
  vv.addEventListener('scroll', later);
  fit();
}

/**
 * Mounts the widget and returns the view the controller drives. `handlers` gets
 * the visitor's actions: onToggle(open), onAnswer(card, index, label),
 * onSubmit(card, value), onSend(text), onTyping(), onLeaveDetails(email, message),
 * onRestart(), onEndChat(). `strings` are the widget's texts in the visitor's
 * language (./i18n.js), `lang` its code: the panel's `lang` and `dir` follow it
 * (all five are left-to-right); what people wrote gets `dir="auto"` on its own, so
 * an Arabic or Hebrew message reads right to left whatever the panel's language.
 * `brand` is the branding to show (./branding.js `resolveBranding`, already checked).
 */
export function mountWidget(handlers, { strings = EN, lang = 'en', dir = 'ltr', brand = DEFAULT_BRANDING } = {}) {
  const t = (key, values) => format(strings, key, values);
  const title = brand.title || t('title');
  const host = el('div');
  host.id = 'lc-livechat-host';
  const shadow = host.attachShadow({ mode: 'open' });
  const style = el('style', null, CSS);
  const root = el('div', 'lc-root');
  root.lang = lang;
  root.dir = dir;
  // Checked colours and whole pixels only (./branding.js), so no value can break out of its property.
  for (const [name, value] of [['--lc-accent', brand.accent], ['--lc-on', brand.accentText], ['--lc-ink', brand.ink || brand.accent],
    ['--lc-bx', `${brand.x}px`], ['--lc-by', `${brand.y}px`]]) root.style.setProperty(name, value);
  if (brand.position === 'left') root.classList.add('lc-left');

  const panel = el('section', 'lc-panel');
  panel.hidden = true;
  panel.id = 'lc-panel';
  panel.tabIndex = -1; // takes focus while nothing inside can (e.g. waiting for an agent)
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', title);
  const head = el('header', 'lc-head');
  const headText = el('div', 'lc-head-text');
  const titleEl = el('div', 'lc-title', title);
  const subEl = el('div', 'lc-sub', brand.subtitle || t('subtitle'));
  headText.append(titleEl, subEl);
  if (brand.avatar) {
    // An image address only (https or the page's own origin), never markup.
    const avatar = Object.assign(el('img', 'lc-avatar'), { alt: '', referrerPolicy: 'no-referrer', decoding: 'async' });
    avatar.addEventListener('error', () => { avatar.hidden = true; });
    avatar.src = brand.avatar;
    head.append(avatar);
  }
  const endBtn = button(t('endChat'), null, () => handlers.onEndChat());
  endBtn.hidden = true;
  const closeBtn = button('✕', null, () => {
    view.setOpen(false);
    bubble.focus();
  });
  closeBtn.setAttribute('aria-label', t('closeChat'));
  head.append(headText, endBtn, closeBtn);

  const status = el('div', 'lc-status');
  status.hidden = true;
  status.setAttribute('role', 'status');
  const stream = el('div', 'lc-stream');
  stream.setAttribute('role', 'log');
  stream.setAttribute('aria-label', t('conversation'));
  stream.setAttribute('aria-live', 'polite');
  const typing = el('div', 'lc-typing');
  typing.hidden = true;
  typing.setAttribute('role', 'status');
  const typingLabel = el('span');
  typing.append(dots(), typingLabel);
  const notice = el('div', 'lc-notice');
  notice.hidden = true;
  notice.setAttribute('role', 'alert');

  const compose = el('form', 'lc-compose');
  const input = el('textarea');
  input.placeholder = t('typeMessage');
  input.rows = 1;
  input.setAttribute('aria-label', t('message'));
  const send = el('button', null, t('send'));
  send.type = 'submit';
  compose.append(input, send);
  const submitMessage = () => {
    const text = input.value.trim();
    if (!text || input.disabled) return;
    input.value = '';
    handlers.onSend(text);
  };
  compose.addEventListener('submit', (e) => {
    e.preventDefault();
    submitMessage();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitMessage();
    }
  });
  input.addEventListener('input', () => input.value.trim() && handlers.onTyping());

  panel.append(head, status, stream, typing, notice, compose);

  const bubble = button('', 'lc-bubble', () => view.setOpen(panel.hidden));
  // A visible launcher label starts the launcher's name, so that it can be called by what it shows.
  const nameBubble = (text) => bubble.setAttribute('aria-label', brand.launcherLabel ? `${brand.launcherLabel}, ${text}` : text);
  nameBubble(t('openChat'));
  bubble.setAttribute('aria-expanded', 'false');
  bubble.setAttribute('aria-controls', panel.id);
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', ICON);
  svg.append(path);
  bubble.append(svg);
  if (brand.launcherLabel) {
    bubble.append(el('span', 'lc-label', brand.launcherLabel));
    bubble.classList.add('lc-labelled');
  }
  const badge = el('span', 'lc-badge');
  badge.hidden = true;
  bubble.append(badge);

  root.append(bubble, panel);
  shadow.append(style, root);
  document.body.append(host);
  fitToScreen(root);

  // Escape closes the panel from anywhere inside it and gives focus back to the launcher.
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      view.setOpen(false);
      bubble.focus();
    }
  });
  const focused = () => shadow.activeElement;
  // A control that gets disabled (a submitted field) drops focus to the page body;
  // keep keyboard users inside the panel instead.
  const keepFocus = () => {
    const a = focused();
    const page = document.activeElement;
    if (panel.hidden || (page && page !== document.body && page !== host)) return; // the host page has it
    if (a && a !== panel && !a.disabled) return;
    (input.disabled ? panel : input).focus({ preventScroll: true });
  };

  const cards = new Map();
  let unread = 0;
  let noticeTimer = null;
  let typingTimer = null;
  let waitingEl = null;

  const nearBottom = () => stream.scrollHeight - stream.scrollTop - stream.clientHeight < 80;
  const put = (node, before = null) => {
    const stick = nearBottom();
    stream.insertBefore(node, before);
    if (stick || before === null) stream.scrollTop = stream.scrollHeight;
    return node;
  };

  function captureForm(card, prefill) {
    const form = el('form', 'lc-form');
    form.noValidate = true;
    const row = el('div', 'lc-row');
    let field;
    if (card.field === 'picklist' && Array.isArray(card.options) && card.options.length) {
      field = el('select', 'lc-input');
      field.append(Object.assign(el('option', null, card.placeholder || t('choose')), { value: '', disabled: true, selected: true }));
      for (const o of card.options) field.append(Object.assign(el('option', null, o), { value: o }));
    } else {
      field = el('input', 'lc-input');
      field.type = { email: 'email', phone: 'tel' }[card.field] || 'text';
      field.autocomplete = { email: 'email', phone: 'tel' }[card.field] || 'on';
      if (card.placeholder) field.placeholder = card.placeholder;
    }
    field.setAttribute('aria-label', card.prompt || t('answer'));
    if (prefill != null) field.value = prefill;
    const ok = el('button', 'lc-btn lc-btn-solid', t('send'));
    ok.type = 'submit';
    row.append(field, ok);
    form.append(row);
    const go = (value) => {
      const had = focused() === field || focused() === ok;
      field.disabled = ok.disabled = true;
      if (had) panel.focus({ preventScroll: true });
      handlers.onSubmit(card.card, value);
    };
    if (card.optional) {
      const skip = button(t('skip'), 'lc-btn', () => go(''));
      skip.style.alignSelf = 'flex-start';
      form.append(skip);
    }
    if (card.error) {
      const err = el('div', 'lc-error', card.error);
      err.setAttribute('role', 'alert');
      err.id = `lc-err-${card.card}`;
      form.append(err);
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', err.id);
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const value = field.value.trim();
      if (!value && !card.optional) return field.focus();
      go(value);
    });
    return { form, focus: () => field.focus(), enable: () => { field.disabled = ok.disabled = false; } };
  }

  const view = {
    isOpen: () => !panel.hidden,
    /** Shows or hides the launcher (and the panel): hidden until a dialog's trigger fired. */
    setShown(shown) {
      root.hidden = !shown;
    },
    /** Puts `node` (the teaser, ./teaser.js) inside the widget's root, beside the launcher. */
    addBeside(node) {
      root.prepend(node);
    },
    setOpen(open) {
      panel.hidden = !open;
      root.classList.toggle('lc-open', open);
      nameBubble(open ? t('closeChat') : t('openChat'));
      bubble.setAttribute('aria-expanded', String(open));
      if (open) {
        unread = 0;
        badge.hidden = true;
        stream.scrollTop = stream.scrollHeight;
        // Focus moves into the panel: the composer when chatting, else the card
        // waiting for an answer, else the panel itself.
        const waitingCard = [...cards.values()].reverse().find((c) => c.focus && c.box.querySelector(':enabled'));
        if (!input.disabled) input.focus();
        else if (waitingCard) waitingCard.focus();
        else panel.focus();
      }
      handlers.onToggle(open);
    },
    bumpUnread() {
      if (!panel.hidden) return;
      unread += 1;
      badge.textContent = String(unread);
      badge.hidden = false;
      nameBubble(t('openChatUnread', { n: unread }));
    },
    setHeader(titleText, sub) {
      titleEl.textContent = titleText;
      subEl.textContent = sub;
    },
    setStatus(text) {
      status.textContent = text || '';
      status.hidden = !text;
    },
    setEndable(on) {
      endBtn.hidden = !on;
    },
    setComposer(enabled, placeholder) {
      input.disabled = send.disabled = !enabled;
      input.placeholder = placeholder || (enabled ? t('typeMessage') : t('chooseAbove'));
      keepFocus();
    },
    /** Shows a card, replacing an earlier copy with the same id in place. */
    showCard(card, { prefill } = {}) {
      const box = el('div', 'lc-card');
      box.dir = 'auto'; // a dialog written in a right-to-left language reads so
      let entry = { box, enable: () => {} };
      if (card.type === 'message') {
        box.append(linkify(card.text));
      } else if (card.type === 'question') {
        box.append(linkify(card.prompt));
        const answers = el('div', 'lc-answers');
        answers.setAttribute('role', 'group');
        answers.setAttribute('aria-label', card.prompt || t('answers'));
        const buttons = (card.answers || []).map((label, index) => button(label, 'lc-btn', () => {
          const had = buttons.includes(focused());
          for (const b of buttons) b.disabled = true;
          if (had) panel.focus({ preventScroll: true });
          buttons[index].classList.add('lc-btn-chosen');
          handlers.onAnswer(card.card, index, label);
        }));
        answers.append(...buttons);
        box.append(answers);
        entry.enable = () => buttons.forEach((b) => { b.disabled = false; b.classList.remove('lc-btn-chosen'); });
        entry.focus = () => buttons[0]?.focus();
      } else if (card.type === 'capture') {
        box.append(linkify(card.prompt));
        const form = captureForm(card, prefill);
        box.append(form.form);
        entry.enable = form.enable;
        entry.focus = form.focus;
      } else if (card.type === 'live_chat') {
        if (card.text) box.append(linkify(card.text));
        waitingEl = el('div', 'lc-waiting');
        waitingEl.append(dots(), el('span', null, t('waiting')));
        box.append(waitingEl);
      } else {
        return;
      }
      const old = cards.get(card.card);
      if (old && old.box.isConnected) old.box.replaceWith(box);
      else put(box, stream.querySelector('.lc-msg'));
      cards.set(card.card, entry);
      if (entry.focus && !panel.hidden) entry.focus();
      stream.scrollTop = stream.scrollHeight;
    },
    /** A new cards frame answered the earlier ones: drop their stale errors. */
    settleCards(keep) {
      for (const [id, c] of cards) if (!keep.has(id)) c.box.querySelectorAll('.lc-error').forEach((e) => e.remove());
    },
    /** Re-enables inputs of cards waiting for an answer (after an error frame). */
    enableCards() {
      for (const c of cards.values()) if (c.box.querySelector(':disabled')) c.enable();
    },
    setWaiting(text) {
      if (!waitingEl) return;
      waitingEl.hidden = !text;
      if (text) waitingEl.lastChild.textContent = text;
    },
    /** Inserts or updates one message bubble, keeping `seq` order. */
    showMessage(m, mine, who) {
      const id = `lc-m-${m.id}`;
      const bubbleEl = m.sender?.kind === 'system'
        ? el('div', 'lc-note')
        : el('div', `lc-msg ${mine ? 'lc-msg-me' : 'lc-msg-them'}${m.pending && !m.acked ? ' lc-msg-pending' : ''}`);
      bubbleEl.dataset.id = id;
      if (m.seq != null) bubbleEl.dataset.seq = String(m.seq);
      // The text's own direction (an Arabic or Hebrew message reads right to left);
      // the time under it keeps the panel's.
      const body = el('div');
      body.dir = 'auto';
      body.append(linkify(m.text));
      bubbleEl.append(body);
      if (m.sender?.kind !== 'system') {
        const meta = [who, m.pending ? (m.acked ? t('sent') : t('sending')) : clockTime(m.at)].filter(Boolean).join(' · ');
        bubbleEl.append(el('div', 'lc-meta', meta));
      }
      const old = [...stream.children].find((n) => n.dataset.id === id);
      if (old) return void old.replaceWith(bubbleEl);
      const later = m.seq == null ? null
        : [...stream.querySelectorAll('[data-seq]')].find((n) => Number(n.dataset.seq) > m.seq);
      const firstPending = stream.querySelector('.lc-msg-pending, [data-pending]');
      if (m.pending) bubbleEl.dataset.pending = '1';
      put(bubbleEl, later || (m.pending ? null : firstPending));
    },
    /** Shows or hides the "Show older messages" control at the top of the chat. */
    setOlder(shown) {
      let b = stream.querySelector('.lc-older');
      if (!shown) return void b?.remove();
      if (!b) {
        b = button(t('showOlder'), 'lc-btn lc-older', () => { b.disabled = true; handlers.onOlder(); });
        stream.insertBefore(b, stream.firstChild);
      }
      b.disabled = false;
    },
    /** A centred note; before the message with id `beforeId` when it is shown. */
    note(text, beforeId) {
      const before = beforeId == null ? null : [...stream.children].find((n) => n.dataset.id === `lc-m-${beforeId}`);
      const n = el('div', 'lc-note', text);
      n.dir = 'auto'; // it may hold an agent's name
      put(n, before || null);
    },
    setTyping(on, who) {
      clearTimeout(typingTimer);
      typing.hidden = !on;
      typingLabel.textContent = t('typing', { name: who || t('agent') });
      if (on) typingTimer = setTimeout(() => { typing.hidden = true; }, TYPING_SHOWN_MS);
    },
    showNotice(text) {
      clearTimeout(noticeTimer);
      notice.textContent = text;
      notice.hidden = false;
      noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
    },
    showFallback(frame) {
      view.setWaiting(null);
      const box = el('div', 'lc-card');
      box.dir = 'auto';
      box.append(linkify(frame.text));
      const href = safeHref(frame.meeting_link);
      if (href) {
        const a = el('a', 'lc-btn lc-btn-solid', t('bookMeeting'));
        Object.assign(a, { href, target: '_blank', rel: 'noopener noreferrer' });
        a.style.cssText = 'display:inline-block;margin-top:8px;text-decoration:none';
        box.append(el('br'), a);
      }
      if (frame.can_leave_details) {
        const form = el('form', 'lc-form');
        form.noValidate = true;
        const email = Object.assign(el('input', 'lc-input'), { type: 'email', placeholder: t('yourEmail'), autocomplete: 'email' });
        const msg = Object.assign(el('textarea', 'lc-input'), { rows: 3, placeholder: t('yourMessage') });
        const ok = Object.assign(el('button', 'lc-btn lc-btn-solid', t('send')), { type: 'submit' });
        form.append(email, msg, ok);
        form.addEventListener('submit', (e) => {
          e.preventDefault();
          if (!email.value.trim()) return email.focus();
          email.disabled = msg.disabled = ok.disabled = true;
          handlers.onLeaveDetails(email.value.trim(), msg.value.trim());
        });
        box.append(form);
        cards.set('lc-details', { box, enable: () => { email.disabled = msg.disabled = ok.disabled = false; } });
      }
      put(box);
    },
    detailsReceived() {
      const d = cards.get('lc-details');
      d?.box.querySelector('form')?.remove();
      cards.delete('lc-details');
      view.note(t('detailsReceived'));
    },
    showEnded(text) {
      view.setWaiting(null);
      view.setTyping(false);
      const box = el('div', 'lc-note');
      if (text) box.append(el('div', null, text));
      box.append(button(t('newChat'), 'lc-btn', () => handlers.onRestart()));
      box.lastChild.style.marginTop = '6px';
      put(box);
    },
    reset() {
      stream.replaceChildren();
      cards.clear();
      waitingEl = null;
      view.setTyping(false);
      view.setEndable(false);
    },
  };
  return view;
}
