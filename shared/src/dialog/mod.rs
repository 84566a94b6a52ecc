//! Dialogs: the file format, the validator and the card engine.
//!
//! # Layout
//! - [`Dialog`] and its [`Card`]s: the file format, read from JSON or YAML
//!   ([`Dialog::from_json`], [`Dialog::from_yaml`], [`Dialog::from_path_contents`]).
//! - [`validate`]: checks a dialog against the routing [`Targets`] that exist and
//!   returns a [`ValidDialog`] or every [`DialogError`].
//! - [`advance`]: the card engine, a pure function of a [`ValidDialog`], the visitor's
//!   [`DialogState`], a [`VisitorAction`] and a [`Context`], giving a [`Step`].
//! - [`Diagram`]: the cards and their branches as a layered graph, drawn as SVG or
//!   written as Mermaid text (`livechat diagram`).
//! - [`render`]: `{{visitor.NAME:"default"}}` tokens in card text.
//! - [`CardView`], [`VisitorAction`], [`FieldType`]: what the wire protocol carries.
//!
//! The format and the rules are described for dialog designers in `docs/dialogs.md`.

mod diagram;
mod engine;
mod format;
mod localized;
mod tokens;
mod validate;
mod view;

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod validate_tests;

pub use diagram::{Diagram, Edge, Node, xml_escape};
pub use engine::{
    ActionError, Context, DialogEvent, DialogState, MAX_TEXT_CHARS, Position, Progress, Step,
    advance, blocked_domain_message,
};
pub use format::{
    Answer, Branch, BranchCard, BranchShapeError, BranchTest, CaptureCard, Card,
    DEFAULT_CONNECTING_TEXT, Dialog, Format, FormatError, GoalCard, IfKnown, Link, LiveChatCard,
    MessageCard, QuestionCard,
};
pub use localized::Localized;
pub use tokens::{TokenProblem, render};
pub use validate::{DialogError, Targets, ValidDialog, validate};
pub use view::{CardView, FieldType, VisitorAction};
