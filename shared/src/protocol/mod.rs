//! The wire protocol: every JSON frame the widget and the Agent Inbox send over the
//! API Gateway WebSocket API, and every frame the handlers push back.
//! `docs/protocol.md` is its reference for widget and inbox authors; a test parses
//! every example in it, so the two cannot drift apart.
//!
//! # Layout
//! - [`route_key`]: the route API Gateway selects for a body (`action`, else
//!   `$default`); which function serves it is the deployment's table
//!   (`livechat_aws::topology`), not the core's.
//! - [`VisitorFrame`], [`AgentFrame`]: client frames, tagged by `action`, parsed in
//!   two steps ([`RawFrame`], then `TryFrom`) into domain types; each action (its
//!   name, fields and their parsers) is declared once.
//! - [`ServerFrame`]: what handlers push, tagged by `type`.
//! - [`FrameError`], [`ServerError`], [`ErrorCode`]: refusals and failures, and the
//!   `error` frame built from them (precise for the client's mistakes, generic for
//!   ours).

mod client;
mod error;
mod route;
mod server;

pub use client::json_depth;
pub use client::{
    AgentFrame, ConversationScore, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES, MAX_PAGE_URL_CHARS,
    MAX_SIGNATURE_CHARS, MAX_SUBMIT_CHARS, RawFrame, ScoreError, VisitorFrame,
};
pub use error::{ErrorCode, FieldError, FrameError, INTERNAL_ERROR_MESSAGE, ServerError};
pub use route::{RouteKey, route_key};
pub use server::{
    CapturedAnswer, FALLBACK_ERROR_JSON, MAX_TRACES, MissedChat, ServerFrame, TransferFailure,
    TransferSummary, VisitorSummary, WithdrawReason, panel_attributes,
};

/// Largest body accepted, in bytes: API Gateway's WebSocket message limit (128 KB).
/// It applies both ways: client frames over it are refused, and server frames are
/// split to fit (see [`ServerFrame::fit`]).
pub const MAX_FRAME_BYTES: usize = 131_072;

/// Deepest nesting of objects and arrays a client frame may have. The deepest frame
/// of the protocol has 2 levels (`start`'s `attributes`); the bound keeps a hostile
/// frame from making the parser recurse far (serde_json stops at 128 by itself).
pub const MAX_JSON_DEPTH: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    /// Which parser the examples under a `##` heading of docs/protocol.md go through.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Section {
        Visitor,
        Agent,
        Server,
        Other,
    }

    fn section(heading: &str) -> Section {
        if heading.starts_with("Visitor frames") {
            Section::Visitor
        } else if heading.starts_with("Agent frames") {
            Section::Agent
        } else if heading.starts_with("Server frames") {
            Section::Server
        } else {
            Section::Other
        }
    }

    /// The ```json blocks of the doc, each with the section it sits in.
    fn examples(doc: &str) -> Vec<(Section, String)> {
        let mut current = Section::Other;
        let mut block: Option<String> = None;
        let mut found = Vec::new();
        for line in doc.lines() {
            if let Some(text) = &mut block {
                if line.trim_start().starts_with("```") {
                    found.push((current, std::mem::take(text)));
                    block = None;
                } else {
                    text.push_str(line);
                    text.push('\n');
                }
            } else if let Some(heading) = line.strip_prefix("## ") {
                current = section(heading.trim());
            } else if line.trim_start().starts_with("```json") {
                block = Some(String::new());
            }
        }
        found
    }

    #[test]
    fn every_example_frame_in_the_protocol_doc_parses_and_every_frame_has_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let mut visitor = std::collections::BTreeSet::new();
        let mut agent = std::collections::BTreeSet::new();
        let mut server = std::collections::BTreeSet::new();
        for (section, json) in examples(&doc) {
            match section {
                Section::Visitor => {
                    let frame = VisitorFrame::parse(&json)
                        .unwrap_or_else(|e| panic!("visitor example {json}: {e}"));
                    visitor.insert(frame.action());
                }
                Section::Agent => {
                    let frame = AgentFrame::parse(&json)
                        .unwrap_or_else(|e| panic!("agent example {json}: {e}"));
                    agent.insert(frame.action());
                }
                Section::Server => {
                    let frame: ServerFrame = serde_json::from_str(&json)
                        .unwrap_or_else(|e| panic!("server example {json}: {e}"));
                    server.insert(frame.kind());
                }
                Section::Other => {}
            }
        }
        assert_eq!(visitor, VisitorFrame::ACTIONS.into_iter().collect());
        assert_eq!(agent, AgentFrame::ACTIONS.into_iter().collect());
        let kinds: std::collections::BTreeSet<_> = server::tests::server_samples()
            .iter()
            .map(ServerFrame::kind)
            .collect();
        assert_eq!(server, kinds);
        for code in ErrorCode::ALL {
            assert!(
                doc.contains(&format!("| `{}` |", code.as_str())),
                "error code {code} missing from the doc's table"
            );
        }
    }

    /// `n` as the doc writes it: `16,384`.
    fn thousands(n: usize) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, d) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(d);
        }
        out
    }

    /// The Limits rows of the default rate limits, as the doc writes them.
    fn rate_rows() -> Vec<String> {
        let d = crate::domain::RateLimits::default();
        [
            ("`send_message` per connection", d.messages_per_connection),
            (
                "`send_message` per visitor, all their pages together",
                d.messages_per_visitor,
            ),
            ("`typing` per connection", d.typing_per_connection),
            ("`start` per visitor", d.starts_per_visitor),
            (
                "`$connect` with one `visitor_token`",
                d.reconnects_per_visitor,
            ),
            ("`report` per agent connection", d.reports_per_connection),
        ]
        .into_iter()
        .map(|(what, r)| format!("| {what} | default {} per {} s", r.count, r.per_secs))
        .collect()
    }

    #[test]
    fn the_protocol_doc_gives_the_caps_limits_declares() {
        use crate::limits::*;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
        let doc = std::fs::read_to_string(path).unwrap();
        for expected in [
            format!(
                "at most {} attributes and {} bytes",
                MAX_SESSION_ATTRIBUTES,
                thousands(MAX_SESSION_ATTRIBUTE_BYTES)
            ),
            format!(
                "at most {} bytes of JSON: `name` and `job_title` {} bytes each, `phone` {}, `page_url` {}, each answer's `value` {}, all `answers` {}",
                thousands(MAX_SUMMARY_BYTES),
                SUMMARY_NAME_BYTES,
                SUMMARY_PHONE_BYTES,
                SUMMARY_PAGE_URL_BYTES,
                SUMMARY_ANSWER_VALUE_BYTES,
                thousands(SUMMARY_ANSWERS_BYTES)
            ),
            format!("| `past_chats` `visitor_name` | {SUMMARY_NAME_BYTES} bytes |"),
            format!(
                "| `missed` page | {MISSED_PAGE_SIZE} requests; the list reaches back 7 days |"
            ),
            format!("| `past_chats` page | {PAST_CHATS_PAGE_SIZE} chats;"),
            format!(
                "| messages in one conversation | at most {} |",
                thousands(MAX_CONVERSATION_MESSAGES as usize)
            ),
            format!("| `history` page | {HISTORY_PAGE_SIZE} messages |"),
            format!(
                "| `live` per connection | {} per {} s |",
                LIVE_REQUESTS.count, LIVE_REQUESTS.per_secs
            ),
            format!(
                "| `live` answer | at most {} waiting visitors listed and {} agents |",
                crate::analytics::live::MAX_WAITING_LISTED,
                crate::analytics::live::MAX_AGENT_ROWS
            ),
            format!(
                "`signature` a string of at most {} characters",
                super::MAX_SIGNATURE_CHARS
            ),
        ]
        .into_iter()
        .chain(rate_rows())
        {
            assert!(
                doc.contains(&expected),
                "docs/protocol.md should say: {expected}"
            );
        }
        assert_eq!(MISSED_LIST_SPAN, jiff::SignedDuration::from_hours(24 * 7));
    }
}
