//! Conditions on visitor attributes, shared by custom routing rules and the dialog's
//! conditional branch card.

use serde::{Deserialize, Serialize};

use super::{AttributeName, Attributes};

/// How an attribute is compared with the condition's value. Text comparisons ignore
/// case and surrounding spaces, as a marketer writing `acme.com` expects `ACME.com` to
/// match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Equals,
    NotEquals,
    Contains,
    StartsWith,
    EndsWith,
    /// The value is a list; matches when the attribute equals one of its items.
    InList,
    /// Matches when the attribute is missing or blank; takes no value.
    IsEmpty,
    /// Numeric: attribute > value. A non-number never matches.
    Greater,
    /// Numeric: attribute < value. A non-number never matches.
    Less,
}

/// The right-hand side of a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConditionValue {
    /// One value.
    One(String),
    /// A number, accepted so that `value: 200` in YAML need not be quoted.
    Number(f64),
    /// Several values, for `in_list`.
    List(Vec<String>),
}

/// One test of a visitor attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The attribute tested (`email_domain` is derived from `email`).
    pub attribute: AttributeName,
    /// The comparison.
    pub operator: Operator,
    /// The value compared against; absent for `is_empty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ConditionValue>,
}

/// Why a condition is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("condition on {attribute}: operator {operator:?} needs a value")]
    MissingValue {
        attribute: String,
        operator: Operator,
    },
    #[error("condition on {attribute}: operator {operator:?} needs a number")]
    NotANumber {
        attribute: String,
        operator: Operator,
    },
    #[error("condition on {attribute}: in_list needs a list of values")]
    NotAList { attribute: String },
    #[error("condition on {attribute}: a list is only allowed with in_list")]
    UnexpectedList { attribute: String },
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

impl ConditionValue {
    fn as_text(&self) -> Option<String> {
        match self {
            Self::One(s) => Some(s.clone()),
            Self::Number(n) => Some(n.to_string()),
            Self::List(_) => None,
        }
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Self::One(s) => s.trim().parse().ok(),
            Self::Number(n) => Some(*n),
            Self::List(_) => None,
        }
    }
}

impl Condition {
    /// Checks that the value fits the operator. Rules and dialogs are checked when saved,
    /// so `matches` never has to guess.
    pub fn validate(&self) -> Result<(), ConditionError> {
        let attribute = self.attribute.to_string();
        let operator = self.operator;
        match (operator, &self.value) {
            (Operator::IsEmpty, _) => Ok(()),
            (_, None) => Err(ConditionError::MissingValue {
                attribute,
                operator,
            }),
            (Operator::InList, Some(ConditionValue::List(_))) => Ok(()),
            (Operator::InList, Some(_)) => Err(ConditionError::NotAList { attribute }),
            (_, Some(ConditionValue::List(_))) => Err(ConditionError::UnexpectedList { attribute }),
            (Operator::Greater | Operator::Less, Some(v)) if v.as_number().is_none() => {
                Err(ConditionError::NotANumber {
                    attribute,
                    operator,
                })
            }
            _ => Ok(()),
        }
    }

    /// Whether the visitor's attributes satisfy this condition. A missing attribute
    /// only satisfies `is_empty` and `not_equals`.
    pub fn matches(&self, attributes: &Attributes) -> bool {
        let actual = attributes
            .get(self.attribute.as_str())
            .map(norm)
            .filter(|v| !v.is_empty());
        let expected = self
            .value
            .as_ref()
            .and_then(ConditionValue::as_text)
            .map(|v| norm(&v));
        match self.operator {
            Operator::IsEmpty => actual.is_none(),
            Operator::NotEquals => actual != expected,
            Operator::InList => match (&actual, &self.value) {
                (Some(a), Some(ConditionValue::List(items))) => items.iter().any(|i| &norm(i) == a),
                _ => false,
            },
            Operator::Greater | Operator::Less => {
                let a = actual.and_then(|a| a.parse::<f64>().ok());
                let e = self.value.as_ref().and_then(ConditionValue::as_number);
                match (a, e) {
                    (Some(a), Some(e)) if self.operator == Operator::Greater => a > e,
                    (Some(a), Some(e)) => a < e,
                    _ => false,
                }
            }
            op => match (actual, expected) {
                (Some(a), Some(e)) => match op {
                    Operator::Equals => a == e,
                    Operator::Contains => a.contains(&e),
                    Operator::StartsWith => a.starts_with(&e),
                    Operator::EndsWith => a.ends_with(&e),
                    _ => false,
                },
                _ => false,
            },
        }
    }
}

/// How the conditions of a set combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Every condition must match (an empty set matches).
    #[default]
    All,
    /// At least one condition must match (an empty set does not).
    Any,
}

/// Conditions combined with all/any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionSet {
    /// all or any.
    #[serde(default, rename = "match")]
    pub combine: Combine,
    /// The conditions.
    pub conditions: Vec<Condition>,
}

impl ConditionSet {
    /// Checks every condition.
    pub fn validate(&self) -> Result<(), ConditionError> {
        self.conditions.iter().try_for_each(Condition::validate)
    }

    /// Whether the attributes satisfy the set.
    pub fn matches(&self, attributes: &Attributes) -> bool {
        match self.combine {
            Combine::All => self.conditions.iter().all(|c| c.matches(attributes)),
            Combine::Any => self.conditions.iter().any(|c| c.matches(attributes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        let mut a = Attributes::new();
        for (k, v) in pairs {
            a.set(AttributeName::parse(*k).unwrap(), *v);
        }
        a
    }

    fn cond(attribute: &str, operator: Operator, value: Option<ConditionValue>) -> Condition {
        Condition {
            attribute: AttributeName::parse(attribute).unwrap(),
            operator,
            value,
        }
    }

    fn one(v: &str) -> Option<ConditionValue> {
        Some(ConditionValue::One(v.into()))
    }

    #[test]
    fn every_operator_compares_as_a_marketer_expects() {
        let a = attrs(&[
            ("country", " France "),
            ("page_url", "https://acme.com/pricing"),
            ("company_size", "250"),
        ]);
        assert!(cond("country", Operator::Equals, one("france")).matches(&a));
        assert!(cond("country", Operator::NotEquals, one("Spain")).matches(&a));
        assert!(cond("page_url", Operator::Contains, one("/pricing")).matches(&a));
        assert!(cond("page_url", Operator::StartsWith, one("https://acme")).matches(&a));
        assert!(cond("page_url", Operator::EndsWith, one("pricing")).matches(&a));
        let list = Some(ConditionValue::List(vec!["Spain".into(), "France".into()]));
        assert!(cond("country", Operator::InList, list).matches(&a));
        assert!(cond("job_title", Operator::IsEmpty, None).matches(&a));
        assert!(!cond("country", Operator::IsEmpty, None).matches(&a));
        assert!(
            cond(
                "company_size",
                Operator::Greater,
                Some(ConditionValue::Number(200.0))
            )
            .matches(&a)
        );
        assert!(cond("company_size", Operator::Less, one("1000")).matches(&a));
        assert!(!cond("company_size", Operator::Less, one("100")).matches(&a));
    }

    #[test]
    fn numeric_operators_never_match_text() {
        let a = attrs(&[("company_size", "large")]);
        assert!(!cond("company_size", Operator::Greater, one("10")).matches(&a));
        assert!(!cond("company_size", Operator::Less, one("10")).matches(&a));
    }

    #[test]
    fn missing_attribute_matches_only_is_empty_and_not_equals() {
        let a = Attributes::new();
        assert!(cond("country", Operator::NotEquals, one("France")).matches(&a));
        assert!(!cond("country", Operator::Equals, one("")).matches(&a));
        assert!(!cond("country", Operator::Contains, one("")).matches(&a));
    }

    #[test]
    fn all_and_any_combine_conditions() {
        let a = attrs(&[("country", "France"), ("email", "ana@acme.com")]);
        let set = |combine| ConditionSet {
            combine,
            conditions: vec![
                cond("country", Operator::Equals, one("France")),
                cond("email_domain", Operator::Equals, one("other.com")),
            ],
        };
        assert!(!set(Combine::All).matches(&a));
        assert!(set(Combine::Any).matches(&a));
    }

    #[test]
    fn malformed_conditions_are_refused_when_saved() {
        assert!(matches!(
            cond("x", Operator::Equals, None).validate(),
            Err(ConditionError::MissingValue { .. })
        ));
        assert!(matches!(
            cond("x", Operator::Greater, one("ten")).validate(),
            Err(ConditionError::NotANumber { .. })
        ));
        assert!(matches!(
            cond("x", Operator::InList, one("a")).validate(),
            Err(ConditionError::NotAList { .. })
        ));
        assert!(cond("x", Operator::IsEmpty, None).validate().is_ok());
    }
}
