//! `livechat`: the local gateway (`livechat dev`), dialog and configuration checks
//! (`livechat validate`), `livechat apply`, `livechat report` and `livechat diagram`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use livechat_gateway::{Options, start};

#[derive(Parser)]
#[command(
    name = "livechat",
    version,
    about = "Serverless live chat: local gateway and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole chat locally: WebSocket API, @connections, widget demo, Agent Inbox.
    Dev {
        /// Address to listen on.
        #[arg(long, env = "LIVECHAT_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Stage name in the @connections URL and in events.
        #[arg(long, default_value = "local")]
        stage: String,
        /// Idle timeout in seconds (API Gateway: 600).
        #[arg(long, default_value_t = 600)]
        idle_timeout: u64,
        /// Maximum connection time in seconds (API Gateway: 7200).
        #[arg(long, default_value_t = 7200)]
        max_connection: u64,
        /// Invoke the functions through this Lambda API (e.g. `cargo lambda watch`'s
        /// http://127.0.0.1:9000) instead of in process.
        #[arg(long, env = "LIVECHAT_INVOKE_URL")]
        invoke_url: Option<String>,
        /// Keep state in DynamoDB at this endpoint (DynamoDB Local, e.g.
        /// http://127.0.0.1:8000) instead of the embedded in-memory store. With
        /// --invoke-url the gateway only creates the table there when missing.
        #[arg(long, env = "DYNAMODB_ENDPOINT")]
        dynamodb_endpoint: Option<String>,
        /// Poll this SQS queue (the functions' DELAY_QUEUE_URL) for route-to-agent as
        /// Lambda's event source mapping does: batches of up to 10, ReportBatchItemFailures,
        /// the queue's own visibility timeout and redrive; instead of the emulated
        /// delay queue. Needs --invoke-url; the SQS endpoint, region and credentials
        /// are the environment's (AWS_ENDPOINT_URL_SQS, AWS_REGION, AWS_ACCESS_KEY_ID...).
        #[arg(long, env = "LIVECHAT_SQS_QUEUE_URL", requires = "invoke_url")]
        sqs_queue_url: Option<String>,
        /// The DynamoDB table (created when missing).
        #[arg(long, env = "TABLE_NAME", default_value = "livechat")]
        table: String,
        /// The file emails (agents' notices, replies to visitors) are written to
        /// instead of being sent; printed at start.
        #[arg(long, env = "LIVECHAT_OUTBOX")]
        outbox: Option<std::path::PathBuf>,
        /// The access key id `@connections` requests must be signed with (made
        /// afresh each run when unset); give the functions the same as
        /// AWS_ACCESS_KEY_ID when they run as separate processes.
        #[arg(
            long,
            env = "LIVECHAT_CONNECTIONS_ACCESS_KEY_ID",
            requires = "connections_secret_access_key"
        )]
        connections_access_key_id: Option<String>,
        /// The secret access key that goes with it.
        #[arg(
            long,
            env = "LIVECHAT_CONNECTIONS_SECRET_ACCESS_KEY",
            requires = "connections_access_key_id",
            hide_env_values = true
        )]
        connections_secret_access_key: Option<String>,
        /// Serve the relay's floor instead of the chat, for the bench: every message
        /// is posted back to its sender through @connections, as a function that
        /// did nothing else would.
        #[arg(long, hide = true)]
        echo: bool,
    },
    /// Check a configuration file (agents, teams, rules, account routing, settings,
    /// dialog) or a dialog file; every error names the file, line and rule.
    Validate {
        /// A configuration file, or a dialog file (one with `cards:`).
        file: std::path::PathBuf,
        /// For a dialog file: the configuration whose agents, teams and rules it
        /// routes to (the demo one by default).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Validate a configuration file and write it to the DynamoDB table, locally
    /// (--dynamodb-endpoint) or in AWS (the environment's credentials and region).
    Apply {
        /// The configuration file.
        file: std::path::PathBuf,
        /// The table (the stack's TableName output).
        #[arg(long, env = "TABLE_NAME", default_value = "livechat")]
        table: String,
        /// DynamoDB Local's endpoint, e.g. http://127.0.0.1:8000.
        #[arg(long, env = "DYNAMODB_ENDPOINT")]
        dynamodb_endpoint: Option<String>,
    },
    /// Who would get this visitor right now, and why: the router's own choice over
    /// the stored directory (or --config, not yet applied) and the agents'
    /// presence, loads and toggles and the cursors in the table. Claims nothing.
    Explain {
        /// The visitor's attributes, a JSON object, e.g.
        /// '{"email": "jo@bigcustomer.example", "company_size": 900}'.
        #[arg(long)]
        visitor: String,
        /// The moment to judge availability at (RFC 3339); now by default.
        #[arg(long)]
        at: Option<String>,
        /// The dialog whose live chat card to route by (the first by default).
        #[arg(long)]
        dialog: Option<String>,
        /// The live chat card to route by (the dialog's first by default).
        #[arg(long)]
        card: Option<String>,
        /// A configuration file to try instead of the applied one.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// The trace as JSON instead of words.
        #[arg(long)]
        json: bool,
        /// The table (the stack's TableName output).
        #[arg(long, env = "TABLE_NAME", default_value = "livechat")]
        table: String,
        /// DynamoDB Local's endpoint, e.g. http://127.0.0.1:8000.
        #[arg(long, env = "DYNAMODB_ENDPOINT")]
        dynamodb_endpoint: Option<String>,
        /// Ask a running local gateway (`livechat dev`) instead of reading a table:
        /// its address, e.g. http://127.0.0.1:8080 (or its ws://.../ws URL). The
        /// answer is its in-memory store's, asked as a Sales Admin.
        #[arg(long, conflicts_with = "dynamodb_endpoint")]
        gateway: Option<String>,
        /// With --gateway: the agent token to present.
        #[arg(long, env = "LIVECHAT_AGENT_TOKEN", requires = "gateway")]
        token: Option<String>,
        /// With --gateway and no --token: ask as this agent with a token signed by
        /// the local gateway's own key.
        #[arg(long, requires = "gateway", conflicts_with = "token")]
        agent: Option<String>,
    },
    /// Draw a dialog's cards and branches: an SVG, or Mermaid text with --mermaid
    /// (docs/dialogs.md#the-dialog-as-a-picture).
    Diagram {
        /// A dialog file, or a configuration file whose dialog is drawn.
        file: std::path::PathBuf,
        /// Mermaid flowchart text instead of SVG.
        #[arg(long)]
        mermaid: bool,
        /// Write to this file instead of standard output.
        #[arg(short = 'o', long = "output")]
        output: Option<std::path::PathBuf>,
        /// For a dialog file: the configuration whose fallback message the live
        /// chat cards name.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// The analytics of a date range (docs/analytics.md) from the table's daily
    /// counters: one row per day, dialog, team or agent.
    Report {
        /// The first day, YYYY-MM-DD, in the account's time zone.
        #[arg(long)]
        from: String,
        /// The last day, included.
        #[arg(long)]
        to: String,
        /// What the rows are.
        #[arg(long, value_enum, default_value = "day")]
        by: By,
        /// CSV (RFC 4180) instead of a table: the same cells.
        #[arg(long)]
        csv: bool,
        /// The table (the stack's TableName output).
        #[arg(long, env = "TABLE_NAME", default_value = "livechat")]
        table: String,
        /// DynamoDB Local's endpoint, e.g. http://127.0.0.1:8000.
        #[arg(long, env = "DYNAMODB_ENDPOINT")]
        dynamodb_endpoint: Option<String>,
        /// Ask a running gateway instead of reading the table: its WebSocket URL,
        /// e.g. ws://127.0.0.1:8080/ws (the report is the asker's role's, as the
        /// inbox's Analytics page shows it).
        #[arg(long, conflicts_with = "dynamodb_endpoint")]
        gateway: Option<String>,
        /// With --gateway: the agent token to present.
        #[arg(long, env = "LIVECHAT_AGENT_TOKEN", requires = "gateway")]
        token: Option<String>,
        /// With --gateway and no --token: ask as this agent with a token signed by
        /// the local gateway's own key (`livechat dev` only).
        #[arg(long, requires = "gateway", conflicts_with = "token")]
        agent: Option<String>,
    },
}

/// What a report's rows are.
#[derive(Clone, Copy, clap::ValueEnum)]
enum By {
    Day,
    Dialog,
    Team,
    Agent,
}

#[tokio::main]
async fn main() -> ExitCode {
    livechat_aws::runtime::init_tracing();
    match Cli::parse().command {
        Command::Dev {
            listen,
            stage,
            idle_timeout,
            max_connection,
            invoke_url,
            dynamodb_endpoint,
            sqs_queue_url,
            table,
            outbox,
            connections_access_key_id,
            connections_secret_access_key,
            echo,
        } => {
            let connections_credentials = connections_access_key_id
                .zip(connections_secret_access_key)
                .map(
                    |(access_key_id, secret_access_key)| livechat_gateway::sigv4::Credentials {
                        access_key_id,
                        secret_access_key,
                    },
                );
            let options = Options {
                connections_credentials,
                listen,
                stage,
                idle_timeout: Duration::from_secs(idle_timeout),
                max_connection: Duration::from_secs(max_connection),
                invoke_url,
                dynamodb_endpoint,
                sqs_queue_url,
                table,
                outbox,
                echo,
                ..Options::default()
            };
            dev(options).await
        }
        Command::Validate { file, config } => validate(&file, config.as_deref()),
        Command::Diagram {
            file,
            mermaid,
            output,
            config,
        } => {
            let format = if mermaid {
                livechat_cli::DiagramFormat::Mermaid
            } else {
                livechat_cli::DiagramFormat::Svg
            };
            let drawn = match livechat_cli::diagram(&file, config.as_deref(), format) {
                Ok(drawn) => drawn,
                Err(e) => {
                    eprintln!("livechat diagram: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match output {
                Some(path) => match std::fs::write(&path, drawn) {
                    Ok(()) => {
                        eprintln!("{}: written", path.display());
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("livechat diagram: {}: {e}", path.display());
                        ExitCode::FAILURE
                    }
                },
                None => {
                    print!("{drawn}");
                    ExitCode::SUCCESS
                }
            }
        }
        Command::Apply {
            file,
            table,
            dynamodb_endpoint,
        } => apply(&file, &table, dynamodb_endpoint).await,
        Command::Explain {
            visitor,
            at,
            dialog,
            card,
            config,
            json,
            table,
            dynamodb_endpoint,
            gateway,
            token,
            agent,
        } => {
            let source = match gateway {
                Some(url) => match gateway_token("explain", token, agent) {
                    Ok(token) => Source::Gateway { url, token },
                    Err(code) => return code,
                },
                None => Source::Table {
                    table,
                    endpoint: dynamodb_endpoint,
                },
            };
            explain(
                &visitor,
                at.as_deref(),
                dialog.as_deref(),
                card.as_deref(),
                config.as_deref(),
                json,
                source,
            )
            .await
        }
        Command::Report {
            from,
            to,
            by,
            csv,
            table,
            dynamodb_endpoint,
            gateway,
            token,
            agent,
        } => {
            use livechat_core::analytics::Dimension;
            if let Some(url) = gateway {
                return report_from_gateway(&url, token, agent, &from, &to, by, csv).await;
            }
            let by = match by {
                By::Day => Dimension::Day,
                By::Dialog => Dimension::Dialog,
                By::Team => Dimension::Team,
                By::Agent => Dimension::Agent,
            };
            match livechat_cli::report(&table, dynamodb_endpoint.as_deref(), &from, &to, by).await {
                Ok(rows) if csv => {
                    print!("{}", livechat_core::analytics::csv::to_csv(&rows));
                    ExitCode::SUCCESS
                }
                Ok(rows) => {
                    print!("{}", livechat_cli::report_text(&rows));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("livechat report: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Where `livechat explain` asks.
enum Source {
    /// A DynamoDB table.
    Table {
        table: String,
        endpoint: Option<String>,
    },
    /// A running local gateway, as an agent.
    Gateway { url: String, token: String },
}

/// The agent token `--gateway` presents: `--token`, else one the local gateway's
/// key signs for `--agent`.
fn gateway_token(
    command: &str,
    token: Option<String>,
    agent: Option<String>,
) -> Result<String, ExitCode> {
    match (token, agent) {
        (Some(token), _) => Ok(token),
        (None, Some(agent)) => livechat_cli::local_agent_token(&agent).map_err(|e| {
            eprintln!("livechat {command}: --agent {agent:?}: {e}");
            ExitCode::FAILURE
        }),
        (None, None) => {
            eprintln!(
                "livechat {command}: --gateway needs --token (or LIVECHAT_AGENT_TOKEN), or --agent for a local gateway"
            );
            Err(ExitCode::FAILURE)
        }
    }
}

/// `livechat explain`.
async fn explain(
    visitor: &str,
    at: Option<&str>,
    dialog: Option<&str>,
    card: Option<&str>,
    config: Option<&std::path::Path>,
    json: bool,
    source: Source,
) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("livechat explain: {e}");
        ExitCode::FAILURE
    };
    let visitor = match livechat_cli::visitor_attributes(visitor) {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    let at = match at.map(str::parse::<jiff::Timestamp>) {
        None => None,
        Some(Ok(at)) => Some(at),
        Some(Err(e)) => return fail(&format!("--at: {e}")),
    };
    let dialog = match dialog.map(|d| livechat_core::domain::DialogId::parse(d.to_string())) {
        None => None,
        Some(Ok(dialog)) => Some(dialog),
        Some(Err(e)) => return fail(&format!("--dialog: {e}")),
    };
    let card = match card.map(|c| livechat_core::domain::CardId::parse(c.to_string())) {
        None => None,
        Some(Ok(card)) => Some(card),
        Some(Err(e)) => return fail(&format!("--card: {e}")),
    };
    let explained = match source {
        Source::Table { table, endpoint } => {
            let at = at.unwrap_or_else(jiff::Timestamp::now);
            livechat_cli::explain(
                &table,
                endpoint.as_deref(),
                config,
                &visitor,
                dialog.as_ref(),
                card.as_ref(),
                at,
            )
            .await
        }
        Source::Gateway { url, token } => {
            livechat_cli::explain_from_gateway(
                &url,
                &token,
                config,
                &visitor,
                dialog.as_ref(),
                card.as_ref(),
                at,
            )
            .await
        }
    };
    match explained {
        Ok(explained) if json => match serde_json::to_string_pretty(&explained.trace) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Ok(explained) => {
            print!("{}", livechat_cli::explain_text(&explained));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// `livechat report --gateway`: the report through a running gateway.
async fn report_from_gateway(
    url: &str,
    token: Option<String>,
    agent: Option<String>,
    from: &str,
    to: &str,
    by: By,
    csv: bool,
) -> ExitCode {
    let token = match gateway_token("report", token, agent) {
        Ok(token) => token,
        Err(code) => return code,
    };
    let by = match by {
        By::Day => "day",
        By::Dialog => "dialog",
        By::Team => "team",
        By::Agent => "agent",
    };
    match livechat_cli::report_from_gateway(url, &token, from, to, by).await {
        Ok(text) if csv => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(text) => {
            print!("{}", livechat_cli::aligned(&livechat_cli::csv_cells(&text)));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("livechat report: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn dev(options: Options) -> ExitCode {
    let queue = options.sqs_queue_url.clone();
    let running = match start(options).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("livechat dev: {e}");
            return ExitCode::FAILURE;
        }
    };
    let base = format!("http://{}", running.addr);
    println!("livechat local gateway on {base}");
    println!("  widget demo page:   {base}/");
    println!("  WebSocket API:      ws://{}/ws", running.addr);
    println!("  @connections API:   {base}/local/@connections/{{id}}");
    match &queue {
        Some(url) => println!("  delay queue:        {url} (polled as Lambda's SQS trigger does)"),
        None if running.chat.is_some() => println!("  delay queue:        emulated in memory"),
        None => {}
    }
    if let Some(outbox) = &running.outbox {
        println!("  emails (not sent):  {}", outbox.display());
    }
    println!("    SigV4-signed only (service execute-api, any region), with:");
    println!(
        "    AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
        running.credentials.access_key_id, running.credentials.secret_access_key
    );
    println!("  Agent Inbox, one link per demo agent (tokens valid 7 days):");
    for (agent, token) in &running.agent_tokens {
        println!("    {agent:<6} {base}/inbox/#token={token}");
    }
    println!(
        "  Agent tokens for tests: HS256 JWTs with the secret {:?}, iss {:?}, aud {:?},",
        livechat_gateway::LOCAL_AGENT_SECRET,
        livechat_gateway::LOCAL_ISSUER,
        livechat_gateway::LOCAL_AUDIENCE
    );
    println!("    sub the agent id and an exp; present one as /ws?agent_token=...");
    let identify = livechat_gateway::local_identify_secret();
    if identify == livechat_gateway::LOCAL_IDENTIFY_SECRET {
        println!("  Signed identify (docs/identify.md): the local-only secret {identify:?}");
    } else {
        println!("  Signed identify (docs/identify.md): the secret in IDENTIFY_SECRET");
    }
    tokio::select! {
        _ = running.server => ExitCode::FAILURE,
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}

fn load_config(file: &std::path::Path) -> Result<livechat_core::routing::Directory, ExitCode> {
    livechat_core::config::load(file, |p| std::fs::read_to_string(p)).map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::FAILURE
    })
}

fn validate(file: &std::path::Path, config_file: Option<&std::path::Path>) -> ExitCode {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let is_dialog = text
        .lines()
        .any(|l| l.starts_with("cards:") || l.trim_start().starts_with("\"cards\""));
    if !is_dialog {
        return match load_config(file) {
            Ok(directory) => {
                if let Err(e) = livechat_cli::check_size(&directory) {
                    eprintln!("{}: {e}", file.display());
                    return ExitCode::FAILURE;
                }
                if let Err(e) = livechat_cli::check_dialog_sizes(&directory) {
                    eprintln!("{}: {e}", file.display());
                    return ExitCode::FAILURE;
                }
                let cards: usize = directory.dialogs.iter().map(|d| d.dialog.cards.len()).sum();
                println!(
                    "{}: valid ({} agents, {} teams, {} rules, {} dialogs of {cards} cards)",
                    file.display(),
                    directory.agents.len(),
                    directory.teams.len(),
                    directory.rules.len(),
                    directory.dialogs.len()
                );
                for warning in livechat_core::config::warnings(&directory) {
                    eprintln!("{}: warning: {warning}", file.display());
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        };
    }
    let mut config = livechat_gateway::local_config(SocketAddr::from(([127, 0, 0, 1], 0)), "local");
    config.dialog_path = Some(file.to_path_buf());
    config.directory_path = config_file.map(std::path::Path::to_path_buf);
    let directory = match livechat_aws::runtime::load_directory(&config) {
        Ok(directory) => directory,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // The validator's errors with their cards' lines, one a line.
    if let Ok(dialog) =
        livechat_core::dialog::Dialog::from_path_contents(&file.to_string_lossy(), &text)
        && let Err(errors) = livechat_core::dialog::validate(&dialog, &directory.targets())
    {
        eprintln!(
            "{}",
            livechat_core::config::locate_dialog_errors(file, &text, &errors)
        );
        return ExitCode::FAILURE;
    }
    let checked = livechat_aws::runtime::load_dialog(&config, &directory);
    match checked {
        Ok(valid) => {
            println!("{}: valid ({} cards)", file.display(), valid.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn apply(file: &std::path::Path, table: &str, endpoint: Option<String>) -> ExitCode {
    match livechat_cli::apply(file, table, endpoint.as_deref()).await {
        Ok(directory) => {
            println!(
                "{}: applied to table {table} ({} agents, {} teams, {} rules); functions pick it up within {} s",
                file.display(),
                directory.agents.len(),
                directory.teams.len(),
                directory.rules.len(),
                livechat_core::service::DIRECTORY_REFRESH.as_secs()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
