// The Live tab's DOM (index.html's `ib-live`): the summary line, the waiting
// visitors, the offers out and the agents, drawn from the last `live` frame through
// live.js's model and redrawn every second so the waits tick. Every value (agent
// names, ids) goes in as text, never markup.
import { el } from '../shared/dom.js';
import { liveModel } from './live.js';

/** Binds the tab. Returns `{show(frame), tick(), reset()}`. */
export function mountLive(doc = document, clock = () => Date.now()) {
  const $ = (id) => doc.getElementById(id);
  let last = null; // { frame, receivedAt }

  function row(cells, className) {
    const tr = el('tr', className);
    cells.forEach((c, i) => {
      const cell = el(i === 0 ? 'th' : 'td', null, c);
      if (i === 0) cell.scope = 'row';
      tr.append(cell);
    });
    return tr;
  }

  function head(...names) {
    const tr = el('tr');
    tr.append(...names.map((n) => {
      const th = el('th', null, n);
      th.scope = 'col';
      return th;
    }));
    return tr;
  }

  function draw() {
    if (!last) return;
    const m = liveModel(last.frame, last.receivedAt, clock());
    $('ib-live-summary').textContent = m.summary;
    const all = m.scope === 'all';
    $('ib-live-queue').hidden = !all;
    $('ib-live-waiting').replaceChildren(head('Conversation', 'Waiting', 'Offer'),
      ...m.waiting.map((w) => row([w.conversation, w.wait, w.offer])));
    $('ib-live-waiting-empty').hidden = m.waiting.length > 0;
    $('ib-live-offers').replaceChildren(head('Conversation', 'Offered to', 'Out', 'Expires'),
      ...m.offers.map((o) => row([o.conversation, o.agent, o.out, o.left])));
    $('ib-live-offers-empty').hidden = m.offers.length > 0;
    $('ib-live-agents').replaceChildren(head('Agent', 'Status', 'Live chats', 'Offers'),
      ...m.agents.map((a) => {
        const tr = row([a.name, a.status, a.load, a.offers], `ib-live-${a.statusKey}`);
        tr.dataset.agent = a.agent;
        if (a.full) tr.dataset.full = 'true';
        return tr;
      }));
  }

  return {
    show(frame) {
      last = { frame, receivedAt: clock() };
      draw();
    },
    tick: draw,
    reset() {
      last = null;
      $('ib-live-summary').textContent = 'Loading…';
      for (const id of ['ib-live-waiting', 'ib-live-offers', 'ib-live-agents']) $(id).replaceChildren();
    },
  };
}
