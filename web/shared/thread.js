// Pure chat-thread model shared by the widget and the inbox: messages ordered by the
// server's `seq`, de-duplicated by id, plus own messages still pending (not yet acked
// or not yet echoed back) so they show at once and are resent after a reconnect.
import { dash } from './format.js';

/** A client-made message id (letters, digits and `-`, as the protocol allows). */
export function newMessageId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * Own messages a client keeps unacknowledged at a time, counted from the oldest one
 * still unacked: the server recognises a resend only among the latest messages of
 * its side (docs/protocol.md, "Message ids"), and this keeps every resend among them.
 */
export const MAX_UNACKED = 8;

export class Thread {
  constructor() {
    this.byId = new Map();
    this.pending = new Map();
    this.written = 0;
  }

  /** Adds a stored message; returns false when its id is already known. */
  add(message) {
    if (!message || message.id == null) return false;
    this.pending.delete(message.id);
    if (this.byId.has(message.id)) return false;
    this.byId.set(message.id, message);
    return true;
  }

  /** Adds several stored messages; returns the ones that were new. */
  merge(messages = []) {
    return messages.filter((m) => this.add(m));
  }

  /** Records an own message sent (or queued) but not yet stored. */
  addPending(id, text, extra = {}) {
    const entry = { id, text, acked: false, pending: true, sent: false, n: this.written++, at: new Date().toISOString(), ...extra };
    this.pending.set(id, entry);
    return entry;
  }

  /** The server stored the message with this id. */
  ack(id) {
    const entry = this.pending.get(id);
    if (entry) entry.acked = true;
    return Boolean(entry);
  }

  /** Own messages not acked yet, oldest first. */
  unacked() {
    return [...this.pending.values()].filter((p) => !p.acked);
  }

  /**
   * Own messages to send now: the unacked ones not yet sent on this connection,
   * among the MAX_UNACKED written since the oldest unacked one (the rest wait for
   * acks). Marks them sent.
   */
  outbox() {
    const unacked = this.unacked();
    if (!unacked.length) return [];
    const limit = unacked[0].n + MAX_UNACKED;
    const out = unacked.filter((p) => !p.sent && p.n < limit);
    for (const p of out) p.sent = true;
    return out;
  }

  /** A new connection: every unacked message goes out again (the next outbox()). */
  resendAll() {
    for (const p of this.pending.values()) if (!p.acked) p.sent = false;
  }

  /** Stored messages by `seq`, then pending ones in the order they were written. */
  list() {
    const stored = [...this.byId.values()].sort((a, b) => a.seq - b.seq);
    return [...stored, ...this.pending.values()];
  }

  get size() {
    return this.byId.size + this.pending.size;
  }
}

function stamp(at) {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at ?? '');
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * Plain-text transcript of a chat. `label(sender)` names a sender; continuation lines
 * of multi-line messages are indented.
 */
export function transcriptText({ conversation, visitor = {}, messages = [], label }) {
  const head = [
    `Conversation: ${dash(conversation)}`,
    `Visitor: ${dash(visitor.name)} <${dash(visitor.email)}>`,
    `Page: ${dash(visitor.page_url)}`,
    '',
  ];
  const lines = [...messages]
    .sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity))
    .map((m) => {
      const text = String(m.text ?? '').replace(/\r\n?/g, '\n').split('\n').join('\n    ');
      return `[${stamp(m.at)}] ${label(m.sender)}: ${text}`;
    });
  return `${[...head, ...lines].join('\n')}\n`;
}
