// Pure formatting shared by the widget and the inbox: what a person sees for a time,
// a missing value or a countdown. No DOM, so node tests cover it.

/** A message's time of day, hours and minutes in the reader's locale; '' when unreadable. */
export function clockTime(at) {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** `v` as text, '-' when it is missing or empty (a visitor field nobody gave). */
export const dash = (v) => (v == null || v === '' ? '-' : String(v));

/** Seconds left as `42s` under 100 s, `m:ss` from there; '' when unknown. */
export function countdown(seconds) {
  if (!Number.isFinite(seconds)) return '';
  const left = Math.max(0, Math.round(seconds));
  return left < 100 ? `${left}s` : `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}
