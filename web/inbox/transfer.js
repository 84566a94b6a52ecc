// Transfers (docs/protocol.md, "transfer"): the frame the Transfer form sends, the
// receiver's offer banner line, and the sender's status lines. Pure, so node tests
// (transfer.test.mjs) read what the page shows; every string is plain text for
// textContent (a note is the sender's words, never markup).

/** Longest note the server takes, in characters. */
export const MAX_NOTE_CHARS = 1000;

/** Why a `transfer` found nobody (`reason` of `transfer_failed`). */
export const FAILED = {
  unknown_agent: 'there is no such agent',
  unknown_team: 'there is no such team',
  yourself: 'you cannot transfer a chat to yourself',
  no_live_chat: 'that agent does not take chats',
  away: 'that agent is away',
  not_in_schedule: 'that agent is outside their schedule',
  offline: 'that agent has no inbox open',
  at_limit: 'that agent is at their chat limit',
  nobody_eligible: 'nobody else in that team can take it now',
  pending: 'a transfer of this chat is pending already',
};

/** How a transfer ended (`outcome` of `transfer_ended`). */
export const ENDED = {
  accepted: 'accepted',
  declined: 'declined',
  timed_out: 'timed out',
  cancelled: 'cancelled',
};

/**
 * The `transfer` frame for the form's fields, or null when it cannot be sent: `kind`
 * is `agent` or `team`, `id` what the agent picked (trimmed), `note` at most
 * {@link MAX_NOTE_CHARS} characters.
 */
export function transferFrame(conversation, kind, id, note) {
  const target = String(id || '').trim();
  if (!conversation || !target || (kind !== 'agent' && kind !== 'team')) return null;
  const text = String(note || '').trim();
  if ([...text].length > MAX_NOTE_CHARS) return null;
  const frame = { action: 'transfer', conversation, to: { [kind]: target } };
  if (text) frame.note = text;
  return frame;
}

/** The offer banner's heading: a transfer names its sender and their note. */
export function offerHeading(frame) {
  const t = frame.transfer;
  if (!t) return `New chat${frame.attempt > 1 ? ' (re-offered)' : ''}: `;
  const from = t.from_name || t.from || 'an agent';
  return t.note ? `Transfer from ${from}: ${t.note} — ` : `Transfer from ${from}: `;
}

/**
 * The agents a chat can be transferred to, from the last `live` frame (the inbox's
 * view of the account's agents): everyone listed but `me`, `{id, label}` by name.
 */
export function agentChoices(live, me) {
  return (live?.agents || [])
    .filter((a) => a.agent && a.agent !== me)
    .map((a) => ({ id: a.agent, label: a.name ? `${a.name} (${a.agent})` : a.agent }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/**
 * The sender's status line of a chat after a transfer frame (`transfer_pending`,
 * `transfer_ended`, `transfer_failed`), or null for any other frame.
 */
export function statusLine(frame) {
  switch (frame.type) {
    case 'transfer_pending':
      return `Transfer to ${frame.to_name || frame.to}: waiting for them to accept…`;
    case 'transfer_ended':
      return `Transfer to ${frame.to_name}: ${ENDED[frame.outcome] || frame.outcome}${frame.outcome === 'accepted' ? '.' : '; the chat stays yours.'}`;
    case 'transfer_failed':
      return `Transfer not sent: ${FAILED[frame.reason] || frame.reason}.`;
    default:
      return null;
  }
}
