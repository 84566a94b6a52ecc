//! The choice: who gets a request, as a pure function of what the router read
//! (the directory, the card's mode, the visitor, the agents' loads and connections,
//! who was offered it already, the round-robin cursors). The router claims what it
//! chooses; the same function can answer "who would get this visitor?".

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::domain::{Agent, AgentId, Attributes, Permission, RoutingMode, RuleTarget};
use crate::ports::{AgentState, Cursor, CursorMove};

use super::Directory;

/// The cursor key of the account-wide round robin (every agent with the live chat
/// permission, in directory order).
pub const ALL_AGENTS_POOL: &str = "all";

/// How the offered agent was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Account routing: the owner of the visitor's email domain.
    AccountOwner,
    /// The live chat card's own pool.
    CardPool,
    /// Round robin over every available agent, because the card's pool had nobody.
    AnyAvailable,
    /// An agent transferred the chat: to this agent, or to this team's next
    /// eligible member (`routing::transfer`).
    Transfer,
}

/// What choosing decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Offer to `agent`; for a round-robin pool, the claim moves `cursor`.
    Offer {
        /// Who.
        agent: AgentId,
        /// The pool cursor's move, compared and set with the claim.
        cursor: Option<CursorMove>,
        /// Which pool chose them.
        via: Via,
    },
    /// The cursor of the pool `0` is needed and was not read: read it, then choose
    /// again (only the pools actually reached cost a read).
    NeedsCursor(String),
    /// Nobody eligible in any pool tried.
    Nobody,
}

/// Who gets the request: the account owner of the visitor's domain, then the
/// card's pool, then (when the card's pool has nobody eligible) every available
/// agent; in a round-robin pool the eligible agent after the cursor. Agents in
/// `offered` were tried for this request already.
pub fn choose(
    directory: &Directory,
    mode: &RoutingMode,
    visitor: &Attributes,
    facts: &Facts<'_>,
    offered: &[AgentId],
    cursors: &BTreeMap<String, Cursor>,
) -> Choice {
    choose_traced(directory, mode, visitor, facts, offered, cursors).0
}

/// [`choose`], with why: every pool tried, each of its agents with the reason they
/// were skipped or chosen, and the cursor before and after (see [`Trace`]). One
/// code path makes both, so the trace always tells what the choice did.
pub fn choose_traced(
    directory: &Directory,
    mode: &RoutingMode,
    visitor: &Attributes,
    facts: &Facts<'_>,
    offered: &[AgentId],
    cursors: &BTreeMap<String, Cursor>,
) -> (Choice, Trace) {
    let plan = plan(directory, mode, visitor, facts);
    let mut trace = Trace {
        at: facts.now,
        owner: plan.owner.as_ref().map(|p| p.order[0].clone()),
        rules: plan.rules.clone(),
        pools: Vec::new(),
        outcome: Outcome::Nobody,
    };
    let card_has_anyone = plan.card.as_ref().is_some_and(|p| facts.any_eligible(p));
    let mut tries: Vec<(Pool, Via)> = Vec::new();
    if let Some(owner) = plan.owner {
        tries.push((owner, Via::AccountOwner));
    }
    if let Some(card) = plan.card {
        tries.push((card, Via::CardPool));
        if !card_has_anyone {
            tries.push((plan.any, Via::AnyAvailable));
        }
    }
    for (pool, via) in tries {
        let mut candidates: Vec<Candidate> = pool
            .order
            .iter()
            .map(|a| Candidate {
                agent: a.clone(),
                verdict: if offered.contains(a) {
                    Verdict::AlreadyOffered
                } else {
                    facts.verdict(a)
                },
            })
            .collect();
        let eligible: BTreeSet<&AgentId> = candidates
            .iter()
            .filter(|c| c.verdict == Verdict::Eligible)
            .map(|c| &c.agent)
            .collect();
        let mut step = PoolTrace {
            pool: pool.key.clone(),
            via,
            candidates: Vec::new(),
            cursor_before: None,
            cursor_after: None,
        };
        if eligible.is_empty() {
            step.candidates = candidates;
            trace.pools.push(step);
            continue;
        }
        let (agent, cursor) = match &pool.key {
            None => (pool.order[0].clone(), None),
            Some(key) => {
                let Some(cursor) = cursors.get(key) else {
                    step.candidates = candidates;
                    trace.pools.push(step);
                    trace.outcome = Outcome::NeedsCursor;
                    return (Choice::NeedsCursor(key.clone()), trace);
                };
                let Some(next) = next_in_rotation(&pool.order, cursor.last.as_ref(), &eligible)
                else {
                    step.candidates = candidates;
                    trace.pools.push(step);
                    continue;
                };
                step.cursor_before = cursor.last.clone();
                step.cursor_after = Some(next.clone());
                let moved = CursorMove {
                    pool: key.clone(),
                    expected_version: cursor.version,
                    last: next.clone(),
                    // The router raises it to its ticket when it holds one.
                    served: cursor.served,
                };
                (next.clone(), Some(moved))
            }
        };
        for c in &mut candidates {
            if c.agent == agent {
                c.verdict = Verdict::Chosen;
            }
        }
        step.candidates = candidates;
        trace.pools.push(step);
        trace.outcome = Outcome::Offer {
            agent: agent.clone(),
        };
        return (Choice::Offer { agent, cursor, via }, trace);
    }
    (Choice::Nobody, trace)
}

/// Why each agent was or was not offered a request, as [`choose_traced`] saw it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trace {
    /// When the decision was made (availability and schedules are judged then).
    pub at: Timestamp,
    /// The account owner of the visitor's email domain, tried first, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<AgentId>,
    /// For a card routing by custom rules: each rule in order, whether it matched
    /// the visitor and whether it was the one whose pool was used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleTrace>,
    /// Every pool tried, in order.
    pub pools: Vec<PoolTrace>,
    /// What the choice decided.
    pub outcome: Outcome,
}

/// One custom rule as the choice read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RuleTrace {
    /// The rule.
    pub rule: crate::domain::RuleId,
    /// Whether its conditions matched the visitor.
    pub matched: bool,
    /// Whether its pool was the card's pool.
    pub used: bool,
}

/// One pool tried.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolTrace {
    /// The pool's cursor key (`all`, `team:<id>`, `rule:<id>`); none for a single
    /// agent (the account owner, a card's own agent).
    pub pool: Option<String>,
    /// Why this pool was tried.
    pub via: Via,
    /// Its agents in rotation order, each with their verdict.
    pub candidates: Vec<Candidate>,
    /// The cursor's last agent before the move (a round robin that chose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_before: Option<AgentId>,
    /// The cursor's last agent after it: the chosen one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_after: Option<AgentId>,
}

/// An agent of a pool, and why they were or were not chosen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    /// The agent.
    pub agent: AgentId,
    /// The verdict (`verdict`, with `load` and `limit` for `at_limit`).
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Why an agent was or was not chosen: the first reason that applies, in this
/// order (the same tests [`Facts::eligible`] makes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Offered the request.
    Chosen,
    /// Could have been offered it: another eligible agent came first in the
    /// rotation.
    Eligible,
    /// Not in the directory (a rule or team names them, the directory does not).
    Unknown,
    /// No live chat permission.
    NoLiveChat,
    /// Away by their availability toggle.
    Away,
    /// Outside their schedule (and no toggle says available).
    NotInSchedule,
    /// Not connected.
    Offline,
    /// Holding as many chats as their limit.
    AtLimit {
        /// Chats held (offered or live).
        load: u32,
        /// Their limit.
        limit: u32,
    },
    /// Offered this request already (declined it, or let it time out).
    AlreadyOffered,
    /// Kept for a request ahead in the live queue, which can take them and this
    /// one was not to pass.
    KeptForQueue,
    /// The agent handing the chat on: a transfer skips them.
    Sender,
}

/// What the choice decided, in the trace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Offered to this agent.
    Offer {
        /// Who.
        agent: AgentId,
    },
    /// A pool's cursor had to be read first: the trace stops at that pool.
    NeedsCursor,
    /// Nobody eligible in any pool tried: the fallback.
    Nobody,
    /// Nobody eligible only because everyone available is at their chat limit: the
    /// request waits in `pool`'s live queue (`settings.queue_wait_limit`).
    Queued {
        /// The queue's pool.
        pool: String,
    },
}

/// The agent after `last` in `order` who is in `candidates`, wrapping around. With no
/// `last` (or one no longer in the pool), the rotation starts at the top.
pub fn next_in_rotation<'a>(
    order: &'a [AgentId],
    last: Option<&AgentId>,
    candidates: &BTreeSet<&AgentId>,
) -> Option<&'a AgentId> {
    let start = last
        .and_then(|l| order.iter().position(|a| a == l))
        .map_or(0, |i| i + 1);
    (0..order.len())
        .map(|k| &order[(start + k) % order.len()])
        .find(|a| candidates.contains(a))
}

/// A set of agents routed among, with its cursor key (none for a single agent).
#[derive(Debug, Clone)]
struct Pool {
    key: Option<String>,
    order: Vec<AgentId>,
}

impl Pool {
    fn single(agent: &AgentId) -> Self {
        Self {
            key: None,
            order: vec![agent.clone()],
        }
    }

    fn rotation(key: String, order: Vec<AgentId>) -> Self {
        Self {
            key: Some(key),
            order,
        }
    }
}

/// What the engine knows of the agents while it decides.
pub struct Facts<'d> {
    /// The account.
    pub directory: &'d Directory,
    /// The time eligibility is judged at.
    pub now: Timestamp,
    /// Each live chat agent's load and connection.
    pub states: BTreeMap<AgentId, AgentState>,
}

impl Facts<'_> {
    fn agent(&self, id: &AgentId) -> Option<&Agent> {
        self.directory.agent(id)
    }

    /// Eligible: live chat permission, available now, connected, under the limit.
    pub fn eligible(&self, id: &AgentId) -> bool {
        self.verdict(id) == Verdict::Eligible
    }

    /// Whether `id` may be offered a request now, and if not the first reason why
    /// ([`Verdict::Eligible`] or a reason; never `Chosen` nor `AlreadyOffered`,
    /// which only the choice knows).
    pub fn verdict(&self, id: &AgentId) -> Verdict {
        let Some(a) = self.agent(id) else {
            return Verdict::Unknown;
        };
        if !a.has_permission(Permission::LiveChat) {
            return Verdict::NoLiveChat;
        }
        let state = self.states.get(id);
        let manual = state.and_then(|s| s.manual).or(a.manual);
        if !a.is_available_with(manual, self.now) {
            let toggled_away = manual.is_some_and(|t| self.now < t.until && !t.available);
            return if toggled_away {
                Verdict::Away
            } else {
                Verdict::NotInSchedule
            };
        }
        let Some(state) = state.filter(|s| s.online) else {
            return Verdict::Offline;
        };
        let limit = a.chat_limit.get();
        if state.load >= limit {
            return Verdict::AtLimit {
                load: state.load,
                limit,
            };
        }
        Verdict::Eligible
    }

    /// Has the live chat permission and is available now by routing's rule (the
    /// manual toggle as stored with the agent's state while it holds, else their
    /// weekly schedule), whether or not connected or at their limit: the live
    /// view's "away" is its negation (`analytics::live`).
    pub fn available(&self, id: &AgentId) -> bool {
        !matches!(
            self.verdict(id),
            Verdict::Unknown | Verdict::NoLiveChat | Verdict::Away | Verdict::NotInSchedule
        )
    }

    /// Has a live connection (an open inbox tab).
    pub fn connected(&self, id: &AgentId) -> bool {
        self.states.get(id).is_some_and(|s| s.online)
    }

    fn any_eligible(&self, pool: &Pool) -> bool {
        pool.order.iter().any(|a| self.eligible(a))
    }
}

/// The pools to try, in order, and the pool of last resort.
struct Plan {
    owner: Option<Pool>,
    /// `None` when custom rules matched nothing: the visitor gets the fallback, not
    /// the any-available round robin.
    card: Option<Pool>,
    any: Pool,
    /// For custom rules: each rule, whether it matched and whether it was used.
    rules: Vec<RuleTrace>,
}

pub(super) fn all_agents(directory: &Directory) -> Vec<AgentId> {
    directory
        .agents
        .iter()
        .filter(|a| a.has_permission(Permission::LiveChat))
        .map(|a| a.id.clone())
        .collect()
}

fn plan(
    directory: &Directory,
    mode: &RoutingMode,
    visitor: &Attributes,
    facts: &Facts<'_>,
) -> Plan {
    let owner = visitor
        .email()
        .and_then(|e| directory.account_routing.owner(e.domain()).cloned())
        .map(|a| Pool::single(&a));
    let mut rule_traces = Vec::new();
    let card = match mode {
        RoutingMode::RoundRobin => Some(Pool::rotation(
            ALL_AGENTS_POOL.into(),
            all_agents(directory),
        )),
        RoutingMode::Agent { agent } => Some(Pool::single(agent)),
        RoutingMode::Team { team } => Some(Pool::rotation(
            format!("team:{team}"),
            directory
                .team(team)
                .map(|t| t.members.clone())
                .unwrap_or_default(),
        )),
        RoutingMode::CustomRules { rules } => {
            let mut matching: Vec<(usize, Pool)> = Vec::new();
            for r in rules.iter().filter_map(|id| directory.rule(id)) {
                let matched = r.when.matches(visitor);
                rule_traces.push(RuleTrace {
                    rule: r.id.clone(),
                    matched,
                    used: false,
                });
                if !matched {
                    continue;
                }
                let order = match &r.target {
                    RuleTarget::Agents(agents) => agents.clone(),
                    RuleTarget::Team(t) => directory
                        .team(t)
                        .map(|t| t.members.clone())
                        .unwrap_or_default(),
                };
                let pool = Pool::rotation(format!("rule:{}", r.id), order);
                matching.push((rule_traces.len() - 1, pool));
            }
            // Rules are tried in order: the first matching rule whose pool has someone
            // eligible wins; when none does, the first match stands (and its pool
            // being empty triggers the any-available round robin).
            let first = matching.first().cloned();
            let used = matching
                .into_iter()
                .find(|(_, p)| facts.any_eligible(p))
                .or(first);
            used.map(|(index, pool)| {
                rule_traces[index].used = true;
                pool
            })
        }
    };
    Plan {
        owner,
        card,
        any: Pool::rotation(ALL_AGENTS_POOL.into(), all_agents(directory)),
        rules: rule_traces,
    }
}

/// The agents who could be offered a request from `visitor` on a card routing by
/// `mode`, whatever their availability: the account owner, then the card's pool (for
/// custom rules, the first matching rule's). Empty when no rule matches. For telling
/// agents who are away that a request came in.
pub fn pool_agents(
    directory: &Directory,
    mode: &RoutingMode,
    visitor: &Attributes,
) -> Vec<AgentId> {
    let nobody_online = Facts {
        directory,
        now: Timestamp::UNIX_EPOCH,
        states: BTreeMap::new(),
    };
    let plan = plan(directory, mode, visitor, &nobody_online);
    let mut agents: Vec<AgentId> = Vec::new();
    for agent in plan
        .owner
        .into_iter()
        .chain(plan.card)
        .flat_map(|p| p.order)
    {
        if !agents.contains(&agent) {
            agents.push(agent);
        }
    }
    agents
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TeamId;

    fn id(name: &str) -> AgentId {
        AgentId::parse(name).unwrap()
    }

    #[test]
    fn the_choice_asks_for_a_pools_cursor_when_it_reaches_the_pool_then_takes_the_next_eligible_agent()
     {
        let directory = crate::demo::directory().unwrap();
        let mode = RoutingMode::Team {
            team: TeamId::parse("sales").unwrap(),
        };
        let states = |online: &[&str]| {
            online
                .iter()
                .map(|a| {
                    (
                        id(a),
                        AgentState {
                            load: 0,
                            online: true,
                            connections: Vec::new(),
                            manual: None,
                        },
                    )
                })
                .collect()
        };
        let facts = Facts {
            directory: &directory,
            now: "2026-03-02T10:00:00Z".parse().unwrap(),
            states: states(&["ana", "ben", "cleo"]),
        };
        let visitor = Attributes::default();
        let mut cursors = BTreeMap::new();
        let choice =
            |facts: &Facts<'_>, offered: &[AgentId], cursors: &BTreeMap<String, Cursor>| {
                choose(&directory, &mode, &visitor, facts, offered, cursors)
            };

        assert_eq!(
            choice(&facts, &[], &cursors),
            Choice::NeedsCursor("team:sales".into())
        );
        cursors.insert(
            "team:sales".into(),
            Cursor {
                last: Some(id("ana")),
                version: 3,
                ..Cursor::default()
            },
        );
        let offer = |agent: &str| Choice::Offer {
            agent: id(agent),
            cursor: Some(CursorMove {
                pool: "team:sales".into(),
                expected_version: 3,
                last: id(agent),
                served: 0,
            }),
            via: Via::CardPool,
        };
        assert_eq!(choice(&facts, &[], &cursors), offer("ben"));
        assert_eq!(choice(&facts, &[id("ben")], &cursors), offer("cleo"));
        // The same inputs, the same answer: nothing is read or written.
        assert_eq!(choice(&facts, &[], &cursors), offer("ben"));
        let nobody = Facts {
            states: states(&[]),
            ..facts
        };
        assert_eq!(choice(&nobody, &[], &cursors), Choice::Nobody);
    }

    fn online(load: u32) -> AgentState {
        AgentState {
            load,
            online: true,
            connections: Vec::new(),
            manual: None,
        }
    }

    fn verdicts(pool: &PoolTrace) -> Vec<(String, Verdict)> {
        pool.candidates
            .iter()
            .map(|c| (c.agent.to_string(), c.verdict))
            .collect()
    }

    #[test]
    fn a_trace_names_the_chosen_agent_the_cursors_move_and_why_each_other_agent_was_skipped() {
        let directory = crate::demo::directory().unwrap();
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let facts = Facts {
            directory: &directory,
            now,
            states: BTreeMap::from([
                (id("ana"), online(0)),
                (id("ben"), online(1)),
                (id("cleo"), online(3)),
            ]),
        };
        let cursors = BTreeMap::from([(
            "team:sales".to_string(),
            Cursor {
                last: Some(id("ana")),
                version: 7,
                ..Cursor::default()
            },
        )]);
        let mode = RoutingMode::Team {
            team: TeamId::parse("sales").unwrap(),
        };
        let (choice, trace) = choose_traced(
            &directory,
            &mode,
            &Attributes::default(),
            &facts,
            &[],
            &cursors,
        );
        assert!(matches!(&choice, Choice::Offer { agent, .. } if agent == &id("ben")));
        assert_eq!(trace.outcome, Outcome::Offer { agent: id("ben") });
        assert_eq!(trace.at, now);
        assert_eq!(trace.pools.len(), 1);
        let pool = &trace.pools[0];
        assert_eq!(
            (pool.pool.as_deref(), pool.via),
            (Some("team:sales"), Via::CardPool)
        );
        assert_eq!(
            verdicts(pool),
            [
                ("ana".to_string(), Verdict::Eligible),
                ("ben".to_string(), Verdict::Chosen),
                ("cleo".to_string(), Verdict::AtLimit { load: 3, limit: 3 }),
            ]
        );
        assert_eq!(
            (pool.cursor_before.clone(), pool.cursor_after.clone()),
            (Some(id("ana")), Some(id("ben")))
        );
    }

    #[test]
    fn a_trace_tells_away_outside_the_schedule_offline_and_already_offered_apart() {
        let mut directory = crate::demo::directory().unwrap();
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        // cleo works no hours at all; a toggle saying available would override it.
        for agent in &mut directory.agents {
            if agent.id == id("cleo") {
                agent.schedule = crate::domain::WeeklySchedule::default();
            }
        }
        let away = crate::domain::ManualToggle {
            available: false,
            until: "2026-03-03T00:00:00Z".parse().unwrap(),
        };
        let facts = Facts {
            directory: &directory,
            now,
            states: BTreeMap::from([
                (id("ana"), online(0)),
                (
                    id("ben"),
                    AgentState {
                        manual: Some(away),
                        ..online(0)
                    },
                ),
                (id("cleo"), online(0)),
            ]),
        };
        let (choice, trace) = choose_traced(
            &directory,
            &RoutingMode::RoundRobin,
            &Attributes::default(),
            &facts,
            &[id("ana")],
            &BTreeMap::new(),
        );
        assert_eq!(choice, Choice::Nobody);
        assert_eq!(trace.outcome, Outcome::Nobody);
        assert_eq!(
            verdicts(&trace.pools[0]),
            [
                ("ana".to_string(), Verdict::AlreadyOffered),
                ("ben".to_string(), Verdict::Away),
                ("cleo".to_string(), Verdict::NotInSchedule),
            ]
        );
        // With nobody connected, every agent is offline.
        let nobody = Facts {
            states: BTreeMap::new(),
            ..facts
        };
        assert_eq!(nobody.verdict(&id("ana")), Verdict::Offline);
        assert_eq!(nobody.verdict(&id("mia")), Verdict::NoLiveChat);
        assert_eq!(nobody.verdict(&id("nobody")), Verdict::Unknown);
    }

    #[test]
    fn a_rules_trace_says_which_rules_matched_and_which_pool_was_used_then_the_fallback_pool() {
        let directory = crate::demo::directory().unwrap();
        let facts = Facts {
            directory: &directory,
            now: "2026-03-02T10:00:00Z".parse().unwrap(),
            // ana, the enterprise rule's only agent, is offline.
            states: BTreeMap::from([(id("ben"), online(0))]),
        };
        let mode = RoutingMode::CustomRules {
            rules: vec![crate::domain::RuleId::parse("enterprise").unwrap()],
        };
        let mut visitor = Attributes::default();
        visitor.set(
            crate::domain::AttributeName::parse("company_size").unwrap(),
            "900".to_string(),
        );
        let cursors = BTreeMap::from([("all".to_string(), Cursor::default())]);
        let (choice, trace) = choose_traced(&directory, &mode, &visitor, &facts, &[], &cursors);
        assert!(
            matches!(&choice, Choice::Offer { agent, via: Via::AnyAvailable, .. } if agent == &id("ben"))
        );
        assert_eq!(trace.rules.len(), 1);
        assert!(trace.rules[0].matched && trace.rules[0].used);
        let pools: Vec<(Option<&str>, Via)> = trace
            .pools
            .iter()
            .map(|p| (p.pool.as_deref(), p.via))
            .collect();
        assert_eq!(
            pools,
            [
                (Some("rule:enterprise"), Via::CardPool),
                (Some("all"), Via::AnyAvailable)
            ]
        );
        assert_eq!(
            verdicts(&trace.pools[0]),
            [("ana".to_string(), Verdict::Offline)]
        );

        // A visitor the rule does not match: no pool from it, and the fallback.
        let (choice, trace) = choose_traced(
            &directory,
            &mode,
            &Attributes::default(),
            &facts,
            &[],
            &cursors,
        );
        assert_eq!(choice, Choice::Nobody);
        assert!(!trace.rules[0].matched && !trace.rules[0].used);
        assert!(trace.pools.is_empty());
    }

    #[test]
    fn a_trace_is_json_that_reads_back_the_same() {
        let trace = Trace {
            at: "2026-03-02T10:00:00Z".parse().unwrap(),
            owner: None,
            rules: Vec::new(),
            pools: vec![PoolTrace {
                pool: Some("all".into()),
                via: Via::CardPool,
                candidates: vec![Candidate {
                    agent: id("cleo"),
                    verdict: Verdict::AtLimit { load: 3, limit: 3 },
                }],
                cursor_before: None,
                cursor_after: None,
            }],
            outcome: Outcome::Nobody,
        };
        let json = serde_json::to_value(&trace).unwrap();
        assert_eq!(
            json["pools"][0]["candidates"][0],
            serde_json::json!({"agent": "cleo", "verdict": "at_limit", "load": 3, "limit": 3})
        );
        assert_eq!(json["outcome"], serde_json::json!({"outcome": "nobody"}));
        assert_eq!(serde_json::from_value::<Trace>(json).unwrap(), trace);
    }
}
