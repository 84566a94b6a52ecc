//! Real API Gateway WebSocket, SQS and DynamoDB Streams events through the
//! functions' handlers: the repository's `events/` (used for local invoke), and a
//! folder of AWS's own fixture events when `AWS_FIXTURE_EVENTS` names one. Every
//! file must parse and get a sensible answer.

use std::path::{Path, PathBuf};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::sqs::SqsEvent;
use livechat_aws::topology::Function;
use livechat_core::domain::ConversationId;
use livechat_core::service::Chat;
use livechat_tests::memory_chat;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
}

/// What one event got: the HTTP status for API Gateway events, the number of failed
/// items for SQS and DynamoDB Streams events.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Status(i64),
    SqsFailures(usize),
    StreamFailures(usize),
}

async fn run(chat: &Chat, path: &Path) -> Answer {
    let text = std::fs::read_to_string(path).unwrap();
    let raw: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let source = raw["Records"][0]["eventSource"]
        .as_str()
        .unwrap_or_default();
    if source == "aws:dynamodb" {
        let event: aws_lambda_events::dynamodb::Event =
            serde_json::from_value(raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return Answer::StreamFailures(
            analytics_function::handle(chat, event)
                .await
                .batch_item_failures
                .len(),
        );
    }
    if raw.get("Records").is_some() {
        let event: SqsEvent =
            serde_json::from_value(raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return Answer::SqsFailures(
            route_to_agent::handle(chat, event)
                .await
                .batch_item_failures
                .len(),
        );
    }
    let event: ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let route = event
        .request_context
        .route_key
        .as_deref()
        .unwrap_or("$default");
    let function = livechat_aws::topology::serving(route).unwrap_or(Function::AGENT_MESSAGE);
    let response = handle(function, chat, event).await;
    Answer::Status(response.status_code)
}

/// The handler of `function`'s crate.
async fn handle(
    function: Function,
    chat: &Chat,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    match function {
        Function::CONNECT => connect::handle(chat, event).await,
        Function::CARD_ADVANCE => card_advance::handle(chat, event).await,
        Function::AGENT_MESSAGE => agent_message::handle(chat, event).await,
        other => panic!("{} has no WebSocket handler", other.name),
    }
}

#[tokio::test]
async fn each_function_refuses_a_route_it_does_not_serve_and_acts_on_nothing() {
    // A misconfigured integration: every route sent to every WebSocket function.
    // Each serves exactly its own routes; any other is answered 400 before the
    // function reads or changes anything (no connection, no frame, no session).
    let routes = livechat_aws::topology::routes();
    for function in [
        Function::CONNECT,
        Function::CARD_ADVANCE,
        Function::AGENT_MESSAGE,
    ] {
        for (route, owner) in &routes {
            if *owner == function {
                continue;
            }
            let (chat, push) = memory_chat();
            let connection = livechat_core::domain::ConnectionId::parse("Misrouted01=").unwrap();
            push.open(&connection);
            // The repository's message event, sent on `route`.
            let mut raw: Value = serde_json::from_str(
                &std::fs::read_to_string(repo().join("events/message-default.json")).unwrap(),
            )
            .unwrap();
            raw["requestContext"]["routeKey"] = (*route).into();
            raw["requestContext"]["connectionId"] = "Misrouted01=".into();
            raw["body"] = format!(r#"{{"action":"{route}"}}"#).into();
            let event: ApiGatewayWebsocketProxyRequest = serde_json::from_value(raw).unwrap();
            let response = handle(function, &chat, event).await;
            assert_eq!(response.status_code, 400, "{} on {route}", function.name);
            assert_eq!(
                push.take(&connection),
                Vec::<String>::new(),
                "{} acted on {route}",
                function.name
            );
            assert!(
                chat.ports()
                    .store
                    .connection(&connection, chat.ports().clock.now())
                    .await
                    .unwrap()
                    .is_none(),
                "{} stored a connection for {route}",
                function.name
            );
        }
    }
}

#[tokio::test]
async fn every_aws_fixture_event_parses_and_gets_a_sensible_answer() {
    let Some(dir) = std::env::var_os("AWS_FIXTURE_EVENTS") else {
        eprintln!("AWS_FIXTURE_EVENTS names no folder of AWS's fixture events: nothing to run");
        return;
    };
    let files = json_files(Path::new(&dir));
    assert!(
        !files.is_empty(),
        "AWS_FIXTURE_EVENTS names a folder without events"
    );
    let (chat, _) = memory_chat();
    for file in &files {
        let answer = run(&chat, file).await;
        // Anonymous $connect and $disconnect succeed; the SQS fixture's body is not
        // a delayed event, so it is dropped (not retried forever).
        // By the file's name: a checkout's path may hold "sqs" too.
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let expected = if name.contains("sqs") {
            Answer::SqsFailures(0)
        } else {
            Answer::Status(200)
        };
        assert_eq!(answer, expected, "{}", file.display());
    }
}

#[tokio::test]
async fn the_repository_event_files_get_their_documented_answers() {
    let (chat, push) = memory_chat();
    let connection = livechat_core::domain::ConnectionId::parse("LocalInvoke01=").unwrap();
    push.open(&connection);
    let expected = [
        ("connect-visitor.json", Answer::Status(200)),
        ("message-start.json", Answer::Status(200)),
        ("message-default.json", Answer::Status(200)),
        ("connect-agent-bad-token.json", Answer::Status(401)),
        ("disconnect.json", Answer::Status(200)),
        ("sqs-route.json", Answer::SqsFailures(0)),
        ("dynamodb-stream.json", Answer::StreamFailures(0)),
    ];
    assert_eq!(
        json_files(&repo().join("events")).len(),
        expected.len(),
        "every event file has an expectation"
    );

    for (name, answer) in expected {
        assert_eq!(
            run(&chat, &repo().join("events").join(name)).await,
            answer,
            "{name}"
        );
    }

    let frames: Vec<Value> = push
        .take(&connection)
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["type"].as_str()).collect();
    assert_eq!(
        kinds,
        ["session", "cards", "error"],
        "start got its session and cards, $default an error frame"
    );
    assert_eq!(frames[2]["code"], "not_json");
}

#[tokio::test]
async fn the_connect_handler_passes_the_origin_header_of_api_gateways_event() {
    let path = repo().join("events/connect-visitor.json");
    let event = |origin: &str| {
        let mut raw: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // API Gateway spells it `Origin`; the handler reads headers case-insensitively.
        raw["headers"]["Origin"] = origin.into();
        raw["multiValueHeaders"]["Origin"] = serde_json::json!([origin]);
        serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(raw).unwrap()
    };
    let (chat, _) = memory_chat();
    let chat = chat.with_inbox_origins(vec![
        livechat_core::domain::Origin::parse("https://d111.cloudfront.net").unwrap(),
    ]);
    let store = chat.ports().store.clone();
    let mut directory = store.directory().await.unwrap();
    directory.settings.allowed_origins = Some(vec![
        livechat_core::domain::Origin::parse("https://www.acme.example").unwrap(),
    ]);
    store.put_directory(&directory).await.unwrap();

    let refused = connect::handle(&chat, event("https://evil.example")).await;
    assert_eq!(refused.status_code, 403);
    for origin in ["https://www.acme.example", "https://d111.cloudfront.net"] {
        assert_eq!(
            connect::handle(&chat, event(origin)).await.status_code,
            200,
            "{origin}"
        );
    }
}

fn stream_event(mutate: impl FnOnce(&mut Value)) -> aws_lambda_events::dynamodb::Event {
    let text = std::fs::read_to_string(repo().join("events/dynamodb-stream.json")).unwrap();
    let mut raw: Value = serde_json::from_str(&text).unwrap();
    mutate(&mut raw);
    serde_json::from_value(raw).unwrap()
}

fn stream_conversation(event: &aws_lambda_events::dynamodb::Event) -> ConversationId {
    let text = std::fs::read_to_string(repo().join("events/dynamodb-stream.json")).unwrap();
    let raw: Value = serde_json::from_str(&text).unwrap();
    assert!(!event.records.is_empty());
    let pk = raw["Records"][0]["dynamodb"]["Keys"]["pk"]["S"]
        .as_str()
        .unwrap();
    ConversationId::parse(pk.strip_prefix("CONV#").unwrap()).unwrap()
}

#[tokio::test]
async fn a_stream_batch_is_recorded_once_however_often_it_is_delivered() {
    let (chat, _) = memory_chat();
    let event = stream_event(|_| {});
    let conversation = stream_conversation(&event);
    let store = chat.ports().store.clone();
    assert_eq!(store.sheet(&conversation).await.unwrap().1, 0);

    let response = analytics_function::handle(&chat, event.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    let (sheet, version) = store.sheet(&conversation).await.unwrap();
    assert_eq!(
        version, 1,
        "the batch's events are written in one sheet write"
    );

    // Delivered again (a retried invocation): nothing changes.
    let response = analytics_function::handle(&chat, event).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(store.sheet(&conversation).await.unwrap(), (sheet, 1));
}

#[tokio::test]
async fn an_unreadable_stream_record_is_reported_by_its_sequence_number_and_the_rest_recorded() {
    let (chat, _) = memory_chat();
    let mut bad_sequence = String::new();
    let event = stream_event(|raw| {
        let record = &mut raw["Records"][1]["dynamodb"];
        record["NewImage"]["conversation"] = serde_json::json!({"S": "not a conversation"});
        bad_sequence = record["SequenceNumber"].as_str().unwrap().to_string();
    });
    let conversation = stream_conversation(&event);
    let response = analytics_function::handle(&chat, event).await;
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, [Some(bad_sequence)]);
    // The other records were recorded: delivering the batch again from the bad one
    // loses nothing and counts nothing twice.
    assert_eq!(chat.ports().store.sheet(&conversation).await.unwrap().1, 1);
}
