//! The `livechat` command line: the local gateway (`livechat dev`, from
//! `livechat-gateway`) and the account's admin tools, which work against AWS as
//! much as locally: `livechat validate` checks a dialog or configuration file,
//! `livechat apply` writes a configuration to the table.

/// Why `livechat apply` did not apply.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The file has errors (each names file, line and rule).
    #[error(transparent)]
    Invalid(#[from] livechat_core::config::ConfigErrors),
    /// The table could not be written.
    #[error("could not write to table {table}: {reason}")]
    Store { table: String, reason: String },
    /// The configuration does not fit in one DynamoDB item.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

/// A configuration whose stored item would exceed DynamoDB's item limit.
#[derive(Debug, thiserror::Error)]
#[error(
    "the configuration takes {bytes} bytes as stored, and one DynamoDB item holds at most {max} \
     (agents, teams, rules and settings are one item): shorten it, e.g. fewer agents or schedule entries"
)]
pub struct TooLarge {
    /// The item's size.
    pub bytes: usize,
    /// The limit.
    pub max: usize,
}

/// Checks that `directory` fits in its DynamoDB item.
pub fn check_size(directory: &livechat_core::routing::Directory) -> Result<usize, TooLarge> {
    let max = livechat_aws::dynamo::MAX_ITEM_BYTES;
    // A directory that does not serialise is refused by the store with its reason.
    let bytes = livechat_aws::dynamo::directory_item_bytes(directory).unwrap_or(0);
    if bytes > max {
        Err(TooLarge { bytes, max })
    } else {
        Ok(bytes)
    }
}

/// Validates a configuration file and writes it to `table`: on DynamoDB Local at
/// `endpoint`, or in AWS with the environment's credentials and region.
pub async fn apply(
    file: &std::path::Path,
    table: &str,
    endpoint: Option<&str>,
) -> Result<livechat_core::routing::Directory, ApplyError> {
    use livechat_core::ports::DirectoryStore;
    let directory = livechat_core::config::load(file, |p| std::fs::read_to_string(p))?;
    check_size(&directory)?;
    let client = match endpoint {
        Some(url) => {
            let sdk = livechat_gateway::local_sdk_config();
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .endpoint_url(url)
                    .build(),
            )
        }
        None => aws_sdk_dynamodb::Client::new(&livechat_aws::runtime::sdk_config().await),
    };
    let store = livechat_aws::dynamo::DynamoStore::new(client, table);
    store
        .put_directory(&directory)
        .await
        .map_err(|e| ApplyError::Store {
            table: table.into(),
            reason: livechat_core::service::cause_chain(&e),
        })?;
    Ok(directory)
}
