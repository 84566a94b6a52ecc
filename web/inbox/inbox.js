// The Agent Inbox's entry: signs in with an agent token, keeps one connection
// (socket.js), and turns each server frame into a state transition (state.js) and a
// redraw (render.js). The one state object and the one connection live here, in
// `app`, and are handed to the modules that need them. Offers show as a banner with
// sound, notification and flashing tab title; the lists are the agent's live chats,
// missed requests and past chats, the last two from the server a page at a time. The
// Analytics page (analytics-view.js) shows the `report` it asks for; the Live tab
// (live-view.js) the last `live` frame, pushed as the view moves, its waits ticking
// every second. A Marketing Admin (`sync` answers `reports_only`) sees only the
// Analytics page.
import { tokenClaims } from '../shared/socket.js';
import { newMessageId } from '../shared/thread.js';
import { TYPING_SHOWN_MS, typingThrottle } from '../shared/typing.js';
import { mountAnalytics } from './analytics-view.js';
import { joinParts, reportFrame } from './analytics.js';
import { LIVE_FRAME } from './live.js';
import { mountLive } from './live-view.js';
import { dialogsFrame } from './dialogs.js';
import { mountDialogs } from './dialogs-view.js';
import { mountInbox } from './render.js';
import { connectInbox } from './socket.js';
import * as S from './state.js';
import { agentChoices, statusLine } from './transfer.js';
import { agentSession, forgetOldPastChats, tokenInHash } from './storage.js';

function start() {
  const app = { state: S.createState(), session: agentSession(), connection: null, page: 'chats', reportsOnly: null, canned: { account: [], own: [] }, cannedAsked: false };
  const { state, session } = app;
  const typingShown = new Map(); // conversation -> the timer that hides its indicator
  const transferredAway = new Set(); // chats whose transfer was just accepted: their `chat_moved` follows
  const send = (frame) => Boolean(app.connection?.send(frame));
  const typing = typingThrottle((on) => { if (state.selected) send({ action: 'typing', conversation: state.selected, typing: on }); });

  const view = mountInbox(state, {
    signIn(token) {
      session.set(token);
      signIn();
    },
    signOut() {
      session.forget();
      for (const c of [...state.offers.keys()]) removeOffer(c);
      for (const t of typingShown.values()) clearTimeout(t);
      typingShown.clear();
      typing.stop();
      S.signOut(state);
      showSignIn(false);
    },
    select,
    accept(conversation) {
      const offer = state.offers.get(conversation);
      if (offer) offer.accepting = true;
      return send({ action: 'accept', conversation });
    },
    decline(conversation) {
      send({ action: 'decline', conversation });
      removeOffer(conversation);
    },
    offerExpired: removeOffer,
    pickUp(conversation) {
      state.pickingUp.add(conversation);
      send({ action: 'pick_up', conversation });
      setTimeout(() => send({ action: 'missed' }), 500);
    },
    replyByEmail: (conversation, text) => send({ action: 'reply_by_email', conversation, id: newMessageId(), text }),
    score: (chat, score) => S.scoreChat(chat, score, send),
    older(chat) {
      S.askOlder(chat, send);
      view.render();
    },
    download(chat) {
      // The whole chat: older pages are fetched first (the server sends 50 a page).
      if (S.downloadAsked(chat, send)) view.download(chat);
    },
    missedMore() {
      if (state.missed.next) send({ action: 'missed', before: state.missed.next });
    },
    pastMore() {
      if (state.pastNext) send({ action: 'past_chats', before: state.pastNext });
    },
    setAvailable: (available) => send({ action: 'set_availability', available }),
    send(text) {
      if (!S.reply(state, text, newMessageId(), send)) return false;
      typing.stop();
      view.render();
      return true;
    },
    note(text) {
      const chat = state.chats.get(state.selected);
      if (!chat || !text.trim()) return false;
      return send({ action: 'add_note', conversation: chat.conversation, id: newMessageId(), text });
    },
    why: (conversation) => send({ action: 'routing_trace', conversation }),
    transfer: (frame) => send(frame),
    cannedLists: () => app.canned,
    saveCanned: (shortcut, text) => send({ action: 'save_canned', shortcut, text }),
    deleteCanned: (shortcut) => send({ action: 'delete_canned', shortcut }),
    typing: () => typing.input(),
    end: (conversation) => send({ action: 'end_session', conversation }),
    seen() {
      if (S.seen(state)) view.render();
    },
  });

  const analytics = mountAnalytics({ ask: (range) => send(reportFrame(range)) });
  const reportParts = new Map(); // the parts of a report still coming (analytics.js, joinParts)
  const live = mountLive();
  const dialogs = mountDialogs({ ask: (id) => send(dialogsFrame(id)) });
  setInterval(() => { if (app.page === 'live') live.tick(); }, 1000);
  const byId = (id) => document.getElementById(id);

  /** Shows the chats, the Live tab, the Analytics or the Dialogs page; a Marketing Admin has only the last two. */
  function showTab(page) {
    app.page = app.reportsOnly && (page === 'chats' || page === 'live') ? 'analytics' : page;
    const signedIn = Boolean(session.token());
    const pages = { chats: 'ib-main', live: 'ib-live', analytics: 'ib-analytics', dialogs: 'ib-dialogs' };
    for (const [name, id] of Object.entries(pages)) {
      byId(id).hidden = app.page !== name || !signedIn;
      byId(`ib-tab-${name}`).setAttribute('aria-pressed', String(app.page === name));
    }
    byId('ib-tab-chats').hidden = Boolean(app.reportsOnly);
    byId('ib-tab-live').hidden = Boolean(app.reportsOnly);
  }
  byId('ib-tab-chats').addEventListener('click', () => showTab('chats'));
  byId('ib-tab-live').addEventListener('click', () => {
    const first = app.page !== 'live';
    showTab('live');
    // The view is pushed as it moves; opening the tab asks for it now as well.
    if (first) send(LIVE_FRAME);
    live.tick();
  });
  byId('ib-tab-analytics').addEventListener('click', () => {
    const first = app.page !== 'analytics';
    showTab('analytics');
    if (first) analytics.ask();
  });
  byId('ib-tab-dialogs').addEventListener('click', () => {
    const first = app.page !== 'dialogs';
    showTab('dialogs');
    if (first) send(dialogsFrame());
  });

  function select(conversation) {
    S.select(state, conversation, send);
    view.render();
    view.focusInput();
  }

  function removeOffer(conversation) {
    state.offers.delete(conversation);
    view.removeOffer(conversation);
  }

  // The socket is held to the token's expiry (docs/protocol.md, "Connecting"): warn 5
  // minutes before it; a new token reaching this page renews the open socket.
  let expiryTimer = null;
  function watchExpiry(exp) {
    clearTimeout(expiryTimer);
    const warnIn = exp * 1000 - Date.now() - 5 * 60_000;
    if (!(warnIn < 2 ** 31)) return; // no exp, or beyond what setTimeout can wait
    const at = new Date(exp * 1000).toLocaleTimeString();
    expiryTimer = setTimeout(() => view.toast(`Your sign-in expires at ${at}: open a new sign-in link to keep your chats.`, true), Math.max(0, warnIn));
  }

  /** Takes a token out of the address bar into this tab's session. */
  function tokenFromHash() {
    const token = tokenInHash(location.hash);
    if (!token) return;
    session.set(token);
    history.replaceState(null, '', location.pathname + location.search);
  }

  function tokenArrived() {
    const before = session.token();
    tokenFromHash();
    const token = session.token();
    if (!token || token === before) return;
    if (app.connection?.isOpen) send({ action: 'renew_token', token });
    else signIn();
  }

  function showSignIn(failed) {
    app.connection?.stop();
    app.connection = null;
    clearTimeout(expiryTimer);
    app.reportsOnly = null;
    app.page = 'chats';
    analytics.reset();
    live.reset();
    dialogs.reset();
    byId('ib-tabs').hidden = true;
    byId('ib-analytics').hidden = true;
    byId('ib-live').hidden = true;
    byId('ib-dialogs').hidden = true;
    view.render();
    view.renderMissed();
    view.showSignIn(failed);
  }

  function signIn() {
    const token = session.token();
    if (!token) return showSignIn(false);
    const claims = tokenClaims(token);
    state.me = claims.sub || claims.agent || null;
    watchExpiry(claims.exp);
    view.render();
    view.showMain(claims.name || claims.email || state.me || '');
    byId('ib-tabs').hidden = false;
    showTab(app.page);
    app.connection?.stop();
    app.connection = connectInbox({
      state,
      token: () => session.token(),
      onState: view.setConn,
      onFrame: handle,
      onRefused() {
        session.forget();
        showSignIn(true);
      },
    });
  }

  function handle(frame) {
    switch (frame.type) {
      case 'availability':
        view.setAvailability(frame);
        // An agent who chats: the canned responses, once a page.
        if (!app.cannedAsked && send({ action: 'canned' })) app.cannedAsked = true;
        break;
      case 'canned':
        app.canned = { account: frame.account || [], own: frame.own || [] };
        view.renderCannedOwn(app.canned.own);
        break;
      case 'offer':
        removeOffer(frame.conversation);
        state.offers.set(frame.conversation, { accepting: false });
        view.showOffer(frame);
        break;
      case 'offer_withdrawn':
        if (state.offers.has(frame.conversation)) view.toast(`Offer closed: ${S.WITHDRAWN[frame.reason] || frame.reason}.`);
        removeOffer(frame.conversation);
        break;
      case 'chat_started': {
        const show = S.chatStarted(state, frame);
        removeOffer(frame.conversation);
        if (show) select(frame.conversation);
        else view.render();
        break;
      }
      case 'message':
        if (S.messageArrived(state, frame, view.tabHidden)) view.render();
        break;
      case 'missed':
        S.missedPage(state, frame);
        view.renderMissed();
        break;
      case 'email_sent':
        view.toast(`Email sent to ${frame.to}`);
        break;
      case 'transcript': {
        const next = S.transcriptPage(state, frame);
        if (next === 'older') S.askOlder(state.chats.get(frame.conversation), send);
        if (next === 'download') view.download(state.chats.get(frame.conversation));
        if (next) view.render();
        break;
      }
      case 'past_chats':
        S.pastChatsPage(state, frame);
        view.render();
        break;
      case 'ack':
        if (S.acked(state, frame.id, frame.message)) {
          for (const next of S.sendable(state)) send(next);
          view.render();
        }
        break;
      case 'typing': {
        const chat = S.visitorTyping(state, frame);
        if (!chat) break;
        clearTimeout(typingShown.get(chat.conversation));
        typingShown.delete(chat.conversation);
        if (chat.typing) {
          typingShown.set(chat.conversation, setTimeout(() => {
            typingShown.delete(chat.conversation);
            S.typingOver(state, chat.conversation);
            view.renderTyping();
          }, TYPING_SHOWN_MS));
        }
        view.renderTyping();
        break;
      }
      case 'chat_moved': {
        const handedOn = transferredAway.delete(frame.conversation);
        if (S.chatMoved(state, frame)) {
          view.toast(handedOn ? 'The chat you transferred is with its new agent now.' : 'A chat went to another agent: you were offline past the grace period.');
          view.render();
        }
        break;
      }
      case 'transfer_pending':
      case 'transfer_ended':
      case 'transfer_failed': {
        // The sender's news of their transfer, shown in the chat's head.
        const chat = state.chats.get(frame.conversation);
        const line = statusLine(frame);
        if (frame.type === 'transfer_ended' && frame.outcome === 'accepted') transferredAway.add(frame.conversation);
        if (chat && line) {
          chat.transferStatus = line;
          view.render();
        }
        if (line && frame.type !== 'transfer_pending') view.toast(line, frame.type === 'transfer_failed');
        break;
      }
      case 'chat_ended':
        removeOffer(frame.conversation);
        if (S.chatEnded(state, frame, new Date().toISOString())) view.render();
        break;
      case 'reports_only':
        // No live chat permission: no chats, no availability, only the reports.
        app.reportsOnly = frame.scope;
        byId('ib-avail-wrap').hidden = true;
        analytics.restrict(frame.scope);
        showTab('analytics');
        analytics.ask();
        break;
      case 'live':
        live.show(frame);
        view.setTransferAgents(agentChoices(frame, state.me));
        // Only a Sales Admin's view is the whole account's: they may ask why a
        // chat went to whom.
        view.showWhy(frame.scope === 'all');
        break;
      case 'note':
        if (S.noteArrived(state, frame)) view.render();
        break;
      case 'routing_trace':
        view.showTrace(frame);
        break;
      case 'dialogs':
        dialogs.show(frame);
        break;
      case 'dialog':
        dialogs.showOne(frame);
        break;
      case 'report': {
        const whole = joinParts(reportParts, frame);
        if (whole) analytics.show(whole);
        break;
      }
      case 'token_renewed':
        watchExpiry(Date.parse(frame.expires_at) / 1000);
        view.toast('Sign-in renewed.');
        break;
      case 'error':
        // A Live Agent on the Dialogs page: the page says why, no toast.
        if (frame.code === 'forbidden' && app.page === 'dialogs') {
          dialogs.refuse();
          break;
        }
        view.toast(frame.code === 'internal' ? 'Something went wrong on our side; please try again.' : frame.message || frame.code, true);
        for (const c of S.errorArrived(state)) view.offerIdle(c);
        break;
      default:
        break;
    }
  }

  // Earlier versions kept past chats (visitors' names and emails) in localStorage.
  forgetOldPastChats();
  tokenFromHash();
  window.addEventListener('hashchange', tokenArrived);
  view.render();
  signIn();
}

start();
