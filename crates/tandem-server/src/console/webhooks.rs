//! Settings → Webhooks (admins): register endpoints (the signing secret is shown once), enable,
//! disable, delete, send a test event, and read each endpoint's recent deliveries.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tandem_domain::{WebhookDeliveryStatus, WebhookEventType};

use super::{Chrome, PageAgent, PageError, PageResult, format_time, render};
use crate::AppState;
use crate::api::webhooks::{
    CreateWebhook, UpdateWebhook, WithSecret, create_checked, delete_checked, endpoint_for,
    endpoints_for, send_test_checked, update_checked,
};
use crate::auth::Agent;
use crate::error::ApiError;
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/webhooks", get(show_webhooks).post(create_webhook))
        .route("/settings/webhooks/{id}", post(change_webhook))
}

/// Deliveries listed under each endpoint.
const RECENT_DELIVERIES: u32 = 10;

fn event_label(text: &'static Text, event: WebhookEventType) -> &'static str {
    match event {
        WebhookEventType::ConversationHandedOff => &text.wh_event_handed_off,
        WebhookEventType::ConversationAssigned => &text.wh_event_assigned,
        WebhookEventType::ConversationResolved => &text.wh_event_resolved,
        WebhookEventType::MessageCreated => &text.wh_event_message,
        WebhookEventType::Test => &text.wh_event_test,
    }
}

fn status_label(text: &'static Text, status: WebhookDeliveryStatus) -> &'static str {
    match status {
        WebhookDeliveryStatus::Pending => &text.wh_status_pending,
        WebhookDeliveryStatus::Delivered => &text.wh_status_delivered,
        WebhookDeliveryStatus::Failed => &text.wh_status_failed,
    }
}

#[derive(Debug)]
pub struct DeliveryRow {
    pub id: i64,
    pub event: &'static str,
    pub event_label: &'static str,
    pub status: &'static str,
    pub status_label: &'static str,
    pub attempts: u32,
    /// The HTTP status of the latest answer; empty when there was none.
    pub response: String,
    pub error: String,
    pub created: (String, i64),
    pub next_retry: Option<(String, i64)>,
}

#[derive(Debug)]
pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: Vec<(&'static str, &'static str)>,
    pub active: bool,
    pub deliveries: Vec<DeliveryRow>,
}

/// One check box of the create form.
#[derive(Debug)]
pub struct EventOption {
    pub name: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "pages/webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    endpoints: Vec<EndpointRow>,
    event_options: Vec<EventOption>,
    form_url: String,
    form_description: String,
    /// The URL and secret of the endpoint just created.
    new_secret: Option<(String, String)>,
    notice: Option<String>,
    error: Option<String>,
    /// The input the error is about ("" when none).
    error_field: &'static str,
}

/// The create form as typed, so that a refused form comes back unchanged.
#[derive(Debug, Default)]
struct CreateForm {
    csrf: String,
    url: String,
    description: String,
    events: Vec<String>,
}

impl CreateForm {
    /// From the posted fields; check boxes repeat their name once per checked box.
    fn from_fields(fields: Vec<(String, String)>) -> CreateForm {
        let mut form = CreateForm::default();
        for (name, value) in fields {
            match name.as_str() {
                "csrf" => form.csrf = value,
                "url" => form.url = value,
                "description" => form.description = value,
                "events" => form.events.push(value),
                _ => {}
            }
        }
        form
    }
}

struct Flash {
    new_secret: Option<WithSecret>,
    notice: Option<String>,
    error: Option<ApiError>,
}

async fn webhooks_page(
    state: &AppState,
    agent: &Agent,
    form: CreateForm,
    flash: Flash,
) -> Result<WebhooksPage, PageError> {
    let failed = PageError::for_agent(agent);
    let text = Text::for_locale(agent.user.locale);
    let mut endpoints = Vec::new();
    for endpoint in endpoints_for(state, agent).await.map_err(failed)? {
        let deliveries = state
            .store
            .webhook_deliveries(endpoint.id, RECENT_DELIVERIES)
            .await
            .map_err(|error| failed(error.into()))?
            .into_iter()
            .map(|delivery| DeliveryRow {
                id: delivery.id.0,
                event: delivery.event_type.as_str(),
                event_label: event_label(text, delivery.event_type),
                status: delivery.status.as_str(),
                status_label: status_label(text, delivery.status),
                attempts: delivery.attempts,
                response: delivery.response_status.map(|code| code.to_string()).unwrap_or_default(),
                error: delivery.error.unwrap_or_default(),
                created: (format_time(delivery.created_at), delivery.created_at),
                next_retry: delivery
                    .next_attempt_at
                    .filter(|_| delivery.status == WebhookDeliveryStatus::Pending)
                    .map(|at| (format_time(at), at)),
            })
            .collect();
        endpoints.push(EndpointRow {
            id: endpoint.id.0,
            events: endpoint
                .events
                .iter()
                .map(|event| (event.as_str(), event_label(text, *event)))
                .collect(),
            url: endpoint.url,
            description: endpoint.description,
            active: endpoint.active,
            deliveries,
        });
    }
    let fresh = form.url.is_empty() && form.events.is_empty();
    let event_options = WebhookEventType::SUBSCRIBABLE
        .iter()
        .map(|event| EventOption {
            name: event.as_str(),
            label: event_label(text, *event),
            // A new endpoint most often wants hand-offs.
            checked: if fresh {
                *event == WebhookEventType::ConversationHandedOff
            } else {
                form.events.iter().any(|name| name.trim() == event.as_str())
            },
        })
        .collect();
    let error_field = match &flash.error {
        Some(ApiError::Invalid(error)) => error.field,
        _ => "",
    };
    Ok(WebhooksPage {
        chrome: Chrome::new(agent, "webhooks"),
        endpoints,
        event_options,
        form_url: form.url,
        form_description: form.description,
        new_secret: flash.new_secret.map(|created| (created.endpoint.url, created.secret)),
        notice: flash.notice,
        error: flash.error.map(|error| error.to_string()),
        error_field,
    })
}

#[derive(Debug, Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn show_webhooks(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    let text = Text::for_locale(agent.user.locale);
    let notice = query.notice.as_deref().and_then(|notice| match notice {
        "test" => Some(text.wh_test_queued.to_owned()),
        "saved" => Some(text.wh_saved.to_owned()),
        "deleted" => Some(text.wh_deleted.to_owned()),
        _ => None,
    });
    let flash = Flash { new_secret: None, notice, error: None };
    Ok(render(&webhooks_page(&state, &agent, CreateForm::default(), flash).await?))
}

async fn create_webhook(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = CreateForm::from_fields(fields);
    agent.check_csrf(&form.csrf).map_err(PageError::for_agent(&agent))?;
    let request = CreateWebhook {
        url: form.url.clone(),
        events: form.events.clone(),
        description: form.description.clone(),
        active: Some(true),
    };
    match create_checked(&state, &agent, request).await {
        // The secret is shown on this response only; reloading the page does not show it again.
        Ok(created) => {
            let flash = Flash { new_secret: Some(created), notice: None, error: None };
            let page = webhooks_page(&state, &agent, CreateForm::default(), flash).await?;
            Ok((StatusCode::CREATED, render(&page)).into_response())
        }
        Err(error @ (ApiError::Refused(_) | ApiError::Internal(_))) => {
            Err(PageError::for_agent(&agent)(error))
        }
        Err(error) => {
            let flash = Flash { new_secret: None, notice: None, error: Some(error) };
            let page = webhooks_page(&state, &agent, form, flash).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
struct ChangeForm {
    csrf: String,
    /// enable, disable, test or delete.
    action: String,
}

async fn change_webhook(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(id): Path<i64>,
    Form(form): Form<ChangeForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.check_csrf(&form.csrf).map_err(failed)?;
    let active = |active| UpdateWebhook { active: Some(active), ..UpdateWebhook::default() };
    let outcome = match form.action.as_str() {
        "enable" => update_checked(&state, &agent, id, active(true)).await.map(|_| "saved"),
        "disable" => update_checked(&state, &agent, id, active(false)).await.map(|_| "saved"),
        "test" => send_test_checked(&state, &agent, id).await.map(|_| "test"),
        "delete" => delete_checked(&state, &agent, id).await.map(|()| "deleted"),
        _ => Err(ApiError::Invalid(tandem_domain::ValidationError {
            field: "action",
            reason: "must be enable, disable, test or delete".into(),
        })),
    };
    match outcome {
        Ok(notice) => {
            let anchor = if notice == "deleted" { String::new() } else { format!("#webhook-{id}") };
            Ok(Redirect::to(&format!("/settings/webhooks?notice={notice}{anchor}")).into_response())
        }
        Err(error @ (ApiError::Invalid(_) | ApiError::Conflict(_))) => {
            // Keep the page: name the problem above the list.
            endpoint_for(&state, &agent, id).await.map_err(failed)?;
            let (_, status) = error.code_and_status();
            let flash = Flash { new_secret: None, notice: None, error: Some(error) };
            let page = webhooks_page(&state, &agent, CreateForm::default(), flash).await?;
            Ok((status, render(&page)).into_response())
        }
        Err(error) => Err(failed(error)),
    }
}
