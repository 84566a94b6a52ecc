// The Dialogs page's DOM (index.html's `ib-dialogs`): a table of the applied dialogs
// (dialogs.js's model) and, for the one picked, its diagram as an image. Every value
// goes in as text; the diagram only as an <img> source, never as markup.
import { el } from '../shared/dom.js';
import { diagramSrc, dialogsModel } from './dialogs.js';

/** Binds the page. `ask(dialog?)` sends `dialogs`. Returns `{show(frame), showOne(frame), refuse(), reset()}`. */
export function mountDialogs({ ask }, doc = document) {
  const $ = (id) => doc.getElementById(id);

  function cell(tag, text) {
    const c = el(tag, null, text);
    if (tag === 'th') c.scope = 'row';
    return c;
  }

  function show(frame) {
    const rows = dialogsModel(frame);
    $('ib-dlg-status').textContent = rows.length
      ? `${rows.length} dialog${rows.length === 1 ? '' : 's'}, highest priority first. Change them in the configuration file and apply it with livechat apply.`
      : 'No dialog is applied.';
    const head = el('tr');
    for (const name of ['Dialog', 'Priority', 'Audience', 'Languages', 'Validation', '']) {
      const th = el('th', null, name);
      th.scope = 'col';
      head.append(th);
    }
    const body = rows.map((r) => {
      const tr = el('tr');
      const name = cell('th', r.name);
      if (r.name !== r.id) name.title = r.id;
      const audience = el('td');
      for (const line of r.audience) audience.append(el('div', null, line));
      if (r.teaser) audience.append(el('div', 'ib-dlg-teaser', 'Shows a teaser'));
      const status = el('td', r.notes.length ? 'ib-dlg-warn' : null);
      status.append(el('div', null, r.status), ...r.notes.map((n) => el('div', 'ib-dlg-note', n)));
      const open = el('button', null, 'Diagram');
      open.type = 'button';
      open.addEventListener('click', () => {
        $('ib-dlg-diagram-title').textContent = `Loading ${r.name}…`;
        ask(r.id);
      });
      const action = el('td');
      action.append(open);
      tr.append(name, cell('td', r.priority), audience, cell('td', r.languages), status, action);
      return tr;
    });
    $('ib-dlg-table').replaceChildren(head, ...body);
  }

  function showOne(frame) {
    const d = frame.dialog || {};
    $('ib-dlg-diagram-title').textContent = d.name || d.id || '';
    if (!d.svg) {
      $('ib-dlg-diagram-wrap').replaceChildren();
      return;
    }
    // Made when there is a diagram: the page holds no image until then.
    const img = el('img', 'ib-dlg-diagram');
    img.id = 'ib-dlg-diagram';
    img.alt = `The cards of ${d.name || d.id} and their branches`;
    img.src = diagramSrc(d.svg);
    $('ib-dlg-diagram-wrap').replaceChildren(img);
  }

  function refuse() {
    $('ib-dlg-status').textContent = 'Only Marketing and Sales Admins see the dialogs.';
    $('ib-dlg-table').replaceChildren();
  }

  function reset() {
    $('ib-dlg-status').textContent = 'Loading…';
    $('ib-dlg-table').replaceChildren();
    $('ib-dlg-diagram-title').textContent = '';
    $('ib-dlg-diagram-wrap').replaceChildren();
  }

  return { show, showOne, refuse, reset };
}
