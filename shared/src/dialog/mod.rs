//! Dialogs: the file format, the validator and the card engine.

mod view;

pub use view::{CardView, FieldType, VisitorAction};
