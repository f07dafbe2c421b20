//! `POST /settings/tokens`: creates an API token for oneself, shown on the page this once.

use axum::extract::State;
use serde::Deserialize;

use super::page::settings_page;
use crate::AppState;
use crate::auth::{random_token, token_hash};
use crate::console::{CsrfForm, PageError, PageResult};

#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    name: String,
}

pub(super) async fn create_api_token(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<TokenForm>,
) -> PageResult {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return settings_page(
            &state,
            &agent,
            None,
            None,
            Some("name: must be 1 to 80 characters".into()),
        )
        .await;
    }
    let token = format!("tdm_{}", random_token());
    state
        .store
        .create_api_token(agent.user.id, &token_hash(&token), name)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    settings_page(&state, &agent, Some(token), None, None).await
}
