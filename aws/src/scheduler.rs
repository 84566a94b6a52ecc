//! The scheduler port on an SQS delay queue. SQS delays a message at most 15
//! minutes; the body carries the due time, so a longer wait is covered by
//! re-scheduling on receipt ([`livechat_core::ports::ScheduledEvent`]).

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use jiff::Timestamp;
use livechat_core::ports::{Clock, DelayedEvent, ScheduledEvent, Scheduler, SchedulerError};
use std::sync::Arc;

/// SQS's longest message delay, in seconds.
pub const MAX_DELAY_SECS: i64 = 900;

/// The delay, in whole seconds within SQS's limits, to be due at `at` from `now`:
/// rounded up, so that the event is never received before it is due (an early one
/// is sent again for the rest of its wait, and with a delay of 0 that would be a
/// burst of sends and receives until it is due).
pub fn delay_seconds(now: Timestamp, at: Timestamp) -> i32 {
    let wait = at.duration_since(now);
    let secs = wait.as_secs() + i64::from(wait.subsec_nanos() > 0);
    i32::try_from(secs.clamp(0, MAX_DELAY_SECS)).unwrap_or(0)
}

/// Schedules delayed events on an SQS queue.
pub struct SqsScheduler {
    client: Client,
    queue_url: String,
    clock: Arc<dyn Clock>,
}

impl SqsScheduler {
    /// A scheduler sending to `queue_url`.
    pub fn new(client: Client, queue_url: String, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            queue_url,
            clock,
        }
    }
}

#[async_trait]
impl Scheduler for SqsScheduler {
    async fn schedule(&self, event: DelayedEvent, at: Timestamp) -> Result<(), SchedulerError> {
        let body = serde_json::to_string(&ScheduledEvent { at, event })
            .map_err(|e| SchedulerError(Box::new(e)))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds(self.clock.now(), at))
            .send()
            .await
            .map_err(|e| SchedulerError(Box::new(e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_stay_within_sqs_limits() {
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        assert_eq!(delay_seconds(now, now), 0);
        assert_eq!(
            delay_seconds(now, "2026-03-02T10:01:40Z".parse().unwrap()),
            100
        );
        assert_eq!(
            delay_seconds(now, "2026-03-02T10:00:00.5Z".parse().unwrap()),
            1
        );
        // Half a second that crosses a second boundary is still a second.
        let now_late: Timestamp = "2026-03-02T10:00:00.7Z".parse().unwrap();
        assert_eq!(
            delay_seconds(now_late, "2026-03-02T10:00:01.2Z".parse().unwrap()),
            1
        );
        assert_eq!(
            delay_seconds(now_late, "2026-03-02T10:00:02.2Z".parse().unwrap()),
            2
        );
        assert_eq!(
            delay_seconds(now, "2026-03-02T09:00:00Z".parse().unwrap()),
            0
        );
        assert_eq!(
            delay_seconds(now, "2026-03-02T12:00:00Z".parse().unwrap()),
            900
        );
    }
}
