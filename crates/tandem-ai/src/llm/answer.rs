//! Grounded answers in the bot's turns. When the built-in engine has decided to answer from an
//! article, and the workspace's model is on and allowed to receive text, the model rewrites the
//! answer from the best few articles; the rewrite is shown only if [`verify_in_context`] finds
//! every claim of it in those articles or the question. Anything else (an error, a timeout, a
//! refusal, a rejected claim) leaves the extractive answer in place, and the decision record
//! says which it was ([`LlmRecord`]).
//!
//! The workspace's [`LlmSettings`] are a settings document under [`SETTINGS_KEY`], read on each
//! turn that could use them (a primary-key lookup), so a change applies from the next turn.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tandem_domain::{Article, LlmRecord, Locale, Millis, WorkspaceId};
use tandem_store::{Store, StoreError};

use super::grounding::{self, Passage, Rejection, verify_in_context};
use super::{Breakers, ChatRequest, LlmClient, LlmError, LlmSettings, SettingsError};

/// The key of a workspace's LLM settings document.
pub const SETTINGS_KEY: &str = "llm";

/// How many of the top candidates' articles the model is given.
pub const PASSAGES: usize = 3;

/// Why a workspace's LLM settings could not be read or saved.
#[derive(Debug, thiserror::Error)]
pub enum LlmSettingsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored document is not valid settings JSON.
    #[error("the stored LLM settings are unreadable: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Invalid(#[from] SettingsError),
}

/// The workspace's LLM settings; the defaults (off) when it never saved any.
pub async fn llm_settings(
    store: &dyn Store,
    workspace: WorkspaceId,
) -> Result<LlmSettings, LlmSettingsError> {
    match store.workspace_setting(workspace, SETTINGS_KEY).await? {
        None => Ok(LlmSettings::default()),
        Some(value) => serde_json::from_value(value)
            .map_err(|error| LlmSettingsError::Unreadable(error.to_string())),
    }
}

/// Validates and saves the workspace's LLM settings; they apply from the next turn.
pub async fn save_llm_settings(
    store: &dyn Store,
    workspace: WorkspaceId,
    settings: &LlmSettings,
) -> Result<Millis, LlmSettingsError> {
    settings.validate()?;
    let value = serde_json::to_value(settings)
        .map_err(|error| LlmSettingsError::Unreadable(error.to_string()))?;
    Ok(store.save_workspace_setting(workspace, SETTINGS_KEY, value).await?)
}

/// What the model made of one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Grounded {
    /// The verified answer, citations stripped and personal data restored; `None`: show the
    /// extractive answer.
    pub text: Option<String>,
    pub record: LlmRecord,
}

/// Writes grounded answers for every workspace of the process: one circuit breaker per
/// workspace and provider, and one client per workspace, rebuilt when its settings change.
#[derive(Debug, Default)]
pub struct GroundedAnswers {
    breakers: Breakers,
    clients: Mutex<HashMap<WorkspaceId, LlmClient>>,
}

impl GroundedAnswers {
    pub fn new() -> Self {
        GroundedAnswers::default()
    }

    /// The client for the workspace's current settings.
    fn client(&self, workspace: WorkspaceId, settings: LlmSettings) -> Result<LlmClient, LlmError> {
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&workspace)
            && *client.settings() == settings
        {
            return Ok(client.clone());
        }
        let breaker = self.breakers.get(
            &format!("{workspace}:{}:{}", settings.base_url, settings.model),
            settings.breaker_failures,
            Duration::from_millis(settings.breaker_cooldown_ms),
        );
        let client = LlmClient::new(settings, breaker)?;
        clients.insert(workspace, client.clone());
        Ok(client)
    }

    /// Asks the workspace's model to answer `question` from the first [`PASSAGES`] of
    /// `articles` (the engine's candidates, best first). `None` when the workspace's model is
    /// off: nothing is sent and nothing recorded.
    pub async fn answer(
        &self,
        store: &dyn Store,
        workspace: WorkspaceId,
        question: &str,
        articles: &[Article],
        locale: Locale,
    ) -> Option<Grounded> {
        let settings = match llm_settings(store, workspace).await {
            Ok(settings) => settings,
            Err(error) => {
                tracing::warn!(workspace_id = %workspace, %error, "LLM settings unavailable");
                return Some(failed("error", "llm_invalid_settings", 0));
            }
        };
        if !settings.enabled {
            return None;
        }
        if !settings.allow_external {
            return Some(failed("skipped", LlmError::ExternalCallsForbidden.code(), 0));
        }
        let passages: Vec<Passage> = articles
            .iter()
            .take(PASSAGES)
            .map(|article| Passage {
                key: article.key.clone(),
                title: article.title.clone(),
                text: article.answer.clone(),
            })
            .collect();
        if passages.is_empty() {
            return None;
        }
        let started = Instant::now();
        let client = match self.client(workspace, settings) {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(workspace_id = %workspace, %error, "LLM client unavailable");
                return Some(failed("error", error.code(), 0));
            }
        };
        let request = ChatRequest {
            messages: grounding::grounded_messages(question, &passages, locale),
            tools: Vec::new(),
        };
        let completion = match client.complete(&request).await {
            Ok(completion) => completion,
            Err(error) => {
                let outcome = if error == LlmError::CircuitOpen { "skipped" } else { "error" };
                let latency = started.elapsed().as_millis() as u64;
                return Some(failed(outcome, error.code(), latency));
            }
        };
        let mut record = LlmRecord {
            outcome: String::new(),
            error: None,
            rejected_claims: Vec::new(),
            attempts: completion.attempts,
            prompt_tokens: completion.usage.prompt_tokens,
            completion_tokens: completion.usage.completion_tokens,
            cost: completion.cost,
            latency_ms: started.elapsed().as_millis() as u64,
        };
        let text = match verify_in_context(&completion.model_text, &passages, &[question]) {
            Ok(()) => {
                let text = grounding::strip_citations(&completion.text);
                if text.is_empty() {
                    record.outcome = "refused".to_owned();
                    None
                } else {
                    record.outcome = "used".to_owned();
                    Some(text)
                }
            }
            Err(Rejection::Refused) => {
                record.outcome = "refused".to_owned();
                None
            }
            Err(Rejection::Unsupported { claims }) => {
                record.outcome = "rejected".to_owned();
                record.rejected_claims = claims.into_iter().map(|claim| claim.text).collect();
                None
            }
        };
        Some(Grounded { text, record })
    }
}

/// A record of a call that gave no answer.
fn failed(outcome: &str, code: &str, latency_ms: u64) -> Grounded {
    Grounded {
        text: None,
        record: LlmRecord {
            outcome: outcome.to_owned(),
            error: Some(code.to_owned()),
            latency_ms,
            ..LlmRecord::default()
        },
    }
}
