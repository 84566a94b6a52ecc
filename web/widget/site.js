// The one fetch of site.json (docs/protocol.md, "site.json"), the static file beside
// the widget that carries the account's branding and its dialogs' audiences: every
// part of the widget that needs it awaits the same promise, so a page view makes
// one request. A missing, oversized, unreadable or unknown-version file is `null`:
// the widget then keeps its own look.

export const SITE_VERSION = 1;
export const MAX_SITE_BYTES = 64 * 1024;

let loading = null;

/** site.json read with `fetcher` from beside `widgetUrl`, as an object, or null. */
export async function readSite(widgetUrl, fetcher = fetch) {
  try {
    const res = await fetcher(new URL('site.json', widgetUrl).href, { credentials: 'omit' });
    if (!res.ok) return null;
    const text = await res.text();
    if (text.length > MAX_SITE_BYTES) return null;
    const site = JSON.parse(text);
    return site && typeof site === 'object' && site.v === SITE_VERSION ? site : null;
  } catch {
    return null;
  }
}

/** The page's site.json, fetched once. */
export function loadSite(widgetUrl) {
  loading ??= readSite(widgetUrl);
  return loading;
}
