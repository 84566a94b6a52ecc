//! A deterministic simulation of the whole chat under faults (see
//! `docs/simulation.md`). The real handlers ([`livechat_core::service::Chat`]) run
//! on simulated ports; visitors and agents act at random but validly; faults are
//! injected far more often than production would; invariants are checked after
//! every step and at the end. A run is a function of its seed.
//!
//! # Layout
//! - `ctx`: the seeded random source, fault plan and counters, trace, violations.
//! - `store`: the store wrapper (interleaving, store faults, the round-robin check,
//!   the self-test's broken cursor).
//! - `adapters`: push (network faults) and delay queue (late, duplicated,
//!   reordered events, redelivery after a failure).
//! - `clients`: what each visitor's page and agent's tab shows.
//! - `world`: the step loop, the people's choices, frame handling.
//! - `check`: the invariants.
//!
//! Determinism: everything runs on one thread, in a tokio current-thread runtime
//! whose clock is paused (the routing engine's backoff sleeps take no real time),
//! with the core's backoff jitter (fastrand's thread-local source) seeded too; the
//! chat's clock is a [`livechat_core::memory::ManualClock`] from a fixed start;
//! ids the core draws at random (ULIDs) are only ever shown or ordered through
//! aliases given in creation order.

mod adapters;
mod check;
mod clients;
mod ctx;
mod store;
mod world;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use check::KNOWN_BUGS;
pub use ctx::{FaultRates, Violation};
pub use world::START;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Steps per run.
    pub steps: u64,
    /// Visitors (each comes and goes, one page at a time).
    pub visitors: usize,
    /// At most this many people act in one step (their calls run concurrently).
    pub max_batch: usize,
    /// Fault rates.
    pub rates: FaultRates,
    /// The self-test's deliberate bug: round-robin claims write the cursor without
    /// checking its version.
    pub broken_cursor: bool,
    /// Trace lines kept to print.
    pub keep_trace: usize,
    /// The account's `settings.queue_wait_limit`, in seconds (none: no live queue,
    /// as in the demo account).
    pub queue_wait_limit: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            steps: 300,
            visitors: 24,
            max_batch: 6,
            rates: FaultRates::standard(),
            broken_cursor: false,
            keep_trace: 80,
            queue_wait_limit: None,
        }
    }
}

/// What one run did and found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Steps run.
    pub steps: u64,
    /// Handler calls made (`$connect`, frames, `$disconnect`, delayed events).
    pub calls: u64,
    /// Conversations created.
    pub conversations: usize,
    /// Messages acknowledged to their senders.
    pub acked: usize,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Round-robin offers per pool and agent.
    pub offers: BTreeMap<String, BTreeMap<String, u64>>,
    /// Requests that joined the live queue.
    pub queued: u64,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// The last trace lines.
    pub trace: Vec<String>,
    /// A hash of the whole trace: equal for two runs of one seed.
    pub trace_hash: u64,
    /// Trace lines written.
    pub trace_lines: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The `simulate` flags that replay this run's configuration.
    pub flags: String,
}

impl Config {
    /// The `simulate` flags that give this configuration.
    pub fn flags(&self) -> String {
        let standard = FaultRates::standard();
        let scale = self.rates.throttle / standard.throttle;
        let mut flags = format!(
            "--steps {} --visitors {} --batch {}",
            self.steps, self.visitors, self.max_batch
        );
        if FaultRates::scaled(standard, scale) == self.rates && scale != 1.0 {
            flags.push_str(&format!(" --faults {scale}"));
        }
        if let Some(secs) = self.queue_wait_limit {
            flags.push_str(&format!(" --queue {secs}"));
        }
        if self.broken_cursor {
            flags.push_str(" --broken-cursor");
        }
        flags
    }
}

impl Report {
    /// Violations that match no known bug.
    pub fn new_violations(&self) -> Vec<&Violation> {
        self.violations
            .iter()
            .filter(|v| v.known.is_none())
            .collect()
    }

    /// The failure report: the seed, how to replay it, the violations and the end
    /// of the trace.
    pub fn failure(&self) -> String {
        let mut out = format!(
            "seed {} broke {} invariant(s); replay with: cargo run --release -p livechat-tests --bin simulate -- --seed {} {} --trace\n",
            self.seed,
            self.violations.len(),
            self.seed,
            self.flags
        );
        for v in self.violations.iter().take(10) {
            let known = v
                .known
                .map_or(String::new(), |k| format!(" (known bug {k})"));
            out.push_str(&format!(
                "  step {}: {}{known}: {}\n",
                v.step, v.invariant, v.detail
            ));
        }
        out.push_str("last trace lines:\n");
        for line in &self.trace {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Runs one simulation from `seed`.
pub fn run(seed: u64, config: &Config) -> Report {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    // The routing engine draws its backoff jitter from fastrand's thread-local
    // source: seed it too.
    fastrand::seed(seed);
    let ctx = Arc::new(ctx::Ctx::new(seed, config.rates, config.keep_trace));
    let report = runtime.block_on(async {
        let mut world = world::World::new(ctx.clone(), config.clone());
        for _ in 0..config.steps {
            world.step().await;
        }
        world.settle().await;
        check::at_end(&world).await;
        (
            world.calls,
            world.acked.len(),
            world
                .store
                .offers_by_pool()
                .into_iter()
                .map(|(pool, by)| {
                    (
                        pool,
                        by.into_iter().map(|(a, n)| (a.to_string(), n)).collect(),
                    )
                })
                .collect(),
            world.store.queued(),
        )
    });
    let (calls, acked, offers, queued) = report;
    Report {
        seed,
        steps: config.steps,
        calls,
        conversations: ctx.conversations().len(),
        acked,
        faults: ctx.faults(),
        offers,
        queued,
        violations: ctx.violations(),
        trace: ctx.trace_tail(),
        trace_hash: ctx.trace_hash(),
        trace_lines: ctx.trace_len(),
        elapsed: started.elapsed(),
        flags: config.flags(),
    }
}
