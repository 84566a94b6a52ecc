// The Live tab's pure part: what it shows of the last `live` frame (docs/protocol.md,
// "live"; the definitions are docs/analytics.md, "Live view"). Waits are counted from
// the frame's own `now`, moved on by the time since it arrived, so a client whose
// clock is off still shows the server's wait. No DOM: live-view.js draws what these
// return, and node tests (live.test.mjs) check them.

/** A duration in ms as the tab shows it: `45s`, `1m 20s`, `2h 05m`. Never negative. */
export function formatWait(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** The server's time now: the frame's `now` plus what passed since it arrived. */
export function serverNow(frame, receivedAt, now) {
  return Date.parse(frame.now) + Math.max(0, now - receivedAt);
}

const STATUS = { available: 'Available', away: 'Away', offline: 'Offline' };

/**
 * What the tab shows of `frame` (received at `receivedAt`, ms) at `now` (ms): the
 * summary line, the waiting visitors (oldest first), the offers out, and each
 * agent's row. Every string is plain text for textContent.
 */
export function liveModel(frame, receivedAt, now) {
  const at = serverNow(frame, receivedAt, now);
  const since = (t) => formatWait(at - Date.parse(t));
  const count = frame.waiting_count || 0;
  const summary = count === 0
    ? 'Nobody is waiting.'
    : `${count} waiting, the longest for ${since(frame.oldest_since)}`;
  const waiting = (frame.waiting || []).map((w) => ({
    conversation: w.conversation,
    wait: `waiting ${since(w.since)}`,
    offer: w.offer ? `offered to ${w.offer.name}` : 'not offered yet',
  }));
  const offers = (frame.waiting || []).filter((w) => w.offer).map((w) => ({
    conversation: w.conversation,
    agent: w.offer.name,
    out: `out for ${since(w.offer.since)}`,
    left: `${formatWait(Date.parse(w.offer.expires_at) - at)} left`,
  }));
  const agents = (frame.agents || []).map((a) => ({
    agent: a.agent,
    name: a.name,
    status: STATUS[a.status] || a.status,
    statusKey: a.status,
    load: `${a.chats} / ${a.limit} chats`,
    offers: a.offers === 0 ? '' : `${a.offers} offer${a.offers === 1 ? '' : 's'} out`,
    full: a.chats + a.offers >= a.limit,
  }));
  const unlisted = Math.max(0, count - waiting.length);
  return { scope: frame.scope, summary, waiting, offers, agents, unlisted };
}

/** The frame the tab asks with (also sent once the socket is synced: socket.js). */
export const LIVE_FRAME = { action: 'live' };
