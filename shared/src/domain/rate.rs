//! Per-connection and per-visitor rate limits: fixed-window counters whose limits
//! the account sets in `settings.rate_limits`. The counters live in the store (so
//! they hold across Lambda instances), beside the write an action makes anyway
//! where there is one: a message's counters ride on the conversation item the
//! message write updates.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// At most `count` actions in each fixed window of `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// Actions allowed per window (at least 1).
    pub count: u32,
    /// The window's length in seconds (1 to 3600).
    pub per_secs: u32,
}

impl Rate {
    /// `count` per `per_secs` seconds.
    pub const fn new(count: u32, per_secs: u32) -> Self {
        Self { count, per_secs }
    }

    /// The start (epoch seconds) of the window holding `now`.
    pub fn window_start(&self, now: Timestamp) -> i64 {
        let len = i64::from(self.per_secs.max(1));
        now.as_second().div_euclid(len) * len
    }

    /// Seconds from `now` until the window holding it ends (at least 1).
    pub fn retry_after(&self, now: Timestamp) -> u32 {
        let end = self.window_start(now) + i64::from(self.per_secs.max(1));
        u32::try_from((end - now.as_second()).max(1)).unwrap_or(u32::MAX)
    }

    fn is_valid(&self) -> bool {
        self.count >= 1 && (1..=3600).contains(&self.per_secs)
    }
}

/// The account's rate limits. The defaults are far above what a person does (a
/// visitor typing and sending by hand, a page reloaded, a network that drops), so
/// that only a script meets them. Nothing is limited per IP address: a webinar's
/// visitors may all come from one company address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRateLimits")]
pub struct RateLimits {
    /// `send_message` frames from one connection (a visitor's page, an agent's tab).
    pub messages_per_connection: Rate,
    /// `send_message` frames from one visitor, all their pages together.
    pub messages_per_visitor: Rate,
    /// `typing` frames from one connection; those over it are dropped silently.
    pub typing_per_connection: Rate,
    /// `start` frames from one visitor, all their pages together.
    pub starts_per_visitor: Rate,
    /// Connections opened with one visitor token (reconnects and new pages).
    pub reconnects_per_visitor: Rate,
    /// `report` frames from one agent connection: a report reads up to 16 items
    /// a calendar month of its range (731 days: 400 Queries).
    pub reports_per_connection: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            messages_per_connection: Rate::new(20, 10),
            messages_per_visitor: Rate::new(30, 10),
            typing_per_connection: Rate::new(30, 10),
            starts_per_visitor: Rate::new(30, 60),
            reconnects_per_visitor: Rate::new(30, 60),
            reports_per_connection: Rate::new(10, 60),
        }
    }
}

/// Why rate limits were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit {0}: count is at least 1 and per_secs 1 to 3600")]
pub struct RateLimitsError(pub &'static str);

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRateLimits {
    messages_per_connection: Rate,
    messages_per_visitor: Rate,
    typing_per_connection: Rate,
    starts_per_visitor: Rate,
    reconnects_per_visitor: Rate,
    reports_per_connection: Rate,
}

impl Default for RawRateLimits {
    fn default() -> Self {
        let d = RateLimits::default();
        Self {
            messages_per_connection: d.messages_per_connection,
            messages_per_visitor: d.messages_per_visitor,
            typing_per_connection: d.typing_per_connection,
            starts_per_visitor: d.starts_per_visitor,
            reconnects_per_visitor: d.reconnects_per_visitor,
            reports_per_connection: d.reports_per_connection,
        }
    }
}

impl TryFrom<RawRateLimits> for RateLimits {
    type Error = RateLimitsError;
    fn try_from(r: RawRateLimits) -> Result<Self, RateLimitsError> {
        for (name, rate) in [
            ("messages_per_connection", r.messages_per_connection),
            ("messages_per_visitor", r.messages_per_visitor),
            ("typing_per_connection", r.typing_per_connection),
            ("starts_per_visitor", r.starts_per_visitor),
            ("reconnects_per_visitor", r.reconnects_per_visitor),
            ("reports_per_connection", r.reports_per_connection),
        ] {
            if !rate.is_valid() {
                return Err(RateLimitsError(name));
            }
        }
        Ok(Self {
            messages_per_connection: r.messages_per_connection,
            messages_per_visitor: r.messages_per_visitor,
            typing_per_connection: r.typing_per_connection,
            starts_per_visitor: r.starts_per_visitor,
            reconnects_per_visitor: r.reconnects_per_visitor,
            reports_per_connection: r.reports_per_connection,
        })
    }
}

/// One fixed window's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The window's start, epoch seconds.
    pub start: i64,
    /// Actions counted in it.
    pub count: u32,
}

/// Counters by key (`conn#<id>`, `visitor`), stored with what they count.
pub type Windows = BTreeMap<String, Window>;

/// The counters after one more action at `now` under each `(key, rate)`, with the
/// windows that ended dropped; `Err(retry_after)` in seconds when one is at its
/// limit (nothing counted then).
pub fn count_in(
    windows: &Windows,
    checks: &[(String, Rate)],
    now: Timestamp,
) -> Result<Windows, u32> {
    let mut next: Windows = Windows::new();
    let mut retry = None;
    for (key, rate) in checks {
        let start = rate.window_start(now);
        let count = match windows.get(key) {
            Some(w) if w.start == start => w.count,
            _ => 0,
        };
        if count >= rate.count {
            retry = retry.max(Some(rate.retry_after(now)));
        }
        next.insert(
            key.clone(),
            Window {
                start,
                count: count + 1,
            },
        );
    }
    if let Some(after) = retry {
        return Err(after);
    }
    // Counters of other keys stay while their window may still be running.
    let horizon = now.as_second() - 3600;
    for (key, w) in windows {
        if !next.contains_key(key) && w.start > horizon {
            next.insert(key.clone(), *w);
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn a_window_counts_to_its_limit_then_refuses_until_it_ends() {
        let rate = Rate::new(2, 10);
        let checks = [("k".to_string(), rate)];
        let w = count_in(&Windows::new(), &checks, at(100)).unwrap();
        let w = count_in(&w, &checks, at(103)).unwrap();
        assert_eq!(count_in(&w, &checks, at(107)), Err(3));
        assert_eq!(count_in(&w, &checks, at(110)).unwrap()["k"].count, 1);
    }

    #[test]
    fn any_key_at_its_limit_refuses_and_counts_nothing() {
        let checks = [
            ("conn".to_string(), Rate::new(5, 10)),
            ("visitor".to_string(), Rate::new(1, 60)),
        ];
        let w = count_in(&Windows::new(), &checks, at(120)).unwrap();
        assert_eq!(count_in(&w, &checks, at(121)), Err(59));
    }

    #[test]
    fn settings_refuse_an_empty_or_endless_window() {
        let bad: Result<RateLimits, _> =
            serde_json::from_str(r#"{"messages_per_visitor": {"count": 0, "per_secs": 10}}"#);
        assert!(bad.is_err());
        let ok: RateLimits =
            serde_json::from_str(r#"{"typing_per_connection": {"count": 5, "per_secs": 1}}"#)
                .unwrap();
        assert_eq!(ok.typing_per_connection, Rate::new(5, 1));
        assert_eq!(
            ok.messages_per_visitor,
            RateLimits::default().messages_per_visitor
        );
    }
}
