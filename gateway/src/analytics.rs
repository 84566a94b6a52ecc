//! The analytics' stream, locally: every second, the changes of the store are
//! recorded, as the `analytics` function records DynamoDB Streams batches on AWS.
//! On the in-memory store, the changes it kept of its own writes, recorded in
//! this process ([`pump`]); on DynamoDB Local, the table's stream, read as the
//! event source mapping reads it and delivered to the `analytics` function as
//! Lambda delivers it ([`stream_pump`]): in this process, or through the Lambda
//! API of functions running apart. After each batch is recorded, the live view's
//! index follows it and the view is pushed to the inboxes watching it
//! (`analytics::live::after_changes`, which the `analytics` function runs too),
//! at most once a tick.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use livechat_core::analytics::{Change, consume, live};
use livechat_core::ports::{Clock, Push, Store};
use serde_json::{Value, json};
use tracing::{error, warn};

use crate::invoke::{Function, Invoker};

/// How often the stream is read.
pub const POLL: Duration = Duration::from_secs(1);

/// The template's `BatchSize` of the analytics' event source mapping.
pub const BATCH_SIZE: usize = 100;

/// The template's `MaximumRetryAttempts`: a batch that failed this many times
/// more is given up (on AWS, its description goes to the on-failure queue).
pub const MAX_RETRIES: u32 = 10;

/// Records the in-memory store's changes forever, and brings the live view along
/// for those recorded; a batch that fails to record is tried again with the next
/// one (what was recorded before the first failure is not asked again, once the
/// live view has followed it).
pub async fn pump(store: Arc<dyn Store>, push: Arc<dyn Push>, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(POLL);
    let mut pending: Vec<Change> = Vec::new();
    loop {
        tick.tick().await;
        pending.extend(store.own_changes());
        if pending.is_empty() {
            continue;
        }
        let now = clock.now();
        let recorded = match consume(store.as_ref(), &pending, now).await {
            Ok(_) => pending.len(),
            Err(failed) => {
                error!(error = %failed.error, "analytics: recording failed; trying again");
                failed.first
            }
        };
        // Idempotent, as recording is: on a failure, all of it again next tick.
        match live::after_changes(store.as_ref(), push.as_ref(), &pending[..recorded], now).await {
            Ok(()) => drop(pending.drain(..recorded)),
            Err(e) => error!(error = %e, "live view: the update failed; trying again"),
        }
    }
}

/// What DynamoDB Local wants in `Authorization` (it does not check signatures).
const LOCAL_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0";

/// How often the stream's shards are listed again (DynamoDB Local opens new ones).
const SHARDS_EVERY: u32 = 30;

/// Where a shard is read from.
struct Position {
    /// The iterator to read with next; `None` once the shard is closed and read.
    iterator: Option<String>,
    /// Failed deliveries of the batch at this position.
    retries: u32,
}

/// Delivers the table's DynamoDB Streams records to the `analytics` function
/// forever, for a gateway on DynamoDB Local, as the template's event source
/// mapping does on AWS: every shard read from its start (`TRIM_HORIZON`, so a
/// restarted gateway delivers the records again, which changes nothing), in
/// batches of up to [`BATCH_SIZE`] records, each shard in order; the response read
/// as `ReportBatchItemFailures` asks (the batch is delivered again from the
/// earliest sequence number reported; a function error or an unknown identifier
/// delivers it again whole), up to [`MAX_RETRIES`] times. Lambda also bisects a
/// failing batch; here it is delivered again as it is.
pub async fn stream_pump(endpoint: String, table: String, invoker: Invoker) {
    let http = reqwest::Client::new();
    let mut positions: BTreeMap<String, Position> = BTreeMap::new();
    let mut tick = tokio::time::interval(POLL);
    let mut ticks = 0u32;
    let mut arn: Option<String> = None;
    loop {
        tick.tick().await;
        ticks = ticks.wrapping_add(1);
        if arn.is_none() || ticks.is_multiple_of(SHARDS_EVERY) {
            match shards(&http, &endpoint, &table).await {
                Ok((stream, ids)) => {
                    for id in ids {
                        if positions.contains_key(&id) {
                            continue;
                        }
                        let from = json!({ "ShardIteratorType": "TRIM_HORIZON" });
                        match iterator(&http, &endpoint, &stream, &id, from).await {
                            Ok(iterator) => {
                                positions.insert(
                                    id,
                                    Position {
                                        iterator,
                                        retries: 0,
                                    },
                                );
                            }
                            Err(e) => error!(error = %e, "analytics: no shard iterator"),
                        }
                    }
                    arn = Some(stream);
                }
                Err(e) => {
                    error!(error = %e, "analytics: the table's stream could not be read");
                    continue;
                }
            }
        }
        let Some(stream) = &arn else { continue };
        for (shard, position) in positions.iter_mut() {
            deliver(&http, &endpoint, stream, shard, position, &invoker).await;
        }
    }
}

/// Reads one batch of `shard` at `position` and delivers it; moves the position
/// on as the response says.
async fn deliver(
    http: &reqwest::Client,
    endpoint: &str,
    stream: &str,
    shard: &str,
    position: &mut Position,
    invoker: &Invoker,
) {
    let Some(current) = position.iterator.clone() else {
        return;
    };
    let page = call(
        http,
        endpoint,
        "DynamoDBStreams_20120810.GetRecords",
        json!({ "ShardIterator": current, "Limit": BATCH_SIZE }),
    )
    .await;
    let page = match page {
        Ok(page) => page,
        Err(e) => {
            error!(error = %e, "analytics: GetRecords failed; trying again");
            return;
        }
    };
    let next = page["NextShardIterator"].as_str().map(str::to_string);
    let records: Vec<Value> = page["Records"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|record| lambda_record(record, stream))
        .collect();
    if records.is_empty() {
        position.iterator = next;
        return;
    }
    let sequence = |r: &Value| r["dynamodb"]["SequenceNumber"].as_str().map(str::to_string);
    let sequences: Vec<Option<String>> = records.iter().map(sequence).collect();
    let outcome = invoker
        .invoke(Function::ANALYTICS, json!({ "Records": records }))
        .await;
    let retry_from = match outcome {
        Ok(response) => match failures(&response, &sequences) {
            Ok(None) => {
                position.iterator = next;
                position.retries = 0;
                return;
            }
            Ok(Some(from)) => Some(from),
            Err(why) => {
                error!(why, "analytics: the batch failed whole");
                None
            }
        },
        Err(e) => {
            error!(error = %e, "analytics: the function failed; the batch is delivered again");
            None
        }
    };
    position.retries += 1;
    if position.retries > MAX_RETRIES {
        warn!(
            shard,
            "analytics: a batch failed every retry; given up (the on-failure queue's part on AWS)"
        );
        position.iterator = next;
        position.retries = 0;
        return;
    }
    // Again from the earliest failure: an iterator at its sequence number (the
    // batch's first record when the whole batch failed).
    let Some(from) = retry_from.or_else(|| sequences.first().cloned().flatten()) else {
        return;
    };
    let at = json!({ "ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": from });
    match iterator(http, endpoint, stream, shard, at).await {
        Ok(iterator) => position.iterator = iterator,
        Err(e) => error!(error = %e, "analytics: no iterator to deliver the batch again"),
    }
}

/// A GetRecords record as Lambda delivers it: empty maps typed (DynamoDB Local
/// writes them untyped) and the stream's ARN as `eventSourceARN`.
fn lambda_record(mut record: Value, stream: &str) -> Value {
    for image in ["Keys", "NewImage", "OldImage"] {
        if let Some(map) = record["dynamodb"].get_mut(image) {
            livechat_aws::dynamo::stream::typed_empty_maps(map);
        }
    }
    if let Value::Object(fields) = &mut record {
        fields.insert("eventSourceARN".into(), Value::String(stream.into()));
    }
    record
}

/// The sequence number to deliver the batch again from, read as Lambda reads a
/// `DynamoDbEventResponse`: `None` when no item failed; the earliest failed one
/// (in the batch's order) otherwise. An identifier that is empty, missing or not
/// in the batch fails the whole batch (`Err`).
fn failures(response: &Value, sequences: &[Option<String>]) -> Result<Option<String>, String> {
    let Some(items) = response.get("batchItemFailures") else {
        return Ok(None);
    };
    let items = match items {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        _ => return Err("batchItemFailures is not a list".into()),
    };
    let mut earliest: Option<usize> = None;
    for item in items {
        let id = item["itemIdentifier"].as_str().unwrap_or("");
        let index = sequences
            .iter()
            .position(|s| s.as_deref() == Some(id) && !id.is_empty())
            .ok_or_else(|| format!("itemIdentifier {id:?} is not a record of the batch"))?;
        earliest = Some(earliest.map_or(index, |e| e.min(index)));
    }
    Ok(earliest.and_then(|i| sequences[i].clone()))
}

/// The table's stream and its shards.
async fn shards(
    http: &reqwest::Client,
    endpoint: &str,
    table: &str,
) -> Result<(String, Vec<String>), String> {
    let described = call(
        http,
        endpoint,
        "DynamoDB_20120810.DescribeTable",
        serde_json::json!({ "TableName": table }),
    )
    .await?;
    let stream = described["Table"]["LatestStreamArn"]
        .as_str()
        .ok_or("the table has no stream")?
        .to_string();
    let description = call(
        http,
        endpoint,
        "DynamoDBStreams_20120810.DescribeStream",
        serde_json::json!({ "StreamArn": stream }),
    )
    .await?;
    let ids = description["StreamDescription"]["Shards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
        .collect();
    Ok((stream, ids))
}

/// An iterator of `shard` from `from` (its `ShardIteratorType`, and
/// `SequenceNumber` when one is needed).
async fn iterator(
    http: &reqwest::Client,
    endpoint: &str,
    stream: &str,
    shard: &str,
    from: Value,
) -> Result<Option<String>, String> {
    let mut body = json!({ "StreamArn": stream, "ShardId": shard });
    if let (Value::Object(body), Value::Object(from)) = (&mut body, from) {
        body.extend(from);
    }
    let out = call(
        http,
        endpoint,
        "DynamoDBStreams_20120810.GetShardIterator",
        body,
    )
    .await?;
    Ok(out["ShardIterator"].as_str().map(str::to_string))
}

/// One JSON call to DynamoDB Local.
async fn call(
    http: &reqwest::Client,
    endpoint: &str,
    target: &str,
    body: Value,
) -> Result<Value, String> {
    let response = http
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target)
        .header("authorization", LOCAL_AUTHORIZATION)
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("{target}: {e}"))?;
    let status = response.status();
    let json: Value = response
        .json()
        .await
        .map_err(|e| format!("{target}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{target}: {status} {}", json["__type"]));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequences() -> Vec<Option<String>> {
        ["100", "200", "300"]
            .into_iter()
            .map(|s| Some(s.to_string()))
            .collect()
    }

    #[test]
    fn a_response_without_failures_moves_the_shard_on() {
        for response in [
            json!({}),
            json!({"batchItemFailures": []}),
            json!({"batchItemFailures": null}),
        ] {
            assert_eq!(failures(&response, &sequences()), Ok(None), "{response}");
        }
    }

    #[test]
    fn the_batch_is_delivered_again_from_the_earliest_failed_record() {
        let response = json!({"batchItemFailures": [
            {"itemIdentifier": "300"}, {"itemIdentifier": "200"}
        ]});
        assert_eq!(
            failures(&response, &sequences()),
            Ok(Some("200".to_string()))
        );
    }

    #[test]
    fn an_empty_or_unknown_identifier_fails_the_whole_batch() {
        for id in [json!(""), json!(null), json!("999")] {
            let response = json!({"batchItemFailures": [{"itemIdentifier": id}]});
            assert!(failures(&response, &sequences()).is_err(), "{id}");
        }
    }

    #[test]
    fn a_record_gets_its_streams_arn_and_typed_empty_maps() {
        let record = json!({"dynamodb": {"NewImage": {"subs": {}}}});
        let record = lambda_record(record, "arn:stream");
        assert_eq!(record["eventSourceARN"], "arn:stream");
        assert_eq!(record["dynamodb"]["NewImage"]["subs"], json!({"M": {}}));
    }
}
