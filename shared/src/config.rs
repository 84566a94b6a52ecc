//! Configuration as code: one YAML (or JSON) file holds the agents, teams, custom
//! rules, account routing, settings and the dialog (inline, or `dialog_file`
//! relative to the file). [`load`] parses and validates it whole; every error names
//! the file, the line where it can tell, and the rule broken.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::dialog::Dialog;
use crate::domain::{AccountRouting, Agent, CustomRule, Settings, Team};
use crate::routing::Directory;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, when known.
    pub line: Option<u64>,
    /// What is wrong.
    pub rule: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.rule),
            None => write!(f, "{}: {}", self.file.display(), self.rule),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    agents: Vec<Agent>,
    #[serde(default)]
    teams: Vec<Team>,
    #[serde(default)]
    rules: Vec<CustomRule>,
    #[serde(default)]
    account_routing: AccountRouting,
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    dialog: Option<Dialog>,
    #[serde(default)]
    dialog_file: Option<String>,
    #[serde(default)]
    dialogs: Option<Vec<DialogEntry>>,
    #[serde(default)]
    canned_responses: Vec<crate::domain::CannedResponse>,
    #[serde(default)]
    widget: Option<crate::domain::Branding>,
}

/// One of `dialogs:`: the dialog inline or as a file, and who it is for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DialogEntry {
    id: crate::domain::DialogId,
    #[serde(default)]
    dialog: Option<Dialog>,
    #[serde(default)]
    dialog_file: Option<String>,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    audience: crate::domain::Audience,
    #[serde(default)]
    teaser: bool,
}

/// Where a dialog was read from, to name in its errors.
struct Source {
    path: PathBuf,
    text: String,
}

/// The dialog of a top-level `dialog`/`dialog_file` pair or of one `dialogs:`
/// entry, with the file it came from; `key_at` is the line to blame for giving both.
fn resolve_dialog(
    file: &Path,
    text: &str,
    inline: Option<Dialog>,
    named: Option<String>,
    key_at: Option<u64>,
    read: &impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Option<(Dialog, Source)>, ConfigError> {
    match (inline, named) {
        (Some(_), Some(_)) => Err(ConfigError {
            file: file.to_path_buf(),
            line: key_at,
            rule: "give the dialog inline (dialog) or as a file (dialog_file), not both".into(),
        }),
        (Some(d), None) => Ok(Some((
            d,
            Source {
                path: file.to_path_buf(),
                text: text.to_string(),
            },
        ))),
        (None, Some(name)) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(name);
            let dialog_text = read(&path).map_err(|e| ConfigError {
                file: path.clone(),
                line: None,
                rule: format!("cannot read the dialog file: {e}"),
            })?;
            let dialog = Dialog::from_path_contents(&path.to_string_lossy(), &dialog_text)
                .map_err(|e| ConfigError {
                    file: path.clone(),
                    line: e.position().map(|(l, _)| l),
                    rule: e.to_string(),
                })?;
            Ok(Some((
                dialog,
                Source {
                    path,
                    text: dialog_text,
                },
            )))
        }
        (None, None) => Ok(None),
    }
}

/// The line of the first `key:` at or after line `from` (1-based).
fn line_after(text: &str, from: Option<u64>, key: &str) -> Option<u64> {
    let from = from.unwrap_or(1).saturating_sub(1) as usize;
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| {
            let l = l.trim_start().trim_start_matches("- ");
            l.starts_with(&format!("{key}:")) || l.starts_with(&format!("\"{key}\""))
        })
        .map(|(i, _)| i as u64 + 1)
}

/// The lines of `text` from line `from` (1-based) on, for a search that must not
/// find an earlier match.
fn text_from(text: &str, from: usize) -> String {
    text.lines()
        .skip(from.saturating_sub(1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The line of each `dialogs:` entry (its `- id:`), in order: the `- id:` lines
/// after the top-level `dialogs:` at the entries' indentation (an inline dialog's
/// cards are deeper), up to the next top-level key.
fn entry_lines(text: &str) -> Vec<u64> {
    let Some(start) = text.lines().position(|l| l.starts_with("dialogs:")) else {
        return Vec::new();
    };
    let mut indent = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(start + 1) {
        let top_level = !line.is_empty() && !line.starts_with([' ', '-', '#']);
        if top_level {
            break;
        }
        let trimmed = line.trim_start();
        if !trimmed.starts_with("- id:") {
            continue;
        }
        let at = line.len() - trimmed.len();
        if *indent.get_or_insert(at) == at {
            out.push(i as u64 + 1);
        }
    }
    out
}

/// The key of an audience that an audience error is about.
fn audience_key(error: &crate::domain::AudienceError) -> &'static str {
    use crate::domain::AudienceError;
    match error {
        AudienceError::TooManyPatterns { list, .. } => list,
        AudienceError::Scroll(_) => "min_scroll_percent",
        AudienceError::Seconds(_) => "min_seconds_on_page",
        AudienceError::TooManyConditions(_) | AudienceError::Condition(_) => "conditions",
    }
}

/// The line of `text` that defines `needle` (`id: x`, `- id: x`), else the first
/// that holds it as a value (`key: x`, `- x`, `"x"`), for errors that only know an id.
fn line_of(text: &str, needle: &str) -> Option<u64> {
    if needle.is_empty() {
        return None;
    }
    let values = [
        needle.to_string(),
        format!("\"{needle}\""),
        format!("'{needle}'"),
    ];
    let defines = |line: &str| {
        let line = line.trim().trim_start_matches("- ").trim();
        values.iter().any(|v| line == format!("id: {v}"))
    };
    let holds = |line: &str| {
        let line = line.trim();
        values
            .iter()
            .any(|v| line.ends_with(&format!(": {v}")) || line == format!("- {v}"))
            || line.contains(&format!("\"{needle}\""))
            || line.contains(&format!("[{needle},"))
            || line.contains(&format!(", {needle}]"))
            || line.contains(&format!(", {needle},"))
            || line.starts_with(&format!("{needle}:"))
    };
    let at = |f: &dyn Fn(&str) -> bool| text.lines().position(f).map(|i| i as u64 + 1);
    at(&defines).or_else(|| at(&holds))
}

/// The line of `text` at or after the `key:` line that lists `item` (`- item`, or
/// inline as `[item, ...]`).
fn line_in_list(text: &str, key: &str, item: &str) -> Option<u64> {
    let start = text
        .lines()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))?;
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(i, l)| {
            let l = l.trim();
            let inline = *i == start
                && l.split(['[', ']', ','])
                    .skip(1)
                    .any(|part| part.trim() == item);
            inline || l == format!("- {item}")
        })
        .map(|(i, _)| i as u64 + 1)
}

fn parse<T: for<'de> Deserialize<'de>>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let json = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if json {
        serde_json::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: Some(e.line() as u64),
            rule: e.to_string(),
        })
    } else {
        let options = serde_saphyr::options! { strict_booleans: true };
        serde_saphyr::from_str_with_options(text, options).map_err(|e: serde_saphyr::Error| {
            use serde_saphyr::MessageFormatter as _;
            let line = e.location().map(|at| at.line());
            let rule = serde_saphyr::DefaultMessageFormatter
                .format_message(e.without_snippet())
                .into_owned();
            ConfigError {
                file: file.to_path_buf(),
                line,
                rule,
            }
        })
    }
}

/// Loads and validates a configuration file; `read` reads a file (the dialog file
/// is resolved relative to the configuration file). On success the directory holds
/// the dialog.
pub fn load(
    file: &Path,
    read: impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Directory, ConfigErrors> {
    let one = |e: ConfigError| ConfigErrors(vec![e]);
    let text = read(file).map_err(|e| {
        one(ConfigError {
            file: file.to_path_buf(),
            line: None,
            rule: format!("cannot read: {e}"),
        })
    })?;
    let config: ConfigFile = parse(file, &text).map_err(one)?;
    let top_key = line_of(&text, "dialog_file").or_else(|| key_line(&text, "dialog_file"));
    let single = resolve_dialog(
        file,
        &text,
        config.dialog,
        config.dialog_file,
        top_key,
        &read,
    )
    .map_err(one)?;
    // Each dialog with the file its cards are in.
    let mut dialogs = Vec::new();
    let mut sources = Vec::new();
    match (single, config.dialogs) {
        (Some(_), Some(_)) => {
            return Err(one(ConfigError {
                file: file.to_path_buf(),
                line: key_line(&text, "dialogs"),
                rule: "give one dialog (dialog or dialog_file) or a list (dialogs), not both"
                    .into(),
            }));
        }
        (Some((dialog, source)), None) => {
            dialogs.push(crate::routing::TargetedDialog::everywhere(dialog));
            sources.push(source);
        }
        (None, Some(entries)) => {
            let mut errors = Vec::new();
            for entry in entries {
                let at = line_of(&text, entry.id.as_str());
                match resolve_dialog(file, &text, entry.dialog, entry.dialog_file, at, &read) {
                    Ok(Some((dialog, source))) => {
                        dialogs.push(crate::routing::TargetedDialog {
                            id: entry.id,
                            priority: entry.priority,
                            audience: entry.audience,
                            teaser: entry.teaser,
                            dialog,
                        });
                        sources.push(source);
                    }
                    Ok(None) => errors.push(ConfigError {
                        file: file.to_path_buf(),
                        line: at,
                        rule: format!(
                            "dialog {}: give its cards inline (dialog) or as a file (dialog_file)",
                            entry.id
                        ),
                    }),
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                return Err(ConfigErrors(errors));
            }
        }
        (None, None) => {}
    }
    let directory = Directory {
        agents: config.agents,
        teams: config.teams,
        rules: config.rules,
        account_routing: config.account_routing,
        settings: config.settings,
        dialogs,
        canned_responses: config.canned_responses,
        widget: config.widget,
    };
    directory.validate().map_err(|errors| {
        ConfigErrors(
            errors
                .into_iter()
                .map(|e| locate(file, &text, &sources, e))
                .collect(),
        )
    })?;
    Ok(directory)
}

/// A directory error with the file and line it is about: a dialog's card in the
/// dialog's file, an audience's key under its dialog's entry, the rest by the id
/// they name in the configuration file.
fn locate(
    file: &Path,
    text: &str,
    sources: &[Source],
    e: crate::routing::DirectoryError,
) -> ConfigError {
    use crate::routing::DirectoryError;
    let entry_line = |at: usize| entry_lines(text).get(at).copied();
    let in_config = |line: Option<u64>| (file.to_path_buf(), text, line);
    let (at, body, line) = match &e {
        DirectoryError::Dialog(error) => match sources.first() {
            Some(source) => (
                source.path.clone(),
                source.text.as_str(),
                error.card().and_then(|c| line_of(&source.text, c.as_str())),
            ),
            None => in_config(None),
        },
        DirectoryError::InDialog { at, error, .. } => match sources.get(*at) {
            Some(source) => {
                let inline = source.path == file;
                let card = if inline {
                    // The card's line after its own entry's, not another's.
                    error.card().and_then(|c| {
                        let from = entry_line(*at).unwrap_or(1) as usize;
                        line_of(&text_from(text, from), c.as_str()).map(|l| l + from as u64 - 1)
                    })
                } else {
                    error.card().and_then(|c| line_of(&source.text, c.as_str()))
                };
                let fallback = if inline { entry_line(*at) } else { None };
                (source.path.clone(), source.text.as_str(), card.or(fallback))
            }
            None => in_config(entry_line(*at)),
        },
        DirectoryError::BadAudience { at, error, .. } => {
            let entry = entry_line(*at);
            in_config(line_after(text, entry, audience_key(error)).or(entry))
        }
        DirectoryError::DuplicateDialog { at, .. }
        | DirectoryError::DialogIdMismatch { at, .. } => in_config(entry_line(*at)),
        // An attribute name also appears as a key elsewhere (`email:` of an
        // agent): look in the list itself.
        DirectoryError::BadVerifiedAttribute { attribute, .. } => in_config(line_in_list(
            text,
            "verified_attributes",
            attribute.as_str(),
        )),
        DirectoryError::Branding(error) => in_config(key_line_under(text, "widget", error.field)),
        _ => in_config(None),
    };
    ConfigError {
        line: line.or_else(|| line_of(body, &e.subject())),
        file: at,
        rule: e.to_string(),
    }
}

/// A dialog file's validation errors, each with the line of the card it names (a
/// dialog-wide one, `fallback_language`'s or `start`'s), as [`load`] reports the
/// errors of a configuration's dialog: for `livechat validate DIALOG_FILE`.
pub fn locate_dialog_errors(
    file: &Path,
    text: &str,
    errors: &[crate::dialog::DialogError],
) -> ConfigErrors {
    use crate::dialog::DialogError;
    ConfigErrors(
        errors
            .iter()
            .map(|e| {
                let line = match (e, e.card()) {
                    (_, Some(card)) => line_of(text, card.as_str()),
                    (DialogError::FallbackNotDeclared { .. }, None) => {
                        key_line(text, "fallback_language")
                    }
                    (_, None) => key_line(text, "start"),
                };
                ConfigError {
                    file: file.to_path_buf(),
                    line,
                    rule: e.to_string(),
                }
            })
            .collect(),
    )
}

/// The line of `key:` (or `"key":`) inside the top-level `section:` (the first
/// after it), else the section's own line.
fn key_line_under(text: &str, section: &str, key: &str) -> Option<u64> {
    let start = key_line(text, section)?;
    let inside = text
        .lines()
        .enumerate()
        .skip(start as usize)
        .take_while(|(_, l)| l.is_empty() || l.starts_with([' ', '\t', '#']))
        .find(|(_, l)| {
            let l = l.trim_start();
            l.starts_with(&format!("{key}:")) || l.starts_with(&format!("\"{key}\""))
        })
        .map(|(i, _)| i as u64 + 1);
    inside.or(Some(start))
}

/// The line of a top-level `key:` (or `"key":`).
fn key_line(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .position(|l| {
            l.starts_with(&format!("{key}:")) || l.trim_start().starts_with(&format!("\"{key}\""))
        })
        .map(|i| i as u64 + 1)
}

/// What a valid configuration leaves open, for `livechat validate` to warn about:
/// nothing here is an error, since existing embeds must keep working.
pub fn warnings(directory: &Directory) -> Vec<String> {
    let mut out = Vec::new();
    if directory.settings.allowed_origins.is_none() {
        out.push(
            "settings.allowed_origins is not set: pages of any site may open visitor sockets \
             (list the sites that embed the widget, e.g. [\"https://www.acme.example\"])"
                .into(),
        );
    }
    out.extend(overlap_warnings(directory));
    out
}

/// Two dialogs of the same priority whose audiences some page may be in: which
/// one a visitor gets is then only the file's order, seldom what was meant.
fn overlap_warnings(directory: &Directory) -> Vec<String> {
    let dialogs = &directory.dialogs;
    let mut out = Vec::new();
    for (i, a) in dialogs.iter().enumerate() {
        for b in &dialogs[i + 1..] {
            if a.priority == b.priority && a.audience.may_overlap(&b.audience) {
                out.push(format!(
                    "dialogs {} and {} have the same priority ({}) and audiences that may \
                     overlap: where both match, {} (the first in the file) is shown; give \
                     one a higher priority",
                    a.id, b.id, a.priority, a.id
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn files(pairs: &[(&str, &str)]) -> impl Fn(&Path) -> std::io::Result<String> {
        let map: HashMap<PathBuf, String> = pairs
            .iter()
            .map(|(k, v)| (PathBuf::from(k), v.to_string()))
            .collect();
        move |p: &Path| {
            map.get(p)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    }

    const AGENTS: &str =
        "agents:\n  - id: ana\n    name: Ana\n    email: ana@x.example\n    roles: [live_agent]\n";

    #[test]
    fn the_demo_configuration_loads_with_its_dialog_file() {
        let read = files(&[
            ("examples/demo-config.yaml", crate::demo::CONFIG_YAML),
            ("examples/sales-dialog.yaml", crate::demo::DIALOG_YAML),
            (
                "examples/pricing-dialog.yaml",
                crate::demo::PRICING_DIALOG_YAML,
            ),
        ]);
        let directory = load(Path::new("examples/demo-config.yaml"), read).unwrap();
        assert_eq!(directory.agents.len(), 4);
        assert!(directory.valid_dialog().is_some_and(|d| d.is_ok()));
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let text = format!("{AGENTS}teams:\n  - id: sales\n    name: [oops\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].file, PathBuf::from("c.yaml"));
        assert!(err.0[0].line.is_some_and(|l| l >= 7), "{err}");
    }

    #[test]
    fn canned_responses_load_and_a_repeated_shortcut_or_bad_token_names_its_line() {
        let ok = format!(
            "{AGENTS}canned_responses:\n  - shortcut: pricing\n    text: \"Hi {{{{visitor.first_name:\\\"there\\\"}}}}, our plans\"\n"
        );
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", &ok)])).unwrap();
        assert_eq!(directory.canned_responses.len(), 1);
        assert_eq!(directory.canned_responses[0].shortcut.as_str(), "pricing");

        let twice = format!(
            "{AGENTS}canned_responses:\n  - shortcut: pricing\n    text: one\n  - shortcut: pricing\n    text: two\n"
        );
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &twice)])).unwrap_err();
        assert!(err.to_string().contains("pricing is used twice"), "{err}");
        assert!(err.0[0].line.is_some(), "{err}");

        let bad = format!(
            "{AGENTS}canned_responses:\n  - shortcut: pricing\n    text: \"Hi {{{{name}}}}\"\n"
        );
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &bad)])).unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
        assert!(err.0[0].line.is_some(), "{err}");
    }

    #[test]
    fn an_unknown_field_is_refused_rather_than_ignored() {
        let text = format!("{AGENTS}teamz: []\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert!(err.to_string().contains("teamz"), "{err}");
    }

    #[test]
    fn notification_settings_and_the_grace_period_load_and_bad_ones_name_their_line() {
        let text = format!(
            "{AGENTS}    notifications:\n      email: {{ new_requests: false }}\n      webhook: {{ url: \"https://hooks.example/T0\" }}\nsettings:\n  grace_period: 30\n"
        );
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap();
        let ana = &directory.agents[0].notifications;
        assert!(!ana.email.new_requests && ana.email.missed_requests);
        assert_eq!(
            ana.webhook.as_ref().unwrap().url.as_str(),
            "https://hooks.example/T0"
        );
        assert_eq!(
            directory.settings.grace_period,
            crate::domain::GracePeriod::from_secs(30).unwrap()
        );

        let text = format!(
            "{AGENTS}    notifications:\n      webhook: {{ url: \"http://hooks.example/T0\" }}\n"
        );
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert!(err.to_string().starts_with("c.yaml:7"), "{err}");
        assert!(err.to_string().contains("https://"), "{err}");

        let text = format!("{AGENTS}settings:\n  grace_period: 5\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert!(err.to_string().starts_with("c.yaml:7"), "{err}");
        assert!(err.to_string().contains("10 to 600 seconds"), "{err}");
    }

    #[test]
    fn the_queue_wait_limit_is_off_unless_set_and_a_bad_one_names_its_line() {
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", AGENTS)])).unwrap();
        assert_eq!(
            directory.settings.queue_wait_limit, None,
            "no queue by default"
        );

        let text = format!("{AGENTS}settings:\n  queue_wait_limit: 300\n");
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap();
        assert_eq!(
            directory.settings.queue_wait_limit,
            Some(crate::domain::QueueWaitLimit::from_secs(300).unwrap())
        );

        let text = format!("{AGENTS}settings:\n  queue_wait_limit: 5\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert!(err.to_string().starts_with("c.yaml:7"), "{err}");
        assert!(err.to_string().contains("10 to 3600 seconds"), "{err}");
    }

    #[test]
    fn the_analytics_time_zone_is_utc_unless_set_and_an_unknown_one_names_its_line() {
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", AGENTS)])).unwrap();
        assert_eq!(directory.settings.time_zone, None);
        let text = format!("{AGENTS}settings:\n  time_zone: America/Los_Angeles\n");
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap();
        assert_eq!(
            directory.settings.time_zone,
            Some(crate::domain::TimeZoneName::parse("America/Los_Angeles").unwrap())
        );
        let text = format!("{AGENTS}settings:\n  time_zone: Mars/Olympus\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert!(err.to_string().starts_with("c.yaml:7"), "{err}");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn allowed_origins_load_as_origins_a_bad_one_names_its_line_and_none_is_warned_about() {
        let text = format!(
            "{AGENTS}settings:\n  allowed_origins:\n    - https://www.acme.example\n    - \"HTTPS://Acme.example:443\"\n"
        );
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap();
        let allowed: Vec<&str> = directory
            .settings
            .allowed_origins
            .iter()
            .flatten()
            .map(|o| o.as_str())
            .collect();
        assert_eq!(
            allowed,
            ["https://www.acme.example", "https://acme.example"]
        );
        assert!(warnings(&directory).is_empty());

        let text = format!(
            "{AGENTS}settings:\n  allowed_origins:\n    - https://www.acme.example\n    - https://acme.example/pricing\n"
        );
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert!(err.to_string().starts_with("c.yaml:9"), "{err}");
        assert!(err.to_string().contains("no path"), "{err}");

        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", AGENTS)])).unwrap();
        let warned = warnings(&directory);
        assert_eq!(warned.len(), 1);
        assert!(warned[0].contains("allowed_origins"), "{warned:?}");
    }

    #[test]
    fn blocked_email_domains_load_and_a_bad_one_names_its_file_and_line() {
        let text =
            format!("{AGENTS}settings:\n  blocked_email_domains: [gmail.com, yahoo.co.uk]\n");
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap();
        let blocked: Vec<&str> = directory
            .settings
            .blocked_email_domains
            .iter()
            .map(|d| d.as_str())
            .collect();
        assert_eq!(blocked, ["gmail.com", "yahoo.co.uk"]);

        for (entry, why) in [
            ("Gmail.com", "lower case"),
            ("\"@gmail.com\"", "without the @"),
        ] {
            let text = format!(
                "{AGENTS}settings:\n  blocked_email_domains:\n    - gmail.com\n    - {entry}\n"
            );
            let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
            assert!(err.to_string().starts_with("c.yaml:9"), "{err}");
            assert!(err.to_string().contains(why), "{err}");
        }
    }

    #[test]
    fn a_verified_only_attribute_the_widget_or_a_card_sets_names_its_line() {
        let text = format!("{AGENTS}settings:\n  verified_attributes: [plan, company_id]\n");
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap();
        assert_eq!(directory.settings.verified_attributes.len(), 2);

        let text = format!("{AGENTS}settings:\n  verified_attributes:\n    - plan\n    - email\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:9: settings.verified_attributes lists email: the widget, the dialog or the fallback form sets it, so it cannot be verified-only"
        );

        // The demo dialog's question stores its answer in wants_sales.
        let read = files(&[
            ("examples/demo-config.yaml", crate::demo::CONFIG_YAML),
            ("examples/sales-dialog.yaml", crate::demo::DIALOG_YAML),
            (
                "examples/pricing-dialog.yaml",
                crate::demo::PRICING_DIALOG_YAML,
            ),
        ]);
        let mut directory = load(Path::new("examples/demo-config.yaml"), read).unwrap();
        directory.settings.verified_attributes =
            vec![crate::domain::AttributeName::parse("wants_sales").unwrap()];
        let errors = directory.validate().unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "settings.verified_attributes lists wants_sales: card ask stores the visitor's answer in it, and an answer is never signed"
        );
    }

    #[test]
    fn a_low_contrast_accent_is_refused_with_its_ratio_file_and_line() {
        let text =
            format!("{AGENTS}widget:\n  title: Sales\n  accent: \"#ffcc00\"\n  position: left\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:8: widget.accent: accent #ffcc00 on #ffffff text has contrast 1.51:1, below WCAG's 4.5:1 (choose a darker or lighter accent, or set accent_text)"
        );

        let text = format!(
            "{AGENTS}widget:\n  accent: \"#ffcc00\"\n  accent_text: \"#1f2430\"\n  launcher_label: {{ en: Chat, de: \"  \" }}\n"
        );
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:9: widget.launcher_label: the text (de) is blank"
        );

        let text = format!("{AGENTS}widget:\n  accent: \"#767676\"\n  offset: {{ x: 0, y: 80 }}\n");
        let directory = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap();
        let widget = directory.widget.unwrap();
        assert_eq!(widget.accent.to_string(), "#767676");
        assert_eq!(widget.offset.y.get(), 80);

        let text =
            format!("{AGENTS}widget:\n  accent: \"#767676\"\n  offset: {{ x: 0, y: 280 }}\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert!(err.to_string().starts_with("c.yaml:8"), "{err}");
        assert!(err.to_string().contains("0 to 200 pixels"), "{err}");
    }

    #[test]
    fn a_broken_rule_names_the_line_of_the_thing_it_is_about() {
        let text =
            format!("{AGENTS}teams:\n  - id: sales\n    name: Sales\n    members: [ana, zed]\n");
        let err = load(Path::new("c.yaml"), files(&[("c.yaml", &text)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:7: team sales lists unknown agent zed"
        );
    }

    #[test]
    fn a_dialog_error_names_the_dialog_file_card_line_and_rule() {
        let dialog = "id: d\nname: D\nstart: hello\ncards:\n  - id: hello\n    type: live_chat\n    routing: { mode: agent, agent: nobody }\n";
        let text = format!("{AGENTS}dialog_file: d.yaml\n");
        let err = load(
            Path::new("conf/c.yaml"),
            files(&[("conf/c.yaml", &text), ("conf/d.yaml", dialog)]),
        )
        .unwrap_err();
        let first = &err.0[0];
        assert_eq!(
            (first.file.as_path(), first.line),
            (Path::new("conf/d.yaml"), Some(5)),
            "{err}"
        );
        assert!(first.rule.contains("nobody"), "{err}");
    }

    #[test]
    fn a_dialog_files_own_errors_are_located_on_their_cards_lines() {
        let text = "id: d\nname: D\nlanguages: [en, de]\nfallback_language: fr\nstart: hello\ncards:\n  - id: hello\n    type: message\n    text: {en: Hi}\n";
        let dialog = Dialog::from_yaml(text).unwrap();
        let errors = crate::dialog::validate(&dialog, &Default::default()).unwrap_err();
        let located = locate_dialog_errors(Path::new("d.yaml"), text, &errors);
        assert_eq!(
            located.to_string(),
            "d.yaml:4: dialog: the fallback language fr is not among the languages it declares (en, de)\n\
             d.yaml:7: card \"hello\": the text has no de text (the dialog declares languages: en, de)"
        );
    }

    #[test]
    fn a_card_missing_a_declared_language_is_named_with_its_file_and_line() {
        let dialog = "id: d\nname: D\nlanguages: [en, de]\nstart: hello\ncards:\n  - id: hello\n    type: message\n    text: {en: Hi}\n";
        let text = format!("{AGENTS}dialog_file: d.yaml\n");
        let err = load(
            Path::new("conf/c.yaml"),
            files(&[("conf/c.yaml", &text), ("conf/d.yaml", dialog)]),
        )
        .unwrap_err();
        let first = &err.0[0];
        assert_eq!(
            (first.file.as_path(), first.line),
            (Path::new("conf/d.yaml"), Some(6)),
            "{err}"
        );
        assert!(first.rule.contains("no de text"), "{err}");
    }

    const HELLO: &str =
        "start: hi\n      cards:\n        - id: hi\n          type: message\n          text: Hi\n";

    fn two_dialogs(first: &str, second: &str) -> String {
        format!(
            "{AGENTS}dialogs:\n  - id: pricing\n{first}    dialog:\n      id: pricing\n      name: P\n      {HELLO}  - id: blog\n{second}    dialog_file: blog.yaml\n"
        )
    }

    const BLOG: &str =
        "id: blog\nname: B\nstart: hi\ncards:\n  - id: hi\n    type: message\n    text: Hi\n";

    #[test]
    fn several_dialogs_load_inline_and_from_files_with_their_audiences_in_file_order() {
        let text = two_dialogs(
            "    priority: 10\n    teaser: true\n    audience:\n      include: [\"Acme.com/pricing*\"]\n      min_seconds_on_page: 5\n      min_scroll_percent: 50\n      conditions:\n        - { attribute: company_size, operator: greater, value: 500 }\n",
            "    audience: { include: [\"acme.com/blog/*\"], exclude: [\"acme.com/blog/old*\"] }\n",
        );
        let directory = load(
            Path::new("c/c.yaml"),
            files(&[("c/c.yaml", &text), ("c/blog.yaml", BLOG)]),
        )
        .unwrap();
        let ids: Vec<&str> = directory.dialogs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["pricing", "blog"]);
        let pricing = &directory.dialogs[0];
        assert_eq!((pricing.priority, pricing.teaser), (10, true));
        assert_eq!(pricing.audience.include[0].as_str(), "acme.com/pricing*");
        assert_eq!(pricing.audience.min_scroll_percent, 50);
        assert_eq!(pricing.audience.conditions.len(), 1);
        assert_eq!(directory.dialogs[1].audience.exclude.len(), 1);
        assert!(warnings(&directory).iter().all(|w| !w.contains("dialogs")));
    }

    #[test]
    fn a_single_dialog_is_one_dialog_on_every_page_and_both_forms_at_once_are_refused() {
        let read = files(&[
            ("examples/demo-config.yaml", crate::demo::CONFIG_YAML),
            ("examples/sales-dialog.yaml", crate::demo::DIALOG_YAML),
            (
                "examples/pricing-dialog.yaml",
                crate::demo::PRICING_DIALOG_YAML,
            ),
        ]);
        let single = crate::demo::CONFIG_YAML
            .split("dialogs:\n")
            .next()
            .unwrap()
            .to_string()
            + "dialog_file: sales-dialog.yaml\n";
        let read_single = |p: &Path| {
            if p == Path::new("examples/demo-config.yaml") {
                Ok(single.clone())
            } else {
                read(p)
            }
        };
        let directory = load(Path::new("examples/demo-config.yaml"), read_single).unwrap();
        assert_eq!(directory.dialogs.len(), 1);
        assert_eq!(directory.dialogs[0].id.as_str(), "sales");
        assert_eq!(
            directory.dialogs[0].audience,
            crate::domain::Audience::default()
        );

        let text = format!("{}dialog_file: blog.yaml\n", two_dialogs("", ""));
        let err = load(
            Path::new("c.yaml"),
            files(&[("c.yaml", &text), ("blog.yaml", BLOG)]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:6: give one dialog (dialog or dialog_file) or a list (dialogs), not both"
        );
    }

    #[test]
    fn each_dialog_problem_names_its_file_and_line() {
        // A bad pattern, where it is written.
        let text = two_dialogs("    audience: { include: [\"https://acme.com/*\"] }\n", "");
        let err = load(
            Path::new("c.yaml"),
            files(&[("c.yaml", &text), ("blog.yaml", BLOG)]),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("c.yaml:8"), "{err}");
        assert!(err.to_string().contains("has a scheme"), "{err}");

        // An unknown audience attribute.
        let text = two_dialogs("    audience:\n      min_seconds: 5\n", "");
        let err = load(
            Path::new("c.yaml"),
            files(&[("c.yaml", &text), ("blog.yaml", BLOG)]),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("c.yaml:9"), "{err}");
        assert!(err.to_string().contains("min_seconds"), "{err}");

        // An out-of-range scroll depth, on its own line.
        let text = two_dialogs("    audience:\n      min_scroll_percent: 120\n", "");
        let err = load(
            Path::new("c.yaml"),
            files(&[("c.yaml", &text), ("blog.yaml", BLOG)]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yaml:9: dialog pricing: audience.min_scroll_percent is 120: it is a percentage, 0 to 100"
        );

        // A duplicate id, at its second definition; a card's problem in its file.
        let text = two_dialogs("", "").replace("  - id: blog\n", "  - id: pricing\n");
        let broken_blog = BLOG.replace("    text: Hi\n", "    text: Hi\n    next: nowhere\n");
        let err = load(
            Path::new("c.yaml"),
            files(&[("c.yaml", &text), ("blog.yaml", &broken_blog)]),
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("c.yaml:16: dialog id pricing is used twice"),
            "{shown}"
        );
        assert!(
            shown.contains("c.yaml:16: dialog pricing: the dialog's own id is blog"),
            "{shown}"
        );
        assert!(
            shown.contains("blog.yaml:5: dialog pricing: card"),
            "{shown}"
        );
        assert!(shown.contains("nowhere"), "{shown}");
    }

    #[test]
    fn two_dialogs_of_the_same_priority_whose_audiences_may_overlap_are_a_warning() {
        let text = two_dialogs(
            "    audience: { include: [\"acme.com/*\"] }\n",
            "    audience: { include: [\"acme.com/blog/*\"] }\n",
        );
        let directory = load(
            Path::new("c.yaml"),
            files(&[("c.yaml", &text), ("blog.yaml", BLOG)]),
        )
        .unwrap();
        let warned: Vec<String> = warnings(&directory)
            .into_iter()
            .filter(|w| w.contains("dialogs"))
            .collect();
        assert_eq!(
            warned,
            [
                "dialogs pricing and blog have the same priority (0) and audiences that may overlap: where both match, pricing (the first in the file) is shown; give one a higher priority"
            ]
        );

        let text = two_dialogs(
            "    priority: 1\n    audience: { include: [\"acme.com/*\"] }\n",
            "    audience: { include: [\"acme.com/blog/*\"] }\n",
        );
        let directory = load(
            Path::new("c.yaml"),
            files(&[("c.yaml", &text), ("blog.yaml", BLOG)]),
        )
        .unwrap();
        assert!(warnings(&directory).iter().all(|w| !w.contains("dialogs")));
    }
}
