import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentSession, forgetOldPastChats, OLD_PAST_PREFIX, tokenInHash } from './storage.js';

/** A Web Storage over a map, with `length` and `key(i)` as browsers have. */
function webStorage(entries = {}) {
  const map = new Map(Object.entries(entries));
  return {
    map,
    get length() { return map.size; },
    key: (i) => [...map.keys()][i] ?? null,
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  };
}

test('the agent token lives in the session store only', () => {
  const session = webStorage();
  const s = agentSession(session);
  s.set('t1');
  assert.deepEqual([...session.map], [['livechat:agent_token', 't1']]);
  assert.equal(s.token(), 't1');
  s.forget();
  assert.equal(session.map.size, 0);
});

test('a token comes from #token= (local links) or #id_token= (Cognito)', () => {
  assert.equal(tokenInHash('#token=a.b.c'), 'a.b.c');
  assert.equal(tokenInHash('#id_token=x.y.z&token_type=Bearer'), 'x.y.z');
  assert.equal(tokenInHash(''), null);
  assert.equal(tokenInHash('#state=1'), null);
});

test('the past chats earlier versions kept in localStorage are removed, and nothing else', () => {
  const local = webStorage({
    [`${OLD_PAST_PREFIX}ana`]: '[{"visitor":{"name":"Maria"}}]', [`${OLD_PAST_PREFIX}agent`]: '[]',
    'livechat:visitor_token': 'widget-token', other: 'x',
  });
  assert.equal(forgetOldPastChats(local), 2);
  assert.deepEqual([...local.map.keys()], ['livechat:visitor_token', 'other']);
  assert.equal(forgetOldPastChats({ get length() { throw new Error('denied'); } }), 0, 'a refused storage');
});
