//! The live view driven by the real use cases on the in-memory store: the index
//! follows a conversation as the consumer sees its changes, a redelivered batch
//! changes nothing, each role gets its cut, and an agent's status is routing's.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Harness, conversation_of};
use crate::analytics::Change;
use crate::analytics::live::{AgentStatus, Audience, LiveEntry, after_changes, assemble};
use crate::domain::{AgentId, ConversationState, ManualToggle};
use crate::ports::{AgentState, Clock};
use crate::routing::Facts;

impl Harness {
    /// One consumer batch: the store's changes since the last, through
    /// `after_changes`, as the gateway's pump runs it. Returns the batch.
    async fn consume(&self) -> Vec<Change> {
        let store = self.chat.ports().store.clone();
        let changes = store.own_changes();
        after_changes(
            store.as_ref(),
            self.push.as_ref(),
            &changes,
            self.clock.now(),
        )
        .await
        .unwrap();
        changes
    }

    async fn entries(&self) -> Vec<LiveEntry> {
        let store = &self.chat.ports().store;
        let mut entries = store.live_entries(self.clock.now()).await.unwrap();
        entries.sort_by(|a, b| a.conversation.cmp(&b.conversation));
        entries
    }

    /// An inbox that opened its Live tab: connected, synced, and watching.
    async fn watching(&self, name: &str) -> crate::domain::ConnectionId {
        let conn = self.agent(name).await;
        self.send(&conn, json!({"action": "live"})).await;
        let answered = self.live_frames(&conn);
        assert_eq!(answered.len(), 1, "live answers live");
        conn
    }

    /// The `live` frames `conn` got since the last look.
    fn live_frames(&self, conn: &crate::domain::ConnectionId) -> Vec<Value> {
        self.frames(conn)
            .into_iter()
            .filter(|f| f["type"] == "live")
            .collect()
    }
}

fn row<'a>(frame: &'a Value, agent: &str) -> &'a Value {
    frame["agents"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["agent"] == agent))
        .unwrap_or_else(|| panic!("no row for {agent} in {frame}"))
}

#[tokio::test]
async fn the_index_follows_a_conversation_through_waiting_offered_and_live_and_drops_it() {
    let h = Harness::recording();
    let ana = h.watching("ana").await;
    let ben = h.watching("ben").await;
    let cleo = h.agent("cleo").await;
    h.consume().await;
    h.frames(&ana);
    h.frames(&ben);

    let (_visitor, frames) = h.visitor_reaching_live_chat().await;
    let conversation = conversation_of(&frames);
    h.consume().await;
    let stored = h.stored(&conversation).await;
    let requested = stored.timeline().requested_at.unwrap();
    let entries = h.entries().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].conversation.as_str(), conversation);
    assert_eq!(entries[0].since, requested, "since the first request");
    assert_eq!(entries[0].offer, None);
    let seen = h.live_frames(&ana);
    assert_eq!(seen.len(), 1, "one frame per batch: {seen:?}");
    assert_eq!(seen[0]["scope"], "all");
    assert_eq!(seen[0]["waiting_count"], 1);
    assert_eq!(seen[0]["waiting"][0]["conversation"], conversation.as_str());
    assert_eq!(seen[0]["waiting"][0]["offer"], Value::Null);
    assert_eq!(
        h.live_frames(&cleo),
        Vec::<Value>::new(),
        "an inbox not watching gets none"
    );

    h.pump().await; // routed: offered to one of them
    let offered = h.consume().await;
    let ConversationState::Offered { agent, expires_at } =
        h.stored(&conversation).await.state().clone()
    else {
        panic!("not offered");
    };
    let entries = h.entries().await;
    assert_eq!(entries.len(), 1);
    let offer = entries[0].offer.clone().unwrap();
    assert_eq!((&offer.agent, offer.expires_at), (&agent, expires_at));
    assert_eq!(
        entries[0].since, requested,
        "an offer keeps the request's time"
    );
    let seen = h.live_frames(&ana);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["waiting"][0]["offer"]["agent"], agent.as_str());
    assert_eq!(row(&seen[0], agent.as_str())["offers"], 1);
    assert_eq!(row(&seen[0], agent.as_str())["chats"], 0);

    // The same batch delivered again: the same entry, and nothing else moves.
    let store = h.chat.ports().store.clone();
    after_changes(store.as_ref(), h.push.as_ref(), &offered, h.clock.now())
        .await
        .unwrap();
    assert_eq!(
        h.entries().await,
        entries,
        "a redelivered batch changes nothing"
    );

    let holder = if agent.as_str() == "ana" { &ana } else { &ben };
    h.send(
        holder,
        json!({"action": "accept", "conversation": conversation}),
    )
    .await;
    h.frames(&ana);
    h.frames(&ben);
    let live = h.consume().await;
    assert_eq!(h.entries().await, [], "a live chat leaves the index");
    let seen = h.live_frames(&ana);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["waiting_count"], 0);
    assert_eq!(seen[0]["oldest_since"], Value::Null);
    assert_eq!(row(&seen[0], agent.as_str())["chats"], 1);
    assert_eq!(row(&seen[0], agent.as_str())["offers"], 0);

    after_changes(store.as_ref(), h.push.as_ref(), &live, h.clock.now())
        .await
        .unwrap();
    assert_eq!(h.entries().await, [], "redelivered, the delete is a no-op");
}

#[tokio::test]
async fn a_live_agent_gets_the_waiting_count_and_their_own_row_and_a_marketing_admin_nothing() {
    let h = Harness::recording();
    let ana = h.watching("ana").await;
    let ben = h.watching("ben").await;
    let mia = h.agent("mia").await;
    h.frames(&mia);
    h.visitor_reaching_live_chat().await;
    h.consume().await;

    let own = h.live_frames(&ben);
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["scope"], "own");
    assert_eq!(own[0]["waiting_count"], 1);
    assert!(own[0]["oldest_since"].is_string());
    assert_eq!(own[0]["waiting"], json!([]), "no waiting list");
    let agents: Vec<&str> = own[0]["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["ben"], "their own row only");
    assert_eq!(
        h.live_frames(&ana)[0]["waiting"].as_array().unwrap().len(),
        1
    );
    assert_eq!(h.live_frames(&mia), Vec::<Value>::new());

    // Asked for, the same cuts; a Marketing Admin is refused.
    h.send(&ben, json!({"action": "live"})).await;
    let asked = h.live_frames(&ben);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["scope"], "own");
    assert_eq!(asked[0]["waiting_count"], 1);
    h.send(&mia, json!({"action": "live"})).await;
    let refused = h.frames(&mia);
    assert_eq!(refused[0]["type"], "error", "{refused:?}");
    assert_eq!(refused[0]["code"], "forbidden");
}

#[tokio::test]
async fn the_snapshots_agent_statuses_are_routings_eligibility_for_away_offline_and_at_limit_agents()
 {
    let directory = crate::demo::directory().unwrap();
    let now: jiff::Timestamp = "2026-03-02T10:00:00Z".parse().unwrap();
    let id = |a: &str| AgentId::parse(a).unwrap();
    let conn = |c: &str| crate::domain::ConnectionId::parse(c).unwrap();
    let online = |load: u32, manual: Option<ManualToggle>| AgentState {
        load,
        online: true,
        connections: vec![conn("c1=")],
        manual,
    };
    let away = ManualToggle {
        available: false,
        until: "2026-03-03T00:00:00Z".parse().unwrap(),
    };
    // ana holds her limit (5: four live, one offer out), ben is away by his
    // toggle, cleo has no inbox open; mia (a Marketing Admin) is no agent here.
    let states = BTreeMap::from([
        (id("ana"), online(5, None)),
        (id("ben"), online(1, Some(away))),
        (id("cleo"), AgentState::default()),
    ]);
    let entries = vec![LiveEntry {
        conversation: crate::domain::ConversationId::parse("c-1").unwrap(),
        since: now,
        offer: Some(crate::analytics::live::OfferOut {
            agent: id("ana"),
            expires_at: now,
        }),
    }];
    let board = assemble(&directory, states.clone(), entries, now);
    let facts = Facts {
        directory: &directory,
        now,
        states,
    };
    let rows: Vec<_> = board
        .view
        .agents
        .iter()
        .map(|r| {
            (
                r.agent.as_str(),
                r.status,
                r.chats,
                r.offers,
                r.limit,
                r.routable,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ana", AgentStatus::Available, 4, 1, 5, false),
            ("ben", AgentStatus::Away, 1, 0, 5, false),
            ("cleo", AgentStatus::Offline, 0, 0, 3, false),
        ]
    );
    for r in &board.view.agents {
        assert_eq!(r.routable, facts.eligible(&r.agent), "{}", r.agent);
    }
    // Routing's rule, not the directory's: ben's toggle is stored with his state.
    assert!(directory.agent(&id("ben")).unwrap().is_available(now));
    let recipients: Vec<_> = board
        .recipients
        .iter()
        .map(|(a, audience, _)| (a.as_str(), *audience))
        .collect();
    assert_eq!(recipients, [("ana", Audience::All), ("ben", Audience::Own)]);
}
