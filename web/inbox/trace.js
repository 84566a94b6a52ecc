// A routing trace (docs/protocol.md, `routing_trace`) in words, for the Sales
// Admin's "Why this agent?" panel: pure, so node tests read what the page shows.

const VERDICTS = {
  chosen: 'chosen',
  eligible: 'eligible, not next in the rotation',
  unknown: 'not in the directory',
  no_live_chat: 'no live chat permission',
  away: 'away (availability toggle)',
  not_in_schedule: 'outside their schedule',
  offline: 'offline',
  already_offered: 'offered this request already',
  kept_for_queue: 'kept for a request ahead in the queue',
  sender: 'handing the chat on',
};

const VIA = {
  account_owner: 'the account owner of the visitor’s email domain',
  card_pool: 'the live chat card’s pool',
  any_available: 'every available agent (the card’s pool had nobody)',
  transfer: 'a transfer by the agent holding the chat',
};

/** A candidate's verdict in words. */
export function verdictText(candidate) {
  if (candidate.verdict === 'at_limit') return `at their limit (${candidate.load} of ${candidate.limit} chats)`;
  return VERDICTS[candidate.verdict] || String(candidate.verdict);
}

/**
 * One decision as the panel shows it: a heading (when, and the outcome), the rules
 * read, and each pool tried with its agents' verdicts.
 */
export function decisionView(trace) {
  const kind = trace.outcome?.outcome;
  const outcome = kind === 'offer'
    ? `offered to ${trace.outcome.agent}`
    : kind === 'queued'
      ? 'everyone at their limit: queued'
      : 'nobody eligible: the fallback';
  const rules = (trace.rules || []).map((r) => `rule ${r.rule}: ${r.matched ? (r.used ? 'matched, used' : 'matched, not used') : 'did not match'}`);
  const pools = (trace.pools || []).map((p) => {
    const name = p.pool || 'one agent';
    const cursor = p.cursor_after ? `, round robin ${p.cursor_before || '(start)'} → ${p.cursor_after}` : '';
    return {
      title: `${name}: ${VIA[p.via] || p.via}${cursor}`,
      rows: (p.candidates || []).map((c) => [c.agent, verdictText(c)]),
    };
  });
  return { at: trace.at, outcome, owner: trace.owner || null, rules, pools };
}
