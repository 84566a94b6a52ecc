//! The inbox's Dialogs page (`dialogs`): the account's dialogs with their audiences,
//! priority and validation, and one dialog's diagram, for Marketing and Sales
//! Admins. Read-only: the configuration file stays the source of truth, applied
//! with `livechat apply`.

use serde::{Deserialize, Serialize};

use super::Chat;
use crate::dialog::{Diagram, Dialog};
use crate::domain::{AgentId, ConnectionId, DialogId, Lang, Permission};
use crate::protocol::{ServerError, ServerFrame};
use crate::routing::{Directory, TargetedDialog};

/// One dialog as the Dialogs page lists it. Nothing of a visitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogSummary {
    /// The dialog's id.
    pub id: DialogId,
    /// Its name, for admins.
    pub name: String,
    /// Higher wins where several audiences match; ties go to the first listed.
    pub priority: i64,
    /// Who it is shown to: the configuration's `audience` as it was applied
    /// (JSON, so that the frame stays comparable: conditions may hold numbers).
    pub audience: serde_json::Value,
    /// Whether its start message shows as a teaser beside the launcher.
    pub teaser: bool,
    /// The languages it declares.
    pub languages: Vec<Lang>,
    /// How many cards it has.
    pub cards: usize,
    /// What the validator refuses in it against the directory as it is now (an
    /// applied dialog had none when applied; a later change of agents or teams
    /// can make some).
    pub problems: Vec<String>,
    /// What `livechat validate` warns of: another dialog of the same priority
    /// whose audience may overlap this one's.
    pub warnings: Vec<String>,
    /// The diagram (`livechat diagram`'s SVG), in the answer for one dialog only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svg: Option<String>,
}

/// The summaries of `directory`'s dialogs in file order, or of `bundled` (the
/// functions' own dialog, on every page) when it holds none.
pub fn summaries(directory: &Directory, bundled: &Dialog) -> Vec<DialogSummary> {
    let lone;
    let dialogs = if directory.dialogs.is_empty() {
        lone = [TargetedDialog::everywhere(bundled.clone())];
        &lone[..]
    } else {
        &directory.dialogs[..]
    };
    dialogs
        .iter()
        .map(|d| summary(directory, dialogs, d))
        .collect()
}

fn summary(directory: &Directory, all: &[TargetedDialog], d: &TargetedDialog) -> DialogSummary {
    let mut problems: Vec<String> = d
        .audience
        .validate()
        .iter()
        .map(ToString::to_string)
        .collect();
    if let Err(errors) = crate::dialog::validate(&d.dialog, &directory.targets()) {
        problems.extend(errors.iter().map(ToString::to_string));
    }
    let warnings = all
        .iter()
        .filter(|o| o.id != d.id && o.priority == d.priority && o.audience.may_overlap(&d.audience))
        .map(|o| {
            let first = all
                .iter()
                .find(|x| x.id == o.id || x.id == d.id)
                .map_or(&d.id, |x| &x.id);
            format!(
                "dialog {} has the same priority ({}) and an audience that may overlap: where both match, {first} (the first in the file) is shown",
                o.id, d.priority
            )
        })
        .collect();
    DialogSummary {
        id: d.id.clone(),
        name: d.dialog.name.clone(),
        priority: d.priority,
        audience: serde_json::to_value(&d.audience).unwrap_or_default(),
        teaser: d.teaser,
        languages: d.dialog.languages.clone(),
        cards: d.dialog.cards.len(),
        problems,
        warnings,
        svg: None,
    }
}

impl Chat {
    /// `dialogs`: the list, or one dialog with its diagram, for an agent who may
    /// manage dialogs (a Marketing Admin) or routing (a Sales Admin).
    pub(super) async fn dialogs(
        &self,
        connection: &ConnectionId,
        agent: &AgentId,
        dialog: Option<DialogId>,
    ) -> Result<(), ServerError> {
        let directory = self.cached_directory().await?;
        let admin = directory.agent(agent).is_some_and(|a| {
            a.has_permission(Permission::ManageDialogs)
                || a.has_permission(Permission::ManageRouting)
        });
        if !admin {
            return Err(ServerError::Forbidden {
                reason: "only Marketing and Sales Admins see the dialogs".into(),
            });
        }
        let mut list = summaries(&directory, self.dialog.dialog());
        let frame = match dialog {
            None => ServerFrame::Dialogs { dialogs: list },
            Some(id) => {
                let at =
                    list.iter()
                        .position(|d| d.id == id)
                        .ok_or_else(|| ServerError::NotFound {
                            what: format!("dialog {id}"),
                        })?;
                let mut one = list.swap_remove(at);
                let cards = directory
                    .targeted(&id)
                    .map_or(self.dialog.dialog(), |d| &d.dialog);
                one.svg = Some(Diagram::of(cards, Some(&directory.settings.fallback)).to_svg());
                ServerFrame::Dialog { dialog: one }
            }
        };
        self.send(connection, &frame).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Audience, UrlPattern};

    fn dialog(id: &str, priority: i64, include: &[&str]) -> TargetedDialog {
        let mut d = crate::demo::directory().unwrap().dialogs[0].clone();
        d.id = DialogId::parse(id).unwrap();
        d.dialog.id = d.id.clone();
        d.priority = priority;
        d.audience = Audience {
            include: include
                .iter()
                .map(|p| UrlPattern::parse(*p).unwrap())
                .collect(),
            ..Audience::default()
        };
        d
    }

    #[test]
    fn a_directory_without_dialogs_lists_the_bundled_one_on_every_page() {
        let mut directory = crate::demo::directory().unwrap();
        let bundled = directory.dialogs[0].dialog.clone();
        directory.dialogs.clear();
        let list = summaries(&directory, &bundled);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, bundled.id);
        assert_eq!(list[0].audience, serde_json::json!({}));
        assert!(list[0].problems.is_empty());
        assert!(list[0].svg.is_none());
    }

    #[test]
    fn same_priority_dialogs_that_may_overlap_warn_each_naming_the_other() {
        let mut directory = crate::demo::directory().unwrap();
        directory.dialogs = vec![
            dialog("home", 0, &["acme.example/*"]),
            dialog("pricing", 0, &["acme.example/pricing*"]),
            dialog("docs", 5, &["acme.example/*"]),
        ];
        let bundled = directory.dialogs[0].dialog.clone();
        let list = summaries(&directory, &bundled);
        assert_eq!(
            list[0].warnings,
            [
                "dialog pricing has the same priority (0) and an audience that may overlap: where both match, home (the first in the file) is shown"
            ]
        );
        assert_eq!(
            list[1].warnings,
            [
                "dialog home has the same priority (0) and an audience that may overlap: where both match, home (the first in the file) is shown"
            ]
        );
        assert!(list[2].warnings.is_empty());
    }

    #[test]
    fn a_dialog_naming_an_agent_who_left_the_directory_shows_the_problem() {
        let mut directory = crate::demo::directory().unwrap();
        let bundled = directory.dialogs[0].dialog.clone();
        directory.teams.clear();
        directory.rules.clear();
        let list = summaries(&directory, &bundled);
        assert!(!list[0].problems.is_empty(), "{:?}", list[0].problems);
    }
}
