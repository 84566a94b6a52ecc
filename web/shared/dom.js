// The one DOM helper both front ends build with. Text goes in as textContent, never as
// HTML, so nothing a visitor or an agent wrote can become markup.

/** A new `tag` element with an optional class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}
