//! Spike alerts (see `insight_alerts`): the recent ones, and dismissing one. Supervisors and
//! admins.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tandem_domain::Millis;
use tandem_store::InsightAlert;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::auth::Agent;
use crate::error::{ApiJson, ApiPath, ApiQuery, ApiResult};

const DAY: Millis = 24 * 60 * 60 * 1000;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_alerts)).routes(routes!(dismiss_alert))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AlertsQuery {
    /// Alerts raised in this many last days, 1 to 365 (30 by default).
    days: Option<u32>,
}

/// A spike alert: customers suddenly writing much more than usual about something.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Alert {
    id: i64,
    /// What makes it the same alert when detection runs again (its first day and words).
    key: String,
    /// The alert as `tandem trends` prints it (`label`, `terms`, `first_day`, `days`, `count`,
    /// `expected`, `score`), with `conversation_ids`: the conversations it counts.
    #[schema(value_type = Object)]
    alert: serde_json::Value,
    /// When it was raised (milliseconds since the epoch).
    raised_at: Millis,
    dismissed_at: Option<Millis>,
}

impl From<InsightAlert> for Alert {
    fn from(alert: InsightAlert) -> Alert {
        Alert {
            id: alert.id,
            key: alert.key,
            alert: alert.alert,
            raised_at: alert.raised_at,
            dismissed_at: alert.dismissed_at,
        }
    }
}

/// The workspace's alerts, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Alerts {
    alerts: Vec<Alert>,
}

/// The spike alerts raised recently, dismissed ones included (`dismissed_at`). Supervisors and
/// admins.
#[utoipa::path(get, path = "/api/v1/insight/alerts", operation_id = "listInsightAlerts", tag = "reports",
    params(AlertsQuery), security(("session" = []), ("apiToken" = [])),
    responses((status = 200, description = "The alerts.", body = Alerts), Errors))]
async fn list_alerts(
    State(state): State<AppState>,
    agent: Agent,
    ApiQuery(query): ApiQuery<AlertsQuery>,
) -> ApiResult<ApiJson<Alerts>> {
    agent.require_manager()?;
    let days = i64::from(query.days.unwrap_or(30).clamp(1, 365));
    let since = tandem_store::now_millis() - days * DAY;
    let alerts = state.store.insight_alerts(agent.user.workspace_id, since).await?;
    Ok(ApiJson(Alerts { alerts: alerts.into_iter().map(Alert::from).collect() }))
}

/// Dismisses a spike alert: the console's banner no longer shows it. Dismissing twice is fine.
/// Supervisors and admins.
#[utoipa::path(post, path = "/api/v1/insight/alerts/{id}/dismiss", operation_id = "dismissInsightAlert", tag = "reports",
    params(("id" = i64, Path, description = "The alert.")), security(("session" = []), ("apiToken" = [])),
    responses((status = 204, description = "Dismissed."), Errors))]
async fn dismiss_alert(
    State(state): State<AppState>,
    agent: Agent,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    agent.require_manager()?;
    state.store.dismiss_insight_alert(agent.user.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
