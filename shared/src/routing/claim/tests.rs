//! Routing behaviour (round robin, a specific agent, rules, teams, the fallback) on the in-memory ports.

use std::collections::BTreeSet;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::domain::{
    AccountRouting, AttributeName, ChatLimit, Combine, Condition, ConditionSet, ConditionValue,
    Conversation, CustomRule, DialogId, Email, FallbackMessage, Operator, Role, RuleId, Settings,
    Team, TeamId, TimeZoneName, VisitorId, WeeklySchedule,
};
use crate::domain::{Agent, RuleTarget};
use crate::memory::{ManualClock, MemoryNotifier, MemoryPush, MemoryScheduler, MemoryStore};
use crate::ports::{
    Clock, ConnectionRecord, ConnectionStore, ConversationStore, DirectoryStore, Party,
    RoutingStore,
};
use crate::routing::{ALL_AGENTS_POOL, Ending, next_in_rotation};
use std::time::Duration;

/// A Monday, 10:00 UTC.
fn monday_ten() -> Timestamp {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

fn id(s: &str) -> AgentId {
    AgentId::parse(s).unwrap()
}

fn agent(name: &str) -> Agent {
    let mut a = Agent {
        id: id(name),
        name: name.to_uppercase(),
        email: Email::parse(&format!("{name}@seller.com")).unwrap(),
        roles: [Role::LiveAgent].into(),
        time_zone: None,
        schedule: WeeklySchedule::default(),
        manual: None,
        chat_limit: ChatLimit::default(),
        notifications: Default::default(),
    };
    a.set_available(true, monday_ten());
    a
}

/// The store's missed list holds exactly `ids`.
async fn assert_missed_list_is(world: &World, ids: &[&ConversationId]) {
    let missed = world
        .store
        .missed_since(Timestamp::UNIX_EPOCH, None, usize::MAX)
        .await
        .unwrap();
    let listed: Vec<&ConversationId> = missed.iter().map(|(id, _)| id).collect();
    assert_eq!(listed, ids, "the missed list");
}

struct World {
    store: Arc<MemoryStore>,
    scheduler: Arc<MemoryScheduler>,
    clock: Arc<ManualClock>,
    router: Router,
}

impl World {
    async fn new(directory: Directory) -> Self {
        Self::on(MemoryStore::with_directory(directory.clone()), directory).await
    }

    /// On a store whose every request yields first, so that calls run side by side
    /// interleave request by request.
    async fn interleaved(directory: Directory) -> Self {
        let store = MemoryStore::with_directory(directory.clone()).interleaving();
        Self::on(store, directory).await
    }

    async fn on(store: MemoryStore, directory: Directory) -> Self {
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
        let world = Self {
            store,
            scheduler,
            clock,
            router: Router::new(ports),
        };
        for a in &directory.agents {
            world.connect(&a.id).await;
        }
        world
    }

    async fn connect(&self, agent: &AgentId) {
        let record = ConnectionRecord {
            id: crate::domain::ConnectionId::parse(format!("conn-{agent}")).unwrap(),
            party: Party::Agent {
                agent: agent.clone(),
            },
            connected_at: monday_ten(),
            // Longer than API Gateway's 2 h so that tests may move the clock by a day.
            expires_at: monday_ten() + SignedDuration::from_hours(48),
            authorized_until: None,
        };
        self.store.put_connection(&record).await.unwrap();
    }

    async fn disconnect(&self, agent: &AgentId) {
        let conn = crate::domain::ConnectionId::parse(format!("conn-{agent}")).unwrap();
        self.store.remove_connection(&conn).await.unwrap();
    }

    async fn waiting_conversation(&self) -> ConversationId {
        let mut c = Conversation::new(
            ConversationId::generate(),
            VisitorId::generate(),
            DialogId::parse("d").unwrap(),
            self.clock.now(),
        );
        c.request_live_chat(self.clock.now()).unwrap();
        self.store.create_conversation(&c).await.unwrap();
        c.id().clone()
    }

    /// Routes a new chat and returns the offered agent, or panics with the outcome.
    async fn offer(
        &self,
        mode: &RoutingMode,
        visitor: &Attributes,
    ) -> (ConversationId, AgentId, Via) {
        let c = self.waiting_conversation().await;
        match self.router.route(&c, mode, visitor).await.unwrap() {
            RouteOutcome::Offered { agent, via, .. } => (c, agent, via),
            other => panic!("expected an offer, got {other:?}"),
        }
    }

    /// Routes and immediately ends `n` chats, returning who got each.
    async fn sequence(&self, mode: &RoutingMode, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        for _ in 0..n {
            let (c, a, _) = self.offer(mode, &Attributes::new()).await;
            assert!(self.router.writer().accept(&c, &a).await.unwrap().is_some());
            assert!(
                self.router
                    .writer()
                    .end(&c, EndReason::Completed)
                    .await
                    .unwrap()
            );
            got.push(a.to_string());
        }
        got
    }
}

fn five_agents() -> Directory {
    Directory {
        agents: ["a1", "a2", "a3", "a4", "a5"].map(agent).to_vec(),
        ..Directory::default()
    }
}

fn attrs(pairs: &[(&str, &str)]) -> Attributes {
    let mut a = Attributes::new();
    for (k, v) in pairs {
        a.set(AttributeName::parse(*k).unwrap(), *v);
    }
    a
}

#[tokio::test]
async fn round_robin_after_agent_three_took_the_last_chat_offers_four_then_five_then_one() {
    let world = World::new(five_agents()).await;
    let first_three = world.sequence(&RoutingMode::RoundRobin, 3).await;
    assert_eq!(first_three, ["a1", "a2", "a3"]);

    let next = world.sequence(&RoutingMode::RoundRobin, 3).await;

    assert_eq!(next, ["a4", "a5", "a1"]);
}

#[tokio::test]
async fn round_robin_skips_agents_at_capacity_and_never_goes_over_the_limit() {
    let mut dir = five_agents();
    dir.agents.truncate(2);
    dir.agents[0].chat_limit = ChatLimit::new(1).unwrap();
    let world = World::new(dir).await;

    let (_, first, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    let (_, second, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    let (_, third, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;

    assert_eq!(
        [first.as_str(), second.as_str(), third.as_str()],
        ["a1", "a2", "a2"]
    );
    assert_eq!(world.store.peak_load(&id("a1")), 1);
}

#[tokio::test]
async fn an_agent_at_the_limit_gets_no_more_offers_until_a_chat_ends() {
    let mut dir = five_agents();
    dir.agents.truncate(1);
    dir.agents[0].chat_limit = ChatLimit::new(2).unwrap();
    let world = World::new(dir).await;
    let (c1, a, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;

    let third = world.waiting_conversation().await;
    let full = world
        .router
        .route(&third, &RoutingMode::RoundRobin, &Attributes::new())
        .await
        .unwrap();
    assert!(
        matches!(
            full,
            RouteOutcome::Fallback {
                reason: EndReason::Fallback,
                ..
            }
        ),
        "{full:?}"
    );

    world
        .router
        .writer()
        .end(&c1, EndReason::Completed)
        .await
        .unwrap();
    let (_, again, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    assert_eq!(again, a);
    assert_eq!(world.store.peak_load(&a), 2);
}

#[tokio::test]
async fn specific_agent_mode_offers_only_that_agent() {
    let world = World::new(five_agents()).await;
    let mode = RoutingMode::Agent { agent: id("a4") };

    let (_, a, via) = world.offer(&mode, &Attributes::new()).await;

    assert_eq!((a.as_str(), via), ("a4", Via::CardPool));
}

#[tokio::test]
async fn team_mode_rotates_among_the_team_members_in_their_order() {
    let mut dir = five_agents();
    dir.teams.push(Team {
        id: TeamId::parse("emea").unwrap(),
        name: "EMEA".into(),
        members: vec![id("a5"), id("a2")],
    });
    let world = World::new(dir).await;
    let mode = RoutingMode::Team {
        team: TeamId::parse("emea").unwrap(),
    };

    assert_eq!(world.sequence(&mode, 3).await, ["a5", "a2", "a5"]);
}

fn rule(rid: &str, attribute: &str, op: Operator, value: &str, target: RuleTarget) -> CustomRule {
    CustomRule {
        id: RuleId::parse(rid).unwrap(),
        name: rid.into(),
        when: ConditionSet {
            combine: Combine::All,
            conditions: vec![Condition {
                attribute: AttributeName::parse(attribute).unwrap(),
                operator: op,
                value: Some(ConditionValue::One(value.into())),
            }],
        },
        target,
    }
}

fn rules_dir() -> (Directory, RoutingMode) {
    let mut dir = five_agents();
    dir.rules = vec![
        rule(
            "enterprise",
            "company_size",
            Operator::Greater,
            "1000",
            RuleTarget::Agents(vec![id("a1")]),
        ),
        rule(
            "france",
            "country",
            Operator::Equals,
            "France",
            RuleTarget::Agents(vec![id("a2"), id("a3")]),
        ),
    ];
    let mode = RoutingMode::CustomRules {
        rules: vec![
            RuleId::parse("enterprise").unwrap(),
            RuleId::parse("france").unwrap(),
        ],
    };
    (dir, mode)
}

#[tokio::test]
async fn custom_rules_are_tried_in_order_and_the_first_match_routes() {
    let (dir, mode) = rules_dir();
    let world = World::new(dir).await;

    let big_french = attrs(&[("company_size", "5000"), ("country", "France")]);
    let (_, a, _) = world.offer(&mode, &big_french).await;
    assert_eq!(a.as_str(), "a1");

    let small_french = attrs(&[("company_size", "50"), ("country", "france")]);
    let (_, b, _) = world.offer(&mode, &small_french).await;
    assert_eq!(b.as_str(), "a2");
}

#[tokio::test]
async fn a_matching_rule_whose_agents_are_all_away_yields_to_the_next_matching_rule() {
    let (dir, mode) = rules_dir();
    let world = World::new(dir).await;
    world.disconnect(&id("a1")).await;

    let big_french = attrs(&[("company_size", "5000"), ("country", "France")]);
    let (_, a, via) = world.offer(&mode, &big_french).await;

    assert_eq!((a.as_str(), via), ("a2", Via::CardPool));
}

#[tokio::test]
async fn a_visitor_matching_no_custom_rule_gets_the_fallback_message() {
    let (mut dir, mode) = rules_dir();
    dir.settings = Settings {
        fallback: FallbackMessage::Custom(
            "We are away. Book a slot: https://cal.example/sales".into(),
        ),
        meeting_link: Some("https://cal.example/sales".into()),
        ..Settings::default()
    };
    let world = World::new(dir).await;
    let c = world.waiting_conversation().await;

    let outcome = world
        .router
        .route(&c, &mode, &attrs(&[("country", "Peru")]))
        .await
        .unwrap();

    assert_eq!(
        outcome,
        RouteOutcome::Fallback {
            reason: EndReason::Fallback,
            text: "We are away. Book a slot: https://cal.example/sales".into(),
            meeting_link: Some("https://cal.example/sales".into()),
        }
    );
    assert_missed_list_is(&world, &[&c]).await;
}

#[tokio::test]
async fn account_routing_sends_a_known_domain_to_its_owner_before_the_cards_rule() {
    let mut dir = five_agents();
    dir.account_routing = AccountRouting([("acme.com".to_string(), id("a4"))].into());
    let world = World::new(dir).await;
    let visitor = attrs(&[("email", "jo@ACME.com")]);

    let (_, a, via) = world
        .offer(&RoutingMode::Agent { agent: id("a1") }, &visitor)
        .await;

    assert_eq!((a.as_str(), via), ("a4", Via::AccountOwner));
}

#[tokio::test]
async fn an_unavailable_account_owner_falls_through_to_the_cards_rule() {
    let mut dir = five_agents();
    dir.account_routing = AccountRouting([("acme.com".to_string(), id("a4"))].into());
    dir.agents[3].set_available(false, monday_ten());
    let world = World::new(dir).await;
    let visitor = attrs(&[("email", "jo@acme.com")]);

    let (_, a, via) = world
        .offer(&RoutingMode::Agent { agent: id("a1") }, &visitor)
        .await;

    assert_eq!((a.as_str(), via), ("a1", Via::CardPool));
}

#[tokio::test]
async fn agents_without_permission_away_or_offline_are_not_eligible() {
    let mut dir = five_agents();
    dir.agents[0].roles = [Role::MarketingAdmin].into();
    dir.agents[1].set_available(false, monday_ten());
    let world = World::new(dir).await;
    world.disconnect(&id("a3")).await;

    assert_eq!(
        world.sequence(&RoutingMode::RoundRobin, 3).await,
        ["a4", "a5", "a4"]
    );
}

#[tokio::test]
async fn availability_follows_each_agents_schedule_in_their_own_time_zone() {
    let mut dir = five_agents();
    dir.agents.truncate(2);
    for (a, zone) in dir
        .agents
        .iter_mut()
        .zip(["Asia/Tokyo", "America/New_York"])
    {
        a.manual = None;
        a.time_zone = Some(TimeZoneName::parse(zone).unwrap());
        a.schedule =
            serde_json::from_str(r#"[{"day":"mon","start":"09:00","end":"17:00"}]"#).unwrap();
    }
    let world = World::new(dir).await;
    // Monday 01:00 UTC: 10:00 in Tokyo, Sunday 20:00 in New York.
    world.clock.set("2026-03-02T01:00:00Z".parse().unwrap());
    let (_, a, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    assert_eq!(a.as_str(), "a1");
    // Monday 15:00 UTC: 00:00 Tuesday in Tokyo, 10:00 in New York.
    world.clock.set("2026-03-02T15:00:00Z".parse().unwrap());
    let (_, b, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    assert_eq!(b.as_str(), "a2");
}

#[tokio::test]
async fn a_declined_offer_goes_to_one_more_agent_of_the_same_pool_then_to_the_fallback() {
    let world = World::new(five_agents()).await;
    let mode = RoutingMode::RoundRobin;
    let (c, first, _) = world.offer(&mode, &Attributes::new()).await;

    assert!(
        world
            .router
            .writer()
            .withdraw(&c, &first, None)
            .await
            .unwrap()
    );
    let second = world
        .router
        .route(&c, &mode, &Attributes::new())
        .await
        .unwrap();
    let RouteOutcome::Offered {
        agent: second,
        attempt: 2,
        ..
    } = second
    else {
        panic!("expected a second offer, got {second:?}");
    };
    assert_ne!(second, first);

    assert!(
        world
            .router
            .writer()
            .withdraw(&c, &second, None)
            .await
            .unwrap()
    );
    let third = world
        .router
        .route(&c, &mode, &Attributes::new())
        .await
        .unwrap();

    assert!(
        matches!(
            third,
            RouteOutcome::Fallback {
                reason: EndReason::Missed,
                ..
            }
        ),
        "{third:?}"
    );
    assert_missed_list_is(&world, &[&c]).await;
    for agent in [&first, &second] {
        assert_eq!(
            load_of(&world, agent).await,
            0,
            "{agent}'s capacity released"
        );
    }
}

#[tokio::test]
async fn a_pool_with_nobody_eligible_falls_back_to_round_robin_over_every_available_agent() {
    let mut dir = five_agents();
    dir.teams.push(Team {
        id: TeamId::parse("apac").unwrap(),
        name: "APAC".into(),
        members: vec![id("a1"), id("a2")],
    });
    let world = World::new(dir).await;
    world.disconnect(&id("a1")).await;
    world.disconnect(&id("a2")).await;

    let (_, a, via) = world
        .offer(
            &RoutingMode::Team {
                team: TeamId::parse("apac").unwrap(),
            },
            &Attributes::new(),
        )
        .await;

    assert_eq!((a.as_str(), via), ("a3", Via::AnyAvailable));
}

#[tokio::test]
async fn a_pool_whose_agents_are_busy_but_eligible_does_not_spill_into_other_pools() {
    let mut dir = five_agents();
    dir.teams.push(Team {
        id: TeamId::parse("solo").unwrap(),
        name: "Solo".into(),
        members: vec![id("a1")],
    });
    let world = World::new(dir).await;
    let mode = RoutingMode::Team {
        team: TeamId::parse("solo").unwrap(),
    };
    let (c, a1, _) = world.offer(&mode, &Attributes::new()).await;
    world.router.writer().withdraw(&c, &a1, None).await.unwrap();

    let second = world
        .router
        .route(&c, &mode, &Attributes::new())
        .await
        .unwrap();

    assert!(
        matches!(
            second,
            RouteOutcome::Fallback {
                reason: EndReason::Missed,
                ..
            }
        ),
        "{second:?}"
    );
}

#[tokio::test]
async fn nobody_online_ends_the_request_with_the_standard_fallback() {
    let mut dir = five_agents();
    dir.settings.meeting_link = Some("https://cal.example/us".into());
    let world = World::new(dir).await;
    for a in ["a1", "a2", "a3", "a4", "a5"] {
        world.disconnect(&id(a)).await;
    }
    let c = world.waiting_conversation().await;

    let outcome = world
        .router
        .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
        .await
        .unwrap();

    assert_eq!(
        outcome,
        RouteOutcome::Fallback {
            reason: EndReason::Fallback,
            text: crate::domain::STANDARD_FALLBACK.into(),
            meeting_link: Some("https://cal.example/us".into()),
        }
    );
    let stored = world.store.conversation(&c).await.unwrap().unwrap();
    assert_eq!(stored.state().name(), "ended");
}

#[tokio::test]
async fn a_routing_request_delivered_twice_changes_nothing_the_second_time() {
    let world = World::new(five_agents()).await;
    let c = world.waiting_conversation().await;
    let first = world
        .router
        .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
        .await
        .unwrap();
    let before = world.store.conversation(&c).await.unwrap();

    let again = world
        .router
        .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
        .await
        .unwrap();

    assert!(matches!(first, RouteOutcome::Offered { .. }));
    assert_eq!(again, RouteOutcome::NotWaiting);
    assert_eq!(world.store.conversation(&c).await.unwrap(), before);
    assert_eq!(
        world.store.cursor(ALL_AGENTS_POOL).await.unwrap().version,
        1
    );
}

#[tokio::test]
async fn an_offer_schedules_its_timeout_at_the_visitor_wait_time_limit() {
    let mut dir = five_agents();
    dir.settings.wait_time_limit = crate::domain::WaitTimeLimit::from_secs(30).unwrap();
    let world = World::new(dir).await;
    let (c, a, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;

    let pending = world.scheduler.pending();

    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, monday_ten() + SignedDuration::from_secs(30));
    assert!(
        matches!(&pending[0].1, DelayedEvent::OfferTimeout { conversation, agent, .. } if conversation == &c && agent == &a)
    );
}

#[tokio::test]
async fn a_late_offer_timeout_after_the_agent_accepted_is_ignored() {
    let world = World::new(five_agents()).await;
    let (c, a, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    let Some((_, DelayedEvent::OfferTimeout { version, .. })) = world.scheduler.pending().pop()
    else {
        panic!("no timeout scheduled");
    };
    assert!(
        world
            .router
            .writer()
            .accept(&c, &a)
            .await
            .unwrap()
            .is_some()
    );

    let withdrawn = world
        .router
        .writer()
        .withdraw(&c, &a, Some(version))
        .await
        .unwrap();

    assert!(!withdrawn);
    assert_eq!(
        world
            .store
            .conversation(&c)
            .await
            .unwrap()
            .unwrap()
            .state()
            .name(),
        "live"
    );
    assert_eq!(load_of(&world, &a).await, 1);
}

#[tokio::test]
async fn another_agent_cannot_accept_an_offer_made_to_someone_else() {
    let world = World::new(five_agents()).await;
    let (c, a, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    let other = if a.as_str() == "a1" {
        id("a2")
    } else {
        id("a1")
    };

    assert!(
        world
            .router
            .writer()
            .accept(&c, &other)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        world
            .router
            .writer()
            .accept(&c, &a)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_manual_toggle_lapses_at_midnight_and_the_schedule_takes_over() {
    let mut dir = five_agents();
    dir.agents.truncate(1);
    let world = World::new(dir).await;
    world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    // The toggle was set Monday 10:00 UTC (no zone: UTC); the schedule is empty.
    world.clock.set("2026-03-03T00:00:00Z".parse().unwrap());
    let c = world.waiting_conversation().await;

    let outcome = world
        .router
        .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
        .await
        .unwrap();

    assert!(
        matches!(
            outcome,
            RouteOutcome::Fallback {
                reason: EndReason::Fallback,
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[test]
fn rotation_wraps_and_skips_non_candidates() {
    let order: Vec<AgentId> = ["a", "b", "c", "d"].map(id).to_vec();
    let all: BTreeSet<&AgentId> = order.iter().collect();
    assert_eq!(next_in_rotation(&order, None, &all), Some(&order[0]));
    assert_eq!(
        next_in_rotation(&order, Some(&order[3]), &all),
        Some(&order[0])
    );
    let some: BTreeSet<&AgentId> = [&order[0], &order[2]].into();
    assert_eq!(
        next_in_rotation(&order, Some(&order[0]), &some),
        Some(&order[2])
    );
    assert_eq!(
        next_in_rotation(&order, Some(&id("gone")), &some),
        Some(&order[0])
    );
    assert_eq!(next_in_rotation(&order, None, &BTreeSet::new()), None);
}

#[test]
fn backoff_is_immediate_first_then_jittered_under_a_doubling_cap() {
    let p = RetryPolicy::default();
    assert_eq!(p.backoff(1), Duration::ZERO);
    for retry in 2..40 {
        assert!(p.backoff(retry) <= p.cap);
    }
}

#[tokio::test]
async fn the_store_directory_is_what_routing_reads() {
    let world = World::new(Directory::default()).await;
    world.store.put_directory(&five_agents()).await.unwrap();
    for a in ["a1", "a2"] {
        world.connect(&id(a)).await;
    }
    assert_eq!(
        world.sequence(&RoutingMode::RoundRobin, 3).await,
        ["a1", "a2", "a1"]
    );
}

async fn load_of(world: &World, agent: &AgentId) -> u32 {
    let held = world.store.agent_chats(agent).await.unwrap();
    u32::try_from(held.len()).unwrap()
}

#[tokio::test]
async fn ending_again_frees_capacity_a_crashed_handler_left_held() {
    let world = World::new(five_agents()).await;
    let (c, a, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    assert!(
        world
            .router
            .writer()
            .accept(&c, &a)
            .await
            .unwrap()
            .is_some()
    );
    // The handler wrote the end, then died before releasing the capacity.
    let mut conv = world.store.conversation(&c).await.unwrap().unwrap();
    let version = conv.version();
    conv.end(EndReason::Completed, world.clock.now()).unwrap();
    world
        .store
        .replace_conversation(&conv, version)
        .await
        .unwrap();
    assert_eq!(load_of(&world, &a).await, 1, "the leak");

    let ended = world
        .router
        .writer()
        .end(&c, EndReason::Completed)
        .await
        .unwrap();

    assert!(!ended, "it had ended already");
    assert_eq!(load_of(&world, &a).await, 0, "the retry released it");
}

#[tokio::test]
async fn a_withdrawal_retried_after_a_crash_frees_the_capacity_but_never_a_live_agents() {
    let world = World::new(five_agents()).await;
    let (c, a, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    // The decline wrote `waiting`, then the handler died before the release.
    let mut conv = world.store.conversation(&c).await.unwrap().unwrap();
    let version = conv.version();
    conv.withdraw_offer(&a, world.clock.now()).unwrap();
    world
        .store
        .replace_conversation(&conv, version)
        .await
        .unwrap();
    assert_eq!(load_of(&world, &a).await, 1, "the leak");

    assert!(!world.router.writer().withdraw(&c, &a, None).await.unwrap());
    assert_eq!(load_of(&world, &a).await, 0, "the retry released it");

    let (c2, b, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    assert!(
        world
            .router
            .writer()
            .accept(&c2, &b)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !world
            .router
            .writer()
            .withdraw(&c2, &b, Some(0))
            .await
            .unwrap()
    );
    assert_eq!(
        load_of(&world, &b).await,
        1,
        "a stale timeout leaves a live chat alone"
    );
}

#[tokio::test]
async fn a_routing_delivered_again_restores_a_lost_offer_timeout_and_missed_entry() {
    let world = World::new(five_agents()).await;
    let (c, _, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    // The timeout was never scheduled (the handler died right after the claim).
    world
        .scheduler
        .take_due(world.clock.now() + SignedDuration::from_hours(1));
    assert!(world.scheduler.pending().is_empty());

    let again = world
        .router
        .route(&c, &RoutingMode::RoundRobin, &Attributes::new())
        .await
        .unwrap();

    assert_eq!(again, RouteOutcome::NotWaiting);
    assert!(
        matches!(world.scheduler.pending()[..], [(_, DelayedEvent::OfferTimeout { ref conversation, .. })] if *conversation == c),
        "{:?}",
        world.scheduler.pending()
    );

    // A fallback whose missed-list entry was lost gets it back the same way.
    let mut dir = five_agents();
    dir.agents
        .iter_mut()
        .for_each(|a| a.set_available(false, monday_ten()));
    let world = World::new(dir).await;
    let c = world.waiting_conversation().await;
    let mode = RoutingMode::RoundRobin;
    world
        .router
        .route(&c, &mode, &Attributes::new())
        .await
        .unwrap();
    let missed = world
        .store
        .missed_since(Timestamp::UNIX_EPOCH, None, usize::MAX)
        .await
        .unwrap();
    world.store.clear_missed(&c, missed[0].1).await.unwrap();
    world
        .router
        .route(&c, &mode, &Attributes::new())
        .await
        .unwrap();
    assert_missed_list_is(&world, &[&c]).await;
}

#[tokio::test]
async fn picking_up_a_missed_request_frees_an_agent_it_was_offered_to_whose_release_was_lost() {
    let world = World::new(five_agents()).await;
    let (c, a, _) = world
        .offer(&RoutingMode::RoundRobin, &Attributes::new())
        .await;
    // The offer lapsed and the request ended missed, but the release of the
    // offered agent never landed (it lost a race with the end, or its handler died).
    let mut conv = world.store.conversation(&c).await.unwrap().unwrap();
    let version = conv.version();
    conv.withdraw_offer(&a, world.clock.now()).unwrap();
    conv.end(EndReason::Missed, world.clock.now()).unwrap();
    world
        .store
        .replace_conversation(&conv, version)
        .await
        .unwrap();
    assert_eq!(load_of(&world, &a).await, 1, "the leak");
    let other = five_agents()
        .agents
        .into_iter()
        .map(|x| x.id)
        .find(|x| *x != a)
        .unwrap();

    let live = world.router.pick_up(&c, &other).await.unwrap();

    assert!(live.is_some(), "picked up");
    assert_eq!(
        load_of(&world, &a).await,
        0,
        "freed before the pick-up renamed who it was offered to"
    );
    assert_eq!(load_of(&world, &other).await, 1);
}

#[tokio::test]
async fn a_withdrawal_whose_release_loses_to_a_concurrent_end_still_frees_the_agent() {
    // The offer is withdrawn while another handler ends the request (a routing that
    // falls back), 0-12 store requests apart: whenever the end lands between the
    // withdrawal's write and its release, the release must follow it.
    let mut raced = false;
    for starts in (0..12).map(|d| (d, 0)).chain((1..12).map(|d| (0, d))) {
        let world = World::interleaved(five_agents()).await;
        let (c, a, _) = world
            .offer(&RoutingMode::RoundRobin, &Attributes::new())
            .await;
        let withdraw = async {
            for _ in 0..starts.0 {
                tokio::task::yield_now().await;
            }
            world.router.writer().withdraw(&c, &a, None).await.unwrap()
        };
        let end = async {
            for _ in 0..starts.1 {
                tokio::task::yield_now().await;
            }
            world
                .router
                .writer()
                .end_if(&c, EndReason::Missed, |c| {
                    matches!(c.state(), ConversationState::Waiting { .. })
                })
                .await
                .unwrap()
        };
        let (withdrawn, ending) = tokio::join!(withdraw, end);
        raced |= withdrawn && matches!(ending, Ending::Ended(_));
        assert_eq!(load_of(&world, &a).await, 0, "head starts {starts:?}");
    }
    assert!(
        raced,
        "no head start ended the request after the withdrawal"
    );
}
