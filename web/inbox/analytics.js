// The Analytics page's pure part: the `report` frame it sends, and the chart, the
// table and the CSV file it shows, all from one `report` frame (docs/protocol.md,
// "report"), so that they cannot disagree. No DOM: render.js draws what these
// return, and node tests (analytics.test.mjs) check the three against each other.

/** The bars the chart draws per row, in order, with their colours. */
export const BARS = [
  { key: 'chats_requested', label: 'Requested', color: '#3b5bdb' },
  { key: 'chats_connected', label: 'Connected', color: '#2f9e44' },
  { key: 'chats_missed', label: 'Missed', color: '#e03131' },
];

/** The funnel's bars, for a Marketing Admin (scope `funnel`): no live chat columns. */
export const FUNNEL_BARS = [
  { key: 'dialogs_triggered', label: 'Triggered', color: '#3b5bdb' },
  { key: 'dialogs_engaged', label: 'Engaged', color: '#7048e8' },
  { key: 'dialogs_completed', label: 'Completed', color: '#2f9e44' },
];

/** Every column a report row may have, in the CSV's order, with its header. */
export const COLUMNS = [
  ['chats_requested', 'Requested'],
  ['chats_connected', 'Connected'],
  ['chats_missed', 'Missed'],
  ['missed_picked_up', 'Missed, picked up'],
  ['chats_abandoned', 'Abandoned'],
  ['offers_declined', 'Offers declined'],
  ['offers_timed_out', 'Offers timed out'],
  ['transfers_given', 'Transfers given'],
  ['transfers_received', 'Transfers received'],
  ['avg_time_to_accept_s', 'Avg time to accept (s)'],
  ['time_to_accept_n', 'n'],
  ['avg_first_response_s', 'Avg first response (s)'],
  ['first_response_n', 'n'],
  ['avg_chat_length_min', 'Avg chat length (min)'],
  ['chat_length_n', 'n'],
  ['avg_score', 'Avg score'],
  ['score_n', 'n'],
  ['dialogs_triggered', 'Dialogs triggered'],
  ['dialogs_engaged', 'Engaged'],
  ['dialogs_completed', 'Completed'],
  ['goals_reached', 'Goals reached'],
  ['emails_captured', 'Emails captured'],
];

/** Which `by` values each scope may ask for (docs/protocol.md, "Roles in the inbox"). */
export const BY_OF_SCOPE = {
  all: ['day', 'dialog', 'team', 'agent'],
  own: ['day', 'agent'],
  funnel: ['day', 'dialog'],
};

/** `date` (a Date) as the local calendar day `YYYY-MM-DD`. */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The default range: the last 7 days, today included. */
export function lastSevenDays(now = new Date()) {
  const from = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 6);
  return { from: isoDay(from), to: isoDay(now) };
}

/**
 * A `report` frame, joined with its other parts: a report too big for one frame
 * comes in `parts` frames numbered by `part` (docs/protocol.md, "report"). `pending`
 * is a Map the caller keeps; returns the whole report once its last part is in
 * (rows and CSV joined in part order), else null. Parts of another request replace
 * those of an older one.
 */
export function joinParts(pending, frame) {
  const parts = frame.parts || 1;
  if (parts === 1) return frame;
  const key = `${frame.from}|${frame.to}|${frame.by}`;
  if (!pending.has(key)) pending.clear();
  const got = pending.get(key) || new Map();
  got.set(frame.part, frame);
  pending.set(key, got);
  if (got.size < parts) return null;
  pending.delete(key);
  const ordered = [...got.keys()].sort((a, b) => a - b).map((i) => got.get(i));
  return { ...ordered[0], part: 0, parts: 1, rows: ordered.flatMap((p) => p.rows || []), csv: ordered.map((p) => p.csv).join('') };
}

/** The frame that asks for a report. */
export function reportFrame({ from, to, by }) {
  return { action: 'report', from, to, by };
}

/** How a row's `value` is shown: none is "(none)", as in the CSV. */
export function valueLabel(value) {
  return value == null ? '(none)' : String(value);
}

/** A cell as the table shows it: an average with no value is "–". */
export function cellText(value) {
  return value == null ? '–' : String(value);
}

/** The columns a report's rows carry (the scope decides which), in the CSV's order. */
export function columnsOf(report) {
  const first = report.rows?.[0];
  const shown = first ? COLUMNS.filter(([key]) => key in first) : COLUMNS.filter(([key]) => report.scope !== 'funnel' || key.startsWith('dialogs_') || key === 'goals_reached' || key === 'emails_captured');
  return shown.map(([key, label]) => ({ key, label }));
}

/** The table: a header (the `by`, then each column) and one line of cell texts per row. */
export function tableModel(report) {
  const columns = columnsOf(report);
  return {
    header: [report.by, ...columns.map((c) => c.label)],
    keys: columns.map((c) => c.key),
    rows: (report.rows || []).map((row) => [valueLabel(row.value), ...columns.map((c) => cellText(row[c.key]))]),
  };
}

/**
 * The chart: for each row a group of bars (requested, connected, missed; the funnel's
 * for the funnel scope), each with its value, its label and a title for screen readers
 * and tooltips, and its geometry in a `width` × `height` viewBox (bars scaled to the
 * largest value; a zero has no height).
 */
export function chartModel(report, { width = 720, height = 220, pad = 28 } = {}) {
  const bars = report.scope === 'funnel' ? FUNNEL_BARS : BARS;
  const rows = report.rows || [];
  const max = Math.max(1, ...rows.flatMap((row) => bars.map((b) => Number(row[b.key]) || 0)));
  const group = rows.length ? (width - pad) / rows.length : 0;
  const barWidth = Math.max(1, (group * 0.8) / bars.length);
  const plot = height - pad;
  const groups = rows.map((row, i) => {
    const label = valueLabel(row.value);
    return {
      label,
      x: pad + i * group,
      bars: bars.map((b, j) => {
        const value = Number(row[b.key]) || 0;
        const h = (value / max) * (plot - 8);
        return {
          key: b.key, value, color: b.color,
          title: `${label}: ${b.label.toLowerCase()} ${value}`,
          x: pad + i * group + group * 0.1 + j * barWidth, y: plot - h, width: barWidth, height: h,
        };
      }),
    };
  });
  return { width, height, plot, max, series: bars, groups };
}

/** The CSV's cells (RFC 4180: quoted fields, doubled quotes, CRLF), for the tests and checks. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 1; } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field); rows.push(row); row = []; field = ''; i += 1;
    } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** The download's file name: `livechat-report-<from>-<to>-<by>.csv`. */
export function csvFileName(report) {
  const safe = (s) => String(s).replace(/[^0-9A-Za-z_-]/g, '_');
  return `livechat-report-${safe(report.from)}-${safe(report.to)}-${safe(report.by)}.csv`;
}

/** What the page says of the scope, above the chart. */
export function scopeNote(report) {
  if (report.scope === 'own') return 'Your own numbers.';
  if (report.scope === 'funnel') return 'The dialog funnel.';
  return 'All agents and teams.';
}
