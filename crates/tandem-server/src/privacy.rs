//! Retention: every hour, each workspace that keeps resolved conversations for a limited number
//! of days (its `retention` settings document, see [`tandem_store::RetentionSettings`]) has the
//! resolved conversations with no activity since then deleted, in batches, each batch with
//! every row about its conversations and a record of what went (see
//! [`Store::delete_resolved_conversations`]). Customers themselves are erased only on request
//! (`DELETE /api/v1/customers/{id}`).

use std::sync::Arc;
use std::time::Duration;

use tandem_domain::{Millis, WorkspaceId};
use tandem_store::{RETENTION_SETTING, RetentionSettings, Store, StoreError, StoreResult};

const DAY: Millis = 24 * 60 * 60 * 1000;
/// How often retention runs, and how long after the start it first does.
const EVERY: Duration = Duration::from_secs(3600);
const FIRST_AFTER: Duration = Duration::from_secs(60);
/// Conversations deleted per write, so one run never holds the writer long.
pub const BATCH: u32 = 200;
/// The most days a retention period may be (100 years).
pub const MAX_DAYS: u32 = 36_500;

/// The workspace's retention settings; the default (keep forever) when never saved.
pub async fn retention(
    store: &dyn Store,
    workspace: WorkspaceId,
) -> StoreResult<RetentionSettings> {
    match store.workspace_setting(workspace, RETENTION_SETTING).await? {
        Some(value) => serde_json::from_value(value).map_err(StoreError::database),
        None => Ok(RetentionSettings::default()),
    }
}

/// Starts the retention task under `supervise`.
pub fn start(store: Arc<dyn Store>) {
    tandem_flow::supervise("privacy: retention", move |_| {
        let store = Arc::clone(&store);
        async move {
            tokio::time::sleep(FIRST_AFTER).await;
            loop {
                if !tandem_flow::holds_lease(store.as_ref(), "job:retention", EVERY).await {
                    tokio::time::sleep(EVERY).await;
                    continue;
                }
                match apply_retention(&store, tandem_store::now_millis()).await {
                    Ok(0) => {}
                    Ok(deleted) => {
                        tracing::info!(deleted, "retention deleted resolved conversations")
                    }
                    Err(error) => tracing::warn!(%error, "retention failed"),
                }
                tokio::time::sleep(EVERY).await;
            }
        }
    });
}

/// One retention run over every workspace at `now`: returns how many conversations went.
pub async fn apply_retention(store: &Arc<dyn Store>, now: Millis) -> StoreResult<u64> {
    let mut deleted = 0;
    for workspace in store.workspaces().await? {
        let days = retention(store.as_ref(), workspace.id).await?.resolved_conversation_days;
        if days == 0 {
            continue;
        }
        let before = now - i64::from(days) * DAY;
        loop {
            let batch = store.delete_resolved_conversations(workspace.id, before, BATCH).await?;
            deleted += batch.conversations;
            if batch.conversations < u64::from(BATCH) {
                break;
            }
        }
    }
    Ok(deleted)
}
