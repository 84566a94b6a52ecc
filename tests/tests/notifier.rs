//! The notifier's real adapters against local HTTP endpoints: webhooks are posted in
//! Slack's format, and emails go out as SES v2 `SendEmail` requests made by the real
//! AWS SDK client (pointed at a local endpoint that records what it receives).
//! What a visitor typed is escaped for Slack and kept out of email headers'
//! structure; with no sender address an email is refused, or written to an outbox.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{any, post};
use livechat_aws::notifier::AwsNotifier;
use livechat_core::domain::{Email, WebhookUrl};
use livechat_core::ports::{Notice, Notifier, NotifyError, Recipient};
use serde_json::{Value, json};

/// What the local endpoint received: `(path, body)`.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// Serves `router` on a free local port; returns its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn record(State(received): State<Received>, uri: Uri, body: Bytes) -> (StatusCode, String) {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    received
        .lock()
        .unwrap()
        .push((uri.path().to_string(), body));
    (StatusCode::OK, json!({"MessageId": "local-1"}).to_string())
}

fn notice(to: Recipient) -> Notice {
    Notice {
        to,
        subject: "Missed chat request from Jo".into(),
        body: "Name: Jo\nEmail: jo@small.example\n".into(),
        reply_to: Some(Email::parse("ben@acme.example").unwrap()),
    }
}

#[tokio::test]
async fn a_webhook_notice_is_posted_as_slack_text() {
    let received: Received = Arc::default();
    let base = serve(
        Router::new()
            .route("/services/T0/B0/secret", post(record))
            .with_state(received.clone()),
    )
    .await;
    let url = WebhookUrl::parse(&format!("{base}/services/T0/B0/secret")).unwrap();
    let notifier = AwsNotifier::new(None).unwrap();

    notifier
        .send(&notice(Recipient::Webhook(url)))
        .await
        .unwrap();

    let received = received.lock().unwrap().clone();
    assert_eq!(
        received,
        [(
            "/services/T0/B0/secret".to_string(),
            json!({"text": "*Missed chat request from Jo*\nName: Jo\nEmail: jo@small.example\n"})
        )]
    );
}

#[tokio::test]
async fn a_webhook_that_refuses_is_a_failed_notice_that_does_not_print_the_secret_url() {
    let base = serve(Router::new()).await; // every path answers 404
    let url = WebhookUrl::parse(&format!("{base}/services/T0/B0/secret")).unwrap();
    let notifier = AwsNotifier::new(None).unwrap();

    let error = notifier
        .send(&notice(Recipient::Webhook(url)))
        .await
        .unwrap_err()
        .to_string();

    assert!(error.contains("404"), "{error}");
    assert!(!error.contains("secret"), "the URL is a secret: {error}");
    let unreachable = WebhookUrl::parse("http://127.0.0.1:9/services/T0/B0/secret").unwrap();
    let error = notifier
        .send(&notice(Recipient::Webhook(unreachable)))
        .await
        .unwrap_err()
        .to_string();
    assert!(!error.contains("secret"), "the URL is a secret: {error}");
}

#[tokio::test]
async fn an_email_is_an_ses_send_email_request_from_the_configured_address() {
    let received: Received = Arc::default();
    let base = serve(
        Router::new()
            .fallback(any(record))
            .with_state(received.clone()),
    )
    .await;
    let mut config = livechat_gateway::local_config("127.0.0.1:1".parse().unwrap(), "local");
    config.notify_from_email = Some(Email::parse("chat@acme.example").unwrap());
    config.ses_endpoint = Some(base);
    let sdk = livechat_gateway::local_sdk_config();
    let notifier = livechat_aws::runtime::build_notifier(&sdk, &config, None).unwrap();

    notifier
        .send(&notice(Recipient::Email(
            Email::parse("jo@small.example").unwrap(),
        )))
        .await
        .unwrap();

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let (path, body) = &received[0];
    assert_eq!(path, "/v2/email/outbound-emails");
    assert_eq!(body["FromEmailAddress"], "chat@acme.example");
    assert_eq!(
        body["Destination"]["ToAddresses"],
        json!(["jo@small.example"])
    );
    assert_eq!(body["ReplyToAddresses"], json!(["ben@acme.example"]));
    let simple = &body["Content"]["Simple"];
    assert_eq!(simple["Subject"]["Data"], "Missed chat request from Jo");
    assert_eq!(
        simple["Body"]["Text"]["Data"],
        "Name: Jo\nEmail: jo@small.example\n"
    );
    assert_eq!(simple["Body"]["Text"]["Charset"], "UTF-8");
}

#[tokio::test]
async fn a_visitors_slack_markup_is_posted_escaped_not_as_a_mention_or_a_link() {
    let received: Received = Arc::default();
    let base = serve(
        Router::new()
            .route("/services/T0/B0/secret", post(record))
            .with_state(received.clone()),
    )
    .await;
    let url = WebhookUrl::parse(&format!("{base}/services/T0/B0/secret")).unwrap();
    let notifier = AwsNotifier::new(None).unwrap();
    let name = "<!channel> <https://evil.example/login|Open the Agent Inbox>";

    notifier
        .send(&Notice {
            to: Recipient::Webhook(url),
            subject: format!("New chat request from {name}"),
            body: format!("Name: {name}\n"),
            reply_to: None,
        })
        .await
        .unwrap();

    let text = received.lock().unwrap()[0].1["text"].clone();
    let escaped = "&lt;!channel&gt; &lt;https://evil.example/login|Open the Agent Inbox&gt;";
    assert_eq!(
        text,
        json!(format!(
            "*New chat request from {escaped}*\nName: {escaped}\n"
        ))
    );
}

#[tokio::test]
async fn an_email_subject_with_line_breaks_reaches_ses_on_one_line() {
    let received: Received = Arc::default();
    let base = serve(
        Router::new()
            .fallback(any(record))
            .with_state(received.clone()),
    )
    .await;
    let mut config = livechat_gateway::local_config("127.0.0.1:1".parse().unwrap(), "local");
    config.notify_from_email = Some(Email::parse("chat@acme.example").unwrap());
    config.ses_endpoint = Some(base);
    let sdk = livechat_gateway::local_sdk_config();
    let notifier = livechat_aws::runtime::build_notifier(&sdk, &config, None).unwrap();
    let mut email = notice(Recipient::Email(Email::parse("jo@small.example").unwrap()));
    email.subject = "Missed chat request from Jo\r\nBcc: all@acme.example".into();

    notifier.send(&email).await.unwrap();

    let received = received.lock().unwrap().clone();
    let simple = &received[0].1["Content"]["Simple"];
    assert_eq!(
        simple["Subject"]["Data"],
        "Missed chat request from Jo  Bcc: all@acme.example"
    );
    assert_eq!(
        simple["Body"]["Text"]["Data"], "Name: Jo\nEmail: jo@small.example\n",
        "the body is plain text, as it was"
    );
}

#[tokio::test]
async fn without_a_sender_address_an_email_is_not_configured_unless_an_outbox_takes_it() {
    let sdk = livechat_gateway::local_sdk_config();
    let mut config = livechat_gateway::local_config("127.0.0.1:1".parse().unwrap(), "local");
    let email = notice(Recipient::Email(Email::parse("jo@small.example").unwrap()));
    let notifier = livechat_aws::runtime::build_notifier(&sdk, &config, None).unwrap();

    let refused = notifier.send(&email).await;

    assert_eq!(
        refused,
        Err(NotifyError::EmailNotConfigured),
        "nothing sent, and said so"
    );
    let outbox = std::env::temp_dir().join(format!(
        "livechat-outbox-notifier-{}.txt",
        std::process::id()
    ));
    config.email_outbox = Some(outbox.clone());
    let notifier = livechat_aws::runtime::build_notifier(&sdk, &config, None).unwrap();
    notifier.send(&email).await.unwrap();
    let written = std::fs::read_to_string(&outbox).unwrap();
    std::fs::remove_file(&outbox).unwrap();
    assert!(written.contains("To: jo@small.example\n"), "{written}");
    assert!(
        written.contains("Subject: Missed chat request from Jo\n"),
        "{written}"
    );
}
