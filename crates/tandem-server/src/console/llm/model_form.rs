//! The model settings form as typed: text for every input, read into [`LlmSettings`] (a number
//! that does not read is refused like a setting out of range) and written back from them.

use serde::Deserialize;
use tandem_domain::ValidationError;
use tandem_llm::LlmSettings;

use crate::console::fields::{number, whole_number};

/// The form as typed: text for every input, so that a refused form comes back unchanged.
/// Check boxes are sent only when checked.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ModelForm {
    pub(super) enabled: Option<String>,
    pub(super) allow_external: Option<String>,
    pub(super) base_url: String,
    pub(super) model: String,
    pub(super) api_key_env: String,
    pub(super) timeout_ms: String,
    pub(super) total_timeout_ms: String,
    pub(super) max_tokens: String,
    pub(super) temperature: String,
    pub(super) max_retries: String,
    pub(super) input_price_per_1k: String,
    pub(super) output_price_per_1k: String,
    pub(super) breaker_failures: String,
    pub(super) breaker_cooldown_ms: String,
    pub(super) stream: Option<String>,
    pub(super) tools: Option<String>,
    pub(super) choose: Option<String>,
    /// Empty: no embeddings.
    pub(super) embedding_model: String,
    pub(super) summaries: Option<String>,
}

impl ModelForm {
    pub(super) fn from_settings(settings: &LlmSettings) -> ModelForm {
        let checked = |on: bool| on.then(|| "true".to_owned());
        ModelForm {
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
            choose: checked(settings.choose),
            embedding_model: settings.embedding_model.clone().unwrap_or_default(),
            summaries: checked(settings.summaries),
        }
    }

    /// The settings the form describes; a number that does not read is refused like a setting
    /// out of range. Ranges are left to `LlmSettings::validate`.
    pub(super) fn to_settings(&self) -> Result<LlmSettings, ValidationError> {
        let api_key_env = self.api_key_env.trim();
        Ok(LlmSettings {
            enabled: self.enabled.is_some(),
            allow_external: self.allow_external.is_some(),
            base_url: self.base_url.trim().to_owned(),
            model: self.model.trim().to_owned(),
            api_key_env: (!api_key_env.is_empty()).then(|| api_key_env.to_owned()),
            timeout_ms: whole_number("timeout_ms", &self.timeout_ms)?,
            total_timeout_ms: whole_number("total_timeout_ms", &self.total_timeout_ms)?,
            max_tokens: whole_number("max_tokens", &self.max_tokens)?,
            temperature: number("temperature", &self.temperature)?,
            max_retries: whole_number("max_retries", &self.max_retries)?,
            input_price_per_1k: number("input_price_per_1k", &self.input_price_per_1k)?,
            output_price_per_1k: number("output_price_per_1k", &self.output_price_per_1k)?,
            breaker_failures: whole_number("breaker_failures", &self.breaker_failures)?,
            breaker_cooldown_ms: whole_number("breaker_cooldown_ms", &self.breaker_cooldown_ms)?,
            stream: self.stream.is_some(),
            tools: self.tools.is_some(),
            choose: self.choose.is_some(),
            embedding_model: Some(self.embedding_model.trim().to_owned())
                .filter(|model| !model.is_empty()),
            summaries: self.summaries.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use tandem_domain::{Problem, ValidationError};
    use tandem_llm::LlmSettings;

    use super::ModelForm;

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
        assert_eq!(form.to_settings().unwrap(), settings);
        assert_eq!(
            ModelForm::from_settings(&LlmSettings::default()).to_settings().unwrap(),
            LlmSettings::default()
        );
    }

    #[test]
    fn a_number_that_does_not_read_names_its_field() {
        let form = ModelForm {
            max_retries: "two".into(),
            ..ModelForm::from_settings(&LlmSettings::default())
        };
        assert_eq!(
            form.to_settings(),
            Err(ValidationError::new(
                "max_retries",
                Problem::NotAWholeNumber { value: "two".into() }
            ))
        );
    }
}
