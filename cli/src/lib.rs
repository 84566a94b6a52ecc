//! The `livechat` command line: the local gateway (`livechat dev`, from
//! `livechat-gateway`) and the account's admin tools, which work against AWS as
//! much as locally: `livechat validate` checks a dialog or configuration file,
//! `livechat apply` writes a configuration to the table, `livechat diagram` draws
//! a dialog.

/// Why `livechat apply` did not apply.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The file has errors (each names file, line and rule).
    #[error(transparent)]
    Invalid(#[from] livechat_core::config::ConfigErrors),
    /// The table could not be written.
    #[error("could not write to table {table}: {reason}")]
    Store { table: String, reason: String },
    /// The configuration does not fit in one DynamoDB item.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// A dialog does not fit in one DynamoDB item.
    #[error(transparent)]
    DialogTooLarge(#[from] DialogTooLarge),
}

/// A configuration whose stored item would exceed DynamoDB's item limit.
#[derive(Debug, thiserror::Error)]
#[error(
    "the configuration takes {bytes} bytes as stored, and one DynamoDB item holds at most {max} \
     (agents, teams, rules and settings are one item): shorten it, e.g. fewer agents or schedule entries"
)]
pub struct TooLarge {
    /// The item's size.
    pub bytes: usize,
    /// The limit.
    pub max: usize,
}

/// A dialog whose stored item would exceed DynamoDB's item limit.
#[derive(Debug, thiserror::Error)]
#[error(
    "dialog {dialog} takes {bytes} bytes as stored, and one DynamoDB item holds at most {max} \
     (each dialog is an item of its own): shorten its cards or split it in two"
)]
pub struct DialogTooLarge {
    /// The dialog.
    pub dialog: String,
    /// The item's size.
    pub bytes: usize,
    /// The limit.
    pub max: usize,
}

/// Checks that `directory` fits in its DynamoDB item, and each dialog in its own.
pub fn check_size(directory: &livechat_core::routing::Directory) -> Result<usize, TooLarge> {
    let max = livechat_aws::dynamo::MAX_ITEM_BYTES;
    // A directory that does not serialise is refused by the store with its reason.
    let bytes = livechat_aws::dynamo::directory_item_bytes(directory).unwrap_or(0);
    if bytes > max {
        Err(TooLarge { bytes, max })
    } else {
        Ok(bytes)
    }
}

/// Checks that each dialog fits in its DynamoDB item.
pub fn check_dialog_sizes(
    directory: &livechat_core::routing::Directory,
) -> Result<(), DialogTooLarge> {
    let max = livechat_aws::dynamo::MAX_ITEM_BYTES;
    match livechat_aws::dynamo::largest_dialog_item_bytes(directory) {
        Ok((bytes, Some(dialog))) if bytes > max => Err(DialogTooLarge {
            dialog: dialog.to_string(),
            bytes,
            max,
        }),
        _ => Ok(()),
    }
}

/// Validates a configuration file and writes it to `table`: on DynamoDB Local at
/// `endpoint`, or in AWS with the environment's credentials and region.
pub async fn apply(
    file: &std::path::Path,
    table: &str,
    endpoint: Option<&str>,
) -> Result<livechat_core::routing::Directory, ApplyError> {
    use livechat_core::ports::DirectoryStore;
    let directory = livechat_core::config::load(file, |p| std::fs::read_to_string(p))?;
    check_size(&directory)?;
    check_dialog_sizes(&directory)?;
    let store = livechat_aws::dynamo::DynamoStore::new(client(endpoint).await, table);
    store
        .put_directory(&directory)
        .await
        .map_err(|e| ApplyError::Store {
            table: table.into(),
            reason: livechat_core::service::cause_chain(&e),
        })?;
    Ok(directory)
}

/// The `site.json` of `directory` (docs/protocol.md), as `livechat apply
/// --site-file` writes it: what the widget reads beside itself.
pub fn site_json(directory: &livechat_core::routing::Directory) -> String {
    // A Site is plain data: it always serialises.
    serde_json::to_string_pretty(&livechat_core::site::site(directory)).unwrap_or_default()
}

/// The key `site.json` takes in the deploy's web bucket: beside the widget, which
/// fetches it relative to itself.
pub const SITE_KEY: &str = "widget/site.json";

/// `site.json` could not be put into the web bucket.
#[derive(Debug, thiserror::Error)]
#[error("could not put {SITE_KEY} into bucket {bucket}: {reason}")]
pub struct PublishError {
    /// The bucket.
    pub bucket: String,
    /// The SDK's cause chain.
    pub reason: String,
}

/// Puts `directory`'s site.json into the web bucket (the stack's WebBucketName) as
/// [`SITE_KEY`], JSON cacheable for a minute as the widget files are served, with
/// the environment's credentials and region. CloudFront may keep its old copy for
/// up to its own TTL: docs/deploy.md invalidates it.
pub async fn publish_site(
    directory: &livechat_core::routing::Directory,
    bucket: &str,
) -> Result<(), PublishError> {
    let client = aws_sdk_s3::Client::new(&livechat_aws::runtime::sdk_config().await);
    client
        .put_object()
        .bucket(bucket)
        .key(SITE_KEY)
        .content_type("application/json")
        .cache_control(livechat_core::site::CACHE_CONTROL)
        .body(site_json(directory).into_bytes().into())
        .send()
        .await
        .map_err(|e| PublishError {
            bucket: bucket.into(),
            reason: livechat_core::service::cause_chain(&e),
        })?;
    Ok(())
}

/// Why `livechat diagram` drew nothing.
#[derive(Debug, thiserror::Error)]
pub enum DiagramError {
    /// A file could not be read.
    #[error("{}: cannot read: {reason}", path.display())]
    Read {
        path: std::path::PathBuf,
        reason: String,
    },
    /// The dialog file is not a dialog (its syntax or shape).
    #[error("{}: {reason}", path.display())]
    Format {
        path: std::path::PathBuf,
        reason: String,
    },
    /// The configuration given with `--config` has errors.
    #[error(transparent)]
    Config(#[from] livechat_core::config::ConfigErrors),
    /// The configuration file given as the file holds no dialog.
    #[error("{}: holds no dialog (neither dialog nor dialog_file)", .0.display())]
    NoDialog(std::path::PathBuf),
}

/// The output `livechat diagram` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagramFormat {
    /// A standalone SVG document.
    Svg,
    /// Mermaid flowchart text.
    Mermaid,
}

/// Draws the dialog of `file`: a dialog file (one with `cards:`), or a
/// configuration file, whose dialog is drawn. The fallback named under the live
/// chat cards is that of the configuration (`file` itself, or `config`); with
/// neither, "the account's message". Only the file's shape is checked: a dialog
/// that `validate` refuses is drawn as written, so that its problem can be seen.
pub fn diagram(
    file: &std::path::Path,
    config: Option<&std::path::Path>,
    format: DiagramFormat,
) -> Result<String, DiagramError> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|e| DiagramError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    };
    let text = read(file)?;
    let is_dialog = text
        .lines()
        .any(|l| l.starts_with("cards:") || l.trim_start().starts_with("\"cards\""));
    let load =
        |path: &std::path::Path| livechat_core::config::load(path, |p| std::fs::read_to_string(p));
    let (dialog, directory) = if is_dialog {
        let dialog =
            livechat_core::dialog::Dialog::from_path_contents(&file.to_string_lossy(), &text)
                .map_err(|e| DiagramError::Format {
                    path: file.to_path_buf(),
                    reason: e.to_string(),
                })?;
        (dialog, config.map(load).transpose()?)
    } else {
        let directory = load(file)?;
        let dialog = directory
            .dialogs
            .first()
            .map(|d| d.dialog.clone())
            .ok_or_else(|| DiagramError::NoDialog(file.to_path_buf()))?;
        (dialog, Some(directory))
    };
    let fallback = directory.as_ref().map(|d| &d.settings.fallback);
    let drawn = livechat_core::dialog::Diagram::of(&dialog, fallback);
    Ok(match format {
        DiagramFormat::Svg => drawn.to_svg(),
        DiagramFormat::Mermaid => drawn.to_mermaid(),
    })
}

/// Why `livechat report` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A date is not `YYYY-MM-DD`, or the range is backwards or too long.
    #[error("{0}")]
    Range(String),
    /// The table could not be read.
    #[error("could not read table {table}: {reason}")]
    Store { table: String, reason: String },
}

/// The longest range a report covers: the 24 months of daily counters kept.
pub const MAX_REPORT_DAYS: i64 = 731;

/// The report of `from` to `to` (both `YYYY-MM-DD`, in the account's time zone)
/// broken down `by`, from the counters in `table` (on DynamoDB Local at
/// `endpoint`, or in AWS): the same rows the inbox's Analytics page shows.
pub async fn report(
    table: &str,
    endpoint: Option<&str>,
    from: &str,
    to: &str,
    by: livechat_core::analytics::Dimension,
) -> Result<Vec<livechat_core::analytics::Row>, ReportError> {
    use livechat_core::analytics::Day;
    use livechat_core::ports::AnalyticsStore;
    let day = |name: &str, raw: &str| {
        raw.parse::<Day>()
            .map_err(|_| ReportError::Range(format!("--{name} {raw:?} is not a date (YYYY-MM-DD)")))
    };
    let (from_day, to_day) = (day("from", from)?, day("to", to)?);
    if from_day > to_day {
        return Err(ReportError::Range(format!(
            "--from {from} is after --to {to}"
        )));
    }
    let days = from_day
        .0
        .until(to_day.0)
        .map(|span| i64::from(span.get_days()))
        .unwrap_or(i64::MAX);
    if days >= MAX_REPORT_DAYS {
        return Err(ReportError::Range(format!(
            "a report covers at most {MAX_REPORT_DAYS} days (24 months of counters are kept)"
        )));
    }
    let store = livechat_aws::dynamo::DynamoStore::new(client(endpoint).await, table);
    let counters = store
        .counters(from_day, to_day)
        .await
        .map_err(|e| ReportError::Store {
            table: table.into(),
            reason: livechat_core::service::cause_chain(&e),
        })?;
    Ok(counters.report(from_day, to_day, by))
}

/// A DynamoDB client: DynamoDB Local at `endpoint`, or AWS from the environment.
async fn client(endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    match endpoint {
        Some(url) => {
            let sdk = livechat_gateway::local_sdk_config();
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .endpoint_url(url)
                    .build(),
            )
        }
        None => aws_sdk_dynamodb::Client::new(&livechat_aws::runtime::sdk_config().await),
    }
}

/// Report rows as a plain text table: the CSV's cells, columns aligned.
pub fn report_text(rows: &[livechat_core::analytics::Row]) -> String {
    aligned(&livechat_core::analytics::csv::cells(rows))
}

/// Cells as a plain text table, each column as wide as its widest cell.
pub fn aligned(cells: &[Vec<String>]) -> String {
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            cells
                .iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The cells of an RFC 4180 CSV text (quoted fields, doubled quotes, CRLF or LF
/// line ends), as the `report` frame's `csv` writes it.
pub fn csv_cells(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Why a running gateway did not answer a report.
#[derive(Debug, thiserror::Error)]
pub enum GatewayReportError {
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the gateway refused the report: {code}: {message}")]
    Refused { code: String, message: String },
    #[error("the connection ended before the report was whole")]
    Closed,
    #[error("no report within {0} s")]
    Timeout(u64),
}

/// How long `livechat report --gateway` waits for the whole report.
pub const GATEWAY_REPORT_TIMEOUT_SECS: u64 = 30;

/// The report of `from` to `to` by `by` (`day`, `dialog`, `team`, `agent`) from a
/// running gateway's WebSocket at `url` (`ws://host:port/ws`), asked as an agent
/// presenting `token` (docs/protocol.md: `report`, with the asker's role applied):
/// its CSV, the parts joined in order.
pub async fn report_from_gateway(
    url: &str,
    token: &str,
    from: &str,
    to: &str,
    by: &str,
) -> Result<String, GatewayReportError> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let separator = if url.contains('?') { '&' } else { '?' };
    let address = format!("{url}{separator}agent_token={token}");
    let connect = |reason: String| GatewayReportError::Connect {
        url: url.to_string(),
        reason,
    };
    let (mut socket, _) = tokio_tungstenite::connect_async(address.as_str())
        .await
        .map_err(|e| connect(e.to_string()))?;
    let ask = serde_json::json!({"action": "report", "from": from, "to": to, "by": by});
    socket
        .send(Message::Text(ask.to_string().into()))
        .await
        .map_err(|e| connect(e.to_string()))?;
    let collect = async {
        let mut parts: std::collections::BTreeMap<u64, String> = Default::default();
        while let Some(message) = socket.next().await {
            let Ok(Message::Text(text)) = message else {
                continue;
            };
            let Ok(frame) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            match frame["type"].as_str() {
                Some("report") => {
                    let part = frame["part"].as_u64().unwrap_or(0);
                    let count = frame["parts"].as_u64().unwrap_or(1);
                    let csv = frame["csv"].as_str().unwrap_or_default().to_string();
                    parts.insert(part, csv);
                    if parts.len() as u64 >= count {
                        return Ok(parts.into_values().collect::<String>());
                    }
                }
                Some("error") => {
                    return Err(GatewayReportError::Refused {
                        code: frame["code"].as_str().unwrap_or("error").to_string(),
                        message: frame["message"].as_str().unwrap_or_default().to_string(),
                    });
                }
                _ => {}
            }
        }
        Err(GatewayReportError::Closed)
    };
    let timeout = std::time::Duration::from_secs(GATEWAY_REPORT_TIMEOUT_SECS);
    let result =
        tokio::time::timeout(timeout, collect)
            .await
            .unwrap_or(Err(GatewayReportError::Timeout(
                GATEWAY_REPORT_TIMEOUT_SECS,
            )));
    let _ = socket.close(None).await;
    result
}

/// A token for `agent` signed with the local gateway's own key (`livechat dev`
/// signs its demo agents' tokens with it), valid for 10 minutes: what
/// `livechat report --gateway --agent` presents. Useless against a deployment.
pub fn local_agent_token(agent: &str) -> Result<String, String> {
    let agent = livechat_core::domain::AgentId::parse(agent).map_err(|e| e.to_string())?;
    Ok(livechat_core::auth::AgentTokenIssuer::hs256(
        livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
        livechat_gateway::LOCAL_ISSUER,
        livechat_gateway::LOCAL_AUDIENCE,
    )
    .issue(
        &agent,
        jiff::Timestamp::now(),
        jiff::SignedDuration::from_mins(10),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_read_quoted_fields_doubled_quotes_and_both_line_ends() {
        let text = "dialog,chats\r\n\"Sales, EU\",3\r\n\"say \"\"hi\"\"\",0\nlast,1";
        assert_eq!(
            csv_cells(text),
            [
                vec!["dialog", "chats"],
                vec!["Sales, EU", "3"],
                vec!["say \"hi\"", "0"],
                vec!["last", "1"],
            ]
        );
    }

    #[test]
    fn aligned_pads_every_column_to_its_widest_cell() {
        let cells = csv_cells("a,bb\r\nccc,d\r\n");
        assert_eq!(aligned(&cells), "a    bb\nccc  d\n");
    }
}

/// Why `livechat explain` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ExplainCommandError {
    /// `--visitor` is not a JSON object of attributes, or `--at` not a time.
    #[error("{0}")]
    Input(String),
    /// The configuration file has errors.
    #[error(transparent)]
    Invalid(#[from] livechat_core::config::ConfigErrors),
    /// No live chat card to route by.
    #[error(transparent)]
    Card(livechat_core::routing::ExplainError),
    /// The table could not be read.
    #[error("could not read table {table}: {reason}")]
    Store { table: String, reason: String },
    /// The gateway did not answer, or refused.
    #[error(transparent)]
    Gateway(livechat_gateway::explain::AskError),
}

/// The visitor attributes of `--visitor`: a JSON object whose values are text (a
/// number or a boolean is taken as its text).
pub fn visitor_attributes(
    json: &str,
) -> Result<livechat_core::domain::Attributes, ExplainCommandError> {
    let bad = |why: String| ExplainCommandError::Input(format!("--visitor: {why}"));
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| bad("not a JSON object of attributes".into()))?;
    let mut attributes = livechat_core::domain::Attributes::new();
    for (name, value) in object {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(bad(format!(
                    "{name}: a value is text, a number or a boolean"
                )));
            }
        };
        let name = livechat_core::domain::AttributeName::parse(name.clone())
            .map_err(|e| bad(e.to_string()))?;
        attributes.set(name, text);
    }
    Ok(attributes)
}

/// What `livechat explain` found: the card routed by, and the trace.
#[derive(Debug)]
pub struct Explained {
    /// The live chat card whose routing was used.
    pub card: livechat_core::domain::CardId,
    /// Its routing.
    pub mode: livechat_core::domain::RoutingMode,
    /// Why.
    pub trace: livechat_core::routing::Trace,
}

/// Who would get `visitor` at `at` on the live chat card `card` (the first when
/// `None`) of the dialog `dialog` (the first when `None`), and why: the router's own choice, over the directory in
/// `table` (or the configuration file `config`, not yet applied) and the loads,
/// connections, toggles and cursors the table holds. Reads only.
pub async fn explain(
    table: &str,
    endpoint: Option<&str>,
    config: Option<&std::path::Path>,
    visitor: &livechat_core::domain::Attributes,
    dialog: Option<&livechat_core::domain::DialogId>,
    card: Option<&livechat_core::domain::CardId>,
    at: jiff::Timestamp,
) -> Result<Explained, ExplainCommandError> {
    use livechat_core::ports::DirectoryStore;
    let store = livechat_aws::dynamo::DynamoStore::new(client(endpoint).await, table);
    let unreadable = |e: livechat_core::ports::StoreError| ExplainCommandError::Store {
        table: table.into(),
        reason: livechat_core::service::cause_chain(&e),
    };
    let directory = match config {
        Some(file) => livechat_core::config::load(file, |p| std::fs::read_to_string(p))?,
        None => store.directory().await.map_err(unreadable)?,
    };
    let (card, mode) = livechat_core::routing::card_routing(&directory, dialog, card)
        .map_err(ExplainCommandError::Card)?;
    let trace = livechat_core::routing::explain(&store, &directory, &mode, visitor, at)
        .await
        .map_err(unreadable)?;
    Ok(Explained { card, mode, trace })
}

/// Who would get `visitor` on the live chat card `card`, and why, asked of a running
/// local gateway (`livechat dev`, whose in-memory store no other process reads) at
/// `gateway` as the agent `token` names (a Sales Admin): the same engine over the
/// gateway's stored directory, or the configuration file `config` (loaded and
/// validated here, then sent), and the presence, loads, toggles and cursors it
/// holds; at `at`, else the gateway's now. Claims nothing.
pub async fn explain_from_gateway(
    gateway: &str,
    token: &str,
    config: Option<&std::path::Path>,
    visitor: &livechat_core::domain::Attributes,
    dialog: Option<&livechat_core::domain::DialogId>,
    card: Option<&livechat_core::domain::CardId>,
    at: Option<jiff::Timestamp>,
) -> Result<Explained, ExplainCommandError> {
    let config = match config {
        Some(file) => Some(livechat_core::config::load(file, |p| {
            std::fs::read_to_string(p)
        })?),
        None => None,
    };
    let request = livechat_gateway::explain::ExplainRequest {
        visitor: visitor.clone(),
        at,
        dialog: dialog.cloned(),
        card: card.cloned(),
        config,
    };
    let answer = livechat_gateway::explain::ask(gateway, token, &request)
        .await
        .map_err(ExplainCommandError::Gateway)?;
    Ok(Explained {
        card: answer.card,
        mode: answer.mode,
        trace: answer.trace,
    })
}

/// A trace in words: each pool tried, each agent's verdict, and the outcome.
pub fn explain_text(explained: &Explained) -> String {
    use livechat_core::routing::{Outcome, Verdict, Via};
    use std::fmt::Write;
    let trace = &explained.trace;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "At {}, live chat card {} ({}):",
        trace.at,
        explained.card,
        routing_words(&explained.mode)
    );
    if let Some(owner) = &trace.owner {
        let _ = writeln!(
            out,
            "  account owner of the visitor's email domain: {owner}"
        );
    }
    for rule in &trace.rules {
        let how = match (rule.matched, rule.used) {
            (true, true) => "matched, its pool used",
            (true, false) => "matched, not used (an earlier match had someone eligible)",
            (false, _) => "did not match",
        };
        let _ = writeln!(out, "  rule {}: {how}", rule.rule);
    }
    for pool in &trace.pools {
        let why = match pool.via {
            Via::AccountOwner => "the account owner",
            Via::CardPool => "the card's pool",
            Via::AnyAvailable => "every available agent, as the card's pool had nobody",
            Via::Transfer => "a transfer by the agent holding the chat",
        };
        let name = pool.pool.as_deref().unwrap_or("one agent");
        let _ = write!(out, "  pool {name} ({why})");
        if let (Some(before), Some(after)) = (&pool.cursor_before, &pool.cursor_after) {
            let _ = write!(out, ", cursor {before} -> {after}");
        } else if let Some(after) = &pool.cursor_after {
            let _ = write!(out, ", cursor (start) -> {after}");
        }
        out.push_str(":\n");
        for c in &pool.candidates {
            let verdict = match c.verdict {
                Verdict::Chosen => "CHOSEN".to_string(),
                Verdict::Eligible => "eligible, not next in the rotation".into(),
                Verdict::Unknown => "not in the directory".into(),
                Verdict::NoLiveChat => "no live chat permission".into(),
                Verdict::Away => "away (availability toggle)".into(),
                Verdict::NotInSchedule => "outside their schedule".into(),
                Verdict::Offline => "offline".into(),
                Verdict::AtLimit { load, limit } => {
                    format!("at their limit ({load} of {limit} chats)")
                }
                Verdict::AlreadyOffered => "offered this request already".into(),
                Verdict::KeptForQueue => "kept for a request ahead in the queue".into(),
                Verdict::Sender => "handing the chat on".into(),
            };
            let _ = writeln!(out, "    {:<16} {verdict}", c.agent.to_string());
        }
    }
    let outcome = match &trace.outcome {
        Outcome::Offer { agent } => format!("offered to {agent}"),
        Outcome::Nobody => "nobody eligible: the fallback".into(),
        Outcome::NeedsCursor => "incomplete (a cursor was not read)".into(),
        Outcome::Queued { pool } => format!("everyone at their limit: queued in {pool}"),
    };
    let _ = writeln!(out, "Outcome: {outcome}");
    out
}

fn routing_words(mode: &livechat_core::domain::RoutingMode) -> String {
    use livechat_core::domain::RoutingMode;
    match mode {
        RoutingMode::RoundRobin => "round robin over every agent".into(),
        RoutingMode::Agent { agent } => format!("to {agent}"),
        RoutingMode::Team { team } => format!("round robin in team {team}"),
        RoutingMode::CustomRules { rules } => format!(
            "custom rules {}",
            rules
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod explain_tests {
    use super::*;

    #[test]
    fn visitor_attributes_take_text_numbers_and_booleans_and_refuse_the_rest() {
        let a =
            visitor_attributes(r#"{"email": "jo@x.example", "company_size": 900, "vip": true}"#)
                .unwrap();
        assert_eq!(a.get("company_size"), Some("900"));
        assert_eq!(a.get("vip"), Some("true"));
        assert_eq!(a.get("email_domain"), Some("x.example"));
        for bad in [r#"[1]"#, r#"{"x": [1]}"#, "not json"] {
            assert!(visitor_attributes(bad).is_err(), "{bad}");
        }
    }
}
