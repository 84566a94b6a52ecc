//! The widget's branding (the configuration's `widget:`): accent colour and the
//! colour of text on it, the launcher's side and offset, the panel's title and
//! subtitle, the launcher's label and an avatar. Parsed here, each field bounded;
//! the accent is refused when its text would be hard to read on it (WCAG 2.x
//! contrast under 4.5:1). The widget gets it through `site.json` and checks its
//! `data-` overrides the same way (web/widget/branding.js).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dialog::Localized;

/// WCAG 2.x's minimum contrast for normal text (success criterion 1.4.3, AA).
pub const MIN_CONTRAST: f64 = 4.5;

/// The launcher's and panel's largest offset from the screen's corner, in pixels
/// per axis: enough to clear a cookie bar, small enough to stay on a 320 px phone.
pub const MAX_OFFSET_PX: u32 = 200;

/// Longest title, in characters (per language).
pub const MAX_TITLE_CHARS: usize = 60;
/// Longest subtitle, in characters (per language).
pub const MAX_SUBTITLE_CHARS: usize = 120;
/// Longest launcher label, in characters (per language).
pub const MAX_LAUNCHER_LABEL_CHARS: usize = 40;
/// Longest avatar URL, in bytes.
pub const MAX_AVATAR_URL_BYTES: usize = 1024;

/// A colour as CSS hex, `#rgb` or `#rrggbb` (any case); kept and written as
/// `#rrggbb` in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexColour([u8; 3]);

/// Why a colour was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a CSS hex colour (#rgb or #rrggbb)")]
pub struct HexColourError(pub String);

impl HexColour {
    /// White, the text colour on the accent unless `accent_text` says otherwise.
    pub const WHITE: Self = Self([255, 255, 255]);

    /// Parses `#rgb` or `#rrggbb`.
    pub fn parse(raw: &str) -> Result<Self, HexColourError> {
        let refuse = || HexColourError(raw.chars().take(16).collect());
        let hex = raw.strip_prefix('#').ok_or_else(refuse)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse());
        }
        let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).map_err(|_| refuse());
        match hex.len() {
            3 => Ok(Self([digit(0)? * 17, digit(1)? * 17, digit(2)? * 17])),
            6 => {
                let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| refuse());
                Ok(Self([byte(0)?, byte(2)?, byte(4)?]))
            }
            _ => Err(refuse()),
        }
    }

    /// WCAG 2.x relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    /// WCAG 2.x contrast ratio with `other`, 1 to 21, whichever is lighter.
    pub fn contrast(self, other: Self) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

impl fmt::Display for HexColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

impl TryFrom<String> for HexColour {
    type Error = HexColourError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<HexColour> for String {
    fn from(colour: HexColour) -> Self {
        colour.to_string()
    }
}

/// The side of the screen the launcher and panel sit on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Bottom left.
    Left,
    /// Bottom right, as before branding existed.
    #[default]
    Right,
}

/// Pixels from an edge of the screen, 0 to [`MAX_OFFSET_PX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Pixels(u32);

/// Why an offset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an offset is 0 to 200 pixels, not {0}")]
pub struct PixelsError(pub u32);

impl Pixels {
    /// Parses 0 to [`MAX_OFFSET_PX`].
    pub fn new(px: u32) -> Result<Self, PixelsError> {
        if px <= MAX_OFFSET_PX {
            Ok(Self(px))
        } else {
            Err(PixelsError(px))
        }
    }

    /// The pixels.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Pixels {
    type Error = PixelsError;
    fn try_from(px: u32) -> Result<Self, Self::Error> {
        Self::new(px)
    }
}

impl From<Pixels> for u32 {
    fn from(px: Pixels) -> Self {
        px.0
    }
}

/// How far the launcher sits from the screen's bottom corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offset {
    /// From the side (left or right, as [`Position`] says).
    #[serde(default = "default_offset")]
    pub x: Pixels,
    /// From the bottom.
    #[serde(default = "default_offset")]
    pub y: Pixels,
}

fn default_offset() -> Pixels {
    Pixels(20)
}

impl Default for Offset {
    /// 20 px from each edge, where the launcher always sat.
    fn default() -> Self {
        Self {
            x: default_offset(),
            y: default_offset(),
        }
    }
}

/// An avatar image's address: `https://` with a host, no spaces, quotes or angle
/// brackets, at most [`MAX_AVATAR_URL_BYTES`]. The widget sets it as an image's
/// `src`, never as markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AvatarUrl(String);

/// Why an avatar address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the avatar must be an https:// URL of at most 1024 bytes, without spaces, quotes or angle brackets"
)]
pub struct AvatarUrlError;

impl AvatarUrl {
    /// Parses an address; see the type's contract.
    pub fn parse(raw: &str) -> Result<Self, AvatarUrlError> {
        let rest = raw.strip_prefix("https://").ok_or(AvatarUrlError)?;
        let host = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
        let bad = |c: char| c.is_whitespace() || c.is_control() || "\"'<>\\`".contains(c);
        if raw.len() > MAX_AVATAR_URL_BYTES || host.is_empty() || raw.chars().any(bad) {
            return Err(AvatarUrlError);
        }
        Ok(Self(raw.to_string()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AvatarUrl {
    type Error = AvatarUrlError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<AvatarUrl> for String {
    fn from(url: AvatarUrl) -> Self {
        url.0
    }
}

/// The account's widget branding, as the configuration gives it and as
/// `site.json`'s `widget` member carries it to the widget (the same fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// The launcher's, header's and buttons' colour.
    pub accent: HexColour,
    /// The colour of text and icons on the accent; white unless given.
    #[serde(default = "white")]
    pub accent_text: HexColour,
    /// The side of the screen.
    #[serde(default)]
    pub position: Position,
    /// The distance from the screen's bottom corner.
    #[serde(default)]
    pub offset: Offset,
    /// The panel's title (the widget's own "Chat with us" when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Localized>,
    /// The line under it (the widget's own when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<Localized>,
    /// A text shown on the launcher beside its icon (the icon alone when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher_label: Option<Localized>,
    /// An image shown in the panel's header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<AvatarUrl>,
}

fn white() -> HexColour {
    HexColour::WHITE
}

/// A problem with a branding: the field it is about (to point at its line) and
/// what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("widget.{field}: {reason}")]
pub struct BrandingError {
    /// The field's key in the configuration's `widget:`.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// `ratio` with two decimals, cut rather than rounded, so that a refused ratio is
/// never written as 4.50.
fn ratio_text(ratio: f64) -> String {
    format!("{:.2}", (ratio * 100.0).floor() / 100.0)
}

impl Branding {
    /// Every problem the field types alone do not catch: the accent's contrast
    /// with its text, and each text's length (blank texts too).
    pub fn check(&self) -> Vec<BrandingError> {
        let mut errors = Vec::new();
        let ratio = self.accent.contrast(self.accent_text);
        if ratio < MIN_CONTRAST {
            errors.push(BrandingError {
                field: "accent",
                reason: format!(
                    "accent {} on {} text has contrast {}:1, below WCAG's 4.5:1 (choose a darker or lighter accent, or set accent_text)",
                    self.accent,
                    self.accent_text,
                    ratio_text(ratio)
                ),
            });
        }
        let texts = [
            ("title", &self.title, MAX_TITLE_CHARS),
            ("subtitle", &self.subtitle, MAX_SUBTITLE_CHARS),
            (
                "launcher_label",
                &self.launcher_label,
                MAX_LAUNCHER_LABEL_CHARS,
            ),
        ];
        for (field, text, max) in texts {
            for (lang, text) in text.iter().flat_map(Localized::texts) {
                let which = lang.map(|l| format!(" ({l})")).unwrap_or_default();
                let chars = text.chars().count();
                let reason = if text.trim().is_empty() {
                    format!("the text{which} is blank")
                } else if chars > max {
                    format!("the text{which} has {chars} characters, at most {max}")
                } else {
                    continue;
                };
                errors.push(BrandingError { field, reason });
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colour(hex: &str) -> HexColour {
        HexColour::parse(hex).unwrap()
    }

    fn branding(yaml: &str) -> Branding {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn contrast_follows_wcag_with_known_ratios() {
        let white = HexColour::WHITE;
        assert!((colour("#000").contrast(white) - 21.0).abs() < 1e-9);
        assert!((colour("#777777").contrast(white) - 4.48).abs() < 0.01);
        assert!((colour("#767676").contrast(white) - 4.54).abs() < 0.01);
        assert!((colour("#ffcc00").contrast(white) - 1.51).abs() < 0.01);
        assert!((colour("#3b5bdb").contrast(white) - 5.67).abs() < 0.01);
        assert_eq!(white.contrast(white), 1.0);
        assert_eq!(
            colour("#767676").contrast(white),
            white.contrast(colour("#767676"))
        );
    }

    #[test]
    fn a_colour_is_three_or_six_hex_digits_after_a_hash_and_is_kept_in_lower_case() {
        assert_eq!(colour("#ABC").to_string(), "#aabbcc");
        assert_eq!(colour("#3B5bDB").to_string(), "#3b5bdb");
        for bad in [
            "3b5bdb",
            "#3b5bd",
            "#3b5bdbff",
            "#ggg",
            "#",
            "red",
            "#+1+2+3",
            "#１２３",
        ] {
            assert!(HexColour::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_accent_under_4_5_to_1_against_its_text_is_refused_with_the_ratio() {
        let refused = branding("accent: \"#777777\"\n").check();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].field, "accent");
        assert_eq!(
            refused[0].to_string(),
            "widget.accent: accent #777777 on #ffffff text has contrast 4.47:1, below WCAG's 4.5:1 (choose a darker or lighter accent, or set accent_text)"
        );
        assert!(branding("accent: \"#767676\"\n").check().is_empty());
        let yellow = branding("accent: \"#ffcc00\"\n").check();
        assert!(yellow[0].reason.contains("contrast 1.51:1"), "{yellow:?}");
        assert!(
            branding("accent: \"#ffcc00\"\naccent_text: \"#1f2430\"\n")
                .check()
                .is_empty(),
            "dark text on yellow reads well"
        );
    }

    #[test]
    fn unset_fields_keep_the_widgets_look_white_text_on_the_right_20_pixels_in() {
        let b = branding("accent: \"#3b5bdb\"\n");
        assert_eq!(b.accent_text, HexColour::WHITE);
        assert_eq!(b.position, Position::Right);
        assert_eq!(b.offset, Offset::default());
        assert_eq!((b.offset.x.get(), b.offset.y.get()), (20, 20));
        assert_eq!(b.title, None);
        assert!(b.check().is_empty());
    }

    #[test]
    fn texts_are_plain_or_per_language_and_bounded_and_a_blank_one_is_refused() {
        let b = branding(
            "accent: \"#3b5bdb\"\nposition: left\noffset: { x: 0, y: 200 }\ntitle: { en: Talk to sales, de: Vertrieb }\nsubtitle: We answer in minutes\nlauncher_label: Chat\navatar: https://cdn.acme.example/ana.png\n",
        );
        assert_eq!(b.position, Position::Left);
        assert_eq!(b.offset.y.get(), 200);
        let de = crate::domain::Lang::parse("de").unwrap();
        assert_eq!(b.title.as_ref().unwrap().pick(&de, &de), "Vertrieb");
        assert!(b.check().is_empty());

        let long = "x".repeat(MAX_LAUNCHER_LABEL_CHARS + 1);
        let b = branding(&format!(
            "accent: \"#3b5bdb\"\nlauncher_label: {long}\ntitle: {{ en: \" \" }}\n"
        ));
        let errors: Vec<String> = b.check().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "widget.title: the text (en) is blank",
                "widget.launcher_label: the text has 41 characters, at most 40"
            ]
        );
    }

    #[test]
    fn an_offset_past_200_pixels_a_third_side_or_an_avatar_not_on_https_is_refused() {
        for bad in [
            "accent: \"#3b5bdb\"\noffset: { x: 201 }\n",
            "accent: \"#3b5bdb\"\noffset: { x: -1 }\n",
            "accent: \"#3b5bdb\"\nposition: top\n",
            "accent: \"#3b5bdb\"\navatar: http://cdn.acme.example/a.png\n",
            "accent: \"#3b5bdb\"\navatar: javascript:alert(1)\n",
            "accent: \"#3b5bdb\"\navatar: \"https://x.example/a.png\\\" onerror=\\\"x\"\n",
            "accent: \"#3b5bdb\"\ncolour: red\n",
            "accent_text: \"#fff\"\n",
        ] {
            assert!(
                serde_saphyr::from_str::<Branding>(bad).is_err(),
                "{bad} was accepted"
            );
        }
        let long = format!("https://x.example/{}", "a".repeat(MAX_AVATAR_URL_BYTES));
        assert!(AvatarUrl::parse(&long).is_err());
    }

    #[test]
    fn the_site_view_writes_colours_as_lower_case_hex_and_leaves_unset_texts_out() {
        let b = branding("accent: \"#3B5BDB\"\nlauncher_label: { en: Chat, fr: Discuter }\n");
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({
                "accent": "#3b5bdb",
                "accent_text": "#ffffff",
                "position": "right",
                "offset": { "x": 20, "y": 20 },
                "launcher_label": { "en": "Chat", "fr": "Discuter" }
            })
        );
    }
}
