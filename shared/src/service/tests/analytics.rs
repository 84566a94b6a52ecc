//! The analytics facts as the real use cases store them: a timeout delivered by
//! the scheduler, a decline, the fallback, an agent lost mid-chat, the dialog walk;
//! and the events read from the items stored after each step aggregate to what
//! the recomputation finds from the final items.

use jiff::SignedDuration;
use serde_json::json;

use super::{Harness, conversation_of};
use crate::analytics::{
    Aggregates, Day, Dimension, Event, Mean, Zones, events_of_conversation, events_of_message,
    events_of_session, recompute,
};
use crate::domain::{Conversation, ConversationId, Message, OfferOutcome, StintStart};
use crate::ports::{Clock, VisitorSession};

/// The items of one conversation as stored after each step, and the events of
/// each change since the step before (several writes of one step show as one
/// change, as a stream consumer that fell behind would see them).
struct Recorder {
    id: ConversationId,
    conversation: Option<Conversation>,
    session: Option<VisitorSession>,
    messages: Vec<Message>,
    events: Vec<Event>,
}

impl Recorder {
    fn new(conversation: &str) -> Self {
        Self {
            id: ConversationId::parse(conversation).unwrap(),
            conversation: None,
            session: None,
            messages: Vec::new(),
            events: Vec::new(),
        }
    }

    async fn snap(&mut self, h: &Harness) {
        let store = &h.chat.ports().store;
        let now = h.clock.now();
        let conv = store.conversation(&self.id).await.unwrap().unwrap();
        let session = store.session(conv.visitor(), now).await.unwrap();
        self.events.extend(events_of_conversation(
            self.conversation.as_ref(),
            Some(&conv),
        ));
        self.events
            .extend(events_of_session(self.session.as_ref(), session.as_ref()));
        let messages = store.messages(&self.id).await.unwrap();
        for m in messages.iter().skip(self.messages.len()) {
            self.events.extend(events_of_message(None, Some(m)));
        }
        self.conversation = Some(conv);
        self.session = session;
        self.messages = messages;
    }

    /// The aggregates of every event, checked equal to the recomputation.
    fn checked(&self) -> Aggregates {
        let mut aggregates = Aggregates::new(Zones::default());
        for e in &self.events {
            aggregates.apply(e);
        }
        let conv = self.conversation.clone().unwrap();
        let sessions: Vec<_> = self.session.clone().into_iter().collect();
        let expected = recompute(&[conv], &self.messages, &sessions, &Zones::default());
        assert_eq!(aggregates.table(), &expected, "aggregates = recompute");
        aggregates
    }
}

fn the_day() -> Day {
    "2026-03-02".parse().unwrap()
}

#[tokio::test]
async fn a_timeout_from_the_scheduler_a_decline_and_the_fallback_are_stored_as_such() {
    let h = Harness::new();
    let ana = h.agent("ana").await;
    let ben = h.agent("ben").await;
    h.frames(&ana);
    h.frames(&ben);
    let (_visitor, frames) = h.visitor_reaching_live_chat().await;
    let conversation = conversation_of(&frames);
    let mut rec = Recorder::new(&conversation);
    rec.snap(&h).await;
    h.pump().await;
    assert_eq!(h.types(&ana), ["offer"]);
    rec.snap(&h).await;

    h.clock.advance(SignedDuration::from_secs(100));
    h.pump().await;
    rec.snap(&h).await;
    assert_eq!(h.types(&ben), ["offer"]);
    h.send(
        &ben,
        json!({"action": "decline", "conversation": conversation}),
    )
    .await;
    h.pump().await;
    rec.snap(&h).await;

    let t = h.stored(&conversation).await.timeline().clone();
    let offers: Vec<_> = t
        .offers
        .iter()
        .map(|o| (o.agent.as_str(), o.outcome))
        .collect();
    assert_eq!(
        offers,
        [
            ("ana", Some(OfferOutcome::TimedOut)),
            ("ben", Some(OfferOutcome::Declined)),
        ]
    );
    assert!(t.unanswered.is_some_and(|u| u.missed), "the fallback");

    let rows = rec
        .checked()
        .table()
        .report(the_day(), the_day(), Dimension::Agent);
    let row = |agent: Option<&str>| {
        rows.iter()
            .find(|r| r.value.as_deref() == agent)
            .unwrap()
            .counters
    };
    assert_eq!(
        (
            row(Some("ana")).offers_timed_out,
            row(Some("ana")).offers_declined
        ),
        (1, 0)
    );
    assert_eq!(
        (
            row(Some("ben")).offers_timed_out,
            row(Some("ben")).offers_declined
        ),
        (0, 1)
    );
    assert_eq!((row(None).requested, row(None).missed), (1, 1));
}

#[tokio::test]
async fn an_agent_lost_mid_chat_ends_their_stint_and_the_next_agents_reply_counts_from_their_accept()
 {
    let h = Harness::new();
    let ana = h.agent("ana").await;
    let (visitor, frames) = h.visitor_reaching_live_chat().await;
    let conversation = conversation_of(&frames);
    let mut rec = Recorder::new(&conversation);
    rec.snap(&h).await;
    h.pump().await;
    h.send(
        &ana,
        json!({"action": "accept", "conversation": conversation}),
    )
    .await;
    rec.snap(&h).await;
    h.clock.advance(SignedDuration::from_secs(4));
    h.send(&ana, json!({"action": "send_message", "conversation": conversation, "id": "a1", "text": "Hello"}))
        .await;
    rec.snap(&h).await;
    let ben = h.agent("ben").await;
    h.chat.disconnect(&ana).await.unwrap();
    h.clock.advance(SignedDuration::from_secs(61));
    h.pump().await;
    rec.snap(&h).await;
    h.send(
        &ben,
        json!({"action": "accept", "conversation": conversation}),
    )
    .await;
    rec.snap(&h).await;
    h.clock.advance(SignedDuration::from_secs(7));
    h.send(&ben, json!({"action": "send_message", "conversation": conversation, "id": "b1", "text": "Ben here"}))
        .await;
    h.send(
        &visitor,
        json!({"action": "send_message", "id": "v1", "text": "thanks"}),
    )
    .await;
    rec.snap(&h).await;
    h.send(
        &ben,
        json!({"action": "score", "conversation": conversation, "score": 3}),
    )
    .await;
    rec.snap(&h).await;

    let t = h.stored(&conversation).await.timeline().clone();
    let stints: Vec<_> = t
        .stints
        .iter()
        .map(|s| (s.agent.as_str(), s.via, s.until.is_some()))
        .collect();
    assert_eq!(
        stints,
        [
            ("ana", StintStart::Accepted, true),
            ("ben", StintStart::Accepted, false),
        ]
    );
    let rows = rec
        .checked()
        .table()
        .report(the_day(), the_day(), Dimension::Agent);
    let row = |agent: &str| {
        rows.iter()
            .find(|r| r.value.as_deref() == Some(agent))
            .unwrap()
            .counters
    };
    assert_eq!(row("ana").first_response, Mean::of(4_000));
    assert_eq!(
        row("ana").chat_length,
        Mean::of(65_000),
        "until she was lost"
    );
    assert_eq!(row("ana").connected, 1);
    assert_eq!(
        row("ben").first_response,
        Mean::of(7_000),
        "from his accept"
    );
    assert_eq!((row("ben").connected, row("ben").score), (0, Mean::of(3)));
}

#[tokio::test]
async fn the_visitors_walk_through_the_demo_dialog_is_engaged_completed_with_a_goal_and_an_email() {
    let h = Harness::new();
    h.agent("ana").await; // someone available: the dialog's branch to live chat
    let (_visitor, frames) = h.visitor_reaching_live_chat().await;
    let mut rec = Recorder::new(&conversation_of(&frames));
    rec.snap(&h).await;
    let day = rec
        .checked()
        .table()
        .report(the_day(), the_day(), Dimension::Day)[0]
        .counters;
    assert_eq!(
        (
            day.triggered,
            day.engaged,
            day.completed,
            day.goals_reached,
            day.emails_captured,
            day.requested
        ),
        (1, 1, 1, 1, 1, 1)
    );
}

#[tokio::test]
async fn each_targeted_dialog_counts_in_its_own_dialog_bucket() {
    let h = Harness::new();
    let v = h.connect(&[]).await.unwrap();
    h.send(
        &v,
        json!({"action": "start", "page_url": "https://acme.example/pricing.html", "dialogs": ["sales", "pricing"]}),
    )
    .await;
    let mut rec = Recorder::new(&conversation_of(&h.frames(&v)));
    rec.snap(&h).await;
    h.send(&v, json!({"action": "answer", "card": "ask", "answer": 1}))
        .await;
    rec.snap(&h).await;
    let rows = rec
        .checked()
        .table()
        .report(the_day(), the_day(), Dimension::Dialog);
    let counted: Vec<(Option<&str>, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.value.as_deref(),
                r.counters.triggered,
                r.counters.completed,
            )
        })
        .collect();
    assert_eq!(counted, [(Some("pricing"), 1, 1)]);
}
