//! The life of a chat request through the local gateway, with real WebSocket
//! clients and a manual clock (no test sleeps through real minutes): offer timeouts,
//! second attempts, declines, late accepts, the fallback and the missed list, agents
//! who drop mid-chat, inactivity, visitors who leave while waiting. After each
//! scenario every conversation it touched must be in a state someone can act on.

use std::sync::Arc;

use jiff::SignedDuration;
use livechat_core::domain::{ConversationId, ConversationState};
use livechat_core::memory::ManualClock;
use livechat_core::ports::{Clock, DelayedEvent};
use livechat_gateway::{Options, Running, start};
use livechat_tests::client::Client;
use serde_json::{Value, json};

struct Life {
    g: Running,
    clock: Arc<ManualClock>,
}

impl Life {
    async fn new() -> Self {
        Self::with(Options::default()).await
    }

    async fn with(options: Options) -> Self {
        // Start at the real time: DynamoDB's TTL (DynamoDB Local's too) deletes
        // items whose expiry is past by the wall clock, so a clock set in the past
        // would see fresh connections vanish.
        let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
        let options = Options {
            listen: "127.0.0.1:0".parse().unwrap(),
            clock: clock.clone(),
            ..options
        };
        Self {
            g: start(options).await.unwrap(),
            clock,
        }
    }

    fn url(&self, query: &str) -> String {
        format!("ws://{}/ws{query}", self.g.addr)
    }

    async fn agent(&self, name: &str) -> Client {
        // The functions check expiry on the manual clock: sign for its time.
        let token = livechat_tests::client::local_agent_token(
            name,
            self.clock.now(),
            SignedDuration::from_hours(24),
        );
        let mut c = Client::connect(&self.url(&format!("?agent_token={token}")))
            .await
            .unwrap();
        c.send(json!({"action": "sync"})).await;
        c.expect("availability").await;
        c
    }

    /// A visitor at the live chat card; returns the client and the conversation.
    async fn visitor(&self) -> (Client, String) {
        let mut v = Client::connect(&self.url("")).await.unwrap();
        let conversation = v
            .walk_to_live_chat(json!({}), "Jo", "jo@small.example")
            .await;
        (v, conversation)
    }

    /// Waits (real time, at most 10 s) until the delay queue holds an event like
    /// `wanted`: the server has handled what the client did, whatever the load.
    async fn queued(&self, wanted: impl Fn(&DelayedEvent) -> bool) {
        let (_, scheduler) = self.g.chat.as_ref().unwrap();
        for _ in 0..200 {
            if scheduler.pending().iter().any(|(_, e)| wanted(e)) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "nothing like that was queued; queue: {:?}",
            scheduler.pending()
        );
    }

    fn advance(&self, secs: i64) {
        self.clock.advance(SignedDuration::from_secs(secs));
    }

    /// Every conversation in `ids` is in a state someone can act on: waiting with a
    /// routing request queued, offered to an agent who holds it with its timeout
    /// queued, live with its agent holding it and the inactivity check queued, or
    /// ended with no agent holding it; and its messages are numbered 1, 2, 3...
    async fn assert_actionable(&self, ids: &[&str]) {
        let (chat, scheduler) = self.g.chat.as_ref().unwrap();
        let store = &chat.ports().store;
        // Let the queue hand out what is due before reading it.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let pending: Vec<DelayedEvent> = scheduler.pending().into_iter().map(|(_, e)| e).collect();
        let queued = |wanted: &dyn Fn(&DelayedEvent) -> bool| pending.iter().any(wanted);
        let directory = store.directory().await.unwrap();
        for id in ids {
            let id = ConversationId::parse(*id).unwrap();
            let conv = store.conversation(&id).await.unwrap().unwrap();
            let holds = |agent: &livechat_core::domain::AgentId| {
                let (store, id) = (store.clone(), id.clone());
                let agent = agent.clone();
                async move { store.agent_chats(&agent).await.unwrap().contains(&id) }
            };
            match conv.state() {
                ConversationState::Bot => {}
                ConversationState::Waiting { .. } => {
                    assert!(
                        queued(
                            &|e| matches!(e, DelayedEvent::Route { conversation } if *conversation == id)
                        ),
                        "{id} waits with nothing queued"
                    );
                }
                ConversationState::Offered { agent, .. } => {
                    assert!(
                        holds(agent).await,
                        "{id} offered to {agent}, who does not hold it"
                    );
                    assert!(
                        queued(
                            &|e| matches!(e, DelayedEvent::OfferTimeout { conversation, .. } if *conversation == id)
                        ),
                        "{id}: no offer timeout queued"
                    );
                }
                ConversationState::Live { agent, .. } => {
                    assert!(
                        holds(agent).await,
                        "{id} live with {agent}, who does not hold it"
                    );
                    assert!(
                        queued(
                            &|e| matches!(e, DelayedEvent::InactivityCheck { conversation } if *conversation == id)
                        ),
                        "{id}: no inactivity check queued"
                    );
                }
                ConversationState::Ended { .. } => {
                    for a in &directory.agents {
                        assert!(
                            !holds(&a.id).await,
                            "{id} ended but {} still holds it",
                            a.id
                        );
                    }
                }
            }
            let seqs: Vec<u64> = store
                .messages(&id)
                .await
                .unwrap()
                .iter()
                .map(|m| m.seq)
                .collect();
            assert_eq!(
                seqs,
                (1..=seqs.len() as u64).collect::<Vec<_>>(),
                "{id}: messages numbered in order"
            );
        }
    }
}

fn offered(frame: &Value) -> String {
    frame["conversation"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_that_times_out_goes_to_a_second_agent_who_accepts() {
    offer_timeout_then_second_agent(Life::new().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_path_also_runs_on_dynamodb_local() {
    let Some(endpoint) = livechat_tests::dynamodb::endpoint() else {
        return;
    };
    let table = format!("life-{}", livechat_core::domain::new_ulid().to_lowercase());
    offer_timeout_then_second_agent(
        Life::with(Options {
            dynamodb_endpoint: Some(endpoint),
            table,
            ..Options::default()
        })
        .await,
    )
    .await;
}

async fn offer_timeout_then_second_agent(life: Life) {
    let mut ana = life.agent("ana").await;
    let mut ben = life.agent("ben").await;
    let (mut visitor, c) = life.visitor().await;
    assert_eq!(offered(&ana.expect("offer").await), c);

    life.advance(101);

    assert_eq!(ana.expect("offer_withdrawn").await["reason"], "timed_out");
    assert_eq!(offered(&ben.expect("offer").await), c);
    ben.send(json!({"action": "accept", "conversation": c}))
        .await;
    ben.expect("chat_started").await;
    assert_eq!(
        visitor.expect("agent_joined").await["agent_name"],
        "Ben Okafor"
    );
    life.assert_actionable(&[&c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_timeouts_end_in_the_fallback_and_a_later_agent_picks_the_request_up() {
    let life = Life::new().await;
    let mut ana = life.agent("ana").await;
    let mut ben = life.agent("ben").await;
    let (mut visitor, c) = life.visitor().await;
    ana.expect("offer").await;
    life.advance(101);
    ben.expect("offer").await;
    life.advance(101);

    let fallback = visitor.expect("fallback").await;
    assert_eq!(fallback["can_leave_details"], true);
    visitor
        .send(json!({"action": "leave_details", "email": "jo@small.example", "message": "Call me"}))
        .await;
    visitor.expect("details_received").await;
    life.assert_actionable(&[&c]).await;

    let mut cleo = life.agent("cleo").await;
    cleo.send(json!({"action": "missed"})).await;
    assert_eq!(
        cleo.expect("missed").await["chats"][0]["conversation"],
        c.as_str()
    );
    cleo.send(json!({"action": "pick_up", "conversation": c}))
        .await;
    assert_eq!(
        cleo.expect("chat_started").await["messages"][0]["text"],
        "Call me"
    );
    assert_eq!(
        visitor.expect("agent_joined").await["agent_name"],
        "Cleo Martin"
    );
    life.assert_actionable(&[&c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_offer_goes_to_the_next_agent_and_a_late_accept_is_refused() {
    let life = Life::new().await;
    let mut ana = life.agent("ana").await;
    let mut ben = life.agent("ben").await;
    let (_visitor, c) = life.visitor().await;
    ana.expect("offer").await;

    ana.send(json!({"action": "decline", "conversation": c}))
        .await;
    assert_eq!(ana.expect("offer_withdrawn").await["reason"], "declined");
    ben.expect("offer").await;
    life.advance(101);
    ben.expect("offer_withdrawn").await;
    ben.send(json!({"action": "accept", "conversation": c}))
        .await;

    assert_eq!(ben.expect("error").await["code"], "forbidden");
    life.assert_actionable(&[&c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_drops_mid_chat_is_replaced_after_the_grace_with_the_history() {
    let life = Life::new().await;
    let mut ana = life.agent("ana").await;
    let (mut visitor, c) = life.visitor().await;
    ana.expect("offer").await;
    ana.send(json!({"action": "accept", "conversation": c}))
        .await;
    visitor.expect("agent_joined").await;
    visitor.send(json!({"action": "send_message", "conversation": c, "id": "v1", "text": "still there?"})).await;
    ana.expect("message").await;
    let mut ben = life.agent("ben").await;

    drop(ana);
    life.queued(|e| matches!(e, DelayedEvent::AgentGrace { .. }))
        .await;
    life.advance(61);

    assert_eq!(visitor.expect("agent_left").await["agent_name"], "Ana Lima");
    assert_eq!(offered(&ben.expect("offer").await), c);
    ben.send(json!({"action": "accept", "conversation": c}))
        .await;
    assert_eq!(
        ben.expect("chat_started").await["messages"][0]["text"],
        "still there?"
    );
    life.assert_actionable(&[&c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_reconnects_within_the_grace_keeps_the_chat() {
    let life = Life::new().await;
    let mut ana = life.agent("ana").await;
    let (mut visitor, c) = life.visitor().await;
    ana.expect("offer").await;
    ana.send(json!({"action": "accept", "conversation": c}))
        .await;
    visitor.expect("agent_joined").await;

    drop(ana);
    life.queued(|e| matches!(e, DelayedEvent::AgentGrace { .. }))
        .await;
    life.advance(20);
    let mut again = life.agent("ana").await;
    life.advance(60);
    again.expect("chat_started").await;
    again.send(json!({"action": "send_message", "conversation": c, "id": "a1", "text": "sorry, network"})).await;

    assert_eq!(
        visitor.expect("message").await["message"]["text"],
        "sorry, network"
    );
    assert!(visitor.seen.iter().all(|f| f["type"] != "agent_left"));
    life.assert_actionable(&[&c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_chat_with_no_message_for_ten_minutes_ends_for_both() {
    let life = Life::new().await;
    let mut ana = life.agent("ana").await;
    let (mut visitor, c) = life.visitor().await;
    ana.expect("offer").await;
    ana.send(json!({"action": "accept", "conversation": c}))
        .await;
    visitor.expect("agent_joined").await;

    life.advance(601);

    assert_eq!(visitor.expect("chat_ended").await["reason"], "timed_out");
    assert_eq!(ana.expect("chat_ended").await["reason"], "timed_out");
    life.assert_actionable(&[&c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_who_leaves_while_waiting_cancels_the_request() {
    let life = Life::new().await;
    let mut ana = life.agent("ana").await;
    let (visitor, c) = life.visitor().await;
    ana.expect("offer").await;

    drop(visitor);
    life.queued(|e| matches!(e, DelayedEvent::VisitorGrace { .. }))
        .await;
    life.advance(61);

    assert_eq!(
        ana.expect("offer_withdrawn").await["reason"],
        "visitor_left"
    );
    life.assert_actionable(&[&c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_request_is_answered_by_email_and_leaves_the_missed_list() {
    let life = Life::new().await;
    let mut ana = life.agent("ana").await;
    let (mut visitor, c) = life.visitor().await;
    ana.expect("offer").await;
    ana.send(json!({"action": "decline", "conversation": c}))
        .await;
    visitor.expect("fallback").await;
    drop(visitor);
    assert_eq!(
        ana.expect("missed").await["chats"][0]["conversation"],
        c.as_str(),
        "online agents see the missed request"
    );

    let mut ben = life.agent("ben").await;
    ben.send(json!({"action": "reply_by_email", "conversation": c, "id": "r1", "text": "Hi Jo, here is the price list."}))
        .await;
    assert_eq!(ben.expect("email_sent").await["to"], "jo@small.example");
    let outbox = std::fs::read_to_string(life.g.outbox.as_ref().unwrap()).unwrap();
    assert!(
        outbox.contains("To: jo@small.example\n")
            && outbox.contains("Hi Jo, here is the price list."),
        "the local gateway writes the email to its outbox: {outbox}"
    );
    // The announcement of the fallback may reach Ben's new inbox too, before the
    // refreshed list: the list it ends on is empty.
    ben.send(json!({"action": "missed"})).await;
    while ben.expect("missed").await["chats"] != json!([]) {}
    ben.send(json!({"action": "history", "conversation": c}))
        .await;
    let transcript = ben.expect("transcript").await;
    let texts: Vec<&str> = transcript["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts.last(), Some(&"Hi Jo, here is the price list."));
    life.assert_actionable(&[&c]).await;
}
