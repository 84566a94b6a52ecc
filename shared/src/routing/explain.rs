//! "Who would get this visitor right now, and why?": the router's own choice
//! ([`choose_traced`]) against what the store holds now (the agents' loads,
//! connections and toggles, the pools' cursors), without claiming anything. The
//! directory may be the stored one or a configuration not yet applied.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::Directory;
use super::choice::{Choice, Facts, Trace, all_agents, choose_traced};
use crate::dialog::Card;
use crate::domain::{Attributes, CardId, RoutingMode};
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

/// The routing of the live chat card `card` of the directory's dialog (the first
/// live chat card when `None`), with the card's id.
pub fn card_routing(
    directory: &Directory,
    card: Option<&CardId>,
) -> Result<(CardId, RoutingMode), ExplainError> {
    let dialog = match directory.valid_dialog() {
        Some(Ok(dialog)) => dialog,
        Some(Err(_)) => {
            return Err(ExplainError::NoCard(
                "the configuration's dialog is not valid (livechat validate names the problems)"
                    .into(),
            ));
        }
        None => {
            return Err(ExplainError::NoCard(
                "the configuration has no dialog".into(),
            ));
        }
    };
    let found = dialog.dialog().cards.iter().find_map(|c| match c {
        Card::LiveChat(live) if card.is_none_or(|id| id == &live.id) => {
            Some((live.id.clone(), live.routing.clone()))
        }
        _ => None,
    });
    found.ok_or_else(|| {
        ExplainError::NoCard(match card {
            Some(id) => format!("the dialog has no live chat card {id}"),
            None => "the dialog has no live chat card".into(),
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
        let (card, mode) = card_routing(&directory, None).unwrap();
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
    fn a_card_that_is_not_there_is_named() {
        let directory = crate::demo::directory().unwrap();
        let missing = CardId::parse("no_such_card").unwrap();
        let e = card_routing(&directory, Some(&missing)).unwrap_err();
        assert!(e.to_string().contains("no_such_card"), "{e}");
    }
}
