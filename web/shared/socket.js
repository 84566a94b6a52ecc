// One WebSocket with reconnect (exponential backoff with jitter), a heartbeat ping
// (the server drops connections idle for 10 minutes), a planned reconnect before the
// server's 2-hour connection limit, and a fresh URL on every attempt, so a visitor
// token stored meanwhile is used to resume the conversation. The widget and the inbox
// both connect through it.

const HEARTBEAT_MS = 5 * 60 * 1000;
// API Gateway closes every connection after 2 hours. Reconnecting on our own a few
// minutes earlier happens at a moment we choose, not mid-frame; the resume (history
// merged by id, unacked messages resent) makes it invisible to the person chatting.
const LIFETIME_MS = 115 * 60 * 1000;

/** Delay before reconnect attempt `attempt` (0-based): min*2^attempt, capped, with jitter. */
export function backoffDelay(attempt, { min = 1000, max = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(max, min * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The WebSocket URL: `configured` when set, else `ws(s)://<host>/ws` from `loc`,
 * with every non-empty entry of `params` added to the query string.
 */
export function socketUrl(configured, loc, params = {}) {
  let base = configured && String(configured).trim();
  if (!base) base = `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
  const url = new URL(base, loc.href);
  for (const [key, value] of Object.entries(params)) {
    if (value != null && value !== '') url.searchParams.set(key, value);
  }
  return url.href;
}

/**
 * Whether a handshake that failed at `url` was refused (a bad or revoked token) rather
 * than lost to the network. A browser cannot read a failed handshake's status, so the
 * same URL is asked over plain HTTP: 401 or 403 is a refusal, and so are `failures`
 * (3 or more) failed attempts while the server answers HTTP below 500. Unreachable:
 * not refused, keep retrying.
 */
export async function handshakeRefused(url, failures, fetchImpl = globalThis.fetch) {
  let status = 0;
  try {
    status = (await fetchImpl(url.replace(/^ws/, 'http'), { cache: 'no-store' })).status;
  } catch {
    return false;
  }
  return status === 401 || status === 403 || (failures >= 3 && status !== 0 && status < 500);
}

/**
 * The claims of a JWT, `{}` when it is not one. Unverified: only for choosing between
 * the server's tokens and for showing who is signed in; the server verifies every
 * token. The payload is base64url of UTF-8 JSON, so a name such as "Zoë" is decoded
 * from bytes (atob alone gives one character per byte).
 */
export function tokenClaims(token) {
  try {
    const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return claims && typeof claims === 'object' ? claims : {};
  } catch {
    return {};
  }
}

/**
 * The visitor token to keep: `incoming` (from a `session` frame), unless `stored` is
 * the same visitor's at a later version, stored meanwhile by another tab whose
 * `start` the server saw last. Only the newest version stays accepted.
 */
export function newerToken(stored, incoming) {
  if (!stored) return incoming;
  const [was, now] = [tokenClaims(stored), tokenClaims(incoming)];
  const later = was.sub === now.sub && Number(was.ver) > Number(now.ver);
  return later ? stored : incoming;
}

export class LiveSocket {
  /**
   * `url()` is called before every attempt. `onOpen()`, `onFrame(frame)` and
   * `onClose({opened, code, failures})` are callbacks; call `stop()` from `onClose`
   * (or later, before the retry fires) to stop reconnecting.
   */
  constructor({ url, onOpen, onFrame, onClose, onState, heartbeatMs = HEARTBEAT_MS, lifetimeMs = LIFETIME_MS,
    debug = false, WebSocketImpl = globalThis.WebSocket }) {
    Object.assign(this, { url, onOpen, onFrame, onClose, onState, heartbeatMs, lifetimeMs, debug, WebSocketImpl });
    this.ws = null;
    this.state = 'idle';
    this.failures = 0;
    this.retryTimer = null;
    this.heartbeat = null;
    this.renewal = null;
    this.onOnline = () => this.state === 'waiting' && this.reconnectNow();
    globalThis.addEventListener?.('online', this.onOnline);
  }

  setState(state) {
    this.state = state;
    this.onState?.(state);
  }

  log(...args) {
    if (this.debug) console.debug('[livechat]', ...args);
  }

  start() {
    if (this.ws || this.state === 'stopped') return;
    clearTimeout(this.retryTimer);
    this.setState('connecting');
    let opened = false;
    const ws = new this.WebSocketImpl(this.url());
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      this.failures = 0;
      this.setState('open');
      this.heartbeat = setInterval(() => this.send({ action: 'ping' }), this.heartbeatMs);
      this.renewal = setTimeout(() => {
        this.log('renewing the connection before the server\'s limit');
        this.reconnectNow();
      }, this.lifetimeMs);
      this.onOpen?.();
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return this.log('not JSON', event.data);
      }
      if (frame && typeof frame === 'object' && typeof frame.type === 'string') {
        this.log('<-', frame.type, frame);
        this.onFrame?.(frame);
      }
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.clearTimers();
      this.ws = null;
      if (!opened) this.failures += 1;
      if (this.state === 'stopped') return;
      this.setState('waiting');
      this.onClose?.({ opened, code: event.code, failures: this.failures });
      if (this.state !== 'stopped') {
        const delay = backoffDelay(opened ? 0 : this.failures);
        this.log('reconnecting in', delay, 'ms');
        this.retryTimer = setTimeout(() => this.reconnectNow(), delay);
      }
    };
  }

  /** Sends `frame` as JSON; false when not connected (the caller keeps it to resend). */
  send(frame) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.log('->', frame.action, frame);
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  clearTimers() {
    clearInterval(this.heartbeat);
    clearTimeout(this.renewal);
  }

  get isOpen() {
    return this.state === 'open';
  }

  /** Drops the current connection (if any) and connects again at once. */
  reconnectNow() {
    if (this.state === 'stopped') this.state = 'idle';
    clearTimeout(this.retryTimer);
    const old = this.ws;
    this.ws = null;
    this.clearTimers();
    if (old) {
      old.onclose = old.onmessage = old.onopen = null;
      old.close();
    }
    this.start();
  }

  /** Closes and stops reconnecting until `reconnectNow()`. */
  stop() {
    this.setState('stopped');
    clearTimeout(this.retryTimer);
    this.clearTimers();
    const old = this.ws;
    this.ws = null;
    if (old) {
      old.onclose = old.onmessage = old.onopen = null;
      old.close();
    }
  }
}
