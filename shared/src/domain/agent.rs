//! Agents, their roles and permissions, weekly schedules, the manual availability
//! toggle and the concurrent chat limit; teams.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use serde::{Deserialize, Serialize};

use super::{AgentId, Email, TeamId};

/// A role an admin gives an agent (docs/config.md lists what each allows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Inbox, own conversations, own availability.
    LiveAgent,
    /// All conversations, manages agents, teams and rules; also works the inbox.
    SalesAdmin,
    /// Dialogs and settings; no inbox.
    MarketingAdmin,
}

/// What a role allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// May be offered chats and chat in the inbox.
    LiveChat,
    /// May read every conversation, not only their own.
    ReadAllConversations,
    /// May manage agents, teams and routing rules.
    ManageRouting,
    /// May manage dialogs and settings.
    ManageDialogs,
}

impl Role {
    /// The permissions this role grants.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::LiveAgent => &[Permission::LiveChat],
            Role::SalesAdmin => &[
                Permission::LiveChat,
                Permission::ReadAllConversations,
                Permission::ManageRouting,
            ],
            Role::MarketingAdmin => &[Permission::ManageDialogs],
        }
    }
}

/// Why a chat limit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the concurrent chat limit is 1 to 10, not {0}")]
pub struct ChatLimitError(pub u32);

/// How many chats (offered or live) an agent may hold at once: 1-10, default 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct ChatLimit(u32);

impl ChatLimit {
    /// Parses a limit in 1..=10.
    pub fn new(limit: u32) -> Result<Self, ChatLimitError> {
        if (1..=10).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(ChatLimitError(limit))
        }
    }

    /// The limit.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for ChatLimit {
    fn default() -> Self {
        Self(5)
    }
}

impl TryFrom<u32> for ChatLimit {
    type Error = ChatLimitError;
    fn try_from(v: u32) -> Result<Self, ChatLimitError> {
        Self::new(v)
    }
}

impl From<ChatLimit> for u32 {
    fn from(l: ChatLimit) -> u32 {
        l.0
    }
}

/// Why a schedule or time zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0:?} is not a time of day like 09:30 (24:00 is allowed as an end)")]
    BadTime(String),
    #[error("availability block on {day:?} ends ({end}) before it starts ({start})")]
    EndsBeforeStart {
        day: Weekday,
        start: ClockTime,
        end: ClockTime,
    },
    #[error("{0:?} is not a known IANA time zone such as Europe/Paris")]
    UnknownTimeZone(String),
}

/// A time of day in minutes after midnight, written `HH:MM`; `24:00` is the end of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(u16);

impl ClockTime {
    /// Parses `HH:MM` from `00:00` to `24:00`.
    pub fn parse(raw: &str) -> Result<Self, ScheduleError> {
        let bad = || ScheduleError::BadTime(raw.to_string());
        let (h, m) = raw.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl TryFrom<String> for ClockTime {
    type Error = ScheduleError;
    fn try_from(s: String) -> Result<Self, ScheduleError> {
        Self::parse(&s)
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> String {
        t.to_string()
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// One block of availability on one weekday, `start` inclusive, `end` exclusive, in the
/// agent's local time. Several blocks per day are allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityBlock {
    /// The weekday, in the agent's time zone.
    #[serde(with = "weekday_serde")]
    pub day: Weekday,
    /// Local start time.
    pub start: ClockTime,
    /// Local end time (`24:00` for end of day).
    pub end: ClockTime,
}

mod weekday_serde {
    use jiff::civil::Weekday;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    const NAMES: [(&str, Weekday); 7] = [
        ("mon", Weekday::Monday),
        ("tue", Weekday::Tuesday),
        ("wed", Weekday::Wednesday),
        ("thu", Weekday::Thursday),
        ("fri", Weekday::Friday),
        ("sat", Weekday::Saturday),
        ("sun", Weekday::Sunday),
    ];

    pub fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        let name = NAMES
            .iter()
            .find(|(_, d)| d == day)
            .map_or("mon", |(n, _)| n);
        s.serialize_str(name)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let raw = String::deserialize(d)?;
        let key = raw.to_lowercase();
        NAMES
            .iter()
            .find(|(n, _)| key.starts_with(n))
            .map(|(_, d)| *d)
            .ok_or_else(|| D::Error::custom(format!("{raw:?} is not a weekday (mon..sun)")))
    }
}

/// An agent's weekly availability, in their own time zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WeeklySchedule {
    /// The blocks; an empty schedule means never available by schedule.
    pub blocks: Vec<AvailabilityBlock>,
}

impl WeeklySchedule {
    /// Checks every block ends after it starts.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        match self.blocks.iter().find(|b| b.end <= b.start) {
            Some(b) => Err(ScheduleError::EndsBeforeStart {
                day: b.day,
                start: b.start,
                end: b.end,
            }),
            None => Ok(()),
        }
    }

    /// Whether the local wall-clock moment falls in a block.
    pub fn covers(&self, local: &ZonedDateTime) -> bool {
        let minute = (local.hour() as u16) * 60 + local.minute() as u16;
        self.blocks.iter().any(|b| {
            b.day == local.weekday() && b.start.minutes() <= minute && minute < b.end.minutes()
        })
    }
}

/// An agent's IANA time zone name, checked against the bundled tz database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(String);

impl TimeZoneName {
    /// Parses an IANA zone name such as `America/New_York`.
    pub fn parse(raw: &str) -> Result<Self, ScheduleError> {
        TimeZone::get(raw).map_err(|_| ScheduleError::UnknownTimeZone(raw.to_string()))?;
        Ok(Self(raw.to_string()))
    }

    /// The name, as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The zone. A name that parsed once is in the bundled database, so UTC is only a
    /// guard against a database that shrank between versions.
    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.0).unwrap_or(TimeZone::UTC)
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = ScheduleError;
    fn try_from(s: String) -> Result<Self, ScheduleError> {
        Self::parse(&s)
    }
}

impl From<TimeZoneName> for String {
    fn from(t: TimeZoneName) -> String {
        t.0
    }
}

/// The agent's manual availability toggle. It overrides the weekly schedule until the
/// next midnight in the agent's time zone, then the schedule rules again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualToggle {
    /// Available (true) or away (false).
    pub available: bool,
    /// The instant the override lapses: the next local midnight after it was set.
    pub until: Timestamp,
}

/// A sales agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Stable id.
    pub id: AgentId,
    /// Display name shown to visitors.
    pub name: String,
    /// Sign-in email.
    pub email: Email,
    /// Roles; permissions are their union.
    #[serde(default)]
    pub roles: BTreeSet<Role>,
    /// IANA time zone; UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZoneName>,
    /// Weekly availability blocks.
    #[serde(default)]
    pub schedule: WeeklySchedule,
    /// Manual override of the schedule, if one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualToggle>,
    /// Concurrent chat limit.
    #[serde(default)]
    pub chat_limit: ChatLimit,
    /// Email and webhook notices for when they are not in the inbox.
    #[serde(default)]
    pub notifications: super::Notifications,
}

impl Agent {
    /// The agent's time zone, UTC when unset.
    pub fn zone(&self) -> TimeZone {
        self.time_zone
            .as_ref()
            .map_or(TimeZone::UTC, TimeZoneName::zone)
    }

    /// Whether any of the agent's roles grants the permission.
    pub fn has_permission(&self, permission: Permission) -> bool {
        self.roles
            .iter()
            .any(|r| r.permissions().contains(&permission))
    }

    /// Whether the agent is available at `now`: the manual toggle while it holds,
    /// otherwise the weekly schedule in the agent's zone.
    pub fn is_available(&self, now: Timestamp) -> bool {
        self.is_available_with(self.manual, now)
    }

    /// [`Agent::is_available`] with `manual` as the toggle (the one stored with the
    /// agent's routing state, which the directory does not hold).
    pub fn is_available_with(&self, manual: Option<ManualToggle>, now: Timestamp) -> bool {
        match manual {
            Some(toggle) if now < toggle.until => toggle.available,
            _ => self.schedule.covers(&now.to_zoned_datetime(self.zone())),
        }
    }

    /// Sets the manual toggle at `now`; it lasts until the next local midnight. Going
    /// away does not end active chats: only new offers stop.
    pub fn set_available(&mut self, available: bool, now: Timestamp) {
        self.manual = Some(ManualToggle {
            available,
            until: next_local_midnight(now, &self.zone()),
        });
    }
}

/// The first instant of the next calendar day in `zone` after `now`. Days that start
/// at 01:00 because of a DST gap at midnight are handled by jiff's `start_of_day`.
pub fn next_local_midnight(now: Timestamp, zone: &TimeZone) -> Timestamp {
    let local = now.to_zoned_datetime(zone.clone());
    local
        .tomorrow()
        .and_then(|d| d.start_of_day())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

/// A named group of agents; routing to a team is round robin among its members, in
/// the listed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Stable id.
    pub id: TeamId,
    /// Display name.
    pub name: String,
    /// Members in rotation order.
    pub members: Vec<AgentId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(zone: Option<&str>, blocks: &[(&str, &str, &str)]) -> Agent {
        let schedule = WeeklySchedule {
            blocks: blocks
                .iter()
                .map(|(d, s, e)| {
                    serde_json::from_value(serde_json::json!({"day": d, "start": s, "end": e}))
                        .unwrap()
                })
                .collect(),
        };
        Agent {
            id: AgentId::parse("ana").unwrap(),
            name: "Ana".into(),
            email: Email::parse("ana@example.com").unwrap(),
            roles: [Role::LiveAgent].into(),
            time_zone: zone.map(|z| TimeZoneName::parse(z).unwrap()),
            schedule,
            manual: None,
            chat_limit: ChatLimit::default(),
            notifications: Default::default(),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn availability_follows_the_schedule_in_the_agents_own_time_zone() {
        let tokyo = agent(Some("Asia/Tokyo"), &[("mon", "09:00", "17:00")]);
        let paris = agent(Some("Europe/Paris"), &[("mon", "09:00", "17:00")]);
        // Monday 2026-03-02 01:00 UTC is 10:00 in Tokyo and 02:00 in Paris.
        let now = at("2026-03-02T01:00:00Z");
        assert!(tokyo.is_available(now));
        assert!(!paris.is_available(now));
    }

    #[test]
    fn several_blocks_per_day_leave_the_lunch_break_unavailable() {
        let a = agent(
            None,
            &[("tue", "09:00", "12:00"), ("tue", "13:00", "17:30")],
        );
        assert!(a.is_available(at("2026-03-03T11:59:00Z")));
        assert!(!a.is_available(at("2026-03-03T12:30:00Z")));
        assert!(a.is_available(at("2026-03-03T17:29:00Z")));
        assert!(!a.is_available(at("2026-03-03T17:30:00Z")));
    }

    #[test]
    fn schedule_keeps_local_hours_across_a_dst_change() {
        let ny = agent(Some("America/New_York"), &[("mon", "09:00", "10:00")]);
        // Before the US switch (8 March 2026) 09:30 local is 14:30 UTC; after it, 13:30 UTC.
        assert!(ny.is_available(at("2026-03-02T14:30:00Z")));
        assert!(!ny.is_available(at("2026-03-02T13:30:00Z")));
        assert!(ny.is_available(at("2026-03-09T13:30:00Z")));
        assert!(!ny.is_available(at("2026-03-09T14:30:00Z")));
    }

    #[test]
    fn manual_toggle_overrides_the_schedule_until_local_midnight() {
        let mut a = agent(Some("America/Los_Angeles"), &[]);
        // 2026-03-04 20:00 UTC is 12:00 in Los Angeles (PST, UTC-8).
        a.set_available(true, at("2026-03-04T20:00:00Z"));
        assert!(
            a.is_available(at("2026-03-05T07:59:00Z")),
            "23:59 local: still on"
        );
        assert!(
            !a.is_available(at("2026-03-05T08:00:00Z")),
            "00:00 local: back to the schedule"
        );
    }

    #[test]
    fn manual_toggle_resets_at_utc_midnight_when_no_zone_is_set() {
        let mut a = agent(None, &[("wed", "00:00", "24:00")]);
        a.set_available(false, at("2026-03-04T10:00:00Z"));
        assert!(!a.is_available(at("2026-03-04T23:59:59Z")));
        assert!(
            a.is_available(at("2026-03-05T00:00:00Z"))
                == a.schedule
                    .covers(&at("2026-03-05T00:00:00Z").to_zoned_datetime(TimeZone::UTC))
        );
        assert_eq!(a.manual.unwrap().until, at("2026-03-05T00:00:00Z"));
    }

    #[test]
    fn midnight_reset_lands_on_the_next_local_day_across_a_dst_change() {
        // Europe/Paris springs forward on 2026-03-29: that day is 23 hours long.
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let until = next_local_midnight(at("2026-03-29T10:00:00Z"), &paris);
        assert_eq!(until, at("2026-03-29T22:00:00Z"), "00:00 CEST on 30 March");
        let before = next_local_midnight(at("2026-03-28T10:00:00Z"), &paris);
        assert_eq!(before, at("2026-03-28T23:00:00Z"), "00:00 CET on 29 March");
    }

    #[test]
    fn chat_limit_is_one_to_ten_with_default_five() {
        assert_eq!(ChatLimit::default().get(), 5);
        assert!(ChatLimit::new(0).is_err());
        assert!(ChatLimit::new(11).is_err());
        assert!(ChatLimit::new(10).is_ok());
    }

    #[test]
    fn marketing_admins_cannot_take_chats() {
        let mut a = agent(None, &[]);
        a.roles = [Role::MarketingAdmin].into();
        assert!(!a.has_permission(Permission::LiveChat));
        a.roles.insert(Role::SalesAdmin);
        assert!(a.has_permission(Permission::LiveChat));
    }

    #[test]
    fn bad_schedules_and_zones_are_refused() {
        assert!(ClockTime::parse("9:00").is_err());
        assert!(ClockTime::parse("24:01").is_err());
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        let a = agent(None, &[("mon", "10:00", "09:00")]);
        assert!(matches!(
            a.schedule.validate(),
            Err(ScheduleError::EndsBeforeStart { .. })
        ));
    }
}
