//! Settings → Model (admins): every field of the workspace's [`LlmSettings`] as a plain form,
//! saved through `tandem_bot::model::save_llm_settings` (the same check as the API: a refused
//! form comes back as typed, the message next to its field, and nothing is saved), and the
//! workspace's model usage over the last 30 days, added up from the stored decision records.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use tandem_bot::model::{self as llm, LlmSettingsError};
use tandem_domain::LlmUsage;
use tandem_llm::LlmSettings;

use super::{Chrome, PageAgent, PageError, PageResult, render};
use crate::AppState;
use crate::auth::Agent;
use crate::error::ApiError;
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new().route("/settings/model", get(show_model).post(save_model))
}

/// How far back the usage summary looks.
const USAGE_DAYS: i64 = 30;

fn require_admin(agent: &Agent) -> Result<(), PageError> {
    agent.require_admin().map_err(PageError::for_agent(agent))
}

/// The form as typed: text for every input, so that a refused form comes back unchanged.
/// Check boxes are sent only when checked.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ModelForm {
    csrf: String,
    enabled: Option<String>,
    allow_external: Option<String>,
    base_url: String,
    model: String,
    api_key_env: String,
    timeout_ms: String,
    total_timeout_ms: String,
    max_tokens: String,
    temperature: String,
    max_retries: String,
    input_price_per_1k: String,
    output_price_per_1k: String,
    breaker_failures: String,
    breaker_cooldown_ms: String,
    stream: Option<String>,
    tools: Option<String>,
    summaries: Option<String>,
}

/// A field the form could not read or the settings check refused.
#[derive(Debug)]
struct FieldError {
    field: &'static str,
    message: String,
}

impl ModelForm {
    fn from_settings(settings: &LlmSettings) -> ModelForm {
        let checked = |on: bool| on.then(|| "true".to_owned());
        ModelForm {
            csrf: String::new(),
            enabled: checked(settings.enabled),
            allow_external: checked(settings.allow_external),
            base_url: settings.base_url.clone(),
            model: settings.model.clone(),
            api_key_env: settings.api_key_env.clone().unwrap_or_default(),
            timeout_ms: settings.timeout_ms.to_string(),
            total_timeout_ms: settings.total_timeout_ms.to_string(),
            max_tokens: settings.max_tokens.to_string(),
            temperature: settings.temperature.to_string(),
            max_retries: settings.max_retries.to_string(),
            input_price_per_1k: settings.input_price_per_1k.to_string(),
            output_price_per_1k: settings.output_price_per_1k.to_string(),
            breaker_failures: settings.breaker_failures.to_string(),
            breaker_cooldown_ms: settings.breaker_cooldown_ms.to_string(),
            stream: checked(settings.stream),
            tools: checked(settings.tools),
            summaries: checked(settings.summaries),
        }
    }

    /// The settings the form describes; a number that does not read is named like a refused
    /// setting. Ranges are left to `LlmSettings::validate`.
    fn to_settings(&self, text: &Text) -> Result<LlmSettings, FieldError> {
        fn number<T: std::str::FromStr>(
            text: &Text,
            field: &'static str,
            value: &str,
        ) -> Result<T, FieldError> {
            value
                .trim()
                .parse()
                .map_err(|_| FieldError { field, message: text.llm_not_a_number.to_owned() })
        }
        let api_key_env = self.api_key_env.trim();
        Ok(LlmSettings {
            enabled: self.enabled.is_some(),
            allow_external: self.allow_external.is_some(),
            base_url: self.base_url.trim().to_owned(),
            model: self.model.trim().to_owned(),
            api_key_env: (!api_key_env.is_empty()).then(|| api_key_env.to_owned()),
            timeout_ms: number(text, "timeout_ms", &self.timeout_ms)?,
            total_timeout_ms: number(text, "total_timeout_ms", &self.total_timeout_ms)?,
            max_tokens: number(text, "max_tokens", &self.max_tokens)?,
            temperature: number(text, "temperature", &self.temperature)?,
            max_retries: number(text, "max_retries", &self.max_retries)?,
            input_price_per_1k: number(text, "input_price_per_1k", &self.input_price_per_1k)?,
            output_price_per_1k: number(text, "output_price_per_1k", &self.output_price_per_1k)?,
            breaker_failures: number(text, "breaker_failures", &self.breaker_failures)?,
            breaker_cooldown_ms: number(text, "breaker_cooldown_ms", &self.breaker_cooldown_ms)?,
            stream: self.stream.is_some(),
            tools: self.tools.is_some(),
            summaries: self.summaries.is_some(),
        })
    }
}

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
struct ModelPage {
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
fn sections(t: &'static Text, form: ModelForm, error: Option<&FieldError>) -> Vec<SectionView> {
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
        error: error.filter(|error| error.field == name).map(|error| error.message.clone()),
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

struct Flash {
    notice: Option<String>,
    error: Option<FieldError>,
}

async fn model_page(
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
struct NoticeQuery {
    notice: Option<String>,
}

async fn show_model(
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

async fn save_model(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(form): Form<ModelForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.check_csrf(&form.csrf).map_err(failed)?;
    require_admin(&agent)?;
    let text = Text::for_locale(agent.user.locale);
    let error = match form.to_settings(text) {
        Err(error) => error,
        Ok(settings) => {
            let workspace = agent.user.workspace_id;
            match llm::save_llm_settings(state.store.as_ref(), workspace, &settings).await {
                Ok(_) => return Ok(Redirect::to("/settings/model?notice=saved").into_response()),
                Err(LlmSettingsError::Invalid(error)) => {
                    FieldError { field: error.field, message: error.message }
                }
                Err(error) => return Err(failed(ApiError::from(error))),
            }
        }
    };
    // Nothing was saved: the form comes back as typed, the message next to its field.
    let flash = Flash { notice: None, error: Some(error) };
    let page = model_page(&state, &agent, form, flash).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}

#[cfg(test)]
mod tests {
    use tandem_llm::LlmSettings;

    use super::ModelForm;
    use crate::i18n::EN;

    #[test]
    fn the_form_reads_back_the_settings_it_shows() {
        let settings = LlmSettings {
            enabled: true,
            api_key_env: None,
            temperature: 0.7,
            input_price_per_1k: 0.0015,
            tools: false,
            ..LlmSettings::default()
        };
        let form = ModelForm::from_settings(&settings);
        assert_eq!(form.to_settings(&EN).unwrap(), settings);
        assert_eq!(
            ModelForm::from_settings(&LlmSettings::default()).to_settings(&EN).unwrap(),
            LlmSettings::default()
        );
    }

    #[test]
    fn a_number_that_does_not_read_names_its_field() {
        let form = ModelForm {
            max_retries: "two".into(),
            ..ModelForm::from_settings(&LlmSettings::default())
        };
        let error = form.to_settings(&EN).unwrap_err();
        assert_eq!(
            (error.field, error.message.as_str()),
            ("max_retries", EN.llm_not_a_number.as_str())
        );
    }
}
