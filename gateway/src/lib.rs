//! The local gateway: the whole live chat on one machine, behaving like the AWS
//! deployment. Neither AWS SAM nor cargo-lambda can run a WebSocket API locally, so
//! this is ours.
//!
//! # Layout
//! - [`ws`]: the WebSocket API at `/ws`: `$connect` decided before the upgrade (a
//!   refusal is answered with its HTTP status), route selection on
//!   `$request.body.action`, `$default`, `$disconnect`, the 128 KB message limit
//!   (close 1009), the idle timeout and the maximum connection time.
//! - [`management`]: the `@connections` API (POST, GET, DELETE; 410 for an unknown
//!   connection) that the handlers' `aws-sdk-apigatewaymanagement` client talks to;
//!   only SigV4-signed requests with the gateway's credentials and Host ([`sigv4`]).
//! - [`events`]: API Gateway and SQS event shapes.
//! - [`invoke`]: runs the functions in process, or through the Lambda invoke API.
//! - [`queue`]: the SQS delay queue, emulated on the in-memory scheduler.
//! - [`event_source`]: or, with functions out of process, the SQS event source
//!   mapping on a real SQS API (`--sqs-queue-url`).
//! - [`assets`]: the widget demo page and the Agent Inbox, embedded in the binary.
//! - [`explain`]: `POST /explain`, `livechat explain --gateway`'s question answered
//!   against the in-memory store.

pub mod analytics;
pub mod assets;
pub mod event_source;
pub mod events;
pub mod explain;
pub mod invoke;
pub mod management;
pub mod queue;
pub mod sigv4;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use jiff::{SignedDuration, Timestamp};
use livechat_aws::config::{AgentKeys, Config};
use livechat_core::auth::AgentTokenIssuer;
use livechat_core::memory::MemoryScheduler;
use livechat_core::ports::SystemClock;
use livechat_core::service::Chat;
use tokio::sync::mpsc;

use crate::invoke::Invoker;

/// Local-only secrets: the gateway prints tokens signed with them. Never deploy them.
pub const LOCAL_AGENT_SECRET: &str = "local-only-agent-token-secret-do-not-deploy";
/// Local-only visitor token secret.
pub const LOCAL_VISITOR_SECRET: &str = "local-only-visitor-token-secret-do-not-deploy";
/// Local-only identify secret (docs/identify.md), used unless `IDENTIFY_SECRET` is
/// set in the gateway's environment; `livechat dev` prints which.
pub const LOCAL_IDENTIFY_SECRET: &str = "local-only-identify-secret-do-not-deploy";

/// The identify secret of a local run: `IDENTIFY_SECRET` from the environment,
/// else [`LOCAL_IDENTIFY_SECRET`].
pub fn local_identify_secret() -> String {
    std::env::var("IDENTIFY_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| LOCAL_IDENTIFY_SECRET.into())
}
/// The issuer of local tokens.
pub const LOCAL_ISSUER: &str = "livechat-local";
/// The audience of local agent tokens.
pub const LOCAL_AUDIENCE: &str = "livechat-inbox";

/// How the gateway runs.
#[derive(Clone)]
pub struct Options {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The stage name in URLs and events.
    pub stage: String,
    /// Close a connection with no message either way for this long (API Gateway: 10 min).
    pub idle_timeout: Duration,
    /// Close any connection after this long (API Gateway: 2 h).
    pub max_connection: Duration,
    /// Largest message accepted (API Gateway: 128 KB); larger closes with 1009.
    pub max_message_bytes: usize,
    /// Invoke functions through this Lambda API base URL instead of in process.
    pub invoke_url: Option<String>,
    /// Keep state in DynamoDB at this endpoint (DynamoDB Local) instead of memory.
    /// With `invoke_url` the functions keep theirs there: the gateway only creates
    /// the table when it is missing.
    pub dynamodb_endpoint: Option<String>,
    /// Poll this SQS queue for `route-to-agent` as Lambda's event source mapping
    /// does ([`event_source`]) instead of emulating the delay queue; only with
    /// `invoke_url` (the functions then send to it, `DELAY_QUEUE_URL`). The SQS
    /// client is the environment's (`AWS_ENDPOINT_URL_SQS`, region, credentials).
    pub sqs_queue_url: Option<String>,
    /// The DynamoDB table (created on DynamoDB Local when missing).
    pub table: String,
    /// The functions' clock (tests move a manual one; the socket timeouts use real time).
    pub clock: Arc<dyn livechat_core::ports::Clock>,
    /// The file emails are written to instead of being sent (with in-process
    /// functions); by default [`default_outbox`] of the port listened on.
    pub outbox: Option<std::path::PathBuf>,
    /// The credentials `@connections` requests must be signed with; made per run from
    /// the OS random source when `None`.
    pub connections_credentials: Option<sigv4::Credentials>,
    /// The account's configuration file (agents, teams, settings, dialog) instead
    /// of `DIRECTORY_PATH`'s or the demo account.
    pub directory_path: Option<std::path::PathBuf>,
    /// Send the in-process functions' emails through SES v2 at this endpoint (a
    /// local stand-in), from this address, instead of writing them to the outbox.
    pub ses: Option<(String, livechat_core::domain::Email)>,
    /// Record the in-process functions' AWS calls here, each attributed to the
    /// function whose handler made it; by default in the file
    /// `LIVECHAT_AWS_CALL_LOG` names, if any ([`livechat_aws::calls`]).
    pub calls: Option<livechat_aws::calls::CallLog>,
    /// Serve the relay's floor instead of the chat ([`Invoker::Echo`]): every
    /// message is posted back to its sender through `@connections`. For the bench.
    pub echo: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            stage: "local".into(),
            idle_timeout: Duration::from_secs(600),
            max_connection: Duration::from_secs(7200),
            max_message_bytes: 128 * 1024,
            invoke_url: None,
            dynamodb_endpoint: None,
            sqs_queue_url: None,
            table: "livechat".into(),
            clock: Arc::new(SystemClock),
            outbox: None,
            connections_credentials: None,
            directory_path: None,
            ses: None,
            echo: false,
            calls: None,
        }
    }
}

/// Where a gateway listening on `port` writes its emails unless told otherwise:
/// `livechat-dev/outbox-<port>.txt` in the system's temporary directory.
pub fn default_outbox(port: u16) -> std::path::PathBuf {
    std::env::temp_dir()
        .join("livechat-dev")
        .join(format!("outbox-{port}.txt"))
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Chat(#[from] livechat_aws::runtime::StartError),
    #[error("cannot create the DynamoDB table {table}: {reason}")]
    Table { table: String, reason: String },
    #[error("cannot create the outbox's folder {path}: {source}")]
    Outbox {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the operating system's random source: {0}")]
    Random(#[from] getrandom::Error),
    #[error(transparent)]
    Queue(#[from] event_source::SourceError),
    #[error("the client of the Lambda invoke API could not be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error(
        "polling an SQS queue needs the functions out of process (--invoke-url): in process they schedule in memory"
    )]
    QueueWithoutInvokeUrl,
}

/// Creates the table on DynamoDB Local when it does not exist yet.
async fn ensure_table(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), StartError> {
    let exists = client.describe_table().table_name(table).send().await;
    match exists {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            livechat_aws::dynamo::table::create(client, table)
                .await
                .map_err(|e| StartError::Table {
                    table: table.into(),
                    reason: livechat_core::service::cause_chain(&e),
                })
        }
        Err(e) => Err(StartError::Table {
            table: table.into(),
            reason: livechat_core::service::cause_chain(&e),
        }),
    }
}

/// What the gateway sends down one socket.
#[derive(Debug)]
pub enum Outbound {
    /// A text frame.
    Text(String),
    /// Close with a code and reason.
    Close(u16, String),
}

/// How many bytes of frames may wait for a client that does not read them. Beyond
/// it the gateway closes the connection rather than grow without bound: one frame is
/// at most 128 KB, and a client that reads keeps this near zero.
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// One open WebSocket connection.
#[derive(Debug, Clone)]
pub struct OpenConnection {
    /// Frames to send.
    pub tx: mpsc::UnboundedSender<Outbound>,
    /// Bytes of text frames queued and not yet written to the socket.
    pub queued: Arc<std::sync::atomic::AtomicUsize>,
    /// Woken when the queue went over [`MAX_QUEUED_BYTES`]: the socket is closed.
    pub overflow: Arc<tokio::sync::Notify>,
    /// When it opened.
    pub connected_at: Timestamp,
    /// The last frame either way.
    pub last_active: Timestamp,
    /// The client's address.
    pub source_ip: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
}

impl OpenConnection {
    /// A new connection's sending side and the receiver its writer drains.
    pub fn new(
        opened: Timestamp,
        source_ip: String,
        user_agent: String,
    ) -> (Self, mpsc::UnboundedReceiver<Outbound>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let connection = Self {
            tx,
            queued: Arc::default(),
            overflow: Arc::default(),
            connected_at: opened,
            last_active: opened,
            source_ip,
            user_agent,
        };
        (connection, rx)
    }

    /// Queues a text frame; `false` when the connection is closing, or when the
    /// frame would take the queue over [`MAX_QUEUED_BYTES`] (the connection is then
    /// closed: its client reads nothing).
    pub fn send_text(&self, text: String) -> bool {
        use std::sync::atomic::Ordering;
        let len = text.len();
        let before = self.queued.fetch_add(len, Ordering::AcqRel);
        if before.saturating_add(len) > MAX_QUEUED_BYTES {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            self.overflow.notify_one();
            return false;
        }
        if self.tx.send(Outbound::Text(text)).is_err() {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// Shared state of the gateway.
pub struct Gateway {
    options: Options,
    invoker: Invoker,
    connections: Mutex<HashMap<String, OpenConnection>>,
    domain: String,
    listen: SocketAddr,
    credentials: sigv4::Credentials,
}

impl Gateway {
    fn connections(&self) -> MutexGuard<'_, HashMap<String, OpenConnection>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ids of the open connections.
    pub fn open_connections(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.connections().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Where the gateway listens.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Marks a connection active now (for the idle timeout).
    fn touch(&self, id: &str) {
        if let Some(c) = self.connections().get_mut(id) {
            c.last_active = Timestamp::now();
        }
    }
}

/// A running gateway.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Inbox URLs of the demo agents, with their tokens.
    pub agent_tokens: Vec<(String, String)>,
    /// The in-process chat and its delay queue, when functions run in process.
    pub chat: Option<(Arc<Chat>, Arc<MemoryScheduler>)>,
    /// The file the in-process functions write emails to (none with `invoke_url`:
    /// the functions' own `EMAIL_OUTBOX` decides).
    pub outbox: Option<std::path::PathBuf>,
    /// The gateway's state (open connections).
    pub gateway: Arc<Gateway>,
    /// What `@connections` requests must be signed with.
    pub credentials: sigv4::Credentials,
    /// Serves until dropped or aborted.
    pub server: tokio::task::JoinHandle<()>,
}

/// The configuration the in-process functions get: as in Lambda, with local secrets
/// and the gateway itself as the `@connections` endpoint.
pub fn local_config(addr: SocketAddr, stage: &str) -> Config {
    Config {
        management_endpoint: format!("http://{addr}/{stage}"),
        delay_queue_url: None,
        token_issuer: LOCAL_ISSUER.into(),
        agent_audience: LOCAL_AUDIENCE.into(),
        agent_keys: AgentKeys::Secret(LOCAL_AGENT_SECRET.into()),
        visitor_secret: LOCAL_VISITOR_SECRET.into(),
        identify_secret: Some(local_identify_secret()),
        dialog_path: std::env::var_os("DIALOG_PATH").map(Into::into),
        directory_path: std::env::var_os("DIRECTORY_PATH").map(Into::into),
        table_name: None,
        dynamodb_endpoint: None,
        seed_settings: livechat_aws::config::SeedSettings::default(),
        // Emails go to the outbox `start` sets, not out; webhooks are posted.
        notify_from_email: None,
        email_outbox: None,
        ses_endpoint: None,
        inbox_origins: Some(own_origins(addr)),
        // The gateway records the in-memory store's changes (analytics::pump).
        keep_changes: true,
    }
}

/// The origins of the pages the gateway serves at `addr` (the demo page and the
/// Agent Inbox): its address, and on a loopback or every-interface address also
/// `localhost`, `127.0.0.1` and `[::1]` on its port. Inbox sockets are accepted
/// only from these, visitor sockets from these besides the account's
/// `allowed_origins`.
pub fn own_origins(addr: SocketAddr) -> Vec<livechat_core::domain::Origin> {
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        let port = addr.port();
        hosts.extend([
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ]);
    }
    let mut origins: Vec<_> = hosts
        .iter()
        .filter_map(|h| livechat_core::domain::Origin::parse(&format!("http://{h}")).ok())
        .collect();
    origins.sort();
    origins.dedup();
    origins
}

/// The SDK configuration of local clients: a fixed region and placeholder
/// credentials (DynamoDB Local does not check them; `@connections` needs
/// [`connections_sdk_config`]).
pub fn local_sdk_config() -> aws_config::SdkConfig {
    sdk_config_signed_by("local", "local")
}

/// The SDK configuration of a client of this gateway's `@connections` API.
pub fn connections_sdk_config(credentials: &sigv4::Credentials) -> aws_config::SdkConfig {
    sdk_config_signed_by(&credentials.access_key_id, &credentials.secret_access_key)
}

fn sdk_config_signed_by(access_key_id: &str, secret: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_apigatewaymanagement::config::Credentials::new(
        access_key_id,
        secret,
        None,
        None,
        "livechat-local",
    );
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(
            aws_sdk_apigatewaymanagement::config::SharedCredentialsProvider::new(credentials),
        )
        .behavior_version(aws_config::BehaviorVersion::latest())
        .timeout_config(livechat_aws::runtime::timeouts())
        .build()
}

/// Starts the gateway: binds, builds the in-process chat on the in-memory store with
/// the demo account (or `DIRECTORY_PATH`/`DIALOG_PATH`), starts the delay queue, and
/// serves.
pub async fn start(options: Options) -> Result<Running, StartError> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: options.listen,
        source,
    })?;
    let credentials = match &options.connections_credentials {
        Some(c) => c.clone(),
        None => sigv4::Credentials::generate()?,
    };
    let mut config = local_config(addr, &options.stage);
    if let Some(path) = &options.directory_path {
        config.directory_path = Some(path.clone());
    }
    if let Some(endpoint) = &options.dynamodb_endpoint {
        config.dynamodb_endpoint = Some(endpoint.clone());
        config.table_name = Some(options.table.clone());
    }
    let directory = livechat_aws::runtime::load_directory(&config)?;
    let site = assets::site_json(&directory);
    let issuer =
        AgentTokenIssuer::hs256(LOCAL_AGENT_SECRET.as_bytes(), LOCAL_ISSUER, LOCAL_AUDIENCE);
    let now = Timestamp::now();
    let agent_tokens = directory
        .agents
        .iter()
        .map(|a| {
            (
                a.id.to_string(),
                issuer.issue(&a.id, now, SignedDuration::from_hours(24 * 7)),
            )
        })
        .collect();

    let (invoker, chat) = match &options.invoke_url {
        Some(base) => {
            // Nothing else in this mode installs the TLS provider reqwest needs.
            livechat_aws::runtime::install_tls_provider();
            let invoker = Invoker::LambdaApi {
                base: base.clone(),
                client: reqwest::Client::builder().build()?,
            };
            if config.table_name.is_some() {
                ensure_table(
                    &livechat_aws::runtime::dynamodb_client(&local_sdk_config(), &config, None),
                    &options.table,
                )
                .await?;
            }
            if let Some(queue_url) = &options.sqs_queue_url {
                let sdk = livechat_aws::runtime::sdk_config().await;
                let source =
                    event_source::EventSource::new(aws_sdk_sqs::Client::new(&sdk), queue_url)
                        .await?;
                tracing::info!(queue = %source.queue_arn(), "polling the delay queue for route-to-agent");
                tokio::spawn(source.poll(invoker.clone()));
            }
            // The analytics function gets the table's stream, as its event source
            // mapping gives it on AWS.
            if let (Some(endpoint), Some(table)) = (&config.dynamodb_endpoint, &config.table_name) {
                tokio::spawn(analytics::stream_pump(
                    endpoint.clone(),
                    table.clone(),
                    invoker.clone(),
                ));
            }
            (invoker, None)
        }
        None if options.sqs_queue_url.is_some() => return Err(StartError::QueueWithoutInvokeUrl),
        None => {
            let outbox = options
                .outbox
                .clone()
                .unwrap_or_else(|| default_outbox(addr.port()));
            if let Some(folder) = outbox.parent() {
                std::fs::create_dir_all(folder).map_err(|source| StartError::Outbox {
                    path: folder.to_path_buf(),
                    source,
                })?;
            }
            config.email_outbox = Some(outbox);
            if let Some((endpoint, from)) = &options.ses {
                config.ses_endpoint = Some(endpoint.clone());
                config.notify_from_email = Some(from.clone());
            }
            let calls = match &options.calls {
                Some(calls) => Some(calls.clone()),
                None => livechat_aws::calls::CallLog::from_env()
                    .map_err(livechat_aws::runtime::StartError::CallLog)?,
            };
            let scheduler = Arc::new(MemoryScheduler::new());
            let sdk = local_sdk_config();
            if config.table_name.is_some() {
                ensure_table(
                    &livechat_aws::runtime::dynamodb_client(&sdk, &config, None),
                    &options.table,
                )
                .await?;
            }
            // The functions' own cold start, with the gateway's parts: one chat for
            // all four, its clock, its in-process queue, its @connections keys.
            let parts = livechat_aws::runtime::Parts {
                sdk,
                connections_sdk: connections_sdk_config(&credentials),
                clock: options.clock.clone(),
                scheduler: Some(scheduler.clone()),
                calls,
                function: None,
            };
            let chat = Arc::new(livechat_aws::runtime::assemble(&config, directory, parts).await?);
            let invoker = if options.echo {
                Invoker::Echo(chat.clone())
            } else {
                Invoker::InProcess(chat.clone())
            };
            tokio::spawn(queue::pump(
                scheduler.clone(),
                invoker.clone(),
                options.clock.clone(),
            ));
            match (&config.dynamodb_endpoint, &config.table_name) {
                (Some(endpoint), Some(table)) => {
                    livechat_aws::runtime::install_tls_provider();
                    tokio::spawn(analytics::stream_pump(
                        endpoint.clone(),
                        table.clone(),
                        invoker.clone(),
                    ))
                }
                _ => tokio::spawn(analytics::pump(
                    chat.ports().store.clone(),
                    chat.ports().push.clone(),
                    options.clock.clone(),
                )),
            };
            (invoker, Some((chat, scheduler)))
        }
    };

    let gateway = Arc::new(Gateway {
        domain: addr.to_string(),
        listen: addr,
        options,
        invoker,
        connections: Mutex::new(HashMap::new()),
        credentials: credentials.clone(),
    });
    let state = gateway.clone();
    let app = Router::new()
        .route("/ws", get(ws::upgrade))
        .route(
            "/explain",
            axum::routing::post(explain::explain).layer(axum::extract::DefaultBodyLimit::max(
                explain::MAX_REQUEST_BYTES,
            )),
        )
        .route(
            "/widget/site.json",
            get(move || std::future::ready(assets::serve_site(&site))),
        )
        .route(
            "/@connections/{id}",
            get(management::info)
                .post(management::post)
                .delete(management::delete),
        )
        .route(
            "/{stage}/@connections/{id}",
            get(management::staged_info)
                .post(management::staged_post)
                .delete(management::staged_delete),
        )
        .fallback(assets::serve)
        .with_state(gateway);
    let server = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            tracing::error!(error = %e, "the gateway stopped");
        }
    });
    Ok(Running {
        addr,
        agent_tokens,
        outbox: chat.as_ref().and(config.email_outbox.clone()),
        chat,
        gateway: state,
        credentials,
        server,
    })
}
