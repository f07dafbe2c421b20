//! `GET /knowledge/settings`: the workspace's answer settings (the threshold below which the
//! bot does not answer, and the business's own words for the segmenter). Every agent may read
//! them; the save action shows the page again with a refused form as it was typed.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Agent;
use tandem_locales::fill;

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
    /// Shown in the empty field: the threshold in force without one set here.
    placeholder: String,
    /// Which threshold is in force and what it is expected to do.
    in_force: String,
    notice: Option<String>,
    error: Option<String>,
}

pub(super) async fn settings_page(
    state: &AppState,
    agent: &Agent,
    form: SettingsForm,
    notice: Option<String>,
    error: Option<String>,
) -> Result<SettingsPage, PageError> {
    let workspace = agent.user.workspace_id;
    let (threshold, learnt) = state
        .knowledge
        .threshold_in_force(workspace)
        .await
        .map_err(|e| PageError::for_agent(agent)(e.into()))?;
    let own = state
        .store
        .answer_settings(workspace)
        .await
        .map_err(|e| PageError::for_agent(agent)(e.into()))?
        .threshold
        .is_some();
    let t = text_for(agent);
    let percent = |share: f32| format!("{:.0}", share * 100.0);
    let threshold_text = format!("{threshold:.2}");
    let in_force = match learnt {
        Some(learnt) if own => fill(
            &t.kb_own_threshold,
            &[("threshold", &threshold_text), ("learnt", &format!("{:.2}", learnt.threshold))],
        ),
        Some(learnt) => fill(
            &t.kb_learnt,
            &[
                ("threshold", &threshold_text),
                ("covered", &percent(learnt.covered_answered)),
                ("precision", &percent(learnt.precision)),
                ("uncovered", &percent(learnt.uncovered_answered)),
                ("unrelated", &percent(learnt.unrelated_answered)),
            ],
        ),
        None => fill(&t.kb_learnt_none, &[("threshold", &threshold_text)]),
    };
    Ok(SettingsPage {
        chrome: Chrome::new(agent, "knowledge"),
        can_edit: agent.user.is_manager(),
        form,
        placeholder: format!(
            "{:.2}",
            learnt.map_or(state.knowledge.default_policy().threshold, |learnt| learnt.threshold)
        ),
        in_force,
        notice,
        error,
    })
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
    Ok(render(&settings_page(&state, &agent, form, notice, None).await?))
}
