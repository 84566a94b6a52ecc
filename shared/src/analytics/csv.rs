//! Report rows as CSV (RFC 4180): comma-separated, CRLF line ends, a field with a
//! comma, a quote or a line break quoted with its quotes doubled. A field a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return: ids may)
//! gets a leading `'`. The averages are [`Mean::value`]'s, as the chart's and the
//! table's are.

use super::counters::{Counters, Dimension, Mean, Row};

/// The header, then one line per row.
pub fn to_csv(rows: &[Row]) -> String {
    let by = rows.first().map_or("value", |r| r.dimension.name());
    csv_of(by, rows, &|_| true)
}

/// The columns of the dialog funnel, which a Marketing Admin sees alone.
pub const FUNNEL_COLUMNS: [&str; 5] = [
    "dialogs_triggered",
    "dialogs_engaged",
    "dialogs_completed",
    "goals_reached",
    "emails_captured",
];

/// As [`to_csv`], headed by `by`'s name however many rows there are, with only the
/// columns `keep` names (a role that sees part of the numbers gets a CSV of that
/// part).
pub fn to_csv_columns(by: Dimension, rows: &[Row], keep: &dyn Fn(&str) -> bool) -> String {
    csv_of(by.name(), rows, keep)
}

fn csv_of(by: &str, rows: &[Row], keep: &dyn Fn(&str) -> bool) -> String {
    let (header, lines) = csv_lines(by, rows, keep);
    std::iter::once(header).chain(lines).collect()
}

/// The header line headed by `by`, and one line per row, each ending in CRLF, with
/// only the columns `keep` names: what [`to_csv_columns`] joins, for a report sent in
/// parts.
pub fn csv_lines(by: &str, rows: &[Row], keep: &dyn Fn(&str) -> bool) -> (String, Vec<String>) {
    let columns: Vec<&Column> = COLUMNS.iter().filter(|(name, _)| keep(name)).collect();
    let mut header = String::new();
    let names = std::iter::once(by).chain(columns.iter().map(|(name, _)| *name));
    line(&mut header, names.map(ToString::to_string));
    let lines = rows
        .iter()
        .map(|row| {
            let mut out = String::new();
            let value = row.value.clone().unwrap_or_else(|| "(none)".into());
            let cells = columns.iter().map(|(_, cell)| cell(&row.counters));
            line(&mut out, std::iter::once(value).chain(cells));
            out
        })
        .collect();
    (header, lines)
}

/// The report's cells, unescaped: the header, then one line per row. What the CSV
/// and `livechat report`'s table show.
pub fn cells(rows: &[Row]) -> Vec<Vec<String>> {
    let by = rows.first().map_or("value", |r| r.dimension.name());
    let header = std::iter::once(by)
        .chain(COLUMNS.iter().map(|(name, _)| *name))
        .map(str::to_string)
        .collect();
    let body = rows.iter().map(|row| {
        let value = row.value.clone().unwrap_or_else(|| "(none)".into());
        std::iter::once(value)
            .chain(COLUMNS.iter().map(|(_, cell)| cell(&row.counters)))
            .collect()
    });
    std::iter::once(header).chain(body).collect()
}

/// A column: its name and its cell.
type Column = (&'static str, fn(&Counters) -> String);

const COLUMNS: [Column; 22] = [
    ("chats_requested", |c| c.requested.to_string()),
    ("chats_connected", |c| c.connected.to_string()),
    ("chats_missed", |c| c.missed.to_string()),
    ("missed_picked_up", |c| c.picked_up.to_string()),
    ("chats_abandoned", |c| c.abandoned.to_string()),
    ("offers_declined", |c| c.offers_declined.to_string()),
    ("offers_timed_out", |c| c.offers_timed_out.to_string()),
    ("transfers_given", |c| c.transfers_given.to_string()),
    ("transfers_received", |c| c.transfers_received.to_string()),
    ("avg_time_to_accept_s", |c| seconds(&c.time_to_accept)),
    ("time_to_accept_n", |c| c.time_to_accept.count.to_string()),
    ("avg_first_response_s", |c| seconds(&c.first_response)),
    ("first_response_n", |c| c.first_response.count.to_string()),
    ("avg_chat_length_s", |c| seconds(&c.chat_length)),
    ("chat_length_n", |c| c.chat_length.count.to_string()),
    ("avg_score", |c| hundredths(&c.score)),
    ("score_n", |c| c.score.count.to_string()),
    ("dialogs_triggered", |c| c.triggered.to_string()),
    ("dialogs_engaged", |c| c.engaged.to_string()),
    ("dialogs_completed", |c| c.completed.to_string()),
    ("goals_reached", |c| c.goals_reached.to_string()),
    ("emails_captured", |c| c.emails_captured.to_string()),
];

/// A mean of milliseconds as seconds with three decimals; empty without values.
pub fn seconds(mean: &Mean) -> String {
    mean.value(1)
        .map_or_else(String::new, |ms| fixed(ms, 1000, 3))
}

/// A mean of points with two decimals; empty without values.
pub fn hundredths(mean: &Mean) -> String {
    mean.value(100)
        .map_or_else(String::new, |h| fixed(h, 100, 2))
}

/// `units / per` written with `places` decimals, exactly (integers only).
fn fixed(units: i64, per: i64, places: usize) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let (whole, frac) = (
        units.unsigned_abs() / per.unsigned_abs(),
        units.unsigned_abs() % per.unsigned_abs(),
    );
    format!("{sign}{whole}.{frac:0places$}")
}

fn line(out: &mut String, fields: impl Iterator<Item = String>) {
    let cells: Vec<String> = fields.map(|f| field(&f)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// One field, neutralised then quoted as needed.
pub fn field(raw: &str) -> String {
    let safe = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if safe.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}
