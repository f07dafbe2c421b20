//! `POST /settings/tokens`: creates an API token for oneself, shown on the page this once.

use axum::extract::State;
use serde::Deserialize;

use super::page::settings_page;
use crate::AppState;
use crate::api::agents::MAX_TOKEN_NAME;
use crate::auth::{random_token, token_hash};
use crate::console::{CsrfForm, PageError, PageResult, text_for};

#[derive(Debug, Deserialize)]
pub(super) struct TokenForm {
    name: String,
}

pub(super) async fn create_api_token(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<TokenForm>,
) -> PageResult {
    let name = match tandem_domain::validate::one_line("name", &form.name, MAX_TOKEN_NAME) {
        Ok(name) => name,
        Err(error) => {
            let message = text_for(&agent).invalid(&error);
            return settings_page(&state, &agent, None, None, Some(message)).await;
        }
    };
    let token = format!("tdm_{}", random_token());
    state
        .store
        .create_api_token(agent.user.id, &token_hash(&token), &name)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    settings_page(&state, &agent, Some(token), None, None).await
}
