import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SITE_BYTES, readSite } from './site.js';

const WIDGET = 'https://cdn.acme.example/widget/livechat.js';
const answer = (status, body) => async (url) => {
  assert.equal(url, 'https://cdn.acme.example/widget/site.json', 'beside the widget');
  return { ok: status === 200, text: async () => body };
};

test('site.json is read from beside the widget and only in the version the widget knows', async () => {
  const site = { v: 1, widget: { accent: '#0b7285' }, dialogs: [] };
  assert.deepEqual(await readSite(WIDGET, answer(200, JSON.stringify(site))), site);
  assert.equal(await readSite(WIDGET, answer(200, JSON.stringify({ ...site, v: 2 }))), null);
});

test('a missing, oversized or unreadable site.json is null, and the widget keeps its own look', async () => {
  assert.equal(await readSite(WIDGET, answer(404, 'not found')), null);
  assert.equal(await readSite(WIDGET, answer(200, `{"v":1,"x":"${'a'.repeat(MAX_SITE_BYTES)}"}`)), null);
  assert.equal(await readSite(WIDGET, answer(200, '<html>')), null);
  assert.equal(await readSite(WIDGET, answer(200, 'null')), null);
  assert.equal(await readSite(WIDGET, async () => { throw new TypeError('offline'); }), null);
});
