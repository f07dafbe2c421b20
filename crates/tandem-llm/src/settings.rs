//! A workspace's LLM provider settings: which OpenAI-compatible endpoint, how patient to be with
//! it, and what its tokens cost. Off by default, and even when on, nothing leaves the machine
//! until `allow_external` says so.

use serde::{Deserialize, Serialize};

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
            summaries: true,
        }
    }
}

/// The prefix of the environment variables an API key may come from.
pub const API_KEY_PREFIX: &str = "TANDEM_LLM_";

/// Why settings were refused; `field` names the offending setting for the console.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError { field, message: message.into() }
}

impl LlmSettings {
    /// Checks every field, so the console can reject bad settings when they are saved rather
    /// than when a customer is waiting.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let url = reqwest::Url::parse(&self.base_url)
            .map_err(|error| invalid("base_url", format!("not a URL: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("base_url", "must be an http or https URL with a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("base_url", "must not carry credentials; use api_key_env"));
        }
        if self.model.trim().is_empty() || self.model.len() > 200 {
            return Err(invalid("model", "must be 1 to 200 characters"));
        }
        if let Some(name) = &self.api_key_env {
            let mut characters = name.chars();
            let valid =
                characters.next().is_some_and(|first| first.is_ascii_uppercase() || first == '_')
                    && characters.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !valid || name.len() > 100 {
                return Err(invalid(
                    "api_key_env",
                    "must be an environment variable name (A-Z, 0-9, _), not the key itself",
                ));
            }
            // Only variables meant for it: a workspace admin must not be able to send another
            // of the server's secrets to a URL of their choosing.
            if !name.starts_with(API_KEY_PREFIX) {
                return Err(invalid(
                    "api_key_env",
                    format!("must start with {API_KEY_PREFIX} (for example TANDEM_LLM_API_KEY)"),
                ));
            }
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err(invalid("timeout_ms", "must be 100 to 120000"));
        }
        if self.total_timeout_ms < self.timeout_ms || self.total_timeout_ms > 300_000 {
            return Err(invalid(
                "total_timeout_ms",
                "must be at least timeout_ms and at most 300000",
            ));
        }
        if !(1..=32_768).contains(&self.max_tokens) {
            return Err(invalid("max_tokens", "must be 1 to 32768"));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err(invalid("temperature", "must be 0 to 2"));
        }
        if self.max_retries > 5 {
            return Err(invalid("max_retries", "must be 0 to 5"));
        }
        for (field, price) in [
            ("input_price_per_1k", self.input_price_per_1k),
            ("output_price_per_1k", self.output_price_per_1k),
        ] {
            if !price.is_finite() || price < 0.0 {
                return Err(invalid(field, "must be a non-negative number"));
            }
        }
        if !(1..=100).contains(&self.breaker_failures) {
            return Err(invalid("breaker_failures", "must be 1 to 100"));
        }
        if !(10..=3_600_000).contains(&self.breaker_cooldown_ms) {
            return Err(invalid("breaker_cooldown_ms", "must be 10 to 3600000"));
        }
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
