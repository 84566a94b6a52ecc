//! How the gateway runs a function: in this process (the default, calling the same
//! handler functions the Lambda binaries run), or through the Lambda invoke API of
//! functions running under `cargo lambda watch` (local invoke).

use std::sync::Arc;

use livechat_core::domain::ConnectionId;
use livechat_core::service::Chat;
use serde_json::Value;

/// The stack's functions, as the deployment's topology declares them.
pub use livechat_aws::topology::Function;

/// A failed invocation (the gateway answers like API Gateway does to an integration
/// failure: 500 on `$connect`, an error frame on messages).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the event does not fit the {function} function: {source}")]
    Event {
        function: &'static str,
        source: serde_json::Error,
    },
    /// The function answered with an error (Lambda's `X-Amz-Function-Error`
    /// header: its handler failed or its process crashed).
    #[error("{function} failed ({kind})")]
    Function {
        function: &'static str,
        kind: String,
    },
    /// Not one of the stack's functions.
    #[error("the stack has no function {function}")]
    Unknown { function: &'static str },
    #[error("invoking {function} through the Lambda API failed: {source}")]
    Http {
        function: &'static str,
        source: reqwest::Error,
    },
}

/// Runs functions.
#[derive(Clone)]
pub enum Invoker {
    /// Calls the handlers in this process, sharing one [`Chat`].
    InProcess(Arc<Chat>),
    /// The relay's floor, for the bench: instead of the stack's functions, every
    /// message is answered by one `@connections` POST of its body back to its
    /// sender, through the same push client the functions use; `$connect` and
    /// `$disconnect` are accepted. What API Gateway makes every relay pay, and no
    /// more: a relay through this gateway cannot be faster.
    Echo(Arc<Chat>),
    /// Posts events to `{base}/2015-03-31/functions/{name}/invocations`.
    LambdaApi {
        base: String,
        client: reqwest::Client,
    },
}

fn parse<T: serde::de::DeserializeOwned>(
    function: Function,
    event: Value,
) -> Result<T, InvokeError> {
    serde_json::from_value(event).map_err(|source| InvokeError::Event {
        function: function.name,
        source,
    })
}

fn to_value<T: serde::Serialize>(function: Function, response: &T) -> Result<Value, InvokeError> {
    serde_json::to_value(response).map_err(|source| InvokeError::Event {
        function: function.name,
        source,
    })
}

impl Invoker {
    /// Invokes `function` with `event` and returns its response.
    pub async fn invoke(&self, function: Function, event: Value) -> Result<Value, InvokeError> {
        match self {
            // Each handler runs as its function: the AWS calls it makes on the
            // shared clients are recorded as that function's (livechat_aws::calls).
            Invoker::InProcess(chat) => {
                let run = async {
                    match function {
                        Function::CONNECT => to_value(
                            function,
                            &connect::handle(chat, parse(function, event)?).await,
                        ),
                        Function::CARD_ADVANCE => to_value(
                            function,
                            &card_advance::handle(chat, parse(function, event)?).await,
                        ),
                        Function::AGENT_MESSAGE => to_value(
                            function,
                            &agent_message::handle(chat, parse(function, event)?).await,
                        ),
                        Function::ROUTE_TO_AGENT => to_value(
                            function,
                            &route_to_agent::handle(chat, parse(function, event)?).await,
                        ),
                        Function::ANALYTICS => to_value(
                            function,
                            &analytics_function::handle(chat, parse(function, event)?).await,
                        ),
                        other => Err(InvokeError::Unknown {
                            function: other.name,
                        }),
                    }
                };
                livechat_aws::calls::as_function(function.name, run).await
            }
            Invoker::Echo(chat) => {
                let sender = event["requestContext"]["connectionId"].as_str();
                if let (Some(sender), Some(body)) = (sender, event["body"].as_str())
                    && function != Function::CONNECT
                    && let Ok(connection) = ConnectionId::parse(sender)
                {
                    // A gone or failed post is the client's loss, as in a relay.
                    let _ = chat.ports().push.push(&connection, body).await;
                }
                Ok(serde_json::json!({"statusCode": 200}))
            }
            Invoker::LambdaApi { base, client } => {
                let url = format!(
                    "{}/2015-03-31/functions/{}/invocations",
                    base.trim_end_matches('/'),
                    function.name
                );
                let http = |source| InvokeError::Http {
                    function: function.name,
                    source,
                };
                let response = client.post(url).json(&event).send().await.map_err(http)?;
                // Lambda answers a function error with 200 and this header; the body
                // is the error, not a response.
                if let Some(kind) = response.headers().get("x-amz-function-error") {
                    return Err(InvokeError::Function {
                        function: function.name,
                        kind: String::from_utf8_lossy(kind.as_bytes()).into_owned(),
                    });
                }
                response
                    .error_for_status()
                    .map_err(http)?
                    .json()
                    .await
                    .map_err(http)
            }
        }
    }
}
