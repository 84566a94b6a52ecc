//! The analytics stream, emulated for the in-memory store: every second, the
//! changes the store kept of its own writes are recorded, as the `analytics`
//! function records DynamoDB Streams batches on AWS. A batch that fails to record
//! is tried again with the next one.

use std::sync::Arc;
use std::time::Duration;

use livechat_core::analytics::{Change, record};
use livechat_core::ports::{Clock, Store};
use tracing::error;

/// How often the stream is read.
pub const POLL: Duration = Duration::from_secs(1);

/// Records the store's changes forever.
pub async fn pump(store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(POLL);
    let mut pending: Vec<Change> = Vec::new();
    loop {
        tick.tick().await;
        pending.extend(store.own_changes());
        if pending.is_empty() {
            continue;
        }
        let zone = match store.directory().await {
            Ok(directory) => directory.settings.time_zone,
            Err(e) => {
                error!(error = %e, "analytics: could not read the directory; trying again");
                continue;
            }
        };
        match record(store.as_ref(), &pending, zone.as_ref(), clock.now()).await {
            Ok(_) => pending.clear(),
            Err(e) => error!(error = %e, "analytics: recording failed; trying again"),
        }
    }
}
