// The typing signal both sides send (docs/protocol.md, `typing`): `true` at most once
// every 3 s while keys are pressed, `false` after 4 s without a key or when the
// message is sent. The other side shows its indicator for 8 s after a `true`, so a
// lost `false` never leaves "is typing…" on screen.

export const TYPING_EVERY_MS = 3000;
export const TYPING_IDLE_MS = 4000;
/** How long a received `typing: true` is shown without another one. */
export const TYPING_SHOWN_MS = 8000;

/**
 * Returns `{input(), stop()}`: call `input()` on each keystroke and `stop()` when the
 * message goes; `send(typing)` is called with `true`/`false` as above. The clock and
 * the timers are parameters for the tests.
 */
export function typingThrottle(send, {
  everyMs = TYPING_EVERY_MS, idleMs = TYPING_IDLE_MS, now = () => Date.now(),
  setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (id) => clearTimeout(id),
} = {}) {
  let sentAt = null; // when `true` was last sent; null once `false` went (or never)
  let idle = null;
  const stop = () => {
    clearTimer(idle);
    idle = null;
    if (sentAt !== null) send(false);
    sentAt = null;
  };
  return {
    input() {
      const t = now();
      if (sentAt === null || t - sentAt > everyMs) {
        sentAt = t;
        send(true);
      }
      clearTimer(idle);
      idle = setTimer(stop, idleMs);
    },
    stop,
  };
}
