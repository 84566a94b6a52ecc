import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { connectInbox, MISSED_EVERY_MS } from './socket.js';
import * as S from './state.js';

class FakeSocket {
  static all = [];
  constructor(url) { this.url = url; this.sent = []; this.readyState = 0; FakeSocket.all.push(this); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.(); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code }); }
}

const loc = new URL('http://127.0.0.1:8080/inbox/');

const deliver = (ws, frame) => ws.onmessage?.({ data: JSON.stringify(frame) });

test('on each open the inbox asks for its state, the newest past chats and missed requests, and resends unacked replies', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  FakeSocket.all = [];
  const state = S.createState();
  S.chatStarted(state, { conversation: 'c1', messages: [] });
  state.selected = 'c1';
  const conn = connectInbox({ state, token: () => 'tok.en', loc, WebSocketImpl: FakeSocket, onFrame() {}, onState() {} });
  const first = FakeSocket.all[0];
  assert.equal(first.url, 'ws://127.0.0.1:8080/ws?agent_token=tok.en');
  first.open();
  assert.deepEqual(first.sent, [{ action: 'sync' }], 'the lists wait for sync to say the agent may chat');
  deliver(first, { type: 'availability', available: true });
  deliver(first, { type: 'availability', available: false });
  assert.deepEqual(first.sent, [{ action: 'sync' }, { action: 'past_chats' }, { action: 'missed' }, { action: 'live' }], 'once per open');
  mock.timers.tick(MISSED_EVERY_MS * 3);
  assert.deepEqual(first.sent.slice(4), [{ action: 'missed' }, { action: 'missed' }, { action: 'missed' }], 'missed every minute');

  S.reply(state, 'not acked yet', 'r1', conn.send);
  first.drop();
  mock.timers.tick(MISSED_EVERY_MS * 5);
  assert.equal(first.sent.length, 8, 'nothing more on the closed socket');
  const second = FakeSocket.all[1];
  second.open();
  deliver(second, { type: 'availability', available: true });
  assert.deepEqual(second.sent, [{ action: 'sync' },
    { action: 'send_message', conversation: 'c1', id: 'r1', text: 'not acked yet' }, { action: 'past_chats' }, { action: 'missed' }, { action: 'live' }]);
  conn.stop();
  mock.timers.tick(MISSED_EVERY_MS * 5);
  assert.equal(second.sent.length, 5, 'stopped: no refresh, no reconnect');
  assert.equal(FakeSocket.all.length, 2);
  mock.timers.reset();
});

test('a Marketing Admin\'s inbox (sync answers reports_only) is never sent a chat action or a list', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  FakeSocket.all = [];
  const frames = [];
  const conn = connectInbox({ state: S.createState(), token: () => 'tok.en', loc, WebSocketImpl: FakeSocket, onFrame: (f) => frames.push(f), onState() {} });
  const ws = FakeSocket.all[0];
  ws.open();
  deliver(ws, { type: 'reports_only', scope: 'funnel' });
  mock.timers.tick(MISSED_EVERY_MS * 3);
  assert.deepEqual(ws.sent.filter((f) => f.action !== 'ping'), [{ action: 'sync' }]);
  assert.deepEqual(frames, [{ type: 'reports_only', scope: 'funnel' }], 'the frame still reaches the inbox');
  conn.stop();
  mock.timers.reset();
});

test('a refused handshake is told once; a network failure is not', async () => {
  FakeSocket.all = [];
  const refusals = [];
  const asked = [];
  let status = 0;
  const fetchImpl = async (url) => { asked.push(url); if (!status) throw new TypeError('network'); return { status }; };
  const conn = connectInbox({
    state: S.createState(), token: () => 'bad', loc, WebSocketImpl: FakeSocket, fetchImpl, onRefused: () => refusals.push(1),
  });
  FakeSocket.all[0].drop();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(refusals, [], 'unreachable: keep trying');
  conn.stop();
  FakeSocket.all = [];
  status = 401;
  const again = connectInbox({
    state: S.createState(), token: () => 'bad', loc, WebSocketImpl: FakeSocket, fetchImpl, onRefused: () => refusals.push(1),
  });
  FakeSocket.all[0].drop();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(refusals, [1]);
  assert.deepEqual(asked, ['http://127.0.0.1:8080/ws?agent_token=bad', 'http://127.0.0.1:8080/ws?agent_token=bad']);
  again.stop();
});
