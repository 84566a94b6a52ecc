//! The functions' configuration, read once at cold start. A missing or bad variable
//! is named in the error ([`ConfigError`]); [`crate::runtime::serve`] then fails the
//! init: one JSON log line naming the variable, the error posted to the Lambda
//! Runtime API's `/runtime/init/error`, and a non-zero exit.
//!
//! Nothing falls back silently. `TABLE_NAME` and `DELAY_QUEUE_URL` are required:
//! without them a function would keep its data in memory and its timers in a process
//! that Lambda freezes between invocations and discards at will. Only a run that
//! says it is local (`LIVECHAT_LOCAL=1`: `cargo lambda watch`, the bench) may leave
//! them unset, and then gets the in-memory store and in-process timers. The local
//! gateway builds its own [`Config`] and never reads the environment for it.

use std::path::PathBuf;

/// Where agent tokens' signing keys come from.
#[derive(Clone, PartialEq, Eq)]
pub enum AgentKeys {
    /// `AGENT_TOKEN_SECRET`: HS256 with a shared secret (local runs).
    Secret(String),
    /// `AGENT_JWKS`: the issuer's JSON Web Key Set (RS256, e.g. Cognito).
    Jwks(String),
}

impl std::fmt::Debug for AgentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentKeys::Secret(_) => f.write_str("Secret(..)"),
            AgentKeys::Jwks(_) => f.write_str("Jwks(..)"),
        }
    }
}

/// The functions' settings.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `WEBSOCKET_MANAGEMENT_ENDPOINT`: `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
    pub management_endpoint: String,
    /// `DELAY_QUEUE_URL`: the SQS delay queue. Required unless `LIVECHAT_LOCAL=1`;
    /// `None` only in a local run, whose delayed events stay in the process.
    pub delay_queue_url: Option<String>,
    /// `TOKEN_ISSUER`: the `iss` of agent tokens and of visitor tokens.
    pub token_issuer: String,
    /// `AGENT_TOKEN_AUDIENCE`: the `aud` agent tokens must carry.
    pub agent_audience: String,
    /// `AGENT_TOKEN_SECRET` or `AGENT_JWKS`.
    pub agent_keys: AgentKeys,
    /// `VISITOR_TOKEN_SECRET`: signs visitor session tokens (at least 32 bytes).
    pub visitor_secret: String,
    /// `IDENTIFY_SECRET`: the account's key for signed identify (docs/identify.md),
    /// at least 32 bytes. Optional: unset, every signed identify is
    /// `not_configured` and no attribute is verified.
    pub identify_secret: Option<String>,
    /// `DIALOG_PATH`: the dialog file (JSON or YAML); the bundled demo dialog when unset.
    pub dialog_path: Option<PathBuf>,
    /// `DIRECTORY_PATH`: the configuration file (agents, teams, rules, account
    /// routing, settings, dialog; YAML or JSON, docs/config.md); the demo one when
    /// unset. Seeds the store when it has no directory yet.
    pub directory_path: Option<PathBuf>,
    /// `TABLE_NAME`: the DynamoDB table. Required unless `LIVECHAT_LOCAL=1`; `None`
    /// only in a local run, on the in-memory store.
    pub table_name: Option<String>,
    /// `DYNAMODB_ENDPOINT`: a DynamoDB endpoint other than AWS's (DynamoDB Local).
    pub dynamodb_endpoint: Option<String>,
    /// `WAIT_TIME_LIMIT_SECONDS`, `FALLBACK_MESSAGE`, `MEETING_LINK`: the settings of
    /// the configuration a new table is seeded with (the stack's parameters).
    pub seed_settings: SeedSettings,
    /// `NOTIFY_FROM_EMAIL`: the SES-verified address notices are emailed from; unset,
    /// emails go to `EMAIL_OUTBOX` if set and are refused otherwise (webhooks are
    /// posted either way).
    pub notify_from_email: Option<livechat_core::domain::Email>,
    /// `EMAIL_OUTBOX`: a file emails are appended to instead of being sent, when
    /// there is no `NOTIFY_FROM_EMAIL`. Read only in a local run (`LIVECHAT_LOCAL=1`).
    pub email_outbox: Option<PathBuf>,
    /// `SES_ENDPOINT`: an SES endpoint other than AWS's (a local capture in tests).
    pub ses_endpoint: Option<String>,
    /// Whether the in-memory store keeps its writes' changes for the analytics:
    /// only for a process that drains them (the local gateway); never read from
    /// the environment, so a function never keeps them.
    pub keep_changes: bool,
    /// `INBOX_ORIGIN`: the Agent Inbox's origin (`https://d111.cloudfront.net`; several
    /// separated by commas): inbox sockets are accepted only from its pages, and
    /// visitor sockets from them besides the account's `allowed_origins`. Required
    /// unless `LIVECHAT_LOCAL=1`; `None` only in a local run, where any page may
    /// open an inbox socket.
    pub inbox_origins: Option<Vec<livechat_core::domain::Origin>>,
}

/// Settings given at deploy time for the first configuration; empty values keep
/// the configuration file's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSettings {
    /// The visitor wait time limit.
    pub wait_time_limit: Option<livechat_core::domain::WaitTimeLimit>,
    /// A custom fallback message.
    pub fallback_message: Option<String>,
    /// A meeting-booking link.
    pub meeting_link: Option<String>,
}

impl SeedSettings {
    /// Applies the given settings to `settings`.
    pub fn apply(&self, settings: &mut livechat_core::domain::Settings) {
        if let Some(limit) = self.wait_time_limit {
            settings.wait_time_limit = limit;
        }
        if let Some(text) = &self.fallback_message {
            settings.fallback = livechat_core::domain::FallbackMessage::Custom(text.clone());
        }
        if let Some(link) = &self.meeting_link {
            settings.meeting_link = Some(link.clone());
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("management_endpoint", &self.management_endpoint)
            .field("delay_queue_url", &self.delay_queue_url)
            .field("token_issuer", &self.token_issuer)
            .field("agent_audience", &self.agent_audience)
            .field("agent_keys", &self.agent_keys)
            .field("dialog_path", &self.dialog_path)
            .field("directory_path", &self.directory_path)
            .field("table_name", &self.table_name)
            .field("dynamodb_endpoint", &self.dynamodb_endpoint)
            .field("seed_settings", &self.seed_settings)
            .field("inbox_origins", &self.inbox_origins)
            .finish_non_exhaustive()
    }
}

/// `LIVECHAT_LOCAL`: `1` marks a local run, which may leave `TABLE_NAME` and
/// `DELAY_QUEUE_URL` unset. Never set in the SAM template (a test checks it).
pub const LOCAL: &str = "LIVECHAT_LOCAL";

/// A configuration problem, naming the variable.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {var}: {reason}")]
    Invalid { var: &'static str, reason: String },
}

impl ConfigError {
    /// The variable at fault.
    pub fn variable(&self) -> &'static str {
        match self {
            ConfigError::Missing(var) | ConfigError::Invalid { var, .. } => var,
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &'static str| lookup(var).filter(|v| !v.trim().is_empty());
        let required = |var: &'static str| get(var).ok_or(ConfigError::Missing(var));
        let local = match get(LOCAL).as_deref().map(str::trim) {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: LOCAL,
                    reason: format!("{other:?} is neither 1 (a local run) nor 0"),
                });
            }
        };
        // Required in Lambda; a local run may do without (see the module's doc).
        let deployed = |var: &'static str| match get(var) {
            None if !local => Err(ConfigError::Missing(var)),
            value => Ok(value),
        };
        let table_name = deployed("TABLE_NAME")?;
        let inbox_origins = deployed("INBOX_ORIGIN")?
            .map(|v| {
                v.split(',')
                    .map(|o| {
                        livechat_core::domain::Origin::parse(o.trim()).map_err(|e| {
                            ConfigError::Invalid {
                                var: "INBOX_ORIGIN",
                                reason: e.to_string(),
                            }
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let delay_queue_url = deployed("DELAY_QUEUE_URL")?;
        let agent_keys = match (get("AGENT_JWKS"), get("AGENT_TOKEN_SECRET")) {
            (Some(jwks), _) => AgentKeys::Jwks(jwks),
            (None, Some(secret)) => AgentKeys::Secret(secret),
            (None, None) => return Err(ConfigError::Missing("AGENT_JWKS or AGENT_TOKEN_SECRET")),
        };
        let visitor_secret = required("VISITOR_TOKEN_SECRET")?;
        if visitor_secret.len() < 32 {
            return Err(ConfigError::Invalid {
                var: "VISITOR_TOKEN_SECRET",
                reason: "must be at least 32 bytes".into(),
            });
        }
        let identify_secret = get("IDENTIFY_SECRET");
        if identify_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(ConfigError::Invalid {
                var: "IDENTIFY_SECRET",
                reason: "must be at least 32 bytes".into(),
            });
        }
        let management_endpoint = required("WEBSOCKET_MANAGEMENT_ENDPOINT")?;
        if !management_endpoint.starts_with("http://")
            && !management_endpoint.starts_with("https://")
        {
            return Err(ConfigError::Invalid {
                var: "WEBSOCKET_MANAGEMENT_ENDPOINT",
                reason: "must be an http(s) URL such as https://abc123.execute-api.eu-west-1.amazonaws.com/prod".into(),
            });
        }
        Ok(Self {
            management_endpoint,
            delay_queue_url,
            token_issuer: required("TOKEN_ISSUER")?,
            agent_audience: required("AGENT_TOKEN_AUDIENCE")?,
            agent_keys,
            visitor_secret,
            identify_secret,
            dialog_path: get("DIALOG_PATH").map(PathBuf::from),
            directory_path: get("DIRECTORY_PATH").map(PathBuf::from),
            table_name,
            dynamodb_endpoint: get("DYNAMODB_ENDPOINT"),
            keep_changes: false,
            seed_settings: SeedSettings {
                wait_time_limit: get("WAIT_TIME_LIMIT_SECONDS")
                    .map(|v| {
                        let secs = v.trim().parse::<u32>().map_err(|_| ConfigError::Invalid {
                            var: "WAIT_TIME_LIMIT_SECONDS",
                            reason: format!("{v:?} is not a number of seconds"),
                        })?;
                        livechat_core::domain::WaitTimeLimit::from_secs(secs).map_err(|e| {
                            ConfigError::Invalid {
                                var: "WAIT_TIME_LIMIT_SECONDS",
                                reason: e.to_string(),
                            }
                        })
                    })
                    .transpose()?,
                fallback_message: get("FALLBACK_MESSAGE"),
                meeting_link: get("MEETING_LINK"),
            },
            notify_from_email: get("NOTIFY_FROM_EMAIL")
                .map(|v| {
                    livechat_core::domain::Email::parse(&v).map_err(|e| ConfigError::Invalid {
                        var: "NOTIFY_FROM_EMAIL",
                        reason: format!("{v:?}: {e}"),
                    })
                })
                .transpose()?,
            // Never in Lambda: a deployed function would answer email_sent for
            // emails left in a file nobody reads.
            email_outbox: get("EMAIL_OUTBOX").filter(|_| local).map(PathBuf::from),
            ses_endpoint: get("SES_ENDPOINT"),
            inbox_origins,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const FULL: [(&str, &str); 8] = [
        (
            "WEBSOCKET_MANAGEMENT_ENDPOINT",
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        ),
        ("TOKEN_ISSUER", "livechat"),
        ("AGENT_TOKEN_AUDIENCE", "inbox"),
        ("AGENT_TOKEN_SECRET", "s"),
        ("VISITOR_TOKEN_SECRET", "0123456789abcdef0123456789abcdef"),
        ("TABLE_NAME", "livechat-Table-1"),
        (
            "DELAY_QUEUE_URL",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/livechat-DelayQueue",
        ),
        ("INBOX_ORIGIN", "https://d111.cloudfront.net"),
    ];

    fn without(names: &[&str]) -> Vec<(&'static str, &'static str)> {
        FULL.iter()
            .copied()
            .filter(|(k, _)| !names.contains(k))
            .collect()
    }

    #[test]
    fn a_complete_environment_reads_into_the_config() {
        let config = Config::from_lookup(env(&FULL)).unwrap();
        assert_eq!(config.agent_keys, AgentKeys::Secret("s".into()));
        assert_eq!(config.table_name.as_deref(), Some("livechat-Table-1"));
        assert!(config.delay_queue_url.is_some());
    }

    #[test]
    fn the_identify_secret_is_optional_and_a_short_one_is_refused() {
        assert_eq!(
            Config::from_lookup(env(&FULL)).unwrap().identify_secret,
            None
        );
        let mut with = FULL.to_vec();
        with.push(("IDENTIFY_SECRET", "0123456789abcdef0123456789abcdef"));
        assert!(
            Config::from_lookup(env(&with))
                .unwrap()
                .identify_secret
                .is_some()
        );
        let mut short = FULL.to_vec();
        short.push(("IDENTIFY_SECRET", "short"));
        assert_eq!(
            Config::from_lookup(env(&short)).unwrap_err().to_string(),
            "environment variable IDENTIFY_SECRET: must be at least 32 bytes"
        );
    }

    #[test]
    fn the_table_and_the_queue_are_required_unless_the_run_is_local() {
        for var in ["TABLE_NAME", "DELAY_QUEUE_URL"] {
            let partial = without(&[var]);
            assert_eq!(
                Config::from_lookup(env(&partial)),
                Err(ConfigError::Missing(var))
            );
            let mut off = partial.clone();
            off.push((LOCAL, "0"));
            assert_eq!(
                Config::from_lookup(env(&off)),
                Err(ConfigError::Missing(var))
            );
        }

        let mut local = without(&["TABLE_NAME", "DELAY_QUEUE_URL"]);
        local.push((LOCAL, "1"));
        let config = Config::from_lookup(env(&local)).unwrap();
        assert_eq!(config.table_name, None);
        assert_eq!(config.delay_queue_url, None);

        // A local run still uses a table it is given.
        let mut local_table = without(&["DELAY_QUEUE_URL"]);
        local_table.push((LOCAL, "1"));
        let config = Config::from_lookup(env(&local_table)).unwrap();
        assert_eq!(config.table_name.as_deref(), Some("livechat-Table-1"));

        let mut unclear = FULL.to_vec();
        unclear.push((LOCAL, "yes"));
        let err = Config::from_lookup(env(&unclear)).unwrap_err();
        assert_eq!(err.variable(), LOCAL);
    }

    #[test]
    fn an_email_outbox_is_only_read_in_a_local_run() {
        let mut deployed = FULL.to_vec();
        deployed.push(("EMAIL_OUTBOX", "/tmp/outbox.txt"));
        let config = Config::from_lookup(env(&deployed)).unwrap();
        assert_eq!(config.email_outbox, None, "emails are refused, not filed");

        deployed.push((LOCAL, "1"));
        let config = Config::from_lookup(env(&deployed)).unwrap();
        assert_eq!(config.email_outbox, Some(PathBuf::from("/tmp/outbox.txt")));
    }

    #[test]
    fn the_inbox_origin_is_required_unless_the_run_is_local_and_must_be_an_origin() {
        let config = Config::from_lookup(env(&FULL)).unwrap();
        assert_eq!(
            config.inbox_origins,
            Some(vec![
                livechat_core::domain::Origin::parse("https://d111.cloudfront.net").unwrap()
            ])
        );

        let partial = without(&["INBOX_ORIGIN"]);
        assert_eq!(
            Config::from_lookup(env(&partial)),
            Err(ConfigError::Missing("INBOX_ORIGIN"))
        );
        let mut local = partial.clone();
        local.push((LOCAL, "1"));
        assert_eq!(
            Config::from_lookup(env(&local)).unwrap().inbox_origins,
            None
        );

        let mut two = partial.clone();
        two.push((
            "INBOX_ORIGIN",
            "https://d111.cloudfront.net, https://chat.acme.example",
        ));
        assert_eq!(
            Config::from_lookup(env(&two))
                .unwrap()
                .inbox_origins
                .map(|o| o.len()),
            Some(2)
        );

        let mut path = partial;
        path.push(("INBOX_ORIGIN", "https://d111.cloudfront.net/inbox/"));
        let err = Config::from_lookup(env(&path)).unwrap_err();
        assert_eq!(err.variable(), "INBOX_ORIGIN");
        assert!(err.to_string().contains("no path"), "{err}");
    }

    #[test]
    fn a_missing_variable_is_named() {
        let partial = without(&["TOKEN_ISSUER"]);
        assert_eq!(
            Config::from_lookup(env(&partial)),
            Err(ConfigError::Missing("TOKEN_ISSUER"))
        );
    }

    #[test]
    fn deploy_time_settings_are_checked_and_seed_the_configuration() {
        let mut with = FULL.to_vec();
        with.push(("WAIT_TIME_LIMIT_SECONDS", "30"));
        with.push(("MEETING_LINK", "https://cal.example/sales"));
        let config = Config::from_lookup(env(&with)).unwrap();
        let mut settings = livechat_core::domain::Settings::default();
        config.seed_settings.apply(&mut settings);
        assert_eq!(settings.wait_time_limit.secs(), 30);
        assert_eq!(
            settings.meeting_link.as_deref(),
            Some("https://cal.example/sales")
        );
        assert_eq!(
            settings.fallback,
            livechat_core::domain::FallbackMessage::Standard
        );

        with.push(("WAIT_TIME_LIMIT_SECONDS", "5"));
        let err = Config::from_lookup(env(&with)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable WAIT_TIME_LIMIT_SECONDS"),
            "{err}"
        );
    }

    #[test]
    fn a_short_visitor_secret_is_refused() {
        let mut short = FULL.to_vec();
        short[4] = ("VISITOR_TOKEN_SECRET", "short");
        let err = Config::from_lookup(env(&short)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable VISITOR_TOKEN_SECRET: must be at least 32 bytes"
        );
    }
}
