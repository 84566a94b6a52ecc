//! A WebSocket text frame from a client, as the gateway and the functions handle it:
//! the route API Gateway selects ([`route_key`]), then [`RawFrame::parse`] and the
//! conversion to a visitor's or an agent's frame (the connection's party decides
//! which; both are tried here).
//!
//! Beyond "no panic":
//! - the route and the parsed frame agree on the action, and every action that parses
//!   has a route of its own (it never falls to `$default`);
//! - a parsed frame serialises and parses back to the same value;
//! - a refused frame gets an `error` frame at most a constant larger than the body, so
//!   that the answer to any frame that fits in 128 KB fits too (API Gateway refuses to
//!   push a larger one, and the client would never learn what was wrong).
#![no_main]

use libfuzzer_sys::fuzz_target;
use livechat_core::protocol::{
    AgentFrame, FrameError, MAX_FRAME_BYTES, RawFrame, RouteKey, ServerError, ServerFrame,
    VisitorFrame, route_key,
};

/// What an `error` frame may add to the body it answers: its own fields, the fixed
/// text of the message, and what escaping adds to the client's strings it quotes. A
/// message quotes at most two of them (a field `attributes.<name>` and the name in
/// the reason), each cut at 64 characters, and a character that took one byte in
/// the body (U+007F) takes seven once escaped by `{:?}` and then by JSON: 2 x 64 x 6
/// bytes beyond the body, besides the fixed text.
const ERROR_OVERHEAD: usize = 1536;

fuzz_target!(|data: &[u8]| {
    // API Gateway only passes text frames (UTF-8) to the functions.
    if let Ok(body) = std::str::from_utf8(data) {
        check(body);
    }
});

fn check(body: &str) {
    let route = route_key(body);
    let raw = match RawFrame::parse(body) {
        Ok(raw) => raw,
        Err(e) => {
            if !matches!(e, FrameError::TooLarge { .. }) {
                assert_eq!(route, RouteKey::Default, "{body:?} was refused with {e}");
            }
            check_error(body, e);
            return;
        }
    };
    match raw.action() {
        Some(action) => assert_eq!(route, RouteKey::Action(action.to_string())),
        None => assert_eq!(route, RouteKey::Default),
    }
    match VisitorFrame::try_from(raw.clone()) {
        Ok(frame) => {
            assert_routed(&route, frame.action());
            let json = serde_json::to_string(&frame).expect("a visitor frame serialises");
            if json.len() <= MAX_FRAME_BYTES {
                assert_eq!(VisitorFrame::parse(&json), Ok(frame.clone()), "{json}");
            }
            let again: VisitorFrame = serde_json::from_str(&json).expect("serde reads it back");
            assert_eq!(again, frame, "{json}");
        }
        Err(e) => check_error(body, e),
    }
    match AgentFrame::try_from(raw) {
        Ok(frame) => {
            assert_routed(&route, frame.action());
            let json = serde_json::to_string(&frame).expect("an agent frame serialises");
            if json.len() <= MAX_FRAME_BYTES {
                assert_eq!(AgentFrame::parse(&json), Ok(frame.clone()), "{json}");
            }
            let again: AgentFrame = serde_json::from_str(&json).expect("serde reads it back");
            assert_eq!(again, frame, "{json}");
        }
        Err(e) => check_error(body, e),
    }
}

fn assert_routed(route: &RouteKey, action: &str) {
    assert_eq!(route.as_str(), action);
    assert!(
        VisitorFrame::ACTIONS.contains(&action) || AgentFrame::ACTIONS.contains(&action),
        "{action} parses but is no declared action (and so has no route)"
    );
}

fn check_error(body: &str, e: FrameError) {
    let frame = ServerFrame::error(&ServerError::Frame(e));
    let json = frame.to_json();
    assert!(
        json.len() <= MAX_FRAME_BYTES,
        "a {} byte error frame",
        json.len()
    );
    assert!(
        json.len() <= body.len() + ERROR_OVERHEAD,
        "a {} byte body got a {} byte error frame: {json}",
        body.len(),
        json.len()
    );
    let again: ServerFrame = serde_json::from_str(&json).expect("the error frame is JSON");
    assert_eq!(again, frame);
}
