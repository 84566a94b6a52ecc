//! Records the AWS operations each function performs, so that a test can check
//! every function's IAM policy against the calls its code really makes rather than
//! against a list read off the code (`tests/src/iam.rs` does the check).
//!
//! Every SDK client a function builds ([`crate::runtime`]: DynamoDB, `@connections`,
//! SQS, SES v2) gets a [`RecordCalls`] interceptor when a [`CallLog`] is given: once
//! per operation (not per attempt: a retry needs no other permission) it records the
//! function, the service's IAM prefix, the SDK operation, the IAM actions the
//! operation needs ([`iam_actions`]) and the resource it names (table or index,
//! queue URL, `@connections` endpoint and method, the sender's domain). Nothing a
//! visitor or an agent typed is recorded.
//!
//! The contract for separate processes: when [`CALL_LOG`] names a file, each
//! process appends one JSON line per operation, e.g.
//! `{"function":"agent-message","service":"dynamodb","operation":"TransactWriteItems",
//! "actions":["dynamodb:PutItem","dynamodb:ConditionCheckItem"],"resource":"livechat-table"}`.
//! Without it no interceptor is installed: nothing is recorded and nothing costs.
//!
//! Attribution: a Lambda process runs one function, so its clients carry its name.
//! The local gateway runs all four on shared clients; it runs each handler inside
//! [`as_function`], and calls made there are attributed to that function.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, Input,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::{Deserialize, Serialize};

/// The environment variable naming the file each process appends its calls to.
pub const CALL_LOG: &str = "LIVECHAT_AWS_CALL_LOG";

/// One AWS operation a function performed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Call {
    /// The function's name (`connect`, `card-advance`, `route-to-agent`, `agent-message`).
    pub function: String,
    /// The service's IAM prefix: `dynamodb`, `execute-api`, `sqs` or `ses`.
    pub service: String,
    /// The SDK operation (`GetItem`, `PostToConnection`, `SendMessage`, ...).
    pub operation: String,
    /// The IAM actions it needs; empty when [`iam_actions`] does not know the operation.
    pub actions: Vec<String>,
    /// What it acts on: a table (`table` or `table/index/name`), a queue URL, an
    /// `@connections` endpoint with the method (`{endpoint}/POST/@connections`), or
    /// the sending identity's domain (`identity/acme.example`).
    pub resource: String,
}

/// The AWS services the functions call, by their IAM prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    /// The API Gateway Management API (`@connections`).
    ExecuteApi,
    Sqs,
    /// SES v2.
    Ses,
}

impl Service {
    /// The IAM prefix of the service's actions.
    pub fn prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::ExecuteApi => "execute-api",
            Service::Sqs => "sqs",
            Service::Ses => "ses",
        }
    }
}

/// The IAM actions each SDK operation needs, in one place. A transaction is not
/// here: it needs the item actions it holds ([`transact_write_actions`]).
const ACTIONS: &[(Service, &str, &[&str])] = &[
    (Service::DynamoDb, "GetItem", &["dynamodb:GetItem"]),
    (Service::DynamoDb, "PutItem", &["dynamodb:PutItem"]),
    (Service::DynamoDb, "UpdateItem", &["dynamodb:UpdateItem"]),
    (Service::DynamoDb, "DeleteItem", &["dynamodb:DeleteItem"]),
    (Service::DynamoDb, "Query", &["dynamodb:Query"]),
    (Service::DynamoDb, "Scan", &["dynamodb:Scan"]),
    (
        Service::DynamoDb,
        "BatchGetItem",
        &["dynamodb:BatchGetItem"],
    ),
    (
        Service::DynamoDb,
        "BatchWriteItem",
        &["dynamodb:BatchWriteItem"],
    ),
    // TransactGetItems is authorised item by item as GetItem.
    (Service::DynamoDb, "TransactGetItems", &["dynamodb:GetItem"]),
    (
        Service::DynamoDb,
        "DescribeTable",
        &["dynamodb:DescribeTable"],
    ),
    (Service::DynamoDb, "CreateTable", &["dynamodb:CreateTable"]),
    // Every @connections method is one action; the method is in the resource.
    (
        Service::ExecuteApi,
        "PostToConnection",
        &["execute-api:ManageConnections"],
    ),
    (
        Service::ExecuteApi,
        "DeleteConnection",
        &["execute-api:ManageConnections"],
    ),
    (
        Service::ExecuteApi,
        "GetConnection",
        &["execute-api:ManageConnections"],
    ),
    (Service::Sqs, "SendMessage", &["sqs:SendMessage"]),
    (Service::Sqs, "SendMessageBatch", &["sqs:SendMessage"]),
    (Service::Sqs, "ReceiveMessage", &["sqs:ReceiveMessage"]),
    (Service::Sqs, "DeleteMessage", &["sqs:DeleteMessage"]),
    (Service::Sqs, "DeleteMessageBatch", &["sqs:DeleteMessage"]),
    (
        Service::Sqs,
        "ChangeMessageVisibility",
        &["sqs:ChangeMessageVisibility"],
    ),
    (
        Service::Sqs,
        "GetQueueAttributes",
        &["sqs:GetQueueAttributes"],
    ),
    (Service::Sqs, "GetQueueUrl", &["sqs:GetQueueUrl"]),
    // SES v2's SendEmail is authorised as ses:SendEmail on the sending identity.
    (Service::Ses, "SendEmail", &["ses:SendEmail"]),
];

/// The IAM actions `operation` of `service` needs, `None` for an operation the
/// table does not know (the check then fails, naming it). `TransactWriteItems` is
/// answered from its items by [`transact_write_actions`].
pub fn iam_actions(service: Service, operation: &str) -> Option<&'static [&'static str]> {
    ACTIONS
        .iter()
        .find(|(s, op, _)| *s == service && *op == operation)
        .map(|(_, _, actions)| *actions)
}

/// What a `TransactWriteItems` needs: the actions of the items it holds, in order
/// of first appearance (`Put`, `Update`, `Delete`, `ConditionCheck` are
/// `PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`).
pub fn transact_write_actions(
    items: &[aws_sdk_dynamodb::types::TransactWriteItem],
) -> Vec<&'static str> {
    let mut actions = Vec::new();
    for item in items {
        let found = [
            (item.put.is_some(), "dynamodb:PutItem"),
            (item.update.is_some(), "dynamodb:UpdateItem"),
            (item.delete.is_some(), "dynamodb:DeleteItem"),
            (
                item.condition_check.is_some(),
                "dynamodb:ConditionCheckItem",
            ),
        ];
        for (present, action) in found {
            if present && !actions.contains(&action) {
                actions.push(action);
            }
        }
    }
    actions
}

#[derive(Debug, Default)]
struct Sink {
    file: Option<(PathBuf, Mutex<std::fs::File>)>,
    memory: Mutex<Vec<Call>>,
}

/// Where recorded calls go: a JSON-lines file ([`CALL_LOG`]), kept in memory too, so
/// that a test in the same process reads them with [`CallLog::calls`]. Clones share
/// the record.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    sink: Arc<Sink>,
    /// Who the calls of clients built with this log are attributed to (`None`: the
    /// function of the [`as_function`] scope they are made in).
    function: Option<&'static str>,
}

impl CallLog {
    /// A record kept in memory only.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A record appended to `path` (created when missing), one JSON line per call.
    pub fn to_file(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            sink: Arc::new(Sink {
                file: Some((path.to_path_buf(), Mutex::new(file))),
                memory: Mutex::default(),
            }),
            function: None,
        })
    }

    /// The record [`CALL_LOG`] names, `None` when it is unset or empty.
    pub fn from_env() -> std::io::Result<Option<Self>> {
        match std::env::var_os(CALL_LOG).filter(|v| !v.is_empty()) {
            Some(path) => Self::to_file(Path::new(&path)).map(Some),
            None => Ok(None),
        }
    }

    /// The same record, with the calls of clients built from it attributed to
    /// `function` (a Lambda process runs one function).
    pub fn for_function(&self, function: &'static str) -> Self {
        Self {
            sink: self.sink.clone(),
            function: Some(function),
        }
    }

    /// The file calls are appended to, if any.
    pub fn path(&self) -> Option<&Path> {
        self.sink.file.as_ref().map(|(p, _)| p.as_path())
    }

    /// Every call recorded by this process so far.
    pub fn calls(&self) -> Vec<Call> {
        self.sink
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the calls held in memory (the file keeps its lines).
    pub fn clear(&self) {
        self.sink
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn record(&self, call: Call) -> Result<(), BoxError> {
        if let Some((_, file)) = &self.sink.file {
            let mut line = serde_json::to_string(&call)?;
            line.push('\n');
            // One write per line with O_APPEND: lines of several processes do not
            // interleave.
            file.lock()
                .unwrap_or_else(|e| e.into_inner())
                .write_all(line.as_bytes())?;
        }
        self.sink
            .memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(call);
        Ok(())
    }

    /// The interceptor for a client of `service`, attributing its calls to this
    /// log's function ([`CallLog::for_function`]), else to the function whose
    /// [`as_function`] scope makes the call; a call outside every scope is not a
    /// function's and is not recorded. `resource` is what the client acts on when its
    /// input does not say (the `@connections` endpoint).
    pub fn interceptor(&self, service: Service, resource: impl Into<String>) -> RecordCalls {
        RecordCalls {
            log: self.clone(),
            service,
            resource: resource.into(),
        }
    }
}

tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Runs `work` as `function`: the calls it makes on clients built without a
/// function of their own are attributed to it.
pub async fn as_function<F: std::future::Future>(function: &'static str, work: F) -> F::Output {
    FUNCTION.scope(function, work).await
}

/// The interceptor recording each operation of one client into a [`CallLog`].
#[derive(Debug, Clone)]
pub struct RecordCalls {
    log: CallLog,
    service: Service,
    resource: String,
}

impl RecordCalls {
    /// The resource and IAM actions of an operation, from its input where it names them.
    fn describe(&self, operation: &str, input: &Input) -> (String, Vec<String>) {
        let mapped = |op: &str| -> Vec<String> {
            iam_actions(self.service, op)
                .unwrap_or_default()
                .iter()
                .map(|a| a.to_string())
                .collect()
        };
        match self.service {
            Service::DynamoDb => {
                let (resource, transact) = dynamodb_resource(input);
                let actions = match transact {
                    Some(actions) => actions.into_iter().map(str::to_string).collect(),
                    None => mapped(operation),
                };
                (resource.unwrap_or_else(|| self.resource.clone()), actions)
            }
            Service::ExecuteApi => {
                let method = match operation {
                    "PostToConnection" => "POST",
                    "DeleteConnection" => "DELETE",
                    "GetConnection" => "GET",
                    _ => "?",
                };
                (
                    format!(
                        "{}/{method}/@connections",
                        self.resource.trim_end_matches('/')
                    ),
                    mapped(operation),
                )
            }
            Service::Sqs => {
                use aws_sdk_sqs::operation as sqs;
                let queue = input
                    .downcast_ref::<sqs::send_message::SendMessageInput>()
                    .and_then(|i| i.queue_url.clone())
                    .or_else(|| {
                        input
                            .downcast_ref::<sqs::send_message_batch::SendMessageBatchInput>()
                            .and_then(|i| i.queue_url.clone())
                    });
                (
                    queue.unwrap_or_else(|| self.resource.clone()),
                    mapped(operation),
                )
            }
            Service::Ses => {
                // The sending identity's domain only: the address itself may name a
                // person.
                let identity = input
                    .downcast_ref::<aws_sdk_sesv2::operation::send_email::SendEmailInput>()
                    .and_then(|i| i.from_email_address.as_deref())
                    .and_then(|from| from.rsplit_once('@'))
                    .map(|(_, domain)| format!("identity/{}", domain.trim_end_matches('>')));
                (
                    identity.unwrap_or_else(|| self.resource.clone()),
                    mapped(operation),
                )
            }
        }
    }
}

/// The table (or `table/index/name`) a DynamoDB input names, and for a
/// `TransactWriteItems` the item actions it holds.
fn dynamodb_resource(input: &Input) -> (Option<String>, Option<Vec<&'static str>>) {
    use aws_sdk_dynamodb::operation as op;
    macro_rules! table_of {
        ($($input:ty),*) => {
            $(if let Some(i) = input.downcast_ref::<$input>() {
                return (i.table_name.clone(), None);
            })*
        };
    }
    table_of!(
        op::get_item::GetItemInput,
        op::put_item::PutItemInput,
        op::update_item::UpdateItemInput,
        op::delete_item::DeleteItemInput,
        op::describe_table::DescribeTableInput,
        op::create_table::CreateTableInput
    );
    if let Some(i) = input.downcast_ref::<op::query::QueryInput>() {
        let table = i.table_name.clone().map(|t| match &i.index_name {
            Some(index) => format!("{t}/index/{index}"),
            None => t,
        });
        return (table, None);
    }
    if let Some(i) = input.downcast_ref::<op::scan::ScanInput>() {
        let table = i.table_name.clone().map(|t| match &i.index_name {
            Some(index) => format!("{t}/index/{index}"),
            None => t,
        });
        return (table, None);
    }
    if let Some(i) = input.downcast_ref::<op::batch_get_item::BatchGetItemInput>() {
        let tables = i.request_items.as_ref().map(|items| {
            let mut names: Vec<&str> = items.keys().map(String::as_str).collect();
            names.sort_unstable();
            names.join(",")
        });
        return (tables, None);
    }
    if let Some(i) = input.downcast_ref::<op::transact_write_items::TransactWriteItemsInput>() {
        let items = i.transact_items.as_deref().unwrap_or_default();
        let mut tables: Vec<&str> = items
            .iter()
            .filter_map(|item| {
                item.put
                    .as_ref()
                    .map(|p| p.table_name.as_str())
                    .or(item.update.as_ref().map(|u| u.table_name.as_str()))
                    .or(item.delete.as_ref().map(|d| d.table_name.as_str()))
                    .or(item.condition_check.as_ref().map(|c| c.table_name.as_str()))
            })
            .collect();
        tables.sort_unstable();
        tables.dedup();
        return (Some(tables.join(",")), Some(transact_write_actions(items)));
    }
    (None, None)
}

impl Intercept for RecordCalls {
    fn name(&self) -> &'static str {
        "RecordCalls"
    }

    /// Once per operation, before its first attempt (a call refused or failed on the
    /// way still needed its permission); not `read_before_execution`, which a
    /// client's interceptor sees before the operation's metadata is in `cfg`.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(function) = self.log.function.or_else(|| FUNCTION.try_with(|f| *f).ok()) else {
            return Ok(());
        };
        let operation = cfg.load::<Metadata>().map_or("unknown", Metadata::name);
        let (resource, actions) = self.describe(operation, context.input());
        self.log.record(Call {
            function: function.to_string(),
            service: self.service.prefix().to_string(),
            operation: operation.to_string(),
            actions,
            resource,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};

    #[test]
    fn a_transaction_needs_the_item_actions_it_holds_once_each() {
        let put = TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name("t")
                    .set_item(Some(Default::default()))
                    .build()
                    .unwrap(),
            )
            .build();
        let check = TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name("t")
                    .set_key(Some(Default::default()))
                    .condition_expression("x")
                    .build()
                    .unwrap(),
            )
            .build();
        let update = TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name("t")
                    .set_key(Some(Default::default()))
                    .update_expression("SET a = :a")
                    .build()
                    .unwrap(),
            )
            .build();
        assert_eq!(
            transact_write_actions(&[put.clone(), check.clone(), put, update]),
            [
                "dynamodb:PutItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:UpdateItem"
            ]
        );
        assert!(transact_write_actions(&[]).is_empty());
    }

    #[test]
    fn every_operation_the_adapters_call_has_its_actions_and_unknown_ones_none() {
        for (service, operation, action) in [
            (Service::DynamoDb, "GetItem", "dynamodb:GetItem"),
            (Service::DynamoDb, "TransactGetItems", "dynamodb:GetItem"),
            (Service::DynamoDb, "BatchGetItem", "dynamodb:BatchGetItem"),
            (
                Service::ExecuteApi,
                "DeleteConnection",
                "execute-api:ManageConnections",
            ),
            (Service::Sqs, "SendMessage", "sqs:SendMessage"),
            (Service::Ses, "SendEmail", "ses:SendEmail"),
        ] {
            assert_eq!(iam_actions(service, operation), Some(&[action][..]));
        }
        assert_eq!(iam_actions(Service::Sqs, "PurgeQueue"), None);
        assert_eq!(iam_actions(Service::Ses, "GetItem"), None);
    }

    #[test]
    fn a_call_line_has_the_documented_shape() {
        let call = Call {
            function: "agent-message".into(),
            service: "dynamodb".into(),
            operation: "TransactWriteItems".into(),
            actions: vec![
                "dynamodb:PutItem".into(),
                "dynamodb:ConditionCheckItem".into(),
            ],
            resource: "livechat-table".into(),
        };
        assert_eq!(
            serde_json::to_string(&call).unwrap(),
            r#"{"function":"agent-message","service":"dynamodb","operation":"TransactWriteItems","actions":["dynamodb:PutItem","dynamodb:ConditionCheckItem"],"resource":"livechat-table"}"#
        );
    }
}
