//! `GET /settings/model` (admins): the model settings form in groups, whether the server holds
//! the named API key, and the usage summary; the save action shows it again with a refused form
//! as typed.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_bot::model as llm;
use tandem_domain::{LlmUsage, ValidationError};

use super::model_form::ModelForm;
use super::require_admin;
use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, render};
use crate::i18n::Text;

/// How far back the usage summary looks.
const USAGE_DAYS: i64 = 30;

/// A check box of the form.
#[derive(Debug)]
pub struct SwitchView {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub checked: bool,
}

/// A text or number input of the form, with its error when the save was refused for it.
#[derive(Debug)]
pub struct InputView {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    /// text, url or number.
    pub kind: &'static str,
    /// For numbers: the `step` attribute ("1", "any").
    pub step: &'static str,
    pub value: String,
    pub error: Option<String>,
}

/// A group of the form under its own heading.
#[derive(Debug)]
pub struct SectionView {
    pub title: &'static str,
    pub hint: &'static str,
    pub switches: Vec<SwitchView>,
    pub inputs: Vec<InputView>,
}

/// The API key variable as the page shows it: its name and whether the server has it.
#[derive(Debug)]
pub struct KeyStatus {
    pub name: String,
    pub set: bool,
}

/// The usage summary's rows: (label, value).
#[derive(Debug)]
pub struct UsageView {
    pub empty: bool,
    pub rows: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "pages/llm.html")]
pub(super) struct ModelPage {
    chrome: Chrome,
    notice: Option<String>,
    /// Set when a save was refused: nothing was saved.
    refused: Option<String>,
    sections: Vec<SectionView>,
    /// `None` when no key variable is named (no key is sent).
    key_status: Option<KeyStatus>,
    usage: UsageView,
}

/// Whether the server's environment holds a usable key under `name`, read the way the model
/// client reads it (a blank value is no key). Only the answer is shown, never the value.
fn key_is_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|key| !key.trim().is_empty())
}

/// The form's groups, each field with its label, hint and the value to show.
fn sections(
    t: &'static Text,
    form: ModelForm,
    error: Option<&ValidationError>,
) -> Vec<SectionView> {
    let switch = |name, label, hint, value: &Option<String>| SwitchView {
        name,
        label,
        hint,
        checked: value.is_some(),
    };
    let input = |name: &'static str, label, hint, kind, step, value: String| InputView {
        name,
        label,
        hint,
        kind,
        step,
        value,
        error: error.filter(|error| error.field == name).map(|error| t.problem(&error.problem)),
    };
    vec![
        SectionView {
            title: &t.llm_provider,
            hint: "",
            switches: vec![
                switch("enabled", &t.llm_enabled, &t.llm_enabled_hint, &form.enabled),
                switch(
                    "allow_external",
                    &t.llm_allow_external,
                    &t.llm_allow_external_hint,
                    &form.allow_external,
                ),
            ],
            inputs: vec![
                input("base_url", &t.llm_base_url, &t.llm_base_url_hint, "url", "", form.base_url),
                input("model", &t.llm_model, "", "text", "", form.model),
                input(
                    "embedding_model",
                    &t.llm_embedding_model,
                    &t.llm_embedding_model_hint,
                    "text",
                    "",
                    form.embedding_model,
                ),
                input(
                    "api_key_env",
                    &t.llm_api_key_env,
                    &t.llm_api_key_env_hint,
                    "text",
                    "",
                    form.api_key_env,
                ),
            ],
        },
        SectionView {
            title: &t.llm_limits,
            hint: "",
            switches: Vec::new(),
            inputs: vec![
                input(
                    "timeout_ms",
                    &t.llm_timeout,
                    &t.llm_timeout_hint,
                    "number",
                    "1",
                    form.timeout_ms,
                ),
                input(
                    "total_timeout_ms",
                    &t.llm_total_timeout,
                    &t.llm_total_timeout_hint,
                    "number",
                    "1",
                    form.total_timeout_ms,
                ),
                input("max_tokens", &t.llm_max_tokens, "", "number", "1", form.max_tokens),
                input(
                    "temperature",
                    &t.llm_temperature,
                    &t.llm_temperature_hint,
                    "number",
                    "any",
                    form.temperature,
                ),
                input(
                    "max_retries",
                    &t.llm_max_retries,
                    &t.llm_max_retries_hint,
                    "number",
                    "1",
                    form.max_retries,
                ),
            ],
        },
        SectionView {
            title: &t.llm_costs,
            hint: &t.llm_price_hint,
            switches: Vec::new(),
            inputs: vec![
                input(
                    "input_price_per_1k",
                    &t.llm_input_price,
                    "",
                    "number",
                    "any",
                    form.input_price_per_1k,
                ),
                input(
                    "output_price_per_1k",
                    &t.llm_output_price,
                    "",
                    "number",
                    "any",
                    form.output_price_per_1k,
                ),
            ],
        },
        SectionView {
            title: &t.llm_breaker,
            hint: &t.llm_breaker_hint,
            switches: Vec::new(),
            inputs: vec![
                input(
                    "breaker_failures",
                    &t.llm_breaker_failures,
                    "",
                    "number",
                    "1",
                    form.breaker_failures,
                ),
                input(
                    "breaker_cooldown_ms",
                    &t.llm_breaker_cooldown,
                    "",
                    "number",
                    "1",
                    form.breaker_cooldown_ms,
                ),
            ],
        },
        SectionView {
            title: &t.llm_features,
            hint: "",
            switches: vec![
                switch("stream", &t.llm_stream, &t.llm_stream_hint, &form.stream),
                switch("tools", &t.llm_tools, &t.llm_tools_hint, &form.tools),
                switch("choose", &t.llm_choose, &t.llm_choose_hint, &form.choose),
                switch("summaries", &t.llm_summaries, &t.llm_summaries_hint, &form.summaries),
            ],
            inputs: Vec::new(),
        },
    ]
}

fn usage_view(text: &'static Text, usage: &LlmUsage) -> UsageView {
    UsageView {
        empty: usage.is_empty(),
        rows: vec![
            (&text.llm_calls, usage.calls.to_string()),
            (&text.llm_used, usage.used.to_string()),
            (&text.llm_rejected, usage.rejected.to_string()),
            (&text.llm_refused, usage.refused.to_string()),
            (&text.llm_errors, usage.error.to_string()),
            (&text.llm_skipped, usage.skipped.to_string()),
            (&text.llm_prompt_tokens, usage.prompt_tokens.to_string()),
            (&text.llm_completion_tokens, usage.completion_tokens.to_string()),
            (&text.llm_cost, format!("{:.4}", usage.cost)),
        ],
    }
}

/// What the save action hands the page: a notice, or the field a refused save was refused for.
pub(super) struct Flash {
    pub(super) notice: Option<String>,
    pub(super) error: Option<ValidationError>,
}

pub(super) async fn model_page(
    state: &AppState,
    agent: &Agent,
    form: ModelForm,
    flash: Flash,
) -> Result<ModelPage, PageError> {
    let failed = PageError::for_agent(agent);
    let text = Text::for_locale(agent.user.locale);
    let since = tandem_store::now_millis() - USAGE_DAYS * 24 * 60 * 60 * 1000;
    let usage = state
        .store
        .llm_usage(agent.user.workspace_id, since)
        .await
        .map_err(|error| failed(error.into()))?;
    let key_name = form.api_key_env.trim().to_owned();
    let key_status =
        (!key_name.is_empty()).then(|| KeyStatus { set: key_is_set(&key_name), name: key_name });
    Ok(ModelPage {
        chrome: Chrome::new(agent, "model"),
        notice: flash.notice,
        refused: flash.error.as_ref().map(|_| text.llm_not_saved.to_owned()),
        sections: sections(text, form, flash.error.as_ref()),
        key_status,
        usage: usage_view(text, &usage),
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

pub(super) async fn show_model_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    require_admin(&agent)?;
    let failed = PageError::for_agent(&agent);
    let text = Text::for_locale(agent.user.locale);
    let settings = llm::llm_settings(state.store.as_ref(), agent.user.workspace_id)
        .await
        .map_err(|error| failed(error.into()))?;
    let notice = query.notice.filter(|notice| notice == "saved").map(|_| text.llm_saved.to_owned());
    let flash = Flash { notice, error: None };
    let page = model_page(&state, &agent, ModelForm::from_settings(&settings), flash).await?;
    Ok(render(&page))
}
