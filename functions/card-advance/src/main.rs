//! The `card-advance` Lambda function: wiring only; see `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    livechat_aws::runtime::serve(
        |chat, event| async move { card_advance::handle(&chat, event).await },
    )
    .await
}
