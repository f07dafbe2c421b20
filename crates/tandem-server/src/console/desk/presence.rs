//! `POST /desk/presence`: an agent's own presence (online, away, offline), set through the
//! routing service.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tandem_domain::Presence;

use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult};

#[derive(Debug, Deserialize)]
pub(super) struct PresenceForm {
    presence: String,
}

pub(super) async fn set_presence(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<PresenceForm>,
) -> PageResult {
    let fail = PageError::for_agent(&agent);
    let presence = Presence::parse(&form.presence).ok_or_else(|| {
        let known: Vec<&str> = Presence::ALL.iter().map(|presence| presence.as_str()).collect();
        let problem = tandem_domain::Problem::not_one_of(form.presence.as_str(), &known);
        fail(crate::error::ApiError::Invalid(tandem_domain::ValidationError::new(
            "presence", problem,
        )))
    })?;
    state
        .routing
        .set_presence(agent.user.workspace_id, agent.user.id, presence)
        .await
        .map_err(|error| fail(error.into()))?;
    Ok(Redirect::to("/desk").into_response())
}
