//! The cold-start reference: a hello-world Lambda function on the same runtime crate
//! and release profile as ours, with no SDK and no configuration. It answers every
//! event with the event itself.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            Ok::<_, std::convert::Infallible>(event.payload)
        },
    ))
    .await
}
