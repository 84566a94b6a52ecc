//! `site.json`: what the widget reads on every page view instead of opening a
//! socket. A static, cacheable file (`livechat apply` publishes it beside the
//! widget; the local gateway serves it): the dialogs' audiences and teasers, never
//! any other dialog content, nor anything about agents. Its format is part of the
//! contract (docs/protocol.md, "site.json").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dialog::Card;
use crate::domain::{Attributes, DialogId};
use crate::routing::{Directory, TargetedDialog};

/// The format's version.
pub const SITE_VERSION: u8 = 1;

/// The key of a teaser's text for every language the map does not list (the
/// dialog's fallback language, or a text that is the same in all).
pub const ANY_LANGUAGE: &str = "*";

/// The `Cache-Control` it is served with: a minute, as the functions' directory
/// cache, so an applied change reaches every page within about two.
pub const CACHE_CONTROL: &str = "public, max-age=60";

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// The format's version, [`SITE_VERSION`].
    pub v: u8,
    /// The widget's look: the configuration's `widget:` branding, checked
    /// (contrast included) when it was loaded; absent, the widget's own look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget: Option<crate::domain::Branding>,
    /// The dialogs, in the configuration's order (which breaks priority ties).
    pub dialogs: Vec<SiteDialog>,
}

/// One dialog as the widget needs it to evaluate its page triggers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteDialog {
    /// The id `start.dialogs` names.
    pub id: DialogId,
    /// Higher wins.
    pub priority: i64,
    /// URL patterns (scheme-less, lower-case host and path, `*` wildcards) of the
    /// pages it may show on; empty: every page.
    pub include: Vec<String>,
    /// Patterns of pages it never shows on (wins over `include`).
    pub exclude: Vec<String>,
    /// Seconds on the page before its trigger fires.
    pub min_seconds: u32,
    /// Scroll depth (0-100 %) before its trigger fires.
    pub min_scroll: u8,
    /// Whether the server also checks visitor attributes (which the widget cannot
    /// know): a fired trigger may then still start nothing.
    pub has_conditions: bool,
    /// The teaser's text per language tag ([`ANY_LANGUAGE`] for every other),
    /// when the dialog has `teaser: true` and starts with a message card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teaser: Option<BTreeMap<String, String>>,
}

/// The `site.json` of `directory`.
pub fn site(directory: &Directory) -> Site {
    Site {
        v: SITE_VERSION,
        widget: directory.widget.clone(),
        dialogs: directory.dialogs.iter().map(site_dialog).collect(),
    }
}

fn site_dialog(d: &TargetedDialog) -> SiteDialog {
    let patterns =
        |list: &[crate::domain::UrlPattern]| list.iter().map(|p| p.as_str().to_string()).collect();
    SiteDialog {
        id: d.id.clone(),
        priority: d.priority,
        include: patterns(&d.audience.include),
        exclude: patterns(&d.audience.exclude),
        min_seconds: d.audience.min_seconds_on_page,
        min_scroll: d.audience.min_scroll_percent,
        has_conditions: !d.audience.conditions.is_empty(),
        teaser: d.teaser.then(|| teaser(d)).flatten(),
    }
}

/// The start card's text, its tokens at their defaults (no visitor is known).
fn teaser(d: &TargetedDialog) -> Option<BTreeMap<String, String>> {
    let start = d.dialog.cards.iter().find(|c| c.id() == &d.dialog.start)?;
    let Card::Message(card) = start else {
        return None;
    };
    let none = Attributes::new();
    let fallback = d.dialog.fallback_language();
    let mut map = BTreeMap::new();
    map.insert(
        ANY_LANGUAGE.to_string(),
        crate::dialog::render(card.text.pick(&fallback, &fallback), &none),
    );
    for (lang, text) in card.text.texts() {
        if let Some(lang) = lang {
            map.insert(
                lang.as_str().to_string(),
                crate::dialog::render(text, &none),
            );
        }
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::Dialog;

    fn targeted(yaml: &str, teaser: bool) -> TargetedDialog {
        let dialog = Dialog::from_yaml(yaml).unwrap();
        TargetedDialog {
            teaser,
            priority: 5,
            audience: crate::domain::Audience {
                include: vec![crate::domain::UrlPattern::parse("Acme.com/pricing*").unwrap()],
                min_seconds_on_page: 10,
                ..Default::default()
            },
            ..TargetedDialog::everywhere(dialog)
        }
    }

    const HELLO: &str = "id: pricing\nname: P\nstart: hi\ncards:\n  - id: hi\n    type: message\n    text: {en: \"Hi {{visitor.first_name:\\\"there\\\"}}, questions?\", de: Fragen?}\n    next: secret\n  - id: secret\n    type: message\n    text: The discount code is S3CRET\n";

    #[test]
    fn site_json_holds_each_dialogs_audience_and_teaser_and_no_other_content() {
        let directory = Directory {
            dialogs: vec![targeted(HELLO, true)],
            ..Directory::default()
        };
        let json = serde_json::to_value(site(&directory)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "v": 1,
                "dialogs": [{
                    "id": "pricing",
                    "priority": 5,
                    "include": ["acme.com/pricing*"],
                    "exclude": [],
                    "min_seconds": 10,
                    "min_scroll": 0,
                    "has_conditions": false,
                    "teaser": {"*": "Hi there, questions?", "de": "Fragen?", "en": "Hi there, questions?"}
                }]
            })
        );
        assert!(!json.to_string().contains("S3CRET"));
    }

    #[test]
    fn a_dialog_without_teaser_or_starting_with_a_question_has_no_teaser_text() {
        let off = targeted(HELLO, false);
        let question = targeted(
            "id: q\nname: Q\nstart: ask\ncards:\n  - id: ask\n    type: question\n    prompt: Sales?\n    answers:\n      - { label: Yes }\n",
            true,
        );
        let directory = Directory {
            dialogs: vec![off, question],
            ..Directory::default()
        };
        let site = site(&directory);
        assert_eq!(site.dialogs.len(), 2);
        assert!(site.dialogs.iter().all(|d| d.teaser.is_none()));
    }

    #[test]
    fn the_protocol_docs_site_json_example_is_the_demos_site_json() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let section = doc.split("## site.json").nth(1).unwrap();
        let example = section.split("```json\n").nth(1).unwrap();
        let example = example.split("```").next().unwrap();
        let documented: Site = serde_json::from_str(example).unwrap();
        assert_eq!(
            documented,
            site(&crate::demo::directory().unwrap()),
            "docs/protocol.md's site.json example is the demo's"
        );
    }
}
