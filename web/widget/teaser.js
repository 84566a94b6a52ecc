// The teaser: a dialog's first message in a small bubble beside the launcher once
// its trigger fired (site.json's `teaser`). Dismissed with its ×, or gone once the
// chat is opened; the widget remembers either per dialog. Its text goes in as
// textContent with dir="auto" (it is the account's, shown as text, never markup).

// Its own element maker, not ../shared/dom.js's: a module the first load and this
// lazy one shared would be split into a chunk of its own, one more request and more
// bytes on every first load.
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

const CSS = `
.lc-teaser { position: absolute; right: 0; bottom: 68px; width: max-content; max-width: min(280px, calc(var(--lc-w, 100vw) - 40px));
  background: #fff; color: #1f2430; border-radius: 12px; box-shadow: 0 6px 24px rgba(0,0,0,.2); display: flex; align-items: flex-start; }
.lc-teaser-text { border: 0; background: none; text-align: start; font: inherit; color: inherit; padding: 12px 4px 12px 14px; cursor: pointer; }
.lc-teaser-close { border: 0; background: none; font: inherit; color: #5c6370; padding: 8px 10px; cursor: pointer; }
.lc-open .lc-teaser { display: none; }
`;

/**
 * Mounts the teaser showing `text` into `view` (./render.js `addBeside`).
 * `onOpen()` when the visitor clicks its text, `onDismiss()` when they close it.
 * `closeLabel` is the × button's accessible name. Returns `{remove()}`.
 */
export function showTeaser(view, text, { closeLabel, onOpen, onDismiss }) {
  const box = el('div', 'lc-teaser');
  box.setAttribute('role', 'status');
  const style = el('style', null, CSS);
  const body = el('button', 'lc-teaser-text', text);
  body.type = 'button';
  body.dir = 'auto';
  const close = el('button', 'lc-teaser-close', '×');
  close.type = 'button';
  close.setAttribute('aria-label', closeLabel);
  const remove = () => { box.remove(); style.remove(); };
  body.addEventListener('click', () => { remove(); onOpen(); });
  close.addEventListener('click', () => { remove(); onDismiss(); });
  box.append(body, close);
  view.addBeside(box);
  view.addBeside(style);
  return { remove };
}
