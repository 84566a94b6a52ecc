//! Store cost and routing contention on DynamoDB Local, each beside a reference run
//! on the same DynamoDB Local: the AWS sample chat app's Scan of a 1,000-connection
//! table per message, and a naive read-then-write round-robin cursor.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ReturnConsumedCapacity, ScalarAttributeType,
};
use livechat_aws::dynamo::counting::RequestCounter;
use livechat_core::domain::{
    Attributes, ConnectionId, Conversation, ConversationId, DialogId, RoutingMode, VisitorId,
};
use livechat_core::memory::{ManualClock, MemoryNotifier, MemoryPush, MemoryScheduler};
use livechat_core::ports::{ConnectionRecord, DirectoryStore, Party, Ports, Store};
use livechat_core::routing::{Directory, RouteError, RouteOutcome, Router};
use livechat_tests::dynamodb::{client, fresh_store};
use livechat_tests::{agents, test_now};
use serde_json::json;

use crate::cost::Measured;
use crate::report::{Row, percentile, ratio};

/// Sections 3 and 4.
pub async fn run(
    endpoint: &str,
    counts: bool,
    contention: bool,
    rows: &mut Vec<Row>,
    measured: &mut Measured,
    progress: &dyn Fn(String),
) -> Result<(), String> {
    if counts {
        progress("3 store cost: requests per use case on DynamoDB Local".into());
        let ours = use_case_counts(endpoint).await?;
        progress("3 store cost: the sample app's Scan of 1,000 connections per message".into());
        let scan = sample_app_scan(endpoint, 1000, 20).await?;
        let s = "3 store cost";
        rows.push(Row::new(
            s,
            format!(
                "DynamoDB requests per relayed message (mean of {} messages)",
                ours.relay_samples
            ),
            format!("{:.2} ({:.1} ms median)", ours.per_message, ours.message_ms),
            format!(
                "sample app: {:.2} Scan requests, {:.1} RCU, {:.1} ms median (1,000 connections)",
                scan.requests, scan.rcu, scan.ms
            ),
            format!(
                "{} the requests, {} the time; a Scan grows with the connections, ours does not",
                ratio(ours.per_message, scan.requests),
                ratio(ours.message_ms, scan.ms)
            ),
        ));
        rows.push(Row::new(
            s,
            "DynamoDB requests per routing decision (offer)",
            format!("{}", ours.per_route),
            "naive cursor: 2 (GetItem + PutItem, no capacity check)",
            ratio(ours.per_route as f64, 2.0),
        ));
        rows.push(Row::new(
            s,
            "DynamoDB requests per dialog step (answer a question card)",
            format!("{} (visitor start: {})", ours.per_step, ours.per_start),
            "sample app: no dialog",
            "-",
        ));
        rows.push(Row::new(
            s,
            "requests by operation, one relayed message",
            format!("{:?}", ours.relay_ops),
            format!(
                "sample app: {{\"Scan\": {:.0}}} + 1 PostToConnection per connection",
                scan.requests
            ),
            "-",
        ));
        measured.store = Some(ours);
        measured.scan = Some(scan);
    }
    if contention {
        // One run on a shared 2-core machine varies: three of each, interleaved,
        // and the median run of each is reported.
        let mut ours = Vec::new();
        let mut alone = Vec::new();
        for run in 1..=CONTENTION_RUNS {
            progress(format!(
                "4 routing contention: run {run} of {CONTENTION_RUNS}, 1,000 requests, {IN_FLIGHT} in flight"
            ));
            ours.push(contended_routing(endpoint, 1000, 100, IN_FLIGHT).await?);
            progress(format!(
                "4 routing contention: run {run} of {CONTENTION_RUNS}, {ALONE_REQUESTS} requests one at a time"
            ));
            alone.push(contended_routing(endpoint, ALONE_REQUESTS, 100, 1).await?);
        }
        progress("4 routing contention: the naive read-then-write cursor".into());
        let naive = naive_cursor(endpoint, 1000, 100).await?;
        let rates = |runs: &[Contention]| {
            runs.iter()
                .map(|r| format!("{:.0}", r.rate))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (ours_rates, alone_rates) = (rates(&ours), rates(&alone));
        let ours_median = median_run(&mut ours)?;
        let alone_median = median_run(&mut alone)?;
        let s = "4 routing contention";
        rows.push(Row::new(
            s,
            format!(
                "1,000 concurrent routing requests, 100 agents, {IN_FLIGHT} in flight: decisions/s (median of {CONTENTION_RUNS} runs)"
            ),
            format!("{:.0}/s (runs: {ours_rates})", ours_median.rate),
            format!(
                "the same engine one request at a time: {:.0}/s (runs: {alone_rates}; {ALONE_REQUESTS} requests); naive cursor {:.0}/s",
                alone_median.rate, naive.rate
            ),
            format!(
                "{:.0}% of one at a time (goal >= 50%)",
                100.0 * ours_median.rate / alone_median.rate
            ),
        ));
        let worst_spread = ours.iter().map(|r| r.max - r.min).max().unwrap_or(0);
        rows.push(Row::new(
            s,
            "fairness: max-min chats per agent (ideal 0), worst run",
            format!(
                "{worst_spread} ({}..{} in the median run)",
                ours_median.min, ours_median.max
            ),
            format!(
                "naive {} ({}..{})",
                naive.max - naive.min,
                naive.min,
                naive.max
            ),
            "product rule: at most 1",
        ));
        rows.push(Row::new(
            s,
            "double assignments (two requests given the same \"next\" agent), all runs",
            format!("{}", ours.iter().map(|r| r.doubles).sum::<usize>()),
            format!("naive {}", naive.doubles),
            "must be 0",
        ));
        rows.push(Row::new(
            s,
            "lost races retried per decision / requests delivered again / DynamoDB requests per decision (median run)",
            format!(
                "{:.2} ({} for 1,000) / {} / {:.1}",
                ours_median.conflicts as f64 / 1000.0,
                ours_median.conflicts,
                ours_median.redelivered,
                ours_median.requests_per_decision
            ),
            format!(
                "one at a time: {:.2} / {} / {:.1}; naive: none detected / 0 / {:.1}",
                alone_median.conflicts as f64 / ALONE_REQUESTS as f64,
                alone_median.redelivered,
                alone_median.requests_per_decision,
                naive.requests_per_decision
            ),
            "goal <= 1 lost race per decision; waiting for a turn reads, it does not write",
        ));
        measured.routing_requests = Some(ours_median.requests_per_decision);
    }
    Ok(())
}

/// What the use cases cost.
#[derive(Debug, Clone)]
pub struct UseCases {
    /// Requests per relayed message (mean).
    pub per_message: f64,
    /// Median time to relay one message on DynamoDB Local, ms.
    pub message_ms: f64,
    /// Messages relayed for the mean.
    pub relay_samples: usize,
    /// Requests by operation for one message.
    pub relay_ops: BTreeMap<String, u64>,
    /// Requests of one routing decision.
    pub per_route: u64,
    /// Requests of one dialog step (an answer).
    pub per_step: u64,
    /// Requests of the visitor's `start`.
    pub per_start: u64,
    /// Requests of a whole chat as measured: connects, dialog, routing, accept,
    /// by operation (for the cost section).
    pub chat_setup: BTreeMap<String, u64>,
    /// Write request units of that chat as the requests themselves count them
    /// (`RequestCounter::write_units`).
    pub setup_write_units: u64,
    /// Write request units per relayed message, averaged.
    pub message_write_units: f64,
    /// Requests per message by operation, averaged.
    pub message_ops: BTreeMap<String, f64>,
}

fn merge(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k).or_default() += v;
    }
}

/// Walks one chat on DynamoDB Local, as `tests/tests/store_dynamodb.rs` does, and
/// counts the requests of each step; then relays `n` messages each way.
async fn use_case_counts(endpoint: &str) -> Result<UseCases, String> {
    let (store, counter) = fresh_store(endpoint).await;
    let mut directory = livechat_core::demo::directory().map_err(|e| e.to_string())?;
    // The relay below sends its 100 messages back to back: with the demo's message
    // rate limits (20 per connection per 10 s) most would be refused, and a refusal
    // makes no write, which would understate a message's cost.
    let many = livechat_core::domain::Rate::new(10_000, 10);
    directory.settings.rate_limits.messages_per_connection = many;
    directory.settings.rate_limits.messages_per_visitor = many;
    store
        .put_directory(&directory)
        .await
        .map_err(|e| e.to_string())?;
    let (chat, push, scheduler) = livechat_tests::chat_on(Arc::new(store));
    let issuer = livechat_core::auth::AgentTokenIssuer::hs256(
        livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
        livechat_gateway::LOCAL_ISSUER,
        livechat_gateway::LOCAL_AUDIENCE,
    );
    let ana = ConnectionId::parse("ana-tab=").map_err(|e| e.to_string())?;
    let visitor = ConnectionId::parse("visitor-tab=").map_err(|e| e.to_string())?;
    push.open(&ana);
    push.open(&visitor);
    let token = issuer.issue(
        &livechat_core::domain::AgentId::parse("ana").map_err(|e| e.to_string())?,
        jiff::Timestamp::now(),
        jiff::SignedDuration::from_hours(1),
    );
    let mut setup = BTreeMap::new();
    let setup_units = std::cell::Cell::new(0);
    let take = |counter: &RequestCounter, setup: &mut BTreeMap<String, u64>| {
        let counts = counter.counts();
        setup_units.set(setup_units.get() + counter.write_units());
        counter.reset();
        let total = counts.values().sum::<u64>();
        merge(setup, counts.clone());
        (total, counts)
    };
    counter.reset();
    chat.connect(
        &ana,
        &HashMap::from([("agent_token".to_string(), token)]),
        None,
    )
    .await
    .map_err(|e| format!("agent connect: {e:?}"))?;
    chat.connect(&visitor, &HashMap::new(), None)
        .await
        .map_err(|e| format!("visitor connect: {e:?}"))?;
    take(&counter, &mut setup);
    chat.message(&visitor, &json!({"action": "start"}).to_string())
        .await;
    let (per_start, _) = take(&counter, &mut setup);
    chat.message(
        &visitor,
        &json!({"action": "answer", "card": "ask", "answer": 0}).to_string(),
    )
    .await;
    let (per_step, _) = take(&counter, &mut setup);
    for (card, value) in [("first_name", "Jo"), ("email", "jo@x.example")] {
        chat.message(
            &visitor,
            &json!({"action": "submit", "card": card, "value": value}).to_string(),
        )
        .await;
    }
    take(&counter, &mut setup);
    for event in scheduler.take_due(jiff::Timestamp::now()) {
        chat.delayed(event)
            .await
            .map_err(|e| format!("route: {e:?}"))?;
    }
    let (per_route, _) = take(&counter, &mut setup);
    let offer = push
        .take(&ana)
        .into_iter()
        .find(|f| f.contains("\"offer\""))
        .ok_or("the agent was not offered the chat")?;
    let conversation = serde_json::from_str::<serde_json::Value>(&offer)
        .map_err(|e| e.to_string())?["conversation"]
        .clone();
    chat.message(
        &ana,
        &json!({"action": "accept", "conversation": conversation}).to_string(),
    )
    .await;
    take(&counter, &mut setup);

    let n = 100;
    let mut ms = Vec::new();
    let mut ops: BTreeMap<String, u64> = BTreeMap::new();
    let mut relay_ops = BTreeMap::new();
    let mut write_units = 0;
    for i in 0..n {
        let (from, body) = if i % 2 == 0 {
            (
                &visitor,
                json!({"action": "send_message", "conversation": conversation, "id": format!("v{i}"), "text": "hello"}),
            )
        } else {
            (
                &ana,
                json!({"action": "send_message", "conversation": conversation, "id": format!("a{i}"), "text": "hi"}),
            )
        };
        let started = Instant::now();
        chat.message(from, &body.to_string()).await;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        let counts = counter.counts();
        write_units += counter.write_units();
        counter.reset();
        if i == 0 {
            relay_ops = counts.clone();
        }
        merge(&mut ops, counts);
        // Every message must have been relayed: the other side got it.
        let to = if i % 2 == 0 { &ana } else { &visitor };
        if !push.take(to).iter().any(|f| f.contains("\"message\"")) {
            return Err(format!("message {i} was not relayed"));
        }
        push.take(from);
    }
    ms.sort_by(f64::total_cmp);
    let total: u64 = ops.values().sum();
    Ok(UseCases {
        per_message: total as f64 / n as f64,
        message_ms: percentile(&ms, 50.0),
        relay_samples: n,
        relay_ops,
        per_route,
        per_step,
        per_start,
        chat_setup: setup,
        setup_write_units: setup_units.get(),
        message_write_units: write_units as f64 / n as f64,
        message_ops: ops
            .into_iter()
            .map(|(k, v)| (k, v as f64 / n as f64))
            .collect(),
    })
}

/// The sample app's cost per message.
#[derive(Debug, Clone, Copy)]
pub struct ScanCost {
    /// Scan requests (pages) per message.
    pub requests: f64,
    /// Read capacity units per message, as DynamoDB Local reports them.
    pub rcu: f64,
    /// Median time of the scan, ms.
    pub ms: f64,
}

/// The AWS sample chat app (`simple-websockets-chat-app`): a table of connection
/// ids, scanned in full for every message to post it to each connection.
async fn sample_app_scan(
    endpoint: &str,
    connections: usize,
    messages: usize,
) -> Result<ScanCost, String> {
    let (client, counter) = client(endpoint);
    let table = format!(
        "bench-sample-{}",
        livechat_core::domain::new_ulid().to_lowercase()
    );
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("connectionId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("connectionId")
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("create {table}: {e}"))?;
    let puts = futures_util::future::join_all((0..connections).map(|i| {
        client
            .put_item()
            .table_name(&table)
            // API Gateway connection ids are 16 characters such as `Jf3bYdu1IAMCJdw=`.
            .item("connectionId", AttributeValue::S(format!("conn{i:011}=")))
            .send()
    }))
    .await;
    if let Some(Err(e)) = puts.into_iter().find(Result::is_err) {
        return Err(format!("fill {table}: {e}"));
    }
    counter.reset();
    let mut ms = Vec::new();
    let mut rcu = 0.0;
    for _ in 0..messages {
        let started = Instant::now();
        let mut start_key = None;
        let mut seen = 0;
        loop {
            let page = client
                .scan()
                .table_name(&table)
                .projection_expression("connectionId")
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| format!("scan: {e}"))?;
            seen += page.items().len();
            rcu += page
                .consumed_capacity()
                .and_then(|c| c.capacity_units())
                .unwrap_or(0.0);
            start_key = page.last_evaluated_key().cloned();
            if start_key.is_none() {
                break;
            }
        }
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        if seen != connections {
            return Err(format!("scan saw {seen} of {connections} connections"));
        }
    }
    ms.sort_by(f64::total_cmp);
    Ok(ScanCost {
        requests: counter.total() as f64 / messages as f64,
        rcu: rcu / messages as f64,
        ms: percentile(&ms, 50.0),
    })
}

/// Requests in flight at once in the contention runs (ours and the naive one): all
/// 1,000 are submitted together, as a burst of Lambda invocations would be, but one
/// Java DynamoDB Local on this machine times out (8 s) under 1,000 open requests.
const IN_FLIGHT: usize = 50;
/// Runs of each contention measurement; the median run is reported.
const CONTENTION_RUNS: usize = 3;
/// Requests of the one-at-a-time reference run (its rate does not depend on how
/// many; fewer keep the section short).
const ALONE_REQUESTS: usize = 200;

/// The run with the median rate (sorts `runs` by rate).
fn median_run(runs: &mut [Contention]) -> Result<Contention, String> {
    runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    runs.get(runs.len() / 2)
        .cloned()
        .ok_or_else(|| "no contention run".to_string())
}

/// A contention run's outcome.
#[derive(Clone)]
struct Contention {
    rate: f64,
    min: usize,
    max: usize,
    doubles: usize,
    conflicts: u64,
    redelivered: u64,
    requests_per_decision: f64,
}

/// Our routing: `requests` round-robin requests on one cursor over `n_agents`
/// agents (chat limit 10, so capacity never runs out), on DynamoDB Local, with
/// `in_flight` of them at once (1: one request at a time, the reference).
async fn contended_routing(
    endpoint: &str,
    requests: usize,
    n_agents: usize,
    in_flight: usize,
) -> Result<Contention, String> {
    let (store, counter) = fresh_store(endpoint).await;
    let store: Arc<dyn Store> = Arc::new(store);
    let directory = Directory {
        agents: agents(n_agents, 10),
        ..Directory::default()
    };
    store
        .put_directory(&directory)
        .await
        .map_err(|e| e.to_string())?;
    for a in &directory.agents {
        let record = ConnectionRecord {
            id: ConnectionId::parse(format!("conn-{}", a.id)).map_err(|e| e.to_string())?,
            party: Party::Agent {
                agent: a.id.clone(),
            },
            connected_at: test_now(),
            expires_at: test_now() + jiff::SignedDuration::from_hours(2),
            authorized_until: None,
        };
        store
            .put_connection(&record)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut conversations = Vec::new();
    for chunk in (0..requests).collect::<Vec<_>>().chunks(50) {
        let made = futures_util::future::join_all(chunk.iter().map(|_| {
            let store = store.clone();
            async move {
                let mut c = Conversation::new(
                    ConversationId::generate(),
                    VisitorId::generate(),
                    DialogId::parse("sales").map_err(|e| e.to_string())?,
                    test_now(),
                );
                c.request_live_chat(test_now()).map_err(|e| e.to_string())?;
                store
                    .create_conversation(&c)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(c.id().clone())
            }
        }))
        .await;
        for c in made {
            conversations.push(c?);
        }
    }
    let ports = Ports {
        store: store.clone(),
        push: Arc::new(MemoryPush::new()),
        scheduler: Arc::new(MemoryScheduler::new()),
        clock: Arc::new(ManualClock::new(test_now())),
        notifier: Arc::new(MemoryNotifier::new()),
    };
    let router = Arc::new(Router::new(ports));
    let redelivered = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    counter.reset();
    let started = Instant::now();
    let tasks: Vec<_> = conversations
        .iter()
        .cloned()
        .map(|c| {
            let (router, redelivered, gate) = (router.clone(), redelivered.clone(), gate.clone());
            tokio::spawn(async move {
                let _slot = gate.acquire().await;
                // A request whose every attempt lost a race (or whose store call
                // timed out) fails as a Lambda invocation would, and SQS delivers
                // it again.
                let mut deliveries = 0;
                loop {
                    deliveries += 1;
                    match router
                        .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
                        .await
                    {
                        Err(RouteError::Contention { .. } | RouteError::Store(_))
                            if deliveries < 20 =>
                        {
                            redelivered.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(RouteOutcome::Offered { agent, .. }) => return Ok(agent.to_string()),
                        other => return Err(format!("{c} not offered: {other:?}")),
                    }
                }
            })
        })
        .collect();
    let mut per_agent = BTreeMap::<String, usize>::new();
    for t in tasks {
        let agent = t.await.map_err(|e| e.to_string())??;
        *per_agent.entry(agent).or_default() += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests_per_decision = counter.total() as f64 / requests as f64;
    let mut doubles = 0;
    for c in &conversations {
        let stored = store
            .conversation(c)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("conversation vanished")?;
        doubles += stored.offered_to().len().saturating_sub(1);
    }
    let counts: Vec<usize> = directory
        .agents
        .iter()
        .map(|a| per_agent.get(a.id.as_str()).copied().unwrap_or(0))
        .collect();
    Ok(Contention {
        rate: requests as f64 / elapsed,
        min: counts.iter().copied().min().unwrap_or(0),
        max: counts.iter().copied().max().unwrap_or(0),
        doubles,
        conflicts: router.conflicts_retried(),
        redelivered: redelivered.load(Ordering::Relaxed),
        requests_per_decision,
    })
}

/// The naive cursor: read the cursor item, pick the agent after it, write the cursor
/// back unconditionally. Concurrent requests that read the same version pick the
/// same agent: a double assignment.
async fn naive_cursor(
    endpoint: &str,
    requests: usize,
    n_agents: usize,
) -> Result<Contention, String> {
    let (client, counter) = client(endpoint);
    let table = format!(
        "bench-naive-{}",
        livechat_core::domain::new_ulid().to_lowercase()
    );
    livechat_aws::dynamo::table::create(&client, &table)
        .await
        .map_err(|e| format!("create {table}: {e}"))?;
    let key = |name: &str| AttributeValue::S(name.to_string());
    client
        .put_item()
        .table_name(&table)
        .item("pk", key("cursor#all"))
        .item("sk", key("cursor"))
        .item("v", AttributeValue::N("0".into()))
        .send()
        .await
        .map_err(|e| format!("put cursor: {e}"))?;
    counter.reset();
    let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let tasks: Vec<_> = (0..requests)
        .map(|_| {
            let (client, table, gate) = (client.clone(), table.clone(), gate.clone());
            tokio::spawn(async move {
                let _slot = gate.acquire().await;
                let got = client
                    .get_item()
                    .table_name(&table)
                    .key("pk", AttributeValue::S("cursor#all".into()))
                    .key("sk", AttributeValue::S("cursor".into()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| format!("get cursor: {e}"))?;
                let v: u64 = got
                    .item()
                    .and_then(|i| i.get("v"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                client
                    .put_item()
                    .table_name(&table)
                    .item("pk", AttributeValue::S("cursor#all".into()))
                    .item("sk", AttributeValue::S("cursor".into()))
                    .item("v", AttributeValue::N((v + 1).to_string()))
                    .send()
                    .await
                    .map_err(|e| format!("put cursor: {e}"))?;
                Ok::<u64, String>(v)
            })
        })
        .collect();
    let mut versions = BTreeMap::<u64, usize>::new();
    let mut per_agent = vec![0usize; n_agents];
    for t in tasks {
        let v = t.await.map_err(|e| e.to_string())??;
        *versions.entry(v).or_default() += 1;
        per_agent[(v as usize) % n_agents] += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Contention {
        rate: requests as f64 / elapsed,
        min: per_agent.iter().copied().min().unwrap_or(0),
        max: per_agent.iter().copied().max().unwrap_or(0),
        doubles: versions.values().map(|n| n - 1).sum(),
        conflicts: 0,
        redelivered: 0,
        requests_per_decision: counter.total() as f64 / requests as f64,
    })
}
