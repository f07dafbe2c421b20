//! A workspace's LLM provider settings: which OpenAI-compatible endpoint, how patient to be with
//! it, and what its tokens cost. Off by default, and even when on, nothing leaves the machine
//! until `allow_external` says so.

use serde::{Deserialize, Serialize};
use tandem_domain::{Problem, ValidationError};

/// One workspace's LLM provider. The API key itself is never stored: only the name of the
/// environment variable (or secret-store entry) that holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// Whether the bot may use the model at all; when off, the built-in engine answers alone.
    pub enabled: bool,
    /// The endpoint's base URL, up to and including the version (`https://api.openai.com/v1`);
    /// requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model name sent with every request.
    pub model: String,
    /// The name of the environment variable holding the API key, starting with
    /// [`API_KEY_PREFIX`] (for example `TANDEM_LLM_API_KEY`); `None` for endpoints that need no key (a local model server).
    pub api_key_env: Option<String>,
    /// How long one attempt may take, in milliseconds: the whole response for a plain request,
    /// the first byte and each gap between chunks for a streamed one.
    pub timeout_ms: u64,
    /// How long a call may take with all its retries, in milliseconds; no retry starts that
    /// could not finish in time, so the customer always gets a timely (fallback) reply.
    pub total_timeout_ms: u64,
    /// The most tokens the model may write in one reply.
    pub max_tokens: u32,
    /// Sampling temperature, 0 to 2; low values keep grounded answers close to the passages.
    pub temperature: f32,
    /// Retries after a failed attempt (rate limited, server error, timeout, connection error).
    pub max_retries: u32,
    /// Whether text may be sent to the provider at all. `false` is the workspace's switch that
    /// forbids external calls: the client then refuses before opening any connection.
    pub allow_external: bool,
    /// Price of 1,000 prompt tokens, in the workspace's billing currency, for cost estimates.
    pub input_price_per_1k: f64,
    /// Price of 1,000 completion tokens, in the workspace's billing currency.
    pub output_price_per_1k: f64,
    /// Consecutive failed attempts after which the circuit breaker opens.
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls before letting one trial through, in milliseconds.
    pub breaker_cooldown_ms: u64,
    /// Stream grounded answers to the widget as they are written (each clause shown once it
    /// checks out against the articles); off: the verified answer arrives whole.
    pub stream: bool,
    /// Let the model choose among the workspace's actions (function calling) when the engine
    /// finds neither an article nor an action good enough; the same validation, identity
    /// rules and slot filling apply.
    pub tools: bool,
    /// When the engine is unsure (its best candidate below the threshold, or two too close),
    /// let the model choose which of its best few articles answers the question, or none; the
    /// customer gets that article's answer.
    pub choose: bool,
    /// The model of the provider's `/embeddings` endpoint (`bge-m3` through vLLM, Ollama or
    /// TEI...); when set, each published article version is embedded in the background and an
    /// unsure turn's question is too, so that the model's choice also sees the articles whose
    /// meaning is closest, whatever their words. `None`: no embeddings.
    pub embedding_model: Option<String>,
    /// Write hand-off summaries with the model (the extractive summary stays the fallback and
    /// is kept beside it).
    pub summaries: bool,
}

impl Default for LlmSettings {
    fn default() -> Self {
        LlmSettings {
            enabled: false,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key_env: Some("TANDEM_LLM_API_KEY".into()),
            timeout_ms: 10_000,
            total_timeout_ms: 20_000,
            max_tokens: 512,
            temperature: 0.2,
            max_retries: 2,
            allow_external: false,
            input_price_per_1k: 0.0,
            output_price_per_1k: 0.0,
            breaker_failures: 5,
            breaker_cooldown_ms: 30_000,
            stream: true,
            tools: true,
            choose: true,
            embedding_model: None,
            summaries: true,
        }
    }
}

/// The prefix of the environment variables an API key may come from.
pub const API_KEY_PREFIX: &str = "TANDEM_LLM_";

/// Why settings were refused: the domain's [`ValidationError`], so the console words it in the
/// agent's language like any other refused value; `field` names the offending setting.
pub type SettingsError = ValidationError;

fn invalid(field: &'static str, problem: Problem) -> SettingsError {
    ValidationError::new(field, problem)
}

/// The bounds of the numeric settings: (least, most).
const TIMEOUT_MS: (u64, u64) = (100, 120_000);
const MAX_TOTAL_TIMEOUT_MS: u64 = 300_000;
const MAX_TOKENS: (u32, u32) = (1, 32_768);
const TEMPERATURE: (f32, f32) = (0.0, 2.0);
const MAX_RETRIES: u32 = 5;
const BREAKER_FAILURES: (u32, u32) = (1, 100);
const BREAKER_COOLDOWN_MS: (u64, u64) = (10, 3_600_000);
/// Longest model name and API key variable name, in characters.
const MAX_MODEL: usize = 200;
const MAX_KEY_ENV: usize = 100;

impl LlmSettings {
    /// Checks every field, so the console can reject bad settings when they are saved rather
    /// than when a customer is waiting.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let url = reqwest::Url::parse(&self.base_url).map_err(|error| {
            invalid("base_url", Problem::Unreadable { detail: format!("not a URL: {error}") })
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("base_url", Problem::UrlScheme));
        }
        if url.host_str().is_none() {
            return Err(invalid("base_url", Problem::UrlHost { host: String::new() }));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("base_url", Problem::UrlCredentials));
        }
        if self.model.trim().is_empty() || self.model.len() > MAX_MODEL {
            return Err(invalid("model", Problem::Length { min: 1, max: MAX_MODEL }));
        }
        if let Some(model) = &self.embedding_model
            && (model.trim().is_empty() || model.len() > MAX_MODEL)
        {
            return Err(invalid("embedding_model", Problem::Length { min: 1, max: MAX_MODEL }));
        }
        if let Some(name) = &self.api_key_env {
            let mut characters = name.chars();
            let valid =
                characters.next().is_some_and(|first| first.is_ascii_uppercase() || first == '_')
                    && characters.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !valid || name.len() > MAX_KEY_ENV {
                return Err(invalid("api_key_env", Problem::EnvironmentVariable));
            }
            // Only variables meant for it: a workspace admin must not be able to send another
            // of the server's secrets to a URL of their choosing.
            if !name.starts_with(API_KEY_PREFIX) {
                let problem = Problem::MustStartWith { prefix: API_KEY_PREFIX.into() };
                return Err(invalid("api_key_env", problem));
            }
        }
        let within = |field, value, (min, max)| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(invalid(field, Problem::out_of_range(min, max)))
            }
        };
        within("timeout_ms", self.timeout_ms, TIMEOUT_MS)?;
        // Never shorter than one attempt.
        within("total_timeout_ms", self.total_timeout_ms, (self.timeout_ms, MAX_TOTAL_TIMEOUT_MS))?;
        if !(MAX_TOKENS.0..=MAX_TOKENS.1).contains(&self.max_tokens) {
            return Err(invalid("max_tokens", Problem::out_of_range(MAX_TOKENS.0, MAX_TOKENS.1)));
        }
        if !(TEMPERATURE.0..=TEMPERATURE.1).contains(&self.temperature) {
            let problem = Problem::out_of_range(TEMPERATURE.0, TEMPERATURE.1);
            return Err(invalid("temperature", problem));
        }
        if self.max_retries > MAX_RETRIES {
            return Err(invalid("max_retries", Problem::out_of_range(0, MAX_RETRIES)));
        }
        for (field, price) in [
            ("input_price_per_1k", self.input_price_per_1k),
            ("output_price_per_1k", self.output_price_per_1k),
        ] {
            if !price.is_finite() || price < 0.0 {
                return Err(invalid(field, Problem::AtLeast { min: "0".into() }));
            }
        }
        if !(BREAKER_FAILURES.0..=BREAKER_FAILURES.1).contains(&self.breaker_failures) {
            let problem = Problem::out_of_range(BREAKER_FAILURES.0, BREAKER_FAILURES.1);
            return Err(invalid("breaker_failures", problem));
        }
        within("breaker_cooldown_ms", self.breaker_cooldown_ms, BREAKER_COOLDOWN_MS)?;
        Ok(())
    }

    /// The estimated cost of a call with this usage, in the billing currency.
    pub fn cost(&self, usage: &crate::Usage) -> f64 {
        usage.prompt_tokens as f64 / 1000.0 * self.input_price_per_1k
            + usage.completion_tokens as f64 / 1000.0 * self.output_price_per_1k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_deserialize_validate_and_stay_off() {
        let settings: LlmSettings = toml::from_str("").unwrap();
        assert_eq!(settings, LlmSettings::default());
        settings.validate().unwrap();
        assert!(!settings.enabled && !settings.allow_external);
        let json: LlmSettings = serde_json::from_str(r#"{"model":"qwen-plus"}"#).unwrap();
        assert_eq!(json.model, "qwen-plus");
        assert!(serde_json::from_str::<LlmSettings>(r#"{"api_key":"sk-1"}"#).is_err());
    }

    #[test]
    fn bad_settings_name_their_field() {
        let check = |change: fn(&mut LlmSettings), field: &str| {
            let mut settings = LlmSettings::default();
            change(&mut settings);
            assert_eq!(settings.validate().unwrap_err().field, field);
        };
        check(|s| s.base_url = "ftp://example.com".into(), "base_url");
        check(|s| s.base_url = "https://user:pw@example.com/v1".into(), "base_url");
        check(|s| s.model = " ".into(), "model");
        check(|s| s.api_key_env = Some("sk-abc123".into()), "api_key_env");
        check(|s| s.api_key_env = Some("DATABASE_PASSWORD".into()), "api_key_env");
        check(|s| s.timeout_ms = 5, "timeout_ms");
        check(|s| s.total_timeout_ms = 1_000, "total_timeout_ms");
        check(|s| s.max_tokens = 0, "max_tokens");
        check(|s| s.temperature = 3.0, "temperature");
        check(|s| s.max_retries = 9, "max_retries");
        check(|s| s.output_price_per_1k = f64::NAN, "output_price_per_1k");
        check(|s| s.breaker_failures = 0, "breaker_failures");
        check(|s| s.breaker_cooldown_ms = 0, "breaker_cooldown_ms");
    }
}
