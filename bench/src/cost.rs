//! Cost per 1,000 chats on AWS, computed from what the other sections measured
//! (DynamoDB requests per use case, API Gateway frames per chat, function init and
//! handler durations) with the public prices below. Beside it: the same chats with
//! the AWS sample chat app's store design (a Scan of the connections table for every
//! message).

use std::collections::BTreeMap;

use crate::coldstart::ColdStart;
use crate::report::{Row, ratio};
use crate::store::{ScanCost, UseCases};

/// Public prices, us-east-1, from the AWS pricing pages (lambda/pricing,
/// api-gateway/pricing, dynamodb/pricing/on-demand, sqs/pricing) as of 2025-2026;
/// free tiers ignored. The bench has no internet access to re-check them.
mod price {
    /// Lambda, arm64, per GB-second.
    pub const LAMBDA_GB_S: f64 = 0.000_013_333_4;
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// API Gateway WebSocket, per message (32 KB increments, either direction).
    pub const WS_MESSAGE: f64 = 1.00 / 1e6;
    /// API Gateway WebSocket, per connection minute.
    pub const WS_CONNECTION_MINUTE: f64 = 0.25 / 1e6;
    /// DynamoDB on demand, per write request unit.
    pub const DDB_WRU: f64 = 0.625 / 1e6;
    /// DynamoDB on demand, per read request unit.
    pub const DDB_RRU: f64 = 0.125 / 1e6;
    /// SQS standard queue, per request.
    pub const SQS_REQUEST: f64 = 0.40 / 1e6;
}

/// Assumptions about one chat.
mod chat {
    /// Relayed messages: 20 from the visitor, 20 from the agent.
    pub const MESSAGES: f64 = 40.0;
    /// Minutes the visitor's socket is open.
    pub const VISITOR_MINUTES: f64 = 10.0;
    /// Invocations: $connect + $disconnect, 4 dialog steps (start, answer, two
    /// submits), 3 routing events (route, offer timeout, inactivity check), accept +
    /// 40 messages + end.
    pub const INVOCATIONS: f64 = 2.0 + 4.0 + 3.0 + 1.0 + MESSAGES + 1.0;
    /// SQS messages (the 3 routing events), 3 requests each (send, receive, delete).
    pub const SQS_REQUESTS: f64 = 3.0 * 3.0;
    /// The functions' memory (infra/template.yaml), GB.
    pub const MEMORY_GB: f64 = 0.25;
    /// Share of invocations that start cold.
    pub const COLD_SHARE: f64 = 0.01;
}

/// The floor a chat cannot go below, whatever the implementation.
mod floor {
    /// API Gateway messages per relayed message: in, out to its recipient, its ack.
    pub const FRAMES_PER_MESSAGE: f64 = 3.0;
}

/// What the load test counted.
#[derive(Debug, Clone, Copy)]
pub struct LoadFacts {
    /// Chats run.
    pub chats: usize,
    /// Frames the server sent to clients.
    pub frames_in: u64,
    /// Frames clients sent.
    pub frames_out: u64,
}

/// What the sections measured, for this one.
#[derive(Default)]
pub struct Measured {
    /// Section 1.
    pub cold: Option<ColdStart>,
    /// Section 3.
    pub store: Option<UseCases>,
    /// Section 3's reference.
    pub scan: Option<ScanCost>,
    /// Section 4: DynamoDB requests per routing decision under contention.
    pub routing_requests: Option<f64>,
    /// Section 5.
    pub load: Option<LoadFacts>,
}

/// Read request units of `ops` (requests by operation). Items are small (reads
/// under 4 KB): a read is 1 RRU (strongly consistent), a batch or transactional
/// read 2. Write units are counted from the requests themselves
/// (`RequestCounter::write_units`: a write 1 WRU, a transaction 2 per item).
fn read_units(ops: &BTreeMap<String, f64>) -> f64 {
    ops.iter()
        .map(|(op, n)| match op.as_str() {
            "GetItem" | "Query" | "Scan" => *n,
            "BatchGetItem" | "TransactGetItems" => 2.0 * n,
            _ => 0.0,
        })
        .sum()
}

/// The cost rows, or one row saying what is missing.
pub fn rows(m: &Measured) -> Vec<Row> {
    let s = "7 cost";
    let (Some(store), Some(scan), Some(cold), Some(load)) = (&m.store, &m.scan, &m.cold, &m.load)
    else {
        return vec![Row::new(
            s,
            "cost per 1,000 chats",
            "needs sections 1, 3 and 5",
            "-",
            "-",
        )];
    };
    let setup: BTreeMap<String, f64> = store
        .chat_setup
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64))
        .collect();
    let (setup_r, setup_w) = (read_units(&setup), store.setup_write_units as f64);
    let (msg_r, msg_w) = (read_units(&store.message_ops), store.message_write_units);
    let ddb = |per_message_r: f64, per_message_w: f64| {
        (setup_r + chat::MESSAGES * per_message_r) * price::DDB_RRU
            + (setup_w + chat::MESSAGES * per_message_w) * price::DDB_WRU
    };
    let ours_ddb = ddb(msg_r, msg_w);
    // The sample app reads the whole connections table for each message (its RCU as
    // DynamoDB Local reported them), and writes nothing per message.
    let sample_ddb = ddb(scan.rcu, 0.0);

    let frames = (load.frames_in + load.frames_out) as f64 / load.chats.max(1) as f64;
    let api = frames * price::WS_MESSAGE + chat::VISITOR_MINUTES * price::WS_CONNECTION_MINUTE;
    let init_ms = crate::report::median(
        &cold
            .functions
            .iter()
            .map(|(_, w, _)| w.init_ms)
            .collect::<Vec<_>>(),
    );
    let warm_ms = store.message_ms.ceil().max(1.0);
    let sample_warm_ms = (store.message_ms + scan.ms).ceil().max(1.0);
    let lambda = |ms: f64| {
        chat::INVOCATIONS
            * (price::LAMBDA_REQUEST
                + (ms + chat::COLD_SHARE * init_ms) / 1e3 * chat::MEMORY_GB * price::LAMBDA_GB_S)
    };
    let sqs = chat::SQS_REQUESTS * price::SQS_REQUEST;
    let ours = [lambda(warm_ms), api, ours_ddb, sqs];
    let sample = [lambda(sample_warm_ms), api, sample_ddb, sqs];
    // The floor for the same chat: what the protocol cannot do without. Each relayed
    // message is one API Gateway message in, one out to its recipient and its ack,
    // over the same connection minutes; storing it once is one write unit; and it
    // is one invocation of the least billable duration (1 ms), none cold.
    let floor = [
        chat::MESSAGES * (price::LAMBDA_REQUEST + 1.0 / 1e3 * chat::MEMORY_GB * price::LAMBDA_GB_S),
        chat::MESSAGES * floor::FRAMES_PER_MESSAGE * price::WS_MESSAGE
            + chat::VISITOR_MINUTES * price::WS_CONNECTION_MINUTE,
        chat::MESSAGES * price::DDB_WRU,
        0.0,
    ];
    let per_k = |v: f64| format!("${:.4}", v * 1000.0);
    let total = |v: &[f64; 4]| v.iter().sum::<f64>();
    vec![
        Row::new(
            s,
            "per 1,000 chats: ours against the floor for the same chats",
            per_k(total(&ours)),
            format!(
                "floor: {} (per message: {} API Gateway messages, 1 WRU, 1 invocation of 1 ms)",
                per_k(total(&floor)),
                floor::FRAMES_PER_MESSAGE
            ),
            format!("{} of the floor", ratio(total(&ours), total(&floor))),
        ),
        Row::new(
            s,
            "per 1,000 chats: total (Lambda + API Gateway + DynamoDB + SQS)",
            per_k(total(&ours)),
            format!(
                "Scan per message (sample app's store): {}",
                per_k(total(&sample))
            ),
            ratio(total(&ours), total(&sample)),
        ),
        Row::new(
            s,
            "  Lambda (requests + GB-s, arm64, 256 MB)",
            per_k(ours[0]),
            per_k(sample[0]),
            format!(
                "{} invocations/chat, {warm_ms:.0} ms each (+{init_ms:.0} ms init on 1%)",
                chat::INVOCATIONS
            ),
        ),
        Row::new(
            s,
            "  API Gateway WebSocket (messages + connection minutes)",
            per_k(ours[1]),
            per_k(sample[1]),
            format!("{frames:.0} frames/chat measured in section 5"),
        ),
        Row::new(
            s,
            "  DynamoDB on demand",
            per_k(ours[2]),
            per_k(sample[2]),
            format!(
                "{:.1} RRU + {:.1} WRU per message; Scan {:.1} RCU",
                msg_r, msg_w, scan.rcu
            ),
        ),
        Row::new(
            s,
            "  SQS (routing timers)",
            per_k(ours[3]),
            per_k(sample[3]),
            "3 messages/chat",
        ),
    ]
}

/// The cost model's assumptions and prices, for the document.
pub const NOTES: &str = "\n## Cost model (section 7)\n\n\
Prices: us-east-1, public AWS pricing pages (Lambda arm64 $0.0000133334 per GB-s and $0.20 per million \
requests; API Gateway WebSocket $1.00 per million messages and $0.25 per million connection minutes; \
DynamoDB on demand $0.625 per million write and $0.125 per million read request units; SQS $0.40 per \
million requests), as of 2025-2026, free tiers ignored; the constants are in `bench/src/cost.rs`.\n\
A chat is: the visitor connects, walks 4 dialog steps, is routed once and accepted, 20 messages each way \
(40 relayed), ends; the visitor's socket is open 10 minutes. 51 invocations (2 connect, 4 card-advance, \
3 route-to-agent events: route, offer timeout, inactivity check; 42 agent-message), 3 SQS messages (3 requests each). \
DynamoDB requests are those counted in section 3 (the whole chat up to the accept, then per relayed \
message); request units assume small items (1 RRU per read, 1 WRU per write, 2 units per item of a \
transaction, its items counted from the requests sent). API Gateway messages are the frames \
counted per chat in the load test (both directions). Each invocation is billed the median relay time measured \
on DynamoDB Local in section 3 (rounded up to 1 ms), plus the measured init on 1% of invocations. Agents' own \
connection minutes (a whole working day per agent, shared by all their chats) are left out. The reference \
column is the same chat with the AWS sample chat app's store design: a Scan of a 1,000-connection table \
per message (RCU as DynamoDB Local reported them) and its duration added to each message's invocation; the \
sample app also posts every message to every connection, which would add 1,000 API Gateway messages per \
message and is not counted here. The floor row is the least any implementation of the protocol pays for \
the same chats: per relayed message, 3 API Gateway messages (in, out to its recipient, the sender's ack), \
1 write unit (storing it once), and 1 Lambda invocation of 1 ms; plus the visitor's connection minutes.\n";
