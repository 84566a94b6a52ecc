//! The live queue: a request that finds every available agent at their chat limit
//! waits for a slot (with `settings.queue_wait_limit`), is told its place and wait,
//! and is offered the moment a slot frees; past the limit, the fallback.

use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{Harness, conversation_of};
use crate::domain::{ChatLimit, ConnectionId, ConversationId, QueueWaitLimit};
use crate::routing::QUEUE_POOL;

/// The demo account with every agent at one chat at most, and a queue of
/// `queue_secs` (none: no queue).
fn one_chat_each(queue_secs: Option<u32>) -> Harness {
    Harness::with(|d| {
        for agent in &mut d.agents {
            agent.chat_limit = ChatLimit::new(1).unwrap();
        }
        d.settings.queue_wait_limit = queue_secs.map(|s| QueueWaitLimit::from_secs(s).unwrap());
    })
}

/// A visitor walked to the live chat card, routed: their connection, conversation
/// and the frames they got.
async fn routed_visitor(h: &Harness) -> (ConnectionId, String, Vec<Value>) {
    let (visitor, mut frames) = h.visitor_reaching_live_chat().await;
    let conversation = conversation_of(&frames);
    h.pump().await;
    frames.extend(h.frames(&visitor));
    (visitor, conversation, frames)
}

/// `agent` accepts the offer of `conversation`.
async fn accept(h: &Harness, agent: &ConnectionId, conversation: &str) {
    h.send(
        agent,
        json!({"action": "accept", "conversation": conversation}),
    )
    .await;
}

fn waiting(frames: &[Value]) -> Vec<(Value, Value)> {
    frames
        .iter()
        .filter(|f| f["type"] == "waiting")
        .map(|f| (f["position"].clone(), f["estimated_wait_seconds"].clone()))
        .collect()
}

fn offers(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "offer")
        .map(|f| f["conversation"].as_str().unwrap().to_string())
        .collect()
}

async fn queued(h: &Harness) -> Vec<String> {
    h.chat
        .ports
        .store
        .queue(QUEUE_POOL)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.conversation.to_string())
        .collect()
}

/// The request was not queued: the dialog's own way on for nobody available (the
/// demo's "is anyone available" branch sends the visitor past the live chat), as
/// without a queue, and no place in any queue.
async fn assert_not_queued(h: &Harness, conversation: &str, frames: &[Value]) {
    assert!(
        frames.iter().any(|f| f["type"] == "chat_ended"),
        "{frames:?}"
    );
    assert!(
        waiting(frames).iter().all(|(p, _)| p.is_null()),
        "{frames:?}"
    );
    assert!(queued(h).await.is_empty());
    assert_eq!(h.stored(conversation).await.state().name(), "ended");
}

/// ana online and in a live chat with a first visitor (at her limit of one).
async fn ana_busy(h: &Harness) -> (ConnectionId, ConnectionId, String) {
    let ana = h.agent("ana").await;
    let (first, conversation, _) = routed_visitor(h).await;
    accept(h, &ana, &conversation).await;
    h.frames(&ana);
    h.frames(&first);
    (ana, first, conversation)
}

#[tokio::test]
async fn a_request_is_queued_only_when_every_available_connected_agent_is_at_their_limit() {
    let h = one_chat_each(Some(600));
    let (_ana, _first, _) = ana_busy(&h).await;

    let (_second, conversation, frames) = routed_visitor(&h).await;
    assert_eq!(waiting(&frames).last().unwrap().0, json!(1), "{frames:?}");
    assert!(
        !frames.iter().any(|f| f["type"] == "fallback"),
        "{frames:?}"
    );
    assert_eq!(queued(&h).await, std::slice::from_ref(&conversation));
    let stored = h.stored(&conversation).await;
    assert_eq!(stored.state().name(), "waiting");
}

#[tokio::test]
async fn with_nobody_available_and_connected_a_request_gets_the_fallback_though_a_queue_is_set() {
    let h = one_chat_each(Some(600));
    let (_visitor, conversation, frames) = routed_visitor(&h).await;
    assert_not_queued(&h, &conversation, &frames).await;
}

#[tokio::test]
async fn without_a_queue_wait_limit_everyone_at_their_limit_means_the_fallback_as_before() {
    let h = one_chat_each(None);
    let (_ana, _first, _) = ana_busy(&h).await;
    let (_second, conversation, frames) = routed_visitor(&h).await;
    assert_not_queued(&h, &conversation, &frames).await;
}

#[tokio::test]
async fn queued_visitors_see_their_place_and_a_wait_from_the_measured_chat_lengths() {
    let h = one_chat_each(Some(3600));
    // One chat of five minutes ends first: the mean the estimate uses.
    let (ana, _first, conversation) = ana_busy(&h).await;
    h.clock.advance(SignedDuration::from_secs(300));
    h.send(
        &ana,
        json!({"action": "end_session", "conversation": conversation}),
    )
    .await;
    let (_second, second_conv, _) = routed_visitor(&h).await;
    accept(&h, &ana, &second_conv).await;
    h.frames(&ana);

    let (_third, _, third) = routed_visitor(&h).await;
    let (_fourth, _, fourth) = routed_visitor(&h).await;
    // One agent at their limit: one slot per mean chat length.
    assert_eq!(waiting(&third).last().unwrap(), &(json!(1), json!(300)));
    assert_eq!(waiting(&fourth).last().unwrap(), &(json!(2), json!(600)));
}

#[tokio::test]
async fn the_head_is_offered_when_a_chat_ends_and_the_next_moves_up() {
    let h = one_chat_each(Some(600));
    let (ana, _first, conversation) = ana_busy(&h).await;
    let (_second, second_conv, _) = routed_visitor(&h).await;
    let (third, third_conv, frames) = routed_visitor(&h).await;
    assert_eq!(waiting(&frames).last().unwrap().0, json!(2));

    h.send(
        &ana,
        json!({"action": "end_session", "conversation": conversation}),
    )
    .await;
    assert_eq!(offers(&h.frames(&ana)), std::slice::from_ref(&second_conv));
    assert_eq!(waiting(&h.frames(&third)).last().unwrap().0, json!(1));
    // The offered request keeps its entry (a lapsed offer finds its place).
    assert_eq!(queued(&h).await, [second_conv, third_conv]);
}

#[tokio::test]
async fn the_head_is_offered_when_an_agent_toggles_available() {
    let h = one_chat_each(Some(600));
    let ben = h.agent("ben").await;
    h.send(
        &ben,
        json!({"action": "set_availability", "available": false}),
    )
    .await;
    h.frames(&ben);
    let (_ana, _first, _) = ana_busy(&h).await;
    let (_second, second_conv, frames) = routed_visitor(&h).await;
    assert_eq!(
        waiting(&frames).last().unwrap().0,
        json!(1),
        "ben is away, ana at her limit"
    );

    h.send(
        &ben,
        json!({"action": "set_availability", "available": true}),
    )
    .await;
    assert_eq!(offers(&h.frames(&ben)), [second_conv]);
}

#[tokio::test]
async fn the_head_is_offered_when_an_agent_comes_online() {
    let h = one_chat_each(Some(600));
    let (_ana, _first, _) = ana_busy(&h).await;
    let (_second, second_conv, _) = routed_visitor(&h).await;
    let ben = h.agent("ben").await;
    assert_eq!(offers(&h.frames(&ben)), [second_conv]);
}

#[tokio::test]
async fn past_the_queue_wait_limit_a_queued_request_gets_the_fallback() {
    let h = one_chat_each(Some(60));
    let (_ana, _first, _) = ana_busy(&h).await;
    let (second, second_conv, _) = routed_visitor(&h).await;
    h.clock.advance(SignedDuration::from_secs(59));
    h.pump().await;
    let frames = h.frames(&second);
    assert!(
        !frames.iter().any(|f| f["type"] == "fallback"),
        "not yet: {frames:?}"
    );
    h.clock.advance(SignedDuration::from_secs(1));
    h.pump().await;
    let frames = h.frames(&second);
    assert!(frames.iter().any(|f| f["type"] == "fallback"), "{frames:?}");
    assert!(queued(&h).await.is_empty());
    assert_eq!(h.stored(&second_conv).await.state().name(), "ended");
}

#[tokio::test]
async fn a_lapsed_offer_puts_the_request_back_at_the_head_and_the_slot_goes_to_the_next() {
    let h = one_chat_each(Some(3600));
    let ben = h.agent("ben").await;
    let (ana, _first, conversation) = ana_busy(&h).await;
    let (_b, ben_conv, _) = routed_visitor(&h).await;
    accept(&h, &ben, &ben_conv).await;
    h.frames(&ben);
    let (second, second_conv, _) = routed_visitor(&h).await;
    let (_third, third_conv, _) = routed_visitor(&h).await;

    h.send(
        &ana,
        json!({"action": "end_session", "conversation": conversation}),
    )
    .await;
    assert_eq!(offers(&h.frames(&ana)), std::slice::from_ref(&second_conv));
    h.frames(&second);
    // ana lets it lapse: ben is at his limit, so the request waits again, at the
    // head; ana's slot goes to the next, who was never offered to her.
    h.clock.advance(SignedDuration::from_secs(100));
    h.pump().await;
    assert_eq!(offers(&h.frames(&ana)), [third_conv]);
    assert_eq!(waiting(&h.frames(&second)).last().unwrap().0, json!(1));
    let queue = queued(&h).await;
    assert_eq!(queue[0], second_conv, "kept its ticket: {queue:?}");
    assert_eq!(h.stored(&second_conv).await.state().name(), "waiting");
}

/// The demo account with one chat each and a queue, on a store whose every request
/// yields first (handlers side by side interleave request by request); ana and ben
/// each in a chat, two visitors queued behind them: the harness, ana's and ben's
/// connections and conversations, and the queued conversations.
async fn two_busy_two_queued() -> (Harness, [(ConnectionId, String); 2], [String; 2]) {
    let h = Harness::build(
        |d| {
            for agent in &mut d.agents {
                agent.chat_limit = ChatLimit::new(1).unwrap();
            }
            d.settings.queue_wait_limit = Some(QueueWaitLimit::from_secs(3600).unwrap());
        },
        |push| push,
        true,
        false,
    );
    let ben = h.agent("ben").await;
    let (ana, _first, ana_conv) = ana_busy(&h).await;
    let (_b, ben_conv, _) = routed_visitor(&h).await;
    accept(&h, &ben, &ben_conv).await;
    h.frames(&ben);
    let (_third, third, _) = routed_visitor(&h).await;
    let (_fourth, fourth, _) = routed_visitor(&h).await;
    assert_eq!(queued(&h).await, [third.clone(), fourth.clone()]);
    (h, [(ana, ana_conv), (ben, ben_conv)], [third, fourth])
}

async fn end(h: &Harness, (agent, conversation): &(ConnectionId, String)) {
    h.send(
        agent,
        json!({"action": "end_session", "conversation": conversation}),
    )
    .await;
}

/// How many agents each conversation was offered to, as stored.
async fn offered_counts(h: &Harness, conversations: &[String]) -> Vec<usize> {
    let mut counts = Vec::new();
    for c in conversations {
        counts.push(h.stored(c).await.offered_to().len());
    }
    counts
}

#[tokio::test]
async fn two_slots_freeing_at_once_offer_two_different_heads_in_every_interleaving() {
    for starts in super::staggered(12) {
        let (h, [ana, ben], queued_convs) = two_busy_two_queued().await;
        super::side_by_side(starts, end(&h, &ana), end(&h, &ben)).await;
        let mut offered = offers(&h.frames(&ana.0));
        offered.extend(offers(&h.frames(&ben.0)));
        offered.sort();
        let mut expected = queued_convs.to_vec();
        expected.sort();
        assert_eq!(offered, expected, "{starts:?}: each head once");
        assert_eq!(
            offered_counts(&h, &queued_convs).await,
            [1, 1],
            "{starts:?}"
        );
    }
}

#[tokio::test]
async fn one_slot_walked_twice_at_once_offers_one_head_in_every_interleaving() {
    for starts in super::staggered(12) {
        let (h, [ana, ben], [third, fourth]) = two_busy_two_queued().await;
        // The chat's end and a second walk of the queue (an agent's inbox opening,
        // a redelivered event) for the one slot it frees.
        let walk = async {
            h.chat.slot_freed().await.unwrap();
        };
        super::side_by_side(starts, end(&h, &ana), walk).await;
        assert_eq!(
            offers(&h.frames(&ana.0)),
            std::slice::from_ref(&third),
            "{starts:?}"
        );
        assert_eq!(offers(&h.frames(&ben.0)), Vec::<String>::new());
        assert_eq!(
            offered_counts(&h, &[third.clone(), fourth.clone()]).await,
            [1, 0],
            "{starts:?}: the second waits on"
        );
        assert_eq!(h.stored(&fourth).await.state().name(), "waiting");
    }
}

#[tokio::test]
async fn a_queued_request_routed_by_its_own_timer_leaves_a_free_slot_to_the_one_ahead() {
    let h = one_chat_each(Some(3600));
    let (ana, _first, conversation) = ana_busy(&h).await;
    let (_second, second_conv, _) = routed_visitor(&h).await;
    let (_third, third_conv, _) = routed_visitor(&h).await;
    // ana's slot frees behind the queue's back (a handler that died before its
    // walk), then the second in line is routed by a timer of its own (a reload).
    let id = |c: &str| ConversationId::parse(c.to_string()).unwrap();
    h.chat
        .writer
        .end(&id(&conversation), crate::domain::EndReason::Completed)
        .await
        .unwrap();
    h.frames(&ana);
    h.chat
        .delayed(crate::ports::DelayedEvent::Route {
            conversation: id(&third_conv),
        })
        .await
        .unwrap();
    assert_eq!(offers(&h.frames(&ana)), std::slice::from_ref(&second_conv));
    assert_eq!(h.stored(&third_conv).await.state().name(), "waiting");
}

#[tokio::test]
async fn the_head_is_offered_when_an_agents_schedule_starts() {
    // ben (New York) starts at 05:05 local, five minutes after the harness's
    // 10:00 UTC; he is online before, outside his schedule.
    let h = Harness::with(|d| {
        for agent in &mut d.agents {
            agent.chat_limit = ChatLimit::new(1).unwrap();
            if agent.id.as_str() == "ben" {
                agent.schedule = serde_json::from_value(
                    json!([{"day": "mon", "start": "05:05", "end": "24:00"}]),
                )
                .unwrap();
            }
        }
        d.settings.queue_wait_limit = Some(QueueWaitLimit::from_secs(600).unwrap());
    });
    let ben = h.agent("ben").await;
    h.frames(&ben);
    let (_ana, _first, _) = ana_busy(&h).await;
    let (_second, second_conv, frames) = routed_visitor(&h).await;
    assert_eq!(waiting(&frames).last().unwrap().0, json!(1), "{frames:?}");
    h.clock.advance(SignedDuration::from_secs(4 * 60));
    h.pump().await;
    assert_eq!(offers(&h.frames(&ben)), Vec::<String>::new(), "not yet");
    h.clock.advance(SignedDuration::from_secs(60));
    h.pump().await;
    assert_eq!(offers(&h.frames(&ben)), [second_conv]);
}

#[tokio::test]
async fn a_queued_visitor_who_ends_the_request_moves_those_behind_up() {
    let h = one_chat_each(Some(600));
    let (_ana, _first, _) = ana_busy(&h).await;
    let (second, second_conv, _) = routed_visitor(&h).await;
    let (third, third_conv, frames) = routed_visitor(&h).await;
    assert_eq!(waiting(&frames).last().unwrap().0, json!(2));
    h.send(&second, json!({"action": "end_chat"})).await;
    assert_eq!(h.stored(&second_conv).await.state().name(), "ended");
    assert_eq!(waiting(&h.frames(&third)).last().unwrap().0, json!(1));
    assert_eq!(queued(&h).await, std::slice::from_ref(&third_conv));
}

/// ana live with a first visitor and transferring it to ben (whose slot the
/// offer holds), and a second visitor queued behind them both.
async fn transfer_pending_and_one_queued(
    h: &Harness,
) -> (ConnectionId, ConnectionId, String, String) {
    let (ana, _first, conversation) = ana_busy(h).await;
    let ben = h.agent("ben").await;
    h.frames(&ben);
    h.send(
        &ana,
        json!({"action": "transfer", "conversation": conversation, "to": {"agent": "ben"}}),
    )
    .await;
    h.frames(&ana);
    h.frames(&ben);
    let (_second, second_conv, frames) = routed_visitor(h).await;
    assert_eq!(waiting(&frames).last().unwrap().0, json!(1), "{frames:?}");
    (ana, ben, conversation, second_conv)
}

#[tokio::test]
async fn an_accepted_transfer_frees_the_senders_slot_for_the_queues_head() {
    let h = one_chat_each(Some(600));
    let (ana, ben, conversation, second_conv) = transfer_pending_and_one_queued(&h).await;
    accept(&h, &ben, &conversation).await;
    assert_eq!(offers(&h.frames(&ana)), [second_conv]);
}

#[tokio::test]
async fn a_declined_transfer_frees_the_receivers_slot_for_the_queues_head() {
    let h = one_chat_each(Some(600));
    let (_ana, ben, conversation, second_conv) = transfer_pending_and_one_queued(&h).await;
    h.send(
        &ben,
        json!({"action": "decline", "conversation": conversation}),
    )
    .await;
    assert_eq!(offers(&h.frames(&ben)), [second_conv]);
}
