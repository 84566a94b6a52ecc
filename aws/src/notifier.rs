//! Admin notifications. A missed chat request is logged as a structured warning, which
//! a CloudWatch metric filter or subscription can turn into an alert.

use async_trait::async_trait;
use livechat_core::domain::{ConversationId, EndReason};
use livechat_core::ports::Notifier;
use tracing::warn;

/// Notifies by structured log.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn missed_request(&self, conversation: &ConversationId, reason: EndReason) {
        warn!(conversation = %conversation, reason = ?reason, alert = "missed_chat_request", "a chat request found no agent");
    }
}
