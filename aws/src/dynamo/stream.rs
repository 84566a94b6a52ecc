//! The table's DynamoDB Streams records as the analytics' changes: a
//! conversation's `META`, a message's `MSG#…` and a visitor's `SESSION`, each with
//! its old and new image (the stream's view is `NEW_AND_OLD_IMAGES`), and an
//! agent's `AGENT#…/STATE`, by the agent's id only (the live view reads the
//! agents' states itself, all in one batch, when any moved). Every other
//! item (the message count, presence, the analytics' own sheets and counters...)
//! gives no change, so the analytics' own writes never feed themselves.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use livechat_core::analytics::Change;
use livechat_core::ports::StoreError;

use super::{ConversationItem, MessageItem, SessionItem, corrupt};

/// The changes of a batch of stream records, in their order.
pub fn changes_of(event: &Event) -> Result<Vec<Change>, StoreError> {
    let mut changes = Vec::new();
    for record in &event.records {
        if let Some(change) = change_of(record)? {
            changes.push(change);
        }
    }
    Ok(changes)
}

/// The change of one record, or `None` for an item analytics does not read.
pub fn change_of(record: &EventRecord) -> Result<Option<Change>, StoreError> {
    let keys = &record.change.keys;
    let text = |name: &str| -> Option<String> {
        let item: std::collections::HashMap<String, serde_json::Value> =
            serde_dynamo::from_item(keys.clone()).ok()?;
        item.get(name)?.as_str().map(str::to_string)
    };
    let (Some(pk), Some(sk)) = (text("pk"), text("sk")) else {
        return Ok(None);
    };
    // An image is absent (an empty map) on one side of an insert or a removal.
    fn image<T: serde::de::DeserializeOwned>(
        item: &serde_dynamo::Item,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        if item.is_empty() {
            return Ok(None);
        }
        serde_dynamo::from_item(item.clone())
            .map(Some)
            .map_err(|e| corrupt(key, e))
    }
    let (old, new) = (&record.change.old_image, &record.change.new_image);
    let key = format!("{pk}/{sk}");
    Ok(if pk.starts_with("CONV#") && sk == "META" {
        let old: Option<ConversationItem> = image(old, &key)?;
        let new: Option<ConversationItem> = image(new, &key)?;
        Some(Change::Conversation {
            old: old.map(|c| Box::new(c.conversation)),
            new: new.map(|c| Box::new(c.conversation)),
        })
    } else if pk.starts_with("CONV#") && sk.starts_with("MSG#") {
        let old: Option<MessageItem> = image(old, &key)?;
        let new: Option<MessageItem> = image(new, &key)?;
        Some(Change::Message {
            old: old.map(|m| Box::new(m.message)),
            new: new.map(|m| Box::new(m.message)),
        })
    } else if let (Some(agent), "STATE") = (pk.strip_prefix("AGENT#"), sk.as_str()) {
        // The agent's routing state: connections, toggle, capacity. Only who.
        let agent = livechat_core::domain::AgentId::parse(agent).map_err(|e| corrupt(&key, e))?;
        Some(Change::Agent { agent })
    } else if pk.starts_with("VISITOR#") && sk == "SESSION" {
        let old: Option<SessionItem> = image(old, &key)?;
        let new: Option<SessionItem> = image(new, &key)?;
        Some(Change::Session {
            old: old.map(|s| Box::new(s.session)),
            new: new.map(|s| Box::new(s.session)),
        })
    } else {
        None
    })
}

/// DynamoDB Local writes an empty map in a stream record's image as `{}` where
/// DynamoDB writes `{"M": {}}`; this types them, in an item's attributes and inside
/// its maps and lists, so that the record reads as Lambda would deliver it.
pub fn typed_empty_maps(item: &mut serde_json::Value) {
    fn value(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) if o.is_empty() => {
                *v = serde_json::json!({ "M": {} });
            }
            serde_json::Value::Object(o) => {
                if let Some(serde_json::Value::Object(m)) = o.get_mut("M") {
                    m.values_mut().for_each(value);
                }
                if let Some(serde_json::Value::Array(l)) = o.get_mut("L") {
                    l.iter_mut().for_each(value);
                }
            }
            _ => {}
        }
    }
    if let serde_json::Value::Object(attributes) = item {
        attributes.values_mut().for_each(value);
    }
}

/// A GetRecords record as JSON (DynamoDB Local's, see [`typed_empty_maps`]) as the
/// record Lambda delivers.
pub fn record_of_json(mut record: serde_json::Value) -> Result<EventRecord, StoreError> {
    for image in ["Keys", "NewImage", "OldImage"] {
        if let Some(map) = record["dynamodb"].get_mut(image) {
            typed_empty_maps(map);
        }
    }
    serde_json::from_value(record).map_err(|e| corrupt("a stream record", e))
}
