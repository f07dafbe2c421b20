//! `GET /settings/privacy` (admins): the retention form and the erasure records.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_store::ErasureKind;

use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, format_time, render};

#[derive(Debug)]
pub(super) struct ErasureRow {
    kind: &'static str,
    customer: String,
    by: String,
    at: (String, i64),
    conversations: u64,
    rows: String,
}

#[derive(Template)]
#[template(path = "pages/privacy.html")]
struct PrivacyPage {
    chrome: Chrome,
    days: u32,
    notice: Option<String>,
    error: Option<String>,
    erasures: Vec<ErasureRow>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PrivacyQuery {
    notice: Option<String>,
}

pub(super) async fn show_privacy_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<PrivacyQuery>,
) -> PageResult {
    let text = crate::console::text_for(&agent);
    let notice = match query.notice.as_deref() {
        Some("saved") => Some(text.privacy_saved.clone()),
        Some("erased") => Some(text.privacy_erased.clone()),
        _ => None,
    };
    privacy_page(&state, &agent, None, notice, None).await
}

/// The page, with the days typed (`None`: as saved) and a notice or an error.
pub(super) async fn privacy_page(
    state: &AppState,
    agent: &Agent,
    days: Option<u32>,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult {
    let failed = PageError::for_agent(agent);
    agent.require_admin().map_err(failed)?;
    let text = crate::console::text_for(agent);
    let workspace = agent.user.workspace_id;
    let saved = crate::privacy::retention(state.store.as_ref(), workspace)
        .await
        .map_err(|error| failed(error.into()))?;
    let erasures = state.store.erasures(workspace).await.map_err(|error| failed(error.into()))?;
    let users = state.store.users(workspace).await.map_err(|error| failed(error.into()))?;
    let rows = erasures
        .into_iter()
        .map(|erasure| ErasureRow {
            kind: match erasure.kind {
                ErasureKind::Customer => text.privacy_kind_customer.as_str(),
                ErasureKind::Retention => text.privacy_kind_retention.as_str(),
            },
            customer: erasure.customer_id.map(|id| format!("#{id}")).unwrap_or_default(),
            by: erasure
                .erased_by
                .map(|id| {
                    users
                        .iter()
                        .find(|user| user.id == id)
                        .map_or_else(|| format!("#{id}"), |user| user.display_name.clone())
                })
                .unwrap_or_default(),
            at: (format_time(erasure.at), erasure.at),
            conversations: erasure.conversations,
            rows: erasure
                .rows
                .iter()
                .filter(|(_, count)| **count > 0)
                .map(|(table, count)| format!("{table} {count}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    Ok(render(&PrivacyPage {
        chrome: Chrome::new(agent, "privacy"),
        days: days.unwrap_or(saved.resolved_conversation_days),
        notice,
        error,
        erasures: rows,
    }))
}
