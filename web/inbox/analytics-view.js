// The Analytics page's DOM (index.html's `ib-analytics`): the range and `by` form, the
// SVG bar chart, the table of every metric and the "Download CSV" button, all drawn
// from the last `report` frame through analytics.js's models. Every value (ids may be
// emails, or anything a dialog or team was named) goes in as text: textContent and
// SVG text nodes, never markup.
import { el } from '../shared/dom.js';
import { BY_OF_SCOPE, chartModel, csvFileName, lastSevenDays, scopeNote, tableModel } from './analytics.js';

const SVG = 'http://www.w3.org/2000/svg';

/**
 * Binds the page; `on.ask({from, to, by})` sends a `report` frame (true when sent).
 * Returns `{show(report), restrict(scope), ask(), reset()}`.
 */
export function mountAnalytics(on, doc = document) {
  const $ = (id) => doc.getElementById(id);
  let shown = null;

  function svg(tag, attrs, text) {
    const node = doc.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text != null) node.textContent = text;
    return node;
  }

  /** Only the `by` values the scope may ask for stay in the selector. */
  function restrict(scope) {
    const allowed = BY_OF_SCOPE[scope] || BY_OF_SCOPE.all;
    for (const option of $('ib-an-by').options) option.hidden = option.disabled = !allowed.includes(option.value);
    if (!allowed.includes($('ib-an-by').value)) $('ib-an-by').value = allowed[0];
  }

  function ask() {
    const range = { from: $('ib-an-from').value, to: $('ib-an-to').value, by: $('ib-an-by').value };
    $('ib-an-status').textContent = on.ask(range) ? 'Loading…' : 'Not connected; try again in a moment.';
  }

  function chart(report) {
    const m = chartModel(report);
    const root = svg('svg', { viewBox: `0 0 ${m.width} ${m.height}`, role: 'img', 'aria-labelledby': 'ib-an-chart-title', class: 'ib-an-svg' });
    root.append(svg('title', { id: 'ib-an-chart-title' }, `${m.series.map((s) => s.label).join(', ')} by ${report.by}, ${report.from} to ${report.to}`));
    root.append(svg('line', { x1: 28, y1: m.plot, x2: m.width, y2: m.plot, stroke: '#adb5bd' }));
    root.append(svg('text', { x: 2, y: 12, class: 'ib-an-axis' }, String(m.max)));
    const labelEvery = Math.max(1, Math.ceil(m.groups.length / 12));
    m.groups.forEach((g, i) => {
      for (const b of g.bars) {
        const rect = svg('rect', {
          x: b.x.toFixed(2), y: b.y.toFixed(2), width: b.width.toFixed(2), height: b.height.toFixed(2), fill: b.color,
          'data-key': b.key, 'data-value': b.value, 'data-row': g.label, class: 'ib-an-bar',
        });
        rect.append(svg('title', null, b.title));
        root.append(rect);
      }
      if (i % labelEvery === 0) root.append(svg('text', { x: g.x + 2, y: m.height - 8, class: 'ib-an-axis' }, g.label));
    });
    const legend = el('p', 'ib-an-legend');
    for (const s of m.series) {
      const key = el('span', 'ib-an-key');
      key.style.background = s.color;
      legend.append(key, doc.createTextNode(` ${s.label} `));
    }
    return [root, legend];
  }

  function table(report) {
    const t = tableModel(report);
    const head = el('tr');
    head.append(...t.header.map((h) => {
      const th = el('th', null, h);
      th.scope = 'col';
      return th;
    }));
    const body = t.rows.map((cells) => {
      const tr = el('tr');
      cells.forEach((c, i) => {
        const cell = el(i === 0 ? 'th' : 'td', null, c);
        if (i === 0) cell.scope = 'row';
        else cell.dataset.key = t.keys[i - 1];
        tr.append(cell);
      });
      return tr;
    });
    const thead = el('thead');
    thead.append(head);
    const tbody = el('tbody');
    tbody.append(...body);
    return [thead, tbody];
  }

  function show(report) {
    shown = report;
    restrict(report.scope);
    $('ib-an-status').textContent = `${scopeNote(report)} Days in ${report.time_zone}.`;
    $('ib-an-chart').replaceChildren(...chart(report));
    $('ib-an-table').replaceChildren(...table(report));
    $('ib-an-empty').hidden = (report.rows || []).length > 0;
    $('ib-an-download').disabled = false;
  }

  function download() {
    if (!shown) return;
    const blob = new Blob([shown.csv], { type: 'text/csv;charset=utf-8' });
    const a = el('a');
    a.href = URL.createObjectURL(blob);
    a.download = csvFileName(shown);
    doc.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  /** Forgets the report shown (sign-out) and puts the default range back. */
  function reset() {
    shown = null;
    const { from, to } = lastSevenDays();
    $('ib-an-from').value = from;
    $('ib-an-to').value = to;
    $('ib-an-chart').replaceChildren();
    $('ib-an-table').replaceChildren();
    $('ib-an-status').textContent = '';
    $('ib-an-empty').hidden = true;
    $('ib-an-download').disabled = true;
    restrict('all');
  }

  $('ib-an-form').addEventListener('submit', (event) => {
    event.preventDefault();
    ask();
  });
  $('ib-an-download').addEventListener('click', download);
  reset();
  return { show, restrict, ask, reset };
}
