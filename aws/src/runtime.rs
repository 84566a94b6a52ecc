//! What every function does once per process: tracing, the SDK clients (one shared
//! config, with timeouts), the [`Chat`], and the Lambda runtime loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use livechat_core::auth::{AgentVerifier, VisitorTokens};
use livechat_core::dialog::{Dialog, ValidDialog, validate};
use livechat_core::memory::{MemoryScheduler, MemoryStore};
use livechat_core::ports::{Clock, DirectoryStore, Ports, Scheduler, Store, SystemClock};
use livechat_core::routing::Directory;
use livechat_core::service::Chat;
use serde::Serialize;
use serde::de::DeserializeOwned;

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
    #[error("the store could not be prepared")]
    Store(#[from] livechat_core::ports::StoreError),
    #[error("the webhook client could not be built: {0}")]
    Http(#[from] reqwest::Error),
}

/// Installs the tracing subscriber: JSON lines in Lambda (or with `LOG_FORMAT=json`),
/// readable text otherwise; the level from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT")
        .map(|f| f == "json")
        .unwrap_or(false)
        || std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
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

/// The API Gateway Management API client for `endpoint`.
pub fn management_client(
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
) -> aws_sdk_apigatewaymanagement::Client {
    let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
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

/// The DynamoDB client of `config` (its endpoint override, if any).
pub fn dynamodb_client(sdk: &aws_config::SdkConfig, config: &Config) -> aws_sdk_dynamodb::Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = &config.dynamodb_endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

/// The notifier of `config`: SES email from `NOTIFY_FROM_EMAIL`, else into the
/// `EMAIL_OUTBOX` file, else none ([`livechat_core::ports::NotifyError::EmailNotConfigured`]);
/// and webhooks.
pub fn build_notifier(
    sdk: &aws_config::SdkConfig,
    config: &Config,
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
        (
            aws_sdk_sesv2::Client::from_conf(builder.build()),
            from.to_string(),
        )
    });
    Ok(AwsNotifier::new(ses)?)
}

/// The store of `config`: DynamoDB when `TABLE_NAME` is set (seeded with `directory`
/// when it has none yet), otherwise the in-memory store holding `directory`.
pub async fn build_store(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    directory: Directory,
) -> Result<Arc<dyn Store>, StartError> {
    let Some(table) = &config.table_name else {
        return Ok(Arc::new(MemoryStore::with_directory(directory)));
    };
    let store = crate::dynamo::DynamoStore::new(dynamodb_client(sdk, config), table.clone());
    if store.directory().await? == Directory::default() {
        let mut seed = directory;
        config.seed_settings.apply(&mut seed.settings);
        store.put_directory(&seed).await?;
    }
    Ok(Arc::new(store))
}

/// Opens the `@connections` client's connection during init, so that the first
/// push of the first request does not pay for the TCP and TLS handshakes (init runs
/// at full CPU before the first request arrives; `bench/` measures the difference).
/// DynamoDB needs no such call: [`build_store`] already reads the table at init.
/// It posts to a connection id that cannot exist, which API Gateway answers with
/// 410 Gone and delivers nothing. `LIVECHAT_PREWARM=0` skips it; any failure is only
/// logged, and it gives up after 2 s so that init never waits on it for long.
async fn prewarm(management: &aws_sdk_apigatewaymanagement::Client) {
    if std::env::var("LIVECHAT_PREWARM").is_ok_and(|v| v == "0") {
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
/// events on the SQS queue (or kept in the process when no queue is configured), the
/// store of [`build_store`].
pub async fn build_chat(config: &Config) -> Result<Chat, StartError> {
    let sdk = sdk_config().await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let directory = load_directory(config)?;
    let dialog = load_dialog(config, &directory)?;
    let scheduler: Arc<dyn Scheduler> = match &config.delay_queue_url {
        Some(url) => Arc::new(SqsScheduler::new(
            aws_sdk_sqs::Client::new(&sdk),
            url.clone(),
            clock.clone(),
        )),
        None => {
            tracing::warn!("DELAY_QUEUE_URL is not set: delayed events stay in this process");
            Arc::new(MemoryScheduler::new())
        }
    };
    let management = management_client(&sdk, &config.management_endpoint);
    // Both open their connections at once, so the pre-warm adds little to init.
    let (store, ()) = tokio::join!(build_store(&sdk, config, directory), prewarm(&management));
    let ports = Ports {
        store: store?,
        push: Arc::new(ApiGatewayPush::new(management)),
        scheduler,
        clock,
        notifier: Arc::new(build_notifier(&sdk, config)?),
    };
    let (agents, visitors) = verifiers(config)?;
    Ok(Chat::new(ports, dialog, agents, visitors))
}

/// A function's `main`: tracing, configuration, the chat, then the Lambda runtime
/// loop calling `handler` with each event's payload.
pub async fn serve<E, R, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(Arc<Chat>, E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    init_tracing();
    let config = Config::from_env()?;
    let chat = Arc::new(build_chat(&config).await?);
    let handler = Arc::new(handler);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<E>| {
            let (chat, handler) = (chat.clone(), handler.clone());
            async move { Ok::<R, std::convert::Infallible>(handler(chat, event.payload).await) }
        },
    ))
    .await
}
