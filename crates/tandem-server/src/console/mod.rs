//! The agent console: server-rendered pages (askama templates in `templates/`), plain forms that
//! work without JavaScript, and a small script for live updates.
//!
//! One folder per area with one file per page or action (`routing/page.rs` shows the routing
//! page, `routing/queue_save.rs` saves a queue), each area's `mod.rs` holding its route table and
//! what its handlers share. Two small areas stay single files: `login.rs` (signing in and out,
//! around the sign-in cookie) and `inbox.rs` (the inbox and its live fragment, one query).
//! Every form of a signed-in agent is read through [`CsrfForm`], the one place that checks the
//! session's CSRF token.

mod actions;
mod agents;
mod alerts;
mod audit;
mod conversation;
mod csat;
mod customers;
mod desk;
mod escalation;
mod fields;
mod form;
mod inbox;
mod insight;
mod knowledge;
mod llm;
mod login;
mod privacy;
mod routing;
mod settings;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, OptionalFromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::AppState;
use crate::auth::Agent;
use crate::error::ApiError;
use crate::i18n::Text;

pub use form::{CsrfForm, NoFields};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .merge(login::routes())
        .merge(inbox::routes())
        .merge(conversation::routes())
        .merge(agents::routes())
        .merge(alerts::routes())
        .merge(audit::routes())
        .merge(settings::routes())
        .merge(knowledge::routes())
        .merge(escalation::routes())
        .merge(routing::routes())
        .merge(desk::routes())
        .merge(insight::routes())
        .merge(webhooks::routes())
        .merge(actions::routes())
        .merge(llm::routes())
        .merge(csat::routes())
        .merge(privacy::routes())
        .merge(customers::routes())
}

/// The language of a page shown before any agent is known (sign-in, an unknown address): the
/// browser's.
pub fn browser_text(headers: &HeaderMap) -> &'static Text {
    let accept =
        headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()).unwrap_or("");
    if accept.trim_start().starts_with("zh") { &crate::i18n::ZH } else { &crate::i18n::EN }
}

/// What answers a request for an address no route has.
pub async fn not_found(State(state): State<AppState>, parts: Parts) -> Response {
    unrouted(ApiError::RouteNotFound, &state, parts).await
}

/// What answers a request with a method its route does not take.
pub async fn method_not_allowed(State(state): State<AppState>, parts: Parts) -> Response {
    unrouted(ApiError::MethodNotAllowed, &state, parts).await
}

/// A page for a browser asking for a page (in the signed-in agent's language, else the
/// browser's), the JSON error for everything else (the API, scripts).
async fn unrouted(error: ApiError, state: &AppState, mut parts: Parts) -> Response {
    let api = ["/api/", "/healthz", "/openapi.json"];
    let wants_page = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_page || api.iter().any(|prefix| parts.uri.path().starts_with(prefix)) {
        return error.into_response();
    }
    let agent =
        <Agent as OptionalFromRequestParts<AppState>>::from_request_parts(&mut parts, state)
            .await
            .ok()
            .flatten();
    let text = match agent {
        Some(agent) => text_for(&agent),
        None => browser_text(&parts.headers),
    };
    PageError::new(error, text).into_response()
}

/// What the layout needs on every signed-in page.
#[derive(Debug)]
pub struct Chrome {
    pub t: &'static Text,
    pub me: String,
    pub is_admin: bool,
    /// Admins and supervisors: they see the escalation and routing settings in the nav.
    pub is_manager: bool,
    pub csrf: String,
    pub version: &'static str,
    /// The nav entry to highlight.
    pub section: &'static str,
    /// Supervisors and admins: the spike alerts of the last two days not dismissed, each as
    /// its banner sentence.
    pub alerts: Vec<String>,
}

impl Chrome {
    pub fn new(agent: &Agent, section: &'static str) -> Chrome {
        Chrome {
            t: Text::for_locale(agent.user.locale),
            me: agent.user.display_name.clone(),
            is_admin: agent.user.is_admin(),
            is_manager: agent.user.is_manager(),
            csrf: agent.csrf_token().to_owned(),
            version: crate::assets::VERSION.as_str(),
            section,
            alerts: alerts::banner_lines(agent),
        }
    }
}

/// A signed-in agent on a page: anyone else is sent to the sign-in page.
#[derive(Debug)]
pub struct PageAgent(pub Agent);

impl FromRequestParts<AppState> for PageAgent {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match <Agent as OptionalFromRequestParts<AppState>>::from_request_parts(parts, state).await
        {
            Ok(Some(mut agent)) => {
                if agent.user.is_manager() {
                    agent.alerts =
                        crate::insight_alerts::banner(&state.store, agent.user.workspace_id).await;
                }
                Ok(PageAgent(agent))
            }
            Ok(None) | Err(ApiError::InvalidToken) => Err(Redirect::to("/login").into_response()),
            Err(error) => Err(PageError::new(error, &crate::i18n::EN).into_response()),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    t: &'static Text,
    status: u16,
    message: &'static str,
    version: &'static str,
}

/// An error shown as a page in the agent's language.
#[derive(Debug)]
pub struct PageError {
    error: ApiError,
    text: &'static Text,
}

impl PageError {
    pub fn new(error: ApiError, text: &'static Text) -> PageError {
        PageError { error, text }
    }

    /// Turns errors into pages in `agent`'s language: `.map_err(PageError::for_agent(&agent))`.
    pub fn for_agent(agent: &Agent) -> impl Fn(ApiError) -> PageError + Copy + use<> {
        let text = Text::for_locale(agent.user.locale);
        move |error| PageError::new(error, text)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let code = self.error.code();
        let status = code.status();
        self.error.log();
        // The page speaks the agent's language by the error's code; the English `message` with
        // its details is for developers, in the JSON API's answers.
        let message = self.text.error_message(code.as_str());
        let page = ErrorPage {
            t: self.text,
            status: status.as_u16(),
            message,
            version: crate::assets::VERSION.as_str(),
        };
        let mut response = (status, render(&page)).into_response();
        // Every 429 says when to try again, a page's as well as the API's.
        if let ApiError::RateLimited { retry_after_secs } = self.error {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs),
            );
        }
        response
    }
}

pub type PageResult = Result<Response, PageError>;

/// The sentences of `agent`'s language.
pub fn text_for(agent: &Agent) -> &'static Text {
    Text::for_locale(agent.user.locale)
}

/// Admins and supervisors only: changing knowledge, escalation, routing and actions.
pub fn require_manager(agent: &Agent) -> Result<(), PageError> {
    agent.require_manager().map_err(PageError::for_agent(agent))
}

/// Turns store errors into pages in `agent`'s language: `.map_err(store_failed(&agent))`.
pub fn store_failed(agent: &Agent) -> impl Fn(tandem_store::StoreError) -> PageError + use<> {
    let failed = PageError::for_agent(agent);
    move |error| failed(error.into())
}

/// Renders a template; a template error is a bug, logged and shown as a 500.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// `YYYY-MM-DD HH:MM` in UTC; the console script rewrites it in the reader's time zone.
pub fn format_time(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = tandem_domain::validate::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rest / 3600, rest % 3600 / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_times() {
        assert_eq!(super::format_time(0), "1970-01-01 00:00");
        assert_eq!(super::format_time(1_764_072_000_000), "2025-11-25 12:00");
        assert_eq!(super::format_time(951_782_400_000), "2000-02-29 00:00");
    }
}
