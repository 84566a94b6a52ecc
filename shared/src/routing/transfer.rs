//! Transfers: who receives a live chat an agent hands on, and the claim that
//! offers it to them.
//!
//! The choice is [`choose_transfer`], a pure function as [`super::choose`] is, with
//! its [`Trace`]: to an agent, that agent if eligible; to a team, the team's next
//! eligible member after its cursor (`team:<id>`, the cursor routing moves), the
//! sender skipped. The offer is claimed with the routing claim
//! (`RoutingStore::claim_offer`): the conversation (live, with its pending
//! transfer) at the version read, the receiver's capacity under their limit and
//! the team's cursor, in one conditional write, with the trace. So a transfer
//! holds the receiver's availability and capacity exactly as an offer does, and
//! two transfers (or a transfer and any other change) cannot both land.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::domain::{
    AgentId, Conversation, ConversationState, PendingTransfer, TeamId, TransferNote, TransferTarget,
};
use crate::ports::{ClaimOutcome, Cursor, CursorMove, DelayedEvent, OfferClaim};
use crate::protocol::TransferFailure;

use super::choice::{
    Candidate, Facts, Outcome, PoolTrace, Trace, Verdict, Via, all_agents, next_in_rotation,
};
use super::{Directory, RouteError, Router};

/// What [`choose_transfer`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferChoice {
    /// Offer the chat to `agent`; for a team, the claim moves `cursor`.
    Offer {
        /// Who.
        agent: AgentId,
        /// The team cursor's move.
        cursor: Option<CursorMove>,
    },
    /// Nobody can be offered it, for this reason.
    Nobody(TransferFailure),
}

/// The cursor key of a team's round robin, shared with routing.
pub fn team_pool(team: &TeamId) -> String {
    format!("team:{team}")
}

/// Who receives a transfer from `from` to `target`, and why. `cursor` is the
/// team's cursor as read (ignored for an agent).
pub fn choose_transfer(
    facts: &Facts<'_>,
    from: &AgentId,
    target: &TransferTarget,
    cursor: Option<&Cursor>,
) -> (TransferChoice, Trace) {
    let (key, order) = match target {
        TransferTarget::Agent(agent) => (None, vec![agent.clone()]),
        TransferTarget::Team(team) => (
            Some(team_pool(team)),
            facts
                .directory
                .team(team)
                .map(|t| t.members.clone())
                .unwrap_or_default(),
        ),
    };
    let mut candidates: Vec<Candidate> = order
        .iter()
        .map(|a| Candidate {
            agent: a.clone(),
            verdict: if a == from {
                Verdict::Sender
            } else {
                facts.verdict(a)
            },
        })
        .collect();
    let eligible: BTreeSet<&AgentId> = candidates
        .iter()
        .filter(|c| c.verdict == Verdict::Eligible)
        .map(|c| &c.agent)
        .collect();
    let mut step = PoolTrace {
        pool: key.clone(),
        via: Via::Transfer,
        candidates: Vec::new(),
        cursor_before: None,
        cursor_after: None,
    };
    let chosen = match &key {
        None => eligible.first().map(|a| ((*a).clone(), None)),
        Some(key) => {
            let cursor = cursor.cloned().unwrap_or_default();
            next_in_rotation(&order, cursor.last.as_ref(), &eligible).map(|next| {
                step.cursor_before = cursor.last.clone();
                step.cursor_after = Some(next.clone());
                let moved = CursorMove {
                    pool: key.clone(),
                    expected_version: cursor.version,
                    last: next.clone(),
                    served: cursor.served,
                };
                (next.clone(), Some(moved))
            })
        }
    };
    let mut trace = Trace {
        at: facts.now,
        owner: None,
        rules: Vec::new(),
        pools: Vec::new(),
        outcome: Outcome::Nobody,
    };
    let choice = match chosen {
        Some((agent, cursor)) => {
            for c in &mut candidates {
                if c.agent == agent {
                    c.verdict = Verdict::Chosen;
                }
            }
            trace.outcome = Outcome::Offer {
                agent: agent.clone(),
            };
            TransferChoice::Offer { agent, cursor }
        }
        None => TransferChoice::Nobody(failure(facts.directory, target, from, &candidates)),
    };
    step.candidates = candidates;
    trace.pools.push(step);
    (choice, trace)
}

/// Why nobody: for an agent, their verdict; for a team, `nobody_eligible`.
fn failure(
    directory: &Directory,
    target: &TransferTarget,
    from: &AgentId,
    candidates: &[Candidate],
) -> TransferFailure {
    match target {
        TransferTarget::Team(team) if directory.team(team).is_none() => {
            TransferFailure::UnknownTeam
        }
        TransferTarget::Team(_) => TransferFailure::NobodyEligible,
        TransferTarget::Agent(agent) if agent == from => TransferFailure::Yourself,
        TransferTarget::Agent(_) => match candidates.first().map(|c| c.verdict) {
            Some(Verdict::NoLiveChat) => TransferFailure::NoLiveChat,
            Some(Verdict::Away) => TransferFailure::Away,
            Some(Verdict::NotInSchedule) => TransferFailure::NotInSchedule,
            Some(Verdict::Offline) => TransferFailure::Offline,
            Some(Verdict::AtLimit { .. }) => TransferFailure::AtLimit,
            _ => TransferFailure::UnknownAgent,
        },
    }
}

/// What a transfer came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferResult {
    /// The receiver is offered the chat until the pending transfer's expiry; its
    /// timeout is scheduled. The conversation as stored.
    Offered(Box<Conversation>),
    /// Nobody could be offered it; the chat stays the sender's.
    Failed(TransferFailure),
    /// The chat is not live with the sender (any more).
    NotTheirs,
}

impl Router {
    /// `from` hands their live chat `conversation` on to `target` with `note`.
    /// Retries a lost race (the cursor moved, the receiver filled up, the chat
    /// changed) from a fresh read, as routing does.
    ///
    /// `conv` is the caller's read of the conversation and `directory` theirs (a
    /// cached copy serves: availability toggles are read with the agents' states);
    /// the claim is made at the version read, and a lost race reads it again.
    pub async fn transfer(
        &self,
        mut conv: Conversation,
        directory: &Directory,
        from: &AgentId,
        target: &TransferTarget,
        note: &TransferNote,
    ) -> Result<TransferResult, RouteError> {
        let store = &self.ports().store;
        let now = self.ports().clock.now();
        let conversation = &conv.id().clone();
        let mut facts = Facts {
            directory,
            now,
            states: store.agent_states(&all_agents(directory), now).await?,
        };
        let pool = match target {
            TransferTarget::Team(team) => Some(team_pool(team)),
            TransferTarget::Agent(_) => None,
        };
        let mut cursor = match &pool {
            Some(key) => Some(store.cursor(key).await?),
            None => None,
        };
        for attempt in 1..=self.writer().max_attempts() {
            self.writer().wait_before(attempt).await;
            if !matches!(conv.state(), ConversationState::Live { agent, .. } if agent == from) {
                return Ok(TransferResult::NotTheirs);
            }
            if conv.transfer().is_some() {
                return Ok(TransferResult::Failed(TransferFailure::Pending));
            }
            let (choice, trace) = choose_transfer(&facts, from, target, cursor.as_ref());
            let (agent, mv) = match choice {
                TransferChoice::Nobody(reason) => {
                    // Why nobody: kept with the conversation for Sales Admins.
                    store.put_trace(conversation, &trace).await?;
                    return Ok(TransferResult::Failed(reason));
                }
                TransferChoice::Offer { agent, cursor } => (agent, cursor),
            };
            let expires_at = expiry(now, directory);
            let mut offered = conv.clone();
            let pending = PendingTransfer {
                from: from.clone(),
                to: agent.clone(),
                team: match target {
                    TransferTarget::Team(team) => Some(team.clone()),
                    TransferTarget::Agent(_) => None,
                },
                note: note.clone(),
                expires_at,
            };
            if offered.start_transfer(pending).is_err() {
                return Ok(TransferResult::NotTheirs);
            }
            let claim = OfferClaim {
                conversation: offered.clone(),
                expected_version: conv.version(),
                agent: agent.clone(),
                limit: directory
                    .agent(&agent)
                    .map(|a| a.chat_limit)
                    .unwrap_or_default(),
                cursor: mv,
                trace: Some(trace),
                ahead: Vec::new(),
            };
            match store.claim_offer(&claim).await? {
                ClaimOutcome::Claimed => {
                    let timeout = DelayedEvent::TransferTimeout {
                        conversation: conversation.clone(),
                        agent,
                        version: offered.version(),
                    };
                    self.ports().scheduler.schedule(timeout, expires_at).await?;
                    return Ok(TransferResult::Offered(Box::new(offered)));
                }
                ClaimOutcome::CursorMoved { current } => {
                    cursor = match (current, &pool) {
                        (Some(c), _) => Some(c),
                        (None, Some(key)) => Some(store.cursor(key).await?),
                        (None, None) => None,
                    };
                }
                ClaimOutcome::AgentAtCapacity => {
                    facts.states = store.agent_states(&all_agents(directory), now).await?;
                }
                // A transfer names no requests ahead: never, but re-read as for a change.
                ClaimOutcome::ConversationChanged | ClaimOutcome::QueueMoved => {
                    conv = store
                        .conversation(conversation)
                        .await?
                        .ok_or_else(|| RouteError::UnknownConversation(conversation.clone()))?;
                }
            }
        }
        Err(RouteError::Contention {
            attempts: self.writer().max_attempts(),
        })
    }
}

/// When a transfer offered now lapses: the account's wait time limit.
fn expiry(now: Timestamp, directory: &Directory) -> Timestamp {
    now.saturating_add(directory.settings.wait_time_limit.span())
        .unwrap_or(now)
}
