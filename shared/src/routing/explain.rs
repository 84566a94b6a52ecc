//! "Who would get this visitor right now, and why?": the router's own choice
//! ([`choose_traced`]) against what the store holds now (the agents' loads,
//! connections and toggles, the pools' cursors), without claiming anything. The
//! directory may be the stored one or a configuration not yet applied.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::Directory;
use super::choice::{Choice, Facts, Trace, all_agents, choose_traced};
use crate::dialog::Card;
use crate::domain::{Attributes, CardId, DialogId, RoutingMode};
use crate::ports::{Store, StoreResult};

/// Why a request cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The directory holds no dialog, or no live chat card.
    #[error("{0}")]
    NoCard(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] crate::ports::StoreError),
}

/// The routing of the live chat card `card` (the first live chat card when `None`)
/// of the directory's dialog `dialog` (the first when `None`: a one-dialog
/// account's), with the card's id. Card ids are a dialog's own: two dialogs may
/// both have a `talk` card.
pub fn card_routing(
    directory: &Directory,
    dialog: Option<&DialogId>,
    card: Option<&CardId>,
) -> Result<(CardId, RoutingMode), ExplainError> {
    let targeted = match dialog {
        Some(id) => directory
            .targeted(id)
            .ok_or_else(|| ExplainError::NoCard(format!("the configuration has no dialog {id}")))?,
        None => directory
            .dialogs
            .first()
            .ok_or_else(|| ExplainError::NoCard("the configuration has no dialog".into()))?,
    };
    let Ok(valid) = crate::dialog::validate(&targeted.dialog, &directory.targets()) else {
        return Err(ExplainError::NoCard(format!(
            "dialog {} is not valid (livechat validate names the problems)",
            targeted.id
        )));
    };
    let found = valid.dialog().cards.iter().find_map(|c| match c {
        Card::LiveChat(live) if card.is_none_or(|id| id == &live.id) => {
            Some((live.id.clone(), live.routing.clone()))
        }
        _ => None,
    });
    found.ok_or_else(|| {
        ExplainError::NoCard(match card {
            Some(id) => format!("dialog {} has no live chat card {id}", targeted.id),
            None => format!("dialog {} has no live chat card", targeted.id),
        })
    })
}

/// The trace of routing `visitor` by `mode` at `now`, over `directory`, with the
/// loads, connections, toggles and cursors `store` holds: what the router would
/// decide for a new request (nobody offered it yet). Reads only.
pub async fn explain(
    store: &dyn Store,
    directory: &Directory,
    mode: &RoutingMode,
    visitor: &Attributes,
    now: Timestamp,
) -> StoreResult<Trace> {
    let facts = Facts {
        directory,
        now,
        states: store.agent_states(&all_agents(directory), now).await?,
    };
    let mut cursors = BTreeMap::new();
    loop {
        let (choice, trace) = choose_traced(directory, mode, visitor, &facts, &[], &cursors);
        match choice {
            Choice::NeedsCursor(key) => {
                let cursor = store.cursor(&key).await?;
                cursors.insert(key, cursor);
            }
            _ => return Ok(trace),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentId, ConnectionId};
    use crate::memory::MemoryStore;
    use crate::ports::{ConnectionRecord, ConnectionStore, Party};
    use crate::routing::{Outcome, Verdict};

    #[tokio::test]
    async fn explain_reads_who_is_connected_and_answers_as_the_router_would() {
        let directory = crate::demo::directory().unwrap();
        let store = MemoryStore::with_directory(directory.clone());
        let now: Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
        let (card, mode) = card_routing(&directory, None, None).unwrap();
        assert!(!card.as_str().is_empty());

        let trace = explain(&store, &directory, &mode, &Attributes::default(), now)
            .await
            .unwrap();
        assert_eq!(trace.outcome, Outcome::Nobody, "nobody is connected");
        assert!(
            trace.pools[0]
                .candidates
                .iter()
                .all(|c| c.verdict == Verdict::Offline)
        );

        let ben = AgentId::parse("ben").unwrap();
        store
            .put_connection(&ConnectionRecord {
                id: ConnectionId::parse("ben-tab=").unwrap(),
                party: Party::Agent { agent: ben.clone() },
                connected_at: now,
                expires_at: now + jiff::SignedDuration::from_hours(2),
                authorized_until: None,
            })
            .await
            .unwrap();
        let trace = explain(&store, &directory, &mode, &Attributes::default(), now)
            .await
            .unwrap();
        assert_eq!(trace.outcome, Outcome::Offer { agent: ben });
    }

    #[test]
    fn a_dialog_is_picked_by_id_and_without_one_the_first_is_used() {
        let mut directory = crate::demo::directory().unwrap();
        let pricing = DialogId::parse("pricing").unwrap();
        // Both demo dialogs have a `talk` card: route the pricing one elsewhere.
        let talk = CardId::parse("talk").unwrap();
        let dialog = &mut directory
            .dialogs
            .iter_mut()
            .find(|d| d.id == pricing)
            .unwrap()
            .dialog;
        for c in &mut dialog.cards {
            if let Card::LiveChat(live) = c {
                live.routing = RoutingMode::Agent {
                    agent: crate::domain::AgentId::parse("cleo").unwrap(),
                };
            }
        }
        let team = card_routing(&directory, None, Some(&talk)).unwrap();
        assert!(matches!(team.1, RoutingMode::Team { .. }), "{team:?}");
        let cleo = card_routing(&directory, Some(&pricing), Some(&talk)).unwrap();
        assert!(matches!(cleo.1, RoutingMode::Agent { .. }), "{cleo:?}");
        let nope = DialogId::parse("nope").unwrap();
        let e = card_routing(&directory, Some(&nope), None).unwrap_err();
        assert!(e.to_string().contains("no dialog nope"), "{e}");
    }

    #[test]
    fn a_card_that_is_not_there_is_named() {
        let directory = crate::demo::directory().unwrap();
        let missing = CardId::parse("no_such_card").unwrap();
        let e = card_routing(&directory, None, Some(&missing)).unwrap_err();
        assert!(e.to_string().contains("no_such_card"), "{e}");
    }
}
