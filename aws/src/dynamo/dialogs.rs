//! The directory's dialogs in items of their own, so that no item nears DynamoDB's
//! 400 KB: the directory item (`DIRECTORY`/`CURRENT`) keeps each dialog's header
//! (id, priority, audience, teaser flag), and each dialog's cards are the item
//! `DIALOG#<id>`/`CURRENT`, as JSON text. `livechat apply` writes them all in one
//! transaction, with the deletion of the dialogs it no longer lists, so a reader
//! never finds a header without its cards.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use livechat_core::dialog::Dialog;
use livechat_core::domain::{Audience, DialogId};
use livechat_core::ports::StoreResult;
use livechat_core::routing::{Directory, TargetedDialog};
use serde::{Deserialize, Serialize};

use super::{CURRENT, DIRECTORY_PK, DynamoStore, Item, corrupt, from_item, key, s, to_attribute};

/// What the directory item keeps of a dialog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct DialogHeader {
    id: DialogId,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    audience: Audience,
    #[serde(default)]
    teaser: bool,
}

/// The directory item: the configuration without its dialogs' cards.
#[derive(Serialize, Deserialize)]
pub(super) struct DirectoryItem {
    pub(super) pk: String,
    pub(super) sk: String,
    pub(super) config: Directory,
    #[serde(default)]
    pub(super) dialogs: Vec<DialogHeader>,
}

/// The directory item as written before dialogs had items of their own: its one
/// dialog inside `config`.
#[derive(Deserialize)]
struct LegacyConfig {
    #[serde(default)]
    dialog: Option<Dialog>,
}

fn dialog_pk(id: &DialogId) -> String {
    format!("DIALOG#{id}")
}

/// The directory's item and its dialogs' items.
pub(super) fn split(directory: &Directory) -> StoreResult<(DirectoryItem, Vec<Item>)> {
    let headers = directory
        .dialogs
        .iter()
        .map(|d| DialogHeader {
            id: d.id.clone(),
            priority: d.priority,
            audience: d.audience.clone(),
            teaser: d.teaser,
        })
        .collect();
    let items = directory
        .dialogs
        .iter()
        .map(|d| {
            let mut item = key(dialog_pk(&d.id), CURRENT);
            let json = serde_json::to_string(&d.dialog).map_err(|e| corrupt("a dialog", e))?;
            item.insert("dialog".into(), s(json));
            Ok(item)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let config = Directory {
        dialogs: Vec::new(),
        ..directory.clone()
    };
    Ok((
        DirectoryItem {
            pk: DIRECTORY_PK.into(),
            sk: CURRENT.into(),
            config,
            dialogs: headers,
        },
        items,
    ))
}

impl DynamoStore {
    /// The directory with its dialogs: the directory item (GetItem), then every
    /// dialog's (one BatchGetItem).
    pub(super) async fn read_directory(&self) -> StoreResult<Directory> {
        let Some(item) = self.get(key(DIRECTORY_PK.into(), CURRENT)).await? else {
            return Ok(Directory::default());
        };
        let legacy = item
            .get("config")
            .map(|c| serde_dynamo::from_attribute_value::<_, LegacyConfig>(c.clone()))
            .transpose()
            .map_err(|e| corrupt("the directory", e))?
            .and_then(|l| l.dialog);
        let stored: DirectoryItem = from_item(item)?;
        let mut directory = stored.config;
        if stored.dialogs.is_empty() {
            directory.dialogs = legacy.into_iter().map(TargetedDialog::everywhere).collect();
            return Ok(directory);
        }
        // One BatchGetItem for them all (at most 50 keys).
        let keys = stored
            .dialogs
            .iter()
            .map(|h| key(dialog_pk(&h.id), CURRENT))
            .collect();
        let items = self.batch_get(keys).await?;
        for header in stored.dialogs {
            let pk = dialog_pk(&header.id);
            let item = items
                .iter()
                .find(|i| i.get(super::PK).and_then(|v| v.as_s().ok()) == Some(&pk))
                .ok_or_else(|| {
                    corrupt(
                        "the directory",
                        format!("dialog {} has no item of its own", header.id),
                    )
                })?;
            let dialog: Dialog = super::json_text(item, "dialog", "a dialog")?;
            directory.dialogs.push(TargetedDialog {
                id: header.id,
                priority: header.priority,
                audience: header.audience,
                teaser: header.teaser,
                dialog,
            });
        }
        Ok(directory)
    }

    /// Writes the directory item and every dialog's in one transaction (at most
    /// [`livechat_core::routing::MAX_DIALOGS`] + 1 items, within DynamoDB's 100),
    /// then deletes the items of dialogs it no longer lists.
    pub(super) async fn write_directory(&self, directory: &Directory) -> StoreResult<()> {
        let before: Vec<DialogId> = match self.get(key(DIRECTORY_PK.into(), CURRENT)).await? {
            Some(item) => from_item::<DirectoryItem>(item)?
                .dialogs
                .into_iter()
                .map(|h| h.id)
                .collect(),
            None => Vec::new(),
        };
        let (item, dialogs) = split(directory)?;
        let unavailable = |e: aws_sdk_dynamodb::error::BuildError| corrupt("a transaction", e);
        let mut writes = Vec::new();
        for dialog in dialogs {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(dialog))
                .build()
                .map_err(unavailable)?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        // An update of `config` and `dialogs` alone: the item's other attributes stay.
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(DIRECTORY_PK.into(), CURRENT)))
            .update_expression("SET config = :c, dialogs = :d")
            .expression_attribute_values(":c", to_attribute(&item.config)?)
            .expression_attribute_values(":d", to_attribute(&item.dialogs)?)
            .build()
            .map_err(unavailable)?;
        writes.push(TransactWriteItem::builder().update(update).build());
        let request = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes));
        if let Some(reasons) = super::transact(request).await? {
            return Err(livechat_core::ports::StoreError::Unavailable(
                format!("the directory's write was cancelled: {reasons:?}").into(),
            ));
        }
        // No header names these any more: deleted after (a failure leaves an
        // unread item, which the next apply deletes).
        for gone in before.iter().filter(|id| directory.targeted(id).is_none()) {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(dialog_pk(gone), CURRENT)))
                .send()
                .await
                .map_err(super::failed)?;
        }
        Ok(())
    }
}
