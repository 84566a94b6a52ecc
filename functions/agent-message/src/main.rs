//! The `agent-message` Lambda function: wiring only; see `handler.rs`.

use livechat_aws::runtime::{Function, serve};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    serve(Function::AGENT_MESSAGE, |chat, event| async move {
        agent_message::handle(&chat, event).await
    })
    .await
}
