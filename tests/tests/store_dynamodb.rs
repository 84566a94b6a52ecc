//! The store conformance suite on the official DynamoDB Local (started by the test
//! command: `scripts/dynamodb-local.sh`), plus what only a real DynamoDB shows:
//! throttling retried, request counts, and contention on one cursor.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;

use livechat_core::ports::{ConversationStore, DirectoryStore, Store};
use livechat_tests::conformance as suite;
use livechat_tests::dynamodb::{endpoint, fresh_store};
use livechat_tests::queue_conformance as queue_suite;

async fn store() -> Option<Arc<dyn Store>> {
    let endpoint = endpoint()?;
    Some(Arc::new(fresh_store(&endpoint).await.0))
}

#[tokio::test]
async fn dialogs_round_trip_in_order_and_a_removed_one_is_gone() {
    let Some(store) = store().await else { return };
    suite::dialogs_round_trip_in_order_and_a_removed_one_is_gone(store.as_ref()).await;
}

#[tokio::test]
async fn directory_round_trips_and_keeps_toggles_across_edits() {
    let Some(store) = store().await else { return };
    suite::directory_round_trips_and_keeps_toggles_across_edits(store.as_ref()).await;
}

#[tokio::test]
async fn conversations_are_written_by_compare_and_set() {
    let Some(store) = store().await else { return };
    suite::conversations_are_written_by_compare_and_set(store.as_ref()).await;
}

#[tokio::test]
async fn a_resend_is_recognised_within_its_sides_recent_messages() {
    let Some(store) = store().await else { return };
    suite::a_resend_is_recognised_within_its_sides_recent_messages(store.as_ref()).await;
}

#[tokio::test]
async fn analytics_sheets_move_with_their_counters() {
    let Some(store) = store().await else { return };
    suite::analytics_sheets_move_with_their_counters(store.as_ref()).await;
}

#[tokio::test]
async fn live_entries_follow_their_conversations_across_shards() {
    let Some(store) = store().await else { return };
    suite::live_entries_follow_their_conversations_across_shards(store.as_ref()).await;
}

#[tokio::test]
async fn messages_are_stored_once_per_id_in_sequence() {
    let Some(store) = store().await else { return };
    suite::messages_are_stored_once_per_id_in_sequence(store.as_ref()).await;
}

#[tokio::test]
async fn rate_counters_ride_on_the_message_write() {
    let Some(store) = store().await else { return };
    suite::rate_counters_ride_on_the_message_write(store.as_ref()).await;
}

#[tokio::test]
async fn rate_counters_count_to_their_limit_per_window() {
    let Some(store) = store().await else { return };
    suite::rate_counters_count_to_their_limit_per_window(store.as_ref()).await;
}

#[tokio::test]
async fn the_hub_tracks_subscribers_and_refuses_stale_appends() {
    let Some(store) = store().await else { return };
    suite::the_hub_tracks_subscribers_and_refuses_stale_appends(store.as_ref()).await;
}

#[tokio::test]
async fn connections_expire_on_read_and_are_found_by_party() {
    let Some(store) = store().await else { return };
    suite::connections_expire_on_read_and_are_found_by_party(store.as_ref()).await;
}

#[tokio::test]
async fn presence_counts_every_connection_made_and_never_goes_down() {
    let Some(store) = store().await else { return };
    suite::presence_counts_every_connection_made_and_never_goes_down(store.as_ref()).await;
}

#[tokio::test]
async fn turn_tickets_are_numbered_per_pool_and_read_with_the_cursor() {
    let Some(store) = store().await else { return };
    suite::turn_tickets_are_numbered_per_pool_and_read_with_the_cursor(store.as_ref()).await;
}

#[tokio::test]
async fn agents_keep_their_canned_responses_across_a_new_directory() {
    let Some(store) = store().await else { return };
    suite::agents_keep_their_canned_responses_across_a_new_directory(store.as_ref()).await;
}

#[tokio::test]
async fn notes_are_stored_once_per_id_apart_from_the_messages() {
    let Some(store) = store().await else { return };
    suite::notes_are_stored_once_per_id_apart_from_the_messages(store.as_ref()).await;
}

#[tokio::test]
async fn routing_traces_are_kept_with_their_decisions() {
    let Some(store) = store().await else { return };
    suite::routing_traces_are_kept_with_their_decisions(store.as_ref()).await;
}

#[tokio::test]
async fn an_offer_claim_is_all_or_nothing() {
    let Some(store) = store().await else { return };
    suite::an_offer_claim_is_all_or_nothing(store.as_ref()).await;
}

#[tokio::test]
async fn past_chats_are_listed_per_agent_and_for_the_account() {
    let Some(store) = store().await else { return };
    suite::past_chats_are_listed_per_agent_and_for_the_account(store.as_ref()).await;
}

#[tokio::test]
async fn the_missed_list_is_newest_first_and_cleared_when_taken() {
    let Some(store) = store().await else { return };
    suite::the_missed_list_is_newest_first_and_cleared_when_taken(store.as_ref()).await;
}

#[tokio::test]
async fn the_missed_list_pages_from_a_cursor_without_gaps_or_repeats() {
    let Some(store) = store().await else { return };
    suite::the_missed_list_pages_from_a_cursor_without_gaps_or_repeats(store.as_ref()).await;
}

#[tokio::test]
async fn sharded_lists_page_in_order_without_gaps_or_repeats() {
    let Some(store) = store().await else { return };
    suite::sharded_lists_page_in_order_without_gaps_or_repeats(store.as_ref()).await;
}

#[tokio::test]
async fn sharded_lists_spread_their_writes() {
    let Some(endpoint) = endpoint() else { return };
    let (store, counter) = fresh_store(&endpoint).await;
    suite::sharded_lists_spread_their_writes(&store, &|| counter.writes_per_partition()).await;
}

#[tokio::test]
async fn batched_reads_find_what_exists() {
    let Some(store) = store().await else { return };
    suite::batched_reads_find_what_exists(store.as_ref()).await;
}

#[tokio::test]
async fn sessions_round_trip() {
    let Some(store) = store().await else { return };
    suite::sessions_round_trip(store.as_ref()).await;
}

#[tokio::test]
async fn round_robin_follows_the_documented_sequence() {
    let Some(store) = store().await else { return };
    suite::round_robin_follows_the_documented_sequence(store).await;
}

#[tokio::test]
async fn throttled_requests_are_retried_with_backoff_and_succeed() {
    let Some(endpoint) = endpoint() else { return };
    let (store, counter) = fresh_store(&endpoint).await;
    counter.inject_throttles(2);

    store
        .put_directory(&livechat_core::routing::Directory::default())
        .await
        .unwrap();

    assert_eq!(counter.throttles_injected(), 2);
    // The first request of the write, the read of the dialogs it replaces.
    assert_eq!(
        counter.counts().get("GetItem"),
        Some(&3),
        "two throttled attempts, then success"
    );
    assert_eq!(counter.counts().get("TransactWriteItems"), Some(&1));
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_reported_as_throttled() {
    let Some(endpoint) = endpoint() else { return };
    let (store, counter) = fresh_store(&endpoint).await;
    counter.inject_throttles(100);

    let err = store
        .conversation(&livechat_core::domain::ConversationId::parse("c").unwrap())
        .await
        .unwrap_err();

    assert!(
        matches!(err, livechat_core::ports::StoreError::Throttled),
        "{err:?}"
    );
    let attempts = counter.counts().get("GetItem").copied().unwrap_or(0);
    assert!(
        (2..=10).contains(&attempts),
        "bounded retries, got {attempts}"
    );
    counter.inject_throttles(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contention_on_one_cursor_assigns_every_chat_once_and_evenly() {
    let Some(endpoint) = endpoint() else { return };
    let (alone, alone_counter) = fresh_store(&endpoint).await;
    let (single_rate, _, _) =
        suite::simultaneous_requests_are_assigned_once_and_evenly(Arc::new(alone), 100, 1).await;
    let per_route = alone_counter.total() as f64 / 100.0;

    let (contended, counter) = fresh_store(&endpoint).await;
    let (rate, conflicts, redelivered) =
        suite::simultaneous_requests_are_assigned_once_and_evenly(Arc::new(contended), 500, 32)
            .await;

    println!(
        "DynamoDB Local: one client alone {single_rate:.0} routings/s; 500 requests from 32 concurrent clients \
         {rate:.0} routings/s ({:.0}% of alone), {conflicts} lost races retried, {redelivered} requests delivered again; {per_route:.1} requests per routing \
         alone; requests under contention: {:?}",
        100.0 * rate / single_rate,
        counter.counts()
    );
}

/// What the core use cases cost on DynamoDB, measured by the request counter; the
/// numbers `docs/data-model.md` states.
#[tokio::test]
async fn request_counts_per_use_case_are_measured() {
    use livechat_core::domain::ConnectionId;
    use livechat_tests::chat_on;
    use serde_json::json;
    use std::collections::HashMap;

    let Some(endpoint) = endpoint() else { return };
    let (store, counter) = fresh_store(&endpoint).await;
    let mut directory = livechat_core::demo::directory().unwrap();
    // The busy chat at the end sends 80 messages back to back, past the demo's
    // message rate limits; the counts do not depend on them.
    let many = livechat_core::domain::Rate::new(10_000, 10);
    directory.settings.rate_limits.messages_per_connection = many;
    directory.settings.rate_limits.messages_per_visitor = many;
    store.put_directory(&directory).await.unwrap();
    let table = store.table().to_string();
    let (chat, push, scheduler) = chat_on(Arc::new(store));
    let now = || jiff::Timestamp::now();
    let issuer = livechat_core::auth::AgentTokenIssuer::hs256(
        livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
        livechat_gateway::LOCAL_ISSUER,
        livechat_gateway::LOCAL_AUDIENCE,
    );
    let ana = ConnectionId::parse("ana-tab=").unwrap();
    let visitor = ConnectionId::parse("visitor-tab=").unwrap();
    push.open(&ana);
    push.open(&visitor);
    let token = issuer.issue(
        &livechat_core::domain::AgentId::parse("ana").unwrap(),
        now(),
        jiff::SignedDuration::from_hours(1),
    );
    let mut measured: Vec<(&str, u64)> = Vec::new();
    let mut operations = Vec::new();
    let mut write_units = Vec::new();
    let mut step = |name, counter: &livechat_aws::dynamo::counting::RequestCounter| {
        measured.push((name, counter.total()));
        operations.push((name, counter.counts()));
        write_units.push((name, counter.write_units()));
        counter.reset();
    };

    counter.reset();
    chat.connect(
        &ana,
        &HashMap::from([("agent_token".to_string(), token)]),
        None,
    )
    .await
    .unwrap();
    step("agent $connect", &counter);
    chat.connect(&visitor, &HashMap::new(), None).await.unwrap();
    step("visitor $connect", &counter);
    chat.message(&visitor, &json!({"action": "start"}).to_string())
        .await;
    step("visitor start", &counter);
    chat.message(
        &visitor,
        &json!({"action": "answer", "card": "ask", "answer": 0}).to_string(),
    )
    .await;
    step("answer", &counter);
    chat.message(
        &visitor,
        &json!({"action": "submit", "card": "first_name", "value": "Jo"}).to_string(),
    )
    .await;
    step("submit a name", &counter);
    chat.message(
        &visitor,
        &json!({"action": "submit", "card": "email", "value": "jo@x.example"}).to_string(),
    )
    .await;
    step("submit the email (requests the live chat)", &counter);
    for event in scheduler.take_due(now()) {
        chat.delayed(event).await.unwrap();
    }
    step("route (offer)", &counter);
    let offer = push
        .take(&ana)
        .into_iter()
        .find(|f| f.contains("\"offer\""))
        .expect("offered");
    let conversation =
        serde_json::from_str::<serde_json::Value>(&offer).unwrap()["conversation"].clone();
    chat.message(
        &ana,
        &json!({"action": "accept", "conversation": conversation}).to_string(),
    )
    .await;
    step("accept", &counter);
    push.take(&visitor);
    let visitor_says = json!({"action": "send_message", "conversation": conversation, "id": "m1", "text": "hello"});
    chat.message(&visitor, &visitor_says.to_string()).await;
    step("relay one visitor message", &counter);
    let agent_says =
        json!({"action": "send_message", "conversation": conversation, "id": "a1", "text": "hi"});
    chat.message(&ana, &agent_says.to_string()).await;
    step("relay one agent message", &counter);
    assert!(push.take(&visitor).iter().any(|f| f.contains("\"hi\"")));
    assert!(push.take(&ana).iter().any(|f| f.contains("\"hello\"")));
    chat.message(&visitor, &visitor_says.to_string()).await;
    step("a retried visitor message (stored once)", &counter);
    let unnamed = json!({"action": "send_message", "id": "m2", "text": "no conversation named"});
    chat.message(&visitor, &unnamed.to_string()).await;
    step(
        "relay a visitor message that does not name its conversation",
        &counter,
    );

    chat.message(
        &visitor,
        &json!({"action": "typing", "typing": true}).to_string(),
    )
    .await;
    step("relay a visitor's typing", &counter);

    for ((name, requests), (_, ops)) in measured.iter().zip(&operations) {
        println!("DynamoDB requests: {name}: {requests} {ops:?}");
    }
    let cost = |name: &str| {
        measured
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| *r)
            .unwrap()
    };
    // Every count is exact: a change that costs a request more (or saves one)
    // changes it here and in docs/data-model.md, which says why. The directory
    // comes from the process's cache (read by the agent's $connect above): what must
    // be current, the availability toggles, is kept with the agents' state.
    //
    // Who the connection is, the session, the session written.
    assert_eq!(cost("answer"), 3, "{operations:?}");
    assert_eq!(cost("submit a name"), 3, "{operations:?}");
    // The same three, and three more for the live chat it requests: the agents'
    // load and presence for the demo dialog's "is anyone available" branch (one
    // BatchGetItem), and the conversation moved to waiting (read, compare-and-set).
    assert_eq!(
        cost("submit the email (requests the live chat)"),
        6,
        "{operations:?}"
    );
    // The start rate limit's UpdateItem, who the connection is, the session, the
    // new conversation, its subscription, the session written, the history page.
    assert_eq!(cost("visitor start"), 7, "{operations:?}");
    // The directory for the agent's permission (the process's first read, which
    // fills its cache: its item and its dialogs' in one BatchGetItem), the
    // connection record and the presence item's UpdateItem.
    assert_eq!(cost("agent $connect"), 4, "{operations:?}");
    // The connection and the presence item.
    assert_eq!(cost("visitor $connect"), 2, "{operations:?}");
    // The hub (the conversation with its subscribers), the session, agent states
    // (load, connections and toggles; the directory comes from the process's
    // cache), the cursor (one BatchGetItem with its ticket counter) and the claim.
    // The offer goes to the connections the states named, the waiting frame to the
    // hub's visitor pages, and the notices reuse the states: the budget of 5.
    assert_eq!(cost("route (offer)"), 5, "{operations:?}");
    // Who the connection is, the claim (read, write), the agent's tabs, their
    // subscription, the session, the history and the visitor's connections (the
    // agent's name comes from the cached directory).
    assert_eq!(cost("accept"), 8, "{operations:?}");
    // The hub (GetItem) and the message's transaction; the message rate limits
    // ride on that write.
    assert_eq!(cost("relay one visitor message"), 2, "{operations:?}");
    // The same: the agent's authorization comes from this process's memory of the
    // connection and the cached directory.
    assert_eq!(cost("relay one agent message"), 2, "{operations:?}");
    // The hub, whose recent ids name the resend, and a read of the stored copy
    // (a Query of one): nothing is written.
    assert_eq!(
        cost("a retried visitor message (stored once)"),
        2,
        "{operations:?}"
    );
    // Who the connection is, the session (for the conversation), the hub and the
    // transaction.
    assert_eq!(
        cost("relay a visitor message that does not name its conversation"),
        4,
        "{operations:?}"
    );
    // Who the connection is, the rate-limit count (one UpdateItem: typing has no
    // write to ride on), the session, the conversation and the agent's connections.
    assert_eq!(cost("relay a visitor's typing"), 5, "{operations:?}");
    // A relayed message's units as bench/src/cost.rs counts them: the hub read is
    // 1 read unit, the transaction 2 write units for each of its 2 items (the hub's
    // count with the recent ids, the message): the budget of 4.
    let message = &operations
        .iter()
        .find(|(n, _)| *n == "relay one visitor message")
        .unwrap()
        .1;
    assert_eq!(message.get("BatchGetItem"), Some(&1), "{message:?}");
    assert_eq!(message.get("TransactWriteItems"), Some(&1), "{message:?}");
    let units = |name| write_units.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(units("relay one visitor message"), 4);
    assert_eq!(units("relay one agent message"), 4);
    assert_eq!(units("a retried visitor message (stored once)"), 0);
    let resend = &operations
        .iter()
        .find(|(n, _)| *n == "a retried visitor message (stored once)")
        .unwrap()
        .1;
    assert_eq!(resend.get("Query"), Some(&1), "{resend:?}");

    // The units above are DynamoDB's as long as the items a message writes stay
    // under 1 KB (a write unit per KB of the larger of the item before and after):
    // in a busy chat, with both sides' recent ids full and the rate windows, the
    // count item keeps there, and the conversation itself (which grows with its
    // offers, stints and subscribers) is not written by messages at all.
    for i in 0..80 {
        let (from, id) = if i % 2 == 0 {
            (&visitor, format!("01JQ8Z6M3K9V2X4T7B1N5R{i:04}"))
        } else {
            (&ana, format!("01JQ8Z6M3K9V2X4T7B1N5A{i:04}"))
        };
        let frame = json!({"action": "send_message", "conversation": conversation, "id": id, "text": "a message"});
        chat.message(from, &frame.to_string()).await;
    }
    let (raw, _) = livechat_tests::dynamodb::client(&endpoint);
    let item = |sk: &'static str| {
        let raw = raw.clone();
        let (table, pk) = (
            table.clone(),
            format!("CONV#{}", conversation.as_str().unwrap()),
        );
        async move {
            raw.get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk.into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    let count = item("COUNT").await;
    assert_eq!(
        count
            .get("msgs")
            .and_then(|v| v.as_n().ok())
            .map(String::as_str),
        Some("83"),
        "every message was stored"
    );
    let count_bytes = livechat_aws::dynamo::item_bytes(&count);
    let message_bytes = livechat_aws::dynamo::item_bytes(&item("MSG#00000000000000000083").await);
    let meta_bytes = livechat_aws::dynamo::item_bytes(&item("META").await);
    eprintln!(
        "a busy chat: count item {count_bytes} bytes, a message {message_bytes}, the conversation {meta_bytes}"
    );
    assert!(count_bytes <= 1024, "the count item is {count_bytes} bytes");
    assert!(
        message_bytes <= 1024,
        "a message item is {message_bytes} bytes"
    );
}

#[tokio::test]
async fn livechat_apply_validates_a_configuration_file_and_writes_it_to_the_table() {
    let Some(endpoint) = endpoint() else { return };
    let (store, _) = fresh_store(&endpoint).await;
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo-config.yaml");

    let applied = livechat_cli::apply(&config, store.table(), Some(&endpoint))
        .await
        .unwrap();

    let stored = store.directory().await.unwrap();
    assert_eq!(stored, applied);
    assert_eq!(stored.dialogs.first().map(|d| d.id.as_str()), Some("sales"));
    let broken = std::env::temp_dir().join(format!(
        "livechat-broken-{}.yaml",
        livechat_core::domain::new_ulid()
    ));
    std::fs::write(
        &broken,
        "agents:\n  - id: ana\n    name: Ana\n    email: not-an-email\n",
    )
    .unwrap();
    let err = livechat_cli::apply(&broken, store.table(), Some(&endpoint))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(":4:") || err.to_string().contains("email"),
        "{err}"
    );
    assert_eq!(
        store.directory().await.unwrap(),
        applied,
        "a refused file changes nothing"
    );
    let _ = std::fs::remove_file(broken);
}

/// The live view's requests (docs/data-model.md, "The live view"), counted
/// exactly: a batch that moves nothing costs none; one that moves an entry with
/// nobody watching, its write and the watchers' query; with a watcher, the view's
/// directory, agents and 16 shards besides; an inbox's `live` request, its rate
/// count, its watcher item, the agents and the shards (the directory is cached).
#[tokio::test]
async fn the_live_view_costs_the_requests_the_data_model_gives() {
    use livechat_core::analytics::Change;
    use livechat_core::analytics::live::after_changes;
    use livechat_core::domain::{ConnectionId, Conversation, ConversationId, DialogId, VisitorId};
    use livechat_tests::chat_on;
    use std::collections::HashMap;

    let Some(endpoint) = endpoint() else { return };
    let (store, counter) = fresh_store(&endpoint).await;
    store
        .put_directory(&livechat_core::demo::directory().unwrap())
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let (chat, push, _scheduler) = chat_on(store.clone());
    let now = jiff::Timestamp::now();
    let waiting = |id: &str| {
        let mut c = Conversation::new(
            ConversationId::parse(id).unwrap(),
            VisitorId::parse(format!("v-{id}")).unwrap(),
            DialogId::parse("sales").unwrap(),
            now,
        );
        c.request_live_chat(now).unwrap();
        c
    };
    let created = |c: &Conversation| Change::Conversation {
        old: None,
        new: Some(Box::new(c.clone())),
    };
    let requests = |counter: &livechat_aws::dynamo::counting::RequestCounter| {
        let counts = counter.counts();
        counter.reset();
        counts
    };
    let counts = |pairs: &[(&str, u64)]| -> std::collections::BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };

    let first = waiting("live-cost-1");
    counter.reset();
    let steady = Change::Conversation {
        old: Some(Box::new(first.clone())),
        new: Some(Box::new(first.clone())),
    };
    after_changes(store.as_ref(), push.as_ref(), &[steady], now)
        .await
        .unwrap();
    assert_eq!(
        requests(&counter),
        counts(&[]),
        "a batch that moves nothing"
    );

    after_changes(store.as_ref(), push.as_ref(), &[created(&first)], now)
        .await
        .unwrap();
    assert_eq!(
        requests(&counter),
        counts(&[("PutItem", 1), ("Query", 1)]),
        "nobody watching"
    );

    let issuer = livechat_core::auth::AgentTokenIssuer::hs256(
        livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
        livechat_gateway::LOCAL_ISSUER,
        livechat_gateway::LOCAL_AUDIENCE,
    );
    let ana = ConnectionId::parse("ana-live=").unwrap();
    push.open(&ana);
    let token = issuer.issue(
        &livechat_core::domain::AgentId::parse("ana").unwrap(),
        now,
        jiff::SignedDuration::from_hours(1),
    );
    chat.connect(&ana, &HashMap::from([("agent_token".into(), token)]), None)
        .await
        .unwrap();
    counter.reset();
    chat.message(&ana, r#"{"action": "live"}"#).await;
    let frames = push.take(&ana);
    assert!(
        frames.iter().any(|f| f.contains(r#""type":"live""#)),
        "{frames:?}"
    );
    // The connection's record (as every agent frame), the rate count, the
    // watcher, the agents, the shards.
    assert_eq!(
        requests(&counter),
        counts(&[
            ("BatchGetItem", 1),
            ("GetItem", 1),
            ("PutItem", 1),
            ("Query", 16),
            ("UpdateItem", 1)
        ]),
        "an inbox's live request"
    );

    after_changes(
        store.as_ref(),
        push.as_ref(),
        &[created(&waiting("live-cost-2"))],
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        requests(&counter),
        counts(&[
            ("BatchGetItem", 2),
            ("GetItem", 1),
            ("PutItem", 1),
            ("Query", 17)
        ]),
        "a batch pushed to a watcher: the entry, the watchers, the directory and its dialogs, the agents, the shards"
    );
    let pushed = push.take(&ana);
    assert_eq!(pushed.len(), 1, "one frame per batch");
    assert!(pushed[0].contains(r#""waiting_count":2"#), "{pushed:?}");
}

/// A page of the missed list costs the same requests whatever its size: one query
/// per shard, one batched read of the page's conversations and one of their
/// visitors' sessions (and the agent's connection record, as every frame).
#[tokio::test]
async fn a_missed_page_costs_the_same_requests_whatever_its_size() {
    use livechat_core::dialog::DialogState;
    use livechat_core::domain::{
        AttributeName, Attributes, ConnectionId, Conversation, ConversationId, DialogId, EndReason,
        VisitorId,
    };
    use livechat_core::ports::{SessionStore, TokenVersion, VisitorSession};
    use livechat_core::shards::LIST_SHARDS;
    use livechat_tests::chat_on;
    use serde_json::json;
    use std::collections::{BTreeMap, HashMap};

    let Some(endpoint) = endpoint() else { return };
    let (store, counter) = fresh_store(&endpoint).await;
    let store = Arc::new(store);
    store
        .put_directory(&livechat_core::demo::directory().unwrap())
        .await
        .unwrap();
    let (chat, push, _) = chat_on(store.clone());
    let now = jiff::Timestamp::now();
    let issuer = livechat_core::auth::AgentTokenIssuer::hs256(
        livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
        livechat_gateway::LOCAL_ISSUER,
        livechat_gateway::LOCAL_AUDIENCE,
    );
    let ana = ConnectionId::parse("ana-tab=").unwrap();
    push.open(&ana);
    let token = issuer.issue(
        &livechat_core::domain::AgentId::parse("ana").unwrap(),
        now,
        jiff::SignedDuration::from_hours(1),
    );
    chat.connect(
        &ana,
        &HashMap::from([("agent_token".to_string(), token)]),
        None,
    )
    .await
    .unwrap();
    // Warms the function's directory cache, which every agent frame consults (the
    // permission check), so that the counts below are the page's own.
    chat.message(&ana, &json!({"action": "ping"}).to_string())
        .await;

    let mut recorded = 0;
    let mut page_of = async |entries: usize| {
        for i in recorded..entries {
            let id = ConversationId::parse(format!("missed-{i:02}")).unwrap();
            let visitor = VisitorId::parse(format!("v-missed-{i:02}")).unwrap();
            let at = now - jiff::SignedDuration::from_mins(i64::try_from(i).unwrap());
            let mut c = Conversation::new(
                id.clone(),
                visitor.clone(),
                DialogId::parse("sales").unwrap(),
                at,
            );
            c.request_live_chat(at).unwrap();
            c.end(EndReason::Fallback, at).unwrap();
            store.create_conversation(&c).await.unwrap();
            let mut attributes = Attributes::new();
            attributes.set(
                AttributeName::parse("name").unwrap(),
                format!("Visitor {i}"),
            );
            store
                .put_session(&VisitorSession {
                    visitor,
                    conversation: id.clone(),
                    dialog: DialogState::new(attributes),
                    updated_at: at,
                    token: TokenVersion::default(),
                    dialog_id: None,
                    completed: Vec::new(),
                })
                .await
                .unwrap();
            store.record_missed(&id, at).await.unwrap();
        }
        recorded = entries;
        push.take(&ana);
        counter.reset();
        chat.message(&ana, &json!({"action": "missed"}).to_string())
            .await;
        let frames = push.take(&ana);
        let page: serde_json::Value = serde_json::from_str(&frames[0]).unwrap();
        assert_eq!(page["type"], "missed");
        let chats = page["chats"].as_array().unwrap();
        assert_eq!(chats.len(), entries, "{page}");
        assert_eq!(chats[0]["visitor"]["name"], "Visitor 0", "{page}");
        counter.counts()
    };
    let expected = BTreeMap::from([
        // The agent's connection record.
        ("GetItem".to_string(), 1),
        // One query per shard of the missed list.
        ("Query".to_string(), u64::from(LIST_SHARDS)),
        // The page's conversations, then their visitors' sessions.
        ("BatchGetItem".to_string(), 2),
    ]);
    let three = page_of(3).await;
    assert_eq!(three, expected, "a page of 3");
    let twelve = page_of(12).await;
    assert_eq!(twelve, expected, "a page of 12");
    println!("DynamoDB requests: a page of the missed list (3 or 12 entries): {three:?}");
}

/// The directory's item size as `livechat validate` and `apply` estimate it agrees
/// with the item limit DynamoDB Local enforces, within 2%: a directory estimated at
/// 98% of the limit is stored, one at 102% refused.
#[tokio::test]
async fn the_directory_size_estimate_matches_the_item_limit() {
    use livechat_aws::dynamo::{MAX_ITEM_BYTES, directory_item_bytes};
    use livechat_core::routing::Directory;
    let Some(store) = store().await else { return };
    let with = |n: usize| Directory {
        agents: livechat_tests::agents(n, 5),
        ..Directory::default()
    };
    // The fewest agents whose estimate reaches `share` of the limit.
    let at = |share: f64| {
        let target = (MAX_ITEM_BYTES as f64 * share) as usize;
        let (mut low, mut high) = (1usize, 20_000usize);
        while low < high {
            let mid = (low + high) / 2;
            if directory_item_bytes(&with(mid)).unwrap() < target {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        with(low)
    };
    store
        .put_directory(&at(0.98))
        .await
        .expect("a directory estimated under the limit is stored");
    assert!(
        store.put_directory(&at(1.02)).await.is_err(),
        "a directory estimated over the limit must be refused, or the estimate is off"
    );
}

#[tokio::test]
async fn livechat_report_reads_the_days_counters_as_recorded() {
    use livechat_core::analytics::{Change, Dimension, record};
    let Some(endpoint) = endpoint() else { return };
    let (store, _) = fresh_store(&endpoint).await;
    let at: jiff::Timestamp = "2026-11-30T23:30:00Z".parse().unwrap();
    let changes: Vec<Change> = (0..3)
        .map(|i| {
            let mut c = livechat_core::domain::Conversation::new(
                livechat_core::domain::ConversationId::parse(format!("rep-{i}")).unwrap(),
                livechat_core::domain::VisitorId::parse(format!("v-rep-{i}")).unwrap(),
                livechat_core::domain::DialogId::parse("sales").unwrap(),
                at,
            );
            c.request_live_chat(at).unwrap();
            Change::Conversation {
                old: None,
                new: Some(Box::new(c)),
            }
        })
        .collect();
    record(&store, &changes, None, at).await.unwrap();

    let rows = livechat_cli::report(
        store.table(),
        Some(&endpoint),
        "2026-11-29",
        "2026-12-01",
        Dimension::Day,
    )
    .await
    .unwrap();
    let requested: Vec<(Option<&str>, i64)> = rows
        .iter()
        .map(|r| (r.value.as_deref(), r.counters.requested))
        .collect();
    assert_eq!(
        requested,
        [
            (Some("2026-11-29"), 0),
            (Some("2026-11-30"), 3),
            (Some("2026-12-01"), 0)
        ],
        "every day of the range, zeros included, in UTC"
    );
    let text = livechat_cli::report_text(&rows);
    assert!(text.starts_with("day "), "{text}");
    let csv = livechat_core::analytics::csv::to_csv(&rows);
    assert!(csv.contains("\r\n2026-11-30,3,"), "{csv}");

    let backwards = livechat_cli::report(
        store.table(),
        Some(&endpoint),
        "2026-12-01",
        "2026-11-01",
        Dimension::Day,
    )
    .await;
    assert!(matches!(
        backwards,
        Err(livechat_cli::ReportError::Range(_))
    ));
    let too_long = livechat_cli::report(
        store.table(),
        Some(&endpoint),
        "2024-01-01",
        "2026-12-01",
        Dimension::Day,
    )
    .await;
    assert!(matches!(too_long, Err(livechat_cli::ReportError::Range(_))));
    let not_a_date = livechat_cli::report(
        store.table(),
        Some(&endpoint),
        "yesterday",
        "2026-12-01",
        Dimension::Day,
    )
    .await;
    assert!(matches!(
        not_a_date,
        Err(livechat_cli::ReportError::Range(_))
    ));
}

#[tokio::test]
async fn livechat_explain_answers_who_would_get_a_visitor_from_the_tables_presence() {
    let Some(endpoint) = livechat_tests::dynamodb::endpoint() else {
        return;
    };
    let (store, _) = livechat_tests::dynamodb::fresh_store(&endpoint).await;
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo-config.yaml");
    livechat_cli::apply(&config, store.table(), Some(&endpoint))
        .await
        .unwrap();
    let now = jiff::Timestamp::now();
    let visitor =
        livechat_cli::visitor_attributes(r#"{"email": "jo@small.example", "company_size": 12}"#)
            .unwrap();
    let ask = |config: Option<&'static str>| {
        let (table, endpoint, visitor) =
            (store.table().to_string(), endpoint.clone(), visitor.clone());
        async move {
            let path = config.map(|c| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(c));
            livechat_cli::explain(
                &table,
                Some(&endpoint),
                path.as_deref(),
                &visitor,
                None,
                None,
                now,
            )
            .await
            .unwrap()
        }
    };
    let nobody = ask(None).await;
    assert_eq!(
        nobody.trace.outcome,
        livechat_core::routing::Outcome::Nobody
    );
    assert!(livechat_cli::explain_text(&nobody).contains("offline"));

    // ben connects (as his $connect records him): explain reads him as online.
    use livechat_core::ports::{ConnectionRecord, ConnectionStore, Party};
    let ben = livechat_core::domain::AgentId::parse("ben").unwrap();
    store
        .put_connection(&ConnectionRecord {
            id: livechat_core::domain::ConnectionId::parse("ben-tab=").unwrap(),
            party: Party::Agent { agent: ben.clone() },
            connected_at: now,
            expires_at: now + jiff::SignedDuration::from_hours(2),
            authorized_until: None,
        })
        .await
        .unwrap();
    let offered = ask(None).await;
    assert_eq!(
        offered.trace.outcome,
        livechat_core::routing::Outcome::Offer { agent: ben.clone() }
    );
    let text = livechat_cli::explain_text(&offered);
    assert!(
        text.contains("CHOSEN") && text.contains("Outcome: offered to ben"),
        "{text}"
    );
    // The same presence against a configuration not applied, where ben lost the
    // live chat permission: nobody.
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let folder =
        std::env::temp_dir().join(format!("explain-{}", livechat_core::domain::new_ulid()));
    std::fs::create_dir_all(&folder).unwrap();
    let demo = std::fs::read_to_string(examples.join("demo-config.yaml")).unwrap();
    let changed = demo.replacen(
        "    roles: [live_agent]\n    time_zone: America/New_York",
        "    roles: [marketing_admin]\n    time_zone: America/New_York",
        1,
    );
    assert_ne!(
        changed, demo,
        "ben's roles line is in the demo configuration"
    );
    std::fs::write(folder.join("demo-config.yaml"), changed).unwrap();
    for dialog in ["sales-dialog.yaml", "pricing-dialog.yaml"] {
        std::fs::copy(examples.join(dialog), folder.join(dialog)).unwrap();
    }
    let tried = livechat_cli::explain(
        store.table(),
        Some(&endpoint),
        Some(&folder.join("demo-config.yaml")),
        &visitor,
        None,
        None,
        now,
    )
    .await
    .unwrap();
    assert_eq!(tried.trace.outcome, livechat_core::routing::Outcome::Nobody);
    // The round robin over every agent counts only those with the permission.
    assert!(
        tried
            .trace
            .pools
            .iter()
            .all(|p| p.candidates.iter().all(|c| c.agent != ben)),
        "{tried:?}"
    );
    use livechat_core::ports::RoutingStore;
    assert!(
        store.agent_chats(&ben).await.unwrap().is_empty(),
        "explain claims nothing"
    );
}

#[tokio::test]
async fn queue_entries_are_one_per_conversation_first_ticket_first() {
    let Some(store) = store().await else { return };
    queue_suite::queue_entries_are_one_per_conversation_first_ticket_first(store.as_ref()).await;
}

#[tokio::test]
async fn concurrent_enqueues_leave_one_entry_per_conversation() {
    let Some(store) = store().await else { return };
    queue_suite::concurrent_enqueues_leave_one_entry_per_conversation(store.as_ref()).await;
}

#[tokio::test]
async fn chat_lengths_add_up_per_pool() {
    let Some(store) = store().await else { return };
    queue_suite::chat_lengths_add_up_per_pool(store.as_ref()).await;
}

/// What the queue costs in requests: a new entry is a read, the ticket and a
/// conditional put; a request routed again while queued, one read; the queue one
/// query; a dequeue one delete.
#[tokio::test]
async fn the_queue_takes_the_documented_requests() {
    use livechat_core::ports::QueueStore;
    let Some(endpoint) = endpoint() else { return };
    let (store, counter) = fresh_store(&endpoint).await;
    let c = livechat_core::domain::ConversationId::parse("q-cost").unwrap();
    let now = livechat_tests::test_now();
    let counts = |pairs: &[(&str, u64)]| -> std::collections::BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let taken = || {
        let counts = counter.counts();
        counter.reset();
        counts
    };
    store.enqueue("all", &c, now).await.unwrap();
    assert_eq!(
        taken(),
        counts(&[("GetItem", 1), ("UpdateItem", 1), ("PutItem", 1)])
    );
    store.enqueue("all", &c, now).await.unwrap();
    assert_eq!(taken(), counts(&[("GetItem", 1)]));
    store.queue("all").await.unwrap();
    assert_eq!(taken(), counts(&[("Query", 1)]));
    store.dequeue("all", &c).await.unwrap();
    assert_eq!(taken(), counts(&[("DeleteItem", 1)]));
}

/// The directory item keeps each dialog's header only: its cards are items of
/// their own, so an account's dialogs never bring the directory near 400 KB.
#[test]
fn the_directory_item_holds_no_dialogs_cards() {
    let demo = livechat_core::demo::directory().unwrap();
    let without = livechat_core::routing::Directory {
        dialogs: Vec::new(),
        ..demo.clone()
    };
    let with = livechat_aws::dynamo::directory_item_bytes(&demo).unwrap();
    let bare = livechat_aws::dynamo::directory_item_bytes(&without).unwrap();
    let (largest, id) = livechat_aws::dynamo::largest_dialog_item_bytes(&demo).unwrap();
    assert_eq!(id.as_ref().map(|d| d.as_str()), Some("sales"));
    // Two headers (ids, priorities, audiences) add a few hundred bytes, where the
    // sales dialog's cards alone take thousands.
    assert!(with - bare < 400, "{with} - {bare}");
    assert!(largest > 2_000, "{largest}");
}

#[tokio::test]
async fn a_transfer_is_claimed_once_and_moves_capacity_when_accepted() {
    let Some(store) = store().await else { return };
    suite::a_transfer_is_claimed_once_and_moves_capacity_when_accepted(store.as_ref()).await;
}

/// What a transfer costs on DynamoDB, measured by the request counter; the numbers
/// `docs/data-model.md` states.
#[tokio::test]
async fn a_transfer_costs_the_requests_the_data_model_gives() {
    use livechat_core::domain::{AgentId, ConnectionId};
    use livechat_tests::chat_on;
    use serde_json::json;
    use std::collections::HashMap;

    let Some(endpoint) = endpoint() else { return };
    let (store, counter) = fresh_store(&endpoint).await;
    store
        .put_directory(&livechat_core::demo::directory().unwrap())
        .await
        .unwrap();
    let (chat, push, scheduler) = chat_on(Arc::new(store));
    let now = || jiff::Timestamp::now();
    let issuer = livechat_core::auth::AgentTokenIssuer::hs256(
        livechat_gateway::LOCAL_AGENT_SECRET.as_bytes(),
        livechat_gateway::LOCAL_ISSUER,
        livechat_gateway::LOCAL_AUDIENCE,
    );
    let tab = |id: &str| {
        let conn = ConnectionId::parse(format!("{id}-tab=")).unwrap();
        push.open(&conn);
        conn
    };
    let (ana, ben, visitor) = (tab("ana"), tab("ben"), tab("visitor"));
    for (conn, agent) in [(&ana, "ana"), (&ben, "ben")] {
        let token = issuer.issue(
            &AgentId::parse(agent).unwrap(),
            now(),
            jiff::SignedDuration::from_hours(1),
        );
        let query = HashMap::from([("agent_token".to_string(), token)]);
        chat.connect(conn, &query, None).await.unwrap();
    }
    // ben away for the first request: ana is offered it, and accepts.
    chat.message(
        &ben,
        &json!({"action": "set_availability", "available": false}).to_string(),
    )
    .await;
    chat.connect(&visitor, &HashMap::new(), None).await.unwrap();
    for frame in [
        json!({"action": "start"}),
        json!({"action": "answer", "card": "ask", "answer": 0}),
        json!({"action": "submit", "card": "first_name", "value": "Jo"}),
        json!({"action": "submit", "card": "email", "value": "jo@x.example"}),
    ] {
        chat.message(&visitor, &frame.to_string()).await;
    }
    for event in scheduler.take_due(now()) {
        chat.delayed(event).await.unwrap();
    }
    let offer = push
        .take(&ana)
        .into_iter()
        .find(|f| f.contains("\"offer\""))
        .expect("offered to ana");
    let conversation =
        serde_json::from_str::<serde_json::Value>(&offer).unwrap()["conversation"].clone();
    let accept = json!({"action": "accept", "conversation": conversation}).to_string();
    chat.message(&ana, &accept).await;
    chat.message(
        &ben,
        &json!({"action": "set_availability", "available": true}).to_string(),
    )
    .await;
    push.take(&ana);
    push.take(&ben);

    let transfer = json!({"action": "transfer", "conversation": conversation, "to": {"team": "sales"}, "note": "VIP"}).to_string();
    let mut measured = Vec::new();
    counter.reset();
    chat.message(&ana, &transfer).await;
    measured.push(("transfer to a team", counter.total(), counter.counts()));
    assert!(push.take(&ben).iter().any(|f| f.contains("\"transfer\"")));
    counter.reset();
    chat.message(
        &ben,
        &json!({"action": "decline", "conversation": conversation}).to_string(),
    )
    .await;
    measured.push(("decline a transfer", counter.total(), counter.counts()));
    chat.message(&ana, &transfer).await;
    counter.reset();
    chat.message(&ben, &accept).await;
    measured.push(("accept a transfer", counter.total(), counter.counts()));
    assert!(
        push.take(&ben)
            .iter()
            .any(|f| f.contains("\"chat_started\""))
    );
    for (name, requests, ops) in &measured {
        println!("DynamoDB requests: {name}: {requests} {ops:?}");
    }
    let cost = |name: &str| measured.iter().find(|(n, ..)| *n == name).unwrap().1;
    // Who the connection is, the conversation, the agents' states (the directory
    // from the process's cache), the team's cursor, the claim; then the receiver's
    // tabs, the visitor's session (the offer's summary) and the sender's tabs.
    assert_eq!(cost("transfer to a team"), 8, "{measured:?}");
    // Who the connection is, the conversation, its compare-and-set, the receiver's
    // release, and the receiver's and the sender's tabs.
    assert_eq!(cost("decline a transfer"), 6, "{measured:?}");
    // Who the connection is, the conversation, its compare-and-set, the sender's
    // release, the sender's tabs (both frames), then as an accept: the receiver's
    // tabs, their subscription, the session, the history and the visitor's tabs.
    assert_eq!(cost("accept a transfer"), 10, "{measured:?}");
}

#[tokio::test]
async fn a_queue_walks_claim_holds_only_while_the_requests_ahead_are_unchanged() {
    let Some(store) = store().await else { return };
    suite::a_queue_walks_claim_holds_only_while_the_requests_ahead_are_unchanged(store.as_ref())
        .await;
}
