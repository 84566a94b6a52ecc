//! A client interceptor that counts DynamoDB requests per operation (every attempt
//! sent, retries included) and the single-item writes per partition key, and can
//! inject throttling responses, so that tests and benchmarks measure the real cost
//! of each use case, how writes spread over partitions, and prove retries.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Default)]
struct Inner {
    counts: Mutex<BTreeMap<String, u64>>,
    writes: Mutex<BTreeMap<String, u64>>,
    write_units: AtomicU64,
    throttles_to_inject: AtomicU32,
    throttles_injected: AtomicU32,
}

/// Counts requests per operation; shares its counts with every clone.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    inner: Arc<Inner>,
}

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests sent so far, per operation (`GetItem`, `TransactWriteItems`, ...).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.inner
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// All requests sent so far.
    pub fn total(&self) -> u64 {
        self.counts().values().sum()
    }

    /// Single-item writes (PutItem, UpdateItem, DeleteItem) sent so far, per
    /// partition key, read from the requests themselves.
    pub fn writes_per_partition(&self) -> BTreeMap<String, u64> {
        self.inner
            .writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Write request units of the writes sent so far, as on-demand DynamoDB bills
    /// items under 1 KB: a single-item write 1, a batch write 1 per item, a
    /// transaction 2 per item (counted from the requests themselves).
    pub fn write_units(&self) -> u64 {
        self.inner.write_units.load(Ordering::SeqCst)
    }

    /// Resets the counts.
    pub fn reset(&self) {
        self.inner.write_units.store(0, Ordering::SeqCst);
        self.inner
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.inner
            .writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Answers the next `n` requests with a `ThrottlingException` (HTTP 400) in place
    /// of DynamoDB's answer, as a throttled table would.
    pub fn inject_throttles(&self, n: u32) {
        self.inner.throttles_to_inject.store(n, Ordering::SeqCst);
    }

    /// Throttling responses injected so far.
    pub fn throttles_injected(&self) -> u32 {
        self.inner.throttles_injected.load(Ordering::SeqCst)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", Metadata::name)
            .to_string();
        let field = match operation.as_str() {
            "PutItem" => Some("Item"),
            "UpdateItem" | "DeleteItem" => Some("Key"),
            _ => None,
        };
        let json: Option<serde_json::Value> = context
            .request()
            .body()
            .bytes()
            .and_then(|body| serde_json::from_slice(body).ok());
        let units = match (operation.as_str(), &json) {
            ("PutItem" | "UpdateItem" | "DeleteItem", _) => 1,
            ("TransactWriteItems", Some(json)) => {
                2 * json["TransactItems"].as_array().map_or(0, Vec::len) as u64
            }
            ("BatchWriteItem", Some(json)) => json["RequestItems"].as_object().map_or(0, |tables| {
                tables
                    .values()
                    .filter_map(serde_json::Value::as_array)
                    .map(Vec::len)
                    .sum::<usize>()
            }) as u64,
            _ => 0,
        };
        self.inner.write_units.fetch_add(units, Ordering::SeqCst);
        let partition = field.and_then(|field| {
            json.as_ref()?[field][super::table::PK]["S"]
                .as_str()
                .map(str::to_string)
        });
        if let Some(pk) = partition {
            *self
                .inner
                .writes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(pk)
                .or_default() += 1;
        }
        *self
            .inner
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let take = self
            .inner
            .throttles_to_inject
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if take {
            self.inner.throttles_injected.fetch_add(1, Ordering::SeqCst);
            let response = context.response_mut();
            *response.status_mut() = StatusCode::try_from(400u16)?;
            response
                .headers_mut()
                .insert("x-amzn-errortype", "ThrottlingException");
            *response.body_mut() = SdkBody::from(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded (injected)"}"#,
            );
        }
        Ok(())
    }
}
