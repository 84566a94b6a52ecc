//! The whole chat through the local gateway, with real WebSocket clients, as a
//! browser would use it; and the `@connections` API through the real
//! `aws-sdk-apigatewaymanagement` client.

use std::time::Duration;

use livechat_gateway::{Options, Running, start};
use livechat_tests::client::Client;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

async fn gateway(options: Options) -> Running {
    let options = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..options
    };
    start(options).await.expect("gateway starts")
}

fn ws_url(g: &Running, query: &str) -> String {
    format!("ws://{}/ws{query}", g.addr)
}

fn token(g: &Running, agent: &str) -> String {
    g.agent_tokens
        .iter()
        .find(|(a, _)| a == agent)
        .map(|(_, t)| t.clone())
        .unwrap()
}

async fn agent(g: &Running, name: &str) -> Client {
    let mut c = Client::connect(&ws_url(g, &format!("?agent_token={}", token(g, name))))
        .await
        .unwrap();
    c.send(json!({"action": "sync"})).await;
    assert_eq!(c.expect("availability").await["available"], true);
    c
}

/// A visitor who walks the demo dialog to its live chat card; returns the client and
/// its `session` frame.
async fn visitor_at_live_chat(g: &Running, first_name: &str) -> (Client, Value) {
    let mut v = Client::connect(&ws_url(g, "")).await.unwrap();
    v.send(json!({"action": "start", "page_url": "https://acme.example/pricing"}))
        .await;
    let session = v.expect("session").await;
    let cards = v.expect("cards").await;
    assert_eq!(cards["cards"][1]["type"], "question");
    v.send(json!({"action": "answer", "card": "ask", "answer": 0}))
        .await;
    assert_eq!(v.expect("cards").await["cards"][0]["card"], "first_name");
    v.send(json!({"action": "submit", "card": "first_name", "value": first_name}))
        .await;
    v.expect("cards").await;
    v.send(json!({"action": "submit", "card": "email", "value": "not-an-email"}))
        .await;
    let refused = v.expect("cards").await;
    assert_eq!(
        refused["cards"][0]["error"],
        "enter an email address like name@example.com"
    );
    v.send(json!({"action": "submit", "card": "email", "value": format!("{}@visitor.example", first_name.to_lowercase())})).await;
    let live = v.expect("cards").await;
    let last = live["cards"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "live_chat");
    v.expect("waiting").await;
    (v, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_and_an_agent_chat_through_the_gateway_from_offer_to_end() {
    chat_from_offer_to_end(Options::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_chat_also_runs_on_dynamodb_local() {
    let Some(endpoint) = livechat_tests::dynamodb::endpoint() else {
        return;
    };
    let table = format!(
        "gateway-{}",
        livechat_core::domain::new_ulid().to_lowercase()
    );
    chat_from_offer_to_end(Options {
        dynamodb_endpoint: Some(endpoint),
        table,
        ..Options::default()
    })
    .await;
}

/// The `live` frames `client` gets, in order, until one satisfies `wanted`
/// (pushed by the gateway's analytics pump as the view moves); panics after 40
/// frames or a frame's wait without one.
async fn live_until(client: &mut Client, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..40 {
        let frame = client.expect("live").await;
        if wanted(&frame) {
            return frame;
        }
    }
    panic!("no live frame {what}");
}

/// The row of `agent` in a `live` frame.
fn live_row<'a>(frame: &'a Value, agent: &str) -> Option<&'a Value> {
    frame["agents"]
        .as_array()?
        .iter()
        .find(|r| r["agent"] == agent)
}

async fn chat_from_offer_to_end(options: Options) {
    let g = gateway(options).await;
    let mut ana = agent(&g, "ana").await;
    // ana, a Sales Admin, opens the Live tab: the view now, then pushed as it moves.
    ana.send(json!({"action": "live"})).await;
    let first = ana.expect("live").await;
    assert_eq!(
        (first["scope"].as_str(), first["waiting_count"].as_u64()),
        (Some("all"), Some(0))
    );

    let (mut visitor, session) = visitor_at_live_chat(&g, "Jo").await;
    let conversation = session["conversation"].clone();
    let offer = ana.expect("offer").await;
    assert_eq!(offer["conversation"], conversation);
    assert_eq!(offer["visitor"]["name"], "Jo");
    assert_eq!(offer["visitor"]["page_url"], "https://acme.example/pricing");

    // The waiting visitor is listed (the waiting and the offer may come in one
    // batch of the pump), then with the offer out to ana holding her capacity.
    let listed = |f: &Value| {
        f["waiting"]
            .as_array()
            .and_then(|w| w.iter().find(|e| e["conversation"] == conversation))
            .cloned()
    };
    let waiting = live_until(&mut ana, "listing the visitor", |f| listed(f).is_some()).await;
    assert_eq!(waiting["waiting_count"], 1);
    assert!(waiting["oldest_since"].is_string());
    let offer_out = |f: &Value| listed(f).is_some_and(|e| e["offer"]["agent"] == "ana");
    let offered = if offer_out(&waiting) {
        waiting
    } else {
        live_until(&mut ana, "with the offer to ana", offer_out).await
    };
    let ana_row = live_row(&offered, "ana").unwrap();
    assert_eq!(
        (ana_row["offers"].as_u64(), ana_row["chats"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(ana_row["status"], "available");

    ana.send(json!({"action": "accept", "conversation": conversation}))
        .await;
    ana.expect("chat_started").await;
    // Accepted: nobody waits, and the chat counts against ana's limit.
    let loaded = live_until(&mut ana, "with ana's live chat", |f| {
        f["waiting_count"] == 0 && live_row(f, "ana").is_some_and(|r| r["chats"] == 1)
    })
    .await;
    let ana_row = live_row(&loaded, "ana").unwrap();
    assert_eq!(
        (
            ana_row["chats"].as_u64(),
            ana_row["offers"].as_u64(),
            ana_row["limit"].as_u64()
        ),
        (Some(1), Some(0), Some(5))
    );
    assert_eq!(
        visitor.expect("agent_joined").await["agent_name"],
        "Ana Lima"
    );

    visitor
        .send(json!({"action": "send_message", "id": "v-1", "text": "How much for 20 seats?"}))
        .await;
    visitor.expect("ack").await;
    assert_eq!(
        ana.expect("message").await["message"]["text"],
        "How much for 20 seats?"
    );
    ana.send(json!({"action": "typing", "conversation": conversation, "typing": true}))
        .await;
    assert_eq!(visitor.expect("typing").await["typing"], true);
    ana.send(json!({"action": "send_message", "conversation": conversation, "id": "a-1", "text": "€12 a seat: https://acme.example/pricing"})).await;
    let reply = loop {
        let m = visitor.expect("message").await;
        if m["message"]["id"] == "a-1" {
            break m;
        }
    };
    assert_eq!(reply["message"]["seq"], 2);

    ana.send(json!({"action": "end_session", "conversation": conversation}))
        .await;
    assert_eq!(visitor.expect("chat_ended").await["reason"], "completed");
    assert_eq!(ana.expect("chat_ended").await["conversation"], conversation);

    // The gateway records the analytics within seconds: from the in-memory store's
    // own changes, or from the DynamoDB Local table's stream.
    let store = g.chat.as_ref().unwrap().0.ports().store.clone();
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let (from, to) = (
        livechat_core::analytics::Day(today.yesterday().unwrap()),
        livechat_core::analytics::Day(today.tomorrow().unwrap()),
    );
    let mut seen = (0, 0, 0);
    for _ in 0..100 {
        let table = store.counters(from, to).await.unwrap();
        seen = table
            .cells()
            .filter(|((_, b), _)| *b == livechat_core::analytics::Bucket::All)
            .fold((0, 0, 0), |(r, c, f), (_, n)| {
                (r + n.requested, c + n.connected, f + n.first_response.count)
            });
        if seen == (1, 1, 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen,
        (1, 1, 1),
        "requested, connected and answered, recorded within 10 s"
    );

    // `livechat report --gateway` asks the running gateway (as ana, a Sales Admin)
    // and gets the counters' own rows.
    let by = livechat_core::analytics::Dimension::Day;
    let csv = livechat_cli::report_from_gateway(
        &ws_url(&g, ""),
        &livechat_cli::local_agent_token("ana").unwrap(),
        &from.to_string(),
        &to.to_string(),
        "day",
    )
    .await
    .unwrap();
    let table = store.counters(from, to).await.unwrap();
    assert_eq!(
        csv,
        livechat_core::analytics::csv::to_csv(&table.report(from, to, by))
    );
    let cells = livechat_cli::csv_cells(&csv);
    assert_eq!(cells.len(), 4, "a header and three days: {csv}");
    assert_eq!(cells[2][0], today.to_string());
    assert_eq!(cells[2][1], "1", "today's chat, requested: {csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_over_three_agents_offers_visitors_one_to_four_to_a_b_c_then_a() {
    let g = gateway(Options::default()).await;
    let mut agents = [
        agent(&g, "ana").await,
        agent(&g, "ben").await,
        agent(&g, "cleo").await,
    ];
    let names = ["ana", "ben", "cleo", "ana"];

    for (i, expected) in names.iter().enumerate() {
        let (_visitor, session) = visitor_at_live_chat(&g, &format!("Visitor{i}")).await;
        let who = ["ana", "ben", "cleo"]
            .iter()
            .position(|n| n == expected)
            .unwrap();
        let offer = agents[who].expect("offer").await;
        assert_eq!(
            offer["conversation"],
            session["conversation"],
            "visitor {} goes to {expected}",
            i + 1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_agent_token_is_refused_before_the_upgrade() {
    let g = gateway(Options::default()).await;

    let forged = Client::connect(&ws_url(&g, "?agent_token=eyJhbGciOiJIUzI1NiJ9.e30.x")).await;

    match forged {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 401),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("a forged token was accepted"),
    }
    assert!(g.gateway.open_connections().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_who_reconnects_with_their_session_token_gets_the_same_conversation_and_its_history()
 {
    let g = gateway(Options::default()).await;
    let mut ana = agent(&g, "ana").await;
    let (mut visitor, session) = visitor_at_live_chat(&g, "Mo").await;
    let conversation = session["conversation"].clone();
    ana.expect("offer").await;
    ana.send(json!({"action": "accept", "conversation": conversation}))
        .await;
    visitor.expect("agent_joined").await;
    visitor
        .send(json!({"action": "send_message", "id": "m-1", "text": "before the refresh"}))
        .await;
    visitor.expect("ack").await;
    drop(visitor);

    let token = session["visitor_token"].as_str().unwrap();
    let mut again = Client::connect(&ws_url(&g, &format!("?visitor_token={token}")))
        .await
        .unwrap();
    again.send(json!({"action": "start"})).await;

    assert_eq!(again.expect("session").await["conversation"], conversation);
    assert_eq!(
        again.expect("history").await["messages"][0]["text"],
        "before the refresh"
    );
    again.expect("agent_joined").await;
    let stolen = Client::connect(&ws_url(
        &g,
        &format!("?visitor_token={}x", &token[..token.len() - 1]),
    ))
    .await;
    assert!(matches!(stolen, Err(tungstenite::Error::Http(r)) if r.status().as_u16() == 401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_the_connection_survives() {
    let g = gateway(Options::default()).await;
    let mut v = Client::connect(&ws_url(&g, "")).await.unwrap();

    v.send_text("not json".into()).await;
    assert_eq!(v.expect("error").await["code"], "not_json");
    v.send(json!({"action": "dance"})).await;
    assert_eq!(v.expect("error").await["code"], "unknown_action");
    v.send(json!({"action": "send_message", "id": "x", "text": "a".repeat(4_001)}))
        .await;
    assert_eq!(v.expect("error").await["code"], "bad_field");

    v.send(json!({"action": "start"})).await;
    v.expect("session").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_128_kb_closes_the_connection_with_1009() {
    let g = gateway(Options::default()).await;
    let mut v = Client::connect(&ws_url(&g, "")).await.unwrap();
    v.send_text("x".repeat(128 * 1024)).await;
    assert_eq!(v.expect("error").await["code"], "not_json");

    v.send_text("x".repeat(128 * 1024 + 1)).await;

    assert_eq!(v.closed().await, Some(1009));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_and_so_is_one_past_its_maximum_time() {
    let g = gateway(Options {
        idle_timeout: Duration::from_millis(300),
        max_connection: Duration::from_secs(60),
        ..Options::default()
    })
    .await;
    let mut idle = Client::connect(&ws_url(&g, "")).await.unwrap();
    assert_eq!(idle.closed().await, Some(1001));

    let g = gateway(Options {
        max_connection: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let mut busy = Client::connect(&ws_url(&g, "")).await.unwrap();
    for _ in 0..3 {
        busy.send(json!({"action": "ping"})).await;
        busy.expect("pong").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(busy.closed().await, Some(1001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connections_api_answers_the_real_sdk_client() {
    let g = gateway(Options::default()).await;
    let mut v = Client::connect(&ws_url(&g, "")).await.unwrap();
    let id = g.gateway.open_connections().pop().unwrap();
    let sdk = livechat_gateway::connections_sdk_config(&g.credentials);
    let client =
        livechat_aws::runtime::management_client(&sdk, &format!("http://{}/local", g.addr), None);

    client
        .post_to_connection()
        .connection_id(&id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
            r#"{"type":"pong"}"#,
        ))
        .send()
        .await
        .unwrap();
    v.expect("pong").await;

    let info = client
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    assert!(info.connected_at().is_some());
    assert_eq!(
        info.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );

    let gone = client
        .post_to_connection()
        .connection_id("NoSuchConnId=")
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new("{}"))
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{gone:?}"
    );

    client
        .delete_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    assert!(v.closed().await.is_some());
    let after = client
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap_err();
    assert!(
        after
            .as_service_error()
            .is_some_and(|e| e.is_gone_exception())
    );
}

/// What a web page (a cross-site POST, or a DNS-rebound one) or a client without the
/// gateway's credentials gets from `@connections`: 403, and nothing reaches the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connections_api_refuses_unsigned_wrongly_signed_and_foreign_host_requests() {
    let g = gateway(Options::default()).await;
    let mut v = Client::connect(&ws_url(&g, "")).await.unwrap();
    let id = g.gateway.open_connections().pop().unwrap();
    let url = format!("http://{}/local/@connections/{id}", g.addr);
    let http = reqwest::Client::new();
    let fake = r#"{"type":"agent_joined","agent":{"name":"Support"}}"#;

    // A cross-site `text/plain` POST, as any web page can send.
    let unsigned = http
        .post(&url)
        .header("content-type", "text/plain")
        .header("origin", "https://evil.example")
        .body(fake)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    assert_eq!(
        unsigned.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = http.request(method, &url).send().await.unwrap();
        assert_eq!(r.status(), 403, "an unsigned GET or DELETE");
    }

    // The real SDK client with other credentials.
    let stranger = livechat_gateway::sigv4::Credentials {
        access_key_id: g.credentials.access_key_id.clone(),
        secret_access_key: "not-the-secret-not-the-secret-not-the-se".into(),
    };
    let client = livechat_aws::runtime::management_client(
        &livechat_gateway::connections_sdk_config(&stranger),
        &format!("http://{}/local", g.addr),
        None,
    );
    let refused = client
        .post_to_connection()
        .connection_id(&id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(fake))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{refused:?}"
    );
    let other_key = livechat_aws::runtime::management_client(
        &livechat_gateway::connections_sdk_config(
            &livechat_gateway::sigv4::Credentials::generate().unwrap(),
        ),
        &format!("http://{}/local", g.addr),
        None,
    );
    let refused = other_key
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403),
        "{refused:?}"
    );

    // A DNS-rebound name for the gateway's address: the right signature for the
    // wrong Host is still refused.
    let rebound = http
        .post(&url)
        .header("host", format!("evil.example:{}", g.addr.port()))
        .body(fake)
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);

    // The visitor's socket received none of it, and is still open.
    v.send(json!({"action": "ping"})).await;
    match v.next_message().await {
        Some(tungstenite::Message::Text(t)) => assert_eq!(
            serde_json::from_str::<Value>(t.as_str()).unwrap()["type"],
            "pong",
            "the first frame after the refusals is the pong"
        ),
        other => panic!("expected the pong, got {other:?}"),
    }
}

#[test]
fn the_gateway_knows_its_own_host_names_and_no_others() {
    use livechat_gateway::management::is_own_host;
    let local = "127.0.0.1:8080".parse().unwrap();
    assert!(is_own_host(local, "127.0.0.1:8080"));
    assert!(is_own_host(local, "localhost:8080"));
    assert!(!is_own_host(local, "127.0.0.1:8081"));
    assert!(!is_own_host(local, "evil.example:8080"));
    assert!(!is_own_host(local, "127.0.0.1"));
    let any = "0.0.0.0:8080".parse().unwrap();
    assert!(is_own_host(any, "192.168.1.20:8080"));
    assert!(!is_own_host(any, "rebind.evil.example:8080"));
    let v6 = "[::1]:8080".parse().unwrap();
    assert!(is_own_host(v6, "[::1]:8080"));
    assert!(is_own_host(v6, "localhost:8080"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_frame_closes_the_connection_with_1003_as_api_gateway_does() {
    let g = gateway(Options::default()).await;
    let mut v = Client::connect(&ws_url(&g, "")).await.unwrap();
    v.send_binary(br#"{"action":"ping"}"#.to_vec()).await;
    assert_eq!(v.closed().await, Some(1003));
}

/// A client that never reads its frames: the gateway holds at most about a
/// megabyte for it, then closes it, and pushes to it answer 410 Gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_reads_nothing_is_closed_instead_of_growing_the_gateway() {
    let g = gateway(Options::default()).await;
    let _deaf = Client::connect(&ws_url(&g, "")).await.unwrap();
    let id = g.gateway.open_connections().pop().unwrap();
    let client = livechat_aws::runtime::management_client(
        &livechat_gateway::connections_sdk_config(&g.credentials),
        &format!("http://{}/local", g.addr),
        None,
    );
    let frame = format!(r#"{{"type":"pong","pad":"{}"}}"#, "x".repeat(100 * 1024));
    let mut accepted = 0usize;
    let gone = loop {
        let sent = client
            .post_to_connection()
            .connection_id(&id)
            .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(
                frame.as_bytes(),
            ))
            .send()
            .await;
        match sent {
            Ok(_) => accepted += frame.len(),
            Err(e) => break e,
        }
        assert!(
            accepted < 64 * 1024 * 1024,
            "64 MB queued for a client that reads nothing"
        );
    };
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{gone:?}"
    );
    // The kernel's socket buffers take a few megabytes first; the gateway's queue at
    // most one more.
    assert!(accepted < 32 * 1024 * 1024, "{accepted} bytes accepted");
    for _ in 0..50 {
        if g.gateway.open_connections().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the connection is still open");
}

/// The HTTP status of a refused handshake; panics on anything else.
fn refused_with(outcome: Result<Client, tungstenite::Error>) -> u16 {
    match outcome {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the socket was accepted"),
    }
}

const EVIL: &str = "https://evil.example";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_another_site_opens_a_visitor_socket_only_while_the_account_lists_no_sites() {
    // Unset: every site's page may, so that existing embeds keep working.
    let open = gateway(Options::default()).await;
    Client::connect_from(&ws_url(&open, ""), EVIL)
        .await
        .expect("any site while allowed_origins is unset");

    let g = gateway(Options::default()).await;
    let store = g.chat.as_ref().unwrap().0.ports().store.clone();
    let mut directory = store.directory().await.unwrap();
    directory.settings.allowed_origins = Some(vec![
        livechat_core::domain::Origin::parse("https://www.acme.example").unwrap(),
    ]);
    store.put_directory(&directory).await.unwrap();

    assert_eq!(
        refused_with(Client::connect_from(&ws_url(&g, ""), EVIL).await),
        403
    );
    assert!(g.gateway.open_connections().is_empty());
    // The listed site, the gateway's own pages, and clients that are not browsers.
    for origin in [
        Some("https://www.acme.example".to_string()),
        Some(format!("http://{}", g.addr)),
        Some(format!("http://localhost:{}", g.addr.port())),
        None,
    ] {
        let url = ws_url(&g, "");
        let mut v = match &origin {
            Some(o) => Client::connect_from(&url, o).await,
            None => Client::connect(&url).await,
        }
        .unwrap_or_else(|e| panic!("{origin:?}: {e}"));
        v.send(json!({"action": "start"})).await;
        v.expect("session").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_socket_opens_only_from_the_gateways_own_pages() {
    let g = gateway(Options::default()).await;
    let url = ws_url(&g, &format!("?agent_token={}", token(&g, "ana")));
    assert_eq!(refused_with(Client::connect_from(&url, EVIL).await), 403);
    assert!(g.gateway.open_connections().is_empty());

    for origin in [
        format!("http://{}", g.addr),
        format!("http://localhost:{}", g.addr.port()),
    ] {
        let mut c = Client::connect_from(&url, &origin)
            .await
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
        c.send(json!({"action": "sync"})).await;
        c.expect("availability").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_are_served_with_a_content_security_policy_and_are_never_framed() {
    let g = gateway(Options::default()).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("http://{}{path}", g.addr)).send();

    let inbox = get("/inbox/").await.unwrap();
    assert_eq!(inbox.status(), 200);
    let demo = get("/").await.unwrap();
    assert_eq!(demo.status(), 200);
    let script = get("/widget/livechat.js").await.unwrap();
    for (page, response) in [("/inbox/", &inbox), ("/", &demo), ("/widget", &script)] {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{page}: no {name}"))
                .to_string()
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'self'",
            "connect-src 'self' ws: wss:",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{page}: {csp}");
        }
        assert!(!csp.contains("unsafe-eval"), "{page}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{page}");
        assert_eq!(header("x-frame-options"), "DENY", "{page}");
        assert_eq!(
            header("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{page}"
        );
    }
    let csp = |r: &reqwest::Response| {
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string()
    };
    // The inbox allows no inline script or style; the demo page no inline script.
    assert!(!csp(&inbox).contains("unsafe-inline"), "{}", csp(&inbox));
    assert!(csp(&demo).contains("script-src 'self';"), "{}", csp(&demo));

    // What the pages load must pass them: no inline script in either page, and no
    // inline style in the inbox.
    for (page, text, styles_allowed) in [
        ("/inbox/", inbox.text().await.unwrap(), false),
        ("/", demo.text().await.unwrap(), true),
    ] {
        for tag in text.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap();
            assert!(
                open.contains(" src="),
                "{page}: an inline script: <script{open}>"
            );
        }
        if !styles_allowed {
            assert!(
                !text.contains("<style") && !text.contains(" style="),
                "{page}"
            );
        }
        assert!(!has_handler(&text), "{page}: an inline event handler");
    }
}

/// Whether an HTML text has an inline event handler attribute (`onclick="…"`).
fn has_handler(text: &str) -> bool {
    text.split('<').skip(1).any(|tag| {
        let open = tag.split('>').next().unwrap_or("");
        open.split_whitespace()
            .skip(1)
            .any(|attr| attr.starts_with("on") && attr.contains('='))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_frame_after_the_token_expires_gets_token_expired_and_the_gateway_closes_the_socket()
 {
    use livechat_core::auth::AgentTokenIssuer;
    use livechat_gateway::{LOCAL_AGENT_SECRET, LOCAL_AUDIENCE, LOCAL_ISSUER};
    let g = gateway(Options::default()).await;
    // Expired 28 s ago: still inside the 30 s of clock skew $connect allows, and
    // past it a few seconds later.
    let issuer =
        AgentTokenIssuer::hs256(LOCAL_AGENT_SECRET.as_bytes(), LOCAL_ISSUER, LOCAL_AUDIENCE);
    let ana = livechat_core::domain::AgentId::parse("ana").unwrap();
    let now = jiff::Timestamp::now();
    let token = issuer.issue(
        &ana,
        now - jiff::SignedDuration::from_secs(29),
        jiff::SignedDuration::from_secs(1),
    );
    let mut c = Client::connect(&ws_url(&g, &format!("?agent_token={token}")))
        .await
        .unwrap();
    c.send(json!({"action": "ping"})).await;
    c.expect("pong").await;

    tokio::time::sleep(Duration::from_secs(4)).await;
    c.send(json!({"action": "ping"})).await;

    assert_eq!(c.expect("error").await["code"], "token_expired");
    assert_eq!(
        c.closed().await,
        Some(1000),
        "closed through @connections DELETE"
    );
}

/// The bench's relay floor: with `echo`, every message, JSON or not, comes back to
/// its sender through one `@connections` POST, and no chat frame is made.
#[tokio::test]
async fn the_echo_gateway_posts_every_message_back_to_its_sender_through_connections() {
    let g = gateway(Options {
        echo: true,
        ..Options::default()
    })
    .await;
    let mut a = Client::connect(&ws_url(&g, "")).await.unwrap();
    let mut b = Client::connect(&ws_url(&g, "")).await.unwrap();
    for body in [
        r#"{"action":"start"}"#,
        "not json",
        r#"{"action":"send_message","text":"x"}"#,
    ] {
        a.send_text(body.to_string()).await;
        match a.next_message().await {
            Some(tungstenite::Message::Text(t)) => assert_eq!(t.as_str(), body),
            other => panic!("expected the body back, got {other:?}"),
        }
    }
    b.send_text("to b only".into()).await;
    match b.next_message().await {
        Some(tungstenite::Message::Text(t)) => assert_eq!(t.as_str(), "to b only"),
        other => panic!("expected the body back, got {other:?}"),
    }
    let quiet = tokio::time::timeout(Duration::from_millis(300), a.next_message()).await;
    assert!(quiet.is_err(), "a got b's echo: {quiet:?}");
}

#[tokio::test]
async fn a_signed_identify_verifies_with_the_local_secret_and_a_forged_one_does_not() {
    use livechat_core::domain::{AttributeName, Attributes};
    use livechat_core::identify::IdentifyKey;
    let g = gateway(Options::default()).await;
    let mut attributes = Attributes::new();
    attributes.set(AttributeName::parse("user_id").unwrap(), "u-42");
    let expires = jiff::Timestamp::now().as_second() + 600;
    let sign = |secret: &str| {
        IdentifyKey::new(secret.as_bytes())
            .unwrap()
            .sign(&attributes, expires)
    };
    for (signature, outcome) in [
        // IDENTIFY_SECRET from the environment, else the local-only default that
        // `livechat dev` prints.
        (sign(&livechat_gateway::local_identify_secret()), "verified"),
        (
            sign("a-secret-that-is-not-the-gateways-one"),
            "bad_signature",
        ),
    ] {
        let mut v = Client::connect(&ws_url(&g, "")).await.unwrap();
        v.send(json!({"action": "start", "identity": {
            "attributes": {"user_id": "u-42"},
            "expires": expires,
            "signature": signature,
        }}))
        .await;
        assert_eq!(v.expect("session").await["identity"], outcome);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_the_askers_role_may_not_see_is_refused_by_name_on_the_command_line() {
    let g = gateway(Options::default()).await;
    let refused = livechat_cli::report_from_gateway(
        &ws_url(&g, ""),
        &livechat_cli::local_agent_token("mia").unwrap(),
        "2026-11-01",
        "2026-11-30",
        "agent",
    )
    .await;
    match refused {
        Err(livechat_cli::GatewayReportError::Refused { code, .. }) => {
            assert_eq!(code, "forbidden")
        }
        other => panic!("a Marketing Admin's report by agent: {other:?}"),
    }
    // The funnel she may see comes back.
    let csv = livechat_cli::report_from_gateway(
        &ws_url(&g, ""),
        &livechat_cli::local_agent_token("mia").unwrap(),
        "2026-11-01",
        "2026-11-30",
        "dialog",
    )
    .await
    .unwrap();
    assert!(csv.starts_with("dialog,dialogs_triggered"), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_in_german_gets_the_servers_texts_in_german_and_the_widgets_german_strings_are_served()
 {
    let g = gateway(Options::default()).await;
    let mut v = Client::connect(&ws_url(&g, "")).await.unwrap();
    v.send(json!({"action": "start", "page_url": "https://acme.example/preise", "lang": "de"}))
        .await;
    v.expect("session").await;
    // The demo dialog gives its texts in English and German.
    let cards = v.expect("cards").await;
    assert_eq!(
        cards["cards"][1]["prompt"],
        "Möchten Sie mit jemandem aus dem Vertrieb sprechen?"
    );
    assert_eq!(cards["cards"][1]["answers"], json!(["Ja", "Nein danke"]));
    v.send(json!({"action": "answer", "card": "ask", "answer": 0}))
        .await;
    v.expect("cards").await;
    v.send(json!({"action": "submit", "card": "first_name", "value": "Jo"}))
        .await;
    let asked = v.expect("cards").await;
    assert_eq!(asked["cards"][0]["placeholder"], "name@firma.de");
    v.send(json!({"action": "submit", "card": "email", "value": "not-an-email"}))
        .await;
    let refused = v.expect("cards").await;
    assert_eq!(
        refused["cards"][0]["error"],
        "Geben Sie eine E-Mail-Adresse wie name@example.com ein"
    );

    // A malformed language is refused by name, and the connection goes on.
    v.send(json!({"action": "start", "lang": "de at"})).await;
    let error = v.expect("error").await;
    assert_eq!(error["code"], "bad_field");
    assert!(
        error["message"].as_str().unwrap().contains("\"lang\""),
        "{error}"
    );

    // The widget's German strings, fetched beside it by a German page.
    let http = reqwest::Client::new();
    let de = http
        .get(format!("http://{}/widget/lang/de.js", g.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(de.status(), 200);
    let mime = de.headers()["content-type"].to_str().unwrap().to_string();
    assert!(mime.contains("javascript"), "{mime}");
    assert!(de.text().await.unwrap().contains("'Senden'"));
}

/// The agents of the explanation's first pool, each with their verdict's name.
fn first_pool(
    explained: &livechat_cli::Explained,
) -> (
    Option<String>,
    Vec<(String, livechat_core::routing::Verdict)>,
) {
    let pool = &explained.trace.pools[0];
    let verdicts = pool
        .candidates
        .iter()
        .map(|c| (c.agent.to_string(), c.verdict))
        .collect();
    (pool.pool.clone(), verdicts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_against_a_running_gateway_sees_an_agent_connect_and_tries_a_configuration_not_applied()
 {
    use livechat_core::routing::{Outcome, Verdict};
    let g = gateway(Options::default()).await;
    let base = format!("http://{}", g.addr);
    let ana = livechat_cli::local_agent_token("ana").unwrap();
    let talk = livechat_core::domain::CardId::parse("talk").unwrap();
    let visitor = livechat_cli::visitor_attributes(r#"{"email": "jo@visitor.example"}"#).unwrap();
    let ask = |config: Option<std::path::PathBuf>| {
        let (base, ana, visitor, talk) = (base.clone(), ana.clone(), visitor.clone(), talk.clone());
        async move {
            livechat_cli::explain_from_gateway(
                &base,
                &ana,
                config.as_deref(),
                &visitor,
                None,
                Some(&talk),
                None,
            )
            .await
            .unwrap()
        }
    };

    let nobody = ask(None).await;
    assert_eq!(nobody.trace.outcome, Outcome::Nobody);
    let offline = Verdict::Offline;
    assert_eq!(
        first_pool(&nobody),
        (
            Some("team:sales".into()),
            vec![
                ("ana".into(), offline),
                ("ben".into(), offline),
                ("cleo".into(), offline),
            ]
        )
    );

    // Ben opens the inbox: the gateway's store sees him, and so does the answer.
    let _ben = agent(&g, "ben").await;
    let ben_id = livechat_core::domain::AgentId::parse("ben").unwrap();
    let with_ben = ask(None).await;
    assert_eq!(
        with_ben.trace.outcome,
        Outcome::Offer {
            agent: ben_id.clone()
        }
    );
    assert_eq!(first_pool(&with_ben).1[1], ("ben".into(), Verdict::Chosen));

    // A configuration not applied, whose team is cleo alone: her pool is tried, and
    // the live presence is the same (ben, online, gets it as any available agent).
    let dir = std::env::temp_dir().join(format!("livechat-explain-{}", g.addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let config =
        livechat_core::demo::CONFIG_YAML.replace("members: [ana, ben, cleo]", "members: [cleo]");
    assert_ne!(config, livechat_core::demo::CONFIG_YAML);
    std::fs::write(dir.join("demo-config.yaml"), config).unwrap();
    std::fs::write(
        dir.join("sales-dialog.yaml"),
        livechat_core::demo::DIALOG_YAML,
    )
    .unwrap();
    std::fs::write(
        dir.join("pricing-dialog.yaml"),
        livechat_core::demo::PRICING_DIALOG_YAML,
    )
    .unwrap();
    let tried = ask(Some(dir.join("demo-config.yaml"))).await;
    assert_eq!(
        first_pool(&tried),
        (Some("team:sales".into()), vec![("cleo".into(), offline)])
    );
    assert_eq!(tried.trace.outcome, Outcome::Offer { agent: ben_id });
    std::fs::remove_dir_all(&dir).unwrap();

    // Only a Sales Admin may ask; a Live Agent, a Marketing Admin and a forged or
    // missing token are refused by name.
    let request = livechat_gateway::explain::ExplainRequest {
        visitor: visitor.clone(),
        at: None,
        dialog: None,
        card: None,
        config: None,
    };
    for (token, status) in [
        (livechat_cli::local_agent_token("ben").unwrap(), 403),
        (livechat_cli::local_agent_token("mia").unwrap(), 403),
        (format!("{ana}x"), 401),
        (String::new(), 401),
    ] {
        match livechat_gateway::explain::ask(&base, &token, &request).await {
            Err(livechat_gateway::explain::AskError::Refused { status: s, .. }) => {
                assert_eq!(s, status, "{token}")
            }
            other => panic!("{token}: {other:?}"),
        }
    }
    // A Sales Admin's token from another site's page, or under another host name (a
    // DNS rebinding), is refused too; and a question with a field it does not know.
    let url = livechat_gateway::explain::explain_url(&base);
    let http = reqwest::Client::new();
    let body = serde_json::to_string(&request).unwrap();
    for (header, value, status) in [
        ("origin", "https://evil.example".to_string(), 403),
        ("host", format!("rebind.example:{}", g.addr.port()), 403),
        ("origin", base.clone(), 200),
    ] {
        let answer = http
            .post(&url)
            .bearer_auth(&ana)
            .header(header, value.as_str())
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), status, "{header}: {value}");
    }
    let unknown = http
        .post(&url)
        .bearer_auth(&ana)
        .body(r#"{"visitor": {}, "tables": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_json_is_served_cacheable_and_cross_origin_with_each_dialogs_audience_only() {
    let g = gateway(Options::default()).await;
    let response = reqwest::get(format!("http://{}/widget/site.json", g.addr))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "public, max-age=60");
    assert_eq!(headers["access-control-allow-origin"], "*");
    let site: Value = response.json().await.unwrap();
    let expected = serde_json::to_value(livechat_core::site::site(
        &livechat_core::demo::directory().unwrap(),
    ))
    .unwrap();
    assert_eq!(site, expected);
    assert_eq!(site["v"], 1);
    let ids: Vec<&str> = site["dialogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sales", "pricing"]);
    assert_eq!(site["dialogs"][1]["min_seconds"], 5);
    assert_eq!(
        site["dialogs"][1]["teaser"]["de"],
        "Sie vergleichen Tarife? Wir helfen Ihnen bei der Auswahl."
    );
    // Audiences and teasers only: no card of any dialog.
    assert!(!site.to_string().contains("cards"), "{site}");
    assert!(!site.to_string().contains("wants_sales"), "{site}");
}
