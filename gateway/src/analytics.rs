//! The analytics' stream, locally: every second, the changes of the store are
//! recorded, as the `analytics` function is to record DynamoDB Streams batches on
//! AWS. On the in-memory store, the changes it kept of its own writes
//! ([`pump`]); on DynamoDB Local, the table's stream ([`stream_pump`]). After
//! each batch is recorded, the live view's index follows it and the view is
//! pushed to the inboxes (`analytics::live::after_changes`, as the `analytics`
//! function does), at most once a tick. A batch that fails to record is tried
//! again with the next one.

use std::sync::Arc;
use std::time::Duration;

use livechat_core::analytics::{Change, live, record};
use livechat_core::ports::{Clock, Push, Store};
use tracing::error;

/// How often the stream is read.
pub const POLL: Duration = Duration::from_secs(1);

/// Records the store's changes forever.
pub async fn pump(store: Arc<dyn Store>, push: Arc<dyn Push>, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(POLL);
    let mut pending: Vec<Change> = Vec::new();
    loop {
        tick.tick().await;
        pending.extend(store.own_changes());
        record_pending(store.as_ref(), push.as_ref(), &mut pending, clock.as_ref()).await;
    }
}

/// Records `pending` (nothing when empty) in the zone the directory names now,
/// brings the live view along, and empties it; on a failure keeps it for the next
/// tick (both steps are idempotent).
async fn record_pending(
    store: &dyn Store,
    push: &dyn Push,
    pending: &mut Vec<Change>,
    clock: &dyn Clock,
) {
    if pending.is_empty() {
        return;
    }
    let zone = match store.directory().await {
        Ok(directory) => directory.settings.time_zone,
        Err(e) => {
            error!(error = %e, "analytics: could not read the directory; trying again");
            return;
        }
    };
    let now = clock.now();
    if let Err(e) = record(store, pending, zone.as_ref(), now).await {
        error!(error = %e, "analytics: recording failed; trying again");
        return;
    }
    match live::after_changes(store, push, pending, now).await {
        Ok(()) => pending.clear(),
        Err(e) => error!(error = %e, "live view: the update failed; trying again"),
    }
}

/// What DynamoDB Local wants in `Authorization` (it does not check signatures).
const LOCAL_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0";

/// How often the stream's shards are listed again (DynamoDB Local opens new ones).
const SHARDS_EVERY: u32 = 30;

/// Records the table's DynamoDB Streams records forever, for a gateway on DynamoDB
/// Local: what the `analytics` function's event source mapping does on AWS. The
/// records are read as JSON (`livechat_aws::dynamo::stream::record_of_json`), from
/// the stream's start, so a restarted gateway records them again, which changes
/// nothing.
pub async fn stream_pump(
    endpoint: String,
    table: String,
    store: Arc<dyn Store>,
    push: Arc<dyn Push>,
    clock: Arc<dyn Clock>,
) {
    let http = reqwest::Client::new();
    let mut iterators: std::collections::BTreeMap<String, Option<String>> = Default::default();
    let mut tick = tokio::time::interval(POLL);
    let mut ticks = 0u32;
    let mut arn: Option<String> = None;
    let mut pending: Vec<Change> = Vec::new();
    loop {
        tick.tick().await;
        ticks = ticks.wrapping_add(1);
        if arn.is_none() || ticks.is_multiple_of(SHARDS_EVERY) {
            match shards(&http, &endpoint, &table).await {
                Ok((stream, ids)) => {
                    for id in ids {
                        if iterators.contains_key(&id) {
                            continue;
                        }
                        match iterator(&http, &endpoint, &stream, &id).await {
                            Ok(it) => {
                                iterators.insert(id, it);
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
        for it in iterators.values_mut() {
            let Some(current) = it.clone() else { continue };
            let page = call(
                &http,
                &endpoint,
                "DynamoDBStreams_20120810.GetRecords",
                serde_json::json!({ "ShardIterator": current }),
            )
            .await;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    error!(error = %e, "analytics: GetRecords failed; trying again");
                    continue;
                }
            };
            // Record by record, so that one unreadable record costs only itself.
            let records = page["Records"].as_array().cloned().unwrap_or_default();
            for json in records {
                let change = livechat_aws::dynamo::stream::record_of_json(json)
                    .and_then(|r| livechat_aws::dynamo::stream::change_of(&r));
                match change {
                    Ok(change) => pending.extend(change),
                    Err(e) => error!(error = %e, "analytics: a stream record could not be read"),
                }
            }
            *it = page["NextShardIterator"].as_str().map(str::to_string);
        }
        record_pending(store.as_ref(), push.as_ref(), &mut pending, clock.as_ref()).await;
    }
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

/// An iterator from the start of `shard`.
async fn iterator(
    http: &reqwest::Client,
    endpoint: &str,
    stream: &str,
    shard: &str,
) -> Result<Option<String>, String> {
    let out = call(
        http,
        endpoint,
        "DynamoDBStreams_20120810.GetShardIterator",
        serde_json::json!({ "StreamArn": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" }),
    )
    .await?;
    Ok(out["ShardIterator"].as_str().map(str::to_string))
}

/// One JSON call to DynamoDB Local.
async fn call(
    http: &reqwest::Client,
    endpoint: &str,
    target: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
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
    let json: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("{target}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{target}: {status} {}", json["__type"]));
    }
    Ok(json)
}
