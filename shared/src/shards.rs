//! Write sharding of the account-wide lists (the missed list, the account's past
//! chats). Each is spread over [`LIST_SHARDS`] partitions, an entry's chosen by a
//! hash of its conversation id, so that no partition takes more than a tenth of the
//! list's writes: a DynamoDB partition takes about 1,000 write units a second, and
//! a burst of fallbacks must not queue behind one. A point read or delete of an
//! entry computes its shard from the conversation; a page reads every shard and
//! merges them newest first. Both stores use these keys, so they shard alike.

use crate::domain::ConversationId;

/// Partitions per account-wide list. More than ten, so that even a shard that
/// draws more than its share of a burst stays under a tenth of the writes; each is
/// one more (parallel) query per page read.
pub const LIST_SHARDS: u32 = 16;

/// The shard of `conversation`'s entries: FNV-1a over the id's bytes, folded so
/// that every bit counts, modulo [`LIST_SHARDS`]. Stable across builds and
/// platforms (stored keys depend on it), unlike the standard library's hasher.
pub fn shard_of(conversation: &ConversationId) -> u32 {
    fnv1a_folded(conversation.as_str().as_bytes()) % LIST_SHARDS
}

/// FNV-1a (64-bit) over `bytes`, the high half folded into the low so that every
/// bit counts. Stable across builds and platforms: stored data depends on it.
pub(crate) fn fnv1a_folded(bytes: &[u8]) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash ^ (hash >> 32)) as u32
}

/// The partition of `conversation`'s entry in `list` (`MISSED`, `PASTALL`):
/// `<list>#<shard, 2 digits>`.
pub fn shard_key(list: &str, conversation: &ConversationId) -> String {
    shard_name(list, shard_of(conversation))
}

/// Every partition of `list`, in shard order.
pub fn shard_keys(list: &str) -> impl Iterator<Item = String> + '_ {
    (0..LIST_SHARDS).map(move |shard| shard_name(list, shard))
}

fn shard_name(list: &str, shard: u32) -> String {
    format!("{list}#{shard:02}")
}

/// The missed list's name.
pub const MISSED: &str = "MISSED";

/// The live view's index of waiting and offered conversations
/// ([`crate::analytics::live`]).
pub const LIVE: &str = "LIVE";

/// The account's past chats' name (an agent's own list is a partition per agent,
/// not account-wide, and is not sharded).
pub const PAST_ALL: &str = "PASTALL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shard_of_an_id_is_stable_and_in_range() {
        let id = ConversationId::parse("01JQ8Z5Y0W3H7G2E6D9C4B1A0F").unwrap();
        // Stored keys depend on it: a change of the hash is a change of the data model.
        assert_eq!(
            shard_key(MISSED, &id),
            format!("MISSED#{:02}", shard_of(&id))
        );
        assert_eq!(shard_of(&id), shard_of(&id.clone()));
        assert!(shard_keys(PAST_ALL).all(|k| k.starts_with("PASTALL#")));
        assert_eq!(shard_keys(MISSED).count(), LIST_SHARDS as usize);
    }

    #[test]
    fn ids_spread_evenly_over_the_shards() {
        let mut counts = [0u32; LIST_SHARDS as usize];
        for i in 0..4_000 {
            let id = ConversationId::parse(format!("01JQ8Z5Y0W3H7G2E6D{i:08}")).unwrap();
            counts[shard_of(&id) as usize] += 1;
        }
        // 250 each on average; none near a tenth (400).
        assert!(counts.iter().all(|&n| n < 320), "{counts:?}");
    }
}
