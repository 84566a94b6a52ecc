//! The SQS delay queue, emulated: events the in-process functions schedule wait in
//! the in-memory scheduler until due, then go to `route-to-agent` as an SQS event.
//! Items the function reports failed are delivered again a second later (real
//! time).

use std::sync::Arc;
use std::time::Duration;

use livechat_core::memory::MemoryScheduler;
use livechat_core::ports::{Clock, ScheduledEvent, Scheduler};
use serde_json::Value;
use tracing::error;

use crate::events;
use crate::invoke::{Function, Invoker};

/// How often the queue looks for due events.
pub const POLL: Duration = Duration::from_millis(50);

/// How long a failed delivery waits before it is delivered again.
pub const REDELIVERY: Duration = Duration::from_secs(1);

/// Delivers due events forever.
pub async fn pump(scheduler: Arc<MemoryScheduler>, invoker: Invoker, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        let now = clock.now();
        let due = scheduler.take_due(now);
        if due.is_empty() {
            continue;
        }
        let bodies: Vec<(ScheduledEvent, String)> = due
            .into_iter()
            .filter_map(|event| {
                let scheduled = ScheduledEvent { at: now, event };
                serde_json::to_string(&scheduled)
                    .ok()
                    .map(|body| (scheduled, body))
            })
            .collect();
        let texts: Vec<String> = bodies.iter().map(|(_, b)| b.clone()).collect();
        let event = events::sqs(&texts, now);
        let failed: Vec<String> = match invoker
            .invoke(Function::ROUTE_TO_AGENT, event.clone())
            .await
        {
            Ok(response) => response
                .get("batchItemFailures")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i.get("itemIdentifier")?.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            Err(e) => {
                error!(error = %e, "route-to-agent failed; the batch is delivered again");
                event["Records"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(|m| m["messageId"].as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            }
        };
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        let mut redeliver = false;
        for (record, (scheduled, _)) in records.iter().zip(bodies) {
            let id = record["messageId"].as_str().unwrap_or("");
            if failed.iter().any(|f| f == id) {
                // Due again at once by the functions' clock, but only after a real
                // second (SQS's visibility timeout, shortened), so a manual clock in
                // tests never strands a redelivery.
                let _ = scheduler.schedule(scheduled.event, now).await;
                redeliver = true;
            }
        }
        if redeliver {
            tokio::time::sleep(REDELIVERY).await;
        }
    }
}
