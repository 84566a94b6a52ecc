//! The caps that keep one visitor from degrading the service for anyone else, in one
//! place: what a visitor session keeps, how large a visitor summary grows inside a
//! frame to agents, and how many entries a page of a list carries.
//!
//! Together they keep every frame pushed to an agent under API Gateway's 128 KB
//! message limit ([`crate::protocol::MAX_FRAME_BYTES`]) whatever visitors send: a
//! summary is at most [`MAX_SUMMARY_BYTES`], and a page holds few enough of them
//! (the protocol's tests build the worst case of each). `docs/protocol.md` gives
//! them to client writers. The limits on a single client frame (attributes per
//! `start`, value lengths, message length) sit beside the parser, in
//! [`crate::protocol`].

use jiff::SignedDuration;

/// Most attributes one visitor session keeps: host-page attributes, the page URL
/// and the dialog's answers together. A `start` that would go past it is refused.
pub const MAX_SESSION_ATTRIBUTES: usize = 100;

/// Most bytes one visitor session's attributes hold, names and values (UTF-8)
/// together. A `start` that would go past it is refused.
pub const MAX_SESSION_ATTRIBUTE_BYTES: usize = 16 * 1024;

/// Largest visitor summary (the `visitor` object of `offer`, `chat_started` and
/// `missed` entries), in bytes of JSON. Its fields are clipped to the budgets below;
/// answers that do not fit are left out.
pub const MAX_SUMMARY_BYTES: usize = 4 * 1024;

/// A summary's `name` or `job_title`, and a past chat's `visitor_name`, at most, in
/// bytes of JSON string content.
pub const SUMMARY_NAME_BYTES: usize = 200;

/// A summary's `phone` at most, in bytes of JSON string content.
pub const SUMMARY_PHONE_BYTES: usize = 64;

/// A summary's `page_url` at most, in bytes of JSON string content.
pub const SUMMARY_PAGE_URL_BYTES: usize = 800;

/// One answer's `value` in a summary at most, in bytes of JSON string content.
pub const SUMMARY_ANSWER_VALUE_BYTES: usize = 256;

/// A summary's whole `answers` list at most, in bytes of JSON.
pub const SUMMARY_ANSWERS_BYTES: usize = 2 * 1024;

/// Most entries in one `missed` frame; older ones come with `before`.
pub const MISSED_PAGE_SIZE: usize = 25;

/// Most entries in one `past_chats` frame; older ones come with `before`.
pub const PAST_CHATS_PAGE_SIZE: usize = 80;

/// Most messages one conversation holds; a message past it is refused with
/// `conversation_full` (a visitor starts a new chat).
pub const MAX_CONVERSATION_MESSAGES: u64 = 2_000;

/// Most messages in one `history` frame; older ones come with `before`.
pub const HISTORY_PAGE_SIZE: usize = 50;

/// How far back the missed list reaches.
pub const MISSED_LIST_SPAN: SignedDuration = SignedDuration::from_hours(24 * 7);

/// `live` requests per connection: the inbox asks on opening its Live tab, and
/// the view is pushed as it moves, so a client needs few; each costs a batch read
/// of the agents and a query per shard of the index.
pub const LIVE_REQUESTS: crate::domain::Rate = crate::domain::Rate::new(10, 60);

/// `value` without control characters, cut at a character boundary so that it takes
/// at most `max` bytes as the content of a JSON string (`"` and `\` take two); a cut
/// value ends with `…`. Text a visitor wrote goes through it before it is shown in a
/// list or summary, so that its size in a frame is known.
pub fn clip(value: &str, max: usize) -> String {
    let escaped = |c: char| match c {
        '"' | '\\' => 2,
        c => c.len_utf8(),
    };
    let clean = value.chars().filter(|c| !c.is_control());
    if clean.clone().map(escaped).sum::<usize>() <= max {
        return clean.collect();
    }
    let budget = max.saturating_sub('…'.len_utf8());
    let mut used = 0;
    let mut out: String = clean
        .take_while(|&c| {
            used += escaped(c);
            used <= budget
        })
        .collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_len(s: &str) -> usize {
        serde_json::to_string(s).unwrap().len() - 2
    }

    #[test]
    fn a_clipped_value_fits_its_budget_as_json_and_says_it_was_cut() {
        for raw in [
            "é".repeat(300),
            "\"".repeat(300),
            "a\u{1}".repeat(300),
            "😀".repeat(99),
        ] {
            let clipped = clip(&raw, 200);
            assert!(json_len(&clipped) <= 200, "{raw:?}");
            assert!(clipped.ends_with('…'));
            assert!(!clipped.chars().any(char::is_control));
        }
    }

    #[test]
    fn a_short_value_is_kept_as_is_without_its_control_characters() {
        assert_eq!(clip("Ana Lima", 200), "Ana Lima");
        assert_eq!(clip("Ana\u{7} Lima", 200), "Ana Lima");
    }
}
