//! Live spike detection: every few minutes, per workspace, the same detector as `tandem trends`
//! (`tandem_knowledge::trends`) runs over the openings of the last five weeks of conversations,
//! and each alert about today or yesterday is recorded once (with its `insight.alert` webhook
//! event) for the supervisors' banner, the alerts page and the API.
//!
//! Days are UTC days: a conversation's day is the UTC date of its `created_at`, and "today" is
//! the UTC date of the detection's `now`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tandem_domain::validate::format_timestamp;
use tandem_domain::{ConversationId, Millis, WorkspaceId};
use tandem_knowledge::history::{Author, HistoryConversation, HistoryMessage};
use tandem_store::{InsightAlert, NewInsightAlert, Store, StoreError, StoreResult};

const DAY: Millis = 24 * 60 * 60 * 1000;
/// The history a detection reads: the detector's four-week baseline, the week before it is
/// trusted, and the days tested.
const HISTORY_DAYS: i64 = 35;
/// Alerts raised this recently are shown in the console's banner until dismissed.
pub const BANNER_DAYS: i64 = 2;

/// The `[server.insight]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InsightConfig {
    /// Seconds between two spike detections of every workspace; 0 turns detection off.
    pub detect_every_secs: u64,
}

impl Default for InsightConfig {
    fn default() -> Self {
        InsightConfig { detect_every_secs: 600 }
    }
}

/// Starts the detection task (the first round one interval after the start).
pub fn start(store: Arc<dyn Store>, config: InsightConfig) {
    if config.detect_every_secs == 0 {
        return;
    }
    let every = Duration::from_secs(config.detect_every_secs);
    tandem_flow::supervise("insight: spike alerts", move |_| {
        let store = Arc::clone(&store);
        async move {
            loop {
                tokio::time::sleep(every).await;
                if !tandem_flow::holds_lease(store.as_ref(), "job:spike-alerts", every).await {
                    continue;
                }
                let workspaces = match store.workspaces().await {
                    Ok(workspaces) => workspaces,
                    Err(error) => {
                        tracing::warn!(%error, "spike detection: cannot list the workspaces");
                        continue;
                    }
                };
                for workspace in workspaces {
                    if let Err(error) =
                        detect_once(&store, workspace.id, tandem_store::now_millis()).await
                    {
                        tracing::warn!(%error, workspace = workspace.id.0, "spike detection failed");
                    }
                }
            }
        }
    });
}

/// One detection over a workspace at `now`: returns the alerts it raised (those not raised
/// before).
pub async fn detect_once(
    store: &Arc<dyn Store>,
    workspace: WorkspaceId,
    now: Millis,
) -> StoreResult<Vec<InsightAlert>> {
    let texts = store.conversation_texts(workspace, day_start(now) - HISTORY_DAYS * DAY).await?;
    let conversations: Vec<HistoryConversation> = texts
        .into_iter()
        .filter_map(|text| {
            let mut messages = vec![HistoryMessage {
                author: Author::Customer,
                text: text.first_customer_message?,
                source: None,
                at: None,
                agent: None,
            }];
            if let Some(source) = text.source {
                messages.push(HistoryMessage {
                    author: Author::Bot,
                    text: String::new(),
                    source: Some(source),
                    at: None,
                    agent: None,
                });
            }
            Some(HistoryConversation {
                id: text.id.0.to_string(),
                // In UTC, so a day is a UTC day.
                created_at: format_timestamp(text.created_at),
                messages,
                ..Default::default()
            })
        })
        .collect();
    let today = format_timestamp(now)[..10].to_owned();
    let yesterday = format_timestamp(now - DAY)[..10].to_owned();
    let to = today.clone();
    // Today is in progress: its expected counts are what usually arrives by this time of day.
    let until = format_timestamp(now);
    let found = tokio::task::spawn_blocking(move || {
        tandem_knowledge::trends::trends_until(&conversations, None, Some(&to), Some(&until))
    })
    .await
    .map_err(|error| StoreError::Database(Box::new(error)))?;
    // Conversations no article or action answered join the cluster of similar first messages
    // they fell in, so the reports' topics cover them too.
    let clustered: Vec<(ConversationId, String)> = found
        .topics
        .iter()
        .filter(|topic| !topic.id.starts_with("article:") && !topic.label.is_empty())
        .flat_map(|topic| {
            topic
                .conversation_ids
                .iter()
                .filter_map(|id| Some((ConversationId(id.parse().ok()?), topic.label.clone())))
        })
        .collect();
    store.set_cluster_topics(workspace, clustered).await?;
    let recent = store.insight_alerts(workspace, day_start(now) - HISTORY_DAYS * DAY).await?;
    let mut raised = Vec::new();
    for alert in found.alerts {
        if !alert.days.iter().any(|day| *day == today || *day == yesterday) {
            continue;
        }
        // The same burst seen again (its words may shift as it grows) is not a new alert.
        if recent.iter().chain(&raised).any(|known| same_burst(known, &alert)) {
            continue;
        }
        let key = format!("{}:{}", alert.first_day, alert.terms.join(","));
        let mut json =
            serde_json::to_value(&alert).map_err(|error| StoreError::Database(Box::new(error)))?;
        json["conversation_ids"] = alert
            .conversation_ids
            .iter()
            .filter_map(|id| id.parse::<i64>().ok())
            .collect::<Vec<_>>()
            .into();
        if let Some(new) =
            store.raise_insight_alert(workspace, NewInsightAlert { key, alert: json }).await?
        {
            raised.push(new);
        }
    }
    Ok(raised)
}

/// Whether a recorded alert is about the same burst: the same first day, and a word or a
/// conversation in common.
fn same_burst(known: &InsightAlert, alert: &tandem_knowledge::trends::Alert) -> bool {
    if known.alert["first_day"].as_str() != Some(alert.first_day.as_str()) {
        return false;
    }
    let shares_term = known.alert["terms"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|term| term.as_str())
        .any(|term| alert.terms.iter().any(|other| other == term));
    let shares_conversation = known.alert["conversation_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_i64())
        .any(|id| alert.conversation_ids.iter().any(|other| *other == id.to_string()));
    shares_term || shares_conversation
}

/// Midnight UTC of `now`'s day.
fn day_start(now: Millis) -> Millis {
    now - now.rem_euclid(DAY)
}

/// The alerts a supervisor's banner shows: raised in the last [`BANNER_DAYS`] and not dismissed.
pub async fn banner(store: &Arc<dyn Store>, workspace: WorkspaceId) -> Vec<InsightAlert> {
    let since = tandem_store::now_millis() - BANNER_DAYS * DAY;
    match store.insight_alerts(workspace, since).await {
        Ok(alerts) => alerts.into_iter().filter(|alert| alert.dismissed_at.is_none()).collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot read the insight alerts for the banner");
            Vec::new()
        }
    }
}
