//! Counters built by applying events. An event whose key was applied is ignored;
//! the others are merged into their conversation's sheet (what is known of it so
//! far), and the counters change by the sheet's contribution after the event minus
//! its contribution before. A sheet only grows, and its contribution is a function
//! of what it holds, so the counters are the same whatever the order the events
//! come in (a stream's records of a conversation's hub, its messages and its
//! visitor's session are not ordered with each other) and however often each
//! comes.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::counters::{Bucket, Counters, Mean, Table};
use super::day::{Day, Zones};
use super::event::Event;
use crate::domain::{AgentId, CardId, ConversationId, DialogId, OfferOutcome, StintStart, TeamId};

/// What is known of one stint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct StintFacts {
    start: Option<(AgentId, StintStart, Timestamp)>,
    until: Option<Timestamp>,
}

/// What is known of one conversation: the facts of its events applied so far. A
/// store keeps one per conversation (with the keys applied) and, for each new
/// event, writes the sheet back and adds [`Sheet::apply`]'s difference to its
/// per-day counters. Its agents' messages are kept (their times), since one that
/// arrives late may be a stint's first reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sheet {
    triggered: Option<(DialogId, Timestamp)>,
    requested: Option<(DialogId, Option<TeamId>, Timestamp)>,
    offers: BTreeMap<usize, (AgentId, OfferOutcome)>,
    stints: BTreeMap<usize, StintFacts>,
    unanswered: Option<bool>,
    /// The score of the highest version seen, with the agent it counts for.
    score: Option<(u64, Option<AgentId>, u8)>,
    /// Agents' messages by sequence number: the author and the time.
    agent_messages: BTreeMap<u64, (AgentId, Timestamp)>,
    engaged: bool,
    completed: bool,
    goals: BTreeSet<CardId>,
    email_captured: bool,
}

impl Sheet {
    /// Merges `event` into the sheet and returns how the counters change: the
    /// contribution after minus the one before, per (day, bucket), without zeros.
    /// Merging a fact the sheet holds already changes nothing.
    pub fn apply(&mut self, event: &Event, zones: &Zones) -> Vec<(Day, Bucket, Counters)> {
        let mut delta: BTreeMap<(Day, Bucket), Counters> = BTreeMap::new();
        for (day, bucket, counters) in self.contribution(zones) {
            delta.entry((day, bucket)).or_default().add(&counters, -1);
        }
        self.merge(event);
        for (day, bucket, counters) in self.contribution(zones) {
            delta.entry((day, bucket)).or_default().add(&counters, 1);
        }
        delta
            .into_iter()
            .filter(|(_, counters)| !counters.is_zero())
            .map(|((day, bucket), counters)| (day, bucket, counters))
            .collect()
    }

    fn merge(&mut self, event: &Event) {
        match event {
            Event::Triggered { dialog, at, .. } => {
                self.triggered = Some((dialog.clone(), *at));
            }
            Event::Requested {
                dialog, team, at, ..
            } => self.requested = Some((dialog.clone(), team.clone(), *at)),
            Event::OfferEnded {
                index,
                agent,
                outcome,
                ..
            } => {
                self.offers.insert(*index, (agent.clone(), *outcome));
            }
            Event::StintStarted {
                index,
                agent,
                via,
                at,
                ..
            } => {
                self.stints.entry(*index).or_default().start = Some((agent.clone(), *via, *at));
            }
            Event::StintEnded { index, at, .. } => {
                self.stints.entry(*index).or_default().until = Some(*at);
            }
            Event::Unanswered { missed, .. } => self.unanswered = Some(*missed),
            Event::Scored {
                version,
                agent,
                score,
                ..
            } => {
                if self.score.as_ref().is_none_or(|(v, _, _)| v < version) {
                    self.score = Some((*version, agent.clone(), *score));
                }
            }
            Event::AgentMessage { seq, agent, at, .. } => {
                self.agent_messages.insert(*seq, (agent.clone(), *at));
            }
            Event::Engaged { .. } => self.engaged = true,
            Event::Completed { .. } => self.completed = true,
            Event::GoalReached { card, .. } => {
                self.goals.insert(card.clone());
            }
            Event::EmailCaptured { .. } => self.email_captured = true,
        }
    }

    /// What the sheet counts, per (day, bucket).
    fn contribution(&self, zones: &Zones) -> Vec<(Day, Bucket, Counters)> {
        let mut out = Vec::new();
        if let Some((dialog, at)) = &self.triggered {
            let funnel = Counters {
                triggered: 1,
                engaged: i64::from(self.engaged),
                completed: i64::from(self.completed),
                goals_reached: i64::try_from(self.goals.len()).unwrap_or(i64::MAX),
                emails_captured: i64::from(self.email_captured),
                ..Counters::default()
            };
            spread(&mut out, zones.day(*at), dialog, None, None, funnel);
        }
        let Some((dialog, team, requested_at)) = &self.requested else {
            return out;
        };
        let day = zones.day(*requested_at);
        let mut count = |agent: Option<&AgentId>, counters: Counters| {
            spread(&mut out, day, dialog, team.as_ref(), agent, counters);
        };
        count(
            None,
            Counters {
                requested: 1,
                missed: i64::from(self.unanswered == Some(true)),
                abandoned: i64::from(self.unanswered == Some(false)),
                ..Counters::default()
            },
        );
        if let Some(StintFacts {
            start: Some((agent, StintStart::Accepted, at)),
            ..
        }) = self.stints.get(&0)
        {
            count(
                Some(agent),
                Counters {
                    connected: 1,
                    time_to_accept: Mean::of(millis(*at, *requested_at)),
                    ..Counters::default()
                },
            );
        }
        for (agent, outcome) in self.offers.values() {
            let counters = Counters {
                offers_declined: i64::from(*outcome == OfferOutcome::Declined),
                offers_timed_out: i64::from(*outcome == OfferOutcome::TimedOut),
                ..Counters::default()
            };
            count(Some(agent), counters);
        }
        for (index, stint) in &self.stints {
            let Some((agent, via, from)) = &stint.start else {
                continue;
            };
            // A transfer: given by the agent of the stint before, once it is known.
            let giver = (*via == StintStart::Transferred)
                .then(|| index.checked_sub(1))
                .flatten()
                .and_then(|before| self.stints.get(&before))
                .and_then(|s| s.start.as_ref())
                .map(|(giver, ..)| giver.clone());
            if let Some(giver) = giver {
                count(
                    Some(&giver),
                    Counters {
                        transfers_given: 1,
                        ..Counters::default()
                    },
                );
            }
            let reply = self
                .agent_messages
                .values()
                .filter(|(by, at)| {
                    by == agent && at >= from && stint.until.is_none_or(|until| *at <= until)
                })
                .map(|(_, at)| *at)
                .min();
            count(
                Some(agent),
                Counters {
                    picked_up: i64::from(*via == StintStart::PickedUp),
                    transfers_received: i64::from(*via == StintStart::Transferred),
                    first_response: reply
                        .map_or_else(Mean::default, |at| Mean::of(millis(at, *from))),
                    chat_length: stint
                        .until
                        .map_or_else(Mean::default, |until| Mean::of(millis(until, *from))),
                    ..Counters::default()
                },
            );
        }
        if let Some((_, agent, score)) = &self.score {
            count(
                agent.as_ref(),
                Counters {
                    score: Mean::of(i64::from(*score)),
                    ..Counters::default()
                },
            );
        }
        out
    }
}

/// `later - earlier` in milliseconds.
pub(crate) fn millis(later: Timestamp, earlier: Timestamp) -> i64 {
    later
        .as_millisecond()
        .saturating_sub(earlier.as_millisecond())
}

/// Counts `counters` in the day's total and under each dimension's value.
fn spread(
    out: &mut Vec<(Day, Bucket, Counters)>,
    day: Day,
    dialog: &DialogId,
    team: Option<&TeamId>,
    agent: Option<&AgentId>,
    counters: Counters,
) {
    if counters.is_zero() {
        return;
    }
    for bucket in [
        Bucket::All,
        Bucket::Dialog(dialog.clone()),
        Bucket::Team(team.cloned()),
        Bucket::Agent(agent.cloned()),
    ] {
        out.push((day, bucket, counters));
    }
}

/// The counters of every event applied so far, with what it takes to apply the
/// next one exactly: the keys applied and each conversation's sheet.
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    zones: Zones,
    applied: BTreeSet<String>,
    sheets: BTreeMap<ConversationId, Sheet>,
    table: Table,
}

impl Aggregates {
    /// No event yet; days in `zones`.
    pub fn new(zones: Zones) -> Self {
        Self {
            zones,
            ..Self::default()
        }
    }

    /// Applies one event: `false` when its key was applied already (nothing
    /// changes), `true` otherwise.
    pub fn apply(&mut self, event: &Event) -> bool {
        if !self.applied.insert(event.key()) {
            return false;
        }
        let sheet = self.sheets.entry(event.conversation().clone()).or_default();
        for (day, bucket, counters) in sheet.apply(event, &self.zones) {
            self.table.add(day, bucket, &counters, 1);
        }
        true
    }

    /// The counters per (day, bucket).
    pub fn table(&self) -> &Table {
        &self.table
    }
}
