//! The card engine's interface with the outside: what a visitor does, and the cards
//! the widget shows. The wire protocol carries these types as they are.

use serde::{Deserialize, Serialize};

use crate::domain::CardId;

/// The kind of value an information capture card asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// An email address, validated.
    Email,
    /// A phone number, validated.
    Phone,
    /// Free text.
    Text,
    /// One of a list of options.
    Picklist,
}

/// Something the visitor did in the widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VisitorAction {
    /// Open the dialog (or resume it: the engine re-shows the current card).
    Start,
    /// Click answer number `answer` (0-based, in the order shown) of a question card.
    Answer { card: CardId, answer: usize },
    /// Submit a value for an information capture card.
    Submit { card: CardId, value: String },
}

/// A card as the widget shows it, tokens already rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CardView {
    /// A message bubble.
    Message { card: CardId, text: String },
    /// A question with answer buttons, in order.
    Question {
        card: CardId,
        prompt: String,
        answers: Vec<String>,
    },
    /// An input for one field; `error` is set when the last value was refused.
    Capture {
        card: CardId,
        field: FieldType,
        prompt: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        placeholder: Option<String>,
        /// The choices of a picklist; empty for other fields.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        options: Vec<String>,
        /// The visitor may submit nothing to move on.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        optional: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The live chat card: the visitor is being connected to an agent.
    LiveChat { card: CardId, text: String },
}
