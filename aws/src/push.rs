//! Pushes frames through the API Gateway Management API, and closes connections
//! with it. A `GoneException` (410) means the connection closed: the caller forgets it.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use livechat_core::domain::ConnectionId;
use livechat_core::ports::{Delivery, Push, PushError};

/// The push port over `@connections`.
#[derive(Clone, Debug)]
pub struct ApiGatewayPush {
    client: Client,
}

impl ApiGatewayPush {
    /// A push over `client`, whose endpoint is the WebSocket API's
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` (or the local
    /// gateway's URL).
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Push for ApiGatewayPush {
    async fn push(&self, connection: &ConnectionId, json: &str) -> Result<Delivery, PushError> {
        let sent = self
            .client
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(json.as_bytes()))
            .send()
            .await;
        delivery(connection, sent, |e| e.is_gone_exception())
    }

    /// `DeleteConnection` (`@connections` DELETE), under the same IAM permission
    /// (`execute-api:ManageConnections`) as the posts.
    async fn close(&self, connection: &ConnectionId) -> Result<Delivery, PushError> {
        let deleted = self
            .client
            .delete_connection()
            .connection_id(connection.as_str())
            .send()
            .await;
        delivery(connection, deleted, |e| e.is_gone_exception())
    }
}

/// What an `@connections` call came to: done, the connection gone (`GoneException`,
/// as `is_gone` tells it from the call's own error type), or a failure.
fn delivery<T, E, R>(
    connection: &ConnectionId,
    result: Result<T, SdkError<E, R>>,
    is_gone: impl FnOnce(&E) -> bool,
) -> Result<Delivery, PushError>
where
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(Delivery::Delivered),
        Err(e) if e.as_service_error().is_some_and(is_gone) => Ok(Delivery::Gone),
        Err(e) => Err(PushError {
            connection: connection.clone(),
            source: Box::new(e),
        }),
    }
}
