//! Analytics: the metrics of `docs/analytics.md`. All of it is pure and
//! store-independent but [`recorder`], which writes them through the store port.
//!
//! - [`event`]: the facts the metrics need, each with a deterministic key, taken
//!   from a change of a stored item (a stream record's old and new image): a
//!   conversation, a message, a visitor session.
//! - [`day`]: calendar days in the account's time zone, and its changes.
//! - [`counters`]: per (day, dimension value) counts and sum + count pairs, and the
//!   rows a report shows.
//! - [`aggregate`]: counters built by applying events, idempotent and in any order.
//! - [`recompute`]: every metric computed again straight from the final stored
//!   items, without events: the oracle the aggregates are checked against.
//! - [`csv`]: report rows as RFC 4180 CSV, safe to open in a spreadsheet.
//! - [`report`]: a report's rows as a role may see them, as JSON and CSV.
//! - [`recorder`]: changes of stored items recorded into the store's per
//!   conversation sheets and per-day counters.
//! - [`live`]: the live view (who waits, offers out, agents' load and status),
//!   its index kept from the same changes, pushed to the inboxes.

pub mod aggregate;
pub mod counters;
pub mod csv;
pub mod day;
pub mod event;
pub mod live;
pub mod recompute;
pub mod recorder;
pub mod report;

pub use aggregate::{Aggregates, Sheet};
pub use counters::{Bucket, Counters, Dimension, Mean, Row, Table};
pub use day::{Day, Zones};
pub use event::{Event, events_of_conversation, events_of_message, events_of_session, team_of};
pub use recompute::recompute;
pub use recorder::{Change, Unrecorded, consume, record, record_each, zones_of};
pub use report::{DayRange, MAX_REPORT_DAYS, RangeError, Report, Scope, report, report_parts};

#[cfg(test)]
mod tests;
