//! The `connect` Lambda function: wiring only; see `handler.rs`.

use livechat_aws::runtime::{Function, serve};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    serve(Function::CONNECT, |chat, event| async move {
        connect::handle(&chat, event).await
    })
    .await
}
