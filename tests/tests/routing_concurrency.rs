//! Many visitors reach a live chat card at the same instant: the round-robin cursor,
//! moved only by compare-and-set, must hand out every chat once and evenly, and the
//! capacity claim must never let an agent go over their limit.

use std::collections::BTreeMap;
use std::sync::Arc;

use livechat_core::domain::{Attributes, ConversationState, EndReason, RoutingMode};
use livechat_core::memory::MemoryStore;
use livechat_core::ports::ConversationStore;
use livechat_core::routing::{Directory, RouteOutcome, Router};
use livechat_tests::{MemoryWorld, agents};
use tokio::sync::Barrier;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_thousand_simultaneous_requests_over_ten_agents_are_each_assigned_once_and_evenly() {
    // Arrange: 10 eligible agents (limit 5), 1,000 visitors waiting.
    let directory = Directory {
        agents: agents(10, 5),
        ..Directory::default()
    };
    let world = MemoryWorld::new(MemoryStore::new(), directory.clone()).await;
    let router = Arc::new(Router::new(world.ports.clone()));
    let mut conversations = Vec::new();
    for _ in 0..1_000 {
        conversations.push(world.waiting_conversation().await);
    }
    let barrier = Arc::new(Barrier::new(conversations.len()));

    // Act: every request starts at once; each agent accepts and wraps up at once, as
    // a chat that ends frees the capacity the next one needs.
    let tasks: Vec<_> = conversations
        .iter()
        .cloned()
        .map(|c| {
            let (router, barrier) = (router.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let outcome = router
                    .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
                    .await;
                let Ok(RouteOutcome::Offered { agent, .. }) = outcome else {
                    return Err(format!("{c}: {outcome:?}"));
                };
                let accepted = router
                    .writer()
                    .accept(&c, &agent)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some();
                let ended = router
                    .writer()
                    .end(&c, EndReason::Completed)
                    .await
                    .map_err(|e| e.to_string())?;
                if accepted && ended {
                    Ok(agent)
                } else {
                    Err(format!("{c}: accept/end refused"))
                }
            })
        })
        .collect();
    let mut per_agent: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        let agent = task.await.expect("task ran").expect("request assigned");
        *per_agent.entry(agent.to_string()).or_default() += 1;
    }

    // Assert: once each, evenly, never over the limit.
    for c in &conversations {
        let stored = world.store.conversation(c).await.unwrap().unwrap();
        assert_eq!(stored.offered_to().len(), 1, "{c} was offered once");
        assert!(matches!(
            stored.state(),
            ConversationState::Ended {
                reason: EndReason::Completed,
                ..
            }
        ));
    }
    assert_eq!(per_agent.values().sum::<usize>(), 1_000);
    assert_eq!(per_agent.len(), 10);
    let (min, max) = (
        per_agent.values().min().unwrap(),
        per_agent.values().max().unwrap(),
    );
    assert!(
        max - min <= 1,
        "per-agent counts differ by at most one: {per_agent:?}"
    );
    for a in &directory.agents {
        assert!(
            world.store.peak_load(&a.id) <= a.chat_limit.get(),
            "{} over its limit",
            a.id
        );
    }
    println!(
        "1000 requests, per agent {per_agent:?}, {} lost races retried, {} compare-and-set conflicts",
        router.conflicts_retried(),
        world.store.cas_conflicts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_requests_beyond_total_capacity_fill_every_agent_exactly_to_the_limit() {
    // Arrange: 10 agents with limit 3 (30 chats in all), 200 visitors; every store call
    // yields first, so requests interleave between their reads and their claims.
    let directory = Directory {
        agents: agents(10, 3),
        ..Directory::default()
    };
    let world = MemoryWorld::new(MemoryStore::new().interleaving(), directory.clone()).await;
    let router = Arc::new(Router::new(world.ports.clone()));
    let mut conversations = Vec::new();
    for _ in 0..200 {
        conversations.push(world.waiting_conversation().await);
    }
    let barrier = Arc::new(Barrier::new(conversations.len()));

    // Act: nobody accepts or ends, so capacity only fills.
    let tasks: Vec<_> = conversations
        .iter()
        .cloned()
        .map(|c| {
            let (router, barrier) = (router.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                router
                    .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
                    .await
            })
        })
        .collect();
    let mut per_agent: BTreeMap<String, u32> = BTreeMap::new();
    let mut fallbacks = 0;
    for task in tasks {
        match task.await.expect("task ran").expect("routed") {
            RouteOutcome::Offered { agent, .. } => {
                *per_agent.entry(agent.to_string()).or_default() += 1
            }
            RouteOutcome::Fallback {
                reason: EndReason::Fallback,
                ..
            } => fallbacks += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    // Assert: exactly 3 each, the other 170 told nobody can take the chat.
    assert_eq!(per_agent.len(), 10);
    assert!(per_agent.values().all(|n| *n == 3), "{per_agent:?}");
    assert_eq!(fallbacks, 170);
    for a in &directory.agents {
        assert_eq!(world.store.peak_load(&a.id), 3);
    }
    println!("{} lost races retried", router.conflicts_retried());
}
