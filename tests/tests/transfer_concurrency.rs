//! Many agents transfer their live chats to one team at the same instant: the
//! team's round robin, moved only by compare-and-set, must offer each receiver at
//! most their limit and never a chat twice; then every receiver accepts while every
//! sender ends the chat, and each race must come out one way exactly once, with the
//! capacity held by whoever has the chat and nobody else.

use std::collections::BTreeMap;
use std::sync::Arc;

use livechat_core::domain::{
    AgentId, ChatLimit, ConversationId, ConversationState, EndReason, TeamId, TransferNote,
    TransferTarget,
};
use livechat_core::memory::MemoryStore;
use livechat_core::ports::{ClaimOutcome, ConversationStore, OfferClaim, RoutingStore};
use livechat_core::protocol::TransferFailure;
use livechat_core::routing::{Directory, Router, TransferResult};
use livechat_tests::{MemoryWorld, agents, test_now};
use tokio::sync::Barrier;

const SENDERS: usize = 10;
const CHATS_EACH: usize = 3;
const RECEIVERS: usize = 5;
const RECEIVER_LIMIT: u32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn thirty_simultaneous_team_transfers_fill_the_team_once_and_each_accept_racing_an_end_wins_once()
 {
    // Arrange: 10 senders with 3 live chats each; a team of 5 receivers, limit 2.
    let mut all = agents(SENDERS + RECEIVERS, 10);
    for receiver in &mut all[SENDERS..] {
        receiver.chat_limit = ChatLimit::new(RECEIVER_LIMIT).unwrap();
    }
    let receivers: Vec<AgentId> = all[SENDERS..].iter().map(|a| a.id.clone()).collect();
    let team = TeamId::parse("closers").unwrap();
    let directory = Directory {
        agents: all.clone(),
        teams: vec![livechat_core::domain::Team {
            id: team.clone(),
            name: "Closers".into(),
            members: receivers.clone(),
        }],
        ..Directory::default()
    };
    let world = MemoryWorld::new(MemoryStore::new(), directory.clone()).await;
    let router = Arc::new(Router::new(world.ports.clone()));
    let store = world.store.clone();
    let mut chats: Vec<(ConversationId, AgentId)> = Vec::new();
    for sender in all.iter().take(SENDERS) {
        for _ in 0..CHATS_EACH {
            let id = world.waiting_conversation().await;
            let waiting = store.conversation(&id).await.unwrap().unwrap();
            let mut offered = waiting.clone();
            offered.offer(sender.id.clone(), test_now()).unwrap();
            let claim = OfferClaim {
                conversation: offered,
                expected_version: waiting.version(),
                agent: sender.id.clone(),
                limit: sender.chat_limit,
                cursor: None,
                trace: None,
                ahead: Vec::new(),
            };
            assert_eq!(
                store.claim_offer(&claim).await.unwrap(),
                ClaimOutcome::Claimed
            );
            router
                .writer()
                .accept(&id, &sender.id)
                .await
                .unwrap()
                .unwrap();
            chats.push((id, sender.id.clone()));
        }
    }
    let cursor_before = store.cursor("team:closers").await.unwrap().version;

    // Act 1: every chat is transferred to the team at once.
    let barrier = Arc::new(Barrier::new(chats.len()));
    let tasks: Vec<_> = chats
        .iter()
        .cloned()
        .map(|(id, sender)| {
            let (router, barrier, store, directory) = (
                router.clone(),
                barrier.clone(),
                store.clone(),
                directory.clone(),
            );
            let target = TransferTarget::Team(team.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let conv = store.conversation(&id).await.unwrap().unwrap();
                let note = TransferNote::parse("over to you").unwrap();
                let outcome = router
                    .transfer(conv, &directory, &sender, &target, &note)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>((id, sender, outcome))
            })
        })
        .collect();
    let mut offered: Vec<(ConversationId, AgentId, AgentId)> = Vec::new();
    let mut failed = 0;
    for task in tasks {
        let (id, sender, outcome) = task.await.unwrap().unwrap();
        match outcome {
            TransferResult::Offered(conv) => {
                let to = conv.transfer().unwrap().to.clone();
                offered.push((id, sender, to));
            }
            TransferResult::Failed(TransferFailure::NobodyEligible) => failed += 1,
            other => panic!("{id}: {other:?}"),
        }
    }

    // Assert 1: the team is exactly full, each receiver at their limit, once a chat.
    let capacity = RECEIVERS * RECEIVER_LIMIT as usize;
    assert_eq!(offered.len(), capacity);
    assert_eq!(failed, chats.len() - capacity);
    let mut per_receiver: BTreeMap<AgentId, usize> = BTreeMap::new();
    for (_, _, to) in &offered {
        *per_receiver.entry(to.clone()).or_default() += 1;
    }
    assert_eq!(per_receiver.len(), RECEIVERS);
    assert!(per_receiver.values().all(|n| *n == RECEIVER_LIMIT as usize));
    assert_eq!(
        store.cursor("team:closers").await.unwrap().version,
        cursor_before + capacity as u64,
        "the cursor moved once per transfer offered"
    );

    // Act 2: each receiver accepts while its sender ends the chat.
    let barrier = Arc::new(Barrier::new(offered.len() * 2));
    let mut races = Vec::new();
    for (id, sender, to) in &offered {
        let (r, b, conversation, to) = (router.clone(), barrier.clone(), id.clone(), to.clone());
        races.push(tokio::spawn(async move {
            b.wait().await;
            let accepted = r.writer().accept_transfer(&conversation, None, &to).await;
            accepted.unwrap().is_some()
        }));
        let (router, barrier, id, sender) =
            (router.clone(), barrier.clone(), id.clone(), sender.clone());
        races.push(tokio::spawn(async move {
            barrier.wait().await;
            // The sender ends it only while it is still theirs.
            let theirs = |c: &livechat_core::domain::Conversation| matches!(c.state(), ConversationState::Live { agent, .. } if *agent == sender);
            let ending = router
                .writer()
                .end_if(&id, EndReason::Completed, theirs)
                .await
                .unwrap();
            ending.required().is_ok()
        }));
    }
    let mut outcomes = Vec::new();
    for race in races {
        outcomes.push(race.await.unwrap());
    }

    // Assert 2: one winner per chat, and the capacity follows the chat.
    for (i, (id, sender, to)) in offered.iter().enumerate() {
        let (accepted, ended) = (outcomes[2 * i], outcomes[2 * i + 1]);
        assert!(
            accepted != ended,
            "{id}: accepted {accepted}, ended {ended}"
        );
        let conv = store.conversation(id).await.unwrap().unwrap();
        assert!(conv.transfer().is_none(), "{id}");
        let sender_holds = store.agent_chats(sender).await.unwrap().contains(id);
        let receiver_holds = store.agent_chats(to).await.unwrap().contains(id);
        match conv.state() {
            ConversationState::Live { agent, .. } => {
                assert!(accepted && agent == to, "{id}");
                assert!(receiver_holds && !sender_holds, "{id}");
            }
            ConversationState::Ended { .. } => {
                assert!(ended, "{id}");
                assert!(!receiver_holds && !sender_holds, "{id}");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    for receiver in &receivers {
        let held = store.agent_chats(receiver).await.unwrap().len();
        assert!(held <= RECEIVER_LIMIT as usize, "{receiver} holds {held}");
    }
}
