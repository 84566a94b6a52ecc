//! The analytics from DynamoDB Streams: a chat run on DynamoDB Local, its table's
//! stream read as Lambda's event source mapping reads it, each record turned into
//! a change by `livechat_aws::dynamo::stream` and recorded; the counters equal the
//! metrics recomputed from the table's final items. This proves the stream's
//! records (old and new images) carry every fact the metrics need.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use livechat_core::analytics::{Day, Zones, recompute, record};
use livechat_core::domain::{AgentId, ConnectionId};
use livechat_core::memory::MemoryStore;
use livechat_core::ports::{AnalyticsStore, ConversationStore, DirectoryStore, SessionStore};
use livechat_tests::dynamodb::{endpoint, fresh_store};
use livechat_tests::{chat_on, test_now};
use serde_json::json;

/// Every record of the table's stream so far, as Lambda would deliver them.
async fn stream_records(endpoint: &str, table: &str) -> Vec<EventRecord> {
    let sdk = livechat_gateway::local_sdk_config();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    let arn = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .and_then(|t| t.latest_stream_arn)
        .expect("the table has a stream");
    let description = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    let mut records = Vec::new();
    livechat_aws::runtime::install_tls_provider();
    let http = reqwest::Client::new();
    for shard in description.shards() {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        // GetRecords is read as JSON, not through the SDK: DynamoDB Local writes an
        // empty map in a stream image as `{}` (DynamoDB writes `{"M": {}}`), which
        // the SDK refuses. An open shard always hands a next iterator back: stop
        // at the first empty page.
        while let Some(it) = iterator {
            let page: serde_json::Value = http
                .post(endpoint)
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amz-target", "DynamoDBStreams_20120810.GetRecords")
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=local/20261201/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                )
                .body(json!({ "ShardIterator": it }).to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let page_records = page["Records"].as_array().cloned().unwrap_or_default();
            if page_records.is_empty() {
                break;
            }
            for r in page_records {
                records.push(livechat_aws::dynamo::stream::record_of_json(r).unwrap());
            }
            iterator = page["NextShardIterator"].as_str().map(str::to_string);
        }
    }
    records
}

#[tokio::test]
async fn the_counters_recorded_from_the_tables_stream_equal_the_recomputation() {
    let Some(endpoint) = endpoint() else { return };
    let (store, _) = fresh_store(&endpoint).await;
    store
        .put_directory(&livechat_core::demo::directory().unwrap())
        .await
        .unwrap();
    let table = store.table().to_string();
    let store = Arc::new(store);
    let (chat, push, scheduler) = chat_on(store.clone());
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
        &AgentId::parse("ana").unwrap(),
        jiff::Timestamp::now(),
        jiff::SignedDuration::from_hours(1),
    );
    chat.connect(
        &ana,
        &HashMap::from([("agent_token".to_string(), token)]),
        None,
    )
    .await
    .unwrap();
    chat.connect(&visitor, &HashMap::new(), None).await.unwrap();
    let say = |frame: serde_json::Value| frame.to_string();
    chat.message(&visitor, &say(json!({"action": "start"})))
        .await;
    chat.message(
        &visitor,
        &say(json!({"action": "answer", "card": "ask", "answer": 0})),
    )
    .await;
    chat.message(
        &visitor,
        &say(json!({"action": "submit", "card": "first_name", "value": "Jo"})),
    )
    .await;
    chat.message(
        &visitor,
        &say(json!({"action": "submit", "card": "email", "value": "jo@x.example"})),
    )
    .await;
    for event in scheduler.take_due(jiff::Timestamp::now()) {
        chat.delayed(event).await.unwrap();
    }
    let offer = push
        .take(&ana)
        .into_iter()
        .find(|f| f.contains("\"offer\""))
        .expect("offered");
    let conversation =
        serde_json::from_str::<serde_json::Value>(&offer).unwrap()["conversation"].clone();
    chat.message(
        &ana,
        &say(json!({"action": "accept", "conversation": conversation})),
    )
    .await;
    chat.message(&visitor, &say(json!({"action": "send_message", "conversation": conversation, "id": "m1", "text": "hello"})))
        .await;
    chat.message(&ana, &say(json!({"action": "send_message", "conversation": conversation, "id": "a1", "text": "hi Jo"})))
        .await;
    chat.message(
        &ana,
        &say(json!({"action": "end_session", "conversation": conversation})),
    )
    .await;

    let records = stream_records(&endpoint, &table).await;
    let changes = livechat_aws::dynamo::stream::changes_of(&{
        let mut event = Event::default();
        event.records = records.clone();
        event
    })
    .unwrap();
    let recorded = MemoryStore::new();
    record(&recorded, &changes, None, test_now()).await.unwrap();
    // A redelivered batch changes nothing.
    record(&recorded, &changes, None, test_now()).await.unwrap();
    let (from, to) = (
        "2000-01-01".parse::<Day>().unwrap(),
        "2200-01-01".parse::<Day>().unwrap(),
    );
    let got = recorded.counters(from, to).await.unwrap();

    let id = livechat_core::domain::ConversationId::parse(conversation.as_str().unwrap()).unwrap();
    let final_conversation = store.conversation(&id).await.unwrap().unwrap();
    let messages = store.messages(&id).await.unwrap();
    let session = store
        .session(final_conversation.visitor(), jiff::Timestamp::now())
        .await
        .unwrap()
        .unwrap();
    let expected = recompute(
        &[final_conversation],
        &messages,
        &[session],
        &Zones::default(),
    );
    assert_eq!(
        got,
        expected,
        "{} stream records, {} changes",
        records.len(),
        changes.len()
    );

    let total = got
        .cells()
        .filter(|((_, b), _)| *b == livechat_core::analytics::Bucket::All)
        .fold(
            livechat_core::analytics::Counters::default(),
            |mut sum, (_, c)| {
                sum.add(c, 1);
                sum
            },
        );
    assert_eq!(
        (
            total.requested,
            total.connected,
            total.first_response.count,
            total.chat_length.count
        ),
        (1, 1, 1, 1),
        "the chat was requested, connected, answered and ended"
    );
    assert_eq!(
        (total.triggered, total.engaged, total.emails_captured),
        (1, 1, 1)
    );

    // The live view's side of the same records: the agent's state writes (her
    // connection, the offer's and the end's capacity) are changes of her, and
    // the index follows the conversation: offered to her up to the accept, gone
    // at the end.
    use livechat_core::analytics::Change;
    use livechat_core::analytics::live::update_index;
    let agent_changes = changes
        .iter()
        .filter(|c| matches!(c, Change::Agent { agent } if agent.as_str() == "ana"))
        .count();
    assert!(agent_changes >= 3, "{agent_changes} changes of ana's state");
    let offered = changes
        .iter()
        .position(|c| {
            matches!(c, Change::Conversation { new: Some(new), .. }
                if new.state().name() == "offered")
        })
        .expect("an offered image");
    let index = MemoryStore::new();
    update_index(&index, &changes[..=offered]).await.unwrap();
    let entries = index.live_entries(test_now()).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].offer.as_ref().map(|o| o.agent.as_str()),
        Some("ana")
    );
    update_index(&index, &changes).await.unwrap();
    update_index(&index, &changes).await.unwrap();
    assert_eq!(index.live_entries(test_now()).await.unwrap(), []);
}

#[tokio::test]
async fn a_sheet_expires_as_long_after_its_last_write_as_the_counters_are_kept() {
    let Some(endpoint) = endpoint() else { return };
    let (store, _) = fresh_store(&endpoint).await;
    let id =
        livechat_core::domain::ConversationId::parse(livechat_core::domain::new_ulid()).unwrap();
    let sheet = livechat_core::analytics::Sheet::default();
    store.save_sheet(&id, &sheet, 0, &[]).await.unwrap();
    let (raw, _) = livechat_tests::dynamodb::client(&endpoint);
    let item = raw
        .get_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("CONV#{id}")),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("SHEET".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
    let days = (ttl - jiff::Timestamp::now().as_second()) / 86_400;
    assert!(
        (774..=775).contains(&days),
        "the sheet expires in {days} days"
    );
}
