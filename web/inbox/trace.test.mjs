import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decisionView, verdictText } from './trace.js';

test('a decision reads as its outcome, its rules and each pool with every agent’s verdict', () => {
  const view = decisionView({
    at: '2026-03-02T09:30:00Z',
    rules: [{ rule: 'enterprise', matched: true, used: true }, { rule: 'emea', matched: false, used: false }],
    pools: [{
      pool: 'team:sales', via: 'card_pool',
      candidates: [
        { agent: 'ana', verdict: 'eligible' },
        { agent: 'ben', verdict: 'chosen' },
        { agent: 'cleo', verdict: 'at_limit', load: 3, limit: 3 },
      ],
      cursor_before: 'ana', cursor_after: 'ben',
    }],
    outcome: { outcome: 'offer', agent: 'ben' },
  });
  assert.equal(view.outcome, 'offered to ben');
  assert.deepEqual(view.rules, ['rule enterprise: matched, used', 'rule emea: did not match']);
  assert.equal(view.pools[0].title, 'team:sales: the live chat card’s pool, round robin ana → ben');
  assert.deepEqual(view.pools[0].rows, [
    ['ana', 'eligible, not next in the rotation'],
    ['ben', 'chosen'],
    ['cleo', 'at their limit (3 of 3 chats)'],
  ]);
});

test('a fallback reads as nobody eligible, and an unknown verdict is shown as sent', () => {
  const view = decisionView({ at: 'x', pools: [], outcome: { outcome: 'nobody' } });
  assert.equal(view.outcome, 'nobody eligible: the fallback');
  assert.equal(verdictText({ verdict: 'something_new' }), 'something_new');
  assert.equal(verdictText({ verdict: 'away' }), 'away (availability toggle)');
});

test('a queued decision reads as queued, and an agent kept for a request ahead says so', () => {
  const view = decisionView({
    at: '2026-03-02T10:00:00Z',
    pools: [{ pool: 'all', via: 'card_pool', candidates: [
      { agent: 'ana', verdict: 'at_limit', load: 1, limit: 1 },
      { agent: 'ben', verdict: 'kept_for_queue' },
    ] }],
    outcome: { outcome: 'queued', pool: 'all' },
  });
  assert.equal(view.outcome, 'everyone at their limit: queued');
  assert.deepEqual(view.pools[0].rows, [['ana', 'at their limit (1 of 1 chats)'], ['ben', 'kept for a request ahead in the queue']]);
});
