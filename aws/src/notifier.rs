//! Delivers notices: email through Amazon SES (v2 `SendEmail`), and Slack-compatible
//! incoming webhooks by an HTTPS POST of `{"text": ...}`. Without a sender address
//! (`NOTIFY_FROM_EMAIL`), emails are logged instead of sent, which is what the local
//! gateway does; webhooks are always posted.
//!
//! What visitors typed reaches both: Slack's markup characters are escaped in the
//! webhook text, and line breaks are taken out of every email header. Email bodies
//! are plain text and go as they are.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use livechat_core::ports::{Notice, Notifier, NotifyError, Recipient};
use tracing::info;

/// How long a webhook may take. Notices are sent from inside a handler: a slow
/// endpoint must not hold the chat up for long.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// Email through SES when configured, webhooks over HTTPS.
pub struct AwsNotifier {
    ses: Option<(aws_sdk_sesv2::Client, String)>,
    http: reqwest::Client,
}

impl AwsNotifier {
    /// A notifier sending email as `from` through `ses` (when given) and posting
    /// webhooks. The TLS roots are the system's.
    pub fn new(ses: Option<(aws_sdk_sesv2::Client, String)>) -> Result<Self, reqwest::Error> {
        // The SDK already links rustls with aws-lc-rs; the webhook client uses the
        // same provider rather than compiling a second one. Installing twice is
        // refused harmlessly.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(WEBHOOK_TIMEOUT)
            .build()?;
        Ok(Self { ses, http })
    }

    async fn email(
        &self,
        to: &str,
        notice: &Notice,
        error: impl Fn(String) -> NotifyError,
    ) -> Result<(), NotifyError> {
        let Some((ses, from)) = &self.ses else {
            info!(to = %to, subject = %notice.subject, body = %notice.body, "email (not sent: NOTIFY_FROM_EMAIL is not set)");
            return Ok(());
        };
        let text = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| error(e.to_string()))
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
        let sent = send
            .send()
            .await
            .map_err(|e| error(aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string()))?;
        info!(to = %to, message_id = ?sent.message_id(), "email sent");
        Ok(())
    }

    async fn webhook(
        &self,
        url: &str,
        notice: &Notice,
        error: impl Fn(String) -> NotifyError,
    ) -> Result<(), NotifyError> {
        let payload = serde_json::json!({ "text": slack_text(notice) });
        let response = self
            .http
            .post(url)
            .json(&payload)
            .send()
            .await
            // reqwest's errors print the URL, which is a secret here.
            .map_err(|e| error(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(error(format!("the webhook answered {status}")));
        }
        Ok(())
    }
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

#[async_trait]
impl Notifier for AwsNotifier {
    async fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        let error = |reason: String| NotifyError {
            to: notice.to.to_string(),
            reason,
        };
        match &notice.to {
            Recipient::Email(to) => self.email(to.as_str(), notice, error).await,
            Recipient::Webhook(url) => self.webhook(url.as_str(), notice, error).await,
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
}
