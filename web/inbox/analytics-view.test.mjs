import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountAnalytics } from './analytics-view.js';

// A tiny stand-in for the DOM, enough for the Analytics page: elements with
// attributes, children and text (no parser: text can never become markup).
class Node {
  constructor(tag, ns = null) {
    Object.assign(this, { tag, ns, attrs: {}, children: [], listeners: {}, dataset: {}, style: {}, hidden: false, disabled: false, value: '' });
  }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  getAttribute(k) { return this.attrs[k] ?? null; }
  append(...nodes) { for (const n of nodes) this.children.push(typeof n === 'string' ? text(n) : n); }
  replaceChildren(...nodes) { this.children = []; this.append(...nodes); }
  remove() {}
  click() {}
  addEventListener(type, fn) { this.listeners[type] = fn; }
  set textContent(t) { this.children = [text(t)]; }
  get textContent() { return this.children.map((c) => (c.tag === '#text' ? c.data : c.textContent)).join(''); }
  get options() { return this.children.filter((c) => c.tag === 'option'); }
  all(pred, out = []) {
    for (const c of this.children) {
      if (c.tag !== '#text') {
        if (pred(c)) out.push(c);
        c.all(pred, out);
      }
    }
    return out;
  }
}
const text = (data) => Object.assign(new Node('#text'), { data: String(data) });

function page() {
  const ids = {};
  const doc = {
    createElement: (tag) => new Node(tag),
    createElementNS: (ns, tag) => new Node(tag, ns),
    createTextNode: text,
    getElementById: (id) => ids[id],
    body: new Node('body'),
  };
  for (const id of ['ib-an-from', 'ib-an-to', 'ib-an-by', 'ib-an-chart', 'ib-an-table', 'ib-an-status', 'ib-an-empty', 'ib-an-download', 'ib-an-form']) ids[id] = new Node(id);
  for (const by of ['day', 'dialog', 'team', 'agent']) ids['ib-an-by'].append(Object.assign(new Node('option'), { value: by }));
  ids['ib-an-by'].value = 'day';
  globalThis.document = doc; // shared/dom.js's el() builds with the global document
  return { doc, ids };
}

const XSS = '<img src=x onerror=alert(1)>';
const REPORT = {
  type: 'report', from: '2026-11-01', to: '2026-11-02', by: 'agent', time_zone: 'UTC', scope: 'all', part: 0, parts: 1,
  rows: [
    { value: null, chats_requested: 4, chats_connected: 0, chats_missed: 1, avg_time_to_accept_s: null, dialogs_triggered: 2 },
    { value: XSS, chats_requested: 0, chats_connected: 3, chats_missed: 0, avg_time_to_accept_s: 1.5, dialogs_triggered: 0 },
  ],
  csv: '',
};

test('the drawn bars carry the numbers of the table cells beside them, and every value goes in as text', () => {
  const { doc, ids } = page();
  const asked = [];
  const view = mountAnalytics({ ask: (r) => { asked.push(r); return true; } }, doc);
  view.show(REPORT);
  const bars = ids['ib-an-chart'].all((n) => n.tag === 'rect');
  assert.equal(bars.length, 2 * 3, 'three bars a row');
  const rows = ids['ib-an-table'].all((n) => n.tag === 'tr').slice(1);
  for (const bar of bars) {
    const row = rows.find((r) => r.children[0].textContent === bar.getAttribute('data-row'));
    const cell = row.children.find((c) => c.dataset.key === bar.getAttribute('data-key'));
    assert.equal(bar.getAttribute('data-value'), cell.textContent, `${bar.getAttribute('data-row')} ${bar.getAttribute('data-key')}`);
    const title = bar.children.find((c) => c.tag === 'title');
    assert.ok(title.textContent.endsWith(` ${cell.textContent}`), title.textContent);
  }
  assert.equal(rows[1].children[0].textContent, XSS, 'the id is shown as typed');
  assert.deepEqual(ids['ib-an-chart'].all((n) => n.tag === 'img').concat(ids['ib-an-table'].all((n) => n.tag === 'img')), [], 'never parsed');
  assert.equal(ids['ib-an-download'].disabled, false);
  assert.match(ids['ib-an-status'].textContent, /All agents/);
});

test('a Live Agent\'s page offers by day or agent only, and asks with the range and by chosen', () => {
  const { doc, ids } = page();
  const asked = [];
  const view = mountAnalytics({ ask: (r) => { asked.push(r); return true; } }, doc);
  assert.match(ids['ib-an-from'].value, /^\d{4}-\d\d-\d\d$/, 'the default range is filled in');
  view.show({ ...REPORT, scope: 'own', rows: [] });
  assert.deepEqual(ids['ib-an-by'].options.filter((o) => !o.disabled).map((o) => o.value), ['day', 'agent']);
  assert.equal(ids['ib-an-empty'].hidden, false, 'no rows: the empty note');
  ids['ib-an-by'].value = 'agent';
  ids['ib-an-form'].listeners.submit({ preventDefault() {} });
  assert.deepEqual(asked, [{ from: ids['ib-an-from'].value, to: ids['ib-an-to'].value, by: 'agent' }]);
  view.reset();
  assert.equal(ids['ib-an-download'].disabled, true, 'signed out: nothing to download');
  assert.deepEqual(ids['ib-an-chart'].children, []);
});
