import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountLive } from './live-view.js';

// A tiny stand-in for the DOM: elements with children and text (no parser: text can
// never become markup).
class Node {
  constructor(tag) {
    Object.assign(this, { tag, children: [], dataset: {}, hidden: false, className: '' });
  }
  append(...nodes) { this.children.push(...nodes); }
  replaceChildren(...nodes) { this.children = [...nodes]; }
  set textContent(t) { this.children = [Object.assign(new Node('#text'), { data: String(t) })]; }
  get textContent() { return this.children.map((c) => (c.tag === '#text' ? c.data : c.textContent)).join(''); }
  all(pred, out = []) {
    for (const c of this.children) {
      if (c.tag === '#text') continue;
      if (pred(c)) out.push(c);
      c.all(pred, out);
    }
    return out;
  }
}

function page() {
  const ids = {};
  for (const id of ['ib-live-summary', 'ib-live-queue', 'ib-live-waiting', 'ib-live-waiting-empty', 'ib-live-offers', 'ib-live-offers-empty', 'ib-live-agents']) ids[id] = new Node(id);
  const doc = { createElement: (tag) => new Node(tag), getElementById: (id) => ids[id] };
  globalThis.document = doc; // shared/dom.js's el() builds with the global document
  return { doc, ids };
}

const XSS = '<img src=x onerror=alert(1)>';
const FRAME = {
  type: 'live', scope: 'all', now: '2026-03-02T10:00:00Z', waiting_count: 1, oldest_since: '2026-03-02T09:58:40Z',
  waiting: [{ conversation: 'c-1', since: '2026-03-02T09:58:40Z', offer: { agent: 'ana', name: XSS, since: '2026-03-02T09:59:30Z', expires_at: '2026-03-02T10:01:10Z' } }],
  agents: [{ agent: 'ana', name: XSS, status: 'available', chats: 2, offers: 1, limit: 3, routable: false }],
};
const cells = (table) => table.all((n) => n.tag === 'tr').slice(1).map((tr) => tr.children.map((c) => c.textContent));

test('the waiting visitor, the offer and the agent\'s load are drawn as text, and the wait ticks', () => {
  const { doc, ids } = page();
  let now = 1_000;
  const view = mountLive(doc, () => now);
  view.show(FRAME);
  assert.equal(ids['ib-live-summary'].textContent, '1 waiting, the longest for 1m 20s');
  assert.deepEqual(cells(ids['ib-live-waiting']), [['c-1', 'waiting 1m 20s', `offered to ${XSS}`]]);
  assert.deepEqual(cells(ids['ib-live-offers']), [['c-1', XSS, 'out for 30s', '1m 10s left']]);
  assert.deepEqual(cells(ids['ib-live-agents']), [[XSS, 'Available', '2 / 3 chats', '1 offer out']]);
  assert.equal(ids['ib-live-agents'].all((n) => n.dataset.full === 'true').length, 1, 'at the limit');
  assert.deepEqual(Object.values(ids).flatMap((n) => n.all((c) => c.tag === 'img')), [], 'never parsed');
  now += 2_000;
  view.tick();
  assert.deepEqual(cells(ids['ib-live-waiting'])[0][1], 'waiting 1m 22s');
});

test('a Live Agent\'s tab hides the queue and shows their row; signed out, it is emptied', () => {
  const { doc, ids } = page();
  const view = mountLive(doc, () => 0);
  view.show({ ...FRAME, scope: 'own', waiting: [], agents: [{ ...FRAME.agents[0], name: 'Ben', agent: 'ben' }] });
  assert.equal(ids['ib-live-queue'].hidden, true);
  assert.equal(ids['ib-live-summary'].textContent, '1 waiting, the longest for 1m 20s');
  assert.deepEqual(cells(ids['ib-live-agents']).map((r) => r[0]), ['Ben']);
  view.reset();
  assert.deepEqual(ids['ib-live-agents'].children, []);
});
