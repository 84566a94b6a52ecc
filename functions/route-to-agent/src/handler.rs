//! `route-to-agent`: routing requests and routing's timers (offer timeout, second
//! attempt, inactivity), delivered by the SQS delay queue, at least once.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use livechat_core::service::Chat;

/// Handles a batch; failed items are reported for SQS to deliver again.
pub async fn handle(chat: &Chat, event: SqsEvent) -> SqsBatchResponse {
    livechat_aws::lambda::sqs(chat, event).await
}
