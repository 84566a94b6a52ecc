//! `card-advance`: the visitor's dialog routes (`start`, `answer`, `submit`,
//! `leave_details`). It pushes the next cards, and at a live chat card asks for
//! routing through the delay queue.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use livechat_aws::topology::Function;
use livechat_core::service::Chat;

/// Handles one dialog frame; answers go back as pushes.
pub async fn handle(
    chat: &Chat,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    livechat_aws::lambda::websocket(Function::CARD_ADVANCE, chat, event).await
}
