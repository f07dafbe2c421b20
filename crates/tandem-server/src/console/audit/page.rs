//! `GET /settings/audit` (admins): the audit log, newest first, a page at a time.

use askama::Template;
use axum::extract::{Query, State};

use crate::AppState;
use crate::audit::AuditQuery;
use crate::console::{Chrome, PageAgent, PageError, PageResult, format_time, render};

#[derive(Debug)]
pub(super) struct AuditRow {
    at: (String, i64),
    kind: &'static str,
    actor: String,
    action: String,
    target: String,
    detail: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "pages/audit.html")]
struct AuditPage {
    chrome: Chrome,
    /// The filters as typed: kind, actor, action, text, from, to.
    actor: String,
    action: String,
    q: String,
    from: String,
    to: String,
    /// Each kind of actor: its code, label and whether it is the one chosen.
    kinds: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<AuditRow>,
    /// The query string of the next page, when there is one.
    next: Option<String>,
    /// The query string of the CSV export of this selection (all pages).
    export: String,
}

/// The query string of `query` with `before` replaced.
pub(super) fn query_string(query: &AuditQuery, before: Option<i64>) -> String {
    let fields = [
        ("kind", &query.kind),
        ("actor", &query.actor),
        ("action", &query.action),
        ("q", &query.q),
        ("from", &query.from),
        ("to", &query.to),
    ];
    let mut pairs: Vec<(&str, String)> = fields
        .into_iter()
        .filter_map(|(name, value)| {
            let value = value.as_deref().filter(|value| !value.trim().is_empty())?;
            Some((name, value.to_owned()))
        })
        .collect();
    if let Some(before) = before {
        pairs.push(("before", before.to_string()));
    }
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

pub(super) async fn show_audit_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<AuditQuery>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.require_admin().map_err(failed)?;
    let filter = crate::api::audit::read_filter(&query).map_err(failed)?;
    let limit = query.limit();
    let entries = state
        .store
        .audit(agent.user.workspace_id, filter, limit, query.before)
        .await
        .map_err(|error| failed(error.into()))?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|entry| query_string(&query, Some(entry.id))))
        .flatten();
    let text = crate::console::text_for(&agent);
    let rows = entries
        .into_iter()
        .map(|entry| AuditRow {
            at: (format_time(entry.at), entry.at),
            kind: text.audit_kind(entry.actor_kind),
            actor: entry.actor_name,
            action: entry.action,
            target: entry.target,
            detail: entry.detail.to_string(),
            ip: entry.ip.unwrap_or_default(),
        })
        .collect();
    let export = query_string(&query, None);
    let chosen = query.kind.as_deref().unwrap_or_default();
    let kinds = tandem_store::AuditActorKind::ALL
        .into_iter()
        .map(|kind| (kind.as_str(), text.audit_kind(kind), kind.as_str() == chosen))
        .collect();
    let typed = |value: &Option<String>| value.clone().unwrap_or_default();
    Ok(render(&AuditPage {
        chrome: Chrome::new(&agent, "audit"),
        actor: typed(&query.actor),
        action: typed(&query.action),
        q: typed(&query.q),
        from: typed(&query.from),
        to: typed(&query.to),
        kinds,
        rows,
        next,
        export,
    }))
}
