// The inbox's connection, over the shared socket (backoff, heartbeat, the planned
// renewal): the agent token in the URL, and on every open the frames that bring the
// inbox up to date (`sync` and the replies not acked yet; once `sync`'s
// `availability` says the agent may chat, the newest pages of past chats and missed
// requests, and missed requests again every minute). An agent without the live chat
// permission (a Marketing Admin: `sync` answers `reports_only`) is never sent a chat
// action, which the server would refuse by closing the socket. A handshake the
// server refuses (a bad or expired token) is told to `onRefused`.
import { LiveSocket, handshakeRefused, socketUrl } from '../shared/socket.js';
import { LIVE_FRAME } from './live.js';
import { resends } from './state.js';

export const MISSED_EVERY_MS = 60_000;

/** What an inbox sends on each open: docs/protocol.md, "Connecting". */
export function openingFrames(state) {
  return [{ action: 'sync' }, ...resends(state)];
}

/**
 * What an inbox asks for once `sync` answered `availability` (it may chat): the
 * lists, and the live view, which makes the socket a watcher the view is pushed to
 * as it moves (docs/protocol.md, "live").
 */
export const LIST_FRAMES = [{ action: 'past_chats' }, { action: 'missed' }, LIVE_FRAME];

/**
 * Connects as the agent whose token `token()` gives (read before every attempt).
 * Returns `{send(frame), isOpen, stop()}`; `send` is false when not connected.
 */
export function connectInbox({ state, token, onFrame, onState, onRefused, loc = globalThis.location,
  WebSocketImpl = globalThis.WebSocket, fetchImpl = globalThis.fetch }) {
  const url = () => socketUrl('', loc, { agent_token: token() });
  let missedTimer = null;
  let listsAsked = false;
  const socket = new LiveSocket({
    url,
    onState,
    onFrame(frame) {
      if (frame.type === 'availability' && !listsAsked) {
        listsAsked = true;
        for (const list of LIST_FRAMES) socket.send(list);
        clearInterval(missedTimer);
        missedTimer = setInterval(() => socket.send({ action: 'missed' }), MISSED_EVERY_MS);
      }
      onFrame(frame);
    },
    WebSocketImpl,
    onOpen() {
      listsAsked = false;
      clearInterval(missedTimer);
      for (const frame of openingFrames(state)) socket.send(frame);
    },
    // A browser cannot read a failed handshake's status: ask the same URL over HTTP.
    async onClose({ opened, failures }) {
      clearInterval(missedTimer);
      if (opened) return;
      const refused = await handshakeRefused(url(), failures, fetchImpl);
      if (refused && socket.state !== 'stopped') onRefused?.();
    },
  });
  socket.start();
  return {
    send: (frame) => socket.send(frame),
    get isOpen() {
      return socket.isOpen;
    },
    stop() {
      clearInterval(missedTimer);
      socket.stop();
    },
  };
}
