//! Counters per (day, dimension value), and the rows a report shows. Every average
//! is a sum and a count, so a range (the sum of its days) and any roll-up are exact,
//! and it is divided in one place, [`Mean::value`], for the chart, the table and the
//! CSV alike.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::day::Day;
use crate::domain::{AgentId, DialogId, TeamId};

/// A sum and how many values it holds: milliseconds for the times, points for the
/// score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mean {
    /// The values' sum.
    pub sum: i64,
    /// How many values.
    pub count: i64,
}

impl Mean {
    /// One value.
    pub fn of(value: i64) -> Self {
        Self {
            sum: value,
            count: 1,
        }
    }

    /// The average, `sum / count` rounded to the nearest unit (half away from
    /// zero), in units of `1 / scale` (`scale` 1: whole milliseconds; 100: hundredths
    /// of a point). `None` when there is no value.
    pub fn value(&self, scale: i64) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        let (num, den) = (
            i128::from(self.sum) * i128::from(scale),
            i128::from(self.count),
        );
        let rounded = (2 * num + num.signum() * den) / (2 * den);
        i64::try_from(rounded).ok()
    }

    fn add(&mut self, other: &Mean, sign: i64) {
        self.sum += sign * other.sum;
        self.count += sign * other.count;
    }
}

/// Every metric of docs/analytics.md for one bucket: counts, and means as sum +
/// count. Signed so that a change of a conversation's contribution is a
/// difference; every field is 0 or more once a conversation's events are applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Chats requested.
    pub requested: i64,
    /// Chats connected.
    pub connected: i64,
    /// Chats missed.
    pub missed: i64,
    /// Missed chats picked up.
    pub picked_up: i64,
    /// Chats abandoned while waiting.
    pub abandoned: i64,
    /// Offers declined.
    pub offers_declined: i64,
    /// Offers timed out.
    pub offers_timed_out: i64,
    /// Transfers given: the chat's agent handed it on and the receiver accepted.
    #[serde(default)]
    pub transfers_given: i64,
    /// Transfers received: the agent accepted a chat another agent handed on.
    #[serde(default)]
    pub transfers_received: i64,
    /// Time to accept, ms.
    pub time_to_accept: Mean,
    /// First response time, ms.
    pub first_response: Mean,
    /// Chat length, ms.
    pub chat_length: Mean,
    /// Conversation score, points.
    pub score: Mean,
    /// Dialogs triggered.
    pub triggered: i64,
    /// Dialogs engaged.
    pub engaged: i64,
    /// Dialogs completed.
    pub completed: i64,
    /// Goals reached.
    pub goals_reached: i64,
    /// Emails captured.
    pub emails_captured: i64,
}

impl Counters {
    /// Adds `other` times `sign` (1 to add, -1 to take away).
    pub fn add(&mut self, other: &Counters, sign: i64) {
        self.requested += sign * other.requested;
        self.connected += sign * other.connected;
        self.missed += sign * other.missed;
        self.picked_up += sign * other.picked_up;
        self.abandoned += sign * other.abandoned;
        self.offers_declined += sign * other.offers_declined;
        self.offers_timed_out += sign * other.offers_timed_out;
        self.transfers_given += sign * other.transfers_given;
        self.transfers_received += sign * other.transfers_received;
        self.time_to_accept.add(&other.time_to_accept, sign);
        self.first_response.add(&other.first_response, sign);
        self.chat_length.add(&other.chat_length, sign);
        self.score.add(&other.score, sign);
        self.triggered += sign * other.triggered;
        self.engaged += sign * other.engaged;
        self.completed += sign * other.completed;
        self.goals_reached += sign * other.goals_reached;
        self.emails_captured += sign * other.emails_captured;
    }

    /// Nothing counted.
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// What a report is broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// One row per day.
    Day,
    /// One row per dialog.
    Dialog,
    /// One row per team, and one for none.
    Team,
    /// One row per agent, and one for none.
    Agent,
}

impl Dimension {
    /// The dimension's name (`day`, `dialog`, `team`, `agent`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Dialog => "dialog",
            Self::Team => "team",
            Self::Agent => "agent",
        }
    }
}

/// Where a day's counts are kept: every fact is counted in the day's total and
/// under its dialog, its team (or none) and its agent (or none), so each
/// dimension's buckets add up to the total.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum Bucket {
    /// The day's total.
    All,
    /// A dialog.
    Dialog(DialogId),
    /// A team, or none.
    Team(Option<TeamId>),
    /// An agent, or none.
    Agent(Option<AgentId>),
}

/// One row of a report: the dimension's value (`None`: no value, such as the
/// requests no agent is responsible for) and its counts over the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// What the rows are broken down by.
    pub dimension: Dimension,
    /// The day, dialog, team or agent; `None` for none.
    pub value: Option<String>,
    /// The counts.
    pub counters: Counters,
}

/// Counters per (day, bucket): what the aggregates maintain and the recomputation
/// computes, and what reports read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    cells: BTreeMap<(Day, Bucket), Counters>,
}

impl Table {
    /// Adds `counters` times `sign` to a cell; a cell that comes back to zero is
    /// dropped, so equal counts give equal tables.
    pub fn add(&mut self, day: Day, bucket: Bucket, counters: &Counters, sign: i64) {
        let key = (day, bucket);
        let cell = self.cells.entry(key.clone()).or_default();
        cell.add(counters, sign);
        if cell.is_zero() {
            self.cells.remove(&key);
        }
    }

    /// Adds every cell of `other`: a table of more days, or of another shard of
    /// the events.
    pub fn merge(&mut self, other: &Table) {
        for ((day, bucket), counters) in &other.cells {
            self.add(*day, bucket.clone(), counters, 1);
        }
    }

    /// The cells, in (day, bucket) order.
    pub fn cells(&self) -> impl Iterator<Item = (&(Day, Bucket), &Counters)> {
        self.cells.iter()
    }

    /// The rows of a report from `from` to `to`, both included, broken down `by`: for
    /// `Day`, one row per day of the range (zeros included), oldest first; otherwise
    /// one row per value that has counts in the range, "none" (`None`) first.
    pub fn report(&self, from: Day, to: Day, by: Dimension) -> Vec<Row> {
        let in_range = self
            .cells
            .range((from, Bucket::All)..)
            .take_while(|((day, _), _)| *day <= to);
        let mut rows: BTreeMap<Option<String>, Counters> = BTreeMap::new();
        for ((day, bucket), counters) in in_range {
            let value = match (by, bucket) {
                (Dimension::Day, Bucket::All) => Some(day.to_string()),
                (Dimension::Dialog, Bucket::Dialog(d)) => Some(d.to_string()),
                (Dimension::Team, Bucket::Team(t)) => t.as_ref().map(ToString::to_string),
                (Dimension::Agent, Bucket::Agent(a)) => a.as_ref().map(ToString::to_string),
                _ => continue,
            };
            rows.entry(value).or_default().add(counters, 1);
        }
        if by == Dimension::Day {
            let mut day = Some(from);
            while let Some(d) = day.filter(|d| *d <= to) {
                rows.entry(Some(d.to_string())).or_default();
                day = d.next();
            }
        }
        rows.into_iter()
            .map(|(value, counters)| Row {
                dimension: by,
                value,
                counters,
            })
            .collect()
    }
}
