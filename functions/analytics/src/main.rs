//! The `analytics` Lambda function: wiring only; see `handler.rs`.

use livechat_aws::runtime::{Function, serve};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    serve(Function::ANALYTICS, |chat, event| async move {
        analytics_function::handle(&chat, event).await
    })
    .await
}
