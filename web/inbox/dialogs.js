// The Dialogs page's model (docs/protocol.md, `dialogs`): each applied dialog with
// its audience, priority and validation result in words. Pure, so node tests read
// what the page shows; dialogs-view.js draws it. Read-only: the configuration file
// stays the source of truth, applied with `livechat apply`.

/** Asks for the list, or for one dialog with its diagram. */
export function dialogsFrame(dialog) {
  return dialog ? { action: 'dialogs', dialog } : { action: 'dialogs' };
}

const OPERATORS = {
  equals: 'is',
  not_equals: 'is not',
  contains: 'contains',
  starts_with: 'starts with',
  ends_with: 'ends with',
  in_list: 'is one of',
  is_empty: 'is empty',
  greater: 'is more than',
  less: 'is less than',
};

/** A condition on a visitor attribute in words: `company_size is more than 100`. */
export function conditionText(c) {
  const op = OPERATORS[c.operator] || String(c.operator);
  if (c.value == null) return `${c.attribute} ${op}`;
  const value = Array.isArray(c.value) ? c.value.join(', ') : String(c.value);
  return `${c.attribute} ${op} ${value}`;
}

/** The audience's lines: pages, triggers and conditions; every page when it has none. */
export function audienceLines(a = {}) {
  const lines = [];
  const include = a.include || [];
  lines.push(include.length ? `Pages: ${include.join(', ')}` : 'Pages: every page');
  if ((a.exclude || []).length) lines.push(`Not on: ${a.exclude.join(', ')}`);
  if (a.min_seconds_on_page) lines.push(`After ${a.min_seconds_on_page} s on the page`);
  if (a.min_scroll_percent) lines.push(`After scrolling ${a.min_scroll_percent}% of the page`);
  for (const c of a.conditions || []) lines.push(`When ${conditionText(c)}`);
  return lines;
}

/** One dialog as a row of the page. */
export function dialogRow(d) {
  const problems = d.problems || [];
  const warnings = d.warnings || [];
  let status = 'valid';
  if (problems.length) status = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  else if (warnings.length) status = `valid, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}`;
  return {
    id: d.id,
    name: d.name || d.id,
    priority: String(d.priority ?? 0),
    audience: audienceLines(d.audience),
    teaser: d.teaser ? 'teaser' : '',
    languages: (d.languages || []).join(', '),
    status,
    notes: [...problems, ...warnings],
  };
}

/** The page's rows, highest priority first (the order the server picks in), then file order. */
export function dialogsModel(frame) {
  const list = (frame.dialogs || []).map((d, i) => ({ d, i }));
  list.sort((a, b) => (b.d.priority ?? 0) - (a.d.priority ?? 0) || a.i - b.i);
  return list.map(({ d }) => dialogRow(d));
}

/**
 * The diagram as an image address: the server's SVG goes into an <img>, never into
 * the page, so nothing in it runs or styles the inbox.
 */
export function diagramSrc(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}
