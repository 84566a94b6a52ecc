//! The live queue's part of the store conformance suite (run by
//! `tests/tests/store_memory.rs` and `tests/tests/store_dynamodb.rs`): one entry per
//! conversation whatever the number of enqueues, first ticket first, per pool.

use std::collections::BTreeSet;

use livechat_core::domain::{ChatLengths, ConversationId};
use livechat_core::ports::{Joined, Store};

use crate::test_now;

fn id(name: &str) -> ConversationId {
    ConversationId::parse(name).expect("id")
}

fn names(entries: &[livechat_core::ports::QueueEntry]) -> Vec<String> {
    entries.iter().map(|e| e.conversation.to_string()).collect()
}

/// Entries come first ticket first, one per conversation: an enqueue of a queued
/// conversation keeps its ticket, a dequeued one that joins again goes to the end,
/// and each pool has its own queue.
pub async fn queue_entries_are_one_per_conversation_first_ticket_first(store: &dyn Store) {
    let now = test_now();
    assert_eq!(store.queue("all").await.unwrap(), []);
    let mut tickets = Vec::new();
    for name in ["q-a", "q-b", "q-c"] {
        let Joined::New(entry) = store.enqueue("all", &id(name), now).await.unwrap() else {
            panic!("{name} joins anew");
        };
        assert_eq!(entry.since, now);
        tickets.push(entry.ticket);
    }
    assert!(tickets.windows(2).all(|w| w[0] < w[1]), "{tickets:?}");
    let Joined::Already(kept) = store.enqueue("all", &id("q-a"), now).await.unwrap() else {
        panic!("q-a is queued already");
    };
    assert_eq!(kept.ticket, tickets[0], "it keeps its place");
    assert_eq!(
        names(&store.queue("all").await.unwrap()),
        ["q-a", "q-b", "q-c"]
    );

    assert!(store.dequeue("all", &id("q-b")).await.unwrap());
    assert!(!store.dequeue("all", &id("q-b")).await.unwrap(), "once");
    assert!(matches!(
        store.enqueue("all", &id("q-b"), now).await.unwrap(),
        Joined::New(_)
    ));
    assert_eq!(
        names(&store.queue("all").await.unwrap()),
        ["q-a", "q-c", "q-b"]
    );

    store.enqueue("team:sales", &id("q-d"), now).await.unwrap();
    assert_eq!(names(&store.queue("team:sales").await.unwrap()), ["q-d"]);
    assert_eq!(store.queue("all").await.unwrap().len(), 3, "pools apart");
}

/// Enqueues racing each other: of one conversation, one entry and one ticket; of
/// many conversations, a ticket each, none shared.
pub async fn concurrent_enqueues_leave_one_entry_per_conversation(store: &dyn Store) {
    let now = test_now();
    let same = id("q-same");
    let joins =
        futures_util::future::join_all((0..8).map(|_| store.enqueue("all", &same, now))).await;
    let joins: Vec<Joined> = joins.into_iter().map(|j| j.unwrap()).collect();
    let new = joins.iter().filter(|j| matches!(j, Joined::New(_))).count();
    assert_eq!(new, 1, "{joins:?}");
    let tickets: BTreeSet<u64> = joins.iter().map(|j| j.entry().ticket).collect();
    assert_eq!(tickets.len(), 1, "one ticket: {joins:?}");
    assert_eq!(names(&store.queue("all").await.unwrap()), ["q-same"]);

    let others: Vec<ConversationId> = (0..8).map(|i| id(&format!("q-many-{i}"))).collect();
    let joins =
        futures_util::future::join_all(others.iter().map(|c| store.enqueue("all", c, now))).await;
    let tickets: BTreeSet<u64> = joins
        .into_iter()
        .map(|j| j.unwrap().entry().ticket)
        .collect();
    assert_eq!(tickets.len(), 8, "a ticket each: {tickets:?}");
    let queue = store.queue("all").await.unwrap();
    assert_eq!(queue.len(), 9);
    assert!(queue.windows(2).all(|w| w[0].ticket < w[1].ticket));
}

/// The measured chat lengths add up per pool, from none.
pub async fn chat_lengths_add_up_per_pool(store: &dyn Store) {
    assert_eq!(
        store.chat_lengths("all").await.unwrap(),
        ChatLengths::default()
    );
    store.record_chat_length("all", 120).await.unwrap();
    store.record_chat_length("all", 300).await.unwrap();
    store.record_chat_length("team:sales", 60).await.unwrap();
    let all = store.chat_lengths("all").await.unwrap();
    assert_eq!(
        all,
        ChatLengths {
            chats: 2,
            total_secs: 420
        }
    );
    assert_eq!(all.mean_secs(), Some(210));
    assert_eq!(store.chat_lengths("team:sales").await.unwrap().chats, 1);
}
