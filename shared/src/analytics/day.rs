//! Calendar days in the account's time zone. A moment falls on its date in the zone
//! in force at that moment: a change of zone applies from the change on, and the
//! days before it keep the zone they were counted in.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// A calendar date of the account's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Day(pub Date);

impl Day {
    /// The day after, or `None` past jiff's last date.
    pub fn next(self) -> Option<Day> {
        self.0.tomorrow().ok().map(Day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for Day {
    type Err = jiff::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Day)
    }
}

/// The account's time zone over time: the zone in force from the beginning, and
/// each change with the moment it took effect.
#[derive(Debug, Clone)]
pub struct Zones {
    first: TimeZone,
    /// Changes, in the order of their moments.
    changes: Vec<(Timestamp, TimeZone)>,
}

impl Default for Zones {
    /// UTC throughout, as when `settings.time_zone` is unset.
    fn default() -> Self {
        Self::new(TimeZone::UTC)
    }
}

impl Zones {
    /// `zone` throughout.
    pub fn new(zone: TimeZone) -> Self {
        Self {
            first: zone,
            changes: Vec::new(),
        }
    }

    /// `zone` from `at` on. Changes may be given in any order.
    pub fn changed(mut self, at: Timestamp, zone: TimeZone) -> Self {
        let i = self.changes.partition_point(|(t, _)| *t <= at);
        self.changes.insert(i, (at, zone));
        self
    }

    /// The zone in force at `at`.
    pub fn zone_at(&self, at: Timestamp) -> &TimeZone {
        let i = self.changes.partition_point(|(t, _)| *t <= at);
        self.changes[..i]
            .last()
            .map_or(&self.first, |(_, zone)| zone)
    }

    /// The day `at` falls on.
    pub fn day(&self, at: Timestamp) -> Day {
        Day(self.zone_at(at).to_datetime(at).date())
    }
}
