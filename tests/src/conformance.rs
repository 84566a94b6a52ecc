//! The store conformance suite: the same checks run against every store adapter
//! (`tests/tests/store_memory.rs` and `tests/tests/store_dynamodb.rs`), so the
//! in-memory store the local run uses behaves as DynamoDB does.

use std::sync::Arc;

use jiff::SignedDuration;
use livechat_core::dialog::DialogState;
use livechat_core::domain::{
    AgentId, Attributes, ChatLimit, ConnectionId, Conversation, ConversationId, DialogId,
    EndReason, ManualToggle, MessageId, MessageText, RoutingMode, Sender, VisitorId,
};
use livechat_core::memory::{ManualClock, MemoryNotifier, MemoryPush, MemoryScheduler};
use livechat_core::ports::{
    AppendAfter, Appended, CasOutcome, ClaimOutcome, ConnectionRecord, Cursor, CursorMove,
    ListCursor, NewMessage, OfferClaim, Party, Ports, Store, TokenVersion, VisitorSession,
};
use livechat_core::routing::{Directory, RouteError, RouteOutcome, Router};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{agents, test_now};

fn waiting(id: &str) -> Conversation {
    let mut c = Conversation::new(
        ConversationId::parse(id).expect("id"),
        VisitorId::parse(format!("v-{id}")).expect("id"),
        DialogId::parse("sales").expect("id"),
        test_now(),
    );
    c.request_live_chat(test_now()).expect("bot to waiting");
    c
}

fn agent(id: &str) -> AgentId {
    AgentId::parse(id).expect("id")
}

fn claim(c: &Conversation, to: &str, limit: u32, cursor_version: Option<u64>) -> OfferClaim {
    let mut offered = c.clone();
    offered
        .offer(agent(to), test_now())
        .expect("waiting to offered");
    OfferClaim {
        conversation: offered,
        expected_version: c.version(),
        agent: agent(to),
        limit: ChatLimit::new(limit).expect("limit"),
        cursor: cursor_version.map(|v| CursorMove {
            pool: "all".into(),
            expected_version: v,
            last: agent(to),
            served: v,
        }),
        trace: None,
        ahead: Vec::new(),
    }
}

fn message(conversation: &str, id: &str, text: &str) -> NewMessage {
    NewMessage {
        id: MessageId::parse(id).expect("id"),
        conversation: ConversationId::parse(conversation).expect("id"),
        sender: Sender::Visitor,
        text: MessageText::parse(text).expect("text"),
        at: test_now(),
        windows: None,
    }
}

/// The directory round-trips, and an agent's availability toggle survives an admin
/// saving the directory again.
pub async fn directory_round_trips_and_keeps_toggles_across_edits(store: &dyn Store) {
    assert_eq!(
        store.directory().await.unwrap(),
        Directory::default(),
        "an empty store has an empty directory"
    );
    // The widget's branding is kept with the rest (site.json is made from it).
    let widget = livechat_core::demo::directory().unwrap().widget;
    assert!(widget.is_some());
    let directory = Directory {
        agents: agents(3, 5),
        widget,
        ..Directory::default()
    };
    store.put_directory(&directory).await.unwrap();
    assert_eq!(store.directory().await.unwrap(), directory);

    let toggle = ManualToggle {
        available: false,
        until: test_now() + SignedDuration::from_hours(14),
    };
    store
        .set_manual_availability(&agent("agent-02"), toggle)
        .await
        .unwrap();
    store.put_directory(&directory).await.unwrap();

    // The toggle is kept with the agent's routing state, through a save of the
    // directory, and only for that agent; the directory is as saved.
    assert_eq!(store.directory().await.unwrap(), directory);
    let ids = [agent("agent-01"), agent("agent-02")];
    let states = store.agent_states(&ids, test_now()).await.unwrap();
    assert_eq!(states[&agent("agent-02")].manual, Some(toggle));
    assert_eq!(states[&agent("agent-01")].manual, None);
}

/// Several dialogs, each with its audience, round-trip in their order (the tie
/// breaker); a dialog left out of the next save is gone, and one put back is whole.
pub async fn dialogs_round_trip_in_order_and_a_removed_one_is_gone(store: &dyn Store) {
    let demo = livechat_core::demo::directory().expect("the demo loads");
    assert_eq!(demo.dialogs.len(), 2, "the demo has two dialogs");
    store.put_directory(&demo).await.unwrap();
    let stored = store.directory().await.unwrap();
    assert_eq!(stored, demo);
    let ids: Vec<&str> = stored.dialogs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["sales", "pricing"]);

    let only_pricing = Directory {
        dialogs: demo.dialogs[1..].to_vec(),
        ..demo.clone()
    };
    store.put_directory(&only_pricing).await.unwrap();
    assert_eq!(store.directory().await.unwrap(), only_pricing);

    let reversed = Directory {
        dialogs: demo.dialogs.iter().rev().cloned().collect(),
        ..demo.clone()
    };
    store.put_directory(&reversed).await.unwrap();
    assert_eq!(store.directory().await.unwrap(), reversed);
}

/// Creating twice conflicts; a replace at a stale version loses and changes nothing.
pub async fn conversations_are_written_by_compare_and_set(store: &dyn Store) {
    let c = waiting("c-cas");
    assert_eq!(
        store.create_conversation(&c).await.unwrap(),
        CasOutcome::Written
    );
    assert_eq!(
        store.create_conversation(&c).await.unwrap(),
        CasOutcome::Conflict
    );
    let mut ended = c.clone();
    ended.end(EndReason::Dropped, test_now()).unwrap();
    assert_eq!(
        store
            .replace_conversation(&ended, c.version())
            .await
            .unwrap(),
        CasOutcome::Written
    );

    assert_eq!(
        store.replace_conversation(&c, c.version()).await.unwrap(),
        CasOutcome::Conflict
    );
    assert_eq!(store.conversation(c.id()).await.unwrap(), Some(ended));
    assert_eq!(
        store
            .conversation(&ConversationId::parse("nope").unwrap())
            .await
            .unwrap(),
        None
    );
}

/// Appends `message` after the conversation's latest one: what the chat's one retry
/// loop does on its first try (nothing else writes in these tests).
async fn append(
    store: &dyn Store,
    message: livechat_core::ports::NewMessage,
) -> livechat_core::ports::StoreResult<Appended> {
    let hub = store.hub(&message.conversation).await?.ok_or_else(|| {
        livechat_core::ports::StoreError::Missing {
            key: format!("conversation {}", message.conversation),
        }
    })?;
    match livechat_core::ports::append_once(store, &hub, message).await? {
        livechat_core::ports::AppendAfter::Stored(m) => Ok(Appended::New(m)),
        livechat_core::ports::AppendAfter::Duplicate(m) => Ok(Appended::Duplicate(m)),
        livechat_core::ports::AppendAfter::Moved => panic!("nothing else writes here"),
    }
}

/// A message is stored once per client id; sequence numbers increase; the log reads
/// back in order.
pub async fn messages_are_stored_once_per_id_in_sequence(store: &dyn Store) {
    store.create_conversation(&waiting("c-msg")).await.unwrap();
    let first = append(store, message("c-msg", "m-1", "hello"))
        .await
        .unwrap();
    let second = append(store, message("c-msg", "m-2", "again"))
        .await
        .unwrap();
    let retry = append(store, message("c-msg", "m-1", "hello"))
        .await
        .unwrap();
    let third = append(store, message("c-msg", "m-3", "third"))
        .await
        .unwrap();

    assert!(matches!(first, Appended::New(_)));
    assert_eq!(retry, Appended::Duplicate(first.message().clone()));
    assert!(
        first.message().seq < second.message().seq && second.message().seq < third.message().seq
    );
    let log = store
        .messages(&ConversationId::parse("c-msg").unwrap())
        .await
        .unwrap();
    let ids: Vec<&str> = log.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["m-1", "m-2", "m-3"]);
    assert_eq!(log[1].text.as_str(), "again");
}

/// A resend is recognised while its first copy is among the last
/// `RECENT_PER_SIDE` messages of its side, however many the other side sent in
/// between; past that bound (which a client keeping to `MAX_UNACKED` never
/// reaches) it is stored again, as the protocol says.
pub async fn a_resend_is_recognised_within_its_sides_recent_messages(store: &dyn Store) {
    use livechat_core::domain::{AgentId, RECENT_PER_SIDE};
    store
        .create_conversation(&waiting("c-window"))
        .await
        .unwrap();
    let mut from_agent = message("c-window", "a-0", "hello");
    from_agent.sender = Sender::agent(AgentId::parse("ana@acme.example").unwrap());
    append(store, message("c-window", "v-0", "first"))
        .await
        .unwrap();
    for n in 1..RECENT_PER_SIDE {
        append(store, message("c-window", &format!("v-{n}"), "more"))
            .await
            .unwrap();
    }
    for n in 0..50 {
        let mut m = from_agent.clone();
        m.id = MessageId::parse(format!("a-{n}")).unwrap();
        append(store, m).await.unwrap();
    }
    let resend = append(store, message("c-window", "v-0", "first"))
        .await
        .unwrap();
    assert!(
        matches!(resend, Appended::Duplicate(ref m) if m.seq == 1),
        "{resend:?}"
    );
    append(store, message("c-window", "v-late", "one more"))
        .await
        .unwrap();
    let too_late = append(store, message("c-window", "v-0", "first"))
        .await
        .unwrap();
    assert!(matches!(too_late, Appended::New(_)), "{too_late:?}");
}

/// A message's rate-limit counters are stored in the message's own write and come
/// back with the hub; a write that names none leaves them; a duplicate writes none.
pub async fn rate_counters_ride_on_the_message_write(store: &dyn Store) {
    use livechat_core::domain::{Window, Windows};
    store.create_conversation(&waiting("c-rate")).await.unwrap();
    let id = ConversationId::parse("c-rate").unwrap();
    assert!(store.hub(&id).await.unwrap().unwrap().windows.is_empty());
    let counted = Windows::from([
        (
            "conn#a=".to_string(),
            Window {
                start: 100,
                count: 1,
            },
        ),
        (
            "visitor".to_string(),
            Window {
                start: 60,
                count: 4,
            },
        ),
    ]);
    let mut first = message("c-rate", "r-1", "one");
    first.windows = Some(counted.clone());
    let hub = store.hub(&id).await.unwrap().unwrap();
    livechat_core::ports::append_once(store, &hub, first)
        .await
        .unwrap();
    let hub = store.hub(&id).await.unwrap().unwrap();
    assert_eq!(hub.windows, counted);

    let mut retry = message("c-rate", "r-1", "one");
    retry.windows = Some(Windows::new());
    assert!(matches!(
        livechat_core::ports::append_once(store, &hub, retry)
            .await
            .unwrap(),
        AppendAfter::Duplicate(_)
    ));
    append(store, message("c-rate", "r-2", "two"))
        .await
        .unwrap();
    let hub = store.hub(&id).await.unwrap().unwrap();
    assert_eq!((hub.messages, hub.windows), (2, counted));
}

/// A fixed-window counter shared by every caller: `count` actions per window, the
/// next refused with the seconds left, a new window counting from one again.
pub async fn rate_counters_count_to_their_limit_per_window(store: &dyn Store) {
    use livechat_core::domain::Rate;
    let rate = Rate::new(2, 10);
    let at = |s: i64| jiff::Timestamp::from_second(1_800_000_000 + s).unwrap();
    assert_eq!(store.count_rate("k1", rate, at(1)).await.unwrap(), Ok(()));
    assert_eq!(store.count_rate("k1", rate, at(2)).await.unwrap(), Ok(()));
    assert_eq!(store.count_rate("k1", rate, at(3)).await.unwrap(), Err(7));
    assert_eq!(store.count_rate("k2", rate, at(3)).await.unwrap(), Ok(()));
    assert_eq!(store.count_rate("k1", rate, at(10)).await.unwrap(), Ok(()));
    assert_eq!(store.count_rate("k1", rate, at(11)).await.unwrap(), Ok(()));
    assert_eq!(store.count_rate("k1", rate, at(12)).await.unwrap(), Err(8));
}

/// The hub: subscribers of a conversation, its message count, and an append that
/// refuses to write behind another message; pushes go to the visitor and the live
/// agent only.
pub async fn the_hub_tracks_subscribers_and_refuses_stale_appends(store: &dyn Store) {
    let mut c = waiting("c-hub");
    store.create_conversation(&c).await.unwrap();
    let visitor = Party::Visitor {
        visitor: c.visitor().clone(),
    };
    let ana = Party::Agent {
        agent: agent("ana"),
    };
    let ben = Party::Agent {
        agent: agent("ben"),
    };
    for (conn, party) in [("v-tab=", &visitor), ("ana-tab=", &ana), ("ben-tab=", &ben)] {
        store
            .subscribe(c.id(), &ConnectionId::parse(conn).unwrap(), party)
            .await
            .unwrap();
    }
    store
        .subscribe(
            &ConversationId::parse("c-none").unwrap(),
            &ConnectionId::parse("x=").unwrap(),
            &ana,
        )
        .await
        .unwrap();
    assert!(
        store
            .hub(&ConversationId::parse("c-none").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let expected = c.version();
    c.offer(agent("ana"), test_now()).unwrap();
    c.accept(&agent("ana"), test_now()).unwrap();
    assert_eq!(
        store.replace_conversation(&c, expected).await.unwrap(),
        CasOutcome::Written
    );
    let hub = store.hub(c.id()).await.unwrap().unwrap();
    assert_eq!(
        hub.subscribers.len(),
        3,
        "replacing the conversation keeps its subscribers"
    );
    let recipients: Vec<String> = hub.recipients().map(|(c, _)| c.to_string()).collect();
    assert_eq!(recipients, ["ana-tab=", "v-tab="]);

    let recent = hub.recent.with(
        &Sender::Visitor,
        &MessageId::parse("m-1").unwrap(),
        hub.messages + 1,
    );
    let first = store
        .append_after(message("c-hub", "m-1", "one"), hub.messages, &recent)
        .await
        .unwrap();
    assert!(matches!(first, Some(ref m) if m.seq == hub.messages + 1));
    let behind = store
        .append_after(message("c-hub", "m-2", "two"), hub.messages, &recent)
        .await
        .unwrap();
    assert_eq!(behind, None, "a write behind the latest message is refused");
    let after = store.hub(c.id()).await.unwrap().unwrap();
    assert_eq!(
        after.recent, recent,
        "the recent ids ride on the message write"
    );
    let again = livechat_core::ports::append_once(store, &after, message("c-hub", "m-1", "one"))
        .await
        .unwrap();
    assert!(
        matches!(again, livechat_core::ports::AppendAfter::Duplicate(ref m) if m.id.as_str() == "m-1")
    );

    store
        .unsubscribe(c.id(), &ConnectionId::parse("ana-tab=").unwrap())
        .await
        .unwrap();
    store
        .unsubscribe(c.id(), &ConnectionId::parse("ana-tab=").unwrap())
        .await
        .unwrap();
    let hub = store.hub(c.id()).await.unwrap().unwrap();
    assert_eq!((hub.subscribers.len(), hub.messages), (2, 1));
}

/// Connections are found by id and by party until they expire; removal returns what
/// was removed and is harmless twice.
pub async fn connections_expire_on_read_and_are_found_by_party(store: &dyn Store) {
    let ana = Party::Agent {
        agent: agent("ana"),
    };
    let record = |id: &str, hours: i64| ConnectionRecord {
        id: ConnectionId::parse(id).unwrap(),
        party: ana.clone(),
        connected_at: test_now(),
        expires_at: test_now() + SignedDuration::from_hours(hours),
        authorized_until: None,
    };
    store.put_connection(&record("tab1=", 2)).await.unwrap();
    store.put_connection(&record("tab2=", 4)).await.unwrap();
    let visitor = ConnectionRecord {
        party: Party::Visitor {
            visitor: VisitorId::parse("v1").unwrap(),
        },
        ..record("vis1=", 2)
    };
    store.put_connection(&visitor).await.unwrap();
    // An agent's connection keeps its token's expiry.
    let tab3 = ConnectionRecord {
        authorized_until: Some(test_now() + SignedDuration::from_hours(1)),
        ..record("tab3=", 2)
    };
    store.put_connection(&tab3).await.unwrap();
    assert_eq!(
        store.connection(&tab3.id, test_now()).await.unwrap(),
        Some(tab3.clone())
    );
    store.remove_connection(&tab3.id).await.unwrap();

    let now = test_now();
    let later = test_now() + SignedDuration::from_hours(3);
    let ids = |v: Vec<ConnectionId>| v.into_iter().map(|c| c.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ids(store.connections_of(&ana, now).await.unwrap()),
        ["tab1=", "tab2="]
    );
    assert_eq!(
        ids(store.connections_of(&ana, later).await.unwrap()),
        ["tab2="]
    );
    assert!(
        store
            .connection(&record("tab1=", 2).id, later)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.connection(&visitor.id, now).await.unwrap(),
        Some(visitor.clone())
    );

    assert_eq!(
        store.remove_connection(&visitor.id).await.unwrap(),
        Some(visitor.clone())
    );
    assert_eq!(store.remove_connection(&visitor.id).await.unwrap(), None);

    let online = |states: std::collections::BTreeMap<AgentId, livechat_core::ports::AgentState>| {
        states.get(&agent("ana")).is_some_and(|s| s.online)
    };
    let five_hours = test_now() + SignedDuration::from_hours(5);
    assert!(
        online(store.agent_states(&[agent("ana")], later).await.unwrap()),
        "tab2 still open"
    );
    assert!(
        !online(
            store
                .agent_states(&[agent("ana")], five_hours)
                .await
                .unwrap()
        ),
        "both expired"
    );
    store
        .remove_connection(&record("tab2=", 4).id)
        .await
        .unwrap();
    assert!(
        online(store.agent_states(&[agent("ana")], now).await.unwrap()),
        "tab1 still open"
    );
    store
        .remove_connection(&record("tab1=", 2).id)
        .await
        .unwrap();
    assert!(
        !online(store.agent_states(&[agent("ana")], now).await.unwrap()),
        "no tab left"
    );
}

/// A party's presence counts every connection it made, in the write that records
/// it, and the count never goes down: a grace timer tells one absence from the next
/// by it.
pub async fn presence_counts_every_connection_made_and_never_goes_down(store: &dyn Store) {
    let ben = Party::Agent {
        agent: agent("ben"),
    };
    let record = |id: &str| ConnectionRecord {
        id: ConnectionId::parse(id).unwrap(),
        party: ben.clone(),
        connected_at: test_now(),
        expires_at: test_now() + SignedDuration::from_hours(2),
        authorized_until: None,
    };
    let now = test_now();
    let before = store.presence(&ben, now).await.unwrap();
    assert!(before.connections.is_empty());
    assert_eq!(before.connects, 0);

    store.put_connection(&record("b1=")).await.unwrap();
    store.remove_connection(&record("b1=").id).await.unwrap();
    store.put_connection(&record("b2=")).await.unwrap();

    let presence = store.presence(&ben, now).await.unwrap();
    assert_eq!(presence.connects, 2);
    assert_eq!(presence.connections, [record("b2=").id]);
    store.remove_connection(&record("b2=").id).await.unwrap();
    let after = store.presence(&ben, now).await.unwrap();
    assert!(after.connections.is_empty());
    assert_eq!(
        after.connects, 2,
        "removing a connection does not count down"
    );
}

/// Turn tickets: numbered from 1 per pool, handed out once each, read back with the
/// cursor as `issued`; a claim's move records the ticket it was made with as
/// `served`, and taking a ticket leaves the cursor where it was.
pub async fn turn_tickets_are_numbered_per_pool_and_read_with_the_cursor(store: &dyn Store) {
    assert_eq!(store.cursor("all").await.unwrap(), Cursor::default());
    assert_eq!(store.take_ticket("all").await.unwrap(), 1);
    assert_eq!(store.take_ticket("all").await.unwrap(), 2);
    assert_eq!(store.take_ticket("team:sales").await.unwrap(), 1);
    let before = store.cursor("all").await.unwrap();
    assert_eq!((before.version, before.served, before.issued), (0, 0, 2));
    assert!(before.queued());

    let a = waiting("c-ticket");
    store.create_conversation(&a).await.unwrap();
    let mut ticketed = claim(&a, "ana", 1, Some(0));
    if let Some(mv) = ticketed.cursor.as_mut() {
        mv.served = 2;
    }
    assert_eq!(
        store.claim_offer(&ticketed).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let after = store.cursor("all").await.unwrap();
    assert_eq!(
        (
            after.last.clone(),
            after.version,
            after.served,
            after.issued
        ),
        (Some(agent("ana")), 1, 2, 2)
    );
    assert!(!after.queued());
    assert_eq!(store.cursor("team:sales").await.unwrap().issued, 1);
}

/// An offer claim writes all three items or none: a stale conversation, a full
/// agent or a moved cursor each leave everything as it was.
pub async fn an_offer_claim_is_all_or_nothing(store: &dyn Store) {
    let a = waiting("c-a");
    let b = waiting("c-b");
    let c = waiting("c-c");
    for conv in [&a, &b, &c] {
        store.create_conversation(conv).await.unwrap();
    }
    assert_eq!(
        store
            .claim_offer(&claim(&a, "ana", 1, Some(0)))
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );

    let stale_cursor = store
        .claim_offer(&claim(&b, "ben", 5, Some(0)))
        .await
        .unwrap();
    let ClaimOutcome::CursorMoved { current } = stale_cursor else {
        panic!("expected CursorMoved, got {stale_cursor:?}")
    };
    if let Some(current) = current {
        assert_eq!((current.last, current.version), (Some(agent("ana")), 1));
    }
    let full = store
        .claim_offer(&claim(&b, "ana", 1, Some(1)))
        .await
        .unwrap();
    assert_eq!(full, ClaimOutcome::AgentAtCapacity);
    let stale_conversation = store
        .claim_offer(&claim(&a, "ben", 5, Some(1)))
        .await
        .unwrap();
    assert_eq!(stale_conversation, ClaimOutcome::ConversationChanged);

    assert_eq!(store.conversation(b.id()).await.unwrap(), Some(b.clone()));
    assert_eq!(store.cursor("all").await.unwrap().version, 1);
    assert_eq!(store.agent_chats(&agent("ana")).await.unwrap().len(), 1);
    assert_eq!(store.agent_chats(&agent("ben")).await.unwrap(), []);
    assert_eq!(
        store.agent_chats(&agent("ana")).await.unwrap(),
        vec![a.id().clone()]
    );

    let version = store.conversation(a.id()).await.unwrap().unwrap().version();
    assert!(
        store
            .release_capacity_if(&agent("ana"), a.id(), version)
            .await
            .unwrap()
    );
    assert!(
        store
            .release_capacity_if(&agent("ana"), a.id(), version)
            .await
            .unwrap()
    );
    assert_eq!(
        store.claim_offer(&claim(&c, "ana", 1, None)).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.agent_chats(&agent("ana")).await.unwrap(),
        vec![c.id().clone()]
    );

    // A conditional release frees the slot only while the conversation is at the
    // version the caller saw.
    let offered = store.conversation(c.id()).await.unwrap().unwrap();
    let stale = offered.version() - 1;
    assert!(
        !store
            .release_capacity_if(&agent("ana"), c.id(), stale)
            .await
            .unwrap()
    );
    assert_eq!(
        store.agent_chats(&agent("ana")).await.unwrap(),
        vec![c.id().clone()],
        "kept: the conversation moved on since"
    );
    assert!(
        store
            .release_capacity_if(&agent("ana"), c.id(), offered.version())
            .await
            .unwrap()
    );
    assert!(store.agent_chats(&agent("ana")).await.unwrap().is_empty());
}

/// The missed list: newest first, from a time on, a page at a time, and a taken
/// request leaves it.
pub async fn the_missed_list_is_newest_first_and_cleared_when_taken(store: &dyn Store) {
    let at = |mins: i64| test_now() + SignedDuration::from_mins(mins);
    let id = |s: &str| ConversationId::parse(s).unwrap();
    store.record_missed(&id("c-early"), at(1)).await.unwrap();
    store.record_missed(&id("c-late"), at(30)).await.unwrap();
    store.record_missed(&id("c-mid"), at(10)).await.unwrap();

    let listed = store.missed_since(at(5), None, 10).await.unwrap();
    assert_eq!(listed, vec![(id("c-late"), at(30)), (id("c-mid"), at(10))]);
    assert!(store.is_missed(&id("c-late"), at(30)).await.unwrap());

    store.clear_missed(&id("c-late"), at(30)).await.unwrap();
    store.clear_missed(&id("c-late"), at(30)).await.unwrap();
    assert!(!store.is_missed(&id("c-late"), at(30)).await.unwrap());
    let listed = store.missed_since(at(0), None, 10).await.unwrap();
    assert_eq!(listed, vec![(id("c-mid"), at(10)), (id("c-early"), at(1))]);
}

/// The missed list in pages: each page at most the limit, the next one from after
/// the last entry of the one before, ties on time in conversation order; a cursor
/// whose entry was taken meanwhile still pages on.
pub async fn the_missed_list_pages_from_a_cursor_without_gaps_or_repeats(store: &dyn Store) {
    let at = |mins: i64| test_now() + SignedDuration::from_mins(mins);
    let id = |s: &str| ConversationId::parse(s).unwrap();
    let names = ["m-a", "m-b", "m-c", "m-d", "m-e"];
    for (i, name) in names.iter().enumerate() {
        // Two pairs share a time, so the order within a time counts too.
        let mins = i64::try_from(i / 2).unwrap();
        store.record_missed(&id(name), at(mins)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.missed_since(at(0), before.as_ref(), 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some((conversation, at)) = page.last().cloned() else {
            break;
        };
        seen.extend(page.into_iter().map(|(c, _)| c.to_string()));
        before = Some(ListCursor { at, conversation });
    }
    assert_eq!(seen, ["m-e", "m-d", "m-c", "m-b", "m-a"]);

    let cursor = ListCursor {
        at: at(1),
        conversation: id("m-d"),
    };
    store.clear_missed(&id("m-d"), at(1)).await.unwrap();
    let after = store.missed_since(at(0), Some(&cursor), 10).await.unwrap();
    let after: Vec<_> = after.into_iter().map(|(c, _)| c.to_string()).collect();
    assert_eq!(after, ["m-c", "m-b", "m-a"]);
    let none = store.missed_since(at(5), Some(&cursor), 10).await.unwrap();
    assert!(none.is_empty(), "a cursor older than `since` ends the list");
}

/// Past chats: per agent and for the account, newest first, from a time on, at most
/// a limit, and recording one twice lists it once.
pub async fn past_chats_are_listed_per_agent_and_for_the_account(store: &dyn Store) {
    use livechat_core::domain::{Email, EndReason};
    use livechat_core::ports::PastChat;
    let at = |mins: i64| test_now() + SignedDuration::from_mins(mins);
    let past = |c: &str, a: &str, mins: i64| PastChat {
        conversation: ConversationId::parse(c).unwrap(),
        agent: agent(a),
        ended_at: at(mins),
        reason: EndReason::Completed,
        visitor_name: Some(format!("Visitor of {c}")),
        visitor_email: Some(Email::parse("jo@small.example").unwrap()),
    };
    let chats = [
        past("p-old", "ana", 1),
        past("p-ben", "ben", 20),
        past("p-new", "ana", 30),
        past("p-mid", "ana", 10),
    ];
    for chat in &chats {
        store.record_past(chat).await.unwrap();
    }
    store.record_past(&chats[2]).await.unwrap();
    let ids = |list: Vec<PastChat>| {
        list.into_iter()
            .map(|c| c.conversation.to_string())
            .collect::<Vec<_>>()
    };

    let ana = store
        .past_chats(Some(&agent("ana")), at(5), None, 10)
        .await
        .unwrap();
    assert_eq!(ana[0], chats[2], "stored whole");
    assert_eq!(ids(ana), ["p-new", "p-mid"]);
    let all = store.past_chats(None, at(0), None, 10).await.unwrap();
    assert_eq!(ids(all), ["p-new", "p-ben", "p-mid", "p-old"]);
    let latest = store.past_chats(None, at(0), None, 2).await.unwrap();
    assert_eq!(ids(latest), ["p-new", "p-ben"]);
    let cursor = ListCursor {
        at: at(20),
        conversation: ConversationId::parse("p-ben").unwrap(),
    };
    let older = store
        .past_chats(None, at(0), Some(&cursor), 10)
        .await
        .unwrap();
    assert_eq!(ids(older), ["p-mid", "p-old"], "the page after p-ben");
    let cursor = ListCursor {
        at: at(30),
        conversation: ConversationId::parse("p-new").unwrap(),
    };
    let theirs = store
        .past_chats(Some(&agent("ana")), at(0), Some(&cursor), 1)
        .await
        .unwrap();
    assert_eq!(ids(theirs), ["p-mid"]);
    assert!(
        store
            .past_chats(Some(&agent("cleo")), at(0), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A visitor's session round-trips.
pub async fn sessions_round_trip(store: &dyn Store) {
    let mut attributes = Attributes::new();
    attributes.set(
        livechat_core::domain::AttributeName::parse("first_name").unwrap(),
        "Jo",
    );
    // What a signed identify leaves (docs/identify.md): one attribute signed, one
    // verified-only attribute held unsigned.
    let name = |n: &str| livechat_core::domain::AttributeName::parse(n).unwrap();
    attributes.set(name("user_id"), "u-42");
    attributes.set(name("plan"), "enterprise");
    let mut dialog = DialogState::new(attributes);
    dialog.verified.insert(name("user_id"));
    dialog.unverified.insert(name("plan"));
    let session = VisitorSession {
        visitor: VisitorId::parse("v-session").unwrap(),
        conversation: ConversationId::parse("c-session").unwrap(),
        dialog,
        updated_at: test_now(),
        token: TokenVersion {
            current: 3,
            previous_until: Some(test_now() + SignedDuration::from_mins(2)),
        },
        dialog_id: Some(livechat_core::domain::DialogId::parse("pricing").unwrap()),
        completed: vec![livechat_core::domain::DialogId::parse("sales").unwrap()],
    };
    assert_eq!(
        store.session(&session.visitor, test_now()).await.unwrap(),
        None
    );
    store.put_session(&session).await.unwrap();
    assert_eq!(
        store.session(&session.visitor, test_now()).await.unwrap(),
        Some(session.clone())
    );
    let month_later = test_now() + livechat_core::ports::SESSION_TTL;
    assert_eq!(
        store.session(&session.visitor, month_later).await.unwrap(),
        None,
        "idle for 30 days: expired"
    );
}

fn ports(store: Arc<dyn Store>) -> (Ports, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(test_now()));
    let ports = Ports {
        store,
        push: Arc::new(MemoryPush::new()),
        scheduler: Arc::new(MemoryScheduler::new()),
        clock: clock.clone(),
        notifier: Arc::new(MemoryNotifier::new()),
    };
    (ports, clock)
}

async fn connect_agents(store: &dyn Store, directory: &Directory) {
    for a in &directory.agents {
        let record = ConnectionRecord {
            id: ConnectionId::parse(format!("conn-{}", a.id)).unwrap(),
            party: Party::Agent {
                agent: a.id.clone(),
            },
            connected_at: test_now(),
            expires_at: test_now() + SignedDuration::from_hours(2),
            authorized_until: None,
        };
        store.put_connection(&record).await.unwrap();
    }
}

/// The documented sequence on this store: 5 agents, agent 3 took the last chat, so
/// the next go to 4, 5 and 1.
pub async fn round_robin_follows_the_documented_sequence(store: Arc<dyn Store>) {
    let directory = Directory {
        agents: agents(5, 5),
        ..Directory::default()
    };
    store.put_directory(&directory).await.unwrap();
    connect_agents(store.as_ref(), &directory).await;
    let (ports, _) = ports(store.clone());
    let router = Router::new(ports);

    let mut got = Vec::new();
    for i in 0..6 {
        let c = waiting(&format!("c-seq-{i}"));
        store.create_conversation(&c).await.unwrap();
        let RouteOutcome::Offered { agent, .. } = router
            .route(c.id(), &RoutingMode::RoundRobin, &Attributes::new())
            .await
            .unwrap()
        else {
            panic!("not offered");
        };
        assert!(
            router
                .writer()
                .accept(c.id(), &agent)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            router
                .writer()
                .end(c.id(), EndReason::Completed)
                .await
                .unwrap()
        );
        got.push(agent.to_string());
    }

    assert_eq!(
        got,
        [
            "agent-01", "agent-02", "agent-03", "agent-04", "agent-05", "agent-01"
        ]
    );
}

/// Simultaneous routing requests: each assigned once, evenly, never over a limit.
/// Returns (routings per second, lost races retried, requests delivered again after
/// losing every attempt).
pub async fn simultaneous_requests_are_assigned_once_and_evenly(
    store: Arc<dyn Store>,
    requests: usize,
    clients: usize,
) -> (f64, u64, u64) {
    let directory = Directory {
        agents: agents(10, 10),
        ..Directory::default()
    };
    store.put_directory(&directory).await.unwrap();
    connect_agents(store.as_ref(), &directory).await;
    let (ports, _) = ports(store.clone());
    let router = Arc::new(Router::new(ports));
    let mut conversations = Vec::new();
    for i in 0..requests {
        let c = waiting(&format!("c-many-{i}"));
        store.create_conversation(&c).await.unwrap();
        conversations.push(c.id().clone());
    }
    // `clients` concurrent callers (Lambda instances), each taking requests from one
    // queue as fast as it can; every chat ends once offered, freeing its capacity.
    let queue = Arc::new(tokio::sync::Mutex::new(conversations.clone()));
    let redelivered = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (router, queue, store, redelivered) = (
                router.clone(),
                queue.clone(),
                store.clone(),
                redelivered.clone(),
            );
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let Some(c) = queue.lock().await.pop() else {
                        break;
                    };
                    // A request whose every attempt lost a race fails like a
                    // Lambda invocation would, and is delivered again, as SQS does.
                    let mut deliveries = 0;
                    let outcome = loop {
                        deliveries += 1;
                        let outcome = router
                            .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
                            .await;
                        match outcome {
                            Err(RouteError::Contention { .. }) if deliveries < 10 => {
                                redelivered.fetch_add(1, Ordering::Relaxed);
                            }
                            other => break other,
                        }
                    };
                    let Ok(RouteOutcome::Offered { agent, .. }) = outcome else {
                        panic!("{c} not offered: {outcome:?}");
                    };
                    let held = store.agent_chats(&agent).await.unwrap();
                    assert!(held.len() <= 10, "{agent} over its limit");
                    assert!(router.writer().end(&c, EndReason::Completed).await.unwrap());
                    got.push(agent);
                }
                got
            })
        })
        .collect();
    let mut per_agent = std::collections::BTreeMap::<String, usize>::new();
    for w in workers {
        for a in w.await.unwrap() {
            *per_agent.entry(a.to_string()).or_default() += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    for c in &conversations {
        let stored = store.conversation(c).await.unwrap().unwrap();
        assert_eq!(stored.offered_to().len(), 1, "{c} offered once");
    }
    assert_eq!(per_agent.values().sum::<usize>(), requests);
    let (min, max) = (
        per_agent.values().min().unwrap(),
        per_agent.values().max().unwrap(),
    );
    assert!(
        max - min <= 1,
        "counts differ by at most one: {per_agent:?}"
    );
    for a in &directory.agents {
        let held = store.agent_chats(&a.id).await.unwrap();
        assert_eq!(held, [], "every claim of {} was released", a.id);
    }
    (
        requests as f64 / elapsed,
        router.conflicts_retried(),
        redelivered.load(Ordering::Relaxed),
    )
}

/// The account-wide lists are write-sharded: pages of the missed list and of the
/// account's past chats merge every shard into one newest-first order (ties on time
/// in conversation order), from a time on, a page at a time from each page's last
/// entry, with no entry lost or repeated; an agent's own list pages the same.
pub async fn sharded_lists_page_in_order_without_gaps_or_repeats(store: &dyn Store) {
    use livechat_core::ports::PastChat;
    use livechat_core::shards::shard_of;
    let at = |mins: i64| test_now() + SignedDuration::from_mins(mins);
    // 60 entries, three at each minute, whose ids land on most of the shards.
    let entries: Vec<(ConversationId, jiff::Timestamp)> = (0..60)
        .map(|i: i64| {
            let id = ConversationId::parse(format!("sharded-{i:03}")).unwrap();
            (id, at(i / 3))
        })
        .collect();
    let shards: std::collections::BTreeSet<u32> =
        entries.iter().map(|(c, _)| shard_of(c)).collect();
    assert!(
        shards.len() >= 10,
        "the entries span the shards: {shards:?}"
    );
    let mut newest_first = entries.clone();
    newest_first.sort_by(|a, b| (b.1, &b.0).cmp(&(a.1, &a.0)));
    // Recorded in an order of their own: the order comes from the store.
    for (i, (c, t)) in entries.iter().enumerate().rev() {
        store.record_missed(c, *t).await.unwrap();
        let chat = PastChat {
            conversation: c.clone(),
            agent: agent(if i % 2 == 0 { "ana" } else { "ben" }),
            ended_at: *t,
            reason: EndReason::Completed,
            visitor_name: None,
            visitor_email: None,
        };
        store.record_past(&chat).await.unwrap();
    }

    let since = at(4);
    let wanted: Vec<_> = newest_first
        .iter()
        .filter(|(_, t)| *t >= since)
        .cloned()
        .collect();
    assert_eq!(wanted.len(), 48);
    let mut missed = Vec::new();
    let mut before: Option<ListCursor> = None;
    loop {
        let page = store.missed_since(since, before.as_ref(), 7).await.unwrap();
        assert!(page.len() <= 7);
        let Some((conversation, at)) = page.last().cloned() else {
            break;
        };
        missed.extend(page);
        before = Some(ListCursor { at, conversation });
    }
    assert_eq!(missed, wanted, "the missed list, page by page");

    let mut past = Vec::new();
    let mut before: Option<ListCursor> = None;
    loop {
        let page = store
            .past_chats(None, since, before.as_ref(), 7)
            .await
            .unwrap();
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        before = Some(ListCursor {
            at: last.ended_at,
            conversation: last.conversation.clone(),
        });
        past.extend(page.into_iter().map(|c| (c.conversation, c.ended_at)));
    }
    assert_eq!(past, wanted, "the account's past chats, page by page");

    let ana = store
        .past_chats(Some(&agent("ana")), at(0), None, 100)
        .await
        .unwrap();
    assert_eq!(ana.len(), 30);
    assert!(ana.iter().all(|c| c.agent == agent("ana")));
    assert!(
        ana.windows(2)
            .all(|w| (w[0].ended_at, &w[0].conversation) > (w[1].ended_at, &w[1].conversation)),
        "an agent's list is newest first too"
    );

    // A page of one after each entry in turn is the entry after it.
    for pair in newest_first.windows(2) {
        let cursor = ListCursor {
            at: pair[0].1,
            conversation: pair[0].0.clone(),
        };
        let next = store.missed_since(at(0), Some(&cursor), 1).await.unwrap();
        assert_eq!(next, vec![pair[1].clone()]);
    }
}

/// The account-wide lists spread their writes: over 500 entries each, no partition
/// of the missed list or of the account's past chats takes more than a tenth of its
/// writes. `writes` reports the writes per partition key the store took (DynamoDB:
/// read from the requests sent; memory: as it keys them).
pub async fn sharded_lists_spread_their_writes(
    store: &dyn Store,
    writes: &dyn Fn() -> std::collections::BTreeMap<String, u64>,
) {
    use livechat_core::ports::PastChat;
    const ENTRIES: u64 = 500;
    for i in 0..ENTRIES {
        // ULID-shaped and fixed, so that the spread is the same on every run.
        let c = ConversationId::parse(format!("01JQ8Z5Y0W{i:016}")).unwrap();
        let t = test_now() + SignedDuration::from_secs(i64::try_from(i).unwrap());
        store.record_missed(&c, t).await.unwrap();
        let chat = PastChat {
            conversation: c,
            agent: agent("ana"),
            ended_at: t,
            reason: EndReason::Completed,
            visitor_name: None,
            visitor_email: None,
        };
        store.record_past(&chat).await.unwrap();
    }
    let writes = writes();
    for list in ["MISSED", "PASTALL"] {
        let of_list: Vec<(&String, &u64)> = writes
            .iter()
            .filter(|(pk, _)| pk.split('#').next() == Some(list))
            .collect();
        let total: u64 = of_list.iter().map(|(_, n)| **n).sum();
        assert_eq!(total, ENTRIES, "{list}: every write counted: {of_list:?}");
        for (pk, n) in &of_list {
            assert!(
                **n * 10 <= total,
                "{pk} took {n} of {total} writes to {list}: {of_list:?}"
            );
        }
    }
}

/// Batched reads: the conversations and the live sessions asked for that exist,
/// whatever the order, the rest left out.
pub async fn batched_reads_find_what_exists(store: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..120 {
        let c = waiting(&format!("batch-{i:03}"));
        store.create_conversation(&c).await.unwrap();
        ids.push(c.id().clone());
    }
    let mut asked = ids.clone();
    asked.push(ConversationId::parse("batch-none").unwrap());
    asked.push(ids[7].clone());
    let mut found: Vec<ConversationId> = store
        .conversations(&asked)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id().clone())
        .collect();
    found.sort();
    assert_eq!(
        found, ids,
        "more than one batch of 100, the missing one left out, one asked twice found once"
    );
    assert!(store.conversations(&[]).await.unwrap().is_empty());

    let session = |v: &str, updated_at| VisitorSession {
        visitor: VisitorId::parse(v).unwrap(),
        conversation: ConversationId::parse("batch-000").unwrap(),
        dialog: DialogState::new(Attributes::new()),
        updated_at,
        token: TokenVersion::default(),
        dialog_id: None,
        completed: Vec::new(),
    };
    let fresh = session("v-fresh", test_now());
    let idle = session(
        "v-idle",
        test_now() - livechat_core::ports::SESSION_TTL - SignedDuration::from_mins(1),
    );
    store.put_session(&fresh).await.unwrap();
    store.put_session(&idle).await.unwrap();
    let visitors = [
        fresh.visitor.clone(),
        idle.visitor.clone(),
        VisitorId::parse("v-none").unwrap(),
        fresh.visitor.clone(),
    ];
    assert_eq!(
        store.sessions(&visitors, test_now()).await.unwrap(),
        vec![fresh],
        "the idled-out and the missing sessions left out"
    );
}

/// A conversation asking for a live chat at `at`.
fn requested_at(id: &str, at: jiff::Timestamp) -> Conversation {
    let mut c = Conversation::new(
        ConversationId::parse(id).expect("id"),
        VisitorId::parse(format!("v-{id}")).expect("id"),
        DialogId::parse("sales").expect("id"),
        at,
    );
    c.request_live_chat(at).expect("bot to waiting");
    c
}

/// Analytics: a change recorded moves its conversation's sheet and the day's
/// counters together; recorded again it changes nothing; a stale sheet write is
/// refused whole; the counters of a range sum every conversation (whatever its
/// shard) of every day in it, across a month's end; a new zone is recorded once.
pub async fn analytics_sheets_move_with_their_counters(store: &dyn Store) {
    use livechat_core::analytics::{Bucket, Change, Day, record};
    use livechat_core::domain::TimeZoneName;
    let nov_30: jiff::Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
    let dec_01: jiff::Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let day = |s: &str| s.parse::<Day>().unwrap();
    let change = |c: &Conversation| Change::Conversation {
        old: None,
        new: Some(Box::new(c.clone())),
    };
    let requested = |table: &livechat_core::analytics::Table, on: &str| {
        table
            .cells()
            .filter(|((d, b), _)| *d == day(on) && *b == Bucket::All)
            .map(|(_, c)| c.requested)
            .sum::<i64>()
    };

    let first = requested_at("an-1", nov_30);
    let (empty, version) = store.sheet(first.id()).await.unwrap();
    assert_eq!((empty, version), Default::default());
    assert_eq!(
        record(store, &[change(&first)], None, nov_30)
            .await
            .unwrap(),
        change(&first).events().len()
    );
    // The same change again (a redelivered batch) merges facts the sheet holds.
    record(store, &[change(&first)], None, nov_30)
        .await
        .unwrap();
    let table = store
        .counters(day("2026-11-30"), day("2026-11-30"))
        .await
        .unwrap();
    assert_eq!(requested(&table, "2026-11-30"), 1);

    let (sheet, version) = store.sheet(first.id()).await.unwrap();
    assert_eq!(version, 1);
    let delta = (
        day("2026-11-30"),
        Bucket::All,
        livechat_core::analytics::Counters {
            requested: 5,
            ..Default::default()
        },
    );
    assert_eq!(
        store
            .save_sheet(first.id(), &sheet, 0, &[delta])
            .await
            .unwrap(),
        CasOutcome::Conflict,
        "a write from a stale sheet is refused, its counters with it"
    );

    let many: Vec<Conversation> = (0..40)
        .map(|i| requested_at(&format!("an-dec-{i}"), dec_01))
        .collect();
    let changes: Vec<Change> = many.iter().map(change).collect();
    record(store, &changes, None, dec_01).await.unwrap();
    let both = store
        .counters(day("2026-11-30"), day("2026-12-01"))
        .await
        .unwrap();
    assert_eq!(requested(&both, "2026-11-30"), 1);
    assert_eq!(requested(&both, "2026-12-01"), 40, "every shard is summed");
    let december = store
        .counters(day("2026-12-01"), day("2026-12-31"))
        .await
        .unwrap();
    assert_eq!(
        requested(&december, "2026-11-30"),
        0,
        "a range holds its days only"
    );
    let dialogs: i64 = both
        .cells()
        .filter(|((_, b), _)| matches!(b, Bucket::Dialog(d) if d.as_str() == "sales"))
        .map(|(_, c)| c.requested)
        .sum();
    assert_eq!(dialogs, 41, "each fact is counted under its dialog too");

    let paris = TimeZoneName::parse("Europe/Paris").unwrap();
    record(
        store,
        &[change(&requested_at("an-paris", dec_01))],
        Some(&paris),
        dec_01,
    )
    .await
    .unwrap();
    record(
        store,
        &[change(&requested_at("an-paris-2", dec_01))],
        Some(&paris),
        dec_01,
    )
    .await
    .unwrap();
    let zones: Vec<String> = store
        .zone_changes()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, z)| z.as_str().to_string())
        .collect();
    assert_eq!(zones, ["UTC", "Europe/Paris"]);
}

/// The live view's index: the consumer's puts and deletes keyed on the
/// conversation follow it from waiting to offered to ended, across every shard;
/// a batch applied again changes nothing; a put overwrites and a delete of no
/// entry is harmless; an entry past its safety net is not read.
pub async fn live_entries_follow_their_conversations_across_shards(store: &dyn Store) {
    use livechat_core::analytics::Change;
    use livechat_core::analytics::live::{LiveEntry, update_index};
    let now = test_now();
    let change = |old: Option<&Conversation>, new: &Conversation| Change::Conversation {
        old: old.map(|c| Box::new(c.clone())),
        new: Some(Box::new(new.clone())),
    };
    let sorted = |mut entries: Vec<LiveEntry>| {
        entries.sort_by(|a, b| a.conversation.cmp(&b.conversation));
        entries
    };
    assert_eq!(store.live_entries(now).await.unwrap(), []);

    let waiting: Vec<Conversation> = (0..40)
        .map(|i| requested_at(&format!("live-{i:02}"), now))
        .collect();
    let batch: Vec<Change> = waiting.iter().map(|c| change(None, c)).collect();
    assert!(update_index(store, &batch).await.unwrap());
    let entries = sorted(store.live_entries(now).await.unwrap());
    assert_eq!(entries.len(), 40, "every shard is read");
    assert!(entries.iter().all(|e| e.since == now && e.offer.is_none()));
    update_index(store, &batch).await.unwrap();
    assert_eq!(
        sorted(store.live_entries(now).await.unwrap()),
        entries,
        "a batch applied again changes nothing"
    );

    let expires = now + SignedDuration::from_secs(100);
    let mut offered = waiting[3].clone();
    offered
        .offer(AgentId::parse("ana").unwrap(), expires)
        .unwrap();
    let mut ended = waiting[7].clone();
    ended.end(EndReason::Dropped, now).unwrap();
    let batch = [
        change(Some(&waiting[3]), &offered),
        change(Some(&waiting[7]), &ended),
    ];
    assert!(update_index(store, &batch).await.unwrap());
    let entries = sorted(store.live_entries(now).await.unwrap());
    assert_eq!(entries.len(), 39, "an ended request leaves the index");
    let entry = entries
        .iter()
        .find(|e| e.conversation == *offered.id())
        .unwrap();
    let offer = entry.offer.as_ref().unwrap();
    assert_eq!((offer.agent.as_str(), offer.expires_at), ("ana", expires));
    assert!(!entries.iter().any(|e| e.conversation == *ended.id()));
    update_index(store, &batch).await.unwrap();
    assert_eq!(sorted(store.live_entries(now).await.unwrap()), entries);
    assert!(
        !update_index(store, &[change(Some(&offered), &offered)])
            .await
            .unwrap(),
        "a change that leaves the entry as it was writes nothing"
    );

    // A longer batch starting with one applied before (a retried batch with the
    // next changes added): from the request to its end, the entry goes.
    let mut gone = waiting[9].clone();
    gone.end(EndReason::Dropped, now).unwrap();
    let longer = [change(None, &waiting[9]), change(Some(&waiting[9]), &gone)];
    update_index(store, &longer).await.unwrap();
    assert_eq!(store.live_entries(now).await.unwrap().len(), 38);

    store.put_live(entry).await.unwrap();
    store.remove_live(ended.id()).await.unwrap();
    assert_eq!(store.live_entries(now).await.unwrap().len(), 38);
    let a_day_later = now + SignedDuration::from_hours(24);
    assert_eq!(
        store.live_entries(a_day_later).await.unwrap(),
        [],
        "an entry past its safety net is not read"
    );
}

fn trace_at(at: &str, outcome: livechat_core::routing::Outcome) -> livechat_core::routing::Trace {
    livechat_core::routing::Trace {
        at: at.parse().expect("time"),
        owner: None,
        rules: Vec::new(),
        pools: Vec::new(),
        outcome,
    }
}

/// A routing decision's trace is stored with its claim and only then; a
/// fallback's is stored alone; a conversation's traces come oldest first.
pub async fn routing_traces_are_kept_with_their_decisions(store: &dyn Store) {
    use livechat_core::routing::Outcome;
    let a = waiting("c-trace-a");
    let b = waiting("c-trace-b");
    for conv in [&a, &b] {
        store.create_conversation(conv).await.unwrap();
    }
    let offer = trace_at(
        "2026-03-02T10:00:01Z",
        Outcome::Offer {
            agent: agent("ana"),
        },
    );
    let mut first = claim(&a, "ana", 1, None);
    first.trace = Some(offer.clone());
    assert_eq!(
        store.claim_offer(&first).await.unwrap(),
        ClaimOutcome::Claimed
    );
    // A claim that fails stores no trace.
    let mut lost = claim(&b, "ana", 1, None);
    lost.trace = Some(trace_at(
        "2026-03-02T10:00:02Z",
        Outcome::Offer {
            agent: agent("ana"),
        },
    ));
    assert_eq!(
        store.claim_offer(&lost).await.unwrap(),
        ClaimOutcome::AgentAtCapacity
    );
    assert_eq!(store.traces(b.id()).await.unwrap(), []);

    let nobody = trace_at("2026-03-02T10:05:00Z", Outcome::Nobody);
    store.put_trace(a.id(), &nobody).await.unwrap();
    assert_eq!(store.traces(a.id()).await.unwrap(), [offer, nobody]);
}

/// Internal notes are stored once per id, apart from the messages, oldest first.
pub async fn notes_are_stored_once_per_id_apart_from_the_messages(store: &dyn Store) {
    let c = waiting("c-notes");
    store.create_conversation(&c).await.unwrap();
    let note = |id: &str, at: &str| livechat_core::domain::Note {
        id: livechat_core::domain::MessageId::parse(id).unwrap(),
        conversation: c.id().clone(),
        agent: agent("ana"),
        text: livechat_core::domain::MessageText::parse(format!("note {id}")).unwrap(),
        at: at.parse().unwrap(),
    };
    let later = note("n-b", "2026-03-02T10:00:02Z");
    let earlier = note("n-a", "2026-03-02T10:00:01Z");
    assert!(store.add_note(&later).await.unwrap());
    assert!(store.add_note(&earlier).await.unwrap());
    // A resend, even with other text, changes nothing.
    let mut again = later.clone();
    again.text = livechat_core::domain::MessageText::parse("changed").unwrap();
    assert!(!store.add_note(&again).await.unwrap());
    assert_eq!(store.notes(c.id()).await.unwrap(), [earlier, later]);
    assert_eq!(store.messages(c.id()).await.unwrap(), []);
    assert_eq!(store.notes(waiting("c-none").id()).await.unwrap(), []);
}

/// An agent's own canned responses are theirs, replaced whole, and outlive a new
/// directory.
pub async fn agents_keep_their_canned_responses_across_a_new_directory(store: &dyn Store) {
    use livechat_core::domain::{CannedResponse, Shortcut};
    let canned =
        |s: &str| CannedResponse::new(Shortcut::parse(s).unwrap(), format!("text {s}")).unwrap();
    assert_eq!(store.agent_canned(&agent("ana")).await.unwrap(), []);
    store
        .put_agent_canned(&agent("ana"), &[canned("bye"), canned("hi")])
        .await
        .unwrap();
    let directory = store.directory().await.unwrap();
    store.put_directory(&directory).await.unwrap();
    assert_eq!(
        store.agent_canned(&agent("ana")).await.unwrap(),
        [canned("bye"), canned("hi")]
    );
    assert_eq!(store.agent_canned(&agent("ben")).await.unwrap(), []);
    store
        .put_agent_canned(&agent("ana"), &[canned("hi")])
        .await
        .unwrap();
    assert_eq!(
        store.agent_canned(&agent("ana")).await.unwrap(),
        [canned("hi")]
    );
}

/// A transfer of a live chat: offered with the routing claim (the conversation at
/// the version read, the receiver's capacity under their limit, the team's cursor),
/// so of two transfers raced at one version only one lands; the pending transfer is
/// stored with the conversation; the accept is a compare-and-set, and the capacity
/// moves: the receiver's slot was taken by the claim, the sender's is released.
pub async fn a_transfer_is_claimed_once_and_moves_capacity_when_accepted(store: &dyn Store) {
    use livechat_core::domain::{PendingTransfer, TeamId, TransferNote};
    let waiting = waiting("c-t");
    store.create_conversation(&waiting).await.unwrap();
    let offer = claim(&waiting, "ana", 5, None);
    assert_eq!(
        store.claim_offer(&offer).await.unwrap(),
        ClaimOutcome::Claimed
    );
    let mut live = offer.conversation.clone();
    live.accept(&agent("ana"), test_now()).unwrap();
    assert_eq!(
        store
            .replace_conversation(&live, offer.conversation.version())
            .await
            .unwrap(),
        CasOutcome::Written
    );
    let team_cursor = store.cursor("team:sales").await.unwrap();
    let transfer_to = |to: &str, limit: u32| {
        let mut pending = live.clone();
        pending
            .start_transfer(PendingTransfer {
                from: agent("ana"),
                to: agent(to),
                team: Some(TeamId::parse("sales").unwrap()),
                note: TransferNote::parse("Wants the <b>annual</b> plan").unwrap(),
                expires_at: test_now(),
            })
            .unwrap();
        OfferClaim {
            conversation: pending,
            expected_version: live.version(),
            agent: agent(to),
            limit: ChatLimit::new(limit).expect("limit"),
            cursor: Some(CursorMove {
                pool: "team:sales".into(),
                expected_version: team_cursor.version,
                last: agent(to),
                served: team_cursor.served,
            }),
            trace: None,
            ahead: Vec::new(),
        }
    };
    let to_ben = transfer_to("ben", 1);
    assert_eq!(
        store.claim_offer(&to_ben).await.unwrap(),
        ClaimOutcome::Claimed
    );
    // A second transfer raced at the same version loses, whatever it names.
    let to_cleo = transfer_to("cleo", 5);
    assert!(matches!(
        store.claim_offer(&to_cleo).await.unwrap(),
        ClaimOutcome::ConversationChanged | ClaimOutcome::CursorMoved { .. }
    ));
    assert_eq!(store.agent_chats(&agent("cleo")).await.unwrap(), []);
    let stored = store.conversation(live.id()).await.unwrap().unwrap();
    assert_eq!(
        stored, to_ben.conversation,
        "the pending transfer is stored"
    );
    assert_eq!(
        store.cursor("team:sales").await.unwrap().last,
        Some(agent("ben"))
    );
    // Both hold it while it is pending: the sender chats, the receiver's slot waits.
    assert_eq!(
        store.agent_chats(&agent("ana")).await.unwrap(),
        vec![live.id().clone()]
    );
    assert_eq!(
        store.agent_chats(&agent("ben")).await.unwrap(),
        vec![live.id().clone()]
    );

    let mut accepted = stored.clone();
    accepted.accept_transfer(&agent("ben"), test_now()).unwrap();
    let mut ended = stored.clone();
    ended.end(EndReason::Completed, test_now()).unwrap();
    assert_eq!(
        store
            .replace_conversation(&accepted, stored.version())
            .await
            .unwrap(),
        CasOutcome::Written
    );
    assert_eq!(
        store
            .replace_conversation(&ended, stored.version())
            .await
            .unwrap(),
        CasOutcome::Conflict,
        "an end raced against the accept loses"
    );
    assert!(
        store
            .release_capacity_if(&agent("ana"), live.id(), accepted.version())
            .await
            .unwrap()
    );
    assert_eq!(store.agent_chats(&agent("ana")).await.unwrap(), []);
    assert_eq!(
        store.agent_chats(&agent("ben")).await.unwrap(),
        vec![live.id().clone()]
    );
}

/// A walk of the live queue claims an offer only while the requests it passed over
/// are as it read them: one whose offer lapsed meanwhile (its version moved) makes
/// the claim fail whole, with nothing written, and the walk reads the queue again.
pub async fn a_queue_walks_claim_holds_only_while_the_requests_ahead_are_unchanged(
    store: &dyn Store,
) {
    let ahead = waiting("c-ahead");
    let behind = waiting("c-behind");
    for conv in [&ahead, &behind] {
        store.create_conversation(conv).await.unwrap();
    }
    // The walk read `ahead` offered elsewhere (version v); it is changed since.
    let read_at = ahead.version();
    let mut moved = ahead.clone();
    moved.offer(agent("cleo"), test_now()).expect("offered");
    assert_eq!(
        store.replace_conversation(&moved, read_at).await.unwrap(),
        CasOutcome::Written
    );

    let mut stale = claim(&behind, "ben", 5, None);
    stale.ahead = vec![(ahead.id().clone(), read_at)];
    assert_eq!(
        store.claim_offer(&stale).await.unwrap(),
        ClaimOutcome::QueueMoved
    );
    assert_eq!(
        store.conversation(behind.id()).await.unwrap(),
        Some(behind.clone())
    );
    assert_eq!(
        store
            .agent_states(&[agent("ben")], test_now())
            .await
            .unwrap()
            .get(&agent("ben"))
            .map_or(0, |s| s.load),
        0,
        "no capacity taken"
    );

    let mut fresh = claim(&behind, "ben", 5, None);
    fresh.ahead = vec![(ahead.id().clone(), moved.version())];
    assert_eq!(
        store.claim_offer(&fresh).await.unwrap(),
        ClaimOutcome::Claimed
    );
}
