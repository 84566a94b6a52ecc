import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as S from './state.js';

const visitorMsg = (seq, conversation = 'c1') => ({
  id: `m${seq}`, conversation, seq, sender: { kind: 'visitor' }, text: `t${seq}`, at: '2026-03-02T09:30:00Z',
});
/** A `send` that records frames; `open: false` is a socket that is down. */
function sender(open = true) {
  const sent = [];
  const send = (frame) => { if (open) sent.push(frame); return open; };
  return { sent, send };
}
const past = (conversation, endedAt, name = `V ${conversation}`) => ({
  conversation, agent: 'ana', ended_at: endedAt, reason: 'completed', visitor_name: name, visitor_email: `${conversation}@example.com`,
});

test('the next-page cursor follows the page that answers it and ignores late ones', () => {
  assert.equal(S.nextCursor(undefined, { before: null, next: 'p2' }), 'p2', 'the first page sets it');
  assert.equal(S.nextCursor(undefined, { before: null, next: null }), null, 'one page only');
  assert.equal(S.nextCursor('p2', { before: 'p2', next: 'p3' }), 'p3');
  assert.equal(S.nextCursor('p3', { before: 'p3' }), null, 'the last page');
  assert.equal(S.nextCursor('p3', { before: null, next: 'p2' }), 'p3', 'the newest page again (a reconnect) keeps the place');
  assert.equal(S.nextCursor(null, { before: null, next: 'p2' }), null, 'all shown stays all shown');
  assert.equal(S.nextCursor('p3', { before: 'p2', next: 'p3' }), 'p3', 'a late page changes nothing');
});

test('past chats come a page at a time from the server, newest ended first, and page on with the cursor', () => {
  const state = S.createState();
  S.pastChatsPage(state, { type: 'past_chats', chats: [past('c2', '2026-03-02T10:00:00Z'), past('c1', '2026-03-01T10:00:00Z')], before: null, next: 'c1-cursor' });
  assert.equal(state.pastNext, 'c1-cursor');
  S.pastChatsPage(state, { type: 'past_chats', chats: [past('c0', '2026-02-01T10:00:00Z')], before: 'c1-cursor', next: null });
  assert.equal(state.pastNext, null, 'nothing older');
  const { active, past: listed } = S.lists(state);
  assert.deepEqual(active, []);
  assert.deepEqual(listed.map((c) => c.conversation), ['c2', 'c1', 'c0']);
  assert.deepEqual(listed[0].visitor, { name: 'V c2', email: 'c2@example.com' });
  assert.equal(listed[0].loaded, false, 'the transcript is asked for when it is opened');
  // A reconnect asks for the newest page again: no duplicate, the place is kept.
  S.pastChatsPage(state, { type: 'past_chats', chats: [past('c2', '2026-03-02T10:00:00Z', 'renamed')], before: null, next: 'c1-cursor' });
  assert.equal(state.chats.size, 3);
  assert.equal(state.chats.get('c2').visitor.name, 'V c2');
  assert.equal(state.pastNext, null);
});

test('opening a past chat asks for its transcript once; the transcript brings the score and the older cursor', () => {
  const state = S.createState();
  S.pastChatsPage(state, { chats: [past('c1', '2026-03-01T10:00:00Z')], before: null, next: null });
  const down = sender(false);
  S.select(state, 'c1', down.send);
  assert.equal(state.chats.get('c1').loaded, false, 'not sent: asked again next time');
  const { sent, send } = sender();
  S.select(state, 'c1', send);
  S.select(state, 'c1', send);
  assert.deepEqual(sent, [{ action: 'history', conversation: 'c1' }]);
  assert.equal(S.transcriptPage(state, { conversation: 'c1', messages: [visitorMsg(60), visitorMsg(59)], score: 2, before: null, next: 'h59' }), 'show');
  const chat = state.chats.get('c1');
  assert.equal(chat.score, 2);
  assert.equal(chat.older, 'h59');
  S.askOlder(chat, send);
  S.askOlder(chat, send);
  assert.deepEqual(sent.slice(1), [{ action: 'history', conversation: 'c1', before: 'h59' }], 'asked once until it comes');
  assert.equal(S.transcriptPage(state, { conversation: 'c1', messages: [visitorMsg(1)], before: 'h59', next: null }), 'show');
  assert.equal(chat.older, null);
  assert.deepEqual(chat.thread.list().map((m) => m.seq), [1, 59, 60]);
  assert.equal(S.transcriptPage(state, { conversation: 'nope', messages: [] }), null);
});

test('a download waits for every older page, then saves', () => {
  const state = S.createState();
  S.chatStarted(state, { conversation: 'c1', visitor: { name: 'Jo' }, messages: [visitorMsg(3)], next: 'h3' });
  const chat = state.chats.get('c1');
  const { sent, send } = sender();
  assert.equal(S.downloadAsked(chat, send), false);
  assert.deepEqual(sent, [{ action: 'history', conversation: 'c1', before: 'h3' }]);
  assert.equal(S.transcriptPage(state, { conversation: 'c1', messages: [visitorMsg(2)], before: 'h3', next: 'h2' }), 'older');
  S.askOlder(chat, send);
  assert.equal(S.transcriptPage(state, { conversation: 'c1', messages: [visitorMsg(1)], before: 'h2', next: null }), 'download');
  assert.equal(sent.length, 2);
  assert.equal(S.downloadAsked(chat, send), true, 'all here: saved at once');
  assert.equal(sent.length, 2);
});

test('chat_started selects an accepted or picked-up chat, or the first while none is shown', () => {
  const state = S.createState();
  assert.equal(S.chatStarted(state, { conversation: 'c1', visitor: { name: 'A' }, messages: [], next: null }), true, 'nothing shown yet');
  state.selected = 'c1';
  assert.equal(S.chatStarted(state, { conversation: 'c2', messages: [] }), false, 'another one arrived meanwhile');
  state.offers.set('c3', { accepting: true });
  assert.equal(S.chatStarted(state, { conversation: 'c3', messages: [] }), true, 'accepted here');
  state.pickingUp.add('c4');
  assert.equal(S.chatStarted(state, { conversation: 'c4', messages: [] }), true, 'picked up here');
  assert.equal(state.pickingUp.size, 0);
  assert.deepEqual(S.lists(state).active.map((c) => c.conversation), ['c1', 'c2', 'c3', 'c4']);
});

test('messages count unread unless shown in a visible tab; duplicates and unknown chats are dropped', () => {
  const state = S.createState();
  S.chatStarted(state, { conversation: 'c1', messages: [] });
  S.chatStarted(state, { conversation: 'c2', messages: [] });
  state.selected = 'c1';
  state.chats.get('c1').typing = true;
  assert.equal(S.messageArrived(state, { conversation: 'c1', message: visitorMsg(1) }), true);
  assert.equal(state.chats.get('c1').typing, false, 'a message ends the typing line');
  assert.equal(S.messageArrived(state, { conversation: 'c1', message: visitorMsg(1) }), false, 'once');
  assert.equal(S.messageArrived(state, { conversation: 'c1', message: visitorMsg(2) }, true), true);
  assert.equal(S.messageArrived(state, { conversation: 'c2', message: visitorMsg(1, 'c2') }), true);
  assert.equal(S.messageArrived(state, { conversation: 'c9', message: visitorMsg(1, 'c9') }), false);
  assert.equal(state.chats.get('c1').unread, 1, 'the one that came while the tab was hidden');
  assert.equal(S.unreadTotal(state), 2);
  assert.equal(S.seen(state), true);
  assert.equal(S.unreadTotal(state), 1);
});

test('missed requests: the newest page replaces the list, an older one adds what is new', () => {
  const state = S.createState();
  const m = (conversation) => ({ conversation, reason: 'missed', at: '2026-03-02T09:00:00Z', visitor: {} });
  S.missedPage(state, { chats: [m('a'), m('b')], before: null, next: 'b' });
  S.missedPage(state, { chats: [m('b'), m('c')], before: 'b', next: null });
  assert.deepEqual(state.missed.items.map((x) => x.conversation), ['a', 'b', 'c']);
  assert.equal(state.missed.next, null);
  S.missedPage(state, { chats: [m('b')], before: null, next: null }); // the minute's refresh
  assert.deepEqual(state.missed.items.map((x) => x.conversation), ['b']);
});

test('an ack brings the stored message, which takes the pending reply\'s place without counting as unread', () => {
  const state = S.createState();
  S.chatStarted(state, { conversation: 'c1', messages: [] });
  S.chatStarted(state, { conversation: 'c2', messages: [] });
  state.selected = 'c2';
  const { send } = sender();
  state.selected = 'c1';
  S.reply(state, 'Hello', 'id1', send);
  state.selected = 'c2';
  const stored = { id: 'id1', conversation: 'c1', seq: 3, sender: { kind: 'agent', agent: 'ana' }, text: 'Hello', at: '2026-03-02T10:00:00Z' };
  assert.equal(S.acked(state, 'id1', stored), true);
  const chat = state.chats.get('c1');
  assert.deepEqual(chat.thread.list().map((m) => [m.id, m.seq, Boolean(m.pending)]), [['id1', 3, false]]);
  assert.equal(chat.unread, 0);
});

test('a ninth reply waits until the oldest unacked one is acked', () => {
  const state = S.createState();
  S.chatStarted(state, { conversation: 'c1', messages: [] });
  state.selected = 'c1';
  const { sent, send } = sender();
  for (let i = 1; i <= 9; i++) S.reply(state, `r${i}`, `id${i}`, send);
  assert.equal(sent.length, 8);
  assert.deepEqual(S.sendable(state), []);
  S.acked(state, 'id1');
  assert.deepEqual(S.sendable(state).map((f) => f.id), ['id9']);
});

test('a reply is pending until acked and resent after a reconnect; an ended chat takes none', () => {
  const state = S.createState();
  S.chatStarted(state, { conversation: 'c1', messages: [] });
  state.selected = 'c1';
  const { sent, send } = sender();
  assert.equal(S.reply(state, '   ', 'id0', send), null, 'blank');
  const entry = S.reply(state, '  Hello  ', 'id1', send);
  assert.equal(entry.text, 'Hello');
  assert.deepEqual(sent, [{ action: 'send_message', conversation: 'c1', id: 'id1', text: 'Hello' }]);
  assert.deepEqual(S.resends(state), sent);
  assert.equal(S.acked(state, 'id1'), true);
  assert.equal(S.acked(state, 'other'), false);
  assert.deepEqual(S.resends(state), []);
  assert.equal(S.chatEnded(state, { conversation: 'c1', reason: 'completed' }, '2026-03-02T10:00:00Z'), true);
  assert.equal(S.reply(state, 'late', 'id2', send), null);
  const chat = state.chats.get('c1');
  assert.deepEqual([chat.ended, chat.endedAt, chat.loaded, S.endedLabel(chat.reason)], [true, '2026-03-02T10:00:00Z', true, 'ended']);
  assert.deepEqual(S.lists(state).past.map((c) => c.conversation), ['c1']);
});

test('a score is kept only when the frame went', () => {
  const chat = { conversation: 'c1', score: null };
  assert.equal(S.scoreChat(chat, 2, sender(false).send), false);
  assert.equal(chat.score, null);
  const { sent, send } = sender();
  assert.equal(S.scoreChat(chat, 3, send), true);
  assert.equal(chat.score, 3);
  assert.deepEqual(sent, [{ action: 'score', conversation: 'c1', score: 3 }]);
});

test('typing from the visitor only; a moved chat leaves; an error frees the offers being accepted', () => {
  const state = S.createState();
  S.chatStarted(state, { conversation: 'c1', messages: [] });
  assert.equal(S.visitorTyping(state, { conversation: 'c1', from: { kind: 'agent' }, typing: true }), null);
  assert.equal(S.visitorTyping(state, { conversation: 'c1', from: { kind: 'visitor' }, typing: true }).typing, true);
  S.typingOver(state, 'c1');
  assert.equal(state.chats.get('c1').typing, false);
  state.selected = 'c1';
  assert.equal(S.chatMoved(state, { conversation: 'c1' }), true);
  assert.equal(state.selected, null);
  assert.equal(state.chats.size, 0);
  state.offers.set('o1', { accepting: true });
  state.offers.set('o2', { accepting: false });
  assert.deepEqual(S.errorArrived(state), ['o1']);
  assert.equal(state.offers.get('o1').accepting, false);
});

test('a chat_started read before a chat_moved that came first is ignored; a later start is not', () => {
  const state = S.createState();
  // The move's news overtook the sync's chat_started (read at version 3).
  assert.equal(S.chatMoved(state, { conversation: 'c1', version: 4 }), false, 'nothing shown yet');
  assert.equal(S.chatStarted(state, { conversation: 'c1', messages: [], version: 3 }), false);
  assert.equal(state.chats.has('c1'), false, 'the stale start opens nothing');
  assert.equal(S.chatStarted(state, { conversation: 'c1', messages: [], version: 4 }), false);
  assert.equal(state.chats.has('c1'), false, 'read at the move itself: still stale');
  // Offered again and accepted here later: a higher version.
  S.chatStarted(state, { conversation: 'c1', messages: [], version: 7 });
  assert.equal(state.chats.has('c1'), true);
});

test('sign-out forgets every visitor, chat, offer and cursor', () => {
  const state = S.createState();
  state.me = 'ana';
  S.chatStarted(state, { conversation: 'c1', visitor: { name: 'Maria', email: 'maria@example.com' }, messages: [visitorMsg(1)] });
  S.pastChatsPage(state, { chats: [past('c0', '2026-03-01T10:00:00Z', 'Noor')], before: null, next: 'more' });
  S.missedPage(state, { chats: [{ conversation: 'm1', visitor: { name: 'Sam', email: 'sam@example.com' } }], before: null, next: 'x' });
  state.offers.set('o1', { accepting: false });
  state.pickingUp.add('m1');
  S.signOut(state);
  assert.deepEqual(state, S.createState());
});

test('names: senders as the agent sees them, list names, the offer line', () => {
  assert.equal(S.senderLabel('ana', { kind: 'agent', agent: 'ana' }), 'You');
  assert.equal(S.senderLabel('ana', { kind: 'agent', agent: 'ben' }), 'Agent ben');
  assert.equal(S.senderLabel('ana', { kind: 'visitor' }), 'Visitor');
  assert.equal(S.senderLabel('ana', { kind: 'system' }), 'System');
  assert.equal(S.visitorName({ name: 'Jo', email: 'jo@x.com' }, 'c1'), 'Jo');
  assert.equal(S.visitorName({ email: 'jo@x.com' }, 'c1'), 'jo@x.com');
  assert.equal(S.visitorName(undefined, '01JQ8Z5Y0W3H7G2E6D9C4B1A0F'), 'Visitor 4B1A0F');
  assert.equal(S.visitorSummary({ name: 'Jo', page_url: 'https://acme.com/' }), 'Jo · - · https://acme.com/');
  assert.deepEqual(
    S.answerRows({ answers: [{ label: 'plan', value: 'enterprise', unverified: true }, { label: 'seats', value: '12' }] }),
    [['plan', 'enterprise', true], ['seats', '12', false]],
    'a value the server marked unverified is shown so, the others are not',
  );
  assert.deepEqual(S.answerRows({}), []);
  assert.equal(S.endedLabel('fallback'), 'no agent');
  assert.equal(S.endedLabel('something new'), 'ended');
});

test('internal notes join a chat once per id and show among its messages by time', () => {
  const state = S.createState();
  const chat = S.chatFor(state, 'c1', { name: 'Jo' });
  chat.thread.merge([
    { ...visitorMsg(1), at: '2026-03-02T09:30:00Z' },
    { ...visitorMsg(2), at: '2026-03-02T09:32:00Z' },
  ]);
  const note = { id: 'n1', conversation: 'c1', agent: 'ana', text: 'VIP', at: '2026-03-02T09:31:00Z' };
  assert.equal(S.noteArrived(state, { type: 'note', conversation: 'c1', note }), true);
  assert.equal(S.noteArrived(state, { type: 'note', conversation: 'c1', note }), false, 'a repeat is not new');
  assert.equal(S.noteArrived(state, { type: 'note', conversation: 'other', note }), false, 'not a chat of ours');
  assert.deepEqual(S.timeline(chat).map((m) => (m.note ? `note:${m.id}` : m.id)), ['m1', 'note:n1', 'm2']);
});

test('opening a live chat asks once for its latest page, which brings its notes', () => {
  const state = S.createState();
  S.chatFor(state, 'c1', { name: 'Jo' });
  const { sent, send } = sender();
  S.select(state, 'c1', send);
  S.select(state, 'c1', send);
  assert.deepEqual(sent, [{ action: 'history', conversation: 'c1' }]);
});
