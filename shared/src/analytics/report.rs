//! A report as the inbox asks for it (the `report` frame, docs/protocol.md): the
//! rows of [`Table::report`] cut to what the asker's role may see, each as a JSON
//! object of the CSV's columns with every average already divided
//! ([`Mean::value`]), and the CSV of exactly those rows ([`super::csv`]). The chart,
//! the table and the download all read this one answer, so they cannot disagree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::counters::{Bucket, Counters, Dimension, Mean, Row, Table};
use super::csv;
use super::day::Day;
use crate::domain::{Agent, AgentId, Permission};

/// The most days one report covers, `from` and `to` included: two years with a
/// leap day.
pub const MAX_REPORT_DAYS: i64 = 731;

/// The days of a report, both included: `from <= to`, at most [`MAX_REPORT_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRange {
    /// The first day.
    pub from: Day,
    /// The last day.
    pub to: Day,
}

/// Why two days make no range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `to` is before `from`.
    #[error("the range ends before it starts")]
    Reversed,
    /// More than [`MAX_REPORT_DAYS`] days.
    #[error("the range holds {days} days, more than {MAX_REPORT_DAYS}")]
    TooLong {
        /// How many days it holds.
        days: i64,
    },
}

impl DayRange {
    /// The range from `from` to `to`, both included.
    pub fn new(from: Day, to: Day) -> Result<Self, RangeError> {
        if to < from {
            return Err(RangeError::Reversed);
        }
        let days = i64::from(from.0.until(to.0).map_or(i32::MAX, |span| span.get_days())) + 1;
        if days > MAX_REPORT_DAYS {
            return Err(RangeError::TooLong { days });
        }
        Ok(Self { from, to })
    }
}

/// What a role may see of the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A Sales Admin: every row.
    All,
    /// A Live Agent: only the counts of their own agent bucket, by day or as one row.
    Own(AgentId),
    /// A Marketing Admin: the dialog funnel only, by day or by dialog.
    Funnel,
}

impl Scope {
    /// The scope of `agent`'s roles: the widest their permissions allow; `None`
    /// when they have none of them.
    pub fn of(agent: &Agent) -> Option<Scope> {
        if agent.has_permission(Permission::ReadAllConversations) {
            Some(Scope::All)
        } else if agent.has_permission(Permission::LiveChat) {
            Some(Scope::Own(agent.id.clone()))
        } else if agent.has_permission(Permission::ManageDialogs) {
            Some(Scope::Funnel)
        } else {
            None
        }
    }

    /// The scope's name on the wire: `all`, `own` or `funnel`.
    pub fn name(&self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Own(_) => "own",
            Scope::Funnel => "funnel",
        }
    }

    /// Whether this scope may break a report down `by`; the reason when not, for
    /// the `forbidden` error. Checked before anything is read.
    pub fn allows(&self, by: Dimension) -> Result<(), &'static str> {
        match (self, by) {
            (Scope::All, _)
            | (Scope::Own(_), Dimension::Day | Dimension::Agent)
            | (Scope::Funnel, Dimension::Day | Dimension::Dialog) => Ok(()),
            (Scope::Own(_), _) => {
                Err("a Live Agent's report is by day or by agent: their own numbers")
            }
            (Scope::Funnel, _) => {
                Err("a Marketing Admin's report is the dialog funnel, by day or by dialog")
            }
        }
    }

    /// The CSV columns this scope shows.
    fn shows(&self, column: &str) -> bool {
        let funnel = csv::FUNNEL_COLUMNS.contains(&column);
        match self {
            Scope::All => true,
            // The funnel is counted under no agent: an agent's own row has none.
            Scope::Own(_) => !funnel,
            Scope::Funnel => funnel,
        }
    }
}

/// The answer to a `report` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The first day, as asked.
    pub from: Day,
    /// The last day, as asked.
    pub to: Day,
    /// What the rows are broken down by.
    pub by: Dimension,
    /// The account's `settings.time_zone` the days are in (`UTC` when unset).
    pub time_zone: String,
    /// What the asker's role lets them see: `all`, `own` or `funnel`.
    pub scope: String,
    /// One object per row: `value` (the day, dialog, team or agent; `null` for
    /// none) and each column the scope shows.
    pub rows: Vec<Map<String, Value>>,
    /// The same rows and columns as CSV (RFC 4180, CRLF line ends).
    pub csv: String,
    /// Which part of the report this is, from 0: a report too big for one frame
    /// comes in `parts` frames of consecutive rows (see [`report_parts`]).
    #[serde(default)]
    pub part: usize,
    /// How many parts the report has (1 when it fits in one frame).
    #[serde(default = "one")]
    pub parts: usize,
}

fn one() -> usize {
    1
}

/// The report of `table` over `range`, broken down `by`, as `scope` may see it,
/// with the days in `time_zone`: the rows as JSON and as CSV, from the same
/// [`Row`]s and the same averages, in one part. `Err` with the reason when the
/// scope may not break it down `by` (see [`Scope::allows`]).
pub fn report(
    table: &Table,
    range: DayRange,
    by: Dimension,
    scope: &Scope,
    time_zone: &str,
) -> Result<Report, &'static str> {
    let mut parts = report_parts(table, range, by, scope, time_zone, usize::MAX)?;
    parts.pop().ok_or("a report always has a part")
}

/// [`report`] in as many parts as it takes for each one's JSON (as a `report`
/// frame) to stay within `max_bytes`: each part holds a run of consecutive rows and
/// exactly their CSV lines, the first also the CSV's header, so that joining the
/// parts' `rows` and `csv` in order gives the whole report. A part holds at least
/// one row (one row is far below API Gateway's 128 KB).
pub fn report_parts(
    table: &Table,
    range: DayRange,
    by: Dimension,
    scope: &Scope,
    time_zone: &str,
    max_bytes: usize,
) -> Result<Vec<Report>, &'static str> {
    scope.allows(by)?;
    let rows = match scope {
        Scope::All | Scope::Funnel => table.report(range.from, range.to, by),
        Scope::Own(me) => own_rows(table, range, by, me),
    };
    let keep = |column: &str| scope.shows(column);
    let (header, lines) = csv::csv_lines(by.name(), &rows, &keep);
    let empty = Report {
        from: range.from,
        to: range.to,
        by,
        time_zone: time_zone.to_owned(),
        scope: scope.name().to_owned(),
        rows: Vec::new(),
        csv: String::new(),
        part: 0,
        parts: 1,
    };
    // What a part weighs without rows: the frame's tag, and room for part numbers
    // of more digits than the empty part's.
    let base = json_len(&empty) + r#""type":"report","#.len() + 8;
    let mut parts = vec![Report {
        csv: header.clone(),
        ..empty.clone()
    }];
    // A CSV line's JSON string less its quotes: it joins the part's one string.
    let in_csv = |line: &String| json_len(line).saturating_sub(2);
    let mut bytes = base + in_csv(&header);
    for (row, line) in rows.iter().map(|r| json_row(r, &keep)).zip(lines) {
        // The row, the comma before it, its CSV line.
        let added = json_len(&row) + 1 + in_csv(&line);
        let last = parts.len() - 1;
        if !parts[last].rows.is_empty() && bytes + added > max_bytes {
            parts.push(empty.clone());
            bytes = base;
        }
        bytes += added;
        let part = parts.last_mut().ok_or("a report always has a part")?;
        part.rows.push(row);
        part.csv.push_str(&line);
    }
    let count = parts.len();
    for (i, part) in parts.iter_mut().enumerate() {
        part.part = i;
        part.parts = count;
    }
    Ok(parts)
}

/// The length of `value`'s JSON (escapes included).
fn json_len(value: &impl Serialize) -> usize {
    serde_json::to_string(value).map_or(0, |s| s.len())
}

/// A Live Agent's rows: only the cells of their own agent bucket, per day (each day
/// of the range, zeros included) or summed into one row naming them.
fn own_rows(table: &Table, range: DayRange, by: Dimension, me: &AgentId) -> Vec<Row> {
    let mine = Bucket::Agent(Some(me.clone()));
    let mut days: BTreeMap<Day, Counters> = BTreeMap::new();
    let mut day = Some(range.from);
    while let Some(d) = day.filter(|d| *d <= range.to) {
        days.insert(d, Counters::default());
        day = d.next();
    }
    for ((day, bucket), counters) in table.cells() {
        if *bucket == mine
            && let Some(cell) = days.get_mut(day)
        {
            cell.add(counters, 1);
        }
    }
    if by == Dimension::Agent {
        let mut total = Counters::default();
        for counters in days.values() {
            total.add(counters, 1);
        }
        return vec![Row {
            dimension: by,
            value: Some(me.to_string()),
            counters: total,
        }];
    }
    days.into_iter()
        .map(|(day, counters)| Row {
            dimension: Dimension::Day,
            value: Some(day.to_string()),
            counters,
        })
        .collect()
}

/// How a column's JSON value is made from the counters.
enum Cell {
    /// A count.
    Count(fn(&Counters) -> i64),
    /// A mean of milliseconds, in seconds with three decimals.
    Seconds(fn(&Counters) -> Mean),
    /// A mean of milliseconds, in minutes with two decimals.
    Minutes(fn(&Counters) -> Mean),
    /// A mean of points, with two decimals.
    Points(fn(&Counters) -> Mean),
}

/// The JSON columns, in the CSV's order and with its names, but for the chat
/// length, given in minutes (`avg_chat_length_min`; the CSV has it in seconds).
const JSON_COLUMNS: [(&str, Cell); 22] = [
    ("chats_requested", Cell::Count(|c| c.requested)),
    ("chats_connected", Cell::Count(|c| c.connected)),
    ("chats_missed", Cell::Count(|c| c.missed)),
    ("missed_picked_up", Cell::Count(|c| c.picked_up)),
    ("chats_abandoned", Cell::Count(|c| c.abandoned)),
    ("offers_declined", Cell::Count(|c| c.offers_declined)),
    ("offers_timed_out", Cell::Count(|c| c.offers_timed_out)),
    ("transfers_given", Cell::Count(|c| c.transfers_given)),
    ("transfers_received", Cell::Count(|c| c.transfers_received)),
    ("avg_time_to_accept_s", Cell::Seconds(|c| c.time_to_accept)),
    ("time_to_accept_n", Cell::Count(|c| c.time_to_accept.count)),
    ("avg_first_response_s", Cell::Seconds(|c| c.first_response)),
    ("first_response_n", Cell::Count(|c| c.first_response.count)),
    ("avg_chat_length_min", Cell::Minutes(|c| c.chat_length)),
    ("chat_length_n", Cell::Count(|c| c.chat_length.count)),
    ("avg_score", Cell::Points(|c| c.score)),
    ("score_n", Cell::Count(|c| c.score.count)),
    ("dialogs_triggered", Cell::Count(|c| c.triggered)),
    ("dialogs_engaged", Cell::Count(|c| c.engaged)),
    ("dialogs_completed", Cell::Count(|c| c.completed)),
    ("goals_reached", Cell::Count(|c| c.goals_reached)),
    ("emails_captured", Cell::Count(|c| c.emails_captured)),
];

/// The CSV column a JSON column stands for (the same but for the chat length).
fn csv_column(json: &str) -> &str {
    if json == "avg_chat_length_min" {
        "avg_chat_length_s"
    } else {
        json
    }
}

fn json_row(row: &Row, keep: &dyn Fn(&str) -> bool) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "value".into(),
        row.value.clone().map_or(Value::Null, Value::String),
    );
    let c = &row.counters;
    for (name, cell) in &JSON_COLUMNS {
        if !keep(csv_column(name)) {
            continue;
        }
        let value = match cell {
            Cell::Count(count) => Value::from(count(c)),
            Cell::Seconds(mean) => decimal(mean(c).value(1), 1000),
            // Hundredths of a minute: the sum over 600 times the count, rounded
            // once (half away from zero), not the seconds rounded again.
            Cell::Minutes(mean) => {
                let m = mean(c);
                let per_hundredth = Mean {
                    sum: m.sum,
                    count: m.count.saturating_mul(600),
                };
                decimal(per_hundredth.value(1), 100)
            }
            Cell::Points(mean) => decimal(mean(c).value(100), 100),
        };
        out.insert((*name).into(), value);
    }
    out
}

/// `units / per` as a JSON number (`null` without a value). Exact for the
/// decimals shown: a float's shortest form of `12345 / 1000` is `12.345`.
fn decimal(units: Option<i64>, per: i64) -> Value {
    #[allow(clippy::cast_precision_loss)] // averages are far below 2^53
    units
        .and_then(|u| Number::from_f64(u as f64 / per as f64))
        .map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    fn agent(id: &str) -> AgentId {
        AgentId::parse(id).unwrap()
    }

    /// Two days: on the first, ana connects two requests (1.5 s and 2 s to accept)
    /// and ben one; a dialog `sales` triggered three times; on the second ben a
    /// chat of 100 s and a score of 2, and a request nobody took.
    fn table() -> Table {
        let mut t = Table::default();
        let (d1, d2) = (day("2026-11-01"), day("2026-11-02"));
        let dialog = Bucket::Dialog(crate::domain::DialogId::parse("sales").unwrap());
        let ana = Counters {
            connected: 2,
            time_to_accept: Mean {
                sum: 3_500,
                count: 2,
            },
            ..Counters::default()
        };
        let ben1 = Counters {
            connected: 1,
            time_to_accept: Mean::of(1_001),
            ..Counters::default()
        };
        let requests = Counters {
            requested: 3,
            ..Counters::default()
        };
        let funnel = Counters {
            triggered: 3,
            engaged: 2,
            ..Counters::default()
        };
        let mut all1 = Counters::default();
        for c in [&ana, &ben1, &requests, &funnel] {
            all1.add(c, 1);
        }
        t.add(d1, Bucket::All, &all1, 1);
        t.add(d1, Bucket::Agent(Some(agent("ana"))), &ana, 1);
        t.add(d1, Bucket::Agent(Some(agent("ben"))), &ben1, 1);
        let mut none1 = requests;
        none1.add(&funnel, 1);
        t.add(d1, Bucket::Agent(None), &none1, 1);
        t.add(d1, dialog.clone(), &all1, 1);
        let ben2 = Counters {
            chat_length: Mean::of(100_000),
            score: Mean::of(2),
            ..Counters::default()
        };
        let missed = Counters {
            requested: 1,
            missed: 1,
            ..Counters::default()
        };
        let mut all2 = ben2;
        all2.add(&missed, 1);
        t.add(d2, Bucket::All, &all2, 1);
        t.add(d2, Bucket::Agent(Some(agent("ben"))), &ben2, 1);
        t.add(d2, Bucket::Agent(None), &missed, 1);
        t.add(d2, dialog, &all2, 1);
        t
    }

    fn range() -> DayRange {
        DayRange::new(day("2026-11-01"), day("2026-11-03")).unwrap()
    }

    /// The CSV's cells by header, one map per line after the header.
    fn csv_cells(csv: &str) -> Vec<BTreeMap<String, String>> {
        let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        lines
            .map(|l| {
                header
                    .iter()
                    .zip(l.split(','))
                    .map(|(h, c)| (h.to_string(), c.to_string()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_sales_admins_report_has_every_row_and_column_and_its_csv_the_same_cells() {
        let r = report(
            &table(),
            range(),
            Dimension::Agent,
            &Scope::All,
            "Europe/Paris",
        )
        .unwrap();
        assert_eq!(
            (r.scope.as_str(), r.time_zone.as_str()),
            ("all", "Europe/Paris")
        );
        let values: Vec<&Value> = r.rows.iter().map(|row| &row["value"]).collect();
        assert_eq!(values, [&Value::Null, &json_str("ana"), &json_str("ben")]);
        assert_eq!(r.rows[0]["chats_requested"], 4);
        assert_eq!(r.rows[0]["dialogs_triggered"], 3);
        assert_eq!(r.rows[1]["avg_time_to_accept_s"], 1.75);
        assert_eq!(r.rows[2]["avg_time_to_accept_s"], 1.001);
        assert_eq!(
            r.rows[2]["avg_chat_length_min"], 1.67,
            "100 s is 1.666… min"
        );
        assert_eq!(r.rows[2]["avg_score"], 2.0);
        assert_eq!(r.rows[1]["avg_score"], Value::Null, "no score: no average");
        assert_eq!(r.rows[0].len(), 23, "value and the 22 columns");
        let csv = csv_cells(&r.csv);
        assert_eq!(csv.len(), r.rows.len());
        for (row, cells) in r.rows.iter().zip(&csv) {
            for (name, value) in row {
                let column = if name == "value" {
                    "agent"
                } else {
                    super::csv_column(name)
                };
                let cell = &cells[column];
                match value {
                    Value::Null if name == "value" => assert_eq!(cell, "(none)"),
                    Value::Null => assert_eq!(cell, ""),
                    Value::String(s) => assert_eq!(cell, s),
                    Value::Number(n) if name == "avg_chat_length_min" => {
                        let seconds: f64 = cell.parse().unwrap();
                        assert!((seconds / 60.0 - n.as_f64().unwrap()).abs() < 0.005);
                    }
                    Value::Number(n) => {
                        assert_eq!(cell.parse::<f64>().unwrap(), n.as_f64().unwrap(), "{name}")
                    }
                    other => panic!("{name}: {other}"),
                }
            }
        }
        assert!(r.csv.starts_with("agent,chats_requested,"));
    }

    fn json_str(s: &str) -> Value {
        Value::String(s.into())
    }

    #[test]
    fn a_live_agent_sees_only_their_own_numbers_by_day_or_as_their_one_row() {
        let ben = Scope::Own(agent("ben"));
        let by_day = report(&table(), range(), Dimension::Day, &ben, "UTC").unwrap();
        let days: Vec<&Value> = by_day.rows.iter().map(|r| &r["value"]).collect();
        assert_eq!(
            days,
            [
                &json_str("2026-11-01"),
                &json_str("2026-11-02"),
                &json_str("2026-11-03")
            ]
        );
        let connected: Vec<&Value> = by_day.rows.iter().map(|r| &r["chats_connected"]).collect();
        assert_eq!(
            connected,
            [&Value::from(1), &Value::from(0), &Value::from(0)]
        );
        assert_eq!(
            by_day.rows[0]["chats_requested"], 0,
            "not the day's total of 3"
        );
        assert_eq!(by_day.rows[1]["avg_score"], 2.0);
        assert!(
            !by_day.rows[0].contains_key("dialogs_triggered"),
            "no funnel"
        );

        let by_agent = report(&table(), range(), Dimension::Agent, &ben, "UTC").unwrap();
        assert_eq!(by_agent.rows.len(), 1);
        assert_eq!(by_agent.rows[0]["value"], "ben");
        assert_eq!(by_agent.rows[0]["chats_connected"], 1);
        assert_eq!(by_agent.rows[0]["chat_length_n"], 1);
        for r in [&by_day, &by_agent] {
            let json = serde_json::to_string(r).unwrap();
            assert!(!json.contains("ana"), "no other agent's id: {json}");
        }
        assert_eq!(by_agent.csv.lines().count(), 2);
        assert_eq!(
            report(&table(), range(), Dimension::Dialog, &ben, "UTC").unwrap_err(),
            ben.allows(Dimension::Dialog).unwrap_err()
        );
        assert!(report(&table(), range(), Dimension::Team, &ben, "UTC").is_err());
    }

    #[test]
    fn a_marketing_admin_sees_the_dialog_funnel_only_by_day_or_dialog() {
        let r = report(&table(), range(), Dimension::Dialog, &Scope::Funnel, "UTC").unwrap();
        assert_eq!(r.rows.len(), 1);
        let columns: Vec<&str> = r.rows[0].keys().map(String::as_str).collect();
        let mut expected = vec!["value"];
        expected.extend(csv::FUNNEL_COLUMNS);
        expected.sort_unstable();
        assert_eq!(columns, expected);
        assert_eq!(r.rows[0]["dialogs_triggered"], 3);
        assert_eq!(
            r.csv,
            "dialog,dialogs_triggered,dialogs_engaged,dialogs_completed,goals_reached,emails_captured\r\nsales,3,2,0,0,0\r\n"
        );
        assert!(report(&table(), range(), Dimension::Day, &Scope::Funnel, "UTC").is_ok());
        for by in [Dimension::Team, Dimension::Agent] {
            assert!(
                report(&table(), range(), by, &Scope::Funnel, "UTC").is_err(),
                "{by:?}"
            );
        }
    }

    #[test]
    fn each_role_has_its_scope_and_a_range_holds_at_most_731_days_in_order() {
        let directory = crate::demo::directory().unwrap();
        let scope = |id: &str| Scope::of(directory.agent(&agent(id)).unwrap());
        assert_eq!(scope("ana"), Some(Scope::All));
        assert_eq!(scope("ben"), Some(Scope::Own(agent("ben"))));
        assert_eq!(scope("mia"), Some(Scope::Funnel));

        assert!(DayRange::new(day("2024-01-01"), day("2025-12-31")).is_ok());
        assert_eq!(
            DayRange::new(day("2024-01-01"), day("2026-01-01")),
            Err(RangeError::TooLong { days: 732 })
        );
        assert_eq!(
            DayRange::new(day("2026-01-02"), day("2026-01-01")),
            Err(RangeError::Reversed)
        );
    }

    #[test]
    fn a_report_of_731_days_by_day_comes_in_parts_that_each_fit_a_frame_and_join_to_the_whole() {
        let mut t = table();
        let from = day("2025-01-01");
        let mut to = from;
        let busy = Counters {
            requested: 123,
            connected: 100,
            time_to_accept: Mean {
                sum: 1_234_567,
                count: 100,
            },
            first_response: Mean {
                sum: 7_654_321,
                count: 99,
            },
            chat_length: Mean {
                sum: 98_765_432,
                count: 98,
            },
            score: Mean {
                sum: 250,
                count: 97,
            },
            triggered: 400,
            ..Counters::default()
        };
        for _ in 1..MAX_REPORT_DAYS {
            t.add(to, Bucket::All, &busy, 1);
            to = to.next().unwrap();
        }
        let range = DayRange::new(from, to).unwrap();
        let max = crate::protocol::MAX_FRAME_BYTES;
        let whole = report(&t, range, Dimension::Day, &Scope::All, "UTC").unwrap();
        assert_eq!(whole.rows.len(), 731);
        assert!(
            serde_json::to_string(&whole).unwrap().len() > max,
            "too big for one frame"
        );
        let parts = report_parts(&t, range, Dimension::Day, &Scope::All, "UTC", max).unwrap();
        assert!(parts.len() > 1);
        let (mut rows, mut csv) = (Vec::new(), String::new());
        for (i, part) in parts.iter().enumerate() {
            let frame = crate::protocol::ServerFrame::Report(part.clone()).to_json();
            assert!(frame.len() <= max, "part {i}: {} bytes", frame.len());
            assert_eq!((part.part, part.parts), (i, parts.len()));
            assert_eq!(
                part.csv.lines().count(),
                part.rows.len() + usize::from(i == 0)
            );
            rows.extend(part.rows.iter().cloned());
            csv.push_str(&part.csv);
        }
        assert_eq!(rows, whole.rows);
        assert_eq!(csv, whole.csv);
        assert_eq!((whole.part, whole.parts), (0, 1));
    }

    #[test]
    fn the_chat_length_in_minutes_is_rounded_once_from_the_sum_half_away_from_zero() {
        let mut t = Table::default();
        // 3 chats totalling 4.5 s over 3 chats: 1.5 s = 0.025 min, rounded to 0.03.
        let c = Counters {
            chat_length: Mean {
                sum: 4_500,
                count: 3,
            },
            ..Counters::default()
        };
        t.add(day("2026-11-01"), Bucket::All, &c, 1);
        let one = DayRange::new(day("2026-11-01"), day("2026-11-01")).unwrap();
        let r = report(&t, one, Dimension::Day, &Scope::All, "UTC").unwrap();
        assert_eq!(r.rows[0]["avg_chat_length_min"], 0.03);
        assert_eq!(csv_cells(&r.csv)[0]["avg_chat_length_s"], "1.500");
    }
}
