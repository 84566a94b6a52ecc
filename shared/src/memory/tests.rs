//! The in-memory adapters keep the contracts the AWS adapters will have.

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::domain::{ChatLimit, DialogId, MessageId, MessageText, Sender, VisitorId};
use crate::ports::{AppendAfter, Appended};
use crate::ports::{CursorMove, OfferClaim};

fn t0() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

fn conversation(id: &str) -> Conversation {
    let mut c = Conversation::new(
        ConversationId::parse(id).unwrap(),
        VisitorId::parse("v").unwrap(),
        DialogId::parse("d").unwrap(),
        t0(),
    );
    c.request_live_chat(t0()).unwrap();
    c
}

fn message(conversation: &str, id: &str, text: &str) -> NewMessage {
    NewMessage {
        id: MessageId::parse(id).unwrap(),
        conversation: ConversationId::parse(conversation).unwrap(),
        sender: Sender::Visitor,
        text: MessageText::parse(text).unwrap(),
        at: t0(),
        windows: None,
    }
}

fn claim(c: &Conversation, agent: &str, limit: u32, cursor: Option<u64>) -> OfferClaim {
    let mut offered = c.clone();
    offered.offer(AgentId::parse(agent).unwrap(), t0()).unwrap();
    OfferClaim {
        conversation: offered,
        expected_version: c.version(),
        agent: AgentId::parse(agent).unwrap(),
        limit: ChatLimit::new(limit).unwrap(),
        cursor: cursor.map(|v| CursorMove {
            pool: "all".into(),
            expected_version: v,
            last: AgentId::parse(agent).unwrap(),
            served: v,
        }),
        trace: None,
        ahead: Vec::new(),
    }
}

/// Appends `message` after the conversation's latest one: what the chat's one retry
/// loop does on its first try (nothing else writes in these tests).
async fn append(
    store: &MemoryStore,
    message: crate::ports::NewMessage,
) -> crate::ports::StoreResult<Appended> {
    let hub = store.hub(&message.conversation).await?.ok_or_else(|| {
        crate::ports::StoreError::Missing {
            key: format!("conversation {}", message.conversation),
        }
    })?;
    match crate::ports::append_once(store, &hub, message).await? {
        AppendAfter::Stored(m) => Ok(Appended::New(m)),
        AppendAfter::Duplicate(m) => Ok(Appended::Duplicate(m)),
        AppendAfter::Moved => panic!("nothing else writes here"),
    }
}

#[tokio::test]
async fn a_retried_message_is_stored_once_with_its_first_sequence_number() {
    let store = MemoryStore::new();
    store.create_conversation(&conversation("c")).await.unwrap();
    let first = append(&store, message("c", "m1", "hello")).await.unwrap();
    append(&store, message("c", "m2", "again")).await.unwrap();

    let retry = append(&store, message("c", "m1", "hello")).await.unwrap();

    assert!(matches!(first, Appended::New(ref m) if m.seq == 1));
    assert_eq!(retry, Appended::Duplicate(first.message().clone()));
    assert_eq!(
        store
            .messages(&ConversationId::parse("c").unwrap())
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_stale_conversation_write_loses_and_changes_nothing() {
    let store = MemoryStore::new();
    let c = conversation("c");
    assert_eq!(
        store.create_conversation(&c).await.unwrap(),
        CasOutcome::Written
    );
    assert_eq!(
        store.create_conversation(&c).await.unwrap(),
        CasOutcome::Conflict
    );
    let mut newer = c.clone();
    newer.end(crate::domain::EndReason::Dropped, t0()).unwrap();
    assert_eq!(
        store
            .replace_conversation(&newer, c.version())
            .await
            .unwrap(),
        CasOutcome::Written
    );

    let stale = store.replace_conversation(&c, c.version()).await.unwrap();

    assert_eq!(stale, CasOutcome::Conflict);
    assert_eq!(store.conversation(c.id()).await.unwrap(), Some(newer));
    assert_eq!(store.cas_conflicts(), 2);
}

#[tokio::test]
async fn a_claim_with_a_stale_cursor_writes_nothing_at_all() {
    let store = MemoryStore::new();
    let a = conversation("a");
    let b = conversation("b");
    store.create_conversation(&a).await.unwrap();
    store.create_conversation(&b).await.unwrap();
    assert_eq!(
        store
            .claim_offer(&claim(&a, "ana", 5, Some(0)))
            .await
            .unwrap(),
        ClaimOutcome::Claimed
    );

    let lost = store
        .claim_offer(&claim(&b, "ben", 5, Some(0)))
        .await
        .unwrap();

    assert!(matches!(lost, ClaimOutcome::CursorMoved { current: Some(ref c) } if c.version == 1));
    assert_eq!(store.conversation(b.id()).await.unwrap(), Some(b));
    let ben = AgentId::parse("ben").unwrap();
    assert!(store.agent_chats(&ben).await.unwrap().is_empty());
    let cursor = store.cursor("all").await.unwrap();
    assert_eq!((cursor.last.unwrap().as_str(), cursor.version), ("ana", 1));
}

#[tokio::test]
async fn a_claim_over_the_agents_limit_is_refused() {
    let store = MemoryStore::new();
    let a = conversation("a");
    let b = conversation("b");
    store.create_conversation(&a).await.unwrap();
    store.create_conversation(&b).await.unwrap();
    assert_eq!(
        store.claim_offer(&claim(&a, "ana", 1, None)).await.unwrap(),
        ClaimOutcome::Claimed
    );

    let full = store.claim_offer(&claim(&b, "ana", 1, None)).await.unwrap();

    assert_eq!(full, ClaimOutcome::AgentAtCapacity);
    let ana = AgentId::parse("ana").unwrap();
    let version = store.conversation(a.id()).await.unwrap().unwrap().version();
    assert!(
        store
            .release_capacity_if(&ana, a.id(), version)
            .await
            .unwrap()
    );
    assert!(
        store
            .release_capacity_if(&ana, a.id(), version)
            .await
            .unwrap()
    );
    assert_eq!(
        store.claim_offer(&claim(&b, "ana", 1, None)).await.unwrap(),
        ClaimOutcome::Claimed
    );
    assert_eq!(store.peak_load(&ana), 1);
}

#[tokio::test]
async fn expired_connections_are_ignored_on_read() {
    let store = MemoryStore::new();
    let record = ConnectionRecord {
        id: ConnectionId::parse("abc=").unwrap(),
        party: Party::Agent {
            agent: AgentId::parse("ana").unwrap(),
        },
        connected_at: t0(),
        expires_at: t0() + SignedDuration::from_hours(2),
        authorized_until: None,
    };
    store.put_connection(&record).await.unwrap();
    let later = t0() + SignedDuration::from_hours(3);

    assert!(store.connection(&record.id, t0()).await.unwrap().is_some());
    assert!(store.connection(&record.id, later).await.unwrap().is_none());
    assert!(
        store
            .connections_of(&record.party, later)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_push_to_a_closed_connection_is_gone() {
    let push = MemoryPush::new();
    let conn = ConnectionId::parse("abc=").unwrap();
    push.open(&conn);
    assert_eq!(push.push(&conn, "{}").await.unwrap(), Delivery::Delivered);
    push.close(&conn);

    assert_eq!(push.push(&conn, "{}").await.unwrap(), Delivery::Gone);
}

#[tokio::test]
async fn delayed_events_wait_for_their_time_and_may_come_twice() {
    let scheduler = MemoryScheduler::new();
    scheduler.duplicate_deliveries(true);
    let event = DelayedEvent::InactivityCheck {
        conversation: ConversationId::parse("c").unwrap(),
    };
    scheduler
        .schedule(event.clone(), t0() + SignedDuration::from_secs(60))
        .await
        .unwrap();

    assert!(scheduler.take_due(t0()).is_empty());
    assert_eq!(
        scheduler.take_due(t0() + SignedDuration::from_secs(60)),
        vec![event.clone(), event]
    );
    assert!(scheduler.pending().is_empty());
}

#[tokio::test]
async fn an_append_behind_the_latest_message_is_refused_and_a_message_needs_its_conversation() {
    let store = MemoryStore::new();
    assert!(
        append(&store, message("nowhere", "m1", "hi"))
            .await
            .is_err()
    );
    store.create_conversation(&conversation("c")).await.unwrap();
    append(&store, message("c", "m1", "hello")).await.unwrap();

    let stale = store
        .append_after(message("c", "m2", "late"), 0, &Default::default())
        .await
        .unwrap();

    assert_eq!(stale, None);
    let hub = store
        .hub(&ConversationId::parse("c").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hub.messages, 1);
}
