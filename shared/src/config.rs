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
    canned_responses: Vec<crate::domain::CannedResponse>,
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
    let (dialog, dialog_path, dialog_text) = match (config.dialog, config.dialog_file) {
        (Some(_), Some(_)) => {
            return Err(one(ConfigError {
                file: file.to_path_buf(),
                line: line_of(&text, "dialog_file").or_else(|| {
                    text.lines()
                        .position(|l| l.starts_with("dialog_file"))
                        .map(|i| i as u64 + 1)
                }),
                rule: "give the dialog inline (dialog) or as a file (dialog_file), not both".into(),
            }));
        }
        (Some(d), None) => (Some(d), file.to_path_buf(), text.clone()),
        (None, Some(name)) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(name);
            let dialog_text = read(&path).map_err(|e| {
                one(ConfigError {
                    file: path.clone(),
                    line: None,
                    rule: format!("cannot read the dialog file: {e}"),
                })
            })?;
            let dialog = Dialog::from_path_contents(&path.to_string_lossy(), &dialog_text)
                .map_err(|e| {
                    one(ConfigError {
                        file: path.clone(),
                        line: e.position().map(|(l, _)| l),
                        rule: e.to_string(),
                    })
                })?;
            (Some(dialog), path, dialog_text)
        }
        (None, None) => (None, file.to_path_buf(), String::new()),
    };
    let directory = Directory {
        agents: config.agents,
        teams: config.teams,
        rules: config.rules,
        account_routing: config.account_routing,
        settings: config.settings,
        dialog,
        canned_responses: config.canned_responses,
    };
    directory.validate().map_err(|errors| {
        ConfigErrors(
            errors
                .into_iter()
                .map(|e| {
                    let in_dialog = matches!(e, crate::routing::DirectoryError::Dialog(_));
                    let (at, body) = if in_dialog {
                        (&dialog_path, &dialog_text)
                    } else {
                        (&file.to_path_buf(), &text)
                    };
                    let line = match &e {
                        // An attribute name also appears as a key elsewhere
                        // (`email:` of an agent): look in the list itself.
                        crate::routing::DirectoryError::BadVerifiedAttribute {
                            attribute, ..
                        } => line_in_list(body, "verified_attributes", attribute.as_str()),
                        _ => None,
                    };
                    ConfigError {
                        file: at.clone(),
                        line: line.or_else(|| line_of(body, &e.subject())),
                        rule: e.to_string(),
                    }
                })
                .collect(),
        )
    })?;
    Ok(directory)
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
}
