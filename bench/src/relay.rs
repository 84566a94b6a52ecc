//! Relay latency and load through the local gateway (`livechat dev`, the release
//! binary, run as its own process so that its memory is its own), beside its floor
//! (the same gateway with `--echo`: every message posted back through one
//! `@connections` POST) and a bare WebSocket echo server on the same stack (axum's
//! WebSocket on tokio, also its own process: `bench echo-server`). Every client is a
//! real WebSocket client (tokio-tungstenite) in this process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::WebSocketUpgrade;
use axum::extract::ws::Message as AxumMessage;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::cost::{LoadFacts, Measured};
use crate::machine::{mb, vm_bytes};
use crate::report::{Row, percentile, ratio};

/// Messages each conversation sends at each concurrency level, one every
/// [`INTERVAL`] (a first one at a random point of the first interval).
const MESSAGES: u32 = 10;
/// The pace of one conversation: a message every 2 s, faster than people type
/// (1,000 conversations offer 500 messages/s).
const INTERVAL: Duration = Duration::from_secs(2);
/// Messages each way per chat in the load test, one every [`LOAD_INTERVAL`]
/// (500 chats offer 333 messages/s both ways; at 2 s the gateway fell behind).
const LOAD_MESSAGES: u32 = 20;
const LOAD_INTERVAL: Duration = Duration::from_secs(3);
/// Concurrency levels of section 2, on the gateway's in-memory store (the
/// local run's default, so the figures are the gateway's and the functions').
const LEVELS: [usize; 3] = [1, 100, 1000];
/// Agents of the relay gateway (chat limit 10 each: room for 1,100 chats).
const RELAY_AGENTS: usize = 110;
/// The level run again with the gateway on DynamoDB Local, where every message
/// makes its two store requests to a real (local) DynamoDB. DynamoDB Local is a
/// single Java process beside everything else on this machine, so this shows
/// what the store round trips add, not what DynamoDB would do.
const DYNAMODB_LEVELS: [usize; 1] = [100];
const DYNAMODB_RELAY_AGENTS: usize = 10;
/// Section 5: visitors, agents (chat limit 10: 500 chats at a time, so two waves).
const LOAD_VISITORS: usize = 1000;
const LOAD_AGENTS: usize = 50;
/// A phase number in a message's text that asks the agent to reply.
const LOAD_PHASE: u32 = 99;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

// ---------------------------------------------------------------- echo server

/// `bench echo-server`: the floor. The same server stack as the gateway's `/ws`
/// (axum's WebSocket upgrade on tokio, with the gateway's read buffer), sending
/// every text frame straight back.
pub async fn echo_server_main() -> ExitCode {
    async fn upgrade(ws: WebSocketUpgrade) -> axum::response::Response {
        let ws = ws.read_buffer_size(livechat_gateway::ws::READ_BUFFER_BYTES);
        ws.on_upgrade(|mut socket| async move {
            while let Some(Ok(m)) = socket.recv().await {
                if let AxumMessage::Text(t) = m
                    && socket.send(AxumMessage::Text(t)).await.is_err()
                {
                    break;
                }
            }
        })
    }
    let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
        return ExitCode::FAILURE;
    };
    let Ok(addr) = listener.local_addr() else {
        return ExitCode::FAILURE;
    };
    println!("echo server on http://{addr}");
    let app = axum::Router::new().route("/ws", axum::routing::get(upgrade));
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

// ---------------------------------------------------------------- processes

/// A server process we started, and the address it printed.
struct Server {
    child: std::process::Child,
    addr: String,
}

impl Server {
    /// Starts `binary args` and waits for the stdout line with `marker` followed by
    /// `http://ADDR`.
    async fn start(
        binary: &Path,
        args: &[&str],
        env: &[(&str, String)],
        marker: &str,
    ) -> Result<Self, String> {
        let log = std::env::temp_dir().join(format!(
            "livechat-bench-{}.log",
            binary
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("server")
        ));
        let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = std::process::Command::new(binary);
        // The store is chosen by the caller, never inherited: bench.sh exports
        // DYNAMODB_ENDPOINT for the store sections, and `livechat dev` reads it.
        command
            .args(args)
            .env_remove("DYNAMODB_ENDPOINT")
            .env_remove("TABLE_NAME")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = command
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        // A thread reads stdout for the address line, then keeps draining it so
        // that the server never blocks on a full pipe.
        let (found, address) = tokio::sync::oneshot::channel();
        let marker = marker.to_string();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut found = Some(found);
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split(marker.as_str()).nth(1)
                    && let Some(addr) = rest.trim().strip_prefix("http://")
                    && let Some(tx) = found.take()
                {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(30), address).await {
            Ok(Ok(addr)) => addr,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not print its address; see {}",
                    binary.display(),
                    log.display()
                ));
            }
        };
        Ok(Self { child, addr })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a directory of `n` agents (chat limit 10, available around the clock) and
/// a two-card dialog (a message, then a round-robin live chat card) for the gateway.
fn write_directory(n: usize) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("livechat-bench-{n}-agents"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // The schedule is written out for each agent: the YAML reader limits aliases.
    let always = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .map(|d| format!("{{ day: {d}, start: \"00:00\", end: \"24:00\" }}"))
        .join(", ");
    let mut config = String::from("agents:\n");
    for i in 0..n {
        config += &format!(
            "  - id: agent-{i:03}\n    name: Agent {i}\n    email: agent-{i:03}@bench.example\n    roles: [live_agent]\n    chat_limit: 10\n    schedule: [{always}]\n"
        );
    }
    config += "settings:\n  wait_time_limit: 500\n  fallback: { kind: standard }\ndialog_file: bench-dialog.yaml\n";
    let dialog = "id: bench\nname: Bench\nstart: hello\ncards:\n  - id: hello\n    type: message\n    text: Hi!\n    next: talk\n  - id: talk\n    type: live_chat\n    routing:\n      mode: round_robin\n";
    std::fs::write(dir.join("bench-config.yaml"), config).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("bench-dialog.yaml"), dialog).map_err(|e| e.to_string())?;
    Ok(dir.join("bench-config.yaml"))
}

/// Starts `livechat dev` with `agents` agents, on its in-memory store, or on
/// DynamoDB Local at `dynamodb` (a fresh table each time).
async fn start_gateway(agents: usize, dynamodb: Option<&str>) -> Result<Server, String> {
    let config = write_directory(agents)?;
    let binary = crate::coldstart::release_dir().join("livechat");
    let mut env = vec![
        ("DIRECTORY_PATH", config.display().to_string()),
        ("RUST_LOG", "warn".into()),
    ];
    if let Some(endpoint) = dynamodb {
        env.push(("DYNAMODB_ENDPOINT", endpoint.to_string()));
        env.push(("TABLE_NAME", format!("bench-relay-{}", now_us())));
    }
    Server::start(
        &binary,
        &["dev", "--listen", "127.0.0.1:0"],
        &env,
        "livechat local gateway on",
    )
    .await
}

/// Starts `livechat dev --echo`: the gateway whose every message is posted back
/// to its sender through its own `@connections` API.
async fn start_connections_echo() -> Result<Server, String> {
    let binary = crate::coldstart::release_dir().join("livechat");
    Server::start(
        &binary,
        &["dev", "--listen", "127.0.0.1:0", "--echo"],
        &[("RUST_LOG", "warn".into())],
        "livechat local gateway on",
    )
    .await
}

async fn start_echo() -> Result<Server, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    Server::start(&me, &["echo-server"], &[], "echo server on").await
}

// ---------------------------------------------------------------- clients

/// One socket: frames out through `tx`, frames in (with their arrival, µs since
/// the epoch) through `rx`, or handed to a callback.
struct Socket {
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<(u64, Value)>,
}

async fn open(url: &str) -> Result<Socket, String> {
    let mut tries = 0;
    let ws = loop {
        match tokio_tungstenite::connect_async(url).await {
            Ok((ws, _)) => break ws,
            Err(e) if tries < 5 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = e;
            }
            Err(e) => return Err(format!("connect {url}: {e}")),
        }
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut out) = mpsc::unbounded_channel::<Message>();
    let (inbound, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(m) = out.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if let Message::Text(t) = m {
                let at = now_us();
                let v = serde_json::from_str::<Value>(t.as_str())
                    .unwrap_or(Value::String(t.to_string()));
                if inbound.send((at, v)).is_err() {
                    break;
                }
            }
        }
    });
    Ok(Socket { tx, rx })
}

impl Socket {
    fn send(&self, v: &Value) {
        let _ = self.tx.send(Message::Text(v.to_string().into()));
    }

    async fn expect(&mut self, kind: &str, wait: Duration) -> Result<Value, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((_, v))) if v["type"] == kind => return Ok(v),
                Ok(Some(_)) => {}
                Ok(None) => return Err(format!("socket closed while waiting for {kind}")),
                Err(_) => return Err(format!("no {kind} within {wait:?}")),
            }
        }
    }
}

/// A message's text: `b|phase|conversation index|n|sent µs`.
fn stamp(phase: u32, conv: usize, n: u32) -> String {
    format!("b|{phase}|{conv}|{n}|{}", now_us())
}

fn parse_stamp(text: &str) -> Option<(u32, usize, u32, u64)> {
    let mut p = text.split('|');
    (p.next()? == "b").then_some(())?;
    Some((
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
    ))
}

/// What the agents' and visitors' readers saw: per phase, latencies (ms); per
/// (direction, conversation), the message numbers in arrival order.
#[derive(Default)]
struct Seen {
    latencies: Mutex<HashMap<u32, Vec<f64>>>,
    order: Mutex<HashMap<(u8, usize), Vec<u32>>>,
    frames_in: AtomicU64,
    frames_out: AtomicU64,
}

impl Seen {
    fn record(&self, direction: u8, text: &str, arrived: u64) {
        if let Some((phase, conv, n, sent)) = parse_stamp(text) {
            let ms = arrived.saturating_sub(sent) as f64 / 1e3;
            self.latencies
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(phase)
                .or_default()
                .push(ms);
            if phase == LOAD_PHASE {
                self.order
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry((direction, conv))
                    .or_default()
                    .push(n);
            }
        }
    }

    fn count(&self, phase: u32) -> usize {
        self.latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&phase)
            .map_or(0, Vec::len)
    }

    fn take(&self, phase: u32) -> Vec<f64> {
        let mut v = self
            .latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&phase)
            .unwrap_or_default();
        v.sort_by(f64::total_cmp);
        v
    }
}

/// An agent (synced already): accepts every offer, records every visitor message and, in the
/// load phase, replies to it. Returns the number of chats it accepted when stopped.
async fn run_agent(mut socket: Socket, seen: Arc<Seen>, accepted: Arc<AtomicU64>) {
    while let Some((at, frame)) = socket.rx.recv().await {
        seen.frames_in.fetch_add(1, Ordering::Relaxed);
        match frame["type"].as_str() {
            Some("offer") => {
                socket.send(&json!({"action": "accept", "conversation": frame["conversation"]}));
                seen.frames_out.fetch_add(1, Ordering::Relaxed);
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            Some("message") => {
                let text = frame["message"]["text"].as_str().unwrap_or("");
                let id = frame["message"]["id"].as_str().unwrap_or("");
                if !id.starts_with("v-") {
                    continue;
                }
                seen.record(0, text, at);
                if let Some((LOAD_PHASE, conv, n, _)) = parse_stamp(text) {
                    socket.send(&json!({
                        "action": "send_message",
                        "conversation": frame["conversation"],
                        "id": format!("a-{conv}-{n}"),
                        "text": stamp(LOAD_PHASE, conv, n),
                    }));
                    seen.frames_out.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

/// A visitor in a chat: its socket's sender and its conversation.
struct Visitor {
    tx: mpsc::UnboundedSender<Message>,
    conversation: Value,
}

impl Visitor {
    /// Sends message `n` of conversation `conv` in `phase` as `id`, stamped now.
    fn send_stamped(&self, id: String, phase: u32, conv: usize, n: u32) {
        let frame = json!({
            "action": "send_message",
            "conversation": self.conversation,
            "id": id,
            "text": stamp(phase, conv, n),
        });
        let _ = self.tx.send(Message::Text(frame.to_string().into()));
    }
}

/// Opens a visitor socket and walks it to an accepted chat (start, then
/// `agent_joined`); the reader then records the agent's messages.
async fn visitor_in_chat(url: String, conv: usize, seen: Arc<Seen>) -> Result<Visitor, String> {
    let socket = open(&url).await?;
    visitor_start(socket, conv, seen).await
}

async fn visitor_start(
    mut socket: Socket,
    conv: usize,
    seen: Arc<Seen>,
) -> Result<Visitor, String> {
    socket.send(&json!({"action": "start"}));
    seen.frames_out.fetch_add(1, Ordering::Relaxed);
    // Every frame counts (the cost section bills them): session, cards, waiting...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut session = Value::Null;
    let mut kinds: Vec<String> = Vec::new();
    loop {
        let (_, frame) = tokio::time::timeout_at(deadline, socket.rx.recv())
            .await
            .map_err(|_| format!("visitor {conv}: no agent_joined within 120 s (got {kinds:?})"))?
            .ok_or_else(|| {
                format!("visitor {conv}: socket closed before agent_joined (got {kinds:?})")
            })?;
        seen.frames_in.fetch_add(1, Ordering::Relaxed);
        kinds.push(frame["type"].as_str().unwrap_or("?").to_string());
        match frame["type"].as_str() {
            Some("session") => session = frame,
            Some("agent_joined") => break,
            _ => {}
        }
    }
    let Socket { tx, mut rx } = socket;
    tokio::spawn(async move {
        while let Some((at, frame)) = rx.recv().await {
            seen.frames_in.fetch_add(1, Ordering::Relaxed);
            if frame["type"] == "message"
                && frame["message"]["id"]
                    .as_str()
                    .is_some_and(|i| i.starts_with("a-"))
            {
                seen.record(1, frame["message"]["text"].as_str().unwrap_or(""), at);
            }
        }
    });
    Ok(Visitor {
        tx,
        conversation: session["conversation"].clone(),
    })
}

/// Sends `messages` paced messages from each sender; `send(i, n)` sends
/// message `n` of sender `i`.
async fn paced(
    senders: usize,
    messages: u32,
    interval: Duration,
    send: impl Fn(usize, u32) + Send + Sync + 'static,
) {
    let send = Arc::new(send);
    let tasks: Vec<_> = (0..senders)
        .map(|i| {
            let send = send.clone();
            tokio::spawn(async move {
                let offset = Duration::from_micros(fastrand_u64(interval.as_micros() as u64));
                let start = tokio::time::Instant::now() + offset;
                for n in 0..messages {
                    tokio::time::sleep_until(start + interval * n).await;
                    send(i, n);
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

fn fastrand_u64(bound: u64) -> u64 {
    // A cheap spread of the first send across the interval (xorshift on the clock).
    let mut x = now_us() ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x % bound.max(1)
}

async fn wait_for(seen: &Seen, phase: u32, expected: usize, patience: Duration) {
    let deadline = Instant::now() + patience;
    while seen.count(phase) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn token(agent: &str) -> Result<String, String> {
    let issuer = livechat_core::auth::AgentTokenIssuer::hs256(
        livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
        livechat_gateway::LOCAL_ISSUER,
        livechat_gateway::LOCAL_AUDIENCE,
    );
    let id = livechat_core::domain::AgentId::parse(agent).map_err(|e| e.to_string())?;
    Ok(issuer.issue(
        &id,
        jiff::Timestamp::now(),
        jiff::SignedDuration::from_hours(24),
    ))
}

async fn connect_agents(
    addr: &str,
    n: usize,
    seen: &Arc<Seen>,
    accepted: &Arc<AtomicU64>,
) -> Result<(), String> {
    for i in 0..n {
        let mut socket = open(&format!(
            "ws://{addr}/ws?agent_token={}",
            token(&format!("agent-{i:03}"))?
        ))
        .await?;
        socket.send(&json!({"action": "sync"}));
        socket
            .expect("availability", Duration::from_secs(30))
            .await?;
        tokio::spawn(run_agent(socket, seen.clone(), accepted.clone()));
    }
    Ok(())
}

/// Starts chats for `convs` (visitor indexes) `batch` at a time.
async fn start_chats(
    url: &str,
    convs: std::ops::Range<usize>,
    sockets: &mut HashMap<usize, Socket>,
    seen: &Arc<Seen>,
    batch: usize,
) -> Result<Vec<(usize, Visitor)>, String> {
    let mut out = Vec::new();
    let all: Vec<usize> = convs.collect();
    for chunk in all.chunks(batch) {
        let started = futures_util::future::join_all(chunk.iter().map(|&i| {
            let seen = seen.clone();
            let socket = sockets.remove(&i);
            let url = url.to_string();
            async move {
                let v = match socket {
                    Some(s) => visitor_start(s, i, seen).await,
                    None => visitor_in_chat(url, i, seen).await,
                };
                v.map(|v| (i, v))
            }
        }))
        .await;
        for v in started {
            out.push(v?);
        }
    }
    Ok(out)
}

fn lat(v: &[f64]) -> String {
    format!(
        "p50 {:.1} / p99 {:.1} / max {:.1} ms",
        percentile(v, 50.0),
        percentile(v, 99.0),
        percentile(v, 100.0)
    )
}

/// Sections 2 and 5.
pub async fn run(
    endpoint: &str,
    relay: bool,
    load: bool,
    measured: &mut Measured,
    progress: &dyn Fn(String),
) -> Result<Vec<Row>, String> {
    epoch();
    let mut rows = Vec::new();
    if relay {
        match relay_latency(progress, endpoint).await {
            Ok(r) => rows.extend(r),
            Err(e) => {
                progress(format!("2 relay latency FAILED: {e}"));
                rows.push(Row::new("2 relay latency", "FAILED", e, "-", "-"));
            }
        }
    }
    if load {
        match load_test(progress).await {
            Ok((r, facts)) => {
                rows.extend(r);
                measured.load = Some(facts);
            }
            Err(e) => {
                progress(format!("5 load FAILED: {e}"));
                rows.push(Row::new("5 load", "FAILED", e, "-", "-"));
            }
        }
    }
    Ok(rows)
}

/// One gateway run of section 2: its store, its agents, the concurrency levels.
struct RelayRun {
    dynamodb: Option<String>,
    agents: usize,
    levels: &'static [usize],
}

/// Sockets to an echo server, each recording the stamped texts that come back.
struct EchoClients {
    tx: Arc<Vec<mpsc::UnboundedSender<Message>>>,
    seen: Arc<Seen>,
}

impl EchoClients {
    async fn open(addr: &str, n: usize) -> Result<Self, String> {
        let seen = Arc::new(Seen::default());
        let mut tx = Vec::new();
        for _ in 0..n {
            let Socket { tx: out, mut rx } = open(&format!("ws://{addr}/ws")).await?;
            let seen = seen.clone();
            tokio::spawn(async move {
                while let Some((at, v)) = rx.recv().await {
                    if let Value::String(t) = v {
                        seen.record(0, &t, at);
                    }
                }
            });
            tx.push(out);
        }
        Ok(Self {
            tx: Arc::new(tx),
            seen,
        })
    }

    /// `n` sockets send [`MESSAGES`] each at the relay's pace; the latencies.
    async fn measure(&self, phase: u32, n: usize) -> Vec<f64> {
        let tx = self.tx.clone();
        paced(n, MESSAGES, INTERVAL, move |i, k| {
            let _ = tx[i].send(Message::Text(stamp(phase, i, k).into()));
        })
        .await;
        let expected = n * MESSAGES as usize;
        wait_for(&self.seen, phase, expected, Duration::from_secs(30)).await;
        self.seen.take(phase)
    }
}

async fn relay_latency(progress: &dyn Fn(String), endpoint: &str) -> Result<Vec<Row>, String> {
    progress("2 relay: starting the echo server and the @connections echo gateway".into());
    let echo = start_echo().await?;
    let top = *LEVELS.iter().max().unwrap_or(&1);
    let bare = EchoClients::open(&echo.addr, top).await?;
    // The floor: the same gateway, every message answered by one @connections POST
    // (`livechat dev --echo`), which every relay through API Gateway pays.
    let connections_echo = start_connections_echo().await?;
    let floor_clients = EchoClients::open(&connections_echo.addr, top).await?;
    let runs = [
        RelayRun {
            dynamodb: None,
            agents: RELAY_AGENTS,
            levels: &LEVELS,
        },
        RelayRun {
            dynamodb: Some(endpoint.to_string()),
            agents: DYNAMODB_RELAY_AGENTS,
            levels: &DYNAMODB_LEVELS,
        },
    ];
    let mut rows = Vec::new();
    let mut phase = 0u32;
    for run in runs {
        let store = match run.dynamodb {
            None => "in-memory store",
            Some(_) => "DynamoDB Local",
        };
        progress(format!(
            "2 relay: starting the gateway on its {store} ({} agents)",
            run.agents
        ));
        let gateway = start_gateway(run.agents, run.dynamodb.as_deref()).await?;
        let seen = Arc::new(Seen::default());
        let accepted = Arc::new(AtomicU64::new(0));
        connect_agents(&gateway.addr, run.agents, &seen, &accepted).await?;
        let most = *run.levels.iter().max().unwrap_or(&1);
        progress(format!(
            "2 relay: {most} visitors walk the dialog to an accepted chat"
        ));
        let url = format!("ws://{}/ws", gateway.addr);
        let mut none = HashMap::new();
        let visitors: Arc<Vec<(usize, Visitor)>> =
            Arc::new(start_chats(&url, 0..most, &mut none, &seen, 50).await?);
        for &n in run.levels {
            phase += 1;
            let expected = n * MESSAGES as usize;
            progress(format!(
                "2 relay: {n} concurrent conversations, the floors ({expected} messages each)"
            ));
            let bare_echo = bare.measure(phase, n).await;
            let floor = floor_clients.measure(phase, n).await;
            progress(format!(
                "2 relay: {n} concurrent conversations, visitor -> agent through the gateway ({store})"
            ));
            let v = visitors.clone();
            paced(n, MESSAGES, INTERVAL, move |i, k| {
                let (conv, visitor) = &v[i];
                visitor.send_stamped(format!("v-{phase}-{conv}-{k}"), phase, *conv, k);
            })
            .await;
            wait_for(&seen, phase, expected, Duration::from_secs(60)).await;
            let ours = seen.take(phase);
            rows.push(Row::new(
                "2 relay latency",
                format!(
                    "visitor -> agent, {n} concurrent conversation{}, {store} ({} received of {expected})",
                    if n == 1 { "" } else { "s" },
                    ours.len()
                ),
                lat(&ours),
                format!(
                    "floor, echo through one @connections POST: {} ({} of {expected}); bare WebSocket echo: {}",
                    lat(&floor),
                    floor.len(),
                    lat(&bare_echo)
                ),
                format!(
                    "p50 {}, p99 {} of the floor",
                    ratio(percentile(&ours, 50.0), percentile(&floor, 50.0)),
                    ratio(percentile(&ours, 99.0), percentile(&floor, 99.0))
                ),
            ));
        }
        if run.dynamodb.is_none() {
            let (gw_rss, echo_rss) = (
                vm_bytes(gateway.pid(), "VmHWM"),
                vm_bytes(echo.pid(), "VmHWM"),
            );
            rows.push(Row::new(
                "2 relay latency",
                format!(
                    "server peak RSS holding {} sockets, in-memory store",
                    most + run.agents
                ),
                gw_rss.map_or("-".into(), mb),
                format!(
                    "echo server holding {top}: {}",
                    echo_rss.map_or("-".into(), mb)
                ),
                match (gw_rss, echo_rss) {
                    (Some(a), Some(b)) => ratio(a as f64, b as f64),
                    _ => "-".into(),
                },
            ));
        }
        gateway.stop().await;
    }
    echo.stop().await;
    connections_echo.stop().await;
    Ok(rows)
}

async fn load_test(progress: &dyn Fn(String)) -> Result<(Vec<Row>, LoadFacts), String> {
    progress(format!(
        "5 load: gateway with {LOAD_AGENTS} agents; {LOAD_VISITORS} visitor sockets"
    ));
    let gateway = start_gateway(LOAD_AGENTS, None).await?;
    let seen = Arc::new(Seen::default());
    let accepted = Arc::new(AtomicU64::new(0));
    connect_agents(&gateway.addr, LOAD_AGENTS, &seen, &accepted).await?;
    let url = format!("ws://{}/ws", gateway.addr);
    let mut sockets = HashMap::new();
    for i in 0..LOAD_VISITORS {
        sockets.insert(i, open(&url).await?);
    }
    let started = Instant::now();
    let wave = LOAD_AGENTS * 10;
    let mut chats = 0;
    let mut first = 0;
    while first < LOAD_VISITORS {
        let last = (first + wave).min(LOAD_VISITORS);
        progress(format!(
            "5 load: visitors {first}..{last} start their chats ({} sockets open)",
            sockets.len() + chats + LOAD_AGENTS
        ));
        let visitors = Arc::new(start_chats(&url, first..last, &mut sockets, &seen, 50).await?);
        chats += visitors.len();
        progress(format!(
            "5 load: {} chats, {LOAD_MESSAGES} messages each way, one every {LOAD_INTERVAL:?}",
            visitors.len()
        ));
        let before = seen.count(LOAD_PHASE);
        let v = visitors.clone();
        paced(visitors.len(), LOAD_MESSAGES, LOAD_INTERVAL, move |i, k| {
            let (conv, visitor) = &v[i];
            visitor.send_stamped(format!("v-{conv}-{k}"), LOAD_PHASE, *conv, k);
        })
        .await;
        let expected = before + 2 * visitors.len() * LOAD_MESSAGES as usize;
        wait_for(&seen, LOAD_PHASE, expected, Duration::from_secs(120)).await;
        for (_, v) in visitors.iter() {
            // The visitor ends the chat (as closing the chat does), freeing the agent.
            let _ = v.tx.send(Message::Text(
                json!({"action": "end_chat"}).to_string().into(),
            ));
            seen.frames_out.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        first = last;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rss_peak = vm_bytes(gateway.pid(), "VmHWM").unwrap_or(0);
    let rss_now = vm_bytes(gateway.pid(), "VmRSS").unwrap_or(0);
    let latencies = seen.take(LOAD_PHASE);
    let order = seen.order.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut lost = 0usize;
    let mut out_of_order = 0usize;
    for direction in [0u8, 1] {
        for conv in 0..LOAD_VISITORS {
            let got = order.get(&(direction, conv)).cloned().unwrap_or_default();
            let mut distinct = got.clone();
            distinct.sort_unstable();
            distinct.dedup();
            lost += LOAD_MESSAGES as usize - distinct.len().min(LOAD_MESSAGES as usize);
            out_of_order += got.windows(2).filter(|w| w[1] < w[0]).count();
        }
    }
    let sent = 2 * LOAD_VISITORS * LOAD_MESSAGES as usize;
    gateway.stop().await;
    let s = "5 load";
    let facts = LoadFacts {
        chats,
        frames_in: seen.frames_in.load(Ordering::Relaxed),
        frames_out: seen.frames_out.load(Ordering::Relaxed) + (sent / 2) as u64,
    };
    let rows = vec![
        Row::new(
            s,
            format!(
                "{LOAD_VISITORS} visitors, {LOAD_AGENTS} agents, {LOAD_MESSAGES} messages each way per chat: lost (not received within 120 s)"
            ),
            format!("{lost} of {sent}"),
            "must be 0",
            if lost == 0 { "ok" } else { "FAILED" },
        ),
        Row::new(
            s,
            "out of order",
            format!("{out_of_order}"),
            "must be 0",
            if out_of_order == 0 { "ok" } else { "FAILED" },
        ),
        Row::new(
            s,
            "message latency, both directions",
            lat(&latencies),
            "relay at 1,000 conversations: see section 2",
            format!(
                "{chats} chats in {elapsed:.0} s ({:.0} messages/s)",
                latencies.len() as f64 / elapsed
            ),
        ),
        Row::new(
            s,
            format!(
                "gateway memory with {} sockets: peak RSS (RSS at end)",
                LOAD_VISITORS + LOAD_AGENTS
            ),
            format!("{} ({})", mb(rss_peak), mb(rss_now)),
            "-",
            "one process: gateway, functions, in-memory store",
        ),
    ];
    Ok((rows, facts))
}
