//! `GET /settings/webhooks`: the endpoints with their recent deliveries and the create form;
//! the actions show it again with a new endpoint's secret or a refused form.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_domain::{WebhookDeliveryStatus, WebhookEventType};

use super::create::CreateForm;
use crate::AppState;
use crate::api::webhooks::{WithSecret, endpoints_for};
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, format_time, render};
use crate::error::ApiError;
use crate::i18n::Text;

/// Deliveries listed under each endpoint.
const RECENT_DELIVERIES: u32 = 10;

fn event_label(text: &'static Text, event: WebhookEventType) -> &'static str {
    match event {
        WebhookEventType::ConversationHandedOff => &text.wh_event_handed_off,
        WebhookEventType::ConversationAssigned => &text.wh_event_assigned,
        WebhookEventType::ConversationResolved => &text.wh_event_resolved,
        WebhookEventType::MessageCreated => &text.wh_event_message,
        WebhookEventType::InsightAlert => &text.wh_event_insight_alert,
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
pub(super) struct WebhooksPage {
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

/// What an action hands the page to show above the list.
pub(super) struct Flash {
    pub(super) new_secret: Option<WithSecret>,
    pub(super) notice: Option<String>,
    pub(super) error: Option<ApiError>,
}

pub(super) async fn webhooks_page(
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
        error: flash.error.map(|error| text.api_error(&error)),
        error_field,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

pub(super) async fn show_webhooks_page(
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
