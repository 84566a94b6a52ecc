//! The definitions of docs/analytics.md, one test each; idempotency and order;
//! days in a zone with daylight saving; and generated histories whose aggregates
//! must equal the independent recomputation exactly.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::dialog::{Context, DialogState, Position, VisitorAction, advance};
use crate::domain::{
    AgentId, CardId, Conversation, ConversationId, DialogId, EndReason, Message, MessageId,
    MessageText, RoutingMode, Sender, TeamId, VisitorId,
};
use crate::ports::VisitorSession;

fn t0() -> Timestamp {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn at(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

fn agent(id: &str) -> AgentId {
    AgentId::parse(id).unwrap()
}

fn day(s: &str) -> Day {
    s.parse().unwrap()
}

/// A stored change of one item: what a stream record carries.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // test data, built a few thousand times
enum Change {
    Conversation(Option<Conversation>, Conversation),
    Message(Message),
    Session(Option<VisitorSession>, VisitorSession),
}

impl Change {
    fn events(&self) -> Vec<Event> {
        match self {
            Change::Conversation(old, new) => events_of_conversation(old.as_ref(), Some(new)),
            Change::Message(m) => events_of_message(None, Some(m)),
            Change::Session(old, new) => events_of_session(old.as_ref(), Some(new)),
        }
    }
}

/// One conversation's history: every stored image of it, its messages and its
/// visitor's sessions, as the store would have written them.
struct History {
    conv: Conversation,
    session: Option<VisitorSession>,
    changes: Vec<Change>,
    messages: Vec<Message>,
}

impl History {
    fn new(id: &str, dialog: &str, now: Timestamp) -> Self {
        let conv = Conversation::new(
            ConversationId::parse(id).unwrap(),
            VisitorId::parse(format!("v-{id}")).unwrap(),
            DialogId::parse(dialog).unwrap(),
            now,
        );
        Self {
            changes: vec![Change::Conversation(None, conv.clone())],
            conv,
            session: None,
            messages: Vec::new(),
        }
    }

    /// Applies one transition, which must be allowed, and stores the image.
    fn step(
        &mut self,
        change: impl FnOnce(&mut Conversation) -> Result<(), crate::domain::TransitionError>,
    ) {
        let old = self.conv.clone();
        change(&mut self.conv).expect("an allowed transition");
        self.changes
            .push(Change::Conversation(Some(old), self.conv.clone()));
    }

    fn request(&mut self, now: Timestamp) {
        self.step(|c| c.request_live_chat(now));
    }

    fn request_for_team(&mut self, team: &str, now: Timestamp) {
        let routing = RoutingMode::Team {
            team: TeamId::parse(team).unwrap(),
        };
        self.step(|c| c.request_live_chat_routed(routing, now));
    }

    fn offer(&mut self, to: &str, expires_at: Timestamp) {
        self.step(|c| c.offer(agent(to), expires_at));
    }

    fn say(&mut self, sender: Sender, now: Timestamp) {
        let seq = self.messages.len() as u64 + 1;
        let m = Message {
            id: MessageId::parse(format!("m{seq}")).unwrap(),
            conversation: self.conv.id().clone(),
            seq,
            sender,
            text: MessageText::parse("hello").unwrap(),
            at: now,
        };
        self.messages.push(m.clone());
        self.changes.push(Change::Message(m));
    }

    fn agent_says(&mut self, by: &str, now: Timestamp) {
        self.say(Sender::agent(agent(by)), now);
    }

    /// Stores the visitor's session with `dialog` as its walk.
    fn walk(&mut self, dialog: DialogState, now: Timestamp) {
        let new = VisitorSession {
            visitor: self.conv.visitor().clone(),
            conversation: self.conv.id().clone(),
            dialog,
            updated_at: now,
            token: Default::default(),
        };
        self.changes
            .push(Change::Session(self.session.replace(new.clone()), new));
    }

    fn events(&self) -> Vec<Event> {
        self.changes.iter().flat_map(Change::events).collect()
    }
}

fn aggregate(histories: &[&History], zones: &Zones) -> Aggregates {
    let mut aggregates = Aggregates::new(zones.clone());
    for h in histories {
        for e in h.events() {
            aggregates.apply(&e);
        }
    }
    aggregates
}

fn recomputed(histories: &[&History], zones: &Zones) -> Table {
    let convs: Vec<_> = histories.iter().map(|h| h.conv.clone()).collect();
    let msgs: Vec<_> = histories.iter().flat_map(|h| h.messages.clone()).collect();
    let sessions: Vec<_> = histories.iter().filter_map(|h| h.session.clone()).collect();
    recompute(&convs, &msgs, &sessions, zones)
}

/// The one day's total, from the aggregates, after checking the recomputation
/// agrees.
fn total(histories: &[&History], on: &str) -> Counters {
    let zones = Zones::default();
    let table = aggregate(histories, &zones).table().clone();
    assert_eq!(
        table,
        recomputed(histories, &zones),
        "aggregates = recompute"
    );
    let rows = table.report(day(on), day(on), Dimension::Day);
    assert_eq!(rows.len(), 1);
    rows[0].counters
}

fn by(histories: &[&History], dimension: Dimension) -> BTreeMap<Option<String>, Counters> {
    let zones = Zones::default();
    let table = aggregate(histories, &zones).table().clone();
    assert_eq!(
        table,
        recomputed(histories, &zones),
        "aggregates = recompute"
    );
    table
        .report(day("2026-01-01"), day("2026-12-31"), dimension)
        .into_iter()
        .map(|r| (r.value, r.counters))
        .collect()
}

fn key(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[test]
fn a_request_counts_once_on_the_day_it_was_made_however_often_it_is_routed() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(10));
    h.offer("ana", at(110));
    h.step(|c| c.accept(&agent("ana"), at(20)));
    h.step(|c| c.requeue(at(30)));
    h.offer("ben", at(130));
    h.step(|c| c.accept(&agent("ben"), at(40)));

    let day = total(&[&h], "2026-03-02");
    assert_eq!((day.requested, day.connected), (1, 1));
    assert_eq!(
        day.time_to_accept,
        Mean {
            sum: 10_000,
            count: 1
        },
        "the first accept only"
    );
    let agents = by(&[&h], Dimension::Agent);
    assert_eq!(agents[&None].requested, 1, "a request has no agent");
    assert_eq!(agents[&key("ana")].connected, 1);
    assert!(
        !agents.contains_key(&key("ben")),
        "a take-over is no connection"
    );
}

#[test]
fn a_connected_chat_counts_for_the_agent_who_accepted_with_its_wait_from_the_request() {
    let mut h = History::new("c1", "sales", at(0));
    h.request_for_team("sales", at(100));
    h.offer("ben", at(200));
    h.step(|c| c.withdraw_offer(&agent("ben"), at(130)));
    h.offer("ana", at(230));
    h.step(|c| c.accept(&agent("ana"), at(145)));

    let agents = by(&[&h], Dimension::Agent);
    let ana = agents[&key("ana")];
    assert_eq!((ana.connected, ana.time_to_accept), (1, Mean::of(45_000)));
    let teams = by(&[&h], Dimension::Team);
    assert_eq!(teams[&key("sales")].requested, 1);
    assert_eq!(teams[&key("sales")].connected, 1);
    assert_eq!(
        teams[&None].requested, 0,
        "the request under the card's team"
    );
    assert_eq!(teams[&None].triggered, 1, "the funnel has no team");
}

#[test]
fn a_missed_chat_has_no_agent_and_a_pick_up_leaves_it_missed_for_the_agent_who_picked_it_up() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(10));
    h.offer("ana", at(110));
    h.step(|c| c.withdraw_offer(&agent("ana"), at(110)));
    h.step(|c| c.end(EndReason::Missed, at(111)));
    h.step(|c| c.pick_up(&agent("cleo"), at(5000)));
    h.agent_says("cleo", at(5030));
    h.step(|c| c.end(EndReason::Completed, at(5600)));

    let day = total(&[&h], "2026-03-02");
    assert_eq!((day.requested, day.missed, day.connected), (1, 1, 0));
    assert_eq!((day.picked_up, day.offers_timed_out), (1, 1));
    let agents = by(&[&h], Dimension::Agent);
    assert_eq!(agents[&None].missed, 1);
    let cleo = agents[&key("cleo")];
    assert_eq!(cleo.picked_up, 1);
    assert_eq!(cleo.first_response, Mean::of(30_000), "from the pick-up");
    assert_eq!(cleo.chat_length, Mean::of(600_000));
    assert_eq!(
        cleo.time_to_accept,
        Mean::default(),
        "a pick-up is no accept"
    );
}

#[test]
fn a_fallback_counts_as_missed_and_an_answer_by_email_changes_nothing() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(10));
    h.step(|c| c.end(EndReason::Fallback, at(11)));
    h.step(|c| c.answer_by_email(&agent("ana")));
    let day = total(&[&h], "2026-03-02");
    assert_eq!((day.requested, day.missed, day.picked_up), (1, 1, 0));
}

#[test]
fn a_visitor_who_leaves_while_offered_abandons_and_the_open_offer_counts_as_neither() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(10));
    h.offer("ana", at(110));
    h.step(|c| c.end(EndReason::Dropped, at(40)));
    let day = total(&[&h], "2026-03-02");
    assert_eq!((day.requested, day.abandoned, day.missed), (1, 1, 0));
    assert_eq!((day.offers_declined, day.offers_timed_out), (0, 0));
}

#[test]
fn an_offer_withdrawn_before_its_expiry_is_declined_and_from_it_on_timed_out_for_the_agent_offered()
{
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(0));
    h.offer("ana", at(100));
    h.step(|c| c.withdraw_offer(&agent("ana"), at(99)));
    h.offer("ben", at(200));
    h.step(|c| c.withdraw_offer(&agent("ben"), at(200)));
    h.step(|c| c.end(EndReason::Missed, at(200)));
    let agents = by(&[&h], Dimension::Agent);
    assert_eq!(
        (
            agents[&key("ana")].offers_declined,
            agents[&key("ana")].offers_timed_out
        ),
        (1, 0)
    );
    assert_eq!(
        (
            agents[&key("ben")].offers_declined,
            agents[&key("ben")].offers_timed_out
        ),
        (0, 1)
    );
}

#[test]
fn first_response_time_runs_from_each_agents_take_over_never_from_the_request() {
    // Requested, live with ana who answers after 5 s, lost (grace period), and an
    // hour later taken by ben, who answers after 8 s.
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(0));
    h.offer("ana", at(100));
    h.step(|c| c.accept(&agent("ana"), at(10)));
    h.say(Sender::System, at(10));
    h.say(Sender::Visitor, at(12));
    h.agent_says("ana", at(15));
    h.agent_says("ana", at(16));
    h.step(|c| c.requeue(at(60)));
    h.offer("ben", at(3700));
    h.step(|c| c.accept(&agent("ben"), at(3600)));
    h.agent_says("ben", at(3608));
    h.step(|c| c.end(EndReason::Completed, at(3900)));

    let day = total(&[&h], "2026-03-02");
    assert_eq!(
        day.first_response,
        Mean {
            sum: 13_000,
            count: 2
        }
    );
    assert_eq!(day.first_response.value(1), Some(6_500));
    let agents = by(&[&h], Dimension::Agent);
    assert_eq!(agents[&key("ana")].first_response, Mean::of(5_000));
    assert_eq!(agents[&key("ben")].first_response, Mean::of(8_000));
    assert_eq!(
        agents[&key("ana")].chat_length,
        Mean::of(50_000),
        "until she was lost"
    );
    assert_eq!(agents[&key("ben")].chat_length, Mean::of(300_000));
}

#[test]
fn an_accepted_transfer_counts_given_and_received_and_splits_the_stints_a_declined_one_counts_nothing()
 {
    use crate::domain::{PendingTransfer, TransferNote};
    let transfer = |to: &str, expires: i64| PendingTransfer {
        from: agent("ana"),
        to: agent(to),
        team: None,
        note: TransferNote::default(),
        expires_at: at(expires),
    };
    // Live with ana, who answers; a transfer to cleo she declines; one to ben, who
    // accepts at 100 s and answers 4 s later; the chat ends at 400 s.
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(0));
    h.offer("ana", at(100));
    h.step(|c| c.accept(&agent("ana"), at(10)));
    h.agent_says("ana", at(15));
    h.step(|c| c.start_transfer(transfer("cleo", 200)));
    h.step(|c| c.end_transfer(&agent("cleo"), at(50)).map(|_| ()));
    h.step(|c| c.start_transfer(transfer("ben", 300)));
    h.step(|c| c.accept_transfer(&agent("ben"), at(100)));
    h.agent_says("ben", at(104));
    h.step(|c| c.end(EndReason::Completed, at(400)));

    let agents = by(&[&h], Dimension::Agent);
    let (ana, ben) = (&agents[&key("ana")], &agents[&key("ben")]);
    assert_eq!((ana.transfers_given, ana.transfers_received), (1, 0));
    assert_eq!((ben.transfers_given, ben.transfers_received), (0, 1));
    assert_eq!(ana.chat_length, Mean::of(90_000), "until ben accepted");
    assert_eq!(ben.first_response, Mean::of(4_000), "from the accept");
    assert_eq!(ben.chat_length, Mean::of(300_000));
    assert!(
        !agents.contains_key(&key("cleo")),
        "a declined transfer counts nothing"
    );
    let day = total(&[&h], "2026-03-02");
    assert_eq!((day.requested, day.connected), (1, 1), "not a new request");
    assert_eq!((day.offers_declined, day.transfers_given), (0, 1));
}

#[test]
fn a_stint_without_a_reply_has_no_first_response_and_a_live_one_no_length_yet() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(0));
    h.offer("ana", at(100));
    h.step(|c| c.accept(&agent("ana"), at(10)));
    h.say(Sender::Visitor, at(12));
    let day = total(&[&h], "2026-03-02");
    assert_eq!(
        (day.first_response, day.chat_length),
        (Mean::default(), Mean::default())
    );
}

#[test]
fn the_score_counts_once_as_last_stored_for_the_agent_who_last_held_the_chat() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(0));
    h.offer("ana", at(100));
    h.step(|c| c.accept(&agent("ana"), at(10)));
    h.step(|c| c.score_by(&agent("ana"), false, 1));
    h.step(|c| c.score_by(&agent("ana"), false, 3));
    h.step(|c| c.end(EndReason::Completed, at(20)));
    let agents = by(&[&h], Dimension::Agent);
    assert_eq!(agents[&key("ana")].score, Mean::of(3));
}

#[test]
fn the_funnel_counts_each_walk_triggered_engaged_completed_its_goals_and_its_email() {
    let directory = crate::demo::directory().unwrap();
    let dialog = crate::demo::dialog(&directory).unwrap();
    let ctx = Context {
        any_agent_available: true,
        blocked_email_domains: &[],
    };
    let card = |s: &str| CardId::parse(s).unwrap();
    let mut h = History::new("c1", "sales", at(0));
    let mut state = DialogState::default();
    for (i, action) in [
        VisitorAction::Start,
        VisitorAction::Answer {
            card: card("ask"),
            answer: 0,
        },
        VisitorAction::Submit {
            card: card("first_name"),
            value: "Jo".into(),
        },
        VisitorAction::Submit {
            card: card("email"),
            value: "not an email".into(),
        },
        VisitorAction::Submit {
            card: card("email"),
            value: "jo@small.example".into(),
        },
    ]
    .into_iter()
    .enumerate()
    {
        state = advance(&dialog, &state, &action, &ctx).unwrap().state;
        h.walk(state.clone(), at(i as i64));
    }
    assert!(matches!(state.position, Position::LiveChat { .. }));
    assert_eq!(state.progress.goals, [card("chat_requested")]);

    let mut only_opened = History::new("c2", "sales", at(0));
    let opened = advance(
        &dialog,
        &DialogState::default(),
        &VisitorAction::Start,
        &ctx,
    )
    .unwrap();
    only_opened.walk(opened.state, at(1));

    let day = total(&[&h, &only_opened], "2026-03-02");
    assert_eq!(
        (
            day.triggered,
            day.engaged,
            day.completed,
            day.goals_reached,
            day.emails_captured
        ),
        (2, 1, 1, 1, 1)
    );
    let dialogs = by(&[&h, &only_opened], Dimension::Dialog);
    assert_eq!(dialogs[&key("sales")].triggered, 2);
}

#[test]
fn a_refused_value_is_no_engagement_and_an_accepted_one_is() {
    let directory = crate::demo::directory().unwrap();
    let dialog = crate::demo::dialog(&directory).unwrap();
    let ctx = Context::default();
    let at_email = DialogState {
        position: Position::Waiting {
            card: CardId::parse("email").unwrap(),
        },
        ..DialogState::default()
    };
    let submit = |state: &DialogState, value: &str| {
        let action = VisitorAction::Submit {
            card: CardId::parse("email").unwrap(),
            value: value.into(),
        };
        advance(&dialog, state, &action, &ctx).unwrap().state
    };
    let refused = submit(&at_email, "not an email");
    assert!(!refused.progress.engaged && !refused.progress.email_captured);
    let accepted = submit(&refused, "jo@small.example");
    assert!(accepted.progress.engaged && accepted.progress.email_captured);
}

#[test]
fn a_redelivered_or_replayed_image_changes_nothing() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(0));
    h.offer("ana", at(100));
    h.step(|c| c.accept(&agent("ana"), at(10)));
    h.agent_says("ana", at(15));
    h.step(|c| c.score_by(&agent("ana"), false, 2));
    h.step(|c| c.end(EndReason::Completed, at(20)));
    let zones = Zones::default();
    let mut once = aggregate(&[&h], &zones);
    let before = once.table().clone();
    for change in &h.changes {
        assert_eq!(
            change.events(),
            change.events(),
            "the same image, the same events"
        );
        for e in change.events() {
            assert!(!once.apply(&e), "{} applied twice", e.key());
        }
    }
    assert_eq!(once.table(), &before);
    // The same facts read from later images have the same keys: the final image
    // seen as if it were the first gives facts already counted, but for the score,
    // whose key is the version read, and whose value is the one counted already.
    let last = Change::Conversation(None, h.conv.clone());
    let replayed: Vec<_> = last
        .events()
        .into_iter()
        .filter(|e| once.apply(e))
        .collect();
    assert!(
        replayed.iter().all(|e| matches!(e, Event::Scored { .. })),
        "new keys from a replay: {replayed:?}"
    );
    assert_eq!(once.table(), &before);
}

#[test]
fn events_in_any_order_give_the_same_counters() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(0));
    h.offer("ana", at(100));
    h.step(|c| c.accept(&agent("ana"), at(10)));
    h.agent_says("ana", at(15));
    h.agent_says("ana", at(12));
    h.step(|c| c.requeue(at(20)));
    h.offer("ana", at(200));
    h.step(|c| c.accept(&agent("ana"), at(30)));
    h.agent_says("ana", at(40));
    h.step(|c| c.end(EndReason::Completed, at(50)));
    let zones = Zones::default();
    let forward = aggregate(&[&h], &zones);
    let mut events = h.events();
    events.reverse();
    let mut backward = Aggregates::new(zones.clone());
    for e in &events {
        backward.apply(e);
    }
    assert_eq!(forward.table(), backward.table());
    assert_eq!(forward.table(), &recomputed(&[&h], &zones));
}

#[test]
fn days_follow_the_zone_across_a_daylight_saving_change_and_a_new_zone_applies_from_then_on() {
    // Los Angeles springs forward on 2026-03-08 at 02:00 local (10:00 UTC): the
    // 8th is 23 hours long, from 08:00 UTC on the 8th to 07:00 UTC on the 9th.
    let la = TimeZone::get("America/Los_Angeles").unwrap();
    let zones = Zones::new(la.clone());
    let on = |s: &str| zones.day(s.parse().unwrap()).to_string();
    assert_eq!(on("2026-03-08T07:59:59Z"), "2026-03-07");
    assert_eq!(on("2026-03-08T08:00:00Z"), "2026-03-08");
    assert_eq!(on("2026-03-09T06:59:59Z"), "2026-03-08");
    assert_eq!(on("2026-03-09T07:00:00Z"), "2026-03-09");

    // Paris from the 9th at 12:00 UTC on: 23:30 UTC that day is the 10th there.
    let change: Timestamp = "2026-03-09T12:00:00Z".parse().unwrap();
    let zones = Zones::new(la).changed(change, TimeZone::get("Europe/Paris").unwrap());
    let on = |s: &str| zones.day(s.parse().unwrap()).to_string();
    assert_eq!(
        on("2026-03-09T06:59:59Z"),
        "2026-03-08",
        "before the change"
    );
    assert_eq!(on("2026-03-09T23:30:00Z"), "2026-03-10");

    // A request at 23:58 accepted at 00:01 Los Angeles time is the first day's.
    let late: Timestamp = "2026-03-08T06:58:00Z".parse().unwrap();
    let mut h = History::new("c1", "sales", late);
    h.request(late);
    h.offer("ana", late + SignedDuration::from_secs(300));
    h.step(|c| c.accept(&agent("ana"), late + SignedDuration::from_secs(180)));
    let agg = aggregate(&[&h], &zones);
    let rows = agg
        .table()
        .report(day("2026-03-07"), day("2026-03-08"), Dimension::Day);
    let counts: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.value.clone().unwrap(),
                r.counters.requested,
                r.counters.connected,
            )
        })
        .collect();
    assert_eq!(
        counts,
        [("2026-03-07".into(), 1, 1), ("2026-03-08".into(), 0, 0)]
    );
}

#[test]
fn a_range_is_the_sum_of_its_days_and_every_dimensions_rows_add_up_to_the_total() {
    let mut a = History::new("c1", "sales", at(0));
    a.request_for_team("sales", at(0));
    a.offer("ana", at(100));
    a.step(|c| c.accept(&agent("ana"), at(3)));
    a.agent_says("ana", at(4));
    let mut b = History::new("c2", "support", at(86_400));
    b.request(at(86_400));
    b.offer("ben", at(86_500));
    b.step(|c| c.accept(&agent("ben"), at(86_404)));
    b.agent_says("ben", at(86_406));
    let zones = Zones::default();
    let table = aggregate(&[&a, &b], &zones).table().clone();
    let days = table.report(day("2026-03-02"), day("2026-03-04"), Dimension::Day);
    assert_eq!(days.len(), 3, "every day of the range, zeros included");
    let mut sum = Counters::default();
    for r in &days {
        sum.add(&r.counters, 1);
    }
    for by in [Dimension::Dialog, Dimension::Team, Dimension::Agent] {
        let mut rows = Counters::default();
        for r in table.report(day("2026-03-02"), day("2026-03-04"), by) {
            rows.add(&r.counters, 1);
        }
        assert_eq!(rows, sum, "{by:?}");
    }
    assert_eq!(
        sum.first_response,
        Mean {
            sum: 3_000,
            count: 2
        }
    );
    assert_eq!(sum.first_response.value(1), Some(1_500));
    assert_eq!(sum.time_to_accept.value(1), Some(3_500));
}

#[test]
fn an_average_is_rounded_half_away_from_zero_once() {
    assert_eq!(Mean { sum: 5, count: 2 }.value(1), Some(3));
    assert_eq!(Mean { sum: 4, count: 3 }.value(1), Some(1));
    assert_eq!(Mean { sum: 5, count: 3 }.value(100), Some(167));
    assert_eq!(Mean { sum: -5, count: 2 }.value(1), Some(-3));
    assert_eq!(Mean::default().value(1), None);
    assert_eq!(
        csv::seconds(&Mean {
            sum: 1_234_567,
            count: 2
        }),
        "617.284"
    );
    assert_eq!(csv::seconds(&Mean { sum: 5, count: 1 }), "0.005");
    assert_eq!(csv::hundredths(&Mean { sum: 5, count: 3 }), "1.67");
    assert_eq!(csv::hundredths(&Mean::default()), "");
}

#[test]
fn csv_quotes_per_rfc_4180_and_neutralises_formulas() {
    assert_eq!(csv::field("plain"), "plain");
    assert_eq!(csv::field("a,b"), "\"a,b\"");
    assert_eq!(csv::field("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv::field("two\nlines"), "\"two\nlines\"");
    assert_eq!(csv::field("=1+1"), "'=1+1");
    assert_eq!(csv::field("+cmd"), "'+cmd");
    assert_eq!(csv::field("-2"), "'-2");
    assert_eq!(csv::field("@sum"), "'@sum");
    assert_eq!(csv::field("=a,b"), "\"'=a,b\"");

    let rows = vec![
        Row {
            dimension: Dimension::Agent,
            value: None,
            counters: Counters {
                requested: 2,
                ..Counters::default()
            },
        },
        Row {
            dimension: Dimension::Agent,
            value: Some("=ana".into()),
            counters: Counters {
                connected: 1,
                time_to_accept: Mean {
                    sum: 4_500,
                    count: 1,
                },
                ..Counters::default()
            },
        },
    ];
    let out = csv::to_csv(&rows);
    let lines: Vec<&str> = out.split("\r\n").collect();
    assert_eq!(lines.len(), 4, "header, two rows, and the last line end");
    assert!(lines[0].starts_with("agent,chats_requested,chats_connected,"));
    assert!(lines[1].starts_with("(none),2,0,"));
    assert!(lines[2].starts_with("'=ana,0,1,0,0,0,0,0,0,0,4.500,1,"));
    assert_eq!(lines[3], "");
}

/// A random history of one conversation over valid transitions, with its dialog
/// walk through the demo dialog, its messages, and times spread over days.
fn generated(rng: &mut fastrand::Rng, n: usize, dialog: &crate::dialog::ValidDialog) -> History {
    let agents = ["ana", "ben", "cleo", "=dora"];
    let pick = |rng: &mut fastrand::Rng| agents[rng.usize(..agents.len())];
    let mut now = "2026-03-06T00:00:00Z".parse::<Timestamp>().unwrap()
        + SignedDuration::from_secs(rng.i64(0..4 * 86_400));
    let mut tick = |rng: &mut fastrand::Rng, max: i64| {
        now += SignedDuration::from_secs(rng.i64(0..=max));
        now
    };
    let dialog_id = if rng.bool() { "sales" } else { "other" };
    let mut h = History::new(&format!("c{n}"), dialog_id, tick(rng, 0));

    // The dialog walk: random actions through the demo dialog.
    let ctx = Context {
        any_agent_available: rng.bool(),
        blocked_email_domains: &[],
    };
    let mut state = DialogState::default();
    let mut requested = None;
    for _ in 0..rng.usize(0..7) {
        let action = match &state.position {
            Position::NotStarted => VisitorAction::Start,
            Position::Waiting { card: c } if c.as_str() == "ask" => VisitorAction::Answer {
                card: c.clone(),
                answer: rng.usize(0..2),
            },
            Position::Waiting { card: c } => VisitorAction::Submit {
                card: c.clone(),
                value: match rng.usize(0..3) {
                    0 => "jo@small.example".into(),
                    1 => "Jo".into(),
                    _ => String::new(),
                },
            },
            _ => break,
        };
        let Ok(step) = advance(dialog, &state, &action, &ctx) else {
            continue;
        };
        state = step.state;
        h.walk(state.clone(), tick(rng, 30));
        for e in step.events {
            match e {
                crate::dialog::DialogEvent::LiveChatRequested { routing, .. } => {
                    requested = Some(routing);
                }
                crate::dialog::DialogEvent::Finished => {
                    let t = tick(rng, 5);
                    h.step(|c| c.end(EndReason::Completed, t));
                }
                _ => {}
            }
        }
    }
    let Some(routing) = requested.or_else(|| {
        // Some conversations reach live chat without the walk (as a resumed one).
        (rng.usize(0..3) == 0 && matches!(h.conv.state(), crate::domain::ConversationState::Bot))
            .then_some(RoutingMode::RoundRobin)
    }) else {
        return h;
    };
    let t = tick(rng, 5);
    h.step(|c| c.request_live_chat_routed(routing, t));

    use crate::domain::ConversationState as S;
    for _ in 0..rng.usize(1..25) {
        let t = tick(rng, 150);
        match h.conv.state().clone() {
            S::Waiting { .. } => match rng.usize(0..10) {
                0..=6 => {
                    let expires = t + SignedDuration::from_secs(100);
                    h.offer(pick(rng), expires);
                }
                7 => h.step(|c| c.end(EndReason::Missed, t)),
                8 => h.step(|c| c.end(EndReason::Fallback, t)),
                _ => h.step(|c| c.end(EndReason::Dropped, t)),
            },
            S::Offered { agent: to, .. } => match rng.usize(0..10) {
                0..=4 => h.step(|c| c.accept(&to, t)),
                5..=8 => h.step(|c| c.withdraw_offer(&to, t)),
                _ => h.step(|c| c.end(EndReason::Dropped, t)),
            },
            S::Live { agent: with, .. } => match rng.usize(0..12) {
                0..=3 => h.agent_says(with.as_str(), t),
                4 | 5 => h.say(Sender::Visitor, t),
                6 => h.say(Sender::System, t),
                7 => h.step(|c| c.requeue(t)),
                8 => {
                    let score = rng.u8(0..4);
                    h.step(|c| c.score_by(&with, false, score));
                }
                9 => h.step(|c| c.end(EndReason::TimedOut, t)),
                _ => h.step(|c| c.end(EndReason::Completed, t)),
            },
            S::Ended {
                reason: EndReason::Missed | EndReason::Fallback,
                ..
            } => match rng.usize(0..4) {
                0 => {
                    let by = agent(pick(rng));
                    h.step(|c| c.pick_up(&by, t));
                }
                1 => {
                    let by = agent(pick(rng));
                    h.step(|c| c.answer_by_email(&by));
                }
                2 => h.step(|c| c.leave_details(t).or(Ok(()))),
                _ => break,
            },
            S::Ended { .. } => {
                if rng.bool() {
                    let score = rng.u8(0..4);
                    h.step(|c| c.score_by(&agent("admin"), true, score));
                }
                break;
            }
            S::Bot => break,
        }
    }
    h
}

#[test]
fn generated_histories_aggregate_to_exactly_what_the_recomputation_finds() {
    let directory = crate::demo::directory().unwrap();
    let dialog = crate::demo::dialog(&directory).unwrap();
    let zones = Zones::new(TimeZone::get("America/Los_Angeles").unwrap()).changed(
        "2026-03-09T12:00:00Z".parse().unwrap(),
        TimeZone::get("Europe/Paris").unwrap(),
    );
    let mut checked = Counters::default();
    for seed in 0..300_u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let histories: Vec<History> = (0..rng.usize(1..6))
            .map(|n| generated(&mut rng, n, &dialog))
            .collect();
        let refs: Vec<&History> = histories.iter().collect();

        // Every stored change's events, some delivered twice, some images read
        // again (a replayed stream), in a shuffled order.
        let mut events: Vec<Event> = Vec::new();
        for h in &histories {
            for change in &h.changes {
                let mut es = change.events();
                if rng.usize(0..5) == 0 {
                    es.extend(change.events());
                }
                events.extend(es);
            }
            if rng.bool() {
                events.extend(Change::Conversation(None, h.conv.clone()).events());
            }
        }
        rng.shuffle(&mut events);
        let mut aggregates = Aggregates::new(zones.clone());
        for e in &events {
            aggregates.apply(e);
        }

        let expected = recomputed(&refs, &zones);
        assert_eq!(aggregates.table(), &expected, "seed {seed}");
        for ((d, b), c) in expected.cells() {
            let all = [
                c.requested,
                c.connected,
                c.missed,
                c.picked_up,
                c.abandoned,
                c.offers_declined,
                c.offers_timed_out,
                c.time_to_accept.count,
                c.first_response.count,
                c.chat_length.count,
                c.score.count,
                c.triggered,
                c.engaged,
                c.completed,
                c.goals_reached,
                c.emails_captured,
            ];
            assert!(all.iter().all(|n| *n >= 0), "seed {seed}: {d} {b:?} {c:?}");
        }
        for by in [
            Dimension::Day,
            Dimension::Dialog,
            Dimension::Team,
            Dimension::Agent,
        ] {
            let (from, to) = (day("2026-03-01"), day("2026-03-31"));
            assert_eq!(
                aggregates.table().report(from, to, by),
                expected.report(from, to, by),
                "seed {seed} by {by:?}"
            );
        }
        for r in expected.report(day("2026-03-01"), day("2026-03-31"), Dimension::Day) {
            checked.add(&r.counters, 1);
        }
    }
    // The histories reach every metric, so that the equality above means something.
    let reached = [
        checked.requested,
        checked.connected,
        checked.missed,
        checked.picked_up,
        checked.abandoned,
        checked.offers_declined,
        checked.offers_timed_out,
        checked.time_to_accept.count,
        checked.first_response.count,
        checked.chat_length.count,
        checked.score.count,
        checked.triggered,
        checked.engaged,
        checked.completed,
        checked.goals_reached,
        checked.emails_captured,
    ];
    assert!(reached.iter().all(|n| *n > 10), "{checked:?}");
}

#[test]
fn a_sheet_stored_and_read_back_applies_the_next_event_as_the_one_kept_in_memory() {
    let mut h = History::new("c1", "sales", at(0));
    h.request(at(0));
    h.offer("ana", at(100));
    h.step(|c| c.accept(&agent("ana"), at(10)));
    h.agent_says("ana", at(15));
    h.step(|c| c.end(EndReason::Completed, at(20)));
    let events = h.events();
    let (last, first) = events.split_last().unwrap();
    let zones = Zones::default();
    let mut sheet = Sheet::default();
    let mut table = Table::default();
    for e in first {
        let json = serde_json::to_string(&sheet).unwrap();
        sheet = serde_json::from_str(&json).unwrap();
        for (d, b, c) in sheet.apply(e, &zones) {
            table.add(d, b, &c, 1);
        }
    }
    let before = sheet.clone();
    let delta = sheet.apply(last, &zones);
    assert!(!delta.is_empty(), "the end gives a chat length");
    assert!(
        sheet.clone().apply(last, &zones).is_empty(),
        "a fact merged twice changes nothing"
    );
    assert_ne!(before, sheet);
    for (d, b, c) in delta {
        table.add(d, b, &c, 1);
    }
    assert_eq!(&table, aggregate(&[&h], &zones).table());
}
