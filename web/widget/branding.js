// The widget's branding (docs/config.md, "Widget branding"): the account's, from
// site.json's `widget` member, with each field overridable by a `data-` attribute of
// the snippet. Both are treated as hostile: a colour is hex only, text is bounded
// and shown as text, the avatar is an https (or same-origin) image address. An
// override that fails a check, an accent under WCAG's 4.5:1 against its text
// included, is dropped with a console warning and the configured value kept.

export const MIN_CONTRAST = 4.5;
export const MAX_OFFSET = 200;
const MAX = { title: 60, subtitle: 120, launcherLabel: 40 };
const MAX_AVATAR = 1024;

/** The widget's own look, where neither site.json nor the snippet says otherwise. */
export const DEFAULT_BRANDING = Object.freeze({
  accent: '#3b5bdb', accentText: '#ffffff', position: 'right', x: 20, y: 20,
  title: null, subtitle: null, launcherLabel: null, avatar: null,
});

/** `[r, g, b]` of `#rgb` or `#rrggbb`, else null. */
export function parseHex(value) {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(typeof value === 'string' ? value : '');
  if (!m) return null;
  const h = m[1].length === 3 ? [...m[1]].map((c) => c + c).join('') : m[1];
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
}

function luminance([r, g, b]) {
  const c = (v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
}

/** WCAG 2.x contrast ratio of two hex colours (1 to 21), NaN when one is not hex. */
export function contrast(a, b) {
  const x = parseHex(a);
  const y = parseHex(b);
  if (!x || !y) return NaN;
  const [l1, l2] = [luminance(x), luminance(y)].sort((p, q) => q - p);
  return (l1 + 0.05) / (l2 + 0.05);
}

// Two decimals, cut: a refused ratio never reads 4.50.
const ratioText = (r) => (Math.floor(r * 100) / 100).toFixed(2);

/** Why `accent` with `text` on it is refused, or null when it reads well. */
export function colourProblem(accent, text) {
  if (!parseHex(accent)) return `accent ${JSON.stringify(String(accent).slice(0, 16))} is not a hex colour`;
  if (!parseHex(text)) return `accent text ${JSON.stringify(String(text).slice(0, 16))} is not a hex colour`;
  const r = contrast(accent, text);
  return r < MIN_CONTRAST ? `accent ${accent} on ${text} text has contrast ${ratioText(r)}:1, below WCAG's 4.5:1` : null;
}

/** An image address the widget may load: https, or the page's own origin. */
export function safeAvatar(value, base) {
  if (typeof value !== 'string' || !value || value.length > MAX_AVATAR) return null;
  try {
    const url = new URL(value, base);
    if (url.protocol === 'https:' || url.origin === new URL(base).origin) return url.href;
  } catch {
    /* not an address */
  }
  return null;
}

/** A site.json text (plain, or a map of language to text) in `lang`. */
export function pickText(value, lang) {
  if (typeof value === 'string') return value;
  if (!value || typeof value !== 'object') return null;
  const primary = String(lang).split('-')[0];
  const key = [lang, primary, 'en'].find((k) => typeof value[k] === 'string') ?? Object.keys(value).find((k) => typeof value[k] === 'string');
  return key == null ? null : value[key];
}

const text = (max) => (v) => (typeof v === 'string' && v.trim() && v.length <= max ? v : null);
const offset = (v) => {
  const n = typeof v === 'number' ? v : /^\d{1,3}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 && n <= MAX_OFFSET ? n : null;
};
const OFFSET = `an offset is 0 to ${MAX_OFFSET} pixels`;

/**
 * The branding to show: `site` (site.json's `widget` member, snake_case, or null)
 * over the defaults, then the snippet's `data` attributes (its `dataset`) over that.
 * `warn(reason)` hears of each refused override; a refused configured field
 * (a damaged site.json) is dropped silently, as the server validated it.
 */
export function resolveBranding(site, data = {}, { lang = 'en', base = 'https://invalid.example/', warn = () => {} } = {}) {
  const out = { ...DEFAULT_BRANDING };
  const s = site && typeof site === 'object' ? site : {};
  const refuse = (attr, why) => warn(`livechat: data-${attr} ignored: ${why}; the configured value is kept`);
  const onAccent = s.accent_text ?? '#ffffff';
  if (!colourProblem(s.accent, onAccent)) Object.assign(out, { accent: s.accent, accentText: onAccent });
  if (data.accent != null || data.accentText != null) {
    const accent = data.accent ?? out.accent;
    const accentText = data.accentText ?? out.accentText;
    const why = colourProblem(accent, accentText);
    if (why) refuse(data.accent != null ? 'accent' : 'accent-text', why);
    else Object.assign(out, { accent, accentText });
  }
  // [field, its site.json value, its data- attribute, the check, what a good one is]
  const fields = [
    ['position', s.position, 'position', (v) => (v === 'left' || v === 'right' ? v : null), 'it is left or right'],
    ['x', s.offset?.x, 'offset-x', offset, OFFSET],
    ['y', s.offset?.y, 'offset-y', offset, OFFSET],
    ['title', pickText(s.title, lang), 'title', text(MAX.title), `a text is 1 to ${MAX.title} characters`],
    ['subtitle', pickText(s.subtitle, lang), 'subtitle', text(MAX.subtitle), `a text is 1 to ${MAX.subtitle} characters`],
    ['launcherLabel', pickText(s.launcher_label, lang), 'launcher-label', text(MAX.launcherLabel), `a text is 1 to ${MAX.launcherLabel} characters`],
    ['avatar', s.avatar, 'avatar', (v) => safeAvatar(v, base), 'an avatar is an https or same-origin image address'],
  ];
  for (const [key, configured, attr, check, good] of fields) {
    const ok = check(configured);
    if (ok != null) out[key] = ok;
    const given = data[attr.replace(/-(.)/g, (_, c) => c.toUpperCase())];
    if (given == null) continue;
    const v = check(given);
    if (v == null) refuse(attr, good);
    else out[key] = v;
  }
  // Outlined buttons put the accent on white: it is their text colour only where it reads there.
  out.ink = contrast(out.accent, '#ffffff') >= MIN_CONTRAST ? out.accent : '#1f2430';
  return out;
}
