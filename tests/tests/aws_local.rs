//! The most faithful local AWS run (`scripts/aws-local.sh` sets it up and runs
//! these): the four functions as separate processes, each against its own Lambda
//! Runtime API, with their real SDK clients on DynamoDB Local, moto's SQS (the delay
//! queue, with a dead-letter queue and a redrive policy) and moto's SES v2; the
//! local gateway as the WebSocket API and `@connections`, polling the real queue as
//! Lambda's SQS event source mapping does (`--sqs-queue-url`).
//!
//! Every wait here is real (the SQS delays and visibility timeouts are the queue's),
//! so the frames are awaited with generous bounds; nothing asserts how long anything
//! took. Skipped unless `LIVECHAT_AWS_LOCAL_GATEWAY` is set (the script sets it).

use std::path::PathBuf;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use livechat_core::domain::ConversationId;
use livechat_core::ports::{DelayedEvent, ScheduledEvent};
use livechat_tests::client::Client;
use serde_json::{Value, json};

/// How long a frame that follows an SQS delay may take: the wait time limit the
/// script seeds (10 s) plus the poller's long poll, with room for a loaded machine.
const DELAYED: Duration = Duration::from_secs(60);

/// What `scripts/aws-local.sh` started.
struct Setup {
    /// The gateway's `host:port`.
    gateway: String,
    /// moto's endpoint (SQS, SES v2 and its `/moto-api/`).
    moto: String,
    queue_url: String,
    dlq_url: String,
    table: String,
    dynamodb: String,
    /// `NOTIFY_FROM_EMAIL`, verified in moto's SES.
    from: String,
    /// The queue's redrive `maxReceiveCount`.
    max_receive_count: usize,
    /// The folder of the functions' logs (`NAME.log`).
    logs: PathBuf,
}

fn setup() -> Option<Setup> {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (scripts/aws-local.sh)"))
    };
    if std::env::var_os("LIVECHAT_AWS_LOCAL_GATEWAY").is_none() {
        eprintln!(
            "LIVECHAT_AWS_LOCAL_GATEWAY is not set: skipping (scripts/aws-local.sh runs these)"
        );
        return None;
    }
    Some(Setup {
        gateway: var("LIVECHAT_AWS_LOCAL_GATEWAY"),
        moto: var("LIVECHAT_AWS_LOCAL_MOTO"),
        queue_url: var("LIVECHAT_AWS_LOCAL_QUEUE_URL"),
        dlq_url: var("LIVECHAT_AWS_LOCAL_DLQ_URL"),
        table: var("LIVECHAT_AWS_LOCAL_TABLE"),
        dynamodb: var("DYNAMODB_ENDPOINT"),
        from: var("LIVECHAT_AWS_LOCAL_FROM"),
        max_receive_count: var("LIVECHAT_AWS_LOCAL_MAX_RECEIVE_COUNT")
            .parse()
            .expect("a number"),
        logs: PathBuf::from(var("LIVECHAT_AWS_LOCAL_LOGS")),
    })
}

impl Setup {
    fn origin(&self) -> String {
        format!("http://{}", self.gateway)
    }

    /// An agent's inbox socket, opened from the gateway's own pages, synced.
    async fn agent(&self, name: &str) -> Client {
        let token = livechat_tests::client::local_agent_token(
            name,
            Timestamp::now(),
            SignedDuration::from_hours(1),
        );
        let url = format!("ws://{}/ws?agent_token={token}", self.gateway);
        let mut c = Client::connect_from(&url, &self.origin()).await.unwrap();
        c.send(json!({"action": "sync"})).await;
        assert_eq!(c.expect("availability").await["available"], true);
        c
    }

    /// A visitor who walks the demo dialog to its live chat card, giving `name` and
    /// `email`; returns the client and the conversation.
    async fn visitor(&self, name: &str, email: &str) -> (Client, String) {
        let url = format!("ws://{}/ws", self.gateway);
        let mut v = Client::connect_from(&url, &self.origin()).await.unwrap();
        let start = json!({"page_url": "https://acme.example/pricing"});
        let conversation = v.walk_to_live_chat(start, name, email).await;
        (v, conversation)
    }

    fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&livechat_gateway::local_sdk_config())
                .endpoint_url(&self.moto)
                .build(),
        )
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&livechat_gateway::local_sdk_config())
                .endpoint_url(&self.dynamodb)
                .build(),
        )
    }

    /// The emails moto's SES holds, as `/moto-api/data.json` lists them.
    async fn emails(&self) -> Vec<Value> {
        livechat_aws::runtime::install_tls_provider();
        let data: Value = reqwest::get(format!("{}/moto-api/data.json", self.moto))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Which of `a` and `b` is offered `conversation` first: `true` for `a`.
async fn offered_first(a: &mut Client, b: &mut Client, conversation: &str) -> bool {
    let (is_a, offer) = tokio::select! {
        offer = a.expect_within("offer", DELAYED) => (true, offer),
        offer = b.expect_within("offer", DELAYED) => (false, offer),
    };
    assert_eq!(offer["conversation"], conversation);
    is_a
}

fn agent_name(id: &str) -> &'static str {
    match id {
        "ana" => "Ana Lima",
        "ben" => "Ben Okafor",
        other => panic!("no demo agent {other} here"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_times_out_on_one_agent_and_is_taken_by_another_then_a_missed_request_is_emailed() {
    let Some(s) = setup() else {
        return;
    };
    let mut ana = s.agent("ana").await;
    let mut ben = s.agent("ben").await;

    // The first agent is offered the chat and lets it lapse: the offer timeout comes
    // back from the queue after the wait time limit (SQS DelaySeconds), and the
    // second attempt goes to the other agent, who accepts.
    let (mut visitor, c) = s.visitor("Jo", "jo@small.example").await;
    let ana_first = offered_first(&mut ana, &mut ben, &c).await;
    let ((first, first_id), (second, second_id)) = if ana_first {
        ((&mut ana, "ana"), (&mut ben, "ben"))
    } else {
        ((&mut ben, "ben"), (&mut ana, "ana"))
    };
    let withdrawn = first.expect_within("offer_withdrawn", DELAYED).await;
    assert_eq!(withdrawn["conversation"], c.as_str());
    assert_eq!(withdrawn["reason"], "timed_out");
    let offer = second.expect_within("offer", DELAYED).await;
    assert_eq!(offer["conversation"], c.as_str());
    assert_eq!(offer["visitor"]["name"], "Jo");
    second
        .send(json!({"action": "accept", "conversation": c}))
        .await;
    assert_eq!(
        second.expect("chat_started").await["conversation"],
        c.as_str()
    );
    assert_eq!(
        visitor.expect("agent_joined").await["agent_name"],
        agent_name(second_id)
    );

    visitor
        .send(json!({"action": "send_message", "id": "v-1", "text": "How much for 20 seats?"}))
        .await;
    visitor.expect("ack").await;
    assert_eq!(
        second.expect("message").await["message"]["text"],
        "How much for 20 seats?"
    );
    second
        .send(
            json!({"action": "send_message", "conversation": c, "id": "a-1", "text": "€12 a seat"}),
        )
        .await;
    let reply = loop {
        let m = visitor.expect("message").await;
        if m["message"]["id"] == "a-1" {
            break m;
        }
    };
    assert_eq!(reply["message"]["text"], "€12 a seat");
    assert_eq!(reply["message"]["seq"], 2);
    second
        .send(json!({"action": "end_session", "conversation": c}))
        .await;
    assert_eq!(visitor.expect("chat_ended").await["reason"], "completed");
    assert_eq!(
        second.expect("chat_ended").await["conversation"],
        c.as_str()
    );
    assert!(
        first
            .seen
            .iter()
            .all(|f| !(f["type"] == "offer" && f["conversation"] == c.as_str())),
        "{first_id} was offered the chat once: {:?}",
        first.seen
    );
    drop(visitor);

    // A second visitor: both agents decline, the visitor gets the fallback, and the
    // missed request is answered by email, through SES v2 (moto's).
    let (mut visitor, c) = s.visitor("Sam", "sam@visitor.example").await;
    let ana_first = offered_first(&mut ana, &mut ben, &c).await;
    let ((first, _), (second, second_id)) = if ana_first {
        ((&mut ana, "ana"), (&mut ben, "ben"))
    } else {
        ((&mut ben, "ben"), (&mut ana, "ana"))
    };
    first
        .send(json!({"action": "decline", "conversation": c}))
        .await;
    assert_eq!(first.expect("offer_withdrawn").await["reason"], "declined");
    let offer = second.expect_within("offer", DELAYED).await;
    assert_eq!(offer["conversation"], c.as_str());
    second
        .send(json!({"action": "decline", "conversation": c}))
        .await;
    assert_eq!(second.expect("offer_withdrawn").await["reason"], "declined");
    assert_eq!(
        visitor.expect_within("fallback", DELAYED).await["can_leave_details"],
        true
    );
    drop(visitor);

    let before = s.emails().await.len();
    second.send(json!({"action": "reply_by_email", "conversation": c, "id": "r1", "text": "Hi Sam, here is the price list."})).await;
    assert_eq!(
        second.expect("email_sent").await["to"],
        "sam@visitor.example"
    );
    let emails = s.emails().await;
    let to_sam: Vec<&Value> = emails[before..]
        .iter()
        .filter(|m| m["destinations"]["ToAddresses"] == json!(["sam@visitor.example"]))
        .collect();
    assert_eq!(to_sam.len(), 1, "one email to the visitor: {emails:?}");
    assert_eq!(to_sam[0]["source"], s.from.as_str());
    assert_eq!(to_sam[0]["subject"], "Re: your chat request");
    assert_eq!(
        to_sam[0]["body"],
        format!(
            "Hi Sam, here is the price list.\n\n{}",
            agent_name(second_id)
        )
    );

    // The analytics function, its own process fed by the table's stream as the
    // event source mapping feeds it, recorded the conversation within seconds.
    use livechat_core::ports::AnalyticsStore;
    let store = livechat_aws::dynamo::DynamoStore::new(s.dynamodb(), &s.table);
    let conversation = livechat_core::domain::ConversationId::parse(c.as_str()).unwrap();
    let mut version = 0;
    for _ in 0..60 {
        version = store.sheet(&conversation).await.unwrap().1;
        if version > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        version > 0,
        "the analytics function recorded nothing in 30 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_item_goes_to_the_dead_letter_queue_and_its_batch_mate_does_not() {
    let Some(s) = setup() else {
        return;
    };
    // A routing request for a conversation whose stored record cannot be read:
    // route-to-agent reports that item failed (a fault of ours, not the event's), at
    // every delivery. Beside it, one that no longer applies (a conversation that is
    // not there): dropped, so it succeeds.
    let poison = ConversationId::generate();
    s.dynamodb()
        .put_item()
        .table_name(&s.table)
        .item(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("CONV#{poison}")),
        )
        .item(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("META".into()),
        )
        .item(
            "conversation",
            aws_sdk_dynamodb::types::AttributeValue::S("not a conversation".into()),
        )
        .send()
        .await
        .unwrap();
    let body = |conversation: ConversationId| {
        serde_json::to_string(&ScheduledEvent {
            at: Timestamp::now(),
            event: DelayedEvent::Route { conversation },
        })
        .unwrap()
    };
    let poison_body = body(poison.clone());
    let gone_body = body(ConversationId::generate());
    let sqs = s.sqs();
    let sent = sqs
        .send_message_batch()
        .queue_url(&s.queue_url)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("poison")
                .message_body(&poison_body)
                .build()
                .unwrap(),
        )
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("gone")
                .message_body(&gone_body)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let message_id = |entry: &str| {
        sent.successful()
            .iter()
            .find(|e| e.id() == entry)
            .map(|e| e.message_id().to_string())
            .unwrap()
    };
    let (poison_id, gone_id) = (message_id("poison"), message_id("gone"));

    // The gateway delivers it maxReceiveCount times (each after the visibility
    // timeout); the next receive finds it over the count and the queue moves it.
    let mut in_dlq = Vec::new();
    for _ in 0..12 {
        let received = sqs
            .receive_message()
            .queue_url(&s.dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(5)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        in_dlq.extend(received.messages().iter().cloned());
        if !in_dlq.is_empty() {
            break;
        }
    }
    // Anything else the queue were to move would have gone with it.
    let received = sqs
        .receive_message()
        .queue_url(&s.dlq_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    in_dlq.extend(received.messages().iter().cloned());
    let ids: Vec<&str> = in_dlq.iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(
        ids,
        [poison_id.as_str()],
        "the DLQ holds exactly the failing item"
    );
    assert_eq!(in_dlq[0].body(), Some(poison_body.as_str()));
    // Our receive counts too: the gateway's maxReceiveCount deliveries, then ours.
    assert_eq!(
        in_dlq[0]
            .attributes()
            .and_then(
                |a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            )
            .map(String::as_str),
        Some((s.max_receive_count + 1).to_string().as_str())
    );

    // route-to-agent saw the failing item exactly maxReceiveCount times, and its
    // batch mate once (it was deleted after that delivery, not delivered again).
    let log = std::fs::read_to_string(s.logs.join("route-to-agent.log")).unwrap();
    let lines_with = |id: &str, text: &str| {
        log.lines()
            .filter(|l| l.contains(id) && l.contains(text))
            .count()
    };
    assert_eq!(
        lines_with(&poison_id, "delayed event failed; SQS will retry it"),
        s.max_receive_count
    );
    assert_eq!(
        lines_with(&gone_id, "dropped a delayed event that no longer applies"),
        1
    );
}
