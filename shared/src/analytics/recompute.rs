//! Every metric computed again, straight from the final stored items and
//! docs/analytics.md, without events or sheets: the oracle the aggregates are
//! checked against. Written apart from the event path on purpose; keep it so.

use std::collections::BTreeMap;

use super::aggregate::millis;
use super::counters::{Bucket, Counters, Mean, Table};
use super::day::{Day, Zones};
use super::event::{team_of, walk_done};
use crate::domain::{
    AgentId, Conversation, ConversationId, Message, OfferOutcome, Sender, StintStart,
};
use crate::ports::VisitorSession;

/// The counters docs/analytics.md defines, from the final `conversations`, every
/// stored `messages` of them, and for each conversation the last session stored
/// while it was its session's (a session item holds its visitor's latest walk
/// only). Days in `zones`.
pub fn recompute(
    conversations: &[Conversation],
    messages: &[Message],
    sessions: &[VisitorSession],
    zones: &Zones,
) -> Table {
    let mut replies: BTreeMap<&ConversationId, Vec<(&AgentId, jiff::Timestamp)>> = BTreeMap::new();
    for m in messages {
        if let Sender::Agent { agent: Some(agent) } = &m.sender {
            replies
                .entry(&m.conversation)
                .or_default()
                .push((agent, m.at));
        }
    }
    let walks: BTreeMap<&ConversationId, &VisitorSession> =
        sessions.iter().map(|s| (&s.conversation, s)).collect();
    let mut table = Table::default();
    for c in conversations {
        // The dialog funnel: on the day the conversation was created, under no team
        // (funnel counts have no team: the card routing is not known yet).
        let created = zones.day(c.created_at());
        let progress = walks
            .get(c.id())
            .map(|s| (&s.dialog.progress, &s.dialog.position));
        let funnel = Counters {
            triggered: 1,
            engaged: i64::from(progress.is_some_and(|(p, _)| p.engaged)),
            completed: i64::from(progress.is_some_and(|(_, at)| walk_done(at))),
            goals_reached: progress
                .map_or(0, |(p, _)| i64::try_from(p.goals.len()).unwrap_or(i64::MAX)),
            emails_captured: i64::from(progress.is_some_and(|(p, _)| p.email_captured)),
            ..Counters::default()
        };

        for bucket in [
            Bucket::All,
            Bucket::Dialog(c.dialog().clone()),
            Bucket::Team(None),
            Bucket::Agent(None),
        ] {
            table.add(created, bucket, &funnel, 1);
        }

        let mut put = |day: Day, agent: Option<&AgentId>, counters: Counters| {
            table.add(day, Bucket::All, &counters, 1);
            table.add(day, Bucket::Dialog(c.dialog().clone()), &counters, 1);
            table.add(day, Bucket::Team(team_of(c)), &counters, 1);
            table.add(day, Bucket::Agent(agent.cloned()), &counters, 1);
        };

        let t = c.timeline();
        let Some(requested_at) = t.requested_at else {
            continue;
        };
        let day = zones.day(requested_at);
        put(
            day,
            None,
            Counters {
                requested: 1,
                ..Counters::default()
            },
        );
        match t.unanswered {
            Some(u) if u.missed => put(
                day,
                None,
                Counters {
                    missed: 1,
                    ..Counters::default()
                },
            ),
            Some(_) => put(
                day,
                None,
                Counters {
                    abandoned: 1,
                    ..Counters::default()
                },
            ),
            None => {}
        }
        if let Some(first) = t.stints.first().filter(|s| s.via == StintStart::Accepted) {
            put(
                day,
                Some(&first.agent),
                Counters {
                    connected: 1,
                    time_to_accept: Mean::of(millis(first.from, requested_at)),
                    ..Counters::default()
                },
            );
        }
        for offer in &t.offers {
            match offer.outcome {
                Some(OfferOutcome::Declined) => put(
                    day,
                    Some(&offer.agent),
                    Counters {
                        offers_declined: 1,
                        ..Counters::default()
                    },
                ),
                Some(OfferOutcome::TimedOut) => put(
                    day,
                    Some(&offer.agent),
                    Counters {
                        offers_timed_out: 1,
                        ..Counters::default()
                    },
                ),
                _ => {}
            }
        }
        let transcript = replies.get(c.id()).map_or(&[][..], Vec::as_slice);
        for (index, stint) in t.stints.iter().enumerate() {
            if stint.via == StintStart::Transferred {
                put(
                    day,
                    Some(&stint.agent),
                    Counters {
                        transfers_received: 1,
                        ..Counters::default()
                    },
                );
                if let Some(giver) = index.checked_sub(1).and_then(|i| t.stints.get(i)) {
                    put(
                        day,
                        Some(&giver.agent),
                        Counters {
                            transfers_given: 1,
                            ..Counters::default()
                        },
                    );
                }
            }
            if stint.via == StintStart::PickedUp {
                put(
                    day,
                    Some(&stint.agent),
                    Counters {
                        picked_up: 1,
                        ..Counters::default()
                    },
                );
            }
            let mut first_reply = None;
            for (by, at) in transcript {
                let inside = *at >= stint.from && stint.until.is_none_or(|u| *at <= u);
                if *by == &stint.agent && inside && first_reply.is_none_or(|f| *at < f) {
                    first_reply = Some(*at);
                }
            }
            if let Some(at) = first_reply {
                put(
                    day,
                    Some(&stint.agent),
                    Counters {
                        first_response: Mean::of(millis(at, stint.from)),
                        ..Counters::default()
                    },
                );
            }
            if let Some(until) = stint.until {
                put(
                    day,
                    Some(&stint.agent),
                    Counters {
                        chat_length: Mean::of(millis(until, stint.from)),
                        ..Counters::default()
                    },
                );
            }
        }
        if let Some(score) = c.score() {
            put(
                day,
                c.assigned(),
                Counters {
                    score: Mean::of(i64::from(score)),
                    ..Counters::default()
                },
            );
        }
    }
    table
}
