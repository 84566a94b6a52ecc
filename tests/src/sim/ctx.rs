//! What the simulator's parts share: the one seeded random source, the fault plan
//! and its counters, the trace, the violations found, and short aliases for ids
//! the core makes at random (conversation ids are ULIDs), so that a trace reads the
//! same on every run of a seed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use livechat_core::domain::ConversationId;

/// Locks a mutex; the simulator runs on one thread, so a poisoned lock only means
/// an earlier panic, which is already reported.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How often each fault is injected, as a probability per opportunity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRates {
    /// A store call fails with `Throttled` before doing anything.
    pub throttle: f64,
    /// A conditional write (replace, claim, append) loses although nothing changed.
    pub conflict: f64,
    /// A store write takes effect, then the handler dies: the caller sees an error
    /// after the write, and the rest of the handler never runs.
    pub crash_after_write: f64,
    /// A push finds the connection gone (the network dropped it).
    pub push_gone: f64,
    /// A push fails for another reason (the frame is lost, the connection stays).
    pub push_error: f64,
    /// API Gateway never sends the `$disconnect` of a closed connection.
    pub lost_disconnect: f64,
    /// A delayed event is delivered late (up to two minutes).
    pub late_event: f64,
    /// A delayed event is delivered twice (the copy up to five minutes later).
    pub duplicate_event: f64,
}

impl FaultRates {
    /// The default plan: far more faults than production, few enough that chats
    /// still get somewhere.
    pub fn standard() -> Self {
        Self {
            throttle: 0.01,
            conflict: 0.03,
            crash_after_write: 0.005,
            push_gone: 0.005,
            push_error: 0.005,
            lost_disconnect: 0.2,
            late_event: 0.05,
            duplicate_event: 0.05,
        }
    }

    /// No faults at all.
    pub fn none() -> Self {
        Self::scaled(Self::standard(), 0.0)
    }

    /// Every rate multiplied by `factor` (capped at 1).
    pub fn scaled(base: Self, factor: f64) -> Self {
        let s = |r: f64| (r * factor).clamp(0.0, 1.0);
        Self {
            throttle: s(base.throttle),
            conflict: s(base.conflict),
            crash_after_write: s(base.crash_after_write),
            push_gone: s(base.push_gone),
            push_error: s(base.push_error),
            lost_disconnect: s(base.lost_disconnect),
            late_event: s(base.late_event),
            duplicate_event: s(base.duplicate_event),
        }
    }
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The step after which it was found.
    pub step: u64,
    /// Which invariant (stable, short).
    pub invariant: &'static str,
    /// What was seen.
    pub detail: String,
    /// The known core bug it matches (see [`super::KNOWN_BUGS`]), if any.
    pub known: Option<&'static str>,
}

/// The shared state of one run.
pub struct Ctx {
    rng: Mutex<fastrand::Rng>,
    /// The fault plan.
    pub rates: FaultRates,
    faults_on: AtomicBool,
    faults: Mutex<BTreeMap<&'static str, u64>>,
    trace: Mutex<Trace>,
    violations: Mutex<Vec<Violation>>,
    step: Mutex<u64>,
    aliases: Mutex<HashMap<ConversationId, String>>,
    /// Connections the network dropped under a push (the client must notice).
    pub dropped: Mutex<Vec<livechat_core::domain::ConnectionId>>,
}

/// The trace: every line is hashed (two runs of a seed must hash the same), the
/// last few are kept to print.
struct Trace {
    keep: usize,
    lines: VecDeque<String>,
    hash: u64,
    count: u64,
}

impl Ctx {
    /// A run from `seed`, injecting `rates`, keeping the last `keep` trace lines.
    pub fn new(seed: u64, rates: FaultRates, keep: usize) -> Self {
        Self {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            rates,
            faults_on: AtomicBool::new(true),
            faults: Mutex::new(BTreeMap::new()),
            trace: Mutex::new(Trace {
                keep,
                lines: VecDeque::new(),
                hash: 0xcbf2_9ce4_8422_2325,
                count: 0,
            }),
            violations: Mutex::new(Vec::new()),
            step: Mutex::new(0),
            aliases: Mutex::new(HashMap::new()),
            dropped: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on the random source.
    pub fn rng<T>(&self, f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        f(&mut lock(&self.rng))
    }

    /// True with probability `p`.
    pub fn chance(&self, p: f64) -> bool {
        p > 0.0 && self.rng(|r| r.f64()) < p
    }

    /// Whether faults are injected now (the final settling runs without).
    pub fn faults_on(&self) -> bool {
        self.faults_on.load(Ordering::Relaxed)
    }

    /// Turns fault injection on or off.
    pub fn set_faults(&self, on: bool) {
        self.faults_on.store(on, Ordering::Relaxed);
    }

    /// Decides whether to inject the fault `kind` at rate `p`; counts and traces it.
    pub fn inject(&self, kind: &'static str, p: f64, what: impl FnOnce() -> String) -> bool {
        if !self.faults_on() || !self.chance(p) {
            return false;
        }
        *lock(&self.faults).entry(kind).or_default() += 1;
        self.trace(format!("  fault {kind}: {}", what()));
        true
    }

    /// Counts a fault the simulation caused on purpose elsewhere.
    pub fn count_fault(&self, kind: &'static str) {
        *lock(&self.faults).entry(kind).or_default() += 1;
    }

    /// Faults injected so far, by kind.
    pub fn faults(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.faults).clone()
    }

    /// Adds a line to the trace.
    pub fn trace(&self, line: String) {
        let mut t = lock(&self.trace);
        for b in line.bytes().chain(std::iter::once(b'\n')) {
            t.hash ^= u64::from(b);
            t.hash = t.hash.wrapping_mul(0x0100_0000_01b3);
        }
        t.count += 1;
        t.lines.push_back(line);
        while t.lines.len() > t.keep {
            t.lines.pop_front();
        }
    }

    /// The last trace lines kept.
    pub fn trace_tail(&self) -> Vec<String> {
        lock(&self.trace).lines.iter().cloned().collect()
    }

    /// A hash of every trace line so far.
    pub fn trace_hash(&self) -> u64 {
        lock(&self.trace).hash
    }

    /// The number of trace lines so far.
    pub fn trace_len(&self) -> u64 {
        lock(&self.trace).count
    }

    /// The current step.
    pub fn step(&self) -> u64 {
        *lock(&self.step)
    }

    /// Moves to the next step.
    pub fn next_step(&self) -> u64 {
        let mut s = lock(&self.step);
        *s += 1;
        *s
    }

    /// Records a broken invariant.
    pub fn violate(&self, invariant: &'static str, detail: String) {
        let step = self.step();
        let detail = self.scrub(&detail);
        let known = super::check::known_bug(invariant, &detail);
        let label = known.map_or(String::new(), |k| format!(" (known bug {k})"));
        self.trace(format!("  VIOLATION{label} {invariant}: {detail}"));
        lock(&self.violations).push(Violation {
            step,
            invariant,
            detail,
            known,
        });
    }

    /// The violations so far.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.violations).clone()
    }

    /// A short name for a conversation (`c1`, `c2`... in order of first sight).
    pub fn alias(&self, id: &ConversationId) -> String {
        let mut aliases = lock(&self.aliases);
        let n = aliases.len() + 1;
        aliases
            .entry(id.clone())
            .or_insert_with(|| format!("c{n}"))
            .clone()
    }

    /// Every conversation id seen, in order of first sight.
    pub fn conversations(&self) -> Vec<ConversationId> {
        let aliases = lock(&self.aliases);
        let mut all: Vec<(u64, ConversationId)> = aliases
            .iter()
            .map(|(c, a)| (a[1..].parse().unwrap_or(u64::MAX), c.clone()))
            .collect();
        all.sort();
        all.into_iter().map(|(_, c)| c).collect()
    }

    /// `text` with every ULID-like word (ids the core draws at random) replaced:
    /// a known conversation by its alias, anything else by `<ulid>`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            if word.len() == 26 && word.chars().all(|c| c.is_ascii_alphanumeric()) {
                let known = lock(&self.aliases)
                    .iter()
                    .find(|(c, _)| c.as_str() == word)
                    .map(|(_, a)| a.clone());
                out.push_str(&known.unwrap_or_else(|| "<ulid>".into()));
            } else {
                out.push_str(word);
            }
            word.clear();
        };
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                out.push(c);
            }
        }
        flush(&mut word, &mut out);
        out
    }

    /// The creation rank of a conversation, for orders that must not depend on its
    /// random id.
    pub fn rank(&self, id: &ConversationId) -> u64 {
        self.alias(id)
            .trim_start_matches('c')
            .parse()
            .unwrap_or(u64::MAX)
    }

    /// A delayed event with aliases for its conversation.
    pub fn event(&self, event: &livechat_core::ports::DelayedEvent) -> String {
        use livechat_core::ports::DelayedEvent as E;
        match event {
            E::Route { conversation } => format!("route {}", self.alias(conversation)),
            E::Settle { conversation } => format!("settle {}", self.alias(conversation)),
            E::QueueCheck => "queue_check".to_string(),
            E::QueueExpired { conversation } => {
                format!("queue_expired {}", self.alias(conversation))
            }
            E::OfferTimeout {
                conversation,
                agent,
                version,
            } => format!(
                "offer_timeout {} {agent} v{version}",
                self.alias(conversation)
            ),
            E::TransferTimeout {
                conversation,
                agent,
                version,
            } => format!(
                "transfer_timeout {} {agent} v{version}",
                self.alias(conversation)
            ),
            E::InactivityCheck { conversation } => {
                format!("inactivity_check {}", self.alias(conversation))
            }
            E::AgentGrace { agent, .. } => format!("agent_grace {agent}"),
            E::VisitorGrace { visitor, .. } => format!("visitor_grace {visitor}"),
            E::CheckGone { party, .. } => match party {
                livechat_core::ports::Party::Agent { agent } => format!("check_gone {agent}"),
                livechat_core::ports::Party::Visitor { visitor } => {
                    format!("check_gone {visitor}")
                }
            },
        }
    }
}
