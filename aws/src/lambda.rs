//! API Gateway WebSocket, SQS and DynamoDB Streams events in, [`Chat`] calls, responses out. The
//! function crates' handlers are these functions; the local gateway calls them too.

use std::collections::HashMap;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use livechat_core::domain::ConnectionId;
use livechat_core::ports::ScheduledEvent;
use livechat_core::service::{Chat, cause_chain};

use crate::topology::Function;
use tracing::{error, info, warn};

/// A response with `status` and a short text body.
pub fn response(status: u16, body: &str) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = i64::from(status);
    r.body = Some(Body::Text(body.to_string()));
    r
}

fn query(request: &ApiGatewayWebsocketProxyRequest) -> HashMap<String, String> {
    request
        .query_string_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The upgrade request's `Origin` header (`None` when the client sent none; one that
/// is not text is kept, and then matches no allowed origin).
fn origin(request: &ApiGatewayWebsocketProxyRequest) -> Option<String> {
    request
        .headers
        .get(aws_lambda_events::http::header::ORIGIN)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Handles one WebSocket event as `function`: `$connect` (authenticates; a refusal
/// answers 401/403 and API Gateway refuses the upgrade), `$disconnect`, and every
/// message route (`$default` included), whose answers go back as pushes. A route
/// `function` does not serve ([`Function::serves`]) is answered 400 and not acted on.
pub async fn websocket(
    function: Function,
    chat: &Chat,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let context = &request.request_context;
    let route = context.route_key.as_deref().unwrap_or("$default");
    if !function.serves(route) {
        // The API's integrations are wired to the wrong function: acting on the
        // route here would serve it with the wrong function's permissions.
        error!(
            function = function.name,
            route, "refused a route this function does not serve"
        );
        return response(
            400,
            &format!("{} does not serve the route {route:?}", function.name),
        );
    }
    let Some(connection) = context
        .connection_id
        .as_deref()
        .and_then(|c| ConnectionId::parse(c).ok())
    else {
        warn!(route, "event without a valid connection id");
        return response(400, "missing or invalid requestContext.connectionId");
    };
    match route {
        "$connect" => match chat
            .connect(&connection, &query(&request), origin(&request).as_deref())
            .await
        {
            Ok(party) => {
                info!(connection = %connection, party = ?party, "connected");
                response(200, "connected")
            }
            Err(e) => {
                let status = e.status();
                if status >= 500 {
                    error!(connection = %connection, error = %cause_chain(&e), "connect failed");
                } else {
                    info!(connection = %connection, status, reason = %e, "connect refused");
                }
                response(status, &e.to_string())
            }
        },
        "$disconnect" => {
            if let Err(e) = chat.disconnect(&connection).await {
                error!(connection = %connection, error = %cause_chain(&e), "disconnect failed");
            }
            response(200, "disconnected")
        }
        _ => {
            // Binary frames arrive base64-encoded; the protocol is JSON text only, so
            // they are answered like any other body that is not JSON.
            let body = if request.is_base64_encoded {
                ""
            } else {
                request.body.as_deref().unwrap_or("")
            };
            chat.message(&connection, body).await;
            response(200, "")
        }
    }
}

/// Handles a batch of delayed events from the SQS delay queue. An event received
/// before it is due is scheduled again for the rest of its wait; an unreadable body
/// is logged and dropped (retrying cannot fix it); a failure of ours is reported so
/// that SQS delivers that message again.
pub async fn sqs(chat: &Chat, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let now = chat.ports().clock.now();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or("");
        let scheduled: ScheduledEvent = match serde_json::from_str(body) {
            Ok(s) => s,
            Err(e) => {
                error!(message_id = %id, error = %e, "dropped an unreadable delayed event");
                continue;
            }
        };
        let outcome = if scheduled.at > now {
            let again = chat
                .ports()
                .scheduler
                .schedule(scheduled.event, scheduled.at)
                .await;
            again.map_err(|e| cause_chain(&e))
        } else {
            match chat.delayed(scheduled.event).await {
                Ok(()) => Ok(()),
                // The event names something that is not there (a conversation that
                // expired, say): delivering it again cannot help.
                Err(e) if e.is_client_fault() => {
                    warn!(message_id = %id, error = %e, "dropped a delayed event that no longer applies");
                    Ok(())
                }
                Err(e) => Err(cause_chain(&e)),
            }
        };
        if let Err(e) = outcome {
            error!(message_id = %id, error = %e, "delayed event failed; SQS will retry it");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Handles a batch of the table's DynamoDB Streams records for the analytics
/// (docs/analytics.md). The records are read in order; those of items analytics
/// does not read are skipped. A record that cannot be read, or whose conversation
/// could not be recorded, is reported by its sequence number (the event source
/// mapping's `ReportBatchItemFailures`): Lambda delivers the batch again from the
/// earliest one reported (bisecting it, so that a record that always fails ends
/// in the on-failure queue alone), and recording a change twice changes nothing.
/// The live view's index follows the recorded changes and the view is pushed to
/// the inboxes watching it (`analytics::live::after_changes`).
pub async fn stream(chat: &Chat, event: StreamEvent) -> DynamoDbEventResponse {
    let mut changes = Vec::new();
    let mut change_records = Vec::new();
    let mut first_failure: Option<usize> = None;
    for (index, record) in event.records.iter().enumerate() {
        match crate::dynamo::stream::change_of(record) {
            Ok(Some(change)) => {
                changes.push(change);
                change_records.push(index);
            }
            Ok(None) => {}
            Err(e) => {
                // The record's keys and images are personal data: only its place.
                error!(sequence = ?record.change.sequence_number, error = %e, "a stream record could not be read");
                first_failure.get_or_insert(index);
            }
        }
    }
    let now = chat.ports().clock.now();
    let ports = chat.ports();
    let recorded = match livechat_core::analytics::consume(ports.store.as_ref(), &changes, now)
        .await
    {
        Ok(recorded) => {
            info!(
                records = event.records.len(),
                events = recorded,
                "analytics recorded"
            );
            changes.len()
        }
        Err(failed) => {
            error!(error = %cause_chain(&failed.error), "analytics: recording failed; the batch is delivered again from its first unrecorded record");
            let index = change_records.get(failed.first).copied().unwrap_or(0);
            first_failure = Some(first_failure.map_or(index, |f| f.min(index)));
            failed.first
        }
    };
    // The live view follows what was recorded (docs/analytics.md, "Live view"):
    // a batch delivered again from a later record must not skip these. On a
    // failure the whole batch comes again; both steps are idempotent.
    let live = livechat_core::analytics::live::after_changes(
        ports.store.as_ref(),
        ports.push.as_ref(),
        &changes[..recorded],
        now,
    )
    .await;
    if let Err(e) = live {
        error!(error = %cause_chain(&e), "live view: the update failed; the batch is delivered again");
        first_failure = Some(0);
    }
    let mut response = DynamoDbEventResponse::default();
    if let Some(index) = first_failure {
        let mut failure = DynamoDbBatchItemFailure::default();
        // An empty identifier fails the whole batch, which is right when the
        // record carries no sequence number.
        failure.item_identifier = event.records[index].change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    response
}
