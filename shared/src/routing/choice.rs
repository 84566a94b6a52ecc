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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Account routing: the owner of the visitor's email domain.
    AccountOwner,
    /// The live chat card's own pool.
    CardPool,
    /// Round robin over every available agent, because the card's pool had nobody.
    AnyAvailable,
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
    let plan = plan(directory, mode, visitor, facts);
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
        let eligible: BTreeSet<&AgentId> = pool
            .order
            .iter()
            .filter(|a| facts.eligible(a) && !offered.contains(a))
            .collect();
        if eligible.is_empty() {
            continue;
        }
        match &pool.key {
            None => {
                return Choice::Offer {
                    agent: pool.order[0].clone(),
                    cursor: None,
                    via,
                };
            }
            Some(key) => {
                let Some(cursor) = cursors.get(key) else {
                    return Choice::NeedsCursor(key.clone());
                };
                let Some(next) = next_in_rotation(&pool.order, cursor.last.as_ref(), &eligible)
                else {
                    continue;
                };
                return Choice::Offer {
                    agent: next.clone(),
                    cursor: Some(CursorMove {
                        pool: key.clone(),
                        expected_version: cursor.version,
                        last: next.clone(),
                        // The router raises it to its ticket when it holds one.
                        served: cursor.served,
                    }),
                    via,
                };
            }
        }
    }
    Choice::Nobody
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
        self.available(id) && self.connected(id) && !self.at_limit(id)
    }

    /// Has the live chat permission and is available now: the manual toggle as
    /// stored with the agent's state while it holds, else their weekly schedule.
    /// Routing's rule, also the live view's "away" (`analytics::live`).
    pub fn available(&self, id: &AgentId) -> bool {
        self.agent(id).is_some_and(|a| {
            let manual = self.states.get(id).and_then(|s| s.manual).or(a.manual);
            a.has_permission(Permission::LiveChat) && a.is_available_with(manual, self.now)
        })
    }

    /// Has a live connection (an open inbox tab).
    pub fn connected(&self, id: &AgentId) -> bool {
        self.states.get(id).is_some_and(|s| s.online)
    }

    /// Holds as many chats (offered or live) as their limit allows, or more.
    pub fn at_limit(&self, id: &AgentId) -> bool {
        self.agent(id).is_some_and(|a| {
            self.states
                .get(id)
                .is_some_and(|s| s.load >= a.chat_limit.get())
        })
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
            let matching: Vec<Pool> = rules
                .iter()
                .filter_map(|id| directory.rule(id))
                .filter(|r| r.when.matches(visitor))
                .map(|r| {
                    let order = match &r.target {
                        RuleTarget::Agents(agents) => agents.clone(),
                        RuleTarget::Team(t) => directory
                            .team(t)
                            .map(|t| t.members.clone())
                            .unwrap_or_default(),
                    };
                    Pool::rotation(format!("rule:{}", r.id), order)
                })
                .collect();
            // Rules are tried in order: the first matching rule whose pool has someone
            // eligible wins; when none does, the first match stands (and its pool
            // being empty triggers the any-available round robin).
            let first = matching.first().cloned();
            matching
                .into_iter()
                .find(|p| facts.any_eligible(p))
                .or(first)
        }
    };
    Plan {
        owner,
        card,
        any: Pool::rotation(ALL_AGENTS_POOL.into(), all_agents(directory)),
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
}
