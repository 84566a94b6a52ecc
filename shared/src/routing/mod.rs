//! Routing: who gets offered a chat when a visitor reaches a live chat card.
//!
//! - [`Directory`]: the configuration routing reads (agents, teams, rules, account
//!   routing, settings).
//! - [`choose`]: the choice, a pure function of what the router read;
//!   [`choose_traced`] the same with why ([`Trace`]), and [`explain()`] that
//!   answer against what the store holds now, claiming nothing.
//! - [`Router`] (`claim.rs`): reads what the choice needs, chooses, and claims the
//!   offer. Account routing first, then the card's mode; only eligible agents; at
//!   most two offers per request; round robin over every available agent when the
//!   card's pool has nobody eligible; otherwise the fallback. Round robin moves a
//!   per-pool cursor by compare-and-set through the store port, in the same atomic
//!   claim that takes the agent's capacity.
//! - [`Writer`] (`writer.rs`): the conversation writer every use case shares
//!   (accept, withdraw, requeue, end, repairs), by compare-and-set with one retry
//!   policy, freeing the capacity a change gives up.

mod choice;
mod claim;
mod directory;
pub mod explain;
mod queue;
pub mod transfer;
mod writer;

pub use choice::{
    ALL_AGENTS_POOL, Candidate, Choice, Facts, Outcome, PoolTrace, RuleTrace, Trace, Verdict, Via,
    choose, choose_traced, next_in_rotation, pool_agents,
};
pub use claim::{OfferEnd, RouteOutcome, Router};
pub use directory::{Directory, DirectoryError, MAX_DIALOGS, TargetedDialog};
pub use explain::{ExplainError, card_routing, explain};
pub use queue::{
    QUEUE_POOL, Turn, agents_at_limit, next_availability, still_queued, waits_for_a_slot,
};
pub use transfer::{TransferChoice, TransferResult, choose_transfer, team_pool};
pub use writer::{Ending, RetryPolicy, RouteError, Writer};
