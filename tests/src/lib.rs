//! Helpers shared by the integration tests in `tests/tests/`: a world of agents on the
//! in-memory ports, built the way the local gateway builds it.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use livechat_core::domain::{
    Agent, AgentId, ChatLimit, ConnectionId, Conversation, ConversationId, DialogId, Email, Role,
    VisitorId, WeeklySchedule,
};
use livechat_core::memory::{
    ManualClock, MemoryNotifier, MemoryPush, MemoryScheduler, MemoryStore,
};
use livechat_core::ports::{
    Clock, ConnectionRecord, ConnectionStore, ConversationStore, Party, Ports,
};
use livechat_core::routing::Directory;

/// A fixed "now": Monday 2 March 2026, 10:00 UTC.
pub fn monday_ten() -> Timestamp {
    Timestamp::from_second(1_772_445_600).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `n` live agents named `agent-01`…, available (manual toggle) and under `limit`.
pub fn agents(n: usize, limit: u32) -> Vec<Agent> {
    (1..=n)
        .map(|i| {
            let name = format!("agent-{i:02}");
            let mut a = Agent {
                id: AgentId::parse(&name).expect("valid id"),
                name: name.clone(),
                email: Email::parse(&format!("{name}@seller.example")).expect("valid email"),
                roles: [Role::LiveAgent].into(),
                time_zone: None,
                schedule: WeeklySchedule::default(),
                manual: None,
                chat_limit: ChatLimit::new(limit).expect("limit in 1..=10"),
            };
            a.set_available(true, monday_ten());
            a
        })
        .collect()
}

/// The in-memory ports around one store, with handles on each adapter.
pub struct MemoryWorld {
    /// The store.
    pub store: Arc<MemoryStore>,
    /// The delay queue.
    pub scheduler: Arc<MemoryScheduler>,
    /// The clock, stopped at [`monday_ten`].
    pub clock: Arc<ManualClock>,
    /// The ports, for a `Router` or a handler.
    pub ports: Ports,
}

impl MemoryWorld {
    /// A world on `store`, with every agent of `directory` connected.
    pub async fn new(store: MemoryStore, directory: Directory) -> Self {
        let store = Arc::new(store);
        let scheduler = Arc::new(MemoryScheduler::new());
        let clock = Arc::new(ManualClock::new(monday_ten()));
        let ports = Ports {
            store: store.clone(),
            push: Arc::new(MemoryPush::new()),
            scheduler: scheduler.clone(),
            clock: clock.clone(),
            notifier: Arc::new(MemoryNotifier::new()),
        };
        use livechat_core::ports::DirectoryStore;
        store.put_directory(&directory).await.expect("memory store");
        for a in &directory.agents {
            let record = ConnectionRecord {
                id: ConnectionId::parse(format!("conn-{}", a.id)).expect("valid id"),
                party: Party::Agent {
                    agent: a.id.clone(),
                },
                connected_at: monday_ten(),
                expires_at: monday_ten() + SignedDuration::from_hours(2),
            };
            store.put_connection(&record).await.expect("memory store");
        }
        Self {
            store,
            scheduler,
            clock,
            ports,
        }
    }

    /// A new conversation waiting for routing.
    pub async fn waiting_conversation(&self) -> ConversationId {
        let now = self.clock.now();
        let mut c = Conversation::new(
            ConversationId::generate(),
            VisitorId::generate(),
            DialogId::parse("sales").expect("valid id"),
            now,
        );
        c.request_live_chat(now).expect("bot to waiting");
        self.store
            .create_conversation(&c)
            .await
            .expect("memory store");
        c.id
    }
}
