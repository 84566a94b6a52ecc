//! `connect`: the WebSocket API's `$connect` and `$disconnect` routes. Agents
//! authenticate with a signed token, visitors resume with their session token or
//! start anonymous; a refusal answers 401 or 403 and API Gateway refuses the upgrade.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use livechat_aws::topology::Function;
use livechat_core::service::Chat;

/// Handles a `$connect` or `$disconnect` event; any other route is misrouted here
/// and answered 400.
pub async fn handle(
    chat: &Chat,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    livechat_aws::lambda::websocket(Function::CONNECT, chat, event).await
}
