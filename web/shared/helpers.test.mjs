import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createStorage } from './storage.js';
import { backoffDelay, handshakeRefused, newerToken, socketUrl, LiveSocket } from './socket.js';
import { Thread, transcriptText, newMessageId, MAX_UNACKED } from './thread.js';

const msg = (seq, id = `m${seq}`, kind = 'visitor', text = `t${seq}`) => ({
  id, conversation: 'c1', seq, sender: { kind }, text, at: '2026-03-02T09:30:00Z',
});

test('storage prefixes keys in its backing store', () => {
  const map = new Map();
  const backing = { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v), removeItem: (k) => map.delete(k) };
  const s = createStorage({ prefix: 'livechat:', backing });
  s.set('visitor_token', 'abc');
  assert.equal(map.get('livechat:visitor_token'), 'abc');
  assert.equal(s.get('visitor_token'), 'abc');
  s.remove('visitor_token');
  assert.equal(s.get('visitor_token'), null);
});

test('storage falls back to memory when the backing store throws', () => {
  const broken = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); }, removeItem() { throw new Error('denied'); } };
  const s = createStorage({ backing: broken });
  s.set('open', '1');
  assert.equal(s.get('open'), '1');
});

test('storage works without any browser storage (node)', () => {
  const s = createStorage({ kind: 'sessionStorage' });
  assert.equal(s.get('agent_token'), null);
  s.set('agent_token', 'x');
  assert.equal(s.get('agent_token'), 'x');
});

test('backoff doubles up to the cap and keeps jitter within half to full', () => {
  assert.equal(backoffDelay(0, { random: () => 1 }), 1000);
  assert.equal(backoffDelay(0, { random: () => 0 }), 500);
  assert.equal(backoffDelay(3, { random: () => 1 }), 8000);
  assert.equal(backoffDelay(20, { random: () => 1 }), 30000);
});

test('socket url defaults to /ws on the page host with the matching scheme', () => {
  assert.equal(socketUrl('', new URL('http://localhost:3000/pricing')), 'ws://localhost:3000/ws');
  assert.equal(socketUrl('', new URL('https://acme.com/')), 'wss://acme.com/ws');
});

test('socket url adds only non-empty params and keeps a configured url', () => {
  const loc = new URL('http://localhost:3000/');
  assert.equal(socketUrl('', loc, { visitor_token: 'a.b', x: null }), 'ws://localhost:3000/ws?visitor_token=a.b');
  assert.equal(socketUrl('wss://abc.execute-api.eu-west-1.amazonaws.com/prod', loc, { visitor_token: null }),
    'wss://abc.execute-api.eu-west-1.amazonaws.com/prod');
});

class FakeSocket {
  static all = [];
  constructor(url) { this.url = url; this.sent = []; this.readyState = 0; FakeSocket.all.push(this); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.(); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code }); }
  receive(obj) { this.onmessage?.({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) }); }
}

test('socket reconnects with a fresh url, pings every 5 minutes and ignores bad frames', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  FakeSocket.all = [];
  let token = null;
  const frames = [];
  const closes = [];
  const s = new LiveSocket({
    url: () => `ws://h/ws${token ? `?visitor_token=${token}` : ''}`,
    WebSocketImpl: FakeSocket,
    onOpen: () => s.send({ action: 'start' }),
    onFrame: (f) => frames.push(f),
    onClose: (info) => closes.push(info),
  });
  s.start();
  const first = FakeSocket.all[0];
  first.open();
  assert.deepEqual(first.sent, [{ action: 'start' }]);
  first.receive('not json');
  first.receive({ type: 'session', visitor_token: 'tok' });
  assert.deepEqual(frames, [{ type: 'session', visitor_token: 'tok' }]);
  mock.timers.tick(5 * 60 * 1000);
  assert.deepEqual(first.sent.at(-1), { action: 'ping' });

  token = 'tok';
  first.drop();
  assert.deepEqual(closes, [{ opened: true, code: 1006, failures: 0 }]);
  assert.equal(s.send({ action: 'ping' }), false);
  mock.timers.tick(1000);
  assert.equal(FakeSocket.all.length, 2);
  assert.equal(FakeSocket.all[1].url, 'ws://h/ws?visitor_token=tok');

  FakeSocket.all[1].drop();
  assert.equal(closes.at(-1).failures, 1);
  s.stop();
  mock.timers.tick(60000);
  assert.equal(FakeSocket.all.length, 2);
  mock.timers.reset();
});

test('a thread sends at most MAX_UNACKED counted from the oldest unacked, and all of them again after a reconnect', () => {
  const t = new Thread();
  const ids = (list) => list.map((m) => m.id);
  for (let i = 0; i < 10; i++) t.addPending(`p${i}`, 'x');
  assert.equal(MAX_UNACKED, 8);
  assert.deepEqual(ids(t.outbox()), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
  assert.deepEqual(ids(t.outbox()), [], 'nothing is sent twice on one connection');
  // Later messages acked (and echoed back) do not let more out while p0 waits: the
  // server would no longer recognise p0's resend.
  for (const id of ['p1', 'p2', 'p3']) { t.ack(id); t.add(msg(Number(id.slice(1)) + 1, id)); }
  assert.deepEqual(ids(t.outbox()), []);
  t.ack('p0');
  assert.deepEqual(ids(t.outbox()), ['p8', 'p9']);
  t.resendAll();
  assert.deepEqual(ids(t.outbox()), ['p4', 'p5', 'p6', 'p7', 'p8', 'p9']);
});

test('a thread orders by seq, drops duplicate ids and confirms pending messages', () => {
  const t = new Thread();
  t.merge([msg(2), msg(1)]);
  assert.equal(t.add(msg(1)), false);
  const p = t.addPending('mine', 'hello');
  assert.deepEqual(t.unacked().map((m) => m.id), ['mine']);
  t.ack('mine');
  assert.deepEqual(t.unacked(), []);
  assert.deepEqual(t.list().map((m) => m.id), ['m1', 'm2', 'mine']);
  assert.equal(p.acked, true);
  t.add(msg(3, 'mine'));
  assert.equal(t.pending.size, 0);
  assert.deepEqual(t.list().map((m) => m.seq), [1, 2, 3]);
});

test('message ids fit the protocol id rules', () => {
  for (let i = 0; i < 20; i += 1) assert.match(newMessageId(), /^[A-Za-z0-9\-_.:@+=]{1,128}$/);
});

test('a transcript lists messages by seq with times, names and indented lines', () => {
  const text = transcriptText({
    conversation: 'c1',
    visitor: { name: 'Ana Lima', email: null, page_url: 'https://acme.com/pricing' },
    messages: [msg(2, 'b', 'agent', 'Yes.\nWhich province?'), msg(1, 'a', 'visitor', 'Ship to Canada?')],
    label: (s) => ({ visitor: 'Visitor', agent: 'Ana' }[s.kind]),
  });
  assert.equal(text, [
    'Conversation: c1',
    'Visitor: Ana Lima <->',
    'Page: https://acme.com/pricing',
    '',
    '[2026-03-02 09:30:00 UTC] Visitor: Ship to Canada?',
    '[2026-03-02 09:30:00 UTC] Ana: Yes.',
    '    Which province?',
    '',
  ].join('\n'));
});

test('socket pings through a long idle chat and reconnects on its own before the 2-hour limit', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  FakeSocket.all = [];
  const states = [];
  const s = new LiveSocket({ url: () => 'ws://h/ws?visitor_token=tok', WebSocketImpl: FakeSocket, onState: (x) => states.push(x) });
  s.start();
  const first = FakeSocket.all[0];
  first.open();
  // 10 minutes idle would close the connection; a ping every 5 minutes keeps it open.
  mock.timers.tick(114 * 60 * 1000);
  assert.equal(first.sent.filter((f) => f.action === 'ping').length, 22);
  assert.equal(FakeSocket.all.length, 1, 'no reconnect yet');
  mock.timers.tick(60 * 1000);
  assert.equal(FakeSocket.all.length, 2, 'renewed at 115 minutes');
  assert.equal(first.readyState, 3, 'the old connection is closed');
  const oldPings = first.sent.length;
  assert.equal(FakeSocket.all[1].url, 'ws://h/ws?visitor_token=tok', 'with the token, so the chat resumes');
  assert.ok(!states.includes('waiting'), 'a planned renewal never shows "connection lost"');
  FakeSocket.all[1].open();
  mock.timers.tick(10 * 60 * 1000);
  assert.equal(first.sent.length, oldPings, 'the old socket pings no more');
  assert.equal(FakeSocket.all[1].sent.filter((f) => f.action === 'ping').length, 2);
  s.stop();
  mock.timers.reset();
});

test('a failed handshake counts as refused only when the server answers 401 or 403 over HTTP', async () => {
  const asked = [];
  const answering = (status) => async (url) => {
    asked.push(url);
    return { status };
  };
  assert.equal(await handshakeRefused('wss://h/ws?visitor_token=old', 1, answering(401)), true);
  assert.equal(asked[0], 'https://h/ws?visitor_token=old', 'the same URL over plain HTTP');
  assert.equal(await handshakeRefused('ws://h/ws?agent_token=t', 1, answering(403)), true);
  assert.equal(await handshakeRefused('ws://h/ws?visitor_token=t', 1, answering(426)), false, 'one failure: maybe the network');
  assert.equal(await handshakeRefused('ws://h/ws?visitor_token=t', 3, answering(426)), true, 'failing while HTTP answers');
  assert.equal(await handshakeRefused('ws://h/ws?visitor_token=t', 5, answering(503)), false, 'our outage is no refusal');
  const offline = async () => {
    throw new TypeError('network');
  };
  assert.equal(await handshakeRefused('ws://h/ws?visitor_token=t', 9, offline), false, 'unreachable: keep the token');
});

test('a tab keeps the newest visitor token another tab stored meanwhile', () => {
  const jwt = (claims) => `h.${btoa(JSON.stringify(claims)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')}.sig`;
  const v3 = jwt({ sub: 'v1', ver: 3 });
  const v4 = jwt({ sub: 'v1', ver: 4 });
  assert.equal(newerToken(null, v3), v3);
  assert.equal(newerToken(v3, v4), v4);
  assert.equal(newerToken(v4, v3), v4, 'a late session frame does not bring back an older token');
  const other = jwt({ sub: 'v2', ver: 1 });
  assert.equal(newerToken(v4, other), other, 'another visitor (a new chat): the new token');
  assert.equal(newerToken('garbage', v3), v3);
});
