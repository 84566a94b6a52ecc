// The page triggers of the account's dialogs (site.json, docs/protocol.md): which
// dialogs this page is in the audience of, and when each one's time on page and
// scroll depth are reached. No DOM, no timers of its own: the clock and the scroll
// depth are given, so a test drives time on the page.

/** The URL as patterns see it: lower-cased host and path, no scheme, query or fragment. */
export function pageKey(href) {
  const url = String(href).split(/[?#]/)[0];
  const at = url.indexOf('://');
  return (at < 0 ? url : url.slice(at + 3)).toLowerCase();
}

/** `*`-glob match: `*` is any run of characters; linear, as the server's. */
export function globMatch(pattern, text) {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

const list = (v) => (Array.isArray(v) ? v.filter((p) => typeof p === 'string').slice(0, 20) : []);
const count = (v, max) => (Number.isFinite(v) ? Math.min(Math.max(v, 0), max) : 0);

/**
 * The dialogs of a site.json the widget can use, each checked and bounded (the
 * file is the account's, but a broken or foreign one must not break the page):
 * `[]` for anything but version 1.
 */
export function readSite(site) {
  if (!site || site.v !== 1 || !Array.isArray(site.dialogs)) return [];
  return site.dialogs.slice(0, 50)
    .filter((d) => d && typeof d.id === 'string' && d.id.length <= 128)
    .map((d) => ({
      id: d.id,
      priority: Number.isFinite(d.priority) ? d.priority : 0,
      include: list(d.include),
      exclude: list(d.exclude),
      minSeconds: count(d.min_seconds, 86400),
      minScroll: count(d.min_scroll, 100),
      teaser: d.teaser && typeof d.teaser === 'object' ? d.teaser : null,
    }));
}

/** Whether the page is in the dialog's audience: an exclude wins over every include. */
export function onPage(dialog, key) {
  const included = !dialog.include.length || dialog.include.some((p) => globMatch(p, key));
  return included && !dialog.exclude.some((p) => globMatch(p, key));
}

/**
 * Watches the triggers of `dialogs` (from `readSite`) on the page `href`, leaving
 * out the `completed` ids. `clock` is `{now(), setTimeout(fn, ms)}` (the window's
 * by default); `scroll()` gives the depth scrolled, 0 to 100. Call `scrolled()` on
 * every scroll. `onFire(dialog)` is called once per dialog, when its page, time and
 * scroll all hold; `fired()` lists the ids fired so far, in site.json's order.
 */
export function watchTriggers({ dialogs, href, completed = new Set(), clock = globalThis, scroll = () => 0, onFire }) {
  const key = pageKey(href);
  const since = clock.now();
  const waiting = dialogs.filter((d) => !completed.has(d.id) && onPage(d, key));
  const done = new Set();
  function check() {
    const seconds = (clock.now() - since) / 1000;
    const depth = scroll();
    for (const d of waiting) {
      if (done.has(d.id) || seconds < d.minSeconds || depth < d.minScroll) continue;
      done.add(d.id);
      onFire(d);
    }
  }
  for (const d of waiting) {
    if (d.minSeconds > 0) clock.setTimeout(check, d.minSeconds * 1000);
  }
  check();
  return {
    scrolled: check,
    fired: () => waiting.filter((d) => done.has(d.id)).map((d) => d.id),
    waiting: () => waiting.length > done.size,
  };
}

/** The teaser's text for the visitor's language tag: theirs, its language, else `*`. */
export function teaserText(teaser, tag) {
  if (!teaser) return null;
  const lower = String(tag || '').toLowerCase();
  const text = teaser[lower] ?? teaser[lower.split('-')[0]] ?? teaser['*'];
  return typeof text === 'string' && text ? text.slice(0, 500) : null;
}
