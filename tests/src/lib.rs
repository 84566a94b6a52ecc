//! Helpers shared by the integration tests in `tests/tests/`: a world of agents on the
//! in-memory ports, built the way the local gateway builds it.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use livechat_core::domain::{
    Agent, AgentId, ChatLimit, ConnectionId, Conversation, ConversationId, DialogId, Email, Role,
    VisitorId, WeeklySchedule,
};
use livechat_core::memory::{
    ManualClock, MemoryNotifier, MemoryPush, MemoryScheduler, MemoryStore,
};
use livechat_core::ports::{
    Clock, ConnectionRecord, ConnectionStore, ConversationStore, Party, Ports,
};
use livechat_core::routing::Directory;

/// The tests' "now": the wall-clock second when first asked, then fixed. Not a
/// date in the past, because DynamoDB's TTL (DynamoDB Local's too) deletes items
/// whose expiry is past by the wall clock, which would make stored connections and
/// sessions vanish under a test.
pub fn test_now() -> Timestamp {
    static NOW: std::sync::OnceLock<Timestamp> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| {
        Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
    })
}

/// `n` live agents named `agent-01`…, available (manual toggle) and under `limit`.
pub fn agents(n: usize, limit: u32) -> Vec<Agent> {
    (1..=n)
        .map(|i| {
            let name = format!("agent-{i:02}");
            let mut a = Agent {
                id: AgentId::parse(&name).expect("valid id"),
                name: name.clone(),
                email: Email::parse(&format!("{name}@seller.example")).expect("valid email"),
                roles: [Role::LiveAgent].into(),
                time_zone: None,
                schedule: WeeklySchedule::default(),
                manual: None,
                chat_limit: ChatLimit::new(limit).expect("limit in 1..=10"),
                notifications: Default::default(),
            };
            a.set_available(true, test_now());
            a
        })
        .collect()
}

/// The in-memory ports around one store, with handles on each adapter.
pub struct MemoryWorld {
    /// The store.
    pub store: Arc<MemoryStore>,
    /// The delay queue.
    pub scheduler: Arc<MemoryScheduler>,
    /// The clock, stopped at [`test_now`].
    pub clock: Arc<ManualClock>,
    /// The ports, for a `Router` or a handler.
    pub ports: Ports,
}

impl MemoryWorld {
    /// A world on `store`, with every agent of `directory` connected.
    pub async fn new(store: MemoryStore, directory: Directory) -> Self {
        let store = Arc::new(store);
        let scheduler = Arc::new(MemoryScheduler::new());
        let clock = Arc::new(ManualClock::new(test_now()));
        let ports = Ports {
            store: store.clone(),
            push: Arc::new(MemoryPush::new()),
            scheduler: scheduler.clone(),
            clock: clock.clone(),
            notifier: Arc::new(MemoryNotifier::new()),
        };
        use livechat_core::ports::DirectoryStore;
        store.put_directory(&directory).await.expect("memory store");
        for a in &directory.agents {
            let record = ConnectionRecord {
                id: ConnectionId::parse(format!("conn-{}", a.id)).expect("valid id"),
                party: Party::Agent {
                    agent: a.id.clone(),
                },
                connected_at: test_now(),
                expires_at: test_now() + SignedDuration::from_hours(2),
                authorized_until: None,
            };
            store.put_connection(&record).await.expect("memory store");
        }
        Self {
            store,
            scheduler,
            clock,
            ports,
        }
    }

    /// A new conversation waiting for routing.
    pub async fn waiting_conversation(&self) -> ConversationId {
        let now = self.clock.now();
        let mut c = Conversation::new(
            ConversationId::generate(),
            VisitorId::generate(),
            DialogId::parse("sales").expect("valid id"),
            now,
        );
        c.request_live_chat(now).expect("bot to waiting");
        self.store
            .create_conversation(&c)
            .await
            .expect("memory store");
        c.id().clone()
    }
}

/// A WebSocket client of the local gateway, speaking the JSON protocol.
pub mod client {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use serde_json::Value;
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    /// How long a test waits for a frame before failing.
    pub const WAIT: Duration = Duration::from_secs(10);

    /// One open socket.
    pub struct Client {
        socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
        /// Frames received but not yet asked for.
        pub seen: Vec<Value>,
    }

    /// An agent token for `agent` signed with the local gateway's key, issued at
    /// `at` for `ttl`.
    pub fn local_agent_token(
        agent: &str,
        at: jiff::Timestamp,
        ttl: jiff::SignedDuration,
    ) -> String {
        livechat_core::auth::AgentTokenIssuer::hs256(
            livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
            livechat_gateway::LOCAL_ISSUER,
            livechat_gateway::LOCAL_AUDIENCE,
        )
        .issue(
            &livechat_core::domain::AgentId::parse(agent).unwrap(),
            at,
            ttl,
        )
    }

    impl Client {
        /// Walks the demo dialog to its live chat card with `start` (`start`'s
        /// extra fields), then "Yes", `name` and `email`; returns the conversation
        /// once the visitor is told to wait.
        pub async fn walk_to_live_chat(&mut self, start: Value, name: &str, email: &str) -> String {
            let mut frame = serde_json::json!({"action": "start"});
            if let (Some(frame), Some(extra)) = (frame.as_object_mut(), start.as_object()) {
                frame.extend(extra.clone());
            }
            self.send(frame).await;
            let conversation = self.expect("session").await["conversation"]
                .as_str()
                .unwrap()
                .to_string();
            self.send(serde_json::json!({"action": "answer", "card": "ask", "answer": 0}))
                .await;
            self.send(serde_json::json!({"action": "submit", "card": "first_name", "value": name}))
                .await;
            self.send(serde_json::json!({"action": "submit", "card": "email", "value": email}))
                .await;
            self.expect("waiting").await;
            conversation
        }

        /// Connects to `url`; the handshake error (with its HTTP status) on refusal.
        pub async fn connect(url: &str) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
            let (socket, _) = tokio_tungstenite::connect_async(url).await?;
            Ok(Self {
                socket,
                seen: Vec::new(),
            })
        }

        /// Connects to `url` as a page of `origin` would (its `Origin` header).
        pub async fn connect_from(
            url: &str,
            origin: &str,
        ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut request = url.into_client_request()?;
            let origin = origin
                .parse()
                .map_err(tokio_tungstenite::tungstenite::http::Error::from)?;
            request.headers_mut().insert("origin", origin);
            let (socket, _) = tokio_tungstenite::connect_async(request).await?;
            Ok(Self {
                socket,
                seen: Vec::new(),
            })
        }

        /// Sends a JSON frame.
        pub async fn send(&mut self, frame: Value) {
            self.send_text(frame.to_string()).await;
        }

        /// Sends a raw text frame.
        pub async fn send_text(&mut self, text: String) {
            self.socket
                .send(Message::Text(text.into()))
                .await
                .expect("socket open");
        }

        /// Sends a binary frame.
        pub async fn send_binary(&mut self, bytes: Vec<u8>) {
            self.socket
                .send(Message::Binary(bytes.into()))
                .await
                .expect("socket open");
        }

        /// The next message of any kind, or `None` when the socket ended.
        pub async fn next_message(&mut self) -> Option<Message> {
            self.next_message_within(WAIT).await
        }

        /// The next message of any kind within `wait`, or `None` when the socket ended.
        pub async fn next_message_within(&mut self, wait: Duration) -> Option<Message> {
            match tokio::time::timeout(wait, self.socket.next()).await {
                Ok(Some(Ok(m))) => Some(m),
                Ok(_) => None,
                Err(_) => panic!("no message within {wait:?}; seen so far: {:?}", self.seen),
            }
        }

        /// Waits for the first frame of `kind` (`type` field), keeping the others seen.
        pub async fn expect(&mut self, kind: &str) -> Value {
            self.expect_within(kind, WAIT).await
        }

        /// [`Client::expect`], waiting up to `wait` for each message: for what comes
        /// after a real delay (an SQS delay, a visibility timeout).
        pub async fn expect_within(&mut self, kind: &str, wait: Duration) -> Value {
            if let Some(i) = self.seen.iter().position(|f| f["type"] == kind) {
                return self.seen.remove(i);
            }
            loop {
                match self.next_message_within(wait).await {
                    Some(Message::Text(text)) => {
                        let frame: Value =
                            serde_json::from_str(text.as_str()).expect("server frames are JSON");
                        if frame["type"] == kind {
                            return frame;
                        }
                        self.seen.push(frame);
                    }
                    Some(Message::Close(frame)) => panic!(
                        "closed ({frame:?}) while waiting for {kind}; seen {:?}",
                        self.seen
                    ),
                    Some(_) => {}
                    None => panic!(
                        "socket ended while waiting for {kind}; seen {:?}",
                        self.seen
                    ),
                }
            }
        }

        /// Waits for the socket to close and returns the close code.
        pub async fn closed(&mut self) -> Option<u16> {
            loop {
                match self.next_message().await {
                    Some(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                    Some(_) => {}
                    None => return None,
                }
            }
        }
    }
}

/// A chat on the in-memory ports with the demo account, as the functions run it.
pub fn memory_chat() -> (livechat_core::service::Chat, Arc<MemoryPush>) {
    let directory = livechat_core::demo::directory().expect("demo directory");
    let (chat, push, _) = chat_on(Arc::new(MemoryStore::with_directory(directory)));
    (chat, push)
}

/// A chat with the demo dialog on `store` (which holds the directory), in-memory
/// pushes and delay queue, the wall clock, and the local gateway's token keys.
pub fn chat_on(
    store: Arc<dyn livechat_core::ports::Store>,
) -> (
    livechat_core::service::Chat,
    Arc<MemoryPush>,
    Arc<MemoryScheduler>,
) {
    let directory = livechat_core::demo::directory().expect("demo directory");
    let dialog = livechat_core::demo::dialog(&directory).expect("demo dialog");
    let push = Arc::new(MemoryPush::new());
    let scheduler = Arc::new(MemoryScheduler::new());
    let ports = Ports {
        store,
        push: push.clone(),
        scheduler: scheduler.clone(),
        clock: Arc::new(livechat_core::ports::SystemClock),
        notifier: Arc::new(MemoryNotifier::new()),
    };
    (chat_with(ports, dialog), push, scheduler)
}

/// A chat over `ports` showing `dialog`, with the local gateway's token keys (tokens
/// from [`livechat_core::auth::AgentTokenIssuer`] with
/// [`livechat_gateway::LOCAL_AGENT_SECRET`] and from
/// [`livechat_core::auth::VisitorTokens`] with
/// [`livechat_gateway::LOCAL_VISITOR_SECRET`] verify).
pub fn chat_with(
    ports: Ports,
    dialog: livechat_core::dialog::ValidDialog,
) -> livechat_core::service::Chat {
    use livechat_core::auth::{AgentVerifier, VisitorTokens};
    livechat_core::service::Chat::new(
        ports,
        dialog,
        AgentVerifier::hs256(
            livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
            livechat_gateway::LOCAL_ISSUER,
            livechat_gateway::LOCAL_AUDIENCE,
        ),
        VisitorTokens::new(
            livechat_gateway::LOCAL_VISITOR_SECRET.as_bytes(),
            livechat_gateway::LOCAL_ISSUER,
        ),
    )
}

pub mod conformance;

pub mod queue_conformance;

pub mod iam;

pub mod sim;

/// DynamoDB Local, when the test command started it (`DYNAMODB_ENDPOINT`).
pub mod dynamodb {
    use livechat_aws::dynamo::DynamoStore;
    use livechat_aws::dynamo::counting::RequestCounter;

    /// The endpoint of DynamoDB Local, or `None` to skip. With
    /// `LIVECHAT_REQUIRE_DYNAMODB=1` (the test command sets it) a missing endpoint is
    /// a failure, so CI can never skip these tests silently.
    pub fn endpoint() -> Option<String> {
        let endpoint = std::env::var("DYNAMODB_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        if endpoint.is_none() {
            assert!(
                std::env::var_os("LIVECHAT_REQUIRE_DYNAMODB").is_none(),
                "LIVECHAT_REQUIRE_DYNAMODB is set but DYNAMODB_ENDPOINT is not: start DynamoDB Local (scripts/dynamodb-local.sh)"
            );
            eprintln!(
                "DYNAMODB_ENDPOINT is not set: skipping (./scripts/test.sh runs DynamoDB Local)"
            );
        }
        endpoint
    }

    /// A DynamoDB client for `endpoint` that counts its requests.
    pub fn client(endpoint: &str) -> (aws_sdk_dynamodb::Client, RequestCounter) {
        let counter = RequestCounter::new();
        let sdk = livechat_gateway::local_sdk_config();
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .interceptor(counter.clone())
            .build();
        (aws_sdk_dynamodb::Client::from_conf(config), counter)
    }

    /// A store on a new, empty table of DynamoDB Local, and its request counter.
    pub async fn fresh_store(endpoint: &str) -> (DynamoStore, RequestCounter) {
        let (client, counter) = client(endpoint);
        let table = format!(
            "livechat-test-{}",
            livechat_core::domain::new_ulid().to_lowercase()
        );
        livechat_aws::dynamo::table::create(&client, &table)
            .await
            .expect("create the test table");
        counter.reset();
        (DynamoStore::new(client, table), counter)
    }
}
