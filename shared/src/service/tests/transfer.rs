//! Transfers: a live chat handed to another agent or a team's next eligible
//! member, with a note; it stays the sender's until the receiver accepts.

use jiff::SignedDuration;
use serde_json::{Value, json};

use super::{Harness, live_chat_with_ana, side_by_side, staggered};
use crate::domain::{
    AgentId, ChatLimit, ConversationId, ConversationState, StintStart, TransferOutcome,
};
use crate::ports::{Clock, Cursor};

fn id(agent: &str) -> AgentId {
    AgentId::parse(agent).unwrap()
}

/// The chats `agent` holds capacity for.
async fn held(h: &Harness, agent: &str) -> Vec<ConversationId> {
    h.chat.ports().store.agent_chats(&id(agent)).await.unwrap()
}

fn of_type<'a>(frames: &'a [Value], kind: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["type"] == kind).collect()
}

fn types(frames: &[Value]) -> Vec<&str> {
    frames.iter().map(|f| f["type"].as_str().unwrap()).collect()
}

/// ana live with a visitor, ben online: ana transfers the chat to ben.
async fn transferred_to_ben(
    h: &Harness,
) -> (
    super::ConnectionId,
    super::ConnectionId,
    super::ConnectionId,
    String,
) {
    let (ana, visitor, conversation) = live_chat_with_ana(h).await;
    let ben = h.agent("ben").await;
    h.frames(&ben);
    h.send(
        &ana,
        json!({"action": "transfer", "conversation": conversation, "to": {"agent": "ben"}, "note": "Wants <b>enterprise</b> pricing"}),
    )
    .await;
    (ana, ben, visitor, conversation)
}

#[tokio::test]
async fn a_pending_transfer_keeps_the_chat_with_the_sender_and_offers_it_to_the_receiver_with_the_note()
 {
    let h = Harness::new();
    let (ana, ben, visitor, conversation) = transferred_to_ben(&h).await;

    let offers = h.frames(&ben);
    assert_eq!(types(&offers), ["offer"]);
    assert_eq!(offers[0]["conversation"], conversation.as_str());
    assert_eq!(
        offers[0]["transfer"],
        json!({"from": "ana", "from_name": "Ana Lima", "note": "Wants <b>enterprise</b> pricing"})
    );
    let pending = h.frames(&ana);
    assert_eq!(types(&pending), ["transfer_pending"]);
    assert_eq!(pending[0]["to_name"], "Ben Okafor");
    assert!(h.frames(&visitor).is_empty(), "the visitor notices nothing");

    // The sender keeps chatting; the receiver holds a slot for it meanwhile.
    assert!(
        matches!(h.stored(&conversation).await.state(), ConversationState::Live { agent, .. } if agent == &id("ana"))
    );
    h.send(
        &ana,
        json!({"action": "send_message", "conversation": conversation, "id": "m2", "text": "one moment"}),
    )
    .await;
    assert_eq!(h.frames(&visitor)[0]["message"]["text"], "one moment");
    assert_eq!(types(&h.frames(&ana)), ["ack"]);
    assert_eq!(held(&h, "ana").await.len(), 1);
    assert_eq!(held(&h, "ben").await.len(), 1);
    // A second transfer while one is pending is refused with its reason.
    h.send(
        &ana,
        json!({"action": "transfer", "conversation": conversation, "to": {"agent": "cleo"}}),
    )
    .await;
    let failed = h.frames(&ana);
    assert_eq!(
        failed,
        [json!({"type": "transfer_failed", "conversation": conversation, "reason": "pending"})]
    );
}

#[tokio::test]
async fn an_accepted_transfer_moves_the_chat_and_its_capacity_and_the_visitor_sees_who_joined() {
    let h = Harness::new();
    let (ana, ben, visitor, conversation) = transferred_to_ben(&h).await;
    h.frames(&ana);
    h.frames(&ben);
    h.clock.advance(SignedDuration::from_secs(30));
    h.send(
        &ben,
        json!({"action": "accept", "conversation": conversation}),
    )
    .await;

    let started = h.frames(&ben);
    assert_eq!(types(&started), ["chat_started"]);
    assert_eq!(started[0]["messages"][0]["text"], "are you there?");
    let told = h.frames(&ana);
    assert_eq!(types(&told), ["transfer_ended", "chat_moved"]);
    assert_eq!(told[0]["outcome"], "accepted");
    assert_eq!(
        h.frames(&visitor),
        [json!({"type": "agent_joined", "agent_name": "Ben Okafor"})]
    );
    assert!(
        held(&h, "ana").await.is_empty(),
        "the sender's slot is freed"
    );
    assert_eq!(held(&h, "ben").await.len(), 1);

    // The record says who held it when: ana's stint ends at the accept.
    let conv = h.stored(&conversation).await;
    let accepted_at = h.clock.now();
    let stints: Vec<_> = conv
        .timeline()
        .stints
        .iter()
        .map(|s| (s.agent.as_str(), s.via, s.until))
        .collect();
    assert_eq!(
        stints,
        [
            ("ana", StintStart::Accepted, Some(accepted_at)),
            ("ben", StintStart::Transferred, None),
        ]
    );
    assert_eq!(
        conv.timeline().transfers[0].outcome,
        Some(TransferOutcome::Accepted)
    );
    // ben chats now; ana no longer can.
    h.send(
        &ana,
        json!({"action": "send_message", "conversation": conversation, "id": "late", "text": "still me"}),
    )
    .await;
    assert_eq!(h.frames(&ana)[0]["type"], "error");
    assert!(h.frames(&visitor).is_empty());
}

#[tokio::test]
async fn a_declined_transfer_returns_to_the_sender_with_the_reason_and_frees_the_receiver() {
    let h = Harness::new();
    let (ana, ben, visitor, conversation) = transferred_to_ben(&h).await;
    h.frames(&ana);
    h.frames(&ben);
    h.send(
        &ben,
        json!({"action": "decline", "conversation": conversation}),
    )
    .await;
    assert_eq!(
        h.frames(&ben),
        [json!({"type": "offer_withdrawn", "conversation": conversation, "reason": "declined"})]
    );
    let told = h.frames(&ana);
    assert_eq!(types(&told), ["transfer_ended"]);
    assert_eq!(told[0]["outcome"], "declined");
    assert!(h.frames(&visitor).is_empty());
    assert!(held(&h, "ben").await.is_empty());
    assert_eq!(held(&h, "ana").await.len(), 1);
    let conv = h.stored(&conversation).await;
    assert!(conv.transfer().is_none());
    assert!(matches!(conv.state(), ConversationState::Live { agent, .. } if agent == &id("ana")));
}

#[tokio::test]
async fn an_unanswered_transfer_times_out_at_the_wait_time_limit_and_the_chat_never_left_the_sender()
 {
    let h = Harness::new();
    let (ana, ben, _visitor, conversation) = transferred_to_ben(&h).await;
    h.frames(&ana);
    h.frames(&ben);
    // The demo account's wait time limit is 100 seconds.
    h.clock.advance(SignedDuration::from_secs(99));
    h.pump().await;
    assert!(h.frames(&ana).is_empty(), "not yet");
    h.clock.advance(SignedDuration::from_secs(1));
    h.pump().await;
    assert_eq!(
        h.frames(&ben),
        [json!({"type": "offer_withdrawn", "conversation": conversation, "reason": "timed_out"})]
    );
    let told = h.frames(&ana);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["outcome"], "timed_out");
    assert!(held(&h, "ben").await.is_empty());
    // A late accept finds nothing to accept.
    h.send(
        &ben,
        json!({"action": "accept", "conversation": conversation}),
    )
    .await;
    assert_eq!(h.frames(&ben)[0]["code"], "forbidden");
    assert!(
        matches!(h.stored(&conversation).await.state(), ConversationState::Live { agent, .. } if agent == &id("ana"))
    );
}

#[tokio::test]
async fn ending_the_chat_while_a_transfer_is_pending_cancels_it_and_frees_both_agents() {
    let h = Harness::new();
    let (ana, ben, _visitor, conversation) = transferred_to_ben(&h).await;
    h.frames(&ana);
    h.frames(&ben);
    h.send(
        &ana,
        json!({"action": "end_session", "conversation": conversation}),
    )
    .await;
    assert_eq!(
        h.frames(&ben),
        [json!({"type": "offer_withdrawn", "conversation": conversation, "reason": "cancelled"})]
    );
    assert_eq!(types(&h.frames(&ana)), ["chat_ended", "transfer_ended"]);
    assert!(held(&h, "ana").await.is_empty());
    assert!(held(&h, "ben").await.is_empty());
    let conv = h.stored(&conversation).await;
    assert_eq!(
        conv.timeline().transfers[0].outcome,
        Some(TransferOutcome::Cancelled)
    );
    // Its timeout, delivered later, changes nothing.
    h.clock.advance(SignedDuration::from_secs(100));
    h.pump().await;
    assert!(h.frames(&ana).is_empty() && h.frames(&ben).is_empty());
}

#[tokio::test]
async fn a_team_transfer_uses_the_team_cursor_and_skips_the_sender() {
    let h = Harness::new();
    let (ana, _visitor, conversation) = live_chat_with_ana(&h).await;
    let ben = h.agent("ben").await;
    let cleo = h.agent("cleo").await;
    h.frames(&ben);
    h.frames(&cleo);
    // The team's cursor last gave cleo a chat: ana is next, but she sends it.
    let store = &h.chat.ports().store;
    let before = store.cursor("team:sales").await.unwrap();
    let claim_cursor = crate::ports::CursorMove {
        pool: "team:sales".into(),
        expected_version: before.version,
        last: id("cleo"),
        served: before.served,
    };
    move_cursor(&h, claim_cursor).await;
    h.send(
        &ana,
        json!({"action": "transfer", "conversation": conversation, "to": {"team": "sales"}}),
    )
    .await;
    assert_eq!(types(&h.frames(&ben)), ["offer"]);
    assert!(h.frames(&cleo).is_empty());
    let after: Cursor = store.cursor("team:sales").await.unwrap();
    assert_eq!(after.last, Some(id("ben")));
    assert_eq!(
        after.version,
        before.version + 2,
        "moved once by the transfer"
    );

    // Why ben: the trace names the team, the sender skipped, the cursor's move.
    h.send(
        &ana,
        json!({"action": "routing_trace", "conversation": conversation}),
    )
    .await;
    let frames = h.frames(&ana);
    let traces = of_type(&frames, "routing_trace")[0]["traces"]
        .as_array()
        .unwrap()
        .clone();
    let last = traces.last().unwrap();
    assert_eq!(last["pools"][0]["via"], "transfer");
    assert_eq!(last["pools"][0]["pool"], "team:sales");
    assert_eq!(last["pools"][0]["cursor_before"], "cleo");
    assert_eq!(last["pools"][0]["cursor_after"], "ben");
    let verdicts: Vec<(&str, &str)> = last["pools"][0]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["agent"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [("ana", "sender"), ("ben", "chosen"), ("cleo", "eligible")]
    );
}

/// Moves a pool's cursor as a claim would, with a throwaway conversation.
async fn move_cursor(h: &Harness, mv: crate::ports::CursorMove) {
    let store = &h.chat.ports().store;
    let mut conv = crate::domain::Conversation::new(
        ConversationId::parse("cursor-mover").unwrap(),
        crate::domain::VisitorId::parse("nobody").unwrap(),
        crate::domain::DialogId::parse("d").unwrap(),
        h.clock.now(),
    );
    store.create_conversation(&conv).await.unwrap();
    let expected = conv.version();
    conv.request_live_chat(h.clock.now()).unwrap();
    conv.offer(mv.last.clone(), h.clock.now()).unwrap();
    let claim = crate::ports::OfferClaim {
        conversation: conv,
        expected_version: expected,
        agent: mv.last.clone(),
        limit: ChatLimit::new(9).unwrap(),
        cursor: Some(mv),
        trace: None,
        ahead: Vec::new(),
    };
    assert_eq!(
        store.claim_offer(&claim).await.unwrap(),
        crate::ports::ClaimOutcome::Claimed
    );
}

#[tokio::test]
async fn a_busy_or_offline_receiver_is_refused_with_the_reason_and_nothing_changes() {
    let h = Harness::with(|d| {
        if let Some(ben) = d.agents.iter_mut().find(|a| a.id.as_str() == "ben") {
            ben.chat_limit = ChatLimit::new(1).unwrap();
        }
    });
    // ben takes a first chat: he is at his limit of one.
    let ben = h.agent("ben").await;
    h.visitor_reaching_live_chat().await;
    h.pump().await;
    let offered = h.frames(&ben);
    let first = of_type(&offered, "offer")[0]["conversation"].clone();
    h.send(&ben, json!({"action": "accept", "conversation": first}))
        .await;
    let (ana, _visitor, conversation) = live_chat_with_ana(&h).await;
    h.frames(&ben);
    let version = h.stored(&conversation).await.version();
    for (to, reason) in [
        (json!({"agent": "ben"}), "at_limit"),
        (json!({"agent": "cleo"}), "offline"),
        (json!({"agent": "ana"}), "yourself"),
        (json!({"agent": "mia"}), "no_live_chat"),
        (json!({"agent": "nobody"}), "unknown_agent"),
        (json!({"team": "nobody"}), "unknown_team"),
        (json!({"team": "sales"}), "nobody_eligible"),
    ] {
        h.send(
            &ana,
            json!({"action": "transfer", "conversation": conversation, "to": to}),
        )
        .await;
        assert_eq!(
            h.frames(&ana),
            [json!({"type": "transfer_failed", "conversation": conversation, "reason": reason})],
            "{to}"
        );
    }
    assert!(h.frames(&ben).is_empty());
    assert_eq!(h.stored(&conversation).await.version(), version);
    assert_eq!(held(&h, "ben").await.len(), 1);
}

#[tokio::test]
async fn only_the_agent_live_with_the_chat_transfers_it_and_a_bad_target_is_refused_by_field() {
    let h = Harness::new();
    let (_ana, _visitor, conversation) = live_chat_with_ana(&h).await;
    let ben = h.agent("ben").await;
    h.frames(&ben);
    h.send(
        &ben,
        json!({"action": "transfer", "conversation": conversation, "to": {"agent": "cleo"}}),
    )
    .await;
    assert_eq!(h.frames(&ben)[0]["code"], "forbidden");
    for to in [
        json!("ben"),
        json!({"agent": "ben", "team": "sales"}),
        json!({}),
    ] {
        h.send(
            &ben,
            json!({"action": "transfer", "conversation": conversation, "to": to}),
        )
        .await;
        let frames = h.frames(&ben);
        assert_eq!(frames[0]["code"], "bad_field", "{to}: {frames:?}");
        assert!(frames[0]["message"].as_str().unwrap().contains("to"));
    }
    let long = "x".repeat(crate::domain::MAX_TRANSFER_NOTE_CHARS + 1);
    h.send(
        &ben,
        json!({"action": "transfer", "conversation": conversation, "to": {"agent": "cleo"}, "note": long}),
    )
    .await;
    assert_eq!(h.frames(&ben)[0]["code"], "bad_field");
}

#[tokio::test]
async fn two_tabs_accepting_one_transfer_take_it_once() {
    for starts in staggered(12) {
        let h = Harness::interleaved();
        let (ana, ben_tab, _visitor, conversation) = transferred_to_ben(&h).await;
        let second_tab = h.agent("ben").await;
        h.frames(&ana);
        h.frames(&second_tab);
        let first = h.send(
            &ben_tab,
            json!({"action": "accept", "conversation": conversation}),
        );
        let second = h.send(
            &second_tab,
            json!({"action": "accept", "conversation": conversation}),
        );
        side_by_side(starts, first, second).await;
        let told = h.frames(&ana);
        assert_eq!(
            of_type(&told, "chat_moved").len(),
            1,
            "{starts:?}: {told:?}"
        );
        assert!(held(&h, "ana").await.is_empty(), "{starts:?}");
        assert_eq!(held(&h, "ben").await.len(), 1, "{starts:?}");
        assert_eq!(h.stored(&conversation).await.timeline().stints.len(), 2);
    }
}

#[tokio::test]
async fn an_accept_racing_the_end_of_the_chat_is_exactly_once_and_leaves_no_capacity_held() {
    let (mut accepted, mut ended) = (false, false);
    for starts in staggered(16) {
        let h = Harness::interleaved();
        let (ana, ben, _visitor, conversation) = transferred_to_ben(&h).await;
        h.frames(&ana);
        h.frames(&ben);
        let accept = h.send(
            &ben,
            json!({"action": "accept", "conversation": conversation}),
        );
        let end = h.send(
            &ana,
            json!({"action": "end_session", "conversation": conversation}),
        );
        side_by_side(starts, accept, end).await;
        let conv = h.stored(&conversation).await;
        assert!(held(&h, "ana").await.is_empty(), "{starts:?}");
        match conv.state() {
            ConversationState::Live { agent, .. } => {
                assert_eq!(agent, &id("ben"));
                assert_eq!(held(&h, "ben").await.len(), 1, "{starts:?}");
                accepted = true;
            }
            ConversationState::Ended { .. } => {
                assert!(held(&h, "ben").await.is_empty(), "{starts:?}");
                assert_eq!(
                    conv.timeline().transfers[0].outcome,
                    Some(TransferOutcome::Cancelled)
                );
                ended = true;
            }
            other => panic!("{starts:?}: {other:?}"),
        }
        assert!(conv.transfer().is_none());
    }
    assert!(accepted && ended, "both orders happened");
}

#[tokio::test]
async fn tabs_opened_while_a_transfer_is_pending_show_it_on_both_sides() {
    let h = Harness::new();
    let (_ana, _ben, _visitor, conversation) = transferred_to_ben(&h).await;
    let ben_again = h.agent("ben").await;
    let frames = h.frames(&ben_again);
    let offers = of_type(&frames, "offer");
    assert_eq!(offers.len(), 1, "{frames:?}");
    assert_eq!(offers[0]["conversation"], conversation.as_str());
    assert_eq!(
        offers[0]["transfer"]["note"],
        "Wants <b>enterprise</b> pricing"
    );
    let ana_again = h.agent("ana").await;
    let frames = h.frames(&ana_again);
    assert_eq!(of_type(&frames, "chat_started").len(), 1);
    assert_eq!(of_type(&frames, "transfer_pending")[0]["to"], "ben");
}

#[tokio::test]
async fn a_receiver_gone_for_the_grace_declines_the_transfer_and_the_chat_stays_with_the_sender() {
    let h = Harness::new();
    let (ana, ben, _visitor, conversation) = transferred_to_ben(&h).await;
    h.frames(&ana);
    h.chat.disconnect(&ben).await.unwrap();
    h.clock.advance(SignedDuration::from_secs(61));
    h.pump().await;
    let told = h.frames(&ana);
    assert_eq!(types(&told), ["transfer_ended"], "{told:?}");
    assert_eq!(told[0]["outcome"], "declined");
    assert!(held(&h, "ben").await.is_empty());
    assert!(
        matches!(h.stored(&conversation).await.state(), ConversationState::Live { agent, .. } if agent == &id("ana"))
    );
}

#[tokio::test]
async fn a_sender_gone_for_the_grace_cancels_the_transfer_and_the_chat_is_routed_again() {
    let h = Harness::new();
    let (ana, ben, _visitor, conversation) = transferred_to_ben(&h).await;
    h.frames(&ben);
    h.chat.disconnect(&ana).await.unwrap();
    h.clock.advance(SignedDuration::from_secs(61));
    h.pump().await;
    let frames = h.frames(&ben);
    assert_eq!(types(&frames), ["offer_withdrawn", "offer"], "{frames:?}");
    assert_eq!(frames[0]["reason"], "cancelled");
    assert!(frames[1].get("transfer").is_none(), "a plain offer now");
    assert!(held(&h, "ana").await.is_empty());
    assert_eq!(held(&h, "ben").await.len(), 1, "the new offer's slot only");
    let conv = h.stored(&conversation).await;
    assert_eq!(
        conv.timeline().transfers[0].outcome,
        Some(TransferOutcome::Cancelled)
    );
}

#[tokio::test]
async fn a_decline_that_died_before_its_release_is_repaired_by_the_settle() {
    let h = Harness::new();
    let (_ana, _ben, _visitor, conversation) = transferred_to_ben(&h).await;
    // The decline wrote the conversation, then its handler died: ben holds it still.
    let store = &h.chat.ports().store;
    let mut conv = h.stored(&conversation).await;
    let version = conv.version();
    conv.end_transfer(&id("ben"), h.clock.now()).unwrap();
    store.replace_conversation(&conv, version).await.unwrap();
    assert_eq!(held(&h, "ben").await.len(), 1);
    h.chat
        .delayed(crate::ports::DelayedEvent::Settle {
            conversation: conv.id().clone(),
        })
        .await
        .unwrap();
    assert!(held(&h, "ben").await.is_empty());
    assert_eq!(held(&h, "ana").await.len(), 1, "the sender keeps the chat");
}
