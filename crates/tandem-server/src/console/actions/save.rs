//! `POST /settings/actions` (admins and supervisors): imports the pasted TOML or JSON, all of it
//! or nothing with every problem named, the text kept.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;
use tandem_bot::actions;

use super::page::{PageQuery, actions_page};
use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, render, require_manager};
use crate::i18n::Text;

#[derive(Debug, Deserialize)]
pub(super) struct SaveForm {
    #[serde(default)]
    content: String,
    /// The key of the action being edited, kept so a refused edit stays an edit.
    #[serde(default)]
    editing: String,
}

/// Imports the pasted TOML or JSON: all of it, or nothing with every problem named.
pub(super) async fn save_actions(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<SaveForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    require_manager(&agent)?;
    let text = Text::for_locale(agent.user.locale);
    let problems = match actions::parse(&form.content) {
        Ok(parsed) if parsed.is_empty() => vec![text.act_empty.to_owned()],
        Ok(parsed) => {
            state
                .store
                .save_actions(agent.user.workspace_id, parsed)
                .await
                .map_err(|error| failed(error.into()))?;
            return Ok(Redirect::to("/settings/actions?notice=saved").into_response());
        }
        Err(problems) => problems.iter().map(|problem| text.action_error(problem)).collect(),
    };
    let query = PageQuery {
        edit: Some(form.editing).filter(|key| !key.is_empty()),
        ..PageQuery::default()
    };
    let page = actions_page(&state, &agent, query, Some(form.content), problems).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}
