//! `GET /knowledge/settings`: the workspace's answer settings (the threshold below which the
//! bot does not answer, and the business's own words for the segmenter). Every agent may read
//! them; the save action shows the page again with a refused form as it was typed.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, render, text_for};

/// The settings form as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SettingsForm {
    /// Empty for the server's default.
    #[serde(default)]
    pub(super) threshold: String,
    /// One word per line.
    #[serde(default)]
    pub(super) dictionary: String,
}

#[derive(Template)]
#[template(path = "pages/knowledge_settings.html")]
pub(super) struct SettingsPage {
    chrome: Chrome,
    can_edit: bool,
    form: SettingsForm,
    default_threshold: String,
    notice: Option<String>,
    error: Option<String>,
}

pub(super) fn settings_page(
    state: &AppState,
    agent: &Agent,
    form: SettingsForm,
    notice: Option<String>,
    error: Option<String>,
) -> SettingsPage {
    SettingsPage {
        chrome: Chrome::new(agent, "knowledge"),
        can_edit: agent.user.is_manager(),
        form,
        default_threshold: format!("{:.2}", state.knowledge.default_policy().threshold),
        notice,
        error,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct SettingsQuery {
    notice: Option<String>,
}

pub(super) async fn show_answer_settings_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<SettingsQuery>,
) -> PageResult {
    let settings = state
        .store
        .answer_settings(agent.user.workspace_id)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    let form = SettingsForm {
        threshold: settings.threshold.map(|value| format!("{value:.2}")).unwrap_or_default(),
        dictionary: settings.dictionary.join("\n"),
    };
    let notice = query.notice.map(|_| text_for(&agent).saved.to_owned());
    Ok(render(&settings_page(&state, &agent, form, notice, None)))
}
