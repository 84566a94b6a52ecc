import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as A from './analytics.js';

// A `report` frame as the server sends it (docs/protocol.md, "report"): by agent, the
// row for none first, ids that are an email, a formula and one with a comma and quote.
const CSV = [
  'agent,chats_requested,chats_connected,chats_missed,missed_picked_up,chats_abandoned,offers_declined,offers_timed_out,avg_time_to_accept_s,time_to_accept_n,avg_first_response_s,first_response_n,avg_chat_length_s,chat_length_n,avg_score,score_n,dialogs_triggered,dialogs_engaged,dialogs_completed,goals_reached,emails_captured',
  '(none),7,0,2,0,1,0,0,,0,,0,,0,,0,9,4,3,1,2',
  'ana@acme.example,0,3,0,1,0,1,0,12.500,3,20.333,4,435.000,4,2.50,2,0,0,0,0,0',
  "'=HYPERLINK(1),0,1,0,0,0,0,2,4.000,1,,0,,0,,0,0,0,0,0,0",
  '"o\'neil, ""jr""",0,2,0,0,0,0,0,1.001,2,3.000,2,60.000,1,3.00,1,0,0,0,0,0',
  '',
].join('\r\n');
const row = (value, counts, means) => ({
  value,
  chats_requested: counts[0], chats_connected: counts[1], chats_missed: counts[2], missed_picked_up: counts[3],
  chats_abandoned: counts[4], offers_declined: counts[5], offers_timed_out: counts[6],
  avg_time_to_accept_s: means[0], time_to_accept_n: means[1], avg_first_response_s: means[2], first_response_n: means[3],
  avg_chat_length_min: means[4], chat_length_n: means[5], avg_score: means[6], score_n: means[7],
  dialogs_triggered: counts[7] || 0, dialogs_engaged: counts[8] || 0, dialogs_completed: counts[9] || 0, goals_reached: counts[10] || 0, emails_captured: counts[11] || 0,
});
const REPORT = {
  type: 'report', from: '2026-11-01', to: '2026-11-07', by: 'agent', time_zone: 'Europe/Paris', scope: 'all',
  rows: [
    row(null, [7, 0, 2, 0, 1, 0, 0, 9, 4, 3, 1, 2], [null, 0, null, 0, null, 0, null, 0]),
    row('ana@acme.example', [0, 3, 0, 1, 0, 1, 0], [12.5, 3, 20.333, 4, 7.25, 4, 2.5, 2]),
    row('=HYPERLINK(1)', [0, 1, 0, 0, 0, 0, 2], [4, 1, null, 0, null, 0, null, 0]),
    row('o\'neil, "jr"', [0, 2, 0, 0, 0, 0, 0], [1.001, 2, 3, 2, 1, 1, 3, 1]),
  ],
  csv: CSV,
};

/** A CSV cell back to the value it shows: the formula guard's `'` taken off. */
const unguard = (cell) => (/^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell);

test('the chart\'s bars, the table\'s cells and the CSV\'s cells are the same numbers for the same rows', () => {
  const chart = A.chartModel(REPORT);
  const table = A.tableModel(REPORT);
  const [header, ...lines] = A.parseCsv(REPORT.csv);
  assert.equal(lines.length, REPORT.rows.length);
  assert.equal(chart.groups.length, REPORT.rows.length);
  assert.equal(table.rows.length, REPORT.rows.length);
  for (let i = 0; i < REPORT.rows.length; i += 1) {
    assert.equal(chart.groups[i].label, table.rows[i][0], 'the bar group and the table row name the same value');
    assert.equal(unguard(lines[i][0]), table.rows[i][0], 'and so does the CSV');
    for (const bar of chart.groups[i].bars) {
      const tableCell = table.rows[i][1 + table.keys.indexOf(bar.key)];
      const csvCell = lines[i][header.indexOf(bar.key)];
      assert.equal(String(bar.value), tableCell, `${bar.key} of row ${i}`);
      assert.equal(String(bar.value), csvCell, `${bar.key} of row ${i}`);
      assert.match(bar.title, new RegExp(`${bar.value}$`), 'the bar\'s title says its number');
    }
    // Every count column of the table is the CSV's cell too.
    for (const key of table.keys.filter((k) => !k.startsWith('avg_'))) {
      assert.equal(table.rows[i][1 + table.keys.indexOf(key)], lines[i][header.indexOf(key)], `${key} of row ${i}`);
    }
  }
  assert.equal(table.rows[0][0], '(none)');
  assert.equal(table.rows[0][1 + table.keys.indexOf('avg_time_to_accept_s')], '–', 'no value: a dash, an empty CSV cell');
});

test('the bars scale to the largest value; a zero has no height', () => {
  const chart = A.chartModel(REPORT, { width: 400, height: 200, pad: 20 });
  assert.equal(chart.max, 7);
  const [requested, connected] = chart.groups[0].bars;
  assert.equal(requested.height, chart.plot - 8, 'the largest bar is full height');
  assert.equal(connected.height, 0);
  assert.equal(requested.y + requested.height, chart.plot, 'bars stand on the axis');
  assert.ok(chart.groups[1].bars[0].x > chart.groups[0].bars[2].x, 'groups left to right in row order');
});

test('a Marketing Admin\'s funnel report charts and tabulates the funnel only', () => {
  const funnel = {
    from: '2026-11-01', to: '2026-11-02', by: 'dialog', scope: 'funnel', time_zone: 'UTC',
    rows: [{ value: 'sales', dialogs_triggered: 5, dialogs_engaged: 3, dialogs_completed: 2, goals_reached: 1, emails_captured: 1 }],
    csv: 'dialog,dialogs_triggered,dialogs_engaged,dialogs_completed,goals_reached,emails_captured\r\nsales,5,3,2,1,1\r\n',
  };
  const chart = A.chartModel(funnel);
  assert.deepEqual(chart.groups[0].bars.map((b) => [b.key, b.value]), [['dialogs_triggered', 5], ['dialogs_engaged', 3], ['dialogs_completed', 2]]);
  const table = A.tableModel(funnel);
  assert.deepEqual(table.header, ['dialog', 'Dialogs triggered', 'Engaged', 'Completed', 'Goals reached', 'Emails captured']);
  const [header, line] = A.parseCsv(funnel.csv);
  assert.deepEqual(table.rows[0].slice(1), line.slice(1));
  assert.deepEqual(header.slice(1), table.keys);
  assert.deepEqual(A.BY_OF_SCOPE.funnel, ['day', 'dialog']);
});

test('the default range is the last 7 days, today included, and the frame and file name follow it', () => {
  const range = A.lastSevenDays(new Date(2026, 2, 3, 10, 0));
  assert.deepEqual(range, { from: '2026-02-25', to: '2026-03-03' });
  assert.deepEqual(A.reportFrame({ ...range, by: 'day' }), { action: 'report', from: '2026-02-25', to: '2026-03-03', by: 'day' });
  assert.equal(A.csvFileName({ from: '2026-11-01', to: '2026-11-30', by: 'agent' }), 'livechat-report-2026-11-01-2026-11-30-agent.csv');
});

test('the CSV parser reads quoted fields, doubled quotes and CRLF line ends', () => {
  assert.deepEqual(A.parseCsv('a,"b,c","d""e"\r\n1,,3\r\n'), [['a', 'b,c', 'd"e'], ['1', '', '3']]);
});

test('a report in parts is shown once every part came, its rows and CSV joined in part order', () => {
  const pending = new Map();
  const part = (i, rows, csv) => ({ type: 'report', from: '2025-01-01', to: '2026-12-31', by: 'day', scope: 'all', part: i, parts: 3, rows, csv });
  const r = (day) => ({ value: day, chats_requested: 1 });
  assert.equal(A.joinParts(pending, part(1, [r('b')], 'b,1\r\n')), null);
  assert.equal(A.joinParts(pending, { ...part(0, [r('x')], 'h\r\nx\r\n'), from: '2024-01-01' }), null, 'another request');
  assert.equal(A.joinParts(pending, part(0, [r('a')], 'day,chats_requested\r\na,1\r\n')), null, 'a newer request starts over');
  assert.equal(A.joinParts(pending, part(2, [r('c')], 'c,1\r\n')), null, 'part 1 of this request was dropped with the older one');
  assert.equal(A.joinParts(pending, part(1, [r('b')], 'b,1\r\n')).csv, 'day,chats_requested\r\na,1\r\nb,1\r\nc,1\r\n');
  assert.equal(pending.size, 0);
  const whole = A.joinParts(pending, { ...part(0, [r('a')], 'day\r\na\r\n'), parts: 1 });
  assert.deepEqual(whole.rows, [r('a')], 'one part is the whole');
});
