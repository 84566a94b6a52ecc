//! What every function does once per process: tracing, the SDK clients (one shared
//! config, with timeouts), the [`Chat`], and the Lambda runtime loop. An init that
//! fails is reported as the Lambda Runtime API expects ([`fail_init`]).

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use livechat_core::auth::{AgentVerifier, VisitorTokens};
use livechat_core::dialog::{Dialog, ValidDialog, validate};
use livechat_core::memory::{MemoryScheduler, MemoryStore};
use livechat_core::ports::{Clock, DirectoryStore, Ports, Scheduler, Store, SystemClock};
use livechat_core::routing::Directory;
use livechat_core::service::{Chat, cause_chain};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::calls::{CallLog, Service};
use crate::config::{AgentKeys, Config};
use crate::notifier::AwsNotifier;
use crate::push::ApiGatewayPush;
use crate::scheduler::SqsScheduler;

/// Why the chat could not be built at cold start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("agent token keys: {0}")]
    Keys(#[from] livechat_core::auth::AuthError),
    #[error("demo configuration: {0}")]
    Demo(#[from] livechat_core::demo::DemoError),
    #[error("the DynamoDB table {table} could not be read (or seeded at first start)")]
    Store {
        table: String,
        #[source]
        source: livechat_core::ports::StoreError,
    },
    #[error("the webhook client could not be built: {0}")]
    Http(#[from] reqwest::Error),
    #[error("LIVECHAT_AWS_CALL_LOG names a file that cannot be opened: {0}")]
    CallLog(#[source] std::io::Error),
}

impl StartError {
    /// The `errorType` reported to `/runtime/init/error` (and its
    /// `Lambda-Runtime-Function-Error-Type` header).
    pub fn error_type(&self) -> &'static str {
        match self {
            StartError::Config(crate::config::ConfigError::Missing(_)) => "Runtime.MissingVariable",
            StartError::Config(crate::config::ConfigError::Invalid { .. }) => {
                "Runtime.InvalidVariable"
            }
            StartError::File { .. } | StartError::Demo(_) => "Runtime.InvalidConfiguration",
            StartError::Keys(_) => "Runtime.InvalidAgentKeys",
            StartError::Store { .. } => "Runtime.TableUnavailable",
            StartError::Http(_) => "Runtime.HttpClient",
            StartError::CallLog(_) => "Runtime.InvalidVariable",
        }
    }

    /// The environment variable at fault, if a variable is.
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            StartError::Config(e) => Some(e.variable()),
            StartError::CallLog(_) => Some(crate::calls::CALL_LOG),
            _ => None,
        }
    }

    /// The table that could not be prepared, if that is the problem.
    pub fn table(&self) -> Option<&str> {
        match self {
            StartError::Store { table, .. } => Some(table),
            _ => None,
        }
    }
}

pub use crate::topology::Function;

/// The Lambda Runtime API's `host:port` (`AWS_LAMBDA_RUNTIME_API`): set inside
/// Lambda (and by `cargo lambda watch`), unset anywhere else.
pub fn runtime_api() -> Option<String> {
    std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// Installs the tracing subscriber: JSON lines in Lambda (or with `LOG_FORMAT=json`),
/// readable text otherwise; the level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT")
        .map(|f| f == "json")
        .unwrap_or(false)
        || std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
        || runtime_api().is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let installed = if json {
        builder
            .json()
            .with_current_span(false)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
    // A second call (tests, the gateway embedding several functions) keeps the first.
    drop(installed);
}

/// Installs rustls's process-wide crypto provider, which a `reqwest` client needs
/// before it is built (it panics without one). The SDK already links rustls with
/// aws-lc-rs; the HTTP clients of ours use the same provider rather than compiling a
/// second one. Installing twice is refused harmlessly.
pub fn install_tls_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The SDK configuration shared by every client: the environment's region and
/// credentials, bounded timeouts (API Gateway allows a route 29 s in all).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await
}

/// Connect and operation timeouts for every AWS call.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(8))
        .build()
}

/// The API Gateway Management API client for `endpoint`, its calls recorded in
/// `calls` when given.
pub fn management_client(
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
    calls: Option<&CallLog>,
) -> aws_sdk_apigatewaymanagement::Client {
    let mut builder =
        aws_sdk_apigatewaymanagement::config::Builder::from(sdk).endpoint_url(endpoint);
    if let Some(calls) = calls {
        builder = builder.interceptor(calls.interceptor(Service::ExecuteApi, endpoint));
    }
    aws_sdk_apigatewaymanagement::Client::from_conf(builder.build())
}

fn read(path: &std::path::Path) -> Result<String, StartError> {
    std::fs::read_to_string(path).map_err(|e| StartError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The configuration file of `DIRECTORY_PATH` (agents, teams, rules, account
/// routing, settings and, optionally, the dialog), or the demo one.
pub fn load_directory(config: &Config) -> Result<Directory, StartError> {
    let Some(path) = &config.directory_path else {
        return Ok(livechat_core::demo::directory()?);
    };
    livechat_core::config::load(path, |p| std::fs::read_to_string(p)).map_err(|errors| {
        StartError::File {
            path: path.display().to_string(),
            reason: errors.to_string(),
        }
    })
}

/// The dialog from `DIALOG_PATH`, else the one in `directory`, else the demo one,
/// validated against `directory`.
pub fn load_dialog(config: &Config, directory: &Directory) -> Result<ValidDialog, StartError> {
    let Some(path) = &config.dialog_path else {
        return match directory.valid_dialog() {
            Some(valid) => valid.map_err(|errors| StartError::File {
                path: "the configuration's dialog".into(),
                reason: errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
            None => Err(StartError::File {
                path: "the configuration".into(),
                reason: "it has no dialog: add `dialog` or `dialog_file`, or set DIALOG_PATH"
                    .into(),
            }),
        };
    };
    let text = read(path)?;
    let name = path.display().to_string();
    let dialog = Dialog::from_path_contents(&name, &text).map_err(|e| StartError::File {
        path: name.clone(),
        reason: e.to_string(),
    })?;
    validate(&dialog, &directory.targets()).map_err(|errors| StartError::File {
        path: name,
        reason: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// The token verifiers of `config`.
pub fn verifiers(config: &Config) -> Result<(AgentVerifier, VisitorTokens), StartError> {
    let agents = match &config.agent_keys {
        AgentKeys::Secret(secret) => AgentVerifier::hs256(
            secret.as_bytes(),
            &config.token_issuer,
            &config.agent_audience,
        ),
        AgentKeys::Jwks(jwks) => {
            AgentVerifier::rs256_jwks(jwks, &config.token_issuer, &config.agent_audience)?
        }
    };
    Ok((
        agents,
        VisitorTokens::new(config.visitor_secret.as_bytes(), &config.token_issuer),
    ))
}

/// The DynamoDB client of `config` (its endpoint override, if any), its calls
/// recorded in `calls` when given.
pub fn dynamodb_client(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    calls: Option<&CallLog>,
) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = &config.dynamodb_endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    if let Some(calls) = calls {
        let table = config.table_name.clone().unwrap_or_default();
        builder = builder.interceptor(calls.interceptor(Service::DynamoDb, table));
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// The SQS client of the delay queue, its calls recorded in `calls` when given.
pub fn sqs_client(
    sdk: &aws_config::SdkConfig,
    queue_url: &str,
    calls: Option<&CallLog>,
) -> aws_sdk_sqs::Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(sdk);
    if let Some(calls) = calls {
        builder = builder.interceptor(calls.interceptor(Service::Sqs, queue_url));
    }
    aws_sdk_sqs::Client::from_conf(builder.build())
}

/// The notifier of `config`: SES email from `NOTIFY_FROM_EMAIL`, else into the
/// `EMAIL_OUTBOX` file, else none ([`livechat_core::ports::NotifyError::EmailNotConfigured`]);
/// and webhooks. SES calls are recorded in `calls` when given.
pub fn build_notifier(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    calls: Option<&CallLog>,
) -> Result<AwsNotifier, StartError> {
    if config.notify_from_email.is_none()
        && let Some(outbox) = &config.email_outbox
    {
        return Ok(AwsNotifier::with_outbox(outbox.clone())?);
    }
    let ses = config.notify_from_email.as_ref().map(|from| {
        let mut builder = aws_sdk_sesv2::config::Builder::from(sdk);
        if let Some(endpoint) = &config.ses_endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        if let Some(calls) = calls {
            builder = builder.interceptor(calls.interceptor(Service::Ses, "identity/?"));
        }
        (
            aws_sdk_sesv2::Client::from_conf(builder.build()),
            from.to_string(),
        )
    });
    Ok(AwsNotifier::new(ses)?)
}

/// The store of `config`: DynamoDB when `TABLE_NAME` is set (seeded with `directory`
/// when it has none yet), otherwise (a local run: [`Config::from_lookup`] refuses
/// that in Lambda) the in-memory store holding `directory`. A table that cannot be
/// read (missing, unreachable, not allowed) is named in the error. Its DynamoDB
/// calls are recorded in `calls` when given.
pub async fn build_store(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    directory: Directory,
    calls: Option<&CallLog>,
) -> Result<Arc<dyn Store>, StartError> {
    let Some(table) = &config.table_name else {
        let store = MemoryStore::with_directory(directory);
        // Its writes' changes feed the analytics, in the local gateway, which
        // records them; kept nowhere else, where nothing would drain them.
        if config.keep_changes {
            store.record_changes();
        }
        return Ok(Arc::new(store));
    };
    let failed = |source| StartError::Store {
        table: table.clone(),
        source,
    };
    let store = crate::dynamo::DynamoStore::new(dynamodb_client(sdk, config, calls), table.clone());
    if store.directory().await.map_err(failed)? == Directory::default() {
        let mut seed = directory;
        config.seed_settings.apply(&mut seed.settings);
        store.put_directory(&seed).await.map_err(failed)?;
    }
    Ok(Arc::new(store))
}

/// Opens the `@connections` client's connection during init, so that the first
/// push of the first request does not pay for the TCP and TLS handshakes (init runs
/// at full CPU before the first request arrives; `bench/` measures the difference).
/// DynamoDB needs no such call: [`build_store`] already reads the table at init.
/// It posts to a connection id that cannot exist, which API Gateway answers with
/// 410 Gone and delivers nothing. Only a function that pushes does it (`connect`
/// may not post: each of its cold starts would be a 403); `LIVECHAT_PREWARM=0` skips
/// it too. Any failure is only logged, and it gives up after 2 s so that init never
/// waits on it for long.
async fn prewarm(function: Function, management: &aws_sdk_apigatewaymanagement::Client) {
    if !function.pushes || std::env::var("LIVECHAT_PREWARM").is_ok_and(|v| v == "0") {
        return;
    }
    let post = management
        .post_to_connection()
        .connection_id("livechat-prewarm")
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new("{}"))
        .send();
    match tokio::time::timeout(Duration::from_secs(2), post).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.as_service_error().is_some_and(|s| s.is_gone_exception()) => {}
        Ok(Err(e)) => {
            tracing::debug!(error = %livechat_core::service::cause_chain(&e), "pre-warm post failed")
        }
        Err(_) => tracing::debug!("pre-warm post timed out"),
    }
}

/// Builds the chat of a Lambda function: pushes through `@connections`, delayed
/// events on the SQS queue (or, in a local run without one, kept in the process),
/// the store of [`build_store`]. Every client's calls are recorded, as `function`'s,
/// in the file [`crate::calls::CALL_LOG`] names, if it names one.
pub async fn build_chat(config: &Config, function: Function) -> Result<Chat, StartError> {
    let calls = CallLog::from_env().map_err(StartError::CallLog)?;
    let sdk = sdk_config().await;
    let parts = Parts {
        connections_sdk: sdk.clone(),
        sdk,
        clock: Arc::new(SystemClock),
        scheduler: None,
        calls: calls.map(|c| c.for_function(function.name)),
        function: Some(function),
    };
    let directory = load_directory(config)?;
    assemble(config, directory, parts).await
}

/// What a chat is made of besides its configuration and directory. A function's
/// cold start ([`build_chat`]) and the local gateway (one chat for all four
/// functions, its own clock, scheduler and `@connections` credentials) each give
/// theirs, and [`assemble`] does the rest the same way for both.
pub struct Parts {
    /// The SDK configuration of every client but `@connections`'s.
    pub sdk: aws_config::SdkConfig,
    /// The SDK configuration of the `@connections` client.
    pub connections_sdk: aws_config::SdkConfig,
    /// The chat's clock.
    pub clock: Arc<dyn Clock>,
    /// The delay queue; `None` for the SQS queue of `DELAY_QUEUE_URL` (in a local
    /// run without it, one in this process).
    pub scheduler: Option<Arc<dyn Scheduler>>,
    /// Where every client records its calls, if anywhere.
    pub calls: Option<CallLog>,
    /// The function whose init this is: it pre-warms `@connections` when it pushes.
    pub function: Option<Function>,
}

/// Builds the chat from `config`, `directory` and `parts`: the dialog, the store
/// (seeding an empty table), the push, scheduler and notifier ports, the token
/// verifiers and the inbox's origins.
pub async fn assemble(
    config: &Config,
    directory: Directory,
    parts: Parts,
) -> Result<Chat, StartError> {
    let calls = parts.calls.as_ref();
    let sdk = &parts.sdk;
    let dialog = load_dialog(config, &directory)?;
    let scheduler: Arc<dyn Scheduler> = match (parts.scheduler, &config.delay_queue_url) {
        (Some(scheduler), _) => scheduler,
        (None, Some(url)) => Arc::new(SqsScheduler::new(
            sqs_client(sdk, url, calls),
            url.clone(),
            parts.clock.clone(),
        )),
        (None, None) => {
            tracing::warn!(
                "a local run without DELAY_QUEUE_URL: delayed events stay in this process"
            );
            Arc::new(MemoryScheduler::new())
        }
    };
    let management = management_client(&parts.connections_sdk, &config.management_endpoint, calls);
    // Both open their connections at once, so the pre-warm adds little to init.
    let prewarmed = async {
        if let Some(function) = parts.function {
            prewarm(function, &management).await;
        }
    };
    let (store, ()) = tokio::join!(build_store(sdk, config, directory, calls), prewarmed);
    let ports = Ports {
        store: store?,
        push: Arc::new(ApiGatewayPush::new(management)),
        scheduler,
        clock: parts.clock,
        notifier: Arc::new(build_notifier(sdk, config, calls)?),
    };
    let (agents, visitors) = verifiers(config)?;
    let mut chat = Chat::new(ports, dialog, agents, visitors);
    if let Some(secret) = &config.identify_secret {
        let key = livechat_core::identify::IdentifyKey::new(secret.as_bytes()).map_err(|e| {
            StartError::Config(crate::config::ConfigError::Invalid {
                var: "IDENTIFY_SECRET",
                reason: e.to_string(),
            })
        })?;
        chat = chat.with_identify_key(key);
    }
    Ok(match &config.inbox_origins {
        Some(origins) => chat.with_inbox_origins(origins.clone()),
        None => {
            tracing::warn!("a local run without INBOX_ORIGIN: any page may open an inbox socket");
            chat
        }
    })
}

/// Reads the environment and builds the chat of `function`: the whole init.
pub async fn start(function: Function) -> Result<Chat, StartError> {
    let config = Config::from_env()?;
    build_chat(&config, function).await
}

/// Fails an init as Lambda expects: one JSON log line naming what is wrong (the
/// variable, or the table) and, inside Lambda, the error posted to the Runtime API's
/// `/runtime/init/error`. The caller then exits non-zero.
pub async fn fail_init(error: &StartError) {
    let message = cause_chain(error);
    let error_type = error.error_type();
    tracing::error!(
        error_type,
        variable = error.variable(),
        table = error.table(),
        error = %message,
        "init failed"
    );
    let Some(api) = runtime_api() else {
        return;
    };
    if let Err(e) = post_init_error(&api, error_type, &message).await {
        tracing::error!(runtime_api = %api, error = %e, "could not report the init error to Lambda");
    }
}

/// Posts `{errorMessage, errorType}` to `http://{api}/2018-06-01/runtime/init/error`
/// with the `Lambda-Runtime-Function-Error-Type` header, as the Lambda Runtime API
/// defines it, and checks the answer (Lambda's is `202 Accepted`). Plain HTTP/1.1
/// over a local socket, bounded by 2 s.
pub async fn post_init_error(api: &str, error_type: &str, message: &str) -> std::io::Result<()> {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\n\
         Host: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(api).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 512];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 2 s"))??;
    let status_line = String::from_utf8_lossy(&answer);
    let status_line = status_line.lines().next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if status.starts_with('2') {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "the Runtime API answered {status_line:?}"
        )))
    }
}

/// A function's `main`: tracing, the init ([`start`]; a failure goes to
/// [`fail_init`] and exits non-zero), then the Lambda runtime loop calling `handler`
/// with each event's payload.
pub async fn serve<E, R, F, Fut>(function: Function, handler: F) -> ExitCode
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(Arc<Chat>, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    init_tracing();
    let chat = match start(function).await {
        Ok(chat) => Arc::new(chat),
        Err(e) => {
            fail_init(&e).await;
            return ExitCode::FAILURE;
        }
    };
    let handler = Arc::new(handler);
    let run = lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<E>| {
            let (chat, handler) = (chat.clone(), handler.clone());
            async move { Ok::<R, std::convert::Infallible>(handler(chat, event.payload).await) }
        },
    ))
    .await;
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(function = function.name, error = %e, "the Lambda runtime loop stopped");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncBufReadExt;

    /// A Runtime API stand-in answering one request with `status`; returns its
    /// address and the request's head and body.
    async fn answering(status: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let served = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = tokio::io::BufReader::new(stream);
            let mut request = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                stream.read_line(&mut line).await.unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                request.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await.unwrap();
            request.push_str(&String::from_utf8(body).unwrap());
            let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
            stream.get_mut().write_all(answer.as_bytes()).await.unwrap();
            request
        });
        (addr, served)
    }

    #[tokio::test]
    async fn the_init_error_is_posted_as_the_runtime_api_defines_it() {
        let (api, served) = answering("202 Accepted").await;
        post_init_error(
            &api,
            "Runtime.MissingVariable",
            "environment variable X is not set",
        )
        .await
        .unwrap();
        let request = served.await.unwrap();
        let (head, body) = request.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("POST /2018-06-01/runtime/init/error HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\nLambda-Runtime-Function-Error-Type: Runtime.MissingVariable\r\n"),
            "{head}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "errorMessage": "environment variable X is not set",
                "errorType": "Runtime.MissingVariable",
            })
        );
    }

    #[tokio::test]
    async fn a_refused_or_unreachable_report_is_an_error() {
        let (api, _served) = answering("500 Internal Server Error").await;
        assert!(post_init_error(&api, "Runtime.X", "m").await.is_err());

        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = closed.local_addr().unwrap().to_string();
        drop(closed);
        assert!(post_init_error(&api, "Runtime.X", "m").await.is_err());
    }

    #[test]
    fn each_start_error_names_its_type_and_what_is_at_fault() {
        let missing = StartError::Config(crate::config::ConfigError::Missing("TABLE_NAME"));
        assert_eq!(missing.error_type(), "Runtime.MissingVariable");
        assert_eq!(missing.variable(), Some("TABLE_NAME"));
        let table = StartError::Store {
            table: "livechat-Table-1".into(),
            source: livechat_core::ports::StoreError::Throttled,
        };
        assert_eq!(table.error_type(), "Runtime.TableUnavailable");
        assert_eq!(table.table(), Some("livechat-Table-1"));
        assert!(cause_chain(&table).contains("livechat-Table-1"));
    }

    #[test]
    fn only_functions_that_push_prewarm() {
        let pushing: Vec<&str> = Function::ALL
            .iter()
            .filter(|f| f.pushes)
            .map(|f| f.name)
            .collect();
        assert_eq!(
            pushing,
            [
                "card-advance",
                "route-to-agent",
                "agent-message",
                "analytics"
            ]
        );
    }
}
