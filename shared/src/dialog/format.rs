//! The dialog file format: a dialog and its cards as serde types, read from JSON or
//! YAML. Reading only checks the shape (field names, types, ids); the rules that span
//! cards (references, reachability, cycles, routing targets) are the validator's.
//!
//! Every card struct refuses unknown fields: a typo such as `nxt:` would otherwise
//! silently end a branch. Cards are tagged by `type`, which may come after the other
//! fields, so a card is read whole before its fields are checked: a YAML error inside
//! a card points at the card's first line, errors elsewhere at their exact place.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FieldType;
use super::localized::Localized;
use crate::domain::{AttributeName, CardId, ConditionSet, DialogId, Lang, RoutingMode};

/// The text a live chat card shows while the visitor is being connected, unless the
/// card sets its own.
pub const DEFAULT_CONNECTING_TEXT: &str = "Connecting you with someone from our team…";

/// A dialog: an ordered list of cards and the card it starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialog {
    /// Stable id, referenced by conversations.
    pub id: DialogId,
    /// Name shown to admins.
    pub name: String,
    /// The first card a visitor sees.
    pub start: CardId,
    /// The cards, in the order the designer wrote them (the order carries no meaning
    /// for the visitor: `next` links do).
    pub cards: Vec<Card>,
    /// The languages every per-language text of the dialog must give (the
    /// validator reports a card that lacks one); empty: no such check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Lang>,
    /// The language a visitor gets when a text is not in theirs; default the first
    /// of `languages`, else English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_language: Option<Lang>,
}

impl Dialog {
    /// The language of the texts a visitor whose own language a text lacks gets.
    pub fn fallback_language(&self) -> Lang {
        self.fallback_language
            .clone()
            .or_else(|| self.languages.first().cloned())
            .unwrap_or_default()
    }
}

/// One card of a dialog, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Card {
    /// A message bubble.
    Message(MessageCard),
    /// A question with answer buttons; each answer starts a branch.
    Question(QuestionCard),
    /// An information capture card: one field, validated.
    Capture(CaptureCard),
    /// Records that a goal was reached; not shown.
    Goal(GoalCard),
    /// A conditional branch; not shown.
    Branch(BranchCard),
    /// Connects the visitor with an agent; the last card of its branch.
    LiveChat(LiveChatCard),
}

/// Shows `text` (with tokens rendered), then goes on to `next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageCard {
    /// Unique within the dialog.
    pub id: CardId,
    /// The message, with tokens such as `{{visitor.first_name:"there"}}`.
    pub text: Localized,
    /// The following card; `None` ends the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<CardId>,
}

/// Shows `prompt` and answer buttons, then waits for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionCard {
    /// Unique within the dialog.
    pub id: CardId,
    /// The question, with tokens.
    pub prompt: Localized,
    /// Two or more answers with distinct labels, in the order shown.
    pub answers: Vec<Answer>,
    /// Where the chosen answer's value is stored, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<AttributeName>,
}

/// One answer button of a question card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The button's text.
    pub label: Localized,
    /// Stored in the question's attribute instead of the label (e.g. `yes` for
    /// "Yes please!"). Give one when the label is per language, so that the value
    /// stored does not depend on the visitor's language.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::optional_string"
    )]
    pub value: Option<String>,
    /// The first card of this answer's branch; `None` ends the dialog here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<CardId>,
}

impl Answer {
    /// The value stored when this answer is chosen: `value`, or else the label
    /// (a per-language label: the one in `fallback`, the dialog's fallback
    /// language, whatever the visitor's).
    pub fn stored_value(&self, fallback: &Lang) -> &str {
        self.value
            .as_deref()
            .unwrap_or_else(|| self.label.pick(fallback, fallback))
    }
}

/// What an information capture card does when its attribute is already known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IfKnown {
    /// Ask again and replace the known value.
    Overwrite,
    /// Do not show the card; go straight on to `next`.
    #[default]
    Skip,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Asks for one value, validates it by field type and stores it in `attribute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureCard {
    /// Unique within the dialog.
    pub id: CardId,
    /// The kind of value asked for.
    pub field: FieldType,
    /// The question shown above the input, with tokens.
    pub prompt: Localized,
    /// Hint text inside the empty input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Localized>,
    /// Where the value is stored (e.g. `email`).
    pub attribute: AttributeName,
    /// What to do when the attribute is already known; default `skip`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub if_known: IfKnown,
    /// The choices of a picklist (two or more); empty for other fields.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "lenient::strings"
    )]
    pub options: Vec<String>,
    /// Whether a value must be given; default `true`. An optional card accepts an
    /// empty submit, which stores nothing.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub required: bool,
    /// The following card; `None` ends the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<CardId>,
}

/// Records that the visitor reached a goal; not shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalCard {
    /// Unique within the dialog.
    pub id: CardId,
    /// The goal's name, as reports show it.
    pub name: String,
    /// An optional score, 0 to 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    /// The following card; `None` ends the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<CardId>,
}

/// Picks the first branch whose test holds, else `otherwise`; not shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchCard {
    /// Unique within the dialog.
    pub id: CardId,
    /// Tried in order; the first that holds is followed.
    pub branches: Vec<Branch>,
    /// Followed when no branch holds. Required by the validator, so every visitor has
    /// a path; optional here so that its absence is reported with the card's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<CardId>,
}

/// One branch of a conditional branch card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawBranch", into = "RawBranch")]
pub struct Branch {
    /// What must hold for this branch to be followed.
    pub test: BranchTest,
    /// Where the branch leads.
    pub next: CardId,
}

/// The test of a branch.
#[derive(Debug, Clone, PartialEq)]
pub enum BranchTest {
    /// `when:` conditions on the visitor's attributes.
    When(ConditionSet),
    /// `when_agents_available:` holds when whether any live agent is available now
    /// equals this value.
    AgentsAvailable(bool),
}

/// A branch as written: exactly one of `when` and `when_agents_available`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when: Option<ConditionSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when_agents_available: Option<bool>,
    next: CardId,
}

/// Why a branch entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a branch needs exactly one of `when` and `when_agents_available`")]
pub struct BranchShapeError;

impl TryFrom<RawBranch> for Branch {
    type Error = BranchShapeError;
    fn try_from(raw: RawBranch) -> Result<Self, BranchShapeError> {
        let test = match (raw.when, raw.when_agents_available) {
            (Some(set), None) => BranchTest::When(set),
            (None, Some(available)) => BranchTest::AgentsAvailable(available),
            _ => return Err(BranchShapeError),
        };
        Ok(Self {
            test,
            next: raw.next,
        })
    }
}

impl From<Branch> for RawBranch {
    fn from(branch: Branch) -> Self {
        let (when, when_agents_available) = match branch.test {
            BranchTest::When(set) => (Some(set), None),
            BranchTest::AgentsAvailable(available) => (None, Some(available)),
        };
        Self {
            when,
            when_agents_available,
            next: branch.next,
        }
    }
}

/// Connects the visitor with an agent chosen by `routing`.
///
/// `routing` is nested and tagged by `mode`, exactly as the routing configuration
/// writes it: `routing: { mode: team, team: sales }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveChatCard {
    /// Unique within the dialog.
    pub id: CardId,
    /// How the agent is picked.
    pub routing: RoutingMode,
    /// Shown while connecting; default [`DEFAULT_CONNECTING_TEXT`] (in the
    /// visitor's language). Tokens allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Localized>,
    /// Always refused by the validator: a live chat card ends its branch. Read so that
    /// the mistake is reported with the card's id rather than as a syntax error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<CardId>,
}

impl LiveChatCard {
    /// The text shown while connecting to a visitor speaking `lang`, before tokens
    /// are rendered: the card's own, else the product's in their language.
    pub fn connecting_text(&self, lang: &Lang, fallback: &Lang) -> &str {
        match &self.text {
            Some(text) => text.pick(lang, fallback),
            None => crate::texts::connecting(crate::domain::UiLang::of(lang)),
        }
    }
}

impl Card {
    /// The card's id.
    pub fn id(&self) -> &CardId {
        match self {
            Self::Message(c) => &c.id,
            Self::Question(c) => &c.id,
            Self::Capture(c) => &c.id,
            Self::Goal(c) => &c.id,
            Self::Branch(c) => &c.id,
            Self::LiveChat(c) => &c.id,
        }
    }

    /// The card's type as written in the file (`message`, `live_chat`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Message(_) => "message",
            Self::Question(_) => "question",
            Self::Capture(_) => "capture",
            Self::Goal(_) => "goal",
            Self::Branch(_) => "branch",
            Self::LiveChat(_) => "live_chat",
        }
    }

    /// Every card this card can lead to, with how it leads there, in file order.
    pub fn links(&self) -> Vec<(Link, &CardId)> {
        match self {
            Self::Message(MessageCard { next, .. })
            | Self::Capture(CaptureCard { next, .. })
            | Self::Goal(GoalCard { next, .. })
            | Self::LiveChat(LiveChatCard { next, .. }) => {
                next.iter().map(|n| (Link::Next, n)).collect()
            }
            Self::Question(q) => q
                .answers
                .iter()
                .enumerate()
                .filter_map(|(index, a)| a.next.as_ref().map(|n| (Link::Answer(index), n)))
                .collect(),
            Self::Branch(b) => b
                .branches
                .iter()
                .enumerate()
                .map(|(index, branch)| (Link::Branch(index), &branch.next))
                .chain(b.otherwise.iter().map(|n| (Link::Otherwise, n)))
                .collect(),
        }
    }
}

/// How one card leads to another; used in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The card's `next`.
    Next,
    /// Answer number n (0-based) of a question.
    Answer(usize),
    /// Branch number n (0-based) of a branch card.
    Branch(usize),
    /// A branch card's `otherwise`.
    Otherwise,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // People count from 1; the wire protocol's indices stay 0-based.
        match self {
            Self::Next => f.write_str("next"),
            Self::Answer(i) => write!(f, "answer {}", i + 1),
            Self::Branch(i) => write!(f, "branch {}", i + 1),
            Self::Otherwise => f.write_str("otherwise"),
        }
    }
}

/// The syntax a dialog file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// YAML (1.2, read by `serde-saphyr`).
    Yaml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "JSON",
            Self::Yaml => "YAML",
        })
    }
}

/// Why a dialog file could not be read. Shape errors only; rules are the validator's.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The JSON is malformed or does not have a dialog's shape.
    #[error("JSON line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong, without the position.
        message: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The YAML is malformed or does not have a dialog's shape.
    #[error("YAML line {line}, column {column}: {message}")]
    Yaml {
        /// 1-based line of the error; 0 when the parser could not tell.
        line: u64,
        /// 1-based column of the error; 0 when the parser could not tell.
        column: u64,
        /// What is wrong, without the position.
        message: String,
        /// The parser's error.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// The file name ends neither in `.json` nor in `.yaml`/`.yml`.
    #[error("cannot tell the format of {name:?}: dialog files end in .json, .yaml or .yml")]
    UnknownExtension {
        /// The file name given.
        name: String,
    },
}

impl FormatError {
    /// The 1-based line and column of the error, when known.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self {
            // usize always fits in u64 on the targets Rust supports.
            Self::Json { line, column, .. } => Some((*line as u64, *column as u64)),
            Self::Yaml { line, column, .. } if *line > 0 => Some((*line, *column)),
            Self::Yaml { .. } | Self::UnknownExtension { .. } => None,
        }
    }
}

/// Short texts that designers naturally leave unquoted (`label: 1-10`, `value: 500`,
/// `options: [10, 50]`) read as text even where YAML sees a number or a boolean.
/// Cards are buffered before their fields are read, so the field's type cannot guide
/// the YAML parser; integers and booleans are spelled back exactly, floats are refused
/// (`1.50` would come back as `1.5`).
mod lenient {
    use std::fmt;

    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    struct Text;

    impl Visitor<'_> for Text {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("text (quote numbers with a decimal point)")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    struct TextWrapper(String);

    impl<'de> de::Deserialize<'de> for TextWrapper {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Text).map(TextWrapper)
        }
    }

    pub(super) fn optional_string<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<String>, D::Error> {
        let value: Option<TextWrapper> = de::Deserialize::deserialize(d)?;
        Ok(value.map(|t| t.0))
    }

    pub(super) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        struct List;

        impl<'de> Visitor<'de> for List {
            type Value = Vec<String>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of texts")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
                let mut out = Vec::new();
                while let Some(TextWrapper(t)) = seq.next_element()? {
                    out.push(t);
                }
                Ok(out)
            }
        }

        d.deserialize_seq(List)
    }
}

impl Dialog {
    /// Reads a dialog written in JSON.
    pub fn from_json(text: &str) -> Result<Self, FormatError> {
        serde_json::from_str(text).map_err(|source| {
            let message = source.to_string();
            // serde_json appends " at line L column C"; the variant carries both.
            let message = match message.rfind(" at line ") {
                Some(cut) => message[..cut].to_owned(),
                None => message,
            };
            FormatError::Json {
                line: source.line(),
                column: source.column(),
                message,
                source,
            }
        })
    }

    /// Reads a dialog written in YAML.
    pub fn from_yaml(text: &str) -> Result<Self, FormatError> {
        use serde_saphyr::MessageFormatter as _;
        // YAML 1.1 booleans (`yes`, `no`, `y`, `on`) stay text: `value: yes` and
        // `label: No` are everyday answers, not booleans.
        let options = serde_saphyr::options! { strict_booleans: true };
        serde_saphyr::from_str_with_options(text, options).map_err(|source: serde_saphyr::Error| {
            let (line, column) = source
                .location()
                .map_or((0, 0), |at| (at.line(), at.column()));
            let message = serde_saphyr::DefaultMessageFormatter
                .format_message(source.without_snippet())
                .into_owned();
            FormatError::Yaml {
                line,
                column,
                message,
                source: Box::new(source),
            }
        })
    }

    /// Reads a dialog file, choosing the syntax by the extension of `name`
    /// (`.json`, `.yaml` or `.yml`, any case).
    pub fn from_path_contents(name: &str, contents: &str) -> Result<Self, FormatError> {
        match Self::format_of(name) {
            Some(Format::Json) => Self::from_json(contents),
            Some(Format::Yaml) => Self::from_yaml(contents),
            None => Err(FormatError::UnknownExtension {
                name: name.to_owned(),
            }),
        }
    }

    /// The syntax a file name's extension announces, if any.
    pub fn format_of(name: &str) -> Option<Format> {
        let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }

    /// The card with this id (the first one, if the id is duplicated).
    pub fn card(&self, id: &CardId) -> Option<&Card> {
        self.cards.iter().find(|c| c.id() == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TeamId;

    const SMALL_YAML: &str = r#"
id: hello
name: Hello
start: greet
cards:
  - id: greet
    type: message
    text: 'Hi {{visitor.first_name:"there"}}!'
    next: check
  - id: check
    type: branch
    branches:
      - when_agents_available: true
        next: talk
    otherwise: bye
  - id: talk
    type: live_chat
    routing:
      mode: team
      team: sales
  - id: bye
    type: message
    text: Bye
"#;

    #[test]
    fn a_yaml_dialog_reads_into_typed_cards() {
        // Act
        let dialog = Dialog::from_yaml(SMALL_YAML).unwrap();

        // Assert
        assert_eq!(dialog.cards.len(), 4);
        assert!(matches!(&dialog.cards[1], Card::Branch(b)
            if b.branches[0].test == BranchTest::AgentsAvailable(true)));
        assert!(matches!(&dialog.cards[2], Card::LiveChat(l)
            if l.routing == RoutingMode::Team { team: TeamId::parse("sales").unwrap() }
            && l.connecting_text(&Lang::english(), &Lang::english()) == DEFAULT_CONNECTING_TEXT));
    }

    #[test]
    fn a_dialog_round_trips_through_json() {
        // Arrange
        let dialog = Dialog::from_yaml(SMALL_YAML).unwrap();

        // Act
        let json = serde_json::to_string(&dialog).unwrap();
        let again = Dialog::from_json(&json).unwrap();

        // Assert
        assert_eq!(again, dialog);
    }

    #[test]
    fn a_yaml_error_inside_a_card_reports_the_cards_line() {
        // Arrange: `nxt` is a typo on line 7, in the card starting on line 5. Cards are
        // read whole before their `type` is known, so the parser points at the card.
        let yaml = "id: d\nname: D\nstart: a\ncards:\n  - id: a\n    type: message\n    nxt: b\n    text: hi\n";

        // Act
        let err = Dialog::from_yaml(yaml).unwrap_err();

        // Assert
        let (line, _column) = err.position().unwrap();
        assert_eq!(line, 5, "{err}");
        assert!(
            err.to_string()
                .starts_with("YAML line 5, column 5: unknown field `nxt`"),
            "{err}"
        );
        assert!(err.to_string().contains("nxt"), "{err}");
    }

    #[test]
    fn a_yaml_syntax_error_reports_its_line_and_column() {
        // Arrange
        let yaml = "id: d\nname: D\nstart: a\ncards: [\n";

        // Act
        let err = Dialog::from_yaml(yaml).unwrap_err();

        // Assert
        assert!(err.position().is_some(), "{err}");
    }

    #[test]
    fn a_bad_card_id_in_yaml_is_refused_with_a_position() {
        // Arrange
        let yaml =
            "id: d\nname: D\nstart: a\ncards:\n  - id: a b\n    type: message\n    text: hi\n";

        // Act
        let err = Dialog::from_yaml(yaml).unwrap_err();

        // Assert
        assert!(err.position().is_some(), "{err}");
        assert!(err.to_string().contains("card id"), "{err}");
    }

    #[test]
    fn a_json_error_reports_its_line_and_column() {
        // Arrange
        let json = "{\n  \"id\": \"d\",\n  \"name\": 3\n}";

        // Act
        let err = Dialog::from_json(json).unwrap_err();

        // Assert
        assert_eq!(err.position().map(|p| p.0), Some(3), "{err}");
        assert!(
            !matches!(&err, FormatError::Json { message, .. } if message.contains(" at line "))
        );
    }

    #[test]
    fn a_branch_with_both_tests_is_refused() {
        // Arrange
        let json = r#"{"id":"d","name":"D","start":"b","cards":[{"id":"b","type":"branch",
            "branches":[{"when":{"conditions":[]},"when_agents_available":true,"next":"b"}]}]}"#;

        // Act
        let err = Dialog::from_json(json).unwrap_err();

        // Assert
        assert!(err.to_string().contains("exactly one of"), "{err}");
    }

    #[test]
    fn the_extension_chooses_the_syntax() {
        // Act
        let yaml = Dialog::from_path_contents("sales.YML", SMALL_YAML);
        let unknown = Dialog::from_path_contents("sales.toml", SMALL_YAML);

        // Assert
        assert!(yaml.is_ok());
        assert!(matches!(unknown, Err(FormatError::UnknownExtension { .. })));
    }

    #[test]
    fn unquoted_yes_no_and_numbers_read_as_answer_text() {
        // Arrange
        let yaml = "id: d\nname: D\nstart: q\ncards:\n  - id: q\n    type: question\n    prompt: Talk?\n    answers:\n      - {label: Yes, value: y}\n      - {label: No, value: 500}\n  - {id: p, type: capture, field: picklist, prompt: Size?, attribute: size, options: [10, 50, off]}\n";

        // Act
        let dialog = Dialog::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"));

        // Assert
        let Card::Question(q) = &dialog.cards[0] else {
            panic!("not a question")
        };
        assert_eq!(q.answers[0].label, "Yes");
        assert_eq!(q.answers[0].stored_value(&Lang::english()), "y");
        assert_eq!(q.answers[1].stored_value(&Lang::english()), "500");
        assert!(matches!(&dialog.cards[1], Card::Capture(c) if c.options == ["10", "50", "off"]));
    }
}
