//! `agent-message`: the inbox's routes (accept, decline, messages, typing, end
//! session, availability, score, history, sync), the visitor's chat messages, and
//! `$default` (frames with no known action, answered with an error frame).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use livechat_aws::topology::Function;
use livechat_core::service::Chat;

/// Handles one chat or inbox frame; answers go back as pushes.
pub async fn handle(
    chat: &Chat,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    livechat_aws::lambda::websocket(Function::AGENT_MESSAGE, chat, event).await
}
