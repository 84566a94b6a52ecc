//! Recording analytics from stored changes: the one place events meet the store.
//! A change of a stored item (a DynamoDB Streams record's old and new image; the
//! in-memory store's own report of a write) gives its events; each conversation's
//! events are merged into its sheet, and the sheet is written back with the
//! counters' difference in one compare-and-set, retried from a fresh read when
//! another writer got in first. A change recorded twice (a redelivered stream
//! batch, a retried invocation) merges facts the sheet holds already: nothing
//! changes. Off the hot path: no request of a chat waits on it.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::day::Zones;
use super::event::{Event, events_of_conversation, events_of_message, events_of_session};
use crate::domain::{Conversation, ConversationId, Message, TimeZoneName};
use crate::ports::{CasOutcome, Store, StoreError, StoreResult, VisitorSession};

/// Writes of one conversation's sheet tried before giving up (the batch then fails
/// and is delivered again).
const SHEET_ATTEMPTS: u32 = 16;

/// A change of a stored item: what it was before and is after (`None`: absent).
#[derive(Debug, Clone)]
pub enum Change {
    /// A conversation (its `META` item).
    Conversation {
        /// Before.
        old: Option<Box<Conversation>>,
        /// After.
        new: Option<Box<Conversation>>,
    },
    /// A message (`MSG#…`).
    Message {
        /// Before.
        old: Option<Box<Message>>,
        /// After.
        new: Option<Box<Message>>,
    },
    /// A visitor session (the dialog funnel).
    Session {
        /// Before.
        old: Option<Box<VisitorSession>>,
        /// After.
        new: Option<Box<VisitorSession>>,
    },
    /// An agent's routing state (`AGENT#…/STATE`: connections, availability
    /// toggle, capacity) was written. No events: it tells the live view
    /// ([`crate::analytics::live`]) to look at the agents again.
    Agent {
        /// The agent.
        agent: crate::domain::AgentId,
    },
}

impl Change {
    /// The change's events (docs/analytics.md).
    pub fn events(&self) -> Vec<Event> {
        match self {
            Self::Conversation { old, new } => {
                events_of_conversation(old.as_deref(), new.as_deref())
            }
            Self::Message { old, new } => events_of_message(old.as_deref(), new.as_deref()),
            Self::Session { old, new } => events_of_session(old.as_deref(), new.as_deref()),
            Self::Agent { .. } => Vec::new(),
        }
    }
}

/// The account's zones over time from the recorded changes (UTC when none).
pub fn zones_of(changes: &[(Timestamp, TimeZoneName)]) -> Zones {
    let Some(((_, first), rest)) = changes.split_first() else {
        return Zones::default();
    };
    rest.iter()
        .fold(Zones::new(first.zone()), |zones, (at, zone)| {
            zones.changed(*at, zone.zone())
        })
}

/// Records `changes` into the store's sheets and counters. `zone` is the
/// account's zone now (`settings.time_zone`, UTC when unset): when it is not the
/// last one recorded, it is recorded as in force from `now`, so the days counted
/// before keep their zone. Returns the number of events recorded.
pub async fn record(
    store: &dyn Store,
    changes: &[Change],
    zone: Option<&TimeZoneName>,
    now: Timestamp,
) -> StoreResult<usize> {
    record_each(store, changes, zone, now)
        .await
        .map_err(|failed| failed.error)
}

/// Why [`record_each`] stopped short: the first change whose conversation could
/// not be recorded, so that a stream consumer asks for the batch again from there
/// (every change before it is recorded; those after it may be, and recording them
/// again changes nothing).
#[derive(Debug)]
pub struct Unrecorded {
    /// The index in `changes` of the first change not known to be recorded.
    pub first: usize,
    /// The first failure met.
    pub error: StoreError,
}

/// [`record`], conversation by conversation: one whose sheet cannot be written
/// does not keep the others from being recorded, and the failure names the
/// earliest change of the conversations that failed.
pub async fn record_each(
    store: &dyn Store,
    changes: &[Change],
    zone: Option<&TimeZoneName>,
    now: Timestamp,
) -> Result<usize, Unrecorded> {
    // Each conversation's events, with the index of its first change.
    let mut by_conversation: BTreeMap<ConversationId, (usize, Vec<Event>)> = BTreeMap::new();
    for (index, change) in changes.iter().enumerate() {
        for event in change.events() {
            by_conversation
                .entry(event.conversation().clone())
                .or_insert_with(|| (index, Vec::new()))
                .1
                .push(event);
        }
    }
    if by_conversation.is_empty() {
        return Ok(0);
    }
    let zones = current_zones(store, zone, now)
        .await
        .map_err(|error| Unrecorded { first: 0, error })?;
    let mut recorded = 0;
    let mut failed: Option<Unrecorded> = None;
    for (conversation, (first, events)) in &by_conversation {
        match record_conversation(store, conversation, events, &zones).await {
            Ok(()) => recorded += events.len(),
            Err(error) => match &mut failed {
                None => {
                    failed = Some(Unrecorded {
                        first: *first,
                        error,
                    })
                }
                Some(failed) => failed.first = failed.first.min(*first),
            },
        }
    }
    match failed {
        None => Ok(recorded),
        Some(failed) => Err(failed),
    }
}

async fn current_zones(
    store: &dyn Store,
    zone: Option<&TimeZoneName>,
    now: Timestamp,
) -> StoreResult<Zones> {
    let mut changes = store.zone_changes().await?;
    let utc = TimeZoneName::parse("UTC").map_err(|e| StoreError::Corrupt {
        key: "UTC".into(),
        reason: e.to_string(),
    })?;
    let zone = zone.unwrap_or(&utc);
    if changes.last().map(|(_, z)| z) != Some(zone) {
        store.add_zone_change(now, zone).await?;
        changes.push((now, zone.clone()));
    }
    Ok(zones_of(&changes))
}

async fn record_conversation(
    store: &dyn Store,
    conversation: &ConversationId,
    events: &[Event],
    zones: &Zones,
) -> StoreResult<()> {
    for _ in 0..SHEET_ATTEMPTS {
        let (mut sheet, version) = store.sheet(conversation).await?;
        let before = sheet.clone();
        let mut deltas = crate::analytics::Table::default();
        for event in events {
            for (day, bucket, counters) in sheet.apply(event, zones) {
                deltas.add(day, bucket, &counters, 1);
            }
        }
        if sheet == before {
            // Every fact was recorded before: a redelivery.
            return Ok(());
        }
        let deltas: Vec<_> = deltas
            .cells()
            .map(|((day, bucket), counters)| (*day, bucket.clone(), *counters))
            .collect();
        match store
            .save_sheet(conversation, &sheet, version, &deltas)
            .await?
        {
            CasOutcome::Written => return Ok(()),
            CasOutcome::Conflict => continue,
        }
    }
    Err(StoreError::Unavailable(
        format!("the analytics sheet of {conversation} kept changing").into(),
    ))
}

/// What the `analytics` function does with a batch of changes (and the local
/// gateway with its store's): records them ([`record_each`]) in the zone the
/// directory names now.
pub async fn consume(
    store: &dyn Store,
    changes: &[Change],
    now: Timestamp,
) -> Result<usize, Unrecorded> {
    if changes.is_empty() {
        return Ok(0);
    }
    let directory = store
        .directory()
        .await
        .map_err(|error| Unrecorded { first: 0, error })?;
    record_each(store, changes, directory.settings.time_zone.as_ref(), now).await
}
