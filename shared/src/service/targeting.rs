//! Which dialog a `start` opens a new conversation with: of the dialogs the
//! widget names (their page triggers fired), those whose audience the server
//! confirms (the page's URL, the visitor's attributes; time on page and scroll
//! depth it cannot see, so it trusts the widget) and that the visitor has not
//! completed; the highest priority wins, ties going to the first in the file.

use crate::domain::{Attributes, DialogId};
use crate::routing::Directory;

/// What a `start` tells about the visitor, for [`pick`].
pub(crate) struct Asking<'a> {
    /// The ids of `start.dialogs`; `None` (a widget without triggers): every
    /// dialog, completed ones included, as a single dialog always was.
    pub named: Option<&'a [DialogId]>,
    /// The page's URL as sent (`""` without one: only audiences of every page).
    pub page: &'a str,
    /// The attributes conditions may read (verified-only ones held unsigned left out).
    pub attributes: &'a Attributes,
    /// The dialogs the visitor completed.
    pub completed: &'a [DialogId],
}

/// The dialog to start, among the directory's dialogs `usable` accepts (those
/// that validate); `None` when none is for this visitor.
pub(crate) fn pick(
    directory: &Directory,
    usable: impl Fn(&DialogId) -> bool,
    asking: &Asking<'_>,
) -> Option<DialogId> {
    let mut best: Option<&crate::routing::TargetedDialog> = None;
    for d in &directory.dialogs {
        let named = asking.named.is_none_or(|named| named.contains(&d.id));
        let done = asking.named.is_some() && asking.completed.contains(&d.id);
        let fits = named
            && !done
            && usable(&d.id)
            && d.audience.matches_page(asking.page)
            && d.audience.matches_visitor(asking.attributes);
        if fits && best.is_none_or(|b| d.priority > b.priority) {
            best = Some(d);
        }
    }
    best.map(|d| d.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AttributeName, Audience, UrlPattern};
    use crate::routing::TargetedDialog;

    fn dialog(id: &str, priority: i64, include: &[&str]) -> TargetedDialog {
        let yaml = format!(
            "id: {id}\nname: D\nstart: hi\ncards:\n  - id: hi\n    type: message\n    text: Hi\n"
        );
        TargetedDialog {
            priority,
            audience: Audience {
                include: include
                    .iter()
                    .map(|p| UrlPattern::parse(*p).unwrap())
                    .collect(),
                ..Audience::default()
            },
            ..TargetedDialog::everywhere(crate::dialog::Dialog::from_yaml(&yaml).unwrap())
        }
    }

    fn ids(list: &[&str]) -> Vec<DialogId> {
        list.iter().map(|i| DialogId::parse(*i).unwrap()).collect()
    }

    fn directory() -> Directory {
        let mut enterprise = dialog("enterprise", 20, &["acme.com/pricing*"]);
        enterprise.audience.conditions = vec![crate::domain::Condition {
            attribute: AttributeName::parse("company_size").unwrap(),
            operator: crate::domain::Operator::Greater,
            value: Some(crate::domain::ConditionValue::Number(500.0)),
        }];
        let mut sales = dialog("sales", 0, &[]);
        sales.audience.exclude = vec![UrlPattern::parse("acme.com/careers*").unwrap()];
        Directory {
            dialogs: vec![
                sales,
                dialog("pricing", 10, &["acme.com/pricing*"]),
                dialog("pricing_too", 10, &["acme.com/pricing*"]),
                enterprise,
            ],
            ..Directory::default()
        }
    }

    fn picked(
        named: Option<&[&str]>,
        page: &str,
        attributes: &Attributes,
        completed: &[&str],
    ) -> Option<String> {
        let named = named.map(ids);
        let completed = ids(completed);
        let asking = Asking {
            named: named.as_deref(),
            page,
            attributes,
            completed: &completed,
        };
        pick(&directory(), |_| true, &asking).map(String::from)
    }

    const PRICING: &str = "https://acme.com/pricing/teams";

    #[test]
    fn the_highest_priority_of_the_named_dialogs_whose_page_matches_is_picked() {
        let none = Attributes::new();
        let all = Some(&["sales", "pricing", "enterprise"][..]);
        assert_eq!(picked(all, PRICING, &none, &[]).as_deref(), Some("pricing"));
        assert_eq!(
            picked(all, "https://acme.com/", &none, &[]).as_deref(),
            Some("sales")
        );
        // Only the named ones count: the widget's trigger for pricing did not fire.
        assert_eq!(
            picked(Some(&["sales"]), PRICING, &none, &[]).as_deref(),
            Some("sales")
        );
    }

    #[test]
    fn a_tie_in_priority_goes_to_the_first_dialog_in_the_file() {
        let named = Some(&["pricing_too", "pricing"][..]);
        assert_eq!(
            picked(named, PRICING, &Attributes::new(), &[]).as_deref(),
            Some("pricing")
        );
    }

    #[test]
    fn an_exclude_pattern_wins_and_a_named_dialog_whose_page_does_not_match_is_not_started() {
        let none = Attributes::new();
        assert_eq!(
            picked(Some(&["sales"]), "https://acme.com/careers/1", &none, &[]),
            None
        );
        assert_eq!(
            picked(Some(&["pricing"]), "https://acme.com/", &none, &[]),
            None
        );
    }

    #[test]
    fn conditions_on_the_visitors_attributes_decide_among_matching_pages() {
        let named = Some(&["pricing", "enterprise"][..]);
        let mut big = Attributes::new();
        big.set(AttributeName::parse("company_size").unwrap(), "900");
        assert_eq!(
            picked(named, PRICING, &big, &[]).as_deref(),
            Some("enterprise")
        );
        assert_eq!(
            picked(named, PRICING, &Attributes::new(), &[]).as_deref(),
            Some("pricing")
        );
    }

    #[test]
    fn a_completed_dialog_is_not_started_again_when_the_widget_names_it() {
        let none = Attributes::new();
        let named = Some(&["pricing", "sales"][..]);
        assert_eq!(
            picked(named, PRICING, &none, &["pricing"]).as_deref(),
            Some("sales")
        );
        assert_eq!(
            picked(Some(&["pricing"]), PRICING, &none, &["pricing"]),
            None
        );
        // A widget that names none gets any dialog of the page, as one dialog did.
        assert_eq!(
            picked(None, PRICING, &none, &["pricing"]).as_deref(),
            Some("pricing")
        );
    }
}
