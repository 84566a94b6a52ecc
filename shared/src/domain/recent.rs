//! The ids of a conversation's latest messages, kept on its hub, so that a resent
//! message is recognised from the read every relay makes anyway, and storing a
//! message writes two items (the hub's count, the message) instead of three (an id
//! guard besides). The window is bounded: a resend is recognised while its first
//! copy is among the last [`RECENT_PER_SIDE`] messages of its side, which holds for
//! every client that keeps at most [`MAX_UNACKED`] messages unacknowledged
//! (`docs/protocol.md`).
//!
//! Each entry is a 32-bit hash of the id and the message's sequence number. Two ids
//! that hash alike are told apart by reading the stored message, so a collision
//! costs a read and never loses a message.

use super::{MessageId, Sender};

/// Messages remembered per side of a conversation (the visitor's; the agents' and
/// the product's). Four tabs of one party, each with [`MAX_UNACKED`] messages in
/// flight, are covered.
pub const RECENT_PER_SIDE: usize = 32;

/// Messages a client may have sent on one connection and not yet seen acknowledged,
/// per conversation. A client that keeps to it has every resend recognised.
pub const MAX_UNACKED: usize = 8;

/// Bytes per entry: the id's hash, then the sequence number, both big-endian.
const ENTRY_BYTES: usize = 8;

/// The latest messages of each side of a conversation, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentMessages {
    visitor: Vec<Entry>,
    team: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    hash: u32,
    seq: u32,
}

impl Entry {
    fn of(id: &MessageId, seq: u64) -> Self {
        Self {
            hash: crate::shards::fnv1a_folded(id.as_str().as_bytes()),
            // Sequence numbers stop at `limits::MAX_CONVERSATION_MESSAGES`.
            seq: u32::try_from(seq).unwrap_or(u32::MAX),
        }
    }
}

impl RecentMessages {
    /// The sequence numbers of the remembered messages of `sender`'s side whose id
    /// hashes as `id` does, newest first. A resend of one of them is among these;
    /// which one (if any) is known only by reading them.
    pub fn candidates(&self, sender: &Sender, id: &MessageId) -> Vec<u64> {
        let probe = Entry::of(id, 0).hash;
        self.side(sender)
            .iter()
            .rev()
            .filter(|e| e.hash == probe)
            .map(|e| u64::from(e.seq))
            .collect()
    }

    /// The window after `id` is stored as number `seq`: the oldest of its side is
    /// forgotten once the side holds [`RECENT_PER_SIDE`].
    pub fn with(&self, sender: &Sender, id: &MessageId, seq: u64) -> Self {
        let mut next = self.clone();
        let side = match sender {
            Sender::Visitor => &mut next.visitor,
            Sender::Agent { .. } | Sender::System => &mut next.team,
        };
        side.push(Entry::of(id, seq));
        if side.len() > RECENT_PER_SIDE {
            side.drain(..side.len() - RECENT_PER_SIDE);
        }
        next
    }

    /// Messages remembered, both sides.
    pub fn len(&self) -> usize {
        self.visitor.len() + self.team.len()
    }

    /// Whether nothing is remembered (a conversation without messages).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored form: one byte with the visitor side's length, then the visitor's
    /// entries and the team's, 8 bytes each (at most 513 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 + self.len() * ENTRY_BYTES);
        // At most RECENT_PER_SIDE entries, so the length fits in a byte.
        bytes.push(u8::try_from(self.visitor.len()).unwrap_or(u8::MAX));
        for entry in self.visitor.iter().chain(&self.team) {
            bytes.extend_from_slice(&entry.hash.to_be_bytes());
            bytes.extend_from_slice(&entry.seq.to_be_bytes());
        }
        bytes
    }

    /// Reads [`RecentMessages::to_bytes`] back; `None` when the bytes are not that
    /// form.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&visitors, rest) = bytes.split_first()?;
        if rest.len() % ENTRY_BYTES != 0 {
            return None;
        }
        let mut entries = rest.chunks_exact(ENTRY_BYTES).map(|chunk| {
            let (hash, seq) = chunk.split_at(4);
            Entry {
                hash: u32::from_be_bytes(hash.try_into().unwrap_or_default()),
                seq: u32::from_be_bytes(seq.try_into().unwrap_or_default()),
            }
        });
        let visitor: Vec<Entry> = entries.by_ref().take(usize::from(visitors)).collect();
        let team: Vec<Entry> = entries.collect();
        let fits = |side: &[Entry]| side.len() <= RECENT_PER_SIDE;
        (visitor.len() == usize::from(visitors) && fits(&visitor) && fits(&team))
            .then_some(Self { visitor, team })
    }

    fn side(&self, sender: &Sender) -> &[Entry] {
        match sender {
            Sender::Visitor => &self.visitor,
            Sender::Agent { .. } | Sender::System => &self.team,
        }
    }
}

/// Stored as bytes ([`RecentMessages::to_bytes`]): a DynamoDB binary attribute.
impl serde::Serialize for RecentMessages {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.to_bytes())
    }
}

impl<'de> serde::Deserialize<'de> for RecentMessages {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = RecentMessages;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the recent message ids' stored form")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Self::Value, E> {
                RecentMessages::from_bytes(bytes)
                    .ok_or_else(|| E::custom("not the recent message ids' stored form"))
            }
        }
        deserializer.deserialize_bytes(Bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AgentId;

    fn id(s: &str) -> MessageId {
        MessageId::parse(s).unwrap()
    }

    fn agent() -> Sender {
        Sender::agent(AgentId::parse("ana@acme.example").unwrap())
    }

    #[test]
    fn a_stored_id_is_a_candidate_on_its_own_side_only() {
        let recent = RecentMessages::default()
            .with(&Sender::Visitor, &id("m-1"), 1)
            .with(&agent(), &id("m-2"), 2);
        assert_eq!(recent.candidates(&Sender::Visitor, &id("m-1")), [1]);
        assert_eq!(recent.candidates(&agent(), &id("m-2")), [2]);
        assert!(recent.candidates(&agent(), &id("m-1")).is_empty());
        assert!(recent.candidates(&Sender::Visitor, &id("m-3")).is_empty());
        assert_eq!(recent.candidates(&Sender::System, &id("m-2")), [2]);
    }

    #[test]
    fn each_side_keeps_its_latest_messages_however_busy_the_other_is() {
        let mut recent = RecentMessages::default().with(&Sender::Visitor, &id("v-0"), 1);
        for n in 0..100 {
            recent = recent.with(&agent(), &id(&format!("a-{n}")), n + 2);
        }
        assert_eq!(recent.candidates(&Sender::Visitor, &id("v-0")), [1]);
        assert!(recent.candidates(&agent(), &id("a-67")).is_empty());
        assert_eq!(recent.candidates(&agent(), &id("a-68")), [70]);
        assert_eq!(recent.len(), 1 + RECENT_PER_SIDE);
    }

    #[test]
    fn the_stored_form_reads_back_and_stays_small() {
        let mut recent = RecentMessages::default();
        for n in 0..40 {
            recent = recent
                .with(&Sender::Visitor, &id(&format!("v-{n}")), 2 * n + 1)
                .with(&agent(), &id(&format!("a-{n}")), 2 * n + 2);
        }
        let bytes = recent.to_bytes();
        assert_eq!(bytes.len(), 1 + 2 * RECENT_PER_SIDE * ENTRY_BYTES);
        assert_eq!(RecentMessages::from_bytes(&bytes), Some(recent));
        assert_eq!(
            RecentMessages::from_bytes(&RecentMessages::default().to_bytes()),
            Some(RecentMessages::default())
        );
    }

    #[test]
    fn bytes_that_are_not_the_stored_form_are_refused() {
        assert_eq!(RecentMessages::from_bytes(&[]), None);
        assert_eq!(RecentMessages::from_bytes(&[0, 1, 2]), None);
        assert_eq!(
            RecentMessages::from_bytes(&[2, 0, 0, 0, 1, 0, 0, 0, 1]),
            None
        );
        assert_eq!(RecentMessages::from_bytes(&[33; 1 + 33 * 8]), None);
    }
}
