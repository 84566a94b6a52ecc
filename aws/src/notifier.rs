//! Delivers notices: email through Amazon SES (v2 `SendEmail`), and Slack-compatible
//! incoming webhooks by an HTTPS POST of `{"text": ...}`. Without a sender address
//! (`NOTIFY_FROM_EMAIL`) emails go to a local outbox file when one is set (the local
//! gateway's), and are otherwise refused as [`NotifyError::EmailNotConfigured`];
//! webhooks are always posted.
//!
//! What visitors typed reaches both: Slack's markup characters are escaped in the
//! webhook text, and line breaks are taken out of every email header. Email bodies
//! are plain text and go as they are. Nothing of a notice (recipient, subject, body)
//! is logged.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use livechat_core::ports::{Notice, Notifier, NotifyError, Recipient};
use tracing::info;

/// How long a webhook may take. Notices are sent from inside a handler: a slow
/// endpoint must not hold the chat up for long.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// Where emails go.
enum EmailChannel {
    /// Through SES, from this address.
    Ses(aws_sdk_sesv2::Client, String),
    /// Appended to this file, for a developer to read.
    Outbox(PathBuf),
    /// Nowhere: every email is refused.
    None,
}

/// Email through SES (or a local outbox) when configured, webhooks over HTTPS.
pub struct AwsNotifier {
    email: EmailChannel,
    http: reqwest::Client,
}

impl AwsNotifier {
    /// A notifier sending email as `from` through `ses` (when given; otherwise every
    /// email is [`NotifyError::EmailNotConfigured`]) and posting webhooks. The TLS
    /// roots are the system's.
    pub fn new(ses: Option<(aws_sdk_sesv2::Client, String)>) -> Result<Self, reqwest::Error> {
        let email = match ses {
            Some((client, from)) => EmailChannel::Ses(client, from),
            None => EmailChannel::None,
        };
        Self::build(email)
    }

    /// A notifier for local runs: emails are appended to the file at `outbox` (created
    /// when missing) instead of being sent; webhooks are posted.
    pub fn with_outbox(outbox: PathBuf) -> Result<Self, reqwest::Error> {
        Self::build(EmailChannel::Outbox(outbox))
    }

    fn build(email: EmailChannel) -> Result<Self, reqwest::Error> {
        crate::runtime::install_tls_provider();
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(WEBHOOK_TIMEOUT)
            .build()?;
        Ok(Self { email, http })
    }

    async fn email(&self, to: &str, notice: &Notice) -> Result<(), NotifyError> {
        let (ses, from) = match &self.email {
            EmailChannel::Ses(ses, from) => (ses, from),
            EmailChannel::Outbox(path) => return to_outbox(path, to, notice),
            EmailChannel::None => return Err(NotifyError::EmailNotConfigured),
        };
        let text = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| failed("email", e.to_string()))
        };
        let message = Message::builder()
            .subject(text(&header(&notice.subject))?)
            .body(Body::builder().text(text(&notice.body)?).build())
            .build();
        let mut send = ses
            .send_email()
            .from_email_address(header(from))
            .destination(Destination::builder().to_addresses(header(to)).build())
            .content(EmailContent::builder().simple(message).build());
        if let Some(reply_to) = &notice.reply_to {
            send = send.reply_to_addresses(header(reply_to.as_str()));
        }
        let sent = send.send().await.map_err(|e| {
            // SES names refused addresses in its messages: the error is logged.
            let reason = aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string();
            failed("email", redact(reason, notice, to, from))
        })?;
        info!(message_id = ?sent.message_id(), "email sent");
        Ok(())
    }

    async fn webhook(&self, url: &str, notice: &Notice) -> Result<(), NotifyError> {
        let payload = serde_json::json!({ "text": slack_text(notice) });
        let response = self
            .http
            .post(url)
            .json(&payload)
            .send()
            .await
            // reqwest's errors print the URL, which is a secret here.
            .map_err(|e| failed("webhook", e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed("webhook", format!("the webhook answered {status}")));
        }
        Ok(())
    }
}

fn failed(channel: &'static str, reason: String) -> NotifyError {
    NotifyError::Failed { channel, reason }
}

/// `reason` without the addresses of the email it is about.
fn redact(reason: String, notice: &Notice, to: &str, from: &str) -> String {
    let reply_to = notice.reply_to.as_ref().map(|e| e.as_str());
    [Some(to), Some(from), reply_to]
        .into_iter()
        .flatten()
        .fold(reason, |reason, address| {
            reason.replace(address, "[address]")
        })
}

/// A header value on one line: line breaks (and other control characters) become
/// spaces, so a visitor's name cannot add headers or end them.
pub fn header(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text with Slack's control characters escaped, as Slack requires: `<!channel>`
/// or `<https://evil.example|Open the inbox>` typed by a visitor shows as typed,
/// never as a mention or a disguised link.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The webhook message in Slack's mrkdwn: the subject in bold, then the body. Other
/// tools that take Slack's format (Mattermost, Rocket.Chat, Teams workflows) read
/// `text` too.
pub fn slack_text(notice: &Notice) -> String {
    format!(
        "*{}*\n{}",
        slack_escape(&header(&notice.subject)),
        slack_escape(&notice.body)
    )
}

/// Appends the email to the outbox file, as a developer reads it: headers, a blank
/// line, the body.
fn to_outbox(path: &std::path::Path, to: &str, notice: &Notice) -> Result<(), NotifyError> {
    let mut entry = format!(
        "=== email, {} (local outbox: not sent)\nTo: {}\n",
        jiff::Timestamp::now(),
        header(to)
    );
    if let Some(reply_to) = &notice.reply_to {
        entry.push_str(&format!("Reply-To: {}\n", header(reply_to.as_str())));
    }
    entry.push_str(&format!(
        "Subject: {}\n\n{}\n\n",
        header(&notice.subject),
        notice.body
    ));
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(entry.as_bytes()))
        .map_err(|e| failed("email", format!("cannot write the outbox: {e}")))
}

#[async_trait]
impl Notifier for AwsNotifier {
    async fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        match &notice.to {
            Recipient::Email(to) => self.email(to.as_str(), notice).await,
            Recipient::Webhook(url) => self.webhook(url.as_str(), notice).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livechat_core::domain::{Email, WebhookUrl};

    fn notice(to: Recipient, subject: &str, body: &str) -> Notice {
        Notice {
            to,
            subject: subject.into(),
            body: body.into(),
            reply_to: Some(Email::parse("ben@acme.example").unwrap()),
        }
    }

    fn hook() -> Recipient {
        Recipient::Webhook(WebhookUrl::parse("https://hooks.slack.com/services/T/B/x").unwrap())
    }

    fn jo() -> Recipient {
        Recipient::Email(Email::parse("jo@small.example").unwrap())
    }

    #[test]
    fn a_visitors_slack_markup_reaches_the_webhook_escaped() {
        let name = "<!channel> <https://evil.example/login|Open the Agent Inbox> & co";
        let text = slack_text(&notice(
            hook(),
            &format!("New chat request from {name}"),
            &format!("Name: {name}\n"),
        ));
        let escaped =
            "&lt;!channel&gt; &lt;https://evil.example/login|Open the Agent Inbox&gt; &amp; co";
        assert_eq!(
            text,
            format!("*New chat request from {escaped}*\nName: {escaped}\n")
        );
        assert!(!text.contains('<') && !text.contains('>'));
    }

    #[test]
    fn header_values_lose_their_line_breaks() {
        assert_eq!(
            header("New chat request from Jo\r\nBcc: all@acme.example\n"),
            "New chat request from Jo  Bcc: all@acme.example "
        );
    }

    /// Runs `f` to completion (email paths other than SES do no network I/O).
    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn without_a_sender_address_or_an_outbox_an_email_is_not_configured() {
        let notifier = AwsNotifier::new(None).unwrap();

        let sent = run(notifier.send(&notice(jo(), "Re: your chat", "Hi")));

        assert_eq!(sent, Err(NotifyError::EmailNotConfigured));
    }

    #[test]
    fn the_outbox_holds_each_email_with_one_line_headers_and_the_body_as_is() {
        let path = std::env::temp_dir().join(format!(
            "livechat-outbox-test-{}-{}.txt",
            std::process::id(),
            fastrand::u64(..)
        ));
        let notifier = AwsNotifier::with_outbox(path.clone()).unwrap();

        let first = notice(
            jo(),
            "Missed chat request from Jo\r\nBcc: x@evil.example",
            "Name: Jo\nEmail: jo@small.example\n",
        );
        run(notifier.send(&first)).unwrap();
        run(notifier.send(&notice(jo(), "Re: your chat request", "Hi Jo\n\nBen"))).unwrap();

        let outbox = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(outbox.matches("=== email").count(), 2, "{outbox}");
        assert!(outbox.contains("To: jo@small.example\nReply-To: ben@acme.example\nSubject: Missed chat request from Jo  Bcc: x@evil.example\n\nName: Jo\nEmail: jo@small.example\n"), "{outbox}");
        assert!(
            outbox.contains("Subject: Re: your chat request\n\nHi Jo\n\nBen\n"),
            "{outbox}"
        );
        assert!(!outbox.contains("\nBcc:"), "no header was added: {outbox}");
    }

    #[test]
    fn a_refused_email_names_no_address() {
        let n = notice(jo(), "s", "b");
        let reason = "MessageRejected: Email address is not verified: jo@small.example, ben@acme.example, chat@acme.example".to_string();
        assert_eq!(
            redact(reason, &n, "jo@small.example", "chat@acme.example"),
            "MessageRejected: Email address is not verified: [address], [address], [address]"
        );
    }
}
