//! Delivers notices: email through Amazon SES (v2 `SendEmail`), and Slack-compatible
//! incoming webhooks by an HTTPS POST of `{"text": ...}`. Without a sender address
//! (`NOTIFY_FROM_EMAIL`), emails are logged instead of sent, which is what the local
//! gateway does; webhooks are always posted.

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
            .subject(text(&notice.subject)?)
            .body(Body::builder().text(text(&notice.body)?).build())
            .build();
        let mut send = ses
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build());
        if let Some(reply_to) = &notice.reply_to {
            send = send.reply_to_addresses(reply_to.as_str());
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
        // Slack's mrkdwn: the subject in bold, then the body. Other tools that take
        // Slack's format (Mattermost, Rocket.Chat, Teams workflows) read `text` too.
        let payload = serde_json::json!({
            "text": format!("*{}*\n{}", notice.subject, notice.body),
        });
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
