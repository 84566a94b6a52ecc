// The Agent Inbox's DOM (index.html's `ib-` elements): sign-in, lists, transcript,
// visitor details, offer banners with their sound, notification and flashing tab
// title, toasts. It reads the state it is given and reports what the agent does to
// `on` callbacks; it keeps only what belongs to the page (its elements, timers and the
// audio context). Everything people wrote goes in as text (textContent, or `linkify`
// for clickable links); no innerHTML.
import { el } from '../shared/dom.js';
import { clockTime, countdown, dash } from '../shared/format.js';
import { linkify } from '../shared/links.js';
import { transcriptText } from '../shared/thread.js';
import { answerRows, endedLabel, lists, senderLabel, timeline, unreadTotal, visitorName, visitorSummary } from './state.js';
import { decisionView } from './trace.js';
import { offerHeading, transferFrame } from './transfer.js';
import { insert as insertCanned, matches as cannedMatches, slashQuery } from './canned.js';

const TITLE = 'Agent Inbox';
const CONNECTION = { open: 'Connected', connecting: 'Connecting…', waiting: 'Reconnecting…' };

/**
 * Binds the page to `state` and returns the view. `on` has `signIn(token)`,
 * `signOut()`, `select(conversation)`, `accept(conversation)` (true when sent),
 * `decline(conversation)`, `pickUp(conversation)`, `replyByEmail(conversation, text)`,
 * `score(chat, score)`, `older(chat)`, `download(chat)`, `missedMore()`, `pastMore()`,
 * `setAvailable(available)`, `send(text)`, `typing()`, `end(conversation)`, `seen()`,
 * `transfer(frame)` (true when sent).
 */
export function mountInbox(state, on, doc = document) {
  const $ = (id) => doc.getElementById(id);
  const offerViews = new Map(); // conversation -> {box, timer, setBusy, notification}
  let audio = null;
  let flashTimer = null;
  let flashShown = true;

  function toast(text, error = false) {
    const t = el('div', `ib-toast${error ? ' ib-toast-error' : ''}`, text);
    $('ib-toasts').append(t);
    setTimeout(() => t.remove(), 6000);
  }

  function setConn(connection) {
    $('ib-conn').textContent = CONNECTION[connection] || 'Offline';
    $('ib-conn').dataset.state = connection;
  }

  function showSignIn(failed) {
    $('ib-signin').hidden = false;
    $('ib-signin-error').hidden = !failed;
    $('ib-main').hidden = true;
    $('ib-avail-wrap').hidden = $('ib-signout').hidden = true;
    $('ib-me').textContent = '';
    setConn('closed');
  }

  function showMain(name) {
    $('ib-me').textContent = name;
    $('ib-signin').hidden = true;
    $('ib-main').hidden = false;
    $('ib-signout').hidden = false;
  }

  function setAvailability(frame) {
    $('ib-avail-wrap').hidden = false;
    $('ib-avail').checked = Boolean(frame.available);
    $('ib-avail-text').textContent = frame.available ? 'Available' : 'Unavailable';
    $('ib-avail-wrap').title = frame.until ? `Until ${new Date(frame.until).toLocaleString()}` : 'Following your weekly schedule';
  }

  // ---- offers --------------------------------------------------------------

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

  /** The banner of an offer in `state.offers`, with its countdown to `expires_at`. */
  function showOffer(frame) {
    const offer = state.offers.get(frame.conversation);
    const box = el('div', 'ib-offer');
    const who = el('div', 'ib-offer-who');
    // A transfer's heading carries the sender's note: text, never markup.
    who.append(el('strong', null, offerHeading(frame)), doc.createTextNode(visitorSummary(frame.visitor)));
    who.title = who.textContent;
    const count = el('span', 'ib-offer-count');
    const accept = el('button', 'ib-primary', 'Accept');
    const decline = el('button', null, 'Decline');
    box.append(who, count, accept, decline);
    box.setAttribute('role', 'alert');
    const view = { box, setBusy: (b) => { accept.disabled = decline.disabled = b; } };
    accept.addEventListener('click', () => {
      view.setBusy(true);
      if (!on.accept(frame.conversation)) { view.setBusy(false); toast('Not connected.', true); }
    });
    decline.addEventListener('click', () => {
      view.setBusy(true);
      on.decline(frame.conversation);
    });
    const expires = new Date(frame.expires_at).getTime();
    const tick = () => {
      const left = Math.round((expires - Date.now()) / 1000);
      count.textContent = countdown(left);
      if (left <= 0 && !offer.accepting) {
        clearInterval(view.timer);
        setTimeout(() => on.offerExpired(frame.conversation), 1500);
      }
    };
    view.timer = setInterval(tick, 1000);
    tick();
    offerViews.set(frame.conversation, view);
    $('ib-offers').append(box);
    updateTitle();
    beep();
    if ('Notification' in window && Notification.permission === 'granted') {
      const n = new Notification(frame.transfer ? 'Chat transfer request' : 'New chat request', { body: visitorSummary(frame.visitor), tag: `lc-${frame.conversation}` });
      n.onclick = () => { window.focus(); n.close(); };
      view.notification = n;
    }
  }

  function removeOffer(conversation) {
    const view = offerViews.get(conversation);
    if (!view) return;
    clearInterval(view.timer);
    view.box.remove();
    view.notification?.close();
    offerViews.delete(conversation);
    updateTitle();
  }

  function offerIdle(conversation) {
    offerViews.get(conversation)?.setBusy(false);
  }

  // While an offer waits, the tab title flashes so an agent on another tab sees it.
  function updateTitle() {
    const unread = unreadTotal(state);
    const base = unread ? `(${unread}) ${TITLE}` : TITLE;
    if (offerViews.size === 0) {
      clearInterval(flashTimer);
      flashTimer = null;
      flashShown = true;
      doc.title = base;
      return;
    }
    if (!flashTimer) {
      flashTimer = setInterval(() => { flashShown = !flashShown; updateTitle(); }, 1000);
      flashShown = true;
    }
    doc.title = flashShown ? `New chat request — ${base}` : base;
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

  // ---- lists -----------------------------------------------------------------

  function listItem(chat) {
    const li = el('li');
    li.append(el('span', 'ib-name', visitorName(chat.visitor, chat.conversation)));
    if (chat.ended) li.append(el('span', 'ib-meta', endedLabel(chat.reason)));
    if (chat.unread) li.append(el('span', 'ib-unread', String(chat.unread)));
    if (chat.conversation === state.selected) li.setAttribute('aria-current', 'true');
    // A button inside the row, so the lists work from the keyboard.
    const open = el('button', 'ib-open');
    open.type = 'button';
    open.append(...li.childNodes);
    open.setAttribute('aria-label', `Open chat with ${li.textContent}`);
    open.addEventListener('click', () => on.select(chat.conversation));
    li.append(open);
    return li;
  }

  function renderMissed() {
    const items = state.missed.items.map((m) => {
      const li = el('li');
      li.append(el('span', 'ib-name', visitorName(m.visitor, m.conversation)));
      li.append(el('span', 'ib-meta', `${m.reason === 'fallback' ? 'nobody available' : 'not answered'} · ${new Date(m.at).toLocaleString()}`));
      const take = el('button', null, 'Pick up');
      take.type = 'button';
      take.addEventListener('click', (event) => {
        event.stopPropagation();
        take.disabled = true;
        on.pickUp(m.conversation);
      });
      li.append(take);
      if (m.visitor?.email) li.append(...replyByEmail(m));
      return li;
    });
    $('ib-missed').replaceChildren(...items);
    $('ib-missed-empty').hidden = items.length > 0;
    $('ib-missed-more').hidden = !state.missed.next;
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
      on.replyByEmail(m.conversation, body);
    });
    return [open, form];
  }

  // ---- the selected chat -----------------------------------------------------------

  function render() {
    const { active, past } = lists(state);
    $('ib-active').replaceChildren(...active.map(listItem));
    $('ib-past').replaceChildren(...past.map(listItem));
    $('ib-active-empty').hidden = active.length > 0;
    $('ib-past-empty').hidden = past.length > 0;
    $('ib-past-more').hidden = !state.pastNext;
    updateTitle();

    const chat = state.chats.get(state.selected);
    $('ib-placeholder').hidden = Boolean(chat);
    $('ib-chat-inner').hidden = !chat;
    renderVisitor(chat);
    if ($('ib-trace').dataset.conv !== state.selected) {
      $('ib-trace').hidden = true;
      $('ib-trace').replaceChildren();
      $('ib-trace').dataset.conv = state.selected || '';
    }
    if (!chat) {
      // Nothing shown (or signed out): no transcript stays behind in the page.
      $('ib-chat-title').textContent = '';
      $('ib-score').replaceChildren();
      $('ib-transcript').replaceChildren();
      return;
    }
    $('ib-chat-title').textContent = `${dash(chat.visitor.name)}${chat.ended ? ` — ${endedLabel(chat.reason)}` : ''}`;
    $('ib-end').hidden = chat.ended;
    $('ib-transfer').hidden = chat.ended;
    if (chat.ended || $('ib-transfer-form').dataset.conv !== chat.conversation) {
      $('ib-transfer-form').hidden = true;
      $('ib-transfer').setAttribute('aria-expanded', 'false');
    }
    $('ib-transfer-status').textContent = chat.transferStatus || '';
    $('ib-transfer-status').hidden = !chat.transferStatus;
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
      b.addEventListener('click', () => { if (on.score(chat, s)) renderScore(chat); });
      box.append(b);
    }
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
      b.addEventListener('click', () => on.older(chat));
      older.push(b);
    }
    box.replaceChildren(...older, ...timeline(chat).map((m) => {
      if (m.note) {
        // An internal note: agents only, never sent to the visitor.
        const div = el('div', 'ib-msg ib-note');
        div.append(linkify(m.text, doc));
        div.append(el('div', 'ib-meta', `Internal note · ${m.agent === state.me ? 'You' : m.agent} · ${clockTime(m.at)}`));
        return div;
      }
      const kind = m.pending ? 'agent' : m.sender?.kind;
      const div = el('div', `ib-msg${kind === 'agent' ? ' ib-msg-me' : ''}${kind === 'system' ? ' ib-msg-system' : ''}${m.pending && !m.acked ? ' ib-msg-pending' : ''}`);
      div.append(linkify(m.text, doc));
      if (kind !== 'system') {
        const when = m.pending ? (m.acked ? 'Sent' : 'Sending…') : clockTime(m.at);
        div.append(el('div', 'ib-meta', `${m.pending ? 'You' : senderLabel(state.me, m.sender)} · ${when}`));
      }
      return div;
    }));
    if (stick) box.scrollTop = box.scrollHeight;
  }

  function renderTyping() {
    const chat = state.chats.get(state.selected);
    $('ib-typing').hidden = !(chat && chat.typing && !chat.ended);
  }

  function renderVisitor(chat) {
    const v = chat?.visitor || {};
    const rows = [['Name', v.name], ['Job title', v.job_title], ['Email', v.email], ['Phone', v.phone], ['Page', v.page_url]];
    const dl = (pairs) => pairs.flatMap(([k, val, unverified]) => {
      const dd = el('dd');
      dd.append(val == null || val === '' ? doc.createTextNode('-') : linkify(String(val), doc));
      if (unverified) {
        const mark = el('span', 'ib-unverified', 'unverified');
        mark.title = 'Not signed by your website: routing ignored it';
        dd.append(' ', mark);
      }
      return [el('dt', null, k), dd];
    });
    $('ib-visitor-fields').replaceChildren(...dl(chat ? rows : []));
    const answers = answerRows(v);
    $('ib-visitor-answers').replaceChildren(...(answers.length ? dl(answers) : chat ? [el('dd', null, '-')] : []));
  }

  /** Saves the whole transcript of `chat` as a text file. */
  function download(chat) {
    // The agent's transcript holds the chat's internal notes too, each placed
    // after the messages before it.
    const messages = [...chat.thread.byId.values()];
    const notes = [...(chat.notes?.values() || [])].map((n) => {
      const before = messages.filter((m) => m.seq != null && m.at && m.at <= n.at).map((m) => m.seq);
      return { seq: Math.max(0, ...before) + 0.5, at: n.at, text: n.text, sender: { kind: 'note', agent: n.agent } };
    });
    const label = (s) => (s?.kind === 'note' ? `Internal note (${s.agent})` : senderLabel(state.me, s));
    const text = transcriptText({ ...chat, messages: [...messages, ...notes], label });
    const a = el('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
    a.download = `transcript-${chat.conversation}.txt`;
    doc.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  // ---- the agent's input -------------------------------------------------------

  $('ib-signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('ib-token').value.trim();
    if (!token) return;
    $('ib-token').value = '';
    on.signIn(token);
  });
  $('ib-signout').addEventListener('click', () => on.signOut());
  $('ib-missed-more').addEventListener('click', () => on.missedMore());
  $('ib-past-more').addEventListener('click', () => on.pastMore());
  $('ib-avail').addEventListener('change', (e) => {
    const wanted = e.target.checked;
    e.target.checked = !wanted; // the availability frame sets the real state
    on.setAvailable(wanted);
  });
  const sendInput = () => {
    const input = $('ib-input');
    const asNote = $('ib-note-mode').checked;
    if (asNote ? on.note(input.value) : on.send(input.value)) input.value = '';
  };
  $('ib-note-mode').addEventListener('change', (e) => {
    $('ib-input').placeholder = e.target.checked
      ? 'Internal note for agents: the visitor never sees it (Enter adds it)'
      : 'Reply… (Enter sends, Shift+Enter new line)';
    $('ib-composer').classList.toggle('ib-composer-note', e.target.checked);
  });
  $('ib-why').addEventListener('click', () => {
    if (state.selected) on.why(state.selected);
  });
  $('ib-transfer').addEventListener('click', () => {
    const form = $('ib-transfer-form');
    form.hidden = !form.hidden;
    form.dataset.conv = state.selected || '';
    $('ib-transfer').setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) $('ib-transfer-to').focus();
  });
  $('ib-transfer-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const frame = transferFrame(state.selected, $('ib-transfer-kind').value, $('ib-transfer-to').value, $('ib-transfer-note').value);
    if (!frame) return toast('Pick an agent or a team (and keep the note under 1,000 characters).', true);
    if (!on.transfer(frame)) return toast('Not connected.', true);
    $('ib-transfer-form').hidden = true;
    $('ib-transfer').setAttribute('aria-expanded', 'false');
    $('ib-transfer-to').value = $('ib-transfer-note').value = '';
  });

  /** The agents the Transfer form offers (`{id, label}`), from the live view. */
  function setTransferAgents(choices) {
    $('ib-transfer-agents').replaceChildren(...choices.map((c) => {
      const option = el('option', null, c.label);
      option.value = c.id;
      return option;
    }));
  }

  /** The Sales Admin's "Why this agent?" panel: each routing decision of the chat. */
  function showTrace(frame) {
    if (frame.conversation !== state.selected) return;
    const box = $('ib-trace');
    const decisions = (frame.traces || []).map(decisionView);
    const parts = [el('h3', null, 'Routing')];
    if (!decisions.length) parts.push(el('p', 'ib-empty', 'No routing decision is recorded for this chat.'));
    for (const d of decisions) {
      const section = el('section', 'ib-decision');
      section.append(el('p', 'ib-meta', `${clockTime(d.at)}: ${d.outcome}`));
      if (d.owner) section.append(el('p', 'ib-meta', `Account owner: ${d.owner}`));
      for (const r of d.rules) section.append(el('p', 'ib-meta', r));
      for (const p of d.pools) {
        section.append(el('p', 'ib-pool', p.title));
        const list = el('dl');
        for (const [agent, verdict] of p.rows) list.append(el('dt', null, agent), el('dd', null, verdict));
        section.append(list);
      }
      parts.push(section);
    }
    box.replaceChildren(...parts);
    box.hidden = false;
  }
  $('ib-composer').addEventListener('submit', (e) => {
    e.preventDefault();
    sendInput();
  });
  // "/" and a few letters list the canned responses; arrows move, Enter or Tab
  // inserts, Escape closes.
  const canned = { shown: [], index: 0 };
  function renderCannedList() {
    const list = $('ib-canned-list');
    list.replaceChildren(...canned.shown.map((c, i) => {
      const li = el('li');
      li.id = `ib-canned-${i}`;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === canned.index));
      li.append(el('strong', null, `/${c.shortcut}`), el('span', 'ib-meta', c.text.slice(0, 80)));
      li.addEventListener('mousedown', (e) => {
        e.preventDefault();
        pickCanned(i);
      });
      return li;
    }));
    list.hidden = canned.shown.length === 0;
    if (canned.shown.length) $('ib-input').setAttribute('aria-activedescendant', `ib-canned-${canned.index}`);
    else $('ib-input').removeAttribute('aria-activedescendant');
  }
  function updateCanned() {
    const query = slashQuery($('ib-input').value);
    canned.shown = query == null ? [] : cannedMatches(on.cannedLists(), query);
    canned.index = 0;
    renderCannedList();
  }
  function pickCanned(i) {
    const chosen = canned.shown[i];
    if (!chosen) return;
    const chat = state.chats.get(state.selected);
    $('ib-input').value = insertCanned($('ib-input').value, chosen, chat?.visitor || {});
    canned.shown = [];
    renderCannedList();
    $('ib-input').focus();
  }
  $('ib-input').addEventListener('keydown', (e) => {
    if (canned.shown.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const n = canned.shown.length;
        canned.index = (canned.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
        renderCannedList();
        return;
      }
      if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        pickCanned(canned.index);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        canned.shown = [];
        renderCannedList();
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendInput();
    }
  });
  $('ib-input').addEventListener('input', () => {
    if ($('ib-input').value.trim()) on.typing();
    updateCanned();
  });
  $('ib-input').addEventListener('blur', () => {
    canned.shown = [];
    renderCannedList();
  });

  /** The agent's own canned responses, each with a Delete button. */
  function renderCannedOwn(own) {
    $('ib-canned-own').replaceChildren(...own.map((c) => {
      const li = el('li');
      const del = el('button', 'ib-link', 'Delete');
      del.type = 'button';
      del.setAttribute('aria-label', `Delete /${c.shortcut}`);
      del.addEventListener('click', () => on.deleteCanned(c.shortcut));
      li.append(el('strong', null, `/${c.shortcut}`), ' ', el('span', 'ib-meta', c.text.slice(0, 80)), ' ', del);
      return li;
    }));
  }
  $('ib-canned-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const shortcut = $('ib-canned-shortcut').value.trim();
    const text = $('ib-canned-text').value;
    if (on.saveCanned(shortcut, text)) {
      $('ib-canned-shortcut').value = '';
      $('ib-canned-text').value = '';
    }
  });
  $('ib-end').addEventListener('click', () => {
    if (state.selected && window.confirm('End this chat for the visitor?')) on.end(state.selected);
  });
  $('ib-download').addEventListener('click', () => {
    const chat = state.chats.get(state.selected);
    if (chat) on.download(chat);
  });
  doc.addEventListener('visibilitychange', () => {
    if (!doc.hidden) on.seen();
  });
  // Browsers only start audio after a user gesture; unlock it on the first click.
  doc.addEventListener('pointerdown', () => { audio = audio || new AudioContext(); audio.resume?.(); }, { once: true });
  setupNotifyButton();

  return {
    toast,
    setConn,
    showSignIn,
    showMain,
    setAvailability,
    showOffer,
    removeOffer,
    offerIdle,
    render,
    renderCannedOwn,
    showTrace,
    setTransferAgents,
    showWhy(shown) {
      $('ib-why').hidden = !shown;
    },
    renderMissed,
    renderTyping,
    download,
    focusInput: () => $('ib-input').focus(),
    get tabHidden() {
      return doc.hidden;
    },
  };
}
