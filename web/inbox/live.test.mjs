import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatWait, liveModel } from './live.js';

// A `live` frame as the server sends it (docs/protocol.md, "live").
const FRAME = {
  type: 'live', scope: 'all', now: '2026-03-02T10:00:00Z', waiting_count: 2, oldest_since: '2026-03-02T09:58:40Z',
  waiting: [
    { conversation: 'c-1', since: '2026-03-02T09:58:40Z', offer: { agent: 'ana', name: 'Ana', since: '2026-03-02T09:59:30Z', expires_at: '2026-03-02T10:01:10Z' } },
    { conversation: 'c-2', since: '2026-03-02T09:59:50Z', offer: null },
  ],
  agents: [
    { agent: 'ana', name: 'Ana', status: 'available', chats: 2, offers: 1, limit: 3, routable: false },
    { agent: 'ben', name: '<b>Ben</b>', status: 'away', chats: 0, offers: 0, limit: 5, routable: false },
  ],
};

test('durations read as people say them, and never go negative', () => {
  assert.equal(formatWait(0), '0s');
  assert.equal(formatWait(45_900), '45s');
  assert.equal(formatWait(80_000), '1m 20s');
  assert.equal(formatWait(3_600_000 + 5 * 60_000), '1h 05m');
  assert.equal(formatWait(-5_000), '0s', 'a client ahead of the server shows 0s');
});

test('waits are counted from the frame\'s now and tick on with the time since it arrived', () => {
  const arrived = Date.parse('2030-01-01T00:00:00Z'); // the client's clock is years off
  const m = liveModel(FRAME, arrived, arrived);
  assert.equal(m.summary, '2 waiting, the longest for 1m 20s');
  assert.deepEqual(m.waiting.map((w) => [w.conversation, w.wait, w.offer]), [
    ['c-1', 'waiting 1m 20s', 'offered to Ana'],
    ['c-2', 'waiting 10s', 'not offered yet'],
  ]);
  assert.deepEqual(m.offers, [{ conversation: 'c-1', agent: 'Ana', out: 'out for 30s', left: '1m 10s left' }]);
  const later = liveModel(FRAME, arrived, arrived + 5_000);
  assert.equal(later.waiting[0].wait, 'waiting 1m 25s', 'five seconds later');
  assert.equal(later.offers[0].left, '1m 05s left');
});

test('each agent shows their status and live chats against their limit, offers out beside', () => {
  const m = liveModel(FRAME, 0, 0);
  assert.deepEqual(m.agents.map((a) => [a.name, a.status, a.load, a.offers, a.full]), [
    ['Ana', 'Available', '2 / 3 chats', '1 offer out', true],
    ['<b>Ben</b>', 'Away', '0 / 5 chats', '', false],
  ]);
});

test('a Live Agent\'s cut shows the count and their own row; an empty view says nobody waits', () => {
  const own = liveModel({ ...FRAME, scope: 'own', waiting: [], agents: [FRAME.agents[1]] }, 0, 0);
  assert.equal(own.summary, '2 waiting, the longest for 1m 20s');
  assert.deepEqual(own.waiting, []);
  assert.equal(own.unlisted, 2, 'counted, not listed');
  assert.deepEqual(own.agents.map((a) => a.agent), ['ben']);
  const empty = liveModel({ ...FRAME, waiting_count: 0, oldest_since: null, waiting: [] }, 0, 0);
  assert.equal(empty.summary, 'Nobody is waiting.');
});
