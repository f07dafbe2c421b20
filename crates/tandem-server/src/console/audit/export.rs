//! `GET /settings/audit/export.csv` (admins): the entries the same filters select, every one
//! of them, newest first, each cell made safe for spreadsheets.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;
use crate::audit::AuditQuery;
use crate::console::insight::export::defuse;
use crate::console::{PageAgent, PageError, PageResult};
use crate::error::ApiError;

/// The columns, named as the API names fields (the same in every language).
const HEADER: [&str; 9] =
    ["id", "at", "actor_kind", "actor_id", "actor_name", "action", "target", "detail", "ip"];

/// Entries read from the store at a time.
const BATCH: u32 = 1000;

/// A byte-order mark first, so spreadsheets read the UTF-8 as UTF-8.
const BOM: &str = "\u{feff}";

pub(super) async fn export_audit_csv(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<AuditQuery>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.require_admin().map_err(failed)?;
    let filter = crate::api::audit::read_filter(&query).map_err(failed)?;
    let csv_failed = |error: csv::Error| failed(ApiError::internal(error));
    let mut writer = csv::Writer::from_writer(BOM.as_bytes().to_vec());
    writer.write_record(HEADER).map_err(csv_failed)?;
    let mut before = query.before;
    loop {
        let entries = state
            .store
            .audit(agent.user.workspace_id, filter.clone(), BATCH, before)
            .await
            .map_err(|error| failed(error.into()))?;
        for entry in &entries {
            let at = jiff::Timestamp::from_millisecond(entry.at)
                .map(|moment| moment.to_string())
                .unwrap_or_default();
            let record = [
                entry.id.to_string(),
                at,
                entry.actor_kind.as_str().to_owned(),
                entry.actor_id.clone().unwrap_or_default(),
                entry.actor_name.clone(),
                entry.action.clone(),
                entry.target.clone(),
                entry.detail.to_string(),
                entry.ip.clone().unwrap_or_default(),
            ]
            .map(defuse);
            writer.write_record(record).map_err(csv_failed)?;
        }
        match entries.last() {
            Some(last) if entries.len() == BATCH as usize => before = Some(last.id),
            _ => break,
        }
    }
    let body = writer.into_inner().map_err(|error| csv_failed(error.into_error().into()))?;
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-log.csv\""),
    ];
    Ok((headers, body).into_response())
}
