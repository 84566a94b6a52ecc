//! `analytics`: the table's DynamoDB Streams records (conversations, messages,
//! visitor sessions), recorded into per-conversation sheets and per-day counters
//! off the hot path (docs/analytics.md), at least once.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::DynamoDbEventResponse;
use livechat_core::service::Chat;

/// Handles a batch; the first record not recorded is reported for Lambda to
/// deliver the batch again from it.
pub async fn handle(chat: &Chat, event: Event) -> DynamoDbEventResponse {
    livechat_aws::lambda::stream(chat, event).await
}
