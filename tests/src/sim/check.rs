//! The invariants, read from the store itself (not through the faults) and from
//! what each person's screen shows.
//!
//! After every step (all handler calls of the step have returned):
//! - `agent_limit`: no agent holds, or ever held, more chats than their limit;
//! - `one_agent_per_chat`: an offered or live chat is held by the one agent its
//!   state names (the claim took that agent's capacity), and an agent told a chat
//!   is theirs (`chat_started`) is the one it is with;
//! - `capacity_leak`: no agent holds capacity for a chat that does not name them
//!   (this and `actionable` wait while the conversation's `Settle` is queued: a
//!   change of several writes queues one first, to repair what dying part-way
//!   leaves, so a leak or a missing follow-up then is only a violation if it
//!   outlives the settle);
//! - `actionable`: every conversation is in a state someone can act on: waiting
//!   with a routing request queued; offered with its offer timeout queued; live
//!   with its inactivity check queued and its agent connected or their grace
//!   timer (or the check that starts it) queued; ended, and on the missed list
//!   when nobody took it;
//! - checked as frames arrive: `messages_match_the_store` (every message shown is
//!   the stored one with that number, so nobody is shown a message out of order or
//!   twice under one number), `visitors_see_only_their_chats`,
//!   `acked_messages_are_stored`, and, as each round-robin claim lands,
//!   `round_robin_fair`, and as each offer of a queued request lands,
//!   `queue_order` (with a live queue: no request queued before it is still
//!   waiting and could take the agent);
//! - with a live queue, `actionable` also takes a request waiting with its queue
//!   expiry (`QueueExpired`) queued for one someone can act on.
//!
//! At the end, after every client resynced: `acked_messages_reach_the_other_side`:
//! each live chat's visitor page and agent tabs show exactly the stored messages,
//! 1, 2, 3... with nothing missing, and every acknowledged message is stored.

use std::collections::BTreeSet;

use livechat_core::domain::{ConversationId, ConversationState, EndReason};
use livechat_core::memory::MemoryStore;
use livechat_core::ports::{ConnectionStore, ConversationStore, DelayedEvent, Party, RoutingStore};

use super::ctx::lock;
use super::world::World;

/// Core bugs the simulation found and reported, not fixed yet: a violation that
/// matches one (its invariant and a phrase of its detail) is counted apart, so that
/// every run still fails on anything new. Remove an entry once its bug is fixed;
/// `tests/tests/simulation.rs` replays a seed of each.
pub const KNOWN_BUGS: &[(&str, &str, &str)] =
    &[("B14", "queue_order", "queued before it and waiting")];

/// The known bug a violation matches, if any.
pub fn known_bug(invariant: &str, detail: &str) -> Option<&'static str> {
    KNOWN_BUGS
        .iter()
        .find(|(_, i, phrase)| *i == invariant && detail.contains(phrase))
        .map(|(id, _, _)| *id)
}

fn once(world: &World, key: String) -> bool {
    lock(&world.reported).insert(key)
}

/// The conversations created so far, in creation order.
async fn conversations(world: &World) -> Vec<livechat_core::domain::Conversation> {
    let mut out = Vec::new();
    for id in world.ctx.conversations() {
        if let Ok(Some(c)) = world.store.truth().conversation(&id).await {
            out.push(c);
        }
    }
    out
}

/// The invariants that hold between steps.
pub async fn after_step(world: &World) {
    let truth: &MemoryStore = world.store.truth();
    let pending: Vec<DelayedEvent> = world
        .scheduler
        .pending()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let queued = |wanted: &dyn Fn(&DelayedEvent) -> bool| pending.iter().any(wanted);
    let missed: BTreeSet<ConversationId> = truth
        .missed_since(jiff::Timestamp::UNIX_EPOCH, None, usize::MAX)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(c, _)| c)
        .collect();

    // A connection the network just dropped gets its `$disconnect` next step.
    let dropping = world.agents_dropping();
    let mut held = Vec::new();
    for agent in &world.directory.agents {
        let chats = truth.agent_chats(&agent.id).await.unwrap_or_default();
        let limit = agent.chat_limit.get();
        let peak = truth.peak_load(&agent.id);
        if (chats.len() as u32 > limit || peak > limit)
            && once(world, format!("limit {}", agent.id))
        {
            world.ctx.violate(
                "agent_limit",
                format!(
                    "{} holds {} chats (peak {peak}), limit {limit}",
                    agent.id,
                    chats.len()
                ),
            );
        }
        held.push((agent.id.clone(), chats));
    }

    for conv in conversations(world).await {
        let c = world.ctx.alias(conv.id());
        let holders: Vec<_> = held
            .iter()
            .filter(|(_, chats)| chats.contains(conv.id()))
            .map(|(a, _)| a.clone())
            .collect();
        let named = conv.agent();
        // A conversation with its settle queued is mid-change or being repaired
        // (`DelayedEvent::Settle`, a few seconds after the change began): its
        // leaks and missing follow-ups are the settle's to fix, and the checks of
        // later steps (and of the end) see whether it did.
        let settling = queued(
            &|e| matches!(e, DelayedEvent::Settle { conversation } if conversation == conv.id()),
        );
        // A routing request delivered again re-issues what a routing that died
        // after its write left undone (the offer timeout, the missed-list entry).
        // A queued request's expiry routes it the same way.
        let routing = queued(
            &|e| matches!(e, DelayedEvent::Route { conversation } | DelayedEvent::QueueExpired { conversation } if conversation == conv.id()),
        );
        if let Some(agent) = named
            && !holders.contains(agent)
            && once(world, format!("unheld {c} {agent}"))
        {
            world.ctx.violate(
                "one_agent_per_chat",
                format!(
                    "{c} is {} with {agent}, who does not hold it (holders: {holders:?})",
                    conv.state().name()
                ),
            );
        }
        for holder in holders.iter().filter(|h| Some(*h) != named && !settling) {
            if once(world, format!("leak {c} {holder}")) {
                world.ctx.violate(
                    "capacity_leak",
                    format!(
                        "{holder} still holds {c}, which is {}{}",
                        conv.state().name(),
                        named.map_or(String::new(), |a| format!(" with {a}"))
                    ),
                );
            }
        }
        let problem = match &conv.state() {
            ConversationState::Bot => None,
            // A queued request waits on its expiry (or the next freed slot),
            // which `routing` counts.
            ConversationState::Waiting { .. } => (!routing).then(|| {
                "waits with no routing request (nor, queued, its expiry) queued".to_string()
            }),
            ConversationState::Offered { agent, .. } => (!routing
                && !queued(&|e| {
                    matches!(e, DelayedEvent::OfferTimeout { conversation, agent: to, version }
                    if conversation == conv.id() && to == agent && *version == conv.version())
                }))
            .then(|| format!("offered to {agent} with no offer timeout queued")),
            ConversationState::Live { agent, .. } => {
                let checked = queued(
                    &|e| matches!(e, DelayedEvent::InactivityCheck { conversation } if conversation == conv.id()),
                );
                let party = Party::Agent {
                    agent: agent.clone(),
                };
                // A record past its expiry counts until the core is told the
                // connection went: its `$disconnect` was lost, and the next push to
                // it (a message) finds it gone and starts the grace.
                let connected = !truth
                    .connections_of(&party, jiff::Timestamp::MIN)
                    .await
                    .unwrap_or_default()
                    .is_empty();
                // Only a timer for this absence: one started by an earlier
                // disconnection does nothing once the agent came back.
                let connects = truth
                    .presence(&party, jiff::Timestamp::MIN)
                    .await
                    .map(|p| p.connects)
                    .unwrap_or_default();
                // A check queued by a disconnection that left the agent another
                // connection starts the grace when it finds none (B12).
                let grace = dropping.contains(agent)
                    || queued(&|e| match e {
                        DelayedEvent::AgentGrace {
                            agent: a,
                            connects: n,
                        } => a == agent && n.is_none_or(|n| n == connects),
                        DelayedEvent::CheckGone {
                            party: p,
                            connects: n,
                        } => *p == party && *n == connects,
                        _ => false,
                    });
                if !checked {
                    Some(format!("live with {agent} with no inactivity check queued"))
                } else if !connected && !grace {
                    Some(format!(
                        "live with {agent}, who has no connection and no grace timer queued"
                    ))
                } else {
                    None
                }
            }
            ConversationState::Ended { reason, .. } => {
                let unanswered = matches!(reason, EndReason::Missed | EndReason::Fallback);
                (unanswered && !missed.contains(conv.id()) && !routing)
                    .then(|| format!("ended {reason:?} but not on the missed list"))
            }
        };
        if let Some(problem) = problem
            && !settling
            && once(world, format!("actionable {c} {}", conv.state().name()))
        {
            world.ctx.violate("actionable", format!("{c} {problem}"));
        }
    }
}

/// The invariants checked once the run settled.
pub async fn at_end(world: &World) {
    after_step(world).await;
    analytics_equal_their_recomputation(world).await;
    let truth = world.store.truth();
    for ack in &world.acked {
        let log = truth.messages(&ack.conversation).await.unwrap_or_default();
        if !log.iter().any(|m| m.id.as_str() == ack.id) {
            world.ctx.violate(
                "acked_messages_reach_the_other_side",
                format!(
                    "{} was acknowledged in {} and is not stored",
                    ack.id,
                    world.ctx.alias(&ack.conversation)
                ),
            );
        }
    }
    for conv in conversations(world).await {
        let ConversationState::Live { agent, .. } = &conv.state() else {
            continue;
        };
        let c = world.ctx.alias(conv.id());
        let log: Vec<String> = truth
            .messages(conv.id())
            .await
            .unwrap_or_default()
            .iter()
            .map(|m| format!("#{} {}", m.seq, m.id))
            .collect();
        let shown = |messages: &std::collections::BTreeMap<u64, livechat_core::domain::Message>| {
            messages
                .values()
                .map(|m| format!("#{} {}", m.seq, m.id))
                .collect::<Vec<_>>()
        };
        for v in &world.visitors {
            let Some(page) = &v.page else { continue };
            if page.conversation.as_ref() != Some(conv.id()) {
                continue;
            }
            let seen = shown(&page.view.messages);
            if seen != log {
                world.ctx.violate(
                    "acked_messages_reach_the_other_side",
                    format!(
                        "{c}: {}'s page shows {seen:?}, the store holds {log:?}",
                        v.name
                    ),
                );
            }
        }
        let rank = world.ctx.rank(conv.id());
        for tab in world.shown_live(agent) {
            match tab.live.get(&rank) {
                Some((_, view)) => {
                    let seen = shown(&view.messages);
                    if seen != log {
                        world.ctx.violate(
                            "acked_messages_reach_the_other_side",
                            format!(
                                "{c}: {agent}'s tab {} shows {seen:?}, the store holds {log:?}",
                                tab.conn
                            ),
                        );
                    }
                }
                None => world.ctx.violate(
                    "acked_messages_reach_the_other_side",
                    format!(
                        "{c} is live with {agent}, whose tab {} does not show it",
                        tab.conn
                    ),
                ),
            }
        }
    }
}

/// The analytics recorded from every change the run made to the store (each
/// conversation, message and session write that took effect, crashes and retries
/// included; a fifth of the batches delivered twice, as a stream may) equal the
/// metrics recomputed from the final conversations, their transcripts and each
/// walk's last session, without events (docs/analytics.md). The live view's
/// index kept from the same batches holds exactly the final conversations that
/// are waiting or offered (`live_index_is_the_waiting_conversations`).
async fn analytics_equal_their_recomputation(world: &World) {
    use livechat_core::analytics::{Change, Day, Zones, recompute, record};
    use livechat_core::ports::AnalyticsStore;
    let truth = world.store.truth();
    let changes = truth.take_changes();
    let finals = conversations(world).await;
    let mut messages = Vec::new();
    for c in &finals {
        messages.extend(truth.messages(c.id()).await.unwrap_or_default());
    }
    let mut walks = std::collections::BTreeMap::new();
    for change in &changes {
        if let Change::Session {
            new: Some(session), ..
        } = change
        {
            walks.insert(session.conversation.clone(), (**session).clone());
        }
    }
    let sessions: Vec<_> = walks.into_values().collect();
    let expected = recompute(&finals, &messages, &sessions, &Zones::default());

    let recorded = MemoryStore::new();
    let mut redeliver = fastrand::Rng::with_seed(changes.len() as u64);
    let at = jiff::Timestamp::UNIX_EPOCH;
    for batch in changes.chunks(7) {
        let again = redeliver.u8(0..5) == 0;
        for _ in 0..if again { 2 } else { 1 } {
            if let Err(e) = record(&recorded, batch, None, at).await {
                world.ctx.violate(
                    "analytics_equal_their_recomputation",
                    format!("record: {e}"),
                );
                return;
            }
            if let Err(e) = livechat_core::analytics::live::update_index(&recorded, batch).await {
                world.ctx.violate(
                    "live_index_is_the_waiting_conversations",
                    format!("update_index: {e}"),
                );
                return;
            }
        }
    }
    let mut indexed = recorded.live_entries(at).await.unwrap_or_default();
    indexed.sort_by(|a, b| a.conversation.cmp(&b.conversation));
    let mut waiting: Vec<_> = finals
        .iter()
        .filter_map(livechat_core::analytics::live::LiveEntry::of)
        .collect();
    waiting.sort_by(|a, b| a.conversation.cmp(&b.conversation));
    if indexed != waiting {
        world.ctx.violate(
            "live_index_is_the_waiting_conversations",
            format!("the live index holds {indexed:?}, the waiting and offered conversations are {waiting:?}"),
        );
    }
    let (from, to) = ("1970-01-01".parse::<Day>(), "2200-01-01".parse::<Day>());
    let (Ok(from), Ok(to)) = (from, to) else {
        return;
    };
    let got = recorded.counters(from, to).await.unwrap_or_default();
    if got != expected {
        let cells = |t: &livechat_core::analytics::Table| {
            t.cells()
                .map(|(k, c)| (k.clone(), *c))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let (got, expected) = (cells(&got), cells(&expected));
        let differs = got
            .keys()
            .chain(expected.keys())
            .find(|k| got.get(*k) != expected.get(*k))
            .cloned();
        world.ctx.violate(
            "analytics_equal_their_recomputation",
            format!(
                "the recorded counters differ from the recomputation, first at {differs:?}: recorded {:?}, recomputed {:?}",
                differs.as_ref().and_then(|k| got.get(k)),
                differs.as_ref().and_then(|k| expected.get(k))
            ),
        );
    }
}
