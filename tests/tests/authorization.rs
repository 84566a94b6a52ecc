//! The authorization matrix: every client action, sent by every kind of client the
//! socket can have (anonymous, a visitor on their own conversation or another's, an
//! agent on their own chat or another's, each role, an expired or forged token),
//! through the local gateway over real WebSockets, with the answer each must get.
//!
//! Each cell runs in a world of its own: a gateway on the in-memory store, an
//! account whose only sales agent is ben, and one visitor, "the owner", whose
//! conversation `X` is in the state the action needs (in the dialog, offered to ben,
//! live with ben, or missed). The cell's client sends the action's frame naming `X`
//! (where the frame names a conversation), then a `ping`; the frames that come back
//! before the `pong` are the answer. Besides the answer, a client with no right to
//! `X` must never receive anything that names it or holds its messages.
//!
//! A new action fails [`every_action_has_a_row_and_every_row_an_action`] until its
//! row is written here.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use livechat_core::auth::{AgentTokenIssuer, VisitorTokens};
use livechat_core::protocol::{AgentFrame, VisitorFrame};
use livechat_gateway::{
    LOCAL_AUDIENCE, LOCAL_ISSUER, LOCAL_VISITOR_SECRET, Options, Running, start,
};
use livechat_tests::client::{Client, local_agent_token};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;

/// The account: ben is the sales team, so every request goes to him and, once he
/// declines, to the fallback; ana is a sales admin outside the team, cleo a live
/// agent outside it, mo a marketing admin (the inbox's reports only, no chat).
const ACCOUNT: &str = r#"
agents:
  - { id: ana, name: Ana Lima, email: ana@acme.example, roles: [live_agent, sales_admin], chat_limit: 5, schedule: &always [ { day: mon, start: "00:00", end: "24:00" }, { day: tue, start: "00:00", end: "24:00" }, { day: wed, start: "00:00", end: "24:00" }, { day: thu, start: "00:00", end: "24:00" }, { day: fri, start: "00:00", end: "24:00" }, { day: sat, start: "00:00", end: "24:00" }, { day: sun, start: "00:00", end: "24:00" } ] }
  - { id: ben, name: Ben Okafor, email: ben@acme.example, roles: [live_agent], chat_limit: 5, schedule: *always }
  - { id: cleo, name: Cleo Martin, email: cleo@acme.example, roles: [live_agent], chat_limit: 5, schedule: *always }
  - { id: mo, name: Mo Reyes, email: mo@acme.example, roles: [marketing_admin], chat_limit: 5, schedule: *always }
teams:
  - { id: sales, name: Sales, members: [ben] }
settings:
  wait_time_limit: 100
  fallback: { kind: standard }
"#;

/// The text of the owner's message in a live chat: no one without a right to the
/// conversation may ever see it.
const SECRET: &str = "my card number is 4111";

/// The state the owner's conversation is in when the action is sent.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scene {
    /// On the dialog's first question (`ask`).
    Dialog,
    /// Waiting, offered to ben.
    Offered,
    /// On the dialog's first capture (`first_name`), the question answered.
    Capture,
    /// Live with ben, with one message from the owner.
    Live,
    /// Live with ben as in `Live`, then ended by the owner.
    Ended,
    /// Declined by ben, so ended in the fallback and in the missed list.
    Missed,
}

/// Who sends the frame (the matrix's columns).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    /// A new visitor socket that never sent `start`.
    Anonymous,
    /// The owner, on the socket their conversation runs on.
    VisitorOwn,
    /// Another visitor, with a conversation of their own, naming `X`.
    VisitorOther,
    /// A socket presenting the owner's visitor token with its signature altered.
    VisitorForged,
    /// A socket presenting a visitor token for the owner issued 25 hours ago.
    VisitorExpired,
    /// ben: offered `X` or holding it.
    AgentOwn,
    /// cleo, a live agent with no part in `X`.
    AgentOther,
    /// ana, a sales admin (reads every conversation) with no part in `X`.
    SalesAdmin,
    /// mo, a marketing admin: no live chat permission.
    MarketingAdmin,
    /// ben with a token that expired an hour ago.
    AgentExpired,
    /// ben with a token signed by another key.
    AgentForged,
}

const WHO: [Who; 11] = [
    Who::Anonymous,
    Who::VisitorOwn,
    Who::VisitorOther,
    Who::VisitorForged,
    Who::VisitorExpired,
    Who::AgentOwn,
    Who::AgentOther,
    Who::SalesAdmin,
    Who::MarketingAdmin,
    Who::AgentExpired,
    Who::AgentForged,
];

impl Who {
    /// Whether this client may see `X` at all.
    fn may_see(self, scene: Scene) -> bool {
        match self {
            Who::VisitorOwn | Who::AgentOwn => true,
            // ana reads every conversation; a missed request is every agent's.
            Who::SalesAdmin => true,
            Who::AgentOther => scene == Scene::Missed,
            _ => false,
        }
    }
}

/// Which client kind an action belongs to (the same name may exist for both).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Visitor,
    Agent,
}

/// One row: an action, the scene it runs in, its frame (`X` stands for the owner's
/// conversation), and the answer of each column, in [`WHO`]'s order.
struct Row {
    side: Side,
    action: &'static str,
    scene: Scene,
    frame: fn(&str) -> Value,
    answers: [&'static str; 11],
}

// The answers: `error:<code>` when an error frame came back, `refused:<status>`
// when the socket could not be opened, else the frame types in order ("-" when
// nothing came back), and `closed:<code>` when the socket closed.
const R401: &str = "refused:401";
const UNKNOWN: &str = "error:unknown_action";

fn rows() -> Vec<Row> {
    use Scene::*;
    use Side::*;
    vec![
        Row {
            side: Visitor,
            action: "start",
            scene: Live,
            frame: |_| json!({"action": "start", "page_url": "https://acme.example/pricing"}),
            answers: [
                "session+cards",
                "session+history+cards+agent_joined",
                "session+cards",
                R401,
                R401,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
            ],
        },
        Row {
            side: Visitor,
            action: "answer",
            scene: Dialog,
            frame: |_| json!({"action": "answer", "card": "ask", "answer": 0}),
            answers: [
                "error:not_found",
                "cards",
                "cards",
                R401,
                R401,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
            ],
        },
        Row {
            side: Visitor,
            action: "submit",
            scene: Capture,
            frame: |_| json!({"action": "submit", "card": "first_name", "value": "Sam"}),
            answers: [
                "error:not_found",
                "cards",
                "error:invalid_state",
                R401,
                R401,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
            ],
        },
        Row {
            side: Visitor,
            action: "send_message",
            scene: Live,
            frame: |x| json!({"action": "send_message", "conversation": x, "id": "v2", "text": "hello"}),
            answers: [
                "error:not_found",
                "ack",
                "error:not_found",
                R401,
                R401,
                "ack",
                "error:forbidden",
                "error:forbidden",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Visitor,
            action: "typing",
            scene: Live,
            frame: |_| json!({"action": "typing", "typing": true}),
            answers: [
                "error:not_found",
                "-",
                "-",
                R401,
                R401,
                "error:bad_field",
                "error:bad_field",
                "error:bad_field",
                "error:bad_field",
                R401,
                R401,
            ],
        },
        Row {
            side: Visitor,
            action: "end_chat",
            scene: Live,
            frame: |_| json!({"action": "end_chat"}),
            answers: [
                "error:not_found",
                "chat_ended",
                "chat_ended",
                R401,
                R401,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
            ],
        },
        Row {
            side: Visitor,
            action: "leave_details",
            scene: Missed,
            frame: |_| json!({"action": "leave_details", "email": "sam@visitor.example", "message": "call me"}),
            answers: [
                "error:not_found",
                "details_received",
                "error:invalid_state",
                R401,
                R401,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
            ],
        },
        Row {
            side: Visitor,
            action: "ping",
            scene: Live,
            frame: |_| json!({"action": "ping"}),
            answers: [
                "pong", "pong", "pong", R401, R401, "pong", "pong", "pong", "pong", R401, R401,
            ],
        },
        Row {
            side: Visitor,
            action: "history",
            scene: Live,
            frame: |_| json!({"action": "history", "before": 2}),
            answers: [
                "error:not_found",
                "history",
                "history",
                R401,
                R401,
                "error:bad_field",
                "error:bad_field",
                "error:bad_field",
                "error:bad_field",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "accept",
            scene: Offered,
            frame: |x| json!({"action": "accept", "conversation": x}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "chat_started",
                "error:forbidden",
                "error:forbidden",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "decline",
            scene: Offered,
            frame: |x| json!({"action": "decline", "conversation": x}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "offer_withdrawn",
                "error:forbidden",
                "error:forbidden",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "send_message",
            scene: Live,
            frame: |x| json!({"action": "send_message", "conversation": x, "id": "a2", "text": "hello"}),
            answers: [
                "error:not_found",
                "ack",
                "error:not_found",
                R401,
                R401,
                "ack",
                "error:forbidden",
                "error:forbidden",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "typing",
            scene: Live,
            frame: |x| json!({"action": "typing", "conversation": x, "typing": true}),
            answers: [
                "error:not_found",
                "-",
                "-",
                R401,
                R401,
                "-",
                "error:forbidden",
                "error:forbidden",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "end_session",
            scene: Live,
            frame: |x| json!({"action": "end_session", "conversation": x}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "chat_ended",
                "error:forbidden",
                "error:forbidden",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "set_availability",
            scene: Live,
            frame: |_| json!({"action": "set_availability", "available": false}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "availability",
                "availability",
                "availability",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "score",
            scene: Ended,
            frame: |x| json!({"action": "score", "conversation": x, "score": 2}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "-",
                "error:not_found",
                "-",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "history",
            scene: Live,
            frame: |x| json!({"action": "history", "conversation": x}),
            answers: [
                "error:bad_field",
                "error:bad_field",
                "error:bad_field",
                R401,
                R401,
                "transcript",
                "error:not_found",
                "transcript",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "ping",
            scene: Live,
            frame: |_| json!({"action": "ping"}),
            answers: [
                "pong", "pong", "pong", R401, R401, "pong", "pong", "pong", "pong", R401, R401,
            ],
        },
        Row {
            side: Agent,
            action: "sync",
            scene: Live,
            frame: |_| json!({"action": "sync"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "availability+chat_started",
                "availability",
                "availability",
                "reports_only",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "missed",
            scene: Missed,
            frame: |_| json!({"action": "missed"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "missed",
                "missed",
                "missed",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "pick_up",
            scene: Missed,
            frame: |x| json!({"action": "pick_up", "conversation": x}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "chat_started",
                "chat_started",
                "chat_started",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "past_chats",
            scene: Ended,
            frame: |_| json!({"action": "past_chats"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "past_chats",
                "past_chats",
                "past_chats",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "reply_by_email",
            scene: Missed,
            frame: |x| json!({"action": "reply_by_email", "conversation": x, "id": "r1", "text": "Hi, yes we do."}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "email_sent+missed",
                "email_sent+missed",
                "email_sent+missed",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "add_note",
            scene: Live,
            frame: |x| json!({"action": "add_note", "conversation": x, "id": "n1", "text": "Call back Monday"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "note",
                "error:not_found",
                "note",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "transfer",
            scene: Live,
            // cleo has no open inbox in ben's world: his transfer finds nobody.
            frame: |x| json!({"action": "transfer", "conversation": x, "to": {"agent": "cleo"}, "note": "VIP"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "transfer_failed",
                "error:forbidden",
                "error:forbidden",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "canned",
            scene: Live,
            frame: |_| json!({"action": "canned"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "canned",
                "canned",
                "canned",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "save_canned",
            scene: Live,
            frame: |_| json!({"action": "save_canned", "shortcut": "hi", "text": "Hello!"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "canned",
                "canned",
                "canned",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "delete_canned",
            scene: Live,
            frame: |_| json!({"action": "delete_canned", "shortcut": "hi"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "canned",
                "canned",
                "canned",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "routing_trace",
            scene: Offered,
            frame: |x| json!({"action": "routing_trace", "conversation": x}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "error:forbidden",
                "error:forbidden",
                "routing_trace",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "dialogs",
            scene: Live,
            frame: |_| json!({"action": "dialogs"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "error:forbidden",
                "error:forbidden",
                "dialogs",
                "dialogs",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "report",
            scene: Live,
            frame: |_| report_frame("agent"),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "report",
                "report",
                "report",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "live",
            scene: Live,
            frame: |_| json!({"action": "live"}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "live",
                "live",
                "live",
                "error:forbidden",
                R401,
                R401,
            ],
        },
        Row {
            side: Agent,
            action: "renew_token",
            scene: Live,
            frame: |_| json!({"action": "renew_token", "token": agent_token("ben")}),
            answers: [
                UNKNOWN,
                UNKNOWN,
                UNKNOWN,
                R401,
                R401,
                "token_renewed",
                "error:forbidden",
                "error:forbidden",
                "error:forbidden",
                R401,
                R401,
            ],
        },
    ]
}

/// The answer a client got, in the matrix's notation.
fn answer_of(frames: &[Value], closed: Option<u16>) -> String {
    if let Some(error) = frames.iter().find(|f| f["type"] == "error") {
        return format!("error:{}", error["code"].as_str().unwrap_or("?"));
    }
    let mut kinds: Vec<String> = frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or("?").to_string())
        .collect();
    // A view pushed by the analytics' pump right after a `live` answer is the
    // same frame again: one answer.
    kinds.dedup_by(|a, b| a == "live" && b == "live");
    if let Some(code) = closed {
        kinds.push(format!("closed:{code}"));
    }
    if kinds.is_empty() {
        "-".into()
    } else {
        kinds.join("+")
    }
}

/// One world: the gateway, the owner (with their conversation in `scene`) and ben.
struct World {
    g: Running,
    owner: Client,
    owner_token: String,
    ben: Client,
    x: String,
    /// In the offered scene, cleo's inbox: a request ben declines is offered to
    /// her, not missed, so that ben's answer to `decline` is only his own (the
    /// missed list's announcement would race the cell's pong).
    _standby: Option<Client>,
    _dir: TempDir,
}

/// A folder removed at the end of the test.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn account_dir() -> TempDir {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("livechat-authz-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dialog = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/sales-dialog.yaml");
    std::fs::write(
        dir.join("account.yaml"),
        format!("{ACCOUNT}dialog_file: {dialog}\n"),
    )
    .unwrap();
    TempDir(dir)
}

fn ws_url(g: &Running, query: &str) -> String {
    format!("ws://{}/ws{query}", g.addr)
}

/// A local agent token for `agent`, valid for an hour from now.
fn agent_token(agent: &str) -> String {
    local_agent_token(
        agent,
        jiff::Timestamp::now(),
        jiff::SignedDuration::from_hours(1),
    )
}

async fn connect(g: &Running, query: &str) -> Result<Client, String> {
    match Client::connect(&ws_url(g, query)).await {
        Ok(c) => Ok(c),
        Err(tungstenite::Error::Http(response)) => {
            Err(format!("refused:{}", response.status().as_u16()))
        }
        Err(e) => panic!("connecting {query}: {e}"),
    }
}

/// An inbox socket for `agent`, synced.
async fn inbox(g: &Running, token: &str) -> Result<Client, String> {
    synced(g, token, "availability").await
}

/// An inbox socket, synced: `first` is what `sync` answers first (`availability`,
/// or `reports_only` for an agent without the live chat permission).
async fn synced(g: &Running, token: &str, first: &str) -> Result<Client, String> {
    let mut c = connect(g, &format!("?agent_token={token}")).await?;
    c.send(json!({"action": "sync"})).await;
    c.expect(first).await;
    Ok(c)
}

/// A `report` of yesterday and today (UTC, the account's zone), broken down `by`.
fn report_frame(by: &str) -> Value {
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let yesterday = today.yesterday().unwrap();
    json!({"action": "report", "from": yesterday.to_string(), "to": today.to_string(), "by": by})
}

impl World {
    async fn new(scene: Scene) -> World {
        let dir = account_dir();
        let g = start(Options {
            listen: "127.0.0.1:0".parse().unwrap(),
            directory_path: Some(dir.0.join("account.yaml")),
            outbox: Some(dir.0.join("outbox.txt")),
            ..Options::default()
        })
        .await
        .expect("gateway starts");
        let mut ben = inbox(&g, &agent_token("ben")).await.unwrap();
        let standby = match scene {
            Scene::Offered => Some(inbox(&g, &agent_token("cleo")).await.unwrap()),
            _ => None,
        };
        let mut owner = Client::connect(&ws_url(&g, "")).await.unwrap();
        owner
            .send(json!({"action": "start", "page_url": "https://acme.example/pricing"}))
            .await;
        let session = owner.expect("session").await;
        owner.expect("cards").await;
        let x = session["conversation"].as_str().unwrap().to_string();
        let owner_token = session["visitor_token"].as_str().unwrap().to_string();
        if scene != Scene::Dialog {
            owner
                .send(json!({"action": "answer", "card": "ask", "answer": 0}))
                .await;
            owner.expect("cards").await;
        }
        if !matches!(scene, Scene::Dialog | Scene::Capture) {
            owner
                .send(json!({"action": "submit", "card": "first_name", "value": "Jo"}))
                .await;
            owner.expect("cards").await;
            owner
                .send(json!({"action": "submit", "card": "email", "value": "jo@visitor.example"}))
                .await;
            owner.expect("cards").await;
            owner.expect("waiting").await;
            let offer = ben.expect("offer").await;
            assert_eq!(offer["conversation"], x.as_str());
        }
        match scene {
            Scene::Dialog | Scene::Capture | Scene::Offered => {}
            Scene::Live | Scene::Ended => {
                ben.send(json!({"action": "accept", "conversation": x}))
                    .await;
                ben.expect("chat_started").await;
                owner.expect("agent_joined").await;
                owner
                    .send(json!({"action": "send_message", "id": "m1", "text": SECRET}))
                    .await;
                // The ack carries the stored message: no copy of its own comes.
                owner.expect("ack").await;
                ben.expect("message").await;
                if scene == Scene::Ended {
                    owner.send(json!({"action": "end_chat"})).await;
                    owner.expect("chat_ended").await;
                    ben.expect("chat_ended").await;
                }
            }
            Scene::Missed => {
                ben.send(json!({"action": "decline", "conversation": x}))
                    .await;
                ben.expect("offer_withdrawn").await;
                owner.expect("fallback").await;
                // Every agent connected then hears of the missed request.
                ben.expect("missed").await;
                // The announcement goes on to the agents after ben, and then the
                // notices are sent: once the admin's email is out, no announcement
                // of this scene can reach a client the cell connects.
                let outbox = dir.0.join("outbox.txt");
                let mut waited = 0;
                while !std::fs::read_to_string(&outbox)
                    .unwrap_or_default()
                    .contains("Missed chat request")
                {
                    assert!(waited < 500, "the missed request's notice never came");
                    waited += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
        // What the scene pushed is not the cell's answer.
        ben.seen.clear();
        owner.seen.clear();
        World {
            g,
            owner,
            owner_token,
            ben,
            x,
            _standby: standby,
            _dir: dir,
        }
    }

    /// The client of column `who`, or how its socket was refused.
    async fn client(&mut self, who: Who) -> Result<Option<Client>, String> {
        let g = &self.g;
        Ok(Some(match who {
            Who::VisitorOwn | Who::AgentOwn => return Ok(None),
            Who::Anonymous => connect(g, "").await?,
            Who::VisitorOther => {
                let mut c = connect(g, "").await?;
                c.send(json!({"action": "start", "page_url": "https://other.example/"}))
                    .await;
                c.expect("session").await;
                c.expect("cards").await;
                c
            }
            Who::VisitorForged => {
                let mut forged = self.owner_token.clone();
                let last = forged.pop().unwrap();
                forged.push(if last == 'A' { 'B' } else { 'A' });
                connect(g, &format!("?visitor_token={forged}")).await?
            }
            Who::VisitorExpired => {
                let tokens = VisitorTokens::new(LOCAL_VISITOR_SECRET.as_bytes(), LOCAL_ISSUER);
                let now = jiff::Timestamp::now();
                let owner = tokens.verify(&self.owner_token, now).unwrap();
                let old = tokens.issue(
                    &owner.visitor,
                    owner.version,
                    now - jiff::SignedDuration::from_hours(25),
                );
                connect(g, &format!("?visitor_token={old}")).await?
            }
            Who::AgentOther => inbox(g, &agent_token("cleo")).await?,
            Who::SalesAdmin => inbox(g, &agent_token("ana")).await?,
            Who::MarketingAdmin => synced(g, &agent_token("mo"), "reports_only").await?,
            Who::AgentExpired => {
                let token = local_agent_token(
                    "ben",
                    jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2),
                    jiff::SignedDuration::from_hours(1),
                );
                inbox(g, &token).await?
            }
            Who::AgentForged => {
                let id = livechat_core::domain::AgentId::parse("ben").unwrap();
                let token = AgentTokenIssuer::hs256(
                    b"a-key-that-is-not-the-deployments",
                    LOCAL_ISSUER,
                    LOCAL_AUDIENCE,
                )
                .issue(
                    &id,
                    jiff::Timestamp::now(),
                    jiff::SignedDuration::from_hours(1),
                );
                inbox(g, &token).await?
            }
        }))
    }
}

/// Sends `frame` then a ping on `client`, and returns the frames before the pong
/// (both pongs for a ping) and the close code if the socket closed instead.
async fn exchange(client: &mut Client, frame: Value) -> (Vec<Value>, Option<u16>) {
    use tungstenite::Message;
    let pongs = if frame["action"] == "ping" { 2 } else { 1 };
    client.send(frame).await;
    client.send(json!({"action": "ping"})).await;
    let mut frames = Vec::new();
    let mut seen_pongs = 0;
    while seen_pongs < pongs {
        match client.next_message().await {
            Some(Message::Text(text)) => {
                let f: Value = serde_json::from_str(text.as_str()).unwrap();
                if f["type"] == "pong" {
                    seen_pongs += 1;
                    if seen_pongs < pongs {
                        frames.push(f);
                    }
                } else {
                    frames.push(f);
                }
            }
            Some(Message::Close(close)) => return (frames, close.map(|c| u16::from(c.code))),
            Some(_) => {}
            None => return (frames, Some(1006)),
        }
    }
    (frames, None)
}

/// Runs one cell: its answer, and the frames its client got.
async fn cell(row: &Row, who: Who) -> (String, Vec<Value>, String) {
    let mut world = World::new(row.scene).await;
    let x = world.x.clone();
    let frame = (row.frame)(&x);
    let mut own = match world.client(who).await {
        Ok(c) => c,
        Err(refused) => return (refused, Vec::new(), x),
    };
    let client = match (&mut own, who) {
        (Some(c), _) => c,
        (None, Who::VisitorOwn) => &mut world.owner,
        (None, _) => &mut world.ben,
    };
    let (frames, closed) = exchange(client, frame).await;
    (answer_of(&frames, closed), frames, x)
}

#[test]
fn every_action_has_a_row_and_every_row_an_action() {
    let rows = rows();
    let of = |side: Side| -> BTreeSet<&str> {
        rows.iter()
            .filter(|r| r.side == side)
            .map(|r| r.action)
            .collect()
    };
    assert_eq!(
        of(Side::Visitor),
        VisitorFrame::ACTIONS.into_iter().collect(),
        "every visitor action has exactly one row"
    );
    assert_eq!(
        of(Side::Agent),
        AgentFrame::ACTIONS.into_iter().collect(),
        "every agent action has exactly one row"
    );
    assert_eq!(
        rows.len(),
        VisitorFrame::ACTIONS.len() + AgentFrame::ACTIONS.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_gets_the_answer_its_rights_allow_to_every_action() {
    let mut wrong = String::new();
    let mut table = String::new();
    use futures_util::StreamExt;
    let rows = rows();
    // Three rows' worlds at a time: each cell is independent of the others.
    let mut cells = futures_util::stream::iter(
        rows.iter()
            .flat_map(|row| WHO.iter().map(move |&who| cell(row, who))),
    )
    .buffered(3 * WHO.len())
    .collect::<Vec<_>>()
    .await
    .into_iter();
    for row in &rows {
        let cells: Vec<_> = cells.by_ref().take(WHO.len()).collect();
        let _ = write!(table, "{:?} {:<16}", row.side, row.action);
        for (i, (who, (answer, frames, x))) in WHO.iter().zip(cells).enumerate() {
            let _ = write!(table, " {answer:?},");
            if answer != row.answers[i] {
                let _ = writeln!(
                    wrong,
                    "{:?} {} by {who:?}: expected {}, got {answer} ({frames:?})",
                    row.side, row.action, row.answers[i]
                );
            }
            if !who.may_see(row.scene) {
                // An error may quote the id the client sent itself; nothing else
                // may name the conversation, and nothing may hold its messages.
                let text = serde_json::to_string(&frames).unwrap();
                let named = frames
                    .iter()
                    .filter(|f| f["type"] != "error")
                    .any(|f| f.to_string().contains(&x));
                if named || text.contains(SECRET) {
                    let _ = writeln!(
                        wrong,
                        "{:?} {} by {who:?}: saw the owner's conversation: {text}",
                        row.side, row.action
                    );
                }
            }
        }
        table.push('\n');
    }
    assert!(wrong.is_empty(), "{wrong}\nthe matrix as run:\n{table}");
}

/// The `report` rows for every role and every breakdown: what each may see of the
/// numbers (docs/protocol.md, "Roles in the inbox"), after a chat ben took and the
/// owner ended. Besides the answer, no role but the Sales Admin ever gets another
/// agent's id, and a Marketing Admin gets the funnel's columns only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_answers_each_role_by_every_dimension_as_its_scope_allows() {
    let mut world = World::new(Scene::Ended).await;
    let g = &world.g;
    let mut cleo = inbox(g, &agent_token("cleo")).await.unwrap();
    let mut ana = inbox(g, &agent_token("ana")).await.unwrap();
    let mut mo = synced(g, &agent_token("mo"), "reports_only").await.unwrap();
    let by = ["day", "dialog", "team", "agent"];
    // (who, their client, the answer to each `by`, their scope, ids they may not see)
    let expected: [(&str, [&str; 4], &str, &[&str]); 4] = [
        (
            "ben",
            ["report", "error:forbidden", "error:forbidden", "report"],
            "own",
            &["ana", "cleo", "mo"],
        ),
        (
            "cleo",
            ["report", "error:forbidden", "error:forbidden", "report"],
            "own",
            &["ana", "ben", "mo"],
        ),
        ("ana", ["report", "report", "report", "report"], "all", &[]),
        (
            "mo",
            ["report", "report", "error:forbidden", "error:forbidden"],
            "funnel",
            &["ana", "ben", "cleo"],
        ),
    ];
    let mut wrong = String::new();
    for (who, answers, scope, hidden) in expected {
        let client = match who {
            "ben" => &mut world.ben,
            "cleo" => &mut cleo,
            "ana" => &mut ana,
            _ => &mut mo,
        };
        for (by, want) in by.iter().zip(answers) {
            let (frames, closed) = exchange(client, report_frame(by)).await;
            let got = answer_of(&frames, closed);
            if got != want {
                let _ = writeln!(
                    wrong,
                    "{who} by {by}: expected {want}, got {got} ({frames:?})"
                );
                continue;
            }
            let Some(report) = frames.iter().find(|f| f["type"] == "report") else {
                continue;
            };
            if report["scope"] != scope || report["by"] != *by || report["time_zone"] != "UTC" {
                let _ = writeln!(wrong, "{who} by {by}: {report}");
            }
            let rows = report["rows"].as_array().cloned().unwrap_or_default();
            let csv = report["csv"].as_str().unwrap_or_default();
            let values: Vec<String> = rows.iter().map(|r| r["value"].to_string()).collect();
            for id in hidden {
                let quoted = format!("\"{id}\"");
                if values.contains(&quoted) || csv.lines().any(|l| l.starts_with(&format!("{id},")))
                {
                    let _ = writeln!(wrong, "{who} by {by}: saw {id}'s numbers: {report}");
                }
            }
            if scope == "own" && *by == "agent" && values != [format!("\"{who}\"")] {
                let _ = writeln!(wrong, "{who} by agent: not their one row: {values:?}");
            }
            if scope == "funnel"
                && rows.iter().any(|r| {
                    r.as_object()
                        .is_some_and(|o| o.contains_key("chats_requested"))
                })
            {
                let _ = writeln!(
                    wrong,
                    "{who} by {by}: live chat columns in the funnel: {report}"
                );
            }
            if *by == "day" && rows.len() != 2 {
                let _ = writeln!(
                    wrong,
                    "{who} by day: expected yesterday and today: {values:?}"
                );
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong}");
}
