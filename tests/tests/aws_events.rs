//! Real API Gateway WebSocket and SQS events through the functions' handlers: AWS's
//! own fixture events (in `../shared/fixtures/aws-events` beside the repository,
//! where that folder exists) and the repository's `events/` (used for local invoke).
//! Every file must parse and get a sensible answer.

use std::path::{Path, PathBuf};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::sqs::SqsEvent;
use livechat_aws::topology::Function;
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
/// items for SQS events.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Status(i64),
    SqsFailures(usize),
}

async fn run(chat: &Chat, path: &Path) -> Answer {
    let text = std::fs::read_to_string(path).unwrap();
    let raw: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
    let dir = repo().join("../shared/fixtures/aws-events");
    let files = json_files(&dir);
    if files.is_empty() {
        eprintln!(
            "{} is absent here: nothing to run (CI always has it)",
            dir.display()
        );
        return;
    }
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
