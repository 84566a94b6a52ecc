//! The `card-advance` Lambda function: wiring only; see `handler.rs`.

use livechat_aws::runtime::{Function, serve};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    serve(Function::CARD_ADVANCE, |chat, event| async move {
        card_advance::handle(&chat, event).await
    })
    .await
}
