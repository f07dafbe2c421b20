//! Grounded answers in the bot's turns. When the built-in engine has decided to answer from an
//! article, and the workspace's model is on and allowed to receive text, the model rewrites the
//! answer from the best few articles; the rewrite is shown only if [`Grounds::check`] accepts
//! it: every claim of it in those articles or the question, at least one of them cited as
//! `[ref:KEY]` and the answer drawn from what it cites, in the customer's language, not a
//! repeat of the instructions. Anything else (an error, a timeout, a refusal, a rejected claim,
//! an answer not grounded) leaves the extractive answer in place, and the decision record says
//! which it was ([`LlmRecord`]: `rejected` with the unsupported claims, or with the reason code
//! of [`NotGrounded`] as its `error`).
//!
//! The same [`WorkspaceModels`] make the other calls ([`WorkspaceModels::ready`] and
//! [`WorkspaceModels::call`]), each behind its own switch of the settings.
//!
//! The workspace's [`LlmSettings`] are a settings document under [`SETTINGS_KEY`], read on each
//! turn that could use them (a primary-key lookup), so a change applies from the next turn.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tandem_domain::{Article, LlmOutcome, LlmRecord, Locale, Millis, WorkspaceId};
use tandem_store::{Store, StoreError};

use tandem_llm::grounding::{self, Grounds, NotGrounded, Passage, Rejection};
use tandem_llm::{
    Breakers, ChatRequest, Completion, LlmClient, LlmError, LlmSettings, SettingsError,
    StreamEvent, StreamGate,
};

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

/// An article as the model reads it: its key, title and answer.
pub(crate) fn passage(article: &Article) -> Passage {
    Passage { key: article.key.clone(), title: article.title.clone(), text: article.answer.clone() }
}

/// What the model made of one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Grounded {
    /// The verified answer, citations stripped and personal data restored; `None`: show the
    /// extractive answer.
    pub text: Option<String>,
    pub record: LlmRecord,
}

/// The workspaces' models for the whole process: one circuit breaker per workspace and
/// provider, and one client per workspace, rebuilt when its settings change. Grounded answers
/// ([`answer`](Self::answer)) and any other use ([`ready`](Self::ready) then
/// [`call`](Self::call): tool choice, hand-off summaries) share them.
#[derive(Debug, Default)]
pub struct WorkspaceModels {
    breakers: Breakers,
    clients: Mutex<HashMap<WorkspaceId, LlmClient>>,
}

impl WorkspaceModels {
    pub fn new() -> Self {
        WorkspaceModels::default()
    }

    /// Each workspace's circuit breaker state, for the workspaces whose model has been used
    /// since the process started (read-only, for metrics).
    pub fn breaker_states(&self) -> Vec<(WorkspaceId, tandem_llm::BreakerState)> {
        let clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        clients.iter().map(|(workspace, client)| (*workspace, client.breaker_state())).collect()
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

    /// The workspace's client, when its model is on and `wanted` (a feature switch of the
    /// settings) says yes; ask before preparing a request, which is then sent with
    /// [`call`](Self::call). `Ok(None)`: off, nothing to send or record; `Err`: the record of
    /// why nothing was sent.
    pub async fn ready(
        &self,
        store: &dyn Store,
        workspace: WorkspaceId,
        wanted: fn(&LlmSettings) -> bool,
    ) -> Result<Option<LlmClient>, LlmRecord> {
        let settings = match llm_settings(store, workspace).await {
            Ok(settings) => settings,
            Err(error) => {
                tracing::warn!(workspace_id = %workspace, %error, "LLM settings unavailable");
                return Err(failed(LlmOutcome::Error, "llm_invalid_settings", 0).record);
            }
        };
        if !settings.enabled || !wanted(&settings) {
            return Ok(None);
        }
        if !settings.allow_external {
            return Err(
                failed(LlmOutcome::Skipped, LlmError::ExternalCallsForbidden.code(), 0).record
            );
        }
        match self.client(workspace, settings) {
            Ok(client) => Ok(Some(client)),
            Err(error) => {
                tracing::warn!(workspace_id = %workspace, %error, "LLM client unavailable");
                Err(failed(LlmOutcome::Error, error.code(), 0).record)
            }
        }
    }

    /// One plain request through `client` (from [`ready`](Self::ready)): the completion with
    /// its record (usage, cost, latency; `used` until the caller decides otherwise), or the
    /// record of why there is none.
    pub async fn call(
        &self,
        client: &LlmClient,
        request: &ChatRequest,
    ) -> Result<(Completion, LlmRecord), LlmRecord> {
        let started = Instant::now();
        let result = client.complete(request).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(completion) => {
                let record = usage_record(&completion, latency_ms);
                Ok((completion, record))
            }
            Err(error) => Err(error_record(&error, latency_ms)),
        }
    }

    /// Asks the workspace's model to answer `question` from the first [`PASSAGES`] of
    /// `articles` (the engine's candidates, best first). `None` when the workspace's model is
    /// off: nothing is sent and nothing recorded. With `on_text`, and streaming on in the
    /// settings, the answer is streamed: `on_text` gets the text verified so far each time it
    /// grows (see [`StreamGate`]), and the stream is dropped at the first clause that fails.
    pub async fn answer(
        &self,
        store: &dyn Store,
        workspace: WorkspaceId,
        question: &str,
        articles: &[Article],
        locale: Locale,
        on_text: Option<&(dyn Fn(&str) + Send + Sync)>,
    ) -> Option<Grounded> {
        let passages: Vec<Passage> = articles.iter().take(PASSAGES).map(passage).collect();
        if passages.is_empty() {
            return None;
        }
        let client = match self.ready(store, workspace, |_| true).await {
            Ok(Some(client)) => client,
            Ok(None) => return None,
            Err(record) => return Some(Grounded { text: None, record }),
        };
        let started = Instant::now();
        let stream = client.settings().stream;
        let request = ChatRequest {
            messages: grounding::grounded_messages(question, &passages, locale),
            tools: Vec::new(),
        };
        let grounds = Grounds::new(&passages, question, locale);
        let completion = match on_text.filter(|_| stream) {
            Some(on_text) => streamed(&client, &request, &grounds, on_text).await,
            None => client.complete(&request).await.map_err(Stopped::Error),
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        let completion = match completion {
            Ok(completion) => completion,
            Err(Stopped::Error(error)) => {
                return Some(Grounded { text: None, record: error_record(&error, latency_ms) });
            }
            Err(Stopped::Gate { rejection, attempts }) => {
                // The stream was dropped before the provider reported its usage.
                let mut record =
                    LlmRecord { latency_ms, attempts, ..LlmRecord::new(LlmOutcome::Rejected) };
                judged(&mut record, Err(rejection));
                return Some(Grounded { text: None, record });
            }
        };
        let mut record = usage_record(&completion, latency_ms);
        // The whole answer is checked here whether it was streamed or not: a streamed one
        // passed the same check in the gate before its last words were shown, and one that
        // does not pass is replaced by the extractive answer before anything is stored.
        let verdict = grounds
            .check(&completion.model_text)
            .map(|()| grounding::strip_citations(&completion.text))
            .and_then(|text| {
                if text.is_empty() {
                    Err(Rejection::NotGrounded(NotGrounded::Empty))
                } else {
                    Ok(text)
                }
            });
        let text = judged(&mut record, verdict);
        Some(Grounded { text, record })
    }
}

/// Why a streamed answer stopped short.
enum Stopped {
    Error(LlmError),
    /// A clause did not check out: the rest was not waited for.
    Gate {
        rejection: Rejection,
        attempts: u32,
    },
}

/// Streams the answer through a [`StreamGate`], handing the verified text to `on_text`.
async fn streamed(
    client: &LlmClient,
    request: &ChatRequest,
    grounds: &Grounds<'_>,
    on_text: &(dyn Fn(&str) + Send + Sync),
) -> Result<Completion, Stopped> {
    let mut stream = client.stream(request).await.map_err(Stopped::Error)?;
    let mut gate = StreamGate::new(grounds);
    while let Some(event) = stream.next().await {
        match event.map_err(Stopped::Error)? {
            StreamEvent::Delta(delta) => {
                if let Some(text) = gate.push(&delta) {
                    on_text(text.trim_end());
                }
            }
            StreamEvent::Done(completion) => {
                if let Some(text) = gate.finish() {
                    on_text(text.trim_end());
                }
                return match gate.rejection() {
                    Some(rejection) => Err(Stopped::Gate {
                        rejection: rejection.clone(),
                        attempts: completion.attempts,
                    }),
                    None => Ok(completion),
                };
            }
        }
        if let Some(rejection) = gate.rejection() {
            // Dropping the stream closes the connection: no more tokens are paid for.
            return Err(Stopped::Gate {
                rejection: rejection.clone(),
                attempts: stream.attempts(),
            });
        }
    }
    Err(Stopped::Error(LlmError::Malformed("the stream ended without a reply".into())))
}

/// Records the verdict on an answer; the text to show, if it may be shown.
fn judged(record: &mut LlmRecord, verdict: Result<String, Rejection>) -> Option<String> {
    match verdict {
        Ok(text) => {
            record.outcome = LlmOutcome::Used;
            Some(text)
        }
        Err(Rejection::Refused) => {
            record.outcome = LlmOutcome::Refused;
            None
        }
        Err(Rejection::Unsupported { claims }) => {
            record.outcome = LlmOutcome::Rejected;
            record.rejected_claims = claims.into_iter().map(|claim| claim.text).collect();
            None
        }
        Err(Rejection::NotGrounded(reason)) => {
            record.outcome = LlmOutcome::Rejected;
            record.error = Some(reason.code().to_owned());
            None
        }
    }
}

/// The record of a call that came back: attempts, tokens, cost and time.
fn usage_record(completion: &Completion, latency_ms: u64) -> LlmRecord {
    LlmRecord {
        attempts: completion.attempts,
        prompt_tokens: completion.usage.prompt_tokens,
        completion_tokens: completion.usage.completion_tokens,
        cost: completion.cost,
        latency_ms,
        ..LlmRecord::new(LlmOutcome::Used)
    }
}

/// The record of a call that failed: skipped when the breaker kept it from going out.
fn error_record(error: &LlmError, latency_ms: u64) -> LlmRecord {
    let outcome =
        if *error == LlmError::CircuitOpen { LlmOutcome::Skipped } else { LlmOutcome::Error };
    failed(outcome, error.code(), latency_ms).record
}

/// A record of a call that gave no answer.
fn failed(outcome: LlmOutcome, code: &str, latency_ms: u64) -> Grounded {
    Grounded {
        text: None,
        record: LlmRecord { error: Some(code.to_owned()), latency_ms, ..LlmRecord::new(outcome) },
    }
}
