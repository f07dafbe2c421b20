//! The reports API: the KPIs of the Insight pages (`GET /api/v1/reports/kpis`, the same
//! figures as `tandem report`) and the conversations behind any of them. Supervisors and admins
//! see the workspace; an agent sees the conversations they answered.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use tandem_domain::{Channel, ConversationFacts, GroupBy, Metric, ReportContext, ReportDocument};
use tandem_flow::insight::ReportError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(kpis)).routes(routes!(conversations))
}

/// Which conversations a report covers.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day (`2026-09-01`) or RFC 3339 moment; default 30 days before `to`.
    pub from: Option<String>,
    /// Last day (included) or RFC 3339 moment; default today.
    pub to: Option<String>,
    /// Group by `day`, `week`, `channel`, `queue`, `agent`, `topic` or `handler`.
    pub by: Option<String>,
    /// The time zone days are counted in (an IANA name or `UTC`, the default).
    pub tz: Option<String>,
    /// Only conversations on this channel (`web`, `email`, `api`, `wecom`, `wechat`,
    /// `feishu`, `dingtalk`); every channel by default.
    pub channel: Option<String>,
}

impl ReportQuery {
    pub fn group(&self) -> ApiResult<Option<GroupBy>> {
        self.by.as_deref().filter(|by| !by.is_empty()).map(parse_by).transpose()
    }

    pub fn channel(&self) -> ApiResult<Option<Channel>> {
        let Some(text) = self.channel.as_deref().filter(|channel| !channel.is_empty()) else {
            return Ok(None);
        };
        let allowed: Vec<&str> = Channel::ALL.iter().map(|channel| channel.as_str()).collect();
        Channel::parse(text).map(Some).ok_or_else(|| invalid("channel", text, &allowed))
    }
}

fn parse_by(text: &str) -> ApiResult<GroupBy> {
    let allowed: Vec<&str> = GroupBy::ALL.iter().map(|by| by.as_str()).collect();
    GroupBy::parse(text).ok_or_else(|| invalid("by", text, &allowed))
}

fn invalid(field: &'static str, value: &str, allowed: &[&str]) -> ApiError {
    let problem = tandem_domain::Problem::not_one_of(value, allowed);
    ApiError::Invalid(tandem_domain::ValidationError::new(field, problem))
}

/// The report's context for the signed-in user: their workspace's queues, the asked time zone.
pub async fn context_for(
    state: &AppState,
    agent: &Agent,
    tz: Option<&str>,
) -> ApiResult<ReportContext> {
    let zone = match tz.filter(|tz| !tz.is_empty()) {
        Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
            ApiError::Invalid(tandem_domain::ValidationError::new(
                "tz",
                tandem_domain::Problem::NotATimeZone { value: name.to_owned() },
            ))
        })?,
        None => jiff::tz::TimeZone::UTC,
    };
    let now = tandem_store::now_millis();
    Ok(state.insight.context(agent.user.workspace_id, zone, now).await?)
}

/// Whose figures a user sees (a supervisor or admin the workspace's, an agent their own), on
/// one channel or all.
pub fn visible_to(
    agent: &Agent,
    channel: Option<Channel>,
) -> impl Fn(&ConversationFacts) -> bool + use<> {
    let own = tandem_domain::permissions::reports_limited_to(&agent.user);
    move |facts: &ConversationFacts| {
        own.is_none_or(|me| facts.agent_id == Some(me))
            && channel.is_none_or(|channel| facts.channel == channel)
    }
}

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> ApiError {
        match error {
            ReportError::Invalid(invalid) => ApiError::Invalid(invalid),
            ReportError::Store(store) => store.into(),
        }
    }
}

/// The KPIs of conversations created in the period, in total and per group (definitions:
/// PRODUCT.md, "KPI definitions"; durations in seconds, a figure with nothing to measure null).
#[utoipa::path(get, path = "/api/v1/reports/kpis", operation_id = "getKpiReport", tag = "reports",
    params(ReportQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The report.", body = ReportDocument), Errors))]
async fn kpis(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> ApiResult<ApiJson<ReportDocument>> {
    let by = query.group()?;
    let channel = query.channel()?;
    let context = context_for(&state, &agent, query.tz.as_deref()).await?;
    let period = (query.from.as_deref(), query.to.as_deref());
    let workspace = agent.user.workspace_id;
    let visible = visible_to(&agent, channel);
    let document = state.insight.document(workspace, period, by, &context, visible).await?;
    Ok(ApiJson(document))
}

/// The conversations behind a figure.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct BehindQuery {
    /// First day or RFC 3339 moment, as for the report.
    from: Option<String>,
    /// Last day (included) or RFC 3339 moment.
    to: Option<String>,
    /// The report's grouping, with `key`.
    by: Option<String>,
    /// The time zone days are counted in.
    tz: Option<String>,
    /// Only conversations on this channel, as for the report.
    channel: Option<String>,
    /// With `by`: the group's key as the report gives it (empty for "none").
    key: Option<String>,
    /// Which figure's conversations: `conversations` (the default), `bot_resolved`,
    /// `handed_off`, `answered`, `resolved`, `reopened`, `not_first_contact`, `rated`,
    /// `unhappy`, `sla_met` or `sla_missed`.
    metric: Option<String>,
    /// At most this many (default 100, at most 1000); `total` counts them all.
    limit: Option<usize>,
}

/// Conversations listed by default and at most.
const LIST_LIMIT: (usize, usize) = (100, 1_000);

/// The conversations behind a figure, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Behind {
    /// How many there are (the list may stop at `limit`).
    total: usize,
    conversations: Vec<ConversationFacts>,
}

/// The conversations behind a figure of the report (every figure of the Insight pages links to
/// the same list), newest first.
#[utoipa::path(get, path = "/api/v1/reports/conversations", operation_id = "getReportConversations",
    tag = "reports", params(BehindQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The conversations.", body = Behind), Errors))]
async fn conversations(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<BehindQuery>,
) -> ApiResult<ApiJson<Behind>> {
    let report = ReportQuery {
        from: query.from,
        to: query.to,
        by: query.by,
        tz: query.tz,
        channel: query.channel,
    };
    let by = report.group()?;
    let channel = report.channel()?;
    let metric = match query.metric.as_deref().filter(|metric| !metric.is_empty()) {
        Some(text) => {
            let allowed: Vec<&str> = Metric::ALL.iter().map(|metric| metric.as_str()).collect();
            Metric::parse(text).ok_or_else(|| invalid("metric", text, &allowed))?
        }
        None => Metric::Conversations,
    };
    let context = context_for(&state, &agent, report.tz.as_deref()).await?;
    let period = (report.from.as_deref(), report.to.as_deref());
    let (period, _) = tandem_domain::insight::period(period.0, period.1, &context)?;
    let key = query.key.unwrap_or_default();
    let group = by.map(|by| (by, key.as_str()));
    let workspace = agent.user.workspace_id;
    let limit = query.limit.unwrap_or(LIST_LIMIT.0).min(LIST_LIMIT.1);
    let (total, conversations) = state
        .insight
        .conversations_page(
            workspace,
            period,
            group,
            metric,
            &context,
            visible_to(&agent, channel),
            limit,
        )
        .await?;
    Ok(ApiJson(Behind { total, conversations }))
}
