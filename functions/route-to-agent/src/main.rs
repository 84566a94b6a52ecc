//! The `route-to-agent` Lambda function: wiring only; see `handler.rs`.

use livechat_aws::runtime::{Function, serve};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    serve(Function::ROUTE_TO_AGENT, |chat, event| async move {
        route_to_agent::handle(&chat, event).await
    })
    .await
}
