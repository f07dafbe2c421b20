//! `GET /insight/export.csv`: the conversations of a drill-down (same query) as a CSV file, one
//! row per conversation, every one of them (the page shows the first 500).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use tandem_domain::{ConversationFacts, Millis};

use super::conversations::customer_names;
use super::{InsightQuery, Names, Selection};
use crate::AppState;
use crate::console::{PageAgent, PageError, PageResult};
use crate::error::ApiError;

/// The columns, named as the API names fields (a file for spreadsheets and scripts, not a
/// sentence: the same in every language).
const HEADER: [&str; 16] = [
    "id",
    "link",
    "customer",
    "channel",
    "queue",
    "agent",
    "state",
    "topic",
    "created_at",
    "first_response_seconds",
    "resolved_at",
    "resolution_seconds",
    "handle_seconds",
    "csat",
    "handoff_reasons",
    "tags",
];

/// A byte-order mark first, so that spreadsheet programs read the UTF-8 (Chinese names) as
/// UTF-8 rather than the system's code page.
const BOM: &str = "\u{feff}";

pub(super) async fn export_insight_csv(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<InsightQuery>,
) -> PageResult {
    let selection = Selection::read(&state, &agent, &query).await?;
    let (_, found) = selection.conversations(&state, &agent, usize::MAX).await?;
    let names = Names::load(&state, &agent).await?;
    let customers = customer_names(&state, &agent, &found).await?;
    let mut writer = csv::Writer::from_writer(BOM.as_bytes().to_vec());
    let failed = |error: csv::Error| PageError::for_agent(&agent)(ApiError::internal(error));
    writer.write_record(HEADER).map_err(failed)?;
    for facts in &found {
        let customer = customers.get(&facts.customer_id).map(String::as_str).unwrap_or_default();
        writer.write_record(record(&names, customer, facts)).map_err(failed)?;
    }
    let body = writer.into_inner().map_err(|error| failed(error.into_error().into()))?;
    let file_name =
        format!("insight-{}-{}.csv", file_part(&selection.from), file_part(&selection.to));
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
    ];
    Ok((headers, body).into_response())
}

/// One conversation's row; every text cell is made safe for spreadsheets.
fn record(names: &Names, customer: &str, facts: &ConversationFacts) -> Vec<String> {
    let seconds = |ms: Option<Millis>| ms.map(|ms| (ms / 1000).to_string()).unwrap_or_default();
    let id = facts.conversation_id.0;
    [
        id.to_string(),
        format!("/conversations/{id}"),
        customer.to_owned(),
        facts.channel.as_str().to_owned(),
        facts.queue_id.map(|_| names.queue(facts.queue_id)).unwrap_or_default(),
        facts.agent_id.map(|_| names.agent(facts.agent_id)).unwrap_or_default(),
        facts.state.as_str().to_owned(),
        facts.topic.as_deref().map(|topic| names.topic(Some(topic))).unwrap_or_default(),
        moment(Some(facts.created_at)),
        seconds(facts.first_response_ms()),
        moment(facts.last_resolved_at),
        seconds(facts.resolution_ms()),
        seconds(facts.handle_ms()),
        facts.csat.map(|rating| rating.to_string()).unwrap_or_default(),
        facts.reasons.iter().map(|reason| reason.as_str()).collect::<Vec<_>>().join(";"),
        facts.tags.join(";"),
    ]
    .into_iter()
    .map(defuse)
    .collect()
}

/// RFC 3339 in UTC, or empty.
fn moment(at: Option<Millis>) -> String {
    at.and_then(|at| jiff::Timestamp::from_millisecond(at).ok())
        .map(|moment| moment.to_string())
        .unwrap_or_default()
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage
/// return that some read before one) gets a leading `'`, so it is shown as text; the `csv`
/// writer does the quoting.
pub(crate) fn defuse(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell }
}

/// A period's end as it may stand in a file name.
fn file_part(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn formulas_become_text() {
        assert_eq!(defuse("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("+86 138".into()), "'+86 138");
        assert_eq!(defuse("-1".into()), "'-1");
        assert_eq!(defuse("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(defuse("张伟".into()), "张伟");
        assert_eq!(defuse(String::new()), "");
    }
}
