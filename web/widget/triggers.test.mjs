import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatch, onPage, pageKey, readSite, teaserText, watchTriggers } from './triggers.js';

// A clock a test moves by hand: `tick(ms)` runs the timers that come due.
function fakeClock() {
  let now = 1_000_000;
  let timers = [];
  return {
    now: () => now,
    setTimeout(fn, ms) {
      timers.push({ at: now + ms, fn });
    },
    tick(ms) {
      now += ms;
      const due = timers.filter((x) => x.at <= now);
      timers = timers.filter((x) => x.at > now);
      due.forEach((x) => x.fn());
    },
  };
}

const SITE = {
  v: 1,
  dialogs: [
    { id: 'sales', priority: 0, include: [], exclude: ['*/pricing.html'], min_seconds: 0, min_scroll: 0, has_conditions: false },
    { id: 'pricing', priority: 10, include: ['*/pricing.html'], exclude: [], min_seconds: 5, min_scroll: 0, has_conditions: false,
      teaser: { '*': 'Comparing plans?', de: 'Tarife vergleichen?' } },
    { id: 'deep', priority: 1, include: ['*/blog/*'], exclude: [], min_seconds: 0, min_scroll: 50, has_conditions: false },
  ],
};

test('patterns match the lower-cased host and path without scheme, query or fragment', () => {
  assert.equal(pageKey('https://ACME.com/Pricing.html?plan=pro#top'), 'acme.com/pricing.html');
  assert.ok(globMatch('acme.com/pricing*', 'acme.com/pricing/teams'));
  assert.ok(globMatch('*/pricing.html', 'localhost:8080/pricing.html'));
  assert.ok(!globMatch('acme.com/pricing*', 'www.acme.com/pricing'));
  assert.ok(!globMatch('*a'.repeat(40), `${'a'.repeat(500)}b`));
});

test('an exclude pattern wins over an empty include, which is every page', () => {
  const [sales, pricing] = readSite(SITE);
  assert.ok(onPage(sales, 'acme.com/'));
  assert.ok(!onPage(sales, 'acme.com/pricing.html'));
  assert.ok(onPage(pricing, 'acme.com/pricing.html'));
  assert.ok(!onPage(pricing, 'acme.com/'));
});

test('a dialog with no time or scroll fires at once on its pages only', () => {
  const fired = [];
  const t = watchTriggers({ dialogs: readSite(SITE), href: 'https://acme.com/', clock: fakeClock(), onFire: (d) => fired.push(d.id) });
  assert.deepEqual(fired, ['sales']);
  assert.deepEqual(t.fired(), ['sales']);
});

test('the time on page trigger fires when the fake clock reaches it and not before', () => {
  const clock = fakeClock();
  const fired = [];
  const t = watchTriggers({ dialogs: readSite(SITE), href: 'https://acme.com/pricing.html', clock, onFire: (d) => fired.push(d.id) });
  assert.deepEqual(fired, []);
  clock.tick(4_999);
  assert.deepEqual(t.fired(), []);
  clock.tick(1);
  assert.deepEqual(fired, ['pricing']);
  clock.tick(60_000);
  assert.deepEqual(fired, ['pricing'], 'once');
});

test('the scroll trigger fires once the page is scrolled deep enough', () => {
  let depth = 10;
  const fired = [];
  const t = watchTriggers({ dialogs: readSite(SITE), href: 'https://acme.com/blog/post', clock: fakeClock(), scroll: () => depth, onFire: (d) => fired.push(d.id) });
  assert.deepEqual(fired, ['sales']);
  depth = 49;
  t.scrolled();
  assert.deepEqual(fired, ['sales']);
  depth = 50;
  t.scrolled();
  assert.deepEqual(fired, ['sales', 'deep']);
});

test('a completed dialog is never watched', () => {
  const fired = [];
  const t = watchTriggers({ dialogs: readSite(SITE), href: 'https://acme.com/', completed: new Set(['sales']), clock: fakeClock(), onFire: (d) => fired.push(d.id) });
  assert.deepEqual(fired, []);
  assert.equal(t.waiting(), false);
});

test('a foreign, damaged or future site.json gives no dialogs and bounds what it reads', () => {
  assert.deepEqual(readSite(null), []);
  assert.deepEqual(readSite({ v: 2, dialogs: SITE.dialogs }), []);
  assert.deepEqual(readSite({ v: 1, dialogs: 'x' }), []);
  const odd = readSite({ v: 1, dialogs: [{ id: 7 }, { id: 'x', min_seconds: 1e9, min_scroll: -5, include: ['a', 3] }] });
  assert.deepEqual(odd.map((d) => [d.id, d.minSeconds, d.minScroll, d.include]), [['x', 86400, 0, ['a']]]);
});

test('the teaser speaks the visitor language, else its language, else the fallback', () => {
  const teaser = SITE.dialogs[1].teaser;
  assert.equal(teaserText(teaser, 'de'), 'Tarife vergleichen?');
  assert.equal(teaserText(teaser, 'de-AT'), 'Tarife vergleichen?');
  assert.equal(teaserText(teaser, 'fr'), 'Comparing plans?');
  assert.equal(teaserText(null, 'en'), null);
  assert.equal(teaserText({ '*': 7 }, 'en'), null);
});
