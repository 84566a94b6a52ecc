// Pure helpers for turning chat text into text and link parts. Text from people is
// never parsed as HTML: callers build <a> elements from the parts (see `linkify`).

const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b/gi;
const TRAILING = /[.,;:!?'"]+$/;

/** Returns the href to use for a link the user wrote, or null when it is not safe. */
export function safeHref(raw) {
  if (typeof raw !== 'string' || raw.length === 0) return null;
  let candidate = raw.trim();
  if (/^www\./i.test(candidate)) candidate = `https://${candidate}`;
  else if (!/^[a-z][a-z0-9+.-]*:/i.test(candidate) && /^[^\s/@]+@[^\s/@]+\.[a-z]{2,}$/i.test(candidate)) {
    candidate = `mailto:${candidate}`;
  }
  let url;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  return ['http:', 'https:', 'mailto:'].includes(url.protocol) ? url.href : null;
}

// Drops trailing punctuation and closing brackets that are not balanced inside the
// match, so "see (https://a.com/x)." links to https://a.com/x.
function trimMatch(match) {
  let end = match.length;
  for (;;) {
    const s = match.slice(0, end);
    const t = s.replace(TRAILING, '');
    if (t.length !== s.length) { end = t.length; continue; }
    const last = s[s.length - 1];
    const pair = { ')': '(', ']': '[', '}': '{' }[last];
    if (pair && count(s, last) > count(s, pair)) { end -= 1; continue; }
    return s;
  }
}

function count(s, ch) {
  return s.split(ch).length - 1;
}

/**
 * Splits `text` into parts, in order: `{type: "text", text}` and
 * `{type: "link", text, href}`. Joining every part's `text` gives `text` back.
 */
export function splitLinks(text) {
  const input = text == null ? '' : String(text);
  const parts = [];
  let last = 0;
  URL_RE.lastIndex = 0;
  for (let m = URL_RE.exec(input); m; m = URL_RE.exec(input)) {
    const shown = trimMatch(m[0]);
    const href = shown && safeHref(shown);
    if (!href || shown.length === 0) continue;
    if (m.index > last) parts.push({ type: 'text', text: input.slice(last, m.index) });
    parts.push({ type: 'link', text: shown, href });
    last = m.index + shown.length;
    URL_RE.lastIndex = last;
  }
  if (last < input.length) parts.push({ type: 'text', text: input.slice(last) });
  return parts;
}

/** Builds a fragment of text nodes and <a> elements for `text` (no innerHTML). */
export function linkify(text, doc = document) {
  const frag = doc.createDocumentFragment();
  for (const part of splitLinks(text)) {
    if (part.type === 'link') {
      const a = doc.createElement('a');
      a.href = part.href;
      a.textContent = part.text;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      frag.append(a);
    } else {
      frag.append(doc.createTextNode(part.text));
    }
  }
  return frag;
}
