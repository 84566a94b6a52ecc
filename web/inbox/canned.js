// Canned responses in the composer (docs/protocol.md, `canned`): typing `/` and a
// few letters of a shortcut lists the matches; the one picked replaces the `/...`
// with its text, the visitor tokens filled in. Pure, so node tests read it.

const TOKEN = /\{\{visitor\.([a-z0-9_]+)(?::"([^"{}]*)")?\}\}/g;

/** The `/query` being typed at the end of `text`, or null. */
export function slashQuery(text) {
  const m = /(?:^|\s)\/([a-z0-9_-]*)$/.exec(text);
  return m ? m[1] : null;
}

/** The responses whose shortcut starts with `query` (own first, then the account's; one per shortcut), at most `max`. */
export function matches({ own = [], account = [] } = {}, query, max = 8) {
  const seen = new Set();
  const out = [];
  for (const c of [...own, ...account]) {
    if (seen.has(c.shortcut) || !c.shortcut.startsWith(query)) continue;
    seen.add(c.shortcut);
    out.push(c);
    if (out.length >= max) break;
  }
  return out;
}

/** A visitor attribute as the panel knows it: `first_name` from the name when not captured. */
function attribute(visitor, name) {
  const direct = visitor?.[name] ?? visitor?.answers?.find?.((a) => a.attribute === name)?.value;
  if (direct != null && String(direct).trim() !== '') return String(direct);
  if (name === 'first_name' && visitor?.name) return String(visitor.name).trim().split(/\s+/)[0];
  return null;
}

/** `text` with each visitor token filled in: the value, else its fallback, else nothing. */
export function expand(text, visitor) {
  return text.replace(TOKEN, (_, name, fallback) => attribute(visitor, name) ?? fallback ?? '');
}

/** The composer's text with its trailing `/query` replaced by `canned`'s expanded text. */
export function insert(text, canned, visitor) {
  return text.replace(/\/[a-z0-9_-]*$/, expand(canned.text, visitor));
}
