//! Tokens in card text: `{{visitor.first_name}}` and `{{visitor.first_name:"there"}}`.
//!
//! A token is replaced by the visitor's attribute, or by its default (empty when it has
//! none) when the attribute is unknown or blank. Anything between `{{` and `}}` that
//! does not start with `visitor.` is ordinary text and is left as written, so a `{{`
//! in a message never breaks it. A `{{visitor.…}}` that is not a well-formed token is
//! also left as written when rendering, and the validator refuses it when the dialog
//! is saved.

use crate::domain::{AttributeName, Attributes};

/// What is wrong with something written like a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    /// The attribute name is not a valid [`AttributeName`].
    #[error("{0}")]
    BadAttribute(#[from] crate::domain::AttributeNameError),
    /// Something other than `:"default"` follows the attribute name.
    #[error(r#"a token is {{{{visitor.NAME}}}} or {{{{visitor.NAME:"default"}}}}"#)]
    BadSyntax,
}

/// A piece of text: literal text, or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Token {
        attribute: AttributeName,
        default: &'a str,
    },
}

/// One `{{visitor.…}}` that could not be read, with the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadToken {
    pub(crate) written: String,
    pub(crate) problem: TokenProblem,
}

const PREFIX: &str = "visitor.";

/// Reads the inside of `{{…}}`. `None` when it does not claim to be a token.
fn read_token(inner: &str) -> Option<Result<(AttributeName, &str), TokenProblem>> {
    let rest = inner.trim().strip_prefix(PREFIX)?;
    let (name, after) = match rest.find(':') {
        Some(colon) => (&rest[..colon], Some(&rest[colon + 1..])),
        None => (rest, None),
    };
    let attribute = match AttributeName::parse(name.trim()) {
        Ok(a) => a,
        Err(e) => return Some(Err(e.into())),
    };
    let default = match after.map(str::trim) {
        None => "",
        Some(quoted) => match quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .filter(|d| !d.contains('"'))
        {
            Some(d) => d,
            None => return Some(Err(TokenProblem::BadSyntax)),
        },
    };
    Some(Ok((attribute, default)))
}

/// Splits text into pieces; bad tokens are reported and kept as literal text.
fn pieces(text: &str) -> (Vec<Piece<'_>>, Vec<BadToken>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut rest = text;
    while let Some(first_open) = rest.find("{{") {
        let Some(close) = rest[first_open + 2..]
            .find("}}")
            .map(|c| first_open + 2 + c)
        else {
            break;
        };
        // The `{{` nearest the `}}` opens the token, so `{{ {{visitor.x}}` still renders.
        let open = rest[..close].rfind("{{").unwrap_or(first_open);
        let inner = &rest[open + 2..close];
        let written = &rest[open..close + 2];
        match read_token(inner) {
            Some(Ok((attribute, default))) => {
                out.push(Piece::Literal(&rest[..open]));
                out.push(Piece::Token { attribute, default });
            }
            Some(Err(problem)) => {
                bad.push(BadToken {
                    written: written.to_owned(),
                    problem,
                });
                out.push(Piece::Literal(&rest[..open + written.len()]));
            }
            None => out.push(Piece::Literal(&rest[..open + written.len()])),
        }
        rest = &rest[open + written.len()..];
    }
    out.push(Piece::Literal(rest));
    (out, bad)
}

/// Renders the tokens of `text` with the visitor's attributes.
pub fn render(text: &str, attributes: &Attributes) -> String {
    let (pieces, _) = pieces(text);
    let mut out = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Token { attribute, default } => {
                match attributes
                    .get(attribute.as_str())
                    .filter(|v| !v.trim().is_empty())
                {
                    Some(value) => out.push_str(value),
                    None => out.push_str(default),
                }
            }
        }
    }
    out
}

/// The `{{visitor.…}}` tokens of `text` that cannot be read.
pub(crate) fn bad_tokens(text: &str) -> Vec<BadToken> {
    pieces(text).1
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

    #[test]
    fn a_known_attribute_replaces_its_token() {
        // Arrange
        let a = attrs(&[("first_name", "Ana")]);

        // Act
        let text = render(r#"Hi {{visitor.first_name:"there"}}, welcome!"#, &a);

        // Assert
        assert_eq!(text, "Hi Ana, welcome!");
    }

    #[test]
    fn an_unknown_or_blank_attribute_renders_the_default() {
        // Arrange
        let blank = attrs(&[("first_name", "  ")]);

        // Act
        let unknown = render(r#"Hi {{visitor.first_name:"there"}}!"#, &Attributes::new());
        let blank = render(r#"Hi {{ visitor.first_name : "there" }}!"#, &blank);

        // Assert
        assert_eq!(unknown, "Hi there!");
        assert_eq!(blank, "Hi there!");
    }

    #[test]
    fn a_token_without_default_renders_empty_when_unknown() {
        // Act
        let text = render("Hi {{visitor.first_name}}!", &Attributes::new());

        // Assert
        assert_eq!(text, "Hi !");
    }

    #[test]
    fn malformed_braces_are_left_as_written() {
        // Arrange
        let a = attrs(&[("first_name", "Ana")]);
        let written = r#"{{ {{visitor.first_name}} {{other}} {{visitor.First}} {{visitor.first_name:there}} {{visitor.first_name}}"#;

        // Act
        let text = render(written, &a);

        // Assert
        assert_eq!(
            text,
            r#"{{ Ana {{other}} {{visitor.First}} {{visitor.first_name:there}} Ana"#
        );
    }

    #[test]
    fn bad_tokens_are_found_for_the_validator() {
        // Act
        let bad = bad_tokens(r#"{{visitor.First Name}} {{visitor.x:"a"b"}} {{plain}}"#);

        // Assert
        assert_eq!(bad.len(), 2);
        assert!(matches!(bad[0].problem, TokenProblem::BadAttribute(_)));
        assert_eq!(bad[1].problem, TokenProblem::BadSyntax);
    }

    #[test]
    fn an_attribute_value_is_inserted_as_is_and_never_rendered_again() {
        // Arrange
        let a = attrs(&[("first_name", "{{visitor.email}}")]);

        // Act
        let text = render("Hi {{visitor.first_name}}", &a);

        // Assert
        assert_eq!(text, "Hi {{visitor.email}}");
    }
}
