//! `POST /settings/inboxes/{id}/channel` (admins): saves an inbox's channel settings from the
//! settings page's form, as `PUT /api/v1/inboxes/{id}/channel` does; a secret left empty keeps
//! the stored one. A refused value shows the page again with the form as it was typed.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tandem_domain::{InboxId, ValidationError};

use super::channel_form::{self, Refusal};
use super::page::settings_page_with;
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, store_failed, text_for};

pub(super) async fn save_channel_settings(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, form }: CsrfForm<BTreeMap<String, String>>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    let inbox =
        crate::api::inboxes::inbox_for_admin(&state, &agent, InboxId(id)).await.map_err(failed)?;
    let checked = match channel_form::parse(&inbox, &form) {
        Ok(mut settings) => {
            let before = crate::channels::stored(&state, inbox.id).await.map_err(failed)?;
            settings.keep_secrets(before.as_ref());
            settings.check(&inbox).map(|()| settings)
        }
        Err(error) => Err(error),
    };
    let settings = match checked {
        Ok(settings) => settings,
        Err(error) => {
            let refusal = refusal(&agent, id, &error, form);
            return settings_page_with(&state, &agent, None, None, None, Some(refusal)).await;
        }
    };
    crate::channels::apply(state.store.as_ref(), &inbox, &settings)
        .await
        .map_err(store_failed(&agent))?;
    tracing::info!(inbox_id = %inbox.id, channel = inbox.channel.as_str(), user_id = %agent.user.id, "channel settings saved in the console");
    Ok(Redirect::to(&format!("/settings?notice=channel_saved#inbox-{id}")).into_response())
}

/// The refused form: its problem named by the input's label, and what was typed (the page
/// shows secrets again only as "set").
fn refusal(
    agent: &crate::auth::Agent,
    inbox_id: i64,
    error: &ValidationError,
    mut values: BTreeMap<String, String>,
) -> Refusal {
    let text = text_for(agent);
    let input = channel_form::input_name(error.field);
    let message = text.about(channel_form::label(text, &input), &text.problem(&error.problem));
    values.remove("csrf");
    Refusal { inbox_id, field: Some(input), message, values }
}
