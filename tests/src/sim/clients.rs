//! The simulated people: visitors with one page (widget) at a time, agents with up
//! to two inbox tabs. Each keeps what its screen shows, built only from the frames
//! the server pushed, and decides what to do next from it, as a person would.

use std::collections::BTreeMap;

use livechat_core::dialog::CardView;
use livechat_core::domain::{AgentId, ConnectionId, ConversationId, Message, VisitorId};

/// Where the visitor's widget thinks the chat is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Walking the dialog.
    Bot,
    /// Waiting for an agent.
    Waiting,
    /// Chatting with an agent.
    Live,
    /// Shown the fallback (may leave details).
    Fallback,
    /// The chat ended.
    Ended,
}

/// A chat as one screen shows it: messages merged by `seq`.
#[derive(Debug, Clone, Default)]
pub struct ChatView {
    /// Messages by sequence number.
    pub messages: BTreeMap<u64, Message>,
    /// The `before` of the page older than those shown, as the last page gave it
    /// (`next`): `None` once the page that starts the chat came, or before any page.
    /// A resume or `chat_started` brings only the latest page; older ones come on
    /// request (`history`), as a person scrolls up.
    pub older: Option<u64>,
}

/// A visitor's open page.
#[derive(Debug, Clone)]
pub struct Page {
    /// Its WebSocket connection.
    pub conn: ConnectionId,
    /// The conversation from the last `session` frame.
    pub conversation: Option<ConversationId>,
    /// What the widget shows of the chat.
    pub status: Status,
    /// The cards of the last `cards` frame.
    pub cards: Vec<CardView>,
    /// The conversation's messages as shown.
    pub view: ChatView,
    /// The last frame sent, to send again after an `internal` error.
    pub last_body: Option<String>,
    /// Set by an `internal` error: send `last_body` again.
    pub retry: bool,
}

/// Which dialog path a visitor takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    /// Routed to the sales team.
    Plain,
    /// `company_size` over 500: routed to one agent.
    Enterprise,
    /// An email of a domain with an account owner.
    Customer,
}

/// A message sent and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The conversation it was sent in, as the widget knew it.
    pub conversation: Option<ConversationId>,
    /// The text.
    pub text: String,
}

/// A simulated visitor.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Who.
    pub id: VisitorId,
    /// Name for traces.
    pub name: String,
    /// Dialog path.
    pub persona: Persona,
    /// The open page, if any.
    pub page: Option<Page>,
    /// Messages made so far (for ids).
    pub made: u64,
    /// Messages sent and not acknowledged, by id.
    pub pending: BTreeMap<String, Pending>,
    /// The visitor token of the last `session` frame, as the widget stores it.
    pub token: Option<String>,
}

/// One inbox tab.
#[derive(Debug, Clone)]
pub struct Tab {
    /// Its WebSocket connection.
    pub conn: ConnectionId,
    /// Offers shown, by conversation rank.
    pub offers: BTreeMap<u64, ConversationId>,
    /// Live chats shown, by conversation rank.
    pub live: BTreeMap<u64, (ConversationId, ChatView)>,
    /// The version of the last `chat_moved` of each conversation, by rank: a
    /// `chat_started` below it is stale, as the inbox treats it.
    pub moved: BTreeMap<u64, u64>,
    /// The missed list shown, in its order.
    pub missed: Vec<ConversationId>,
    /// The last frame sent, to send again after an `internal` error.
    pub last_body: Option<String>,
    /// Set by an `internal` error.
    pub retry: bool,
}

/// A simulated agent.
#[derive(Debug, Clone)]
pub struct AgentActor {
    /// Who.
    pub id: AgentId,
    /// Open inbox tabs.
    pub tabs: Vec<Tab>,
    /// Messages made so far (for ids).
    pub made: u64,
    /// Messages sent and not acknowledged, by id.
    pub pending: BTreeMap<String, Pending>,
}

impl Page {
    /// A page just opened on `conn`.
    pub fn new(conn: ConnectionId) -> Self {
        Self {
            conn,
            conversation: None,
            status: Status::Bot,
            cards: Vec::new(),
            view: ChatView::default(),
            last_body: None,
            retry: false,
        }
    }

    /// The interactive card the visitor is on, if any.
    pub fn current_card(&self) -> Option<&CardView> {
        self.cards
            .iter()
            .rev()
            .find(|c| matches!(c, CardView::Question { .. } | CardView::Capture { .. }))
    }
}

impl Tab {
    /// A tab just opened on `conn`.
    pub fn new(conn: ConnectionId) -> Self {
        Self {
            conn,
            offers: BTreeMap::new(),
            live: BTreeMap::new(),
            moved: BTreeMap::new(),
            missed: Vec::new(),
            last_body: None,
            retry: false,
        }
    }
}
