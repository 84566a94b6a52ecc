//! Routing: who gets offered a chat when a visitor reaches a live chat card.
//!
//! - [`Directory`]: the configuration routing reads (agents, teams, rules, account
//!   routing, settings).
//! - [`choose`]: the choice, a pure function of what the router read.
//! - [`Router`]: the engine: it reads, chooses, and claims the offer. Account routing first, then the card's mode; only
//!   eligible agents; at most two offers per request; round robin over every
//!   available agent when the card's pool has nobody eligible; otherwise the fallback.
//!   Round robin moves a per-pool cursor by compare-and-set through the store port,
//!   in the same atomic claim that takes the agent's capacity.

mod choice;
mod directory;
mod engine;

pub use choice::{Choice, Facts, choose, next_in_rotation, pool_agents};
pub use directory::{Directory, DirectoryError};
pub use engine::{
    ALL_AGENTS_POOL, Ending, OfferEnd, RetryPolicy, RouteError, RouteOutcome, Router, Via,
};
