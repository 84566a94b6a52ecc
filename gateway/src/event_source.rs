//! The SQS event source mapping, on a real SQS API (`--sqs-queue-url`): instead of
//! the emulated queue ([`crate::queue`]), the gateway polls the delay queue the way
//! Lambda's event source mapping does and invokes `route-to-agent` with what it
//! receives, so that the delay, the visibility timeout, the receive count and the
//! redrive to the dead-letter queue are the queue's own, not ours.
//!
//! As the template configures the mapping (`BatchSize: 10`,
//! `FunctionResponseTypes: [ReportBatchItemFailures]`):
//! - `ReceiveMessage` of up to 10 messages, long polling with a short wait, with
//!   every system attribute and message attribute;
//! - the SQS event built from the received messages as Lambda builds it: their
//!   message ids, receipt handles, bodies, `ApproximateReceiveCount` and the other
//!   attributes, the queue's ARN and region;
//! - the response read as Lambda reads it ([`failures`]): the items named in
//!   `batchItemFailures` failed, the others succeeded; a function error, an answer
//!   that is not a batch response, or an item identifier that is empty or not in the
//!   batch fail the whole batch;
//! - the succeeded messages deleted (`DeleteMessageBatch`); the failed ones left
//!   alone, so they become visible again when the visibility timeout ends and the
//!   queue's redrive policy moves one to the dead-letter queue after
//!   `maxReceiveCount` receives.
//!
//! One poller, one batch at a time (Lambda runs several; the template caps them at
//! five). Binary message attributes are not carried: the functions send none.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::{Map, Value, json};
use tracing::{error, info, warn};

use crate::invoke::{Function, InvokeError, Invoker};

/// The template's `BatchSize` (SQS's largest `ReceiveMessage`).
pub const BATCH_SIZE: i32 = 10;

/// The long poll's wait, in seconds: short, so a stopped gateway stops polling soon.
pub const WAIT_SECONDS: i32 = 1;

/// How long the poller backs off after SQS refused or failed a call.
const BACKOFF: Duration = Duration::from_secs(1);

/// Why the event source could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the attributes of the SQS queue {queue_url}: {reason}")]
pub struct SourceError {
    queue_url: String,
    reason: String,
}

/// A queue the gateway polls for `route-to-agent`.
pub struct EventSource {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    region: String,
}

impl EventSource {
    /// The event source of `queue_url`: reads the queue's ARN (the events'
    /// `eventSourceARN`), so a queue that does not exist fails the start.
    pub async fn new(client: aws_sdk_sqs::Client, queue_url: &str) -> Result<Self, SourceError> {
        let failed = |reason: String| SourceError {
            queue_url: queue_url.to_string(),
            reason,
        };
        let attributes = client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| failed(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| failed("the queue has no QueueArn".into()))?;
        // arn:aws:sqs:REGION:ACCOUNT:NAME
        let region = queue_arn.split(':').nth(3).unwrap_or_default().to_string();
        Ok(Self {
            client,
            queue_url: queue_url.to_string(),
            queue_arn,
            region,
        })
    }

    /// The queue's ARN.
    pub fn queue_arn(&self) -> &str {
        &self.queue_arn
    }

    /// Receives, invokes and deletes forever.
    pub async fn poll(self, invoker: Invoker) {
        loop {
            if let Err(e) = self.once(&invoker).await {
                error!(queue = %self.queue_url, error = %e, "polling the delay queue failed; retrying");
                tokio::time::sleep(BACKOFF).await;
            }
        }
    }

    /// One receive, and when it brought messages, one invocation and its deletes.
    async fn once(&self, invoker: &Invoker) -> Result<(), String> {
        let received = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(WAIT_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        let messages = received.messages();
        if messages.is_empty() {
            return Ok(());
        }
        let event = event(messages, &self.queue_arn, &self.region);
        let answer = invoker.invoke(Function::ROUTE_TO_AGENT, event).await;
        let ids: Vec<&str> = messages.iter().filter_map(Message::message_id).collect();
        let failed = failures(&answer, &ids);
        if let Err(e) = &answer {
            error!(error = %e, messages = ids.len(), "route-to-agent failed; the whole batch stays on the queue");
        } else if !failed.is_empty() {
            warn!(
                failed = failed.len(),
                messages = ids.len(),
                "route-to-agent reported failed items; they stay on the queue"
            );
        }
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| m.message_id().is_some_and(|id| !failed.contains(id)))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle().map(String::from))
                    .build()
                    .ok()
            })
            .collect();
        if done.is_empty() {
            return Ok(());
        }
        let deleted = self
            .client
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(done))
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        for refused in deleted.failed() {
            // The message comes back after its visibility timeout, as in AWS.
            warn!(
                entry = refused.id(),
                code = refused.code(),
                "a processed message was not deleted"
            );
        }
        info!(
            received = ids.len(),
            deleted = deleted.successful().len(),
            "delivered a batch from the delay queue"
        );
        Ok(())
    }
}

/// The SQS event of `messages`, as Lambda's event source mapping builds it.
pub fn event(messages: &[Message], queue_arn: &str, region: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                        .collect()
                })
                .unwrap_or_default();
            let message_attributes: Map<String, Value> = m
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                json!({
                                    "stringValue": v.string_value(),
                                    "stringListValues": v.string_list_values(),
                                    "binaryListValues": [],
                                    "dataType": v.data_type(),
                                }),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut record = json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            });
            if let Some(md5) = m.md5_of_message_attributes() {
                record["md5OfMessageAttributes"] = json!(md5);
            }
            record
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids of a batch of `ids` that failed, read from the function's
/// `answer` as Lambda reads a `ReportBatchItemFailures` response: a function error,
/// an answer that is not a batch response, or an `itemIdentifier` that is missing,
/// empty or not a message of the batch fails every message; otherwise exactly the
/// items listed failed (none when `batchItemFailures` is empty or absent).
pub fn failures(answer: &Result<Value, InvokeError>, ids: &[&str]) -> HashSet<String> {
    let all = || ids.iter().map(|id| id.to_string()).collect();
    let Ok(answer) = answer else {
        return all();
    };
    let Some(response) = answer.as_object() else {
        return if answer.is_null() {
            HashSet::new()
        } else {
            all()
        };
    };
    let items = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return HashSet::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return all(),
    };
    let batch: HashSet<&str> = ids.iter().copied().collect();
    let mut failed = HashSet::new();
    for item in items {
        match item.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if batch.contains(id) => {
                failed.insert(id.to_string());
            }
            _ => return all(),
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 3] = ["m-1", "m-2", "m-3"];

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_the_listed_items_fail() {
        let answer = Ok(json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]}));
        assert_eq!(failures(&answer, &IDS), set(&["m-2"]));
        assert_eq!(
            failures(&Ok(json!({"batchItemFailures": []})), &IDS),
            set(&[])
        );
        assert_eq!(failures(&Ok(json!({})), &IDS), set(&[]));
        assert_eq!(failures(&Ok(Value::Null), &IDS), set(&[]));
    }

    #[test]
    fn a_function_error_or_a_bad_answer_fails_the_whole_batch() {
        let error = Err(InvokeError::Function {
            function: "route-to-agent",
            kind: "Unhandled".into(),
        });
        assert_eq!(failures(&error, &IDS), set(&IDS));
        for bad in [
            json!({"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}),
            json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
            json!({"batchItemFailures": [{"itemIdentifier": null}]}),
            json!({"batchItemFailures": [{}]}),
            json!({"batchItemFailures": "m-1"}),
            json!("ok"),
        ] {
            assert_eq!(failures(&Ok(bad.clone()), &IDS), set(&IDS), "{bad}");
        }
    }

    #[test]
    fn the_event_carries_what_sqs_returned() {
        let message = Message::builder()
            .message_id("m-1")
            .receipt_handle("handle-1")
            .body("{\"at\":1}")
            .md5_of_body("abc")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1700000000000")
            .build();
        let event = event(
            &[message],
            "arn:aws:sqs:us-east-1:123456789012:livechat-DelayQueue",
            "us-east-1",
        );
        let record = &event["Records"][0];
        assert_eq!(record["messageId"], "m-1");
        assert_eq!(record["receiptHandle"], "handle-1");
        assert_eq!(record["body"], "{\"at\":1}");
        assert_eq!(record["attributes"]["ApproximateReceiveCount"], "3");
        assert_eq!(record["attributes"]["SentTimestamp"], "1700000000000");
        assert_eq!(
            record["eventSourceARN"],
            "arn:aws:sqs:us-east-1:123456789012:livechat-DelayQueue"
        );
        assert_eq!(record["awsRegion"], "us-east-1");
        // It reads as the functions' SQS event type.
        let parsed: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(event).unwrap();
        assert_eq!(parsed.records[0].message_id.as_deref(), Some("m-1"));
        assert_eq!(
            parsed.records[0]
                .attributes
                .get("ApproximateReceiveCount")
                .map(String::as_str),
            Some("3")
        );
    }
}
