//! Who a targeted dialog is for: page URL patterns, time on page, scroll depth and
//! visitor attribute conditions (the conditions custom rules use). The widget checks
//! the page triggers itself (from `site.json`); the server checks the URL and the
//! conditions again on `start`, and cannot check time or scroll, so it trusts those.

use serde::{Deserialize, Serialize};

use super::{Attributes, Combine, Condition, ConditionError, ConditionSet};

/// Most characters of a URL pattern.
pub const MAX_PATTERN_CHARS: usize = 200;
/// Most patterns in one `include` or `exclude` list.
pub const MAX_PATTERNS: usize = 20;
/// Most conditions of one audience.
pub const MAX_AUDIENCE_CONDITIONS: usize = 20;
/// Longest time on page an audience may wait for (one day, in seconds).
pub const MAX_SECONDS_ON_PAGE: u32 = 86_400;

/// A page URL pattern: scheme-less, lower-case host and path, where `*` stands for
/// any run of characters (`acme.com/pricing*`). Matched against
/// [`page_key`] of the page's URL: no scheme, no query, no fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UrlPattern(String);

/// Why a URL pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("URL pattern is empty")]
    Empty,
    #[error("URL pattern {0:?} is longer than {MAX_PATTERN_CHARS} characters")]
    TooLong(String),
    #[error(
        "URL pattern {0:?} has a scheme: patterns are matched on host and path (acme.com/pricing*)"
    )]
    Scheme(String),
    #[error(
        "URL pattern {0:?} has a query or fragment: patterns are matched on host and path only"
    )]
    Query(String),
    #[error("URL pattern {0:?} has a space or control character")]
    Space(String),
}

impl UrlPattern {
    /// A pattern as written in the configuration; kept lower-cased, as pages are
    /// compared lower-cased.
    pub fn parse(raw: impl Into<String>) -> Result<Self, PatternError> {
        let raw: String = raw.into();
        let shown: String = raw.chars().take(MAX_PATTERN_CHARS).collect();
        if raw.is_empty() {
            return Err(PatternError::Empty);
        }
        if raw.chars().count() > MAX_PATTERN_CHARS {
            return Err(PatternError::TooLong(shown));
        }
        if raw.contains("://") {
            return Err(PatternError::Scheme(shown));
        }
        if raw.contains(['?', '#']) {
            return Err(PatternError::Query(shown));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PatternError::Space(shown));
        }
        Ok(Self(raw.to_lowercase()))
    }

    /// The pattern, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the page key (see [`page_key`]) matches.
    pub fn matches(&self, key: &str) -> bool {
        glob(self.0.as_bytes(), key.as_bytes())
    }

    /// Whether some page could match both patterns: what makes two audiences of
    /// the same priority ambiguous.
    pub fn intersects(&self, other: &UrlPattern) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        // seen[i][j]: whether the suffixes a[i..] and b[j..] were already tried.
        let mut seen = vec![vec![false; b.len() + 1]; a.len() + 1];
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, j)) = stack.pop() {
            if seen[i][j] {
                continue;
            }
            seen[i][j] = true;
            if i == a.len() && j == b.len() {
                return true;
            }
            if a.get(i) == Some(&b'*') {
                stack.push((i + 1, j));
                if j < b.len() {
                    stack.push((i, j + 1));
                }
            }
            if b.get(j) == Some(&b'*') {
                stack.push((i, j + 1));
                if i < a.len() {
                    stack.push((i + 1, j));
                }
            }
            if let (Some(x), Some(y)) = (a.get(i), b.get(j))
                && x == y
                && *x != b'*'
            {
                stack.push((i + 1, j + 1));
            }
        }
        false
    }
}

impl TryFrom<String> for UrlPattern {
    type Error = PatternError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<UrlPattern> for String {
    fn from(p: UrlPattern) -> Self {
        p.0
    }
}

/// `*`-glob match without backtracking blow-up: the last star is retried only.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// What patterns are matched on: the URL without scheme, query and fragment,
/// lower-cased (`https://ACME.com/Pricing?x=1` → `acme.com/pricing`).
pub fn page_key(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let url = url.split_once("://").map_or(url, |(_, rest)| rest);
    url.to_lowercase()
}

/// Who a dialog is shown to. Every part must hold; an empty `include` is every page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Pages it may show on (any matching); empty: every page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<UrlPattern>,
    /// Pages it never shows on, whatever `include` says.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<UrlPattern>,
    /// Seconds the visitor must have spent on the page (the widget counts).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub min_seconds_on_page: u32,
    /// How far down the page (0-100 %) the visitor must have scrolled (the widget
    /// measures).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub min_scroll_percent: u8,
    /// all or any, for `conditions`.
    #[serde(default, rename = "match", skip_serializing_if = "is_all")]
    pub combine: Combine,
    /// Visitor attribute conditions, as custom rules have them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}
fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}
fn is_all(c: &Combine) -> bool {
    *c == Combine::All
}

/// Why an audience is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudienceError {
    #[error("audience.{list} has {count} patterns, at most {MAX_PATTERNS}")]
    TooManyPatterns { list: &'static str, count: usize },
    #[error("audience.min_scroll_percent is {0}: it is a percentage, 0 to 100")]
    Scroll(u8),
    #[error("audience.min_seconds_on_page is {0}: at most {MAX_SECONDS_ON_PAGE} (a day)")]
    Seconds(u32),
    #[error("audience has {0} conditions, at most {MAX_AUDIENCE_CONDITIONS}")]
    TooManyConditions(usize),
    #[error("audience: {0}")]
    Condition(ConditionError),
}

impl Audience {
    /// Checks the bounds and the conditions (patterns are checked as parsed).
    pub fn validate(&self) -> Vec<AudienceError> {
        let mut errors = Vec::new();
        for (list, patterns) in [("include", &self.include), ("exclude", &self.exclude)] {
            if patterns.len() > MAX_PATTERNS {
                errors.push(AudienceError::TooManyPatterns {
                    list,
                    count: patterns.len(),
                });
            }
        }
        if self.min_scroll_percent > 100 {
            errors.push(AudienceError::Scroll(self.min_scroll_percent));
        }
        if self.min_seconds_on_page > MAX_SECONDS_ON_PAGE {
            errors.push(AudienceError::Seconds(self.min_seconds_on_page));
        }
        if self.conditions.len() > MAX_AUDIENCE_CONDITIONS {
            errors.push(AudienceError::TooManyConditions(self.conditions.len()));
        }
        errors.extend(
            self.conditions
                .iter()
                .filter_map(|c| c.validate().err())
                .map(AudienceError::Condition),
        );
        errors
    }

    /// Whether the page (its full URL, as the widget sends it) is in the audience:
    /// an exclude pattern wins over every include.
    pub fn matches_page(&self, url: &str) -> bool {
        let key = page_key(url);
        let included = self.include.is_empty() || self.include.iter().any(|p| p.matches(&key));
        included && !self.exclude.iter().any(|p| p.matches(&key))
    }

    /// Whether the visitor's attributes satisfy the conditions (none: everyone).
    pub fn matches_visitor(&self, attributes: &Attributes) -> bool {
        ConditionSet {
            combine: self.combine,
            conditions: self.conditions.clone(),
        }
        .matches(attributes)
            || self.conditions.is_empty()
    }

    /// Whether some page could be in both audiences, as far as URL patterns tell
    /// (time, scroll and conditions are not compared: they may all hold at once).
    pub fn may_overlap(&self, other: &Audience) -> bool {
        let any = UrlPattern("*".into());
        let ours: Vec<&UrlPattern> = if self.include.is_empty() {
            vec![&any]
        } else {
            self.include.iter().collect()
        };
        let theirs: Vec<&UrlPattern> = if other.include.is_empty() {
            vec![&any]
        } else {
            other.include.iter().collect()
        };
        ours.iter().any(|a| theirs.iter().any(|b| a.intersects(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> UrlPattern {
        UrlPattern::parse(s).unwrap()
    }

    fn audience(include: &[&str], exclude: &[&str]) -> Audience {
        Audience {
            include: include.iter().map(|s| p(s)).collect(),
            exclude: exclude.iter().map(|s| p(s)).collect(),
            ..Audience::default()
        }
    }

    #[test]
    fn a_pattern_matches_host_and_path_without_scheme_query_or_case() {
        let pricing = p("acme.com/pricing*");
        assert!(pricing.matches(&page_key("https://ACME.com/Pricing?plan=pro#top")));
        assert!(pricing.matches(&page_key("http://acme.com/pricing/enterprise")));
        assert!(!pricing.matches(&page_key("https://acme.com/about")));
        assert!(!pricing.matches(&page_key("https://www.acme.com/pricing")));
        assert!(p("*acme.com/*").matches(&page_key("https://www.acme.com/x")));
        assert!(p("acme.com/").matches(&page_key("https://acme.com/")));
        assert!(!p("acme.com/").matches(&page_key("https://acme.com/a")));
    }

    #[test]
    fn a_pattern_with_a_scheme_query_space_or_too_many_characters_is_refused() {
        assert!(matches!(
            UrlPattern::parse("https://acme.com/*"),
            Err(PatternError::Scheme(_))
        ));
        assert!(matches!(
            UrlPattern::parse("acme.com/?a=1"),
            Err(PatternError::Query(_))
        ));
        assert!(matches!(
            UrlPattern::parse("acme.com/ x"),
            Err(PatternError::Space(_))
        ));
        assert!(matches!(UrlPattern::parse(""), Err(PatternError::Empty)));
        let long = format!("acme.com/{}", "a".repeat(MAX_PATTERN_CHARS));
        assert!(matches!(
            UrlPattern::parse(long),
            Err(PatternError::TooLong(_))
        ));
    }

    #[test]
    fn many_stars_against_a_long_page_match_in_linear_time() {
        let pattern = p(&"*a".repeat(90));
        let page = "a".repeat(2000) + "b";
        assert!(!pattern.matches(&page));
    }

    #[test]
    fn an_empty_include_is_every_page_and_an_exclude_wins_over_an_include() {
        let everywhere = audience(&[], &[]);
        assert!(everywhere.matches_page("https://anything.example/x"));
        let most = audience(&["acme.com/*"], &["acme.com/careers*"]);
        assert!(most.matches_page("https://acme.com/pricing"));
        assert!(!most.matches_page("https://acme.com/careers/open"));
        let only_excluded = audience(&[], &["acme.com/careers*"]);
        assert!(!only_excluded.matches_page("https://acme.com/careers"));
        assert!(only_excluded.matches_page("https://acme.com/"));
    }

    #[test]
    fn conditions_are_the_rules_conditions_on_the_visitors_attributes() {
        let mut enterprise = audience(&[], &[]);
        enterprise.conditions = vec![Condition {
            attribute: super::super::AttributeName::parse("company_size").unwrap(),
            operator: super::super::Operator::Greater,
            value: Some(super::super::ConditionValue::Number(500.0)),
        }];
        let mut big = Attributes::new();
        big.set(
            super::super::AttributeName::parse("company_size").unwrap(),
            "900".to_string(),
        );
        assert!(enterprise.matches_visitor(&big));
        assert!(!enterprise.matches_visitor(&Attributes::new()));
        assert!(audience(&[], &[]).matches_visitor(&Attributes::new()));
    }

    #[test]
    fn audiences_overlap_when_some_page_could_match_both_include_lists() {
        let pricing = audience(&["acme.com/pricing*"], &[]);
        let blog = audience(&["acme.com/blog/*"], &[]);
        let all_acme = audience(&["acme.com/*"], &[]);
        let everywhere = audience(&[], &[]);
        assert!(!pricing.may_overlap(&blog));
        assert!(pricing.may_overlap(&all_acme));
        assert!(blog.may_overlap(&everywhere));
        assert!(audience(&["*.acme.com/x"], &[]).may_overlap(&audience(&["www.*/x"], &[])));
        assert!(!audience(&["acme.com/a"], &[]).may_overlap(&audience(&["acme.com/b"], &[])));
    }

    #[test]
    fn an_out_of_range_scroll_or_too_many_patterns_is_refused() {
        let mut a = audience(&[], &[]);
        a.min_scroll_percent = 101;
        a.include = (0..=MAX_PATTERNS)
            .map(|i| p(&format!("acme.com/{i}")))
            .collect();
        assert_eq!(
            a.validate(),
            vec![
                AudienceError::TooManyPatterns {
                    list: "include",
                    count: MAX_PATTERNS + 1
                },
                AudienceError::Scroll(101)
            ]
        );
    }
}
