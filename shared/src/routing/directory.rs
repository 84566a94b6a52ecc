//! The routing configuration as one snapshot: agents, teams, custom rules, account
//! routing and settings. Small (tens of agents), read whole once per request.

use serde::{Deserialize, Serialize};

use crate::domain::{
    AccountRouting, Agent, AgentId, CustomRule, RuleId, RuleTarget, Settings, Team, TeamId,
};

/// Everything an admin configures that routing reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Directory {
    /// Agents, in rotation order for the account-wide round robin.
    #[serde(default)]
    pub agents: Vec<Agent>,
    /// Teams.
    #[serde(default)]
    pub teams: Vec<Team>,
    /// Custom rules (cards list which ones they use, in order).
    #[serde(default)]
    pub rules: Vec<CustomRule>,
    /// Email domain → owning agent.
    #[serde(default)]
    pub account_routing: AccountRouting,
    /// Account settings.
    #[serde(default)]
    pub settings: Settings,
    /// The dialogs visitors walk, each with its audience, in file order (which
    /// breaks priority ties), when applied with the configuration (otherwise the
    /// functions' bundled or `DIALOG_PATH` dialog, on every page). A single
    /// `dialog:` in the file is one of them whose audience is every page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dialogs: Vec<TargetedDialog>,
    /// The account's canned responses (each agent's own are stored apart).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canned_responses: Vec<crate::domain::CannedResponse>,
    /// The widget's branding (`site.json` carries it to the widget); the widget's
    /// own look when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget: Option<crate::domain::Branding>,
}

/// Most dialogs in one configuration.
pub const MAX_DIALOGS: usize = 50;

/// One of the account's dialogs and who it is shown to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetedDialog {
    /// The dialog's id (the dialog's own `id`): conversations and analytics name it.
    pub id: crate::domain::DialogId,
    /// Higher wins when several audiences match; ties go to the first in the file.
    #[serde(default)]
    pub priority: i64,
    /// Who it is for.
    #[serde(default)]
    pub audience: crate::domain::Audience,
    /// Whether its start message card shows as a teaser beside the launcher.
    #[serde(default)]
    pub teaser: bool,
    /// The cards (in DynamoDB, an item of its own: docs/data-model.md).
    pub dialog: crate::dialog::Dialog,
}

impl TargetedDialog {
    /// A dialog on every page, as a single `dialog:` of the configuration is.
    pub fn everywhere(dialog: crate::dialog::Dialog) -> Self {
        Self {
            id: dialog.id.clone(),
            priority: 0,
            audience: crate::domain::Audience::default(),
            teaser: false,
            dialog,
        }
    }
}

/// A reference in the directory that points nowhere, or a duplicate id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("agent id {0} is used twice")]
    DuplicateAgent(AgentId),
    #[error("canned response shortcut {0} is used twice")]
    DuplicateCanned(crate::domain::Shortcut),
    #[error("at most 200 canned responses ({0} given)")]
    TooManyCanned(usize),
    #[error("team {team} lists unknown agent {agent}")]
    UnknownTeamMember { team: TeamId, agent: AgentId },
    #[error("rule {rule} targets unknown agent {agent}")]
    UnknownRuleAgent { rule: RuleId, agent: AgentId },
    #[error("rule {rule} targets unknown team {team}")]
    UnknownRuleTeam { rule: RuleId, team: TeamId },
    #[error("rule {rule}: {reason}")]
    BadRule { rule: RuleId, reason: String },
    #[error("account routing sends {domain} to unknown agent {agent}")]
    UnknownOwner { domain: String, agent: AgentId },
    #[error("agent {agent}: {reason}")]
    BadAgent { agent: AgentId, reason: String },
    #[error("settings.verified_attributes lists {attribute}: {reason}")]
    BadVerifiedAttribute {
        attribute: crate::domain::AttributeName,
        reason: String,
    },
    #[error("dialog: {0}")]
    Dialog(crate::dialog::DialogError),
    #[error(transparent)]
    Branding(crate::domain::BrandingError),
    #[error("dialog {entry}: the dialog's own id is {own}; give both the same id")]
    DialogIdMismatch {
        /// The dialog's place in `dialogs`.
        at: usize,
        entry: crate::domain::DialogId,
        own: crate::domain::DialogId,
    },
    #[error("dialog {dialog}: {error}")]
    InDialog {
        /// The dialog's place in `dialogs`.
        at: usize,
        dialog: crate::domain::DialogId,
        error: crate::dialog::DialogError,
    },
    #[error("dialog id {dialog} is used twice")]
    DuplicateDialog {
        /// The second one's place in `dialogs`.
        at: usize,
        dialog: crate::domain::DialogId,
    },
    #[error("at most {MAX_DIALOGS} dialogs ({0} given)")]
    TooManyDialogs(usize),
    #[error("dialog {dialog}: {error}")]
    BadAudience {
        /// The dialog's place in `dialogs`.
        at: usize,
        dialog: crate::domain::DialogId,
        error: crate::domain::AudienceError,
    },
}

/// Attributes the visitor panel shows in fields of their own, which the widget,
/// the dialog or the fallback form set: never verified-only (an `unverified` mark
/// is shown on the panel's answers only).
const NEVER_VERIFIED_ONLY: [&str; 8] = [
    crate::domain::well_known::FIRST_NAME,
    crate::protocol::panel_attributes::LAST_NAME,
    crate::protocol::panel_attributes::NAME,
    crate::protocol::panel_attributes::JOB_TITLE,
    crate::protocol::panel_attributes::PHONE,
    crate::domain::well_known::EMAIL,
    crate::domain::well_known::EMAIL_DOMAIN,
    crate::domain::well_known::PAGE_URL,
];

impl DirectoryError {
    /// The id or domain the error is about, to point at it in a file.
    pub fn subject(&self) -> String {
        match self {
            DirectoryError::DuplicateAgent(agent) | DirectoryError::BadAgent { agent, .. } => {
                agent.to_string()
            }
            DirectoryError::DuplicateCanned(shortcut) => shortcut.to_string(),
            DirectoryError::TooManyCanned(_) => "canned_responses".into(),
            DirectoryError::UnknownTeamMember { team, .. } => team.to_string(),
            DirectoryError::UnknownRuleAgent { rule, .. }
            | DirectoryError::UnknownRuleTeam { rule, .. }
            | DirectoryError::BadRule { rule, .. } => rule.to_string(),
            DirectoryError::UnknownOwner { domain, .. } => domain.clone(),
            DirectoryError::BadVerifiedAttribute { attribute, .. } => attribute.to_string(),
            DirectoryError::Dialog(e) | DirectoryError::InDialog { error: e, .. } => {
                e.card().map(ToString::to_string).unwrap_or_default()
            }
            DirectoryError::DuplicateDialog { dialog, .. }
            | DirectoryError::BadAudience { dialog, .. } => dialog.to_string(),
            DirectoryError::TooManyDialogs(_) => "dialogs".into(),
            DirectoryError::DialogIdMismatch { entry, .. } => entry.to_string(),
            DirectoryError::Branding(e) => e.field.into(),
        }
    }
}

impl Directory {
    /// The agent with this id.
    pub fn agent(&self, id: &AgentId) -> Option<&Agent> {
        self.agents.iter().find(|a| &a.id == id)
    }

    /// The team with this id.
    pub fn team(&self, id: &TeamId) -> Option<&Team> {
        self.teams.iter().find(|t| &t.id == id)
    }

    /// The rule with this id.
    pub fn rule(&self, id: &RuleId) -> Option<&CustomRule> {
        self.rules.iter().find(|r| &r.id == id)
    }

    /// The ids a dialog's live chat cards may name.
    pub fn targets(&self) -> crate::dialog::Targets {
        crate::dialog::Targets {
            agents: self.agents.iter().map(|a| a.id.clone()).collect(),
            teams: self.teams.iter().map(|t| t.id.clone()).collect(),
            rules: self.rules.iter().map(|r| r.id.clone()).collect(),
        }
    }

    /// Checks that ids are unique and every reference resolves, collecting every error.
    pub fn validate(&self) -> Result<(), Vec<DirectoryError>> {
        let mut errors = Vec::new();
        let canned = &self.canned_responses;
        if canned.len() > crate::domain::MAX_ACCOUNT_CANNED {
            errors.push(DirectoryError::TooManyCanned(canned.len()));
        }
        for (i, c) in canned.iter().enumerate() {
            if canned[..i].iter().any(|d| d.shortcut == c.shortcut) {
                errors.push(DirectoryError::DuplicateCanned(c.shortcut.clone()));
            }
        }
        for (i, a) in self.agents.iter().enumerate() {
            if self.agents[..i].iter().any(|b| b.id == a.id) {
                errors.push(DirectoryError::DuplicateAgent(a.id.clone()));
            }
            if let Err(e) = a.schedule.validate() {
                errors.push(DirectoryError::BadAgent {
                    agent: a.id.clone(),
                    reason: e.to_string(),
                });
            }
        }
        for t in &self.teams {
            for m in t.members.iter().filter(|m| self.agent(m).is_none()) {
                errors.push(DirectoryError::UnknownTeamMember {
                    team: t.id.clone(),
                    agent: m.clone(),
                });
            }
        }
        for r in &self.rules {
            if let Err(e) = r.when.validate() {
                errors.push(DirectoryError::BadRule {
                    rule: r.id.clone(),
                    reason: e.to_string(),
                });
            }
            match &r.target {
                RuleTarget::Agents(agents) => {
                    if agents.is_empty() {
                        errors.push(DirectoryError::BadRule {
                            rule: r.id.clone(),
                            reason: "targets no agent".into(),
                        });
                    }
                    for a in agents.iter().filter(|a| self.agent(a).is_none()) {
                        errors.push(DirectoryError::UnknownRuleAgent {
                            rule: r.id.clone(),
                            agent: a.clone(),
                        });
                    }
                }
                RuleTarget::Team(t) if self.team(t).is_none() => {
                    errors.push(DirectoryError::UnknownRuleTeam {
                        rule: r.id.clone(),
                        team: t.clone(),
                    });
                }
                RuleTarget::Team(_) => {}
            }
        }
        for (domain, agent) in &self.account_routing.0 {
            if self.agent(agent).is_none() {
                errors.push(DirectoryError::UnknownOwner {
                    domain: domain.clone(),
                    agent: agent.clone(),
                });
            }
        }
        self.validate_verified_attributes(&mut errors);
        let branding = self.widget.iter().flat_map(crate::domain::Branding::check);
        errors.extend(branding.map(DirectoryError::Branding));
        self.validate_dialogs(&mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// `settings.verified_attributes`: no panel field, no duplicate, and none a
    /// dialog card stores the visitor's own answer in (an answer is never signed,
    /// so the attribute would always be unverified).
    fn validate_verified_attributes(&self, errors: &mut Vec<DirectoryError>) {
        let listed = &self.settings.verified_attributes;
        for (i, attribute) in listed.iter().enumerate() {
            let bad = |reason: String| DirectoryError::BadVerifiedAttribute {
                attribute: attribute.clone(),
                reason,
            };
            if NEVER_VERIFIED_ONLY.contains(&attribute.as_str()) {
                errors.push(bad(
                    "the widget, the dialog or the fallback form sets it, so it cannot be verified-only"
                        .into(),
                ));
            } else if listed[..i].contains(attribute) {
                errors.push(bad("it is listed twice".into()));
            }
            let cards = self.dialogs.iter().flat_map(|d| &d.dialog.cards);
            for card in cards {
                let stores = match card {
                    crate::dialog::Card::Capture(c) => Some(&c.attribute),
                    crate::dialog::Card::Question(q) => q.attribute.as_ref(),
                    _ => None,
                };
                if stores == Some(attribute) {
                    errors.push(bad(format!(
                        "card {} stores the visitor's answer in it, and an answer is never signed",
                        card.id()
                    )));
                }
            }
        }
    }

    /// The dialogs: at most [`MAX_DIALOGS`], unique ids, the dialog's own id the
    /// entry's, valid audiences and cards. A lone dialog's errors read as a dialog
    /// file's (`card "x": ...`); with several, each names its dialog.
    fn validate_dialogs(&self, errors: &mut Vec<DirectoryError>) {
        if self.dialogs.len() > MAX_DIALOGS {
            errors.push(DirectoryError::TooManyDialogs(self.dialogs.len()));
        }
        let several = self.dialogs.len() > 1;
        for (i, entry) in self.dialogs.iter().enumerate() {
            if self.dialogs[..i].iter().any(|d| d.id == entry.id) {
                errors.push(DirectoryError::DuplicateDialog {
                    at: i,
                    dialog: entry.id.clone(),
                });
            }
            if entry.dialog.id != entry.id {
                errors.push(DirectoryError::DialogIdMismatch {
                    at: i,
                    entry: entry.id.clone(),
                    own: entry.dialog.id.clone(),
                });
            }
            errors.extend(entry.audience.validate().into_iter().map(|error| {
                DirectoryError::BadAudience {
                    at: i,
                    dialog: entry.id.clone(),
                    error,
                }
            }));
            if let Err(dialog_errors) = crate::dialog::validate(&entry.dialog, &self.targets()) {
                errors.extend(dialog_errors.into_iter().map(|error| {
                    if several {
                        DirectoryError::InDialog {
                            at: i,
                            dialog: entry.id.clone(),
                            error,
                        }
                    } else {
                        DirectoryError::Dialog(error)
                    }
                }));
            }
        }
    }

    /// The first dialog (the only one of a single-`dialog` configuration),
    /// validated against this directory.
    pub fn valid_dialog(
        &self,
    ) -> Option<Result<crate::dialog::ValidDialog, Vec<crate::dialog::DialogError>>> {
        self.dialogs
            .first()
            .map(|d| crate::dialog::validate(&d.dialog, &self.targets()))
    }

    /// The dialog with this id.
    pub fn targeted(&self, id: &crate::domain::DialogId) -> Option<&TargetedDialog> {
        self.dialogs.iter().find(|d| &d.id == id)
    }
}
