//! The chat-completions client: one request, plain or streamed, with redaction, retries, a time
//! budget and the circuit breaker around it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use tokio::sync::mpsc;
use tracing::warn;

use crate::breaker::CircuitBreaker;
use crate::redact::Redactor;
use crate::settings::{LlmSettings, SettingsError};
use crate::stream::{StreamParser, Streamed};
use crate::wire::{
    ChatCompletionRequest, ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, ErrorBody,
    StreamOptions, WireFunctionCall, WireFunctionDefinition, WireMessage, WireTool, WireToolCall,
};

/// Who wrote a message of the conversation sent to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    System,
    User,
    Assistant,
    /// The result of a tool call, answering the assistant message that asked for it.
    Tool,
}

impl ChatRole {
    fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
            ChatRole::Tool => "tool",
        }
    }
}

/// One message sent to the model, with personal data still in it: the client redacts it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
    /// The tool calls an assistant message made (for sending a conversation back with results).
    pub tool_calls: Vec<ToolCall>,
    /// For a [`ChatRole::Tool`] message: the call it answers.
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    fn new(role: ChatRole, content: impl Into<String>) -> Self {
        ChatMessage { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new(ChatRole::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new(ChatRole::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(ChatRole::Assistant, content)
    }

    /// The result of the tool call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage { tool_call_id: Some(call_id.into()), ..Self::new(ChatRole::Tool, content) }
    }
}

/// A function the model may call: one of the workspace's configured actions.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    /// The parameters as a JSON Schema object.
    pub parameters: serde_json::Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as a JSON object in a string, as the model wrote them (personal data
    /// restored).
    pub arguments: String,
}

/// What to send: the conversation and the tools the model may call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolDefinition>,
}

/// Tokens a call used, as the provider reported them (zero where it did not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// The vectors of one embeddings call.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    pub usage: Usage,
    pub cost: f64,
    pub attempts: u32,
}

/// The model's reply to one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The reply with the customer's personal data restored: what the customer may see.
    pub text: String,
    /// The reply as the model wrote it, placeholders and all: what to verify and to log.
    pub model_text: String,
    pub tool_calls: Vec<ToolCall>,
    /// Why the model stopped (`stop`, `length`, `tool_calls`), if the provider said.
    pub finish_reason: Option<String>,
    pub usage: Usage,
    /// The estimated cost of this call from the workspace's prices.
    pub cost: f64,
    /// Attempts made, retries included.
    pub attempts: u32,
}

/// One event of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More text, personal data restored.
    Delta(String),
    /// The stream ended well: the whole reply.
    Done(Completion),
}

/// Why a call gave no reply. Each one means: answer with the built-in engine instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM provider is not enabled for this workspace")]
    Disabled,
    #[error("this workspace forbids sending text to external services")]
    ExternalCallsForbidden,
    #[error("invalid LLM settings: {0}")]
    Settings(#[from] SettingsError),
    #[error("the API key variable {0} is not set")]
    MissingApiKey(String),
    #[error("the provider's circuit breaker is open")]
    CircuitOpen,
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("could not reach the provider: {0}")]
    Transport(String),
    #[error("the provider answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the provider's response was malformed: {0}")]
    Malformed(String),
    #[error("could not encode the request: {0}")]
    Request(String),
}

impl LlmError {
    /// A stable snake_case code for logs, decision records and the console.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::Disabled => "llm_disabled",
            LlmError::ExternalCallsForbidden => "llm_external_calls_forbidden",
            LlmError::Settings(_) => "llm_invalid_settings",
            LlmError::MissingApiKey(_) => "llm_missing_api_key",
            LlmError::CircuitOpen => "llm_circuit_open",
            LlmError::Timeout => "llm_timeout",
            LlmError::Transport(_) => "llm_unreachable",
            LlmError::Status { status: 429, .. } => "llm_rate_limited",
            LlmError::Status { .. } => "llm_error_status",
            LlmError::Malformed(_) => "llm_malformed_response",
            LlmError::Request(_) => "llm_bad_request",
        }
    }

    /// Whether another attempt may succeed: rate limits, server errors, timeouts, lost
    /// connections.
    fn is_retryable(&self) -> bool {
        match self {
            LlmError::Timeout | LlmError::Transport(_) => true,
            LlmError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// Whether the error says the provider is unhealthy, for the circuit breaker. A refused
    /// request (400, 401) says something about the request or the key instead.
    fn counts_against_provider(&self) -> bool {
        self.is_retryable() || matches!(self, LlmError::Malformed(_))
    }
}

/// A failed attempt and how long the provider asked us to wait.
#[derive(Debug)]
struct Failure {
    error: LlmError,
    retry_after: Option<Duration>,
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Self {
        Failure { error, retry_after: None }
    }
}

/// Where the API key comes from; never printed.
#[derive(Clone)]
enum ApiKey {
    None,
    Key(String),
    /// The variable the settings name is not set: calls fail with [`LlmError::MissingApiKey`].
    Missing(String),
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiKey::None => formatter.write_str("None"),
            ApiKey::Key(_) => formatter.write_str("Key(***)"),
            ApiKey::Missing(name) => write!(formatter, "Missing({name})"),
        }
    }
}

/// A workspace's client for its provider. Cheap to clone; clones share the breaker.
#[derive(Debug, Clone)]
pub struct LlmClient {
    settings: Arc<LlmSettings>,
    endpoint: reqwest::Url,
    /// `{base_url}/embeddings`.
    embeddings: reqwest::Url,
    api_key: ApiKey,
    http: reqwest::Client,
    breaker: Arc<CircuitBreaker>,
}

impl LlmClient {
    /// A client with the API key read from the environment variable the settings name.
    pub fn new(settings: LlmSettings, breaker: Arc<CircuitBreaker>) -> Result<Self, LlmError> {
        let api_key = match &settings.api_key_env {
            None => ApiKey::None,
            Some(name) => match std::env::var(name) {
                Ok(key) if !key.trim().is_empty() => ApiKey::Key(key.trim().to_owned()),
                _ => ApiKey::Missing(name.clone()),
            },
        };
        Self::build(settings, breaker, api_key)
    }

    /// The state of the provider's circuit breaker (for metrics).
    pub fn breaker_state(&self) -> crate::BreakerState {
        self.breaker.state()
    }

    /// A client with the API key given (from a secret store); `None` sends no key.
    pub fn with_api_key(
        settings: LlmSettings,
        breaker: Arc<CircuitBreaker>,
        api_key: Option<String>,
    ) -> Result<Self, LlmError> {
        Self::build(settings, breaker, api_key.map_or(ApiKey::None, ApiKey::Key))
    }

    fn build(
        settings: LlmSettings,
        breaker: Arc<CircuitBreaker>,
        api_key: ApiKey,
    ) -> Result<Self, LlmError> {
        settings.validate()?;
        let url = |path: &str| {
            let url = format!("{}/{path}", settings.base_url.trim_end_matches('/'));
            reqwest::Url::parse(&url).map_err(|error| {
                let problem = tandem_domain::Problem::Unreadable { detail: error.to_string() };
                LlmError::Settings(SettingsError::new("base_url", problem))
            })
        };
        let endpoint = url("chat/completions")?;
        let embeddings = url("embeddings")?;
        if let Err(refused) = crate::outbound::check_url(&endpoint) {
            let problem = tandem_domain::Problem::UrlRefusedAddress { host: refused.host };
            return Err(LlmError::Settings(SettingsError::new("base_url", problem)));
        }
        let http = crate::outbound::client()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(settings.timeout_ms))
            .build()
            .map_err(|error| LlmError::Transport(error_chain(&error)))?;
        Ok(LlmClient { settings: Arc::new(settings), endpoint, embeddings, api_key, http, breaker })
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    pub fn breaker(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }

    /// One chat completion, waited for whole.
    pub async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        self.check_allowed()?;
        let mut redactor = Redactor::new();
        let body = self.encode(request, false, &mut redactor)?;
        let deadline = Instant::now() + Duration::from_millis(self.settings.total_timeout_ms);
        let body = &body[..];
        let (response, attempts) = self
            .with_retries(deadline, move || async move {
                let response = self.post(body, false).await?;
                let bytes = bounded_body(response).await?;
                serde_json::from_slice::<ChatCompletionResponse>(&bytes).map_err(|error| {
                    Failure::from(LlmError::Malformed(format!("not a chat completion: {error}")))
                })
            })
            .await?;
        let Some(choice) = response.choices.into_iter().next() else {
            self.breaker.record_failure();
            return Err(LlmError::Malformed("no choices".into()));
        };
        self.breaker.record_success();
        let usage = response.usage.map_or_else(Usage::default, |usage| Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        });
        let model_text = choice.message.content.unwrap_or_default();
        let tool_calls = choice
            .message
            .tool_calls
            .into_iter()
            .map(|call| ToolCall {
                id: call.id,
                name: call.function.name,
                arguments: redactor.restore(&call.function.arguments),
            })
            .collect();
        Ok(Completion {
            text: redactor.restore(&model_text),
            model_text,
            tool_calls,
            finish_reason: choice.finish_reason,
            cost: self.settings.cost(&usage),
            usage,
            attempts,
        })
    }

    /// Vectors of `texts`, in order, from the provider's `/embeddings` endpoint with the
    /// settings' embedding model; personal data is redacted first, as in every request, and
    /// the same retries, time budget and breaker apply.
    pub async fn embed(&self, texts: &[String]) -> Result<Embedded, LlmError> {
        self.check_allowed()?;
        let Some(model) = self.settings.embedding_model.as_deref() else {
            return Err(LlmError::Disabled);
        };
        let mut redactor = Redactor::new();
        let input = texts.iter().map(|text| redactor.redact(text)).collect();
        let body = serde_json::to_vec(&EmbeddingRequest { model, input })
            .map_err(|error| LlmError::Request(error.to_string()))?;
        let deadline = Instant::now() + Duration::from_millis(self.settings.total_timeout_ms);
        let body = &body[..];
        let (response, attempts) = self
            .with_retries(deadline, move || async move {
                let response = self.post_to(&self.embeddings, body, false).await?;
                let bytes = bounded_body(response).await?;
                serde_json::from_slice::<EmbeddingResponse>(&bytes).map_err(|error| {
                    Failure::from(LlmError::Malformed(format!("not embeddings: {error}")))
                })
            })
            .await?;
        let mut data = response.data;
        data.sort_by_key(|item| item.index);
        let in_order = data.len() == texts.len()
            && data.iter().enumerate().all(|(position, item)| item.index == position);
        let dimensions = data.first().map_or(0, |item| item.embedding.len());
        if !in_order
            || dimensions == 0
            || data.iter().any(|item| item.embedding.len() != dimensions)
        {
            self.breaker.record_failure();
            return Err(LlmError::Malformed("embeddings do not match the texts".into()));
        }
        self.breaker.record_success();
        let usage = Usage {
            prompt_tokens: response.usage.map_or(0, |usage| usage.prompt_tokens),
            completion_tokens: 0,
        };
        Ok(Embedded {
            vectors: data.into_iter().map(|item| item.embedding).collect(),
            cost: self.settings.cost(&usage),
            usage,
            attempts,
        })
    }

    /// One chat completion, streamed: the text arrives as [`StreamEvent::Delta`]s and ends with
    /// [`StreamEvent::Done`], or with an error at any point (a malformed chunk, a gap longer
    /// than the timeout, a stream cut short), after which the caller falls back. Failures before
    /// the first byte are retried like [`complete`](Self::complete)'s.
    pub async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, LlmError> {
        self.check_allowed()?;
        let mut redactor = Redactor::new();
        let body = self.encode(request, true, &mut redactor)?;
        let deadline = Instant::now() + Duration::from_millis(self.settings.total_timeout_ms);
        let body = &body[..];
        let (response, attempts) =
            self.with_retries(deadline, move || self.post(body, true)).await?;
        let (sender, receiver) = mpsc::channel(64);
        let reader = StreamReader {
            response,
            redactor,
            settings: self.settings.clone(),
            deadline,
            attempts,
            sender: sender.clone(),
        };
        let breaker = self.breaker.clone();
        tokio::spawn(async move {
            match reader.read().await {
                Ok(()) => breaker.record_success(),
                Err(StreamEnd::ReceiverGone) => breaker.release(),
                Err(StreamEnd::Failed(error)) => {
                    warn!(error = %error, code = error.code(), "llm stream failed");
                    breaker.record_failure();
                    let _ = sender.send(Err(error)).await;
                }
            }
        });
        Ok(ChatStream { receiver, attempts })
    }

    fn check_allowed(&self) -> Result<(), LlmError> {
        if !self.settings.enabled {
            return Err(LlmError::Disabled);
        }
        if !self.settings.allow_external {
            return Err(LlmError::ExternalCallsForbidden);
        }
        if let ApiKey::Missing(name) = &self.api_key {
            return Err(LlmError::MissingApiKey(name.clone()));
        }
        Ok(())
    }

    /// The request body, with every message's personal data replaced by placeholders.
    fn encode(
        &self,
        request: &ChatRequest,
        stream: bool,
        redactor: &mut Redactor,
    ) -> Result<Vec<u8>, LlmError> {
        let messages = request
            .messages
            .iter()
            .map(|message| WireMessage {
                role: message.role.as_str().into(),
                content: (!message.content.is_empty() || message.tool_calls.is_empty())
                    .then(|| redactor.redact(&message.content)),
                tool_calls: message
                    .tool_calls
                    .iter()
                    .map(|call| WireToolCall {
                        id: call.id.clone(),
                        kind: "function".into(),
                        function: WireFunctionCall {
                            name: call.name.clone(),
                            arguments: redactor.redact(&call.arguments),
                        },
                    })
                    .collect(),
                tool_call_id: message.tool_call_id.clone(),
            })
            .collect();
        let tools = request
            .tools
            .iter()
            .map(|tool| WireTool {
                kind: "function",
                function: WireFunctionDefinition {
                    name: &tool.name,
                    description: &tool.description,
                    parameters: &tool.parameters,
                },
            })
            .collect();
        let body = ChatCompletionRequest {
            model: &self.settings.model,
            messages,
            max_tokens: self.settings.max_tokens,
            temperature: self.settings.temperature,
            tools,
            stream,
            stream_options: stream.then_some(StreamOptions { include_usage: true }),
        };
        serde_json::to_vec(&body).map_err(|error| LlmError::Request(error.to_string()))
    }

    /// Sends the body once; a non-success status is a failure carrying the provider's
    /// `Retry-After`.
    async fn post(&self, body: &[u8], stream: bool) -> Result<reqwest::Response, Failure> {
        self.post_to(&self.endpoint, body, stream).await
    }

    async fn post_to(
        &self,
        url: &reqwest::Url,
        body: &[u8],
        stream: bool,
    ) -> Result<reqwest::Response, Failure> {
        let mut builder = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if stream {
            builder = builder.header(ACCEPT, "text/event-stream");
        }
        if let ApiKey::Key(key) = &self.api_key {
            builder = builder.bearer_auth(key);
        }
        let response = builder.send().await.map_err(transport_failure)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let text = bounded_body(response)
                .await
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            let message = serde_json::from_str::<ErrorBody>(&text)
                .map(|body| body.error.message)
                .unwrap_or(text);
            let message: String = message.chars().take(300).collect();
            return Err(Failure {
                error: LlmError::Status { status: status.as_u16(), message },
                retry_after,
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if stream && !content_type.starts_with("text/event-stream") {
            return Err(LlmError::Malformed(format!(
                "expected an event stream, got {content_type:?}"
            ))
            .into());
        }
        Ok(response)
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of retries or would run past
    /// `deadline`, each attempt within the per-attempt timeout and only while the breaker lets
    /// it. Failures are recorded on the breaker here; a success is recorded by the caller, once
    /// the whole reply has arrived.
    async fn with_retries<T, F, Fut>(
        &self,
        deadline: Instant,
        mut attempt: F,
    ) -> Result<(T, u32), LlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let per_attempt = Duration::from_millis(self.settings.timeout_ms);
        let mut attempts = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(LlmError::Timeout);
            }
            if !self.breaker.try_acquire() {
                return Err(LlmError::CircuitOpen);
            }
            attempts += 1;
            let result = match tokio::time::timeout(per_attempt.min(remaining), attempt()).await {
                Ok(result) => result,
                Err(_) => Err(LlmError::Timeout.into()),
            };
            let failure = match result {
                Ok(value) => return Ok((value, attempts)),
                Err(failure) => failure,
            };
            warn!(
                attempt = attempts,
                code = failure.error.code(),
                error = %failure.error,
                "llm attempt failed"
            );
            if !failure.error.counts_against_provider() {
                self.breaker.release();
                return Err(failure.error);
            }
            self.breaker.record_failure();
            if !failure.error.is_retryable() || attempts > self.settings.max_retries {
                return Err(failure.error);
            }
            let delay = failure.retry_after.unwrap_or_else(|| backoff(attempts));
            // A wait that ends past the deadline helps nobody: the customer gets the fallback
            // answer now instead.
            if Instant::now() + delay >= deadline {
                return Err(failure.error);
            }
            tokio::time::sleep(delay).await;
        }
    }
}

/// Exponential backoff with jitter: about 250 ms, 500 ms, 1 s… up to 4 s, each drawn from its
/// upper half so that clients that failed together do not retry together.
/// The most bytes Tandem reads from a provider: a whole plain reply, one line or one event of a
/// stream, or everything a stream says. A reply of `max_tokens` (at most 32,768) tokens is a
/// few hundred kilobytes at most; a server that sends far more is broken or hostile, and is
/// refused rather than held in memory.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The most tool calls one reply may carry; a chunk naming a higher `index` is malformed
/// (it would otherwise make Tandem allocate that many calls).
pub const MAX_TOOL_CALLS: usize = 16;

/// Reads a whole body, refusing one larger than [`MAX_RESPONSE_BYTES`].
async fn bounded_body(mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
    let too_large = || Failure::from(LlmError::Malformed("the reply is too large".into()));
    if response.content_length().is_some_and(|length| length > MAX_RESPONSE_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn backoff(attempt: u32) -> Duration {
    let ceiling = 250u64.saturating_mul(1 << attempt.saturating_sub(1).min(4)).min(4_000);
    Duration::from_millis(rand::random_range(ceiling / 2..=ceiling))
}

/// The provider's `retry-after-ms` (OpenAI) or `Retry-After` in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let value: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    number("retry-after-ms")
        .map(|millis| Duration::from_secs_f64(millis / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
}

fn transport_failure(error: reqwest::Error) -> Failure {
    if error.is_timeout() {
        return LlmError::Timeout.into();
    }
    LlmError::Transport(error_chain(&error.without_url())).into()
}

/// The error and its causes, for a message that says what actually went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A streamed reply being received; see [`LlmClient::stream`].
#[derive(Debug)]
pub struct ChatStream {
    receiver: mpsc::Receiver<Result<StreamEvent, LlmError>>,
    attempts: u32,
}

impl ChatStream {
    /// Attempts it took to open the stream, retries included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The next event; `None` after [`StreamEvent::Done`] or an error.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        self.receiver.recv().await
    }

    /// Waits for the whole reply, handing each delta to `on_delta` as it arrives.
    pub async fn finish(mut self, mut on_delta: impl FnMut(&str)) -> Result<Completion, LlmError> {
        while let Some(event) = self.next().await {
            match event? {
                StreamEvent::Delta(text) => on_delta(&text),
                StreamEvent::Done(completion) => return Ok(completion),
            }
        }
        Err(LlmError::Malformed("the stream ended without a reply".into()))
    }
}

enum StreamEnd {
    /// The caller stopped listening.
    ReceiverGone,
    Failed(LlmError),
}

impl From<LlmError> for StreamEnd {
    fn from(error: LlmError) -> Self {
        StreamEnd::Failed(error)
    }
}

/// Reads a server-sent event stream of chat-completion chunks.
struct StreamReader {
    response: reqwest::Response,
    redactor: Redactor,
    settings: Arc<LlmSettings>,
    deadline: Instant,
    attempts: u32,
    sender: mpsc::Sender<Result<StreamEvent, LlmError>>,
}

impl StreamReader {
    async fn read(self) -> Result<(), StreamEnd> {
        let StreamReader { mut response, redactor, settings, deadline, attempts, sender } = self;
        let gap = Duration::from_millis(settings.timeout_ms);
        let mut restorer = redactor.stream_restorer();
        let mut parser = StreamParser::default();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let chunk = match tokio::time::timeout(gap.min(remaining), response.chunk()).await {
                Err(_) => return Err(LlmError::Timeout.into()),
                Ok(Err(error)) => return Err(transport_failure(error).error.into()),
                Ok(Ok(None)) => {
                    return Err(LlmError::Malformed("the stream ended before [DONE]".into()).into());
                }
                Ok(Ok(Some(chunk))) => chunk,
            };
            parser.feed(&chunk)?;
            while let Some(streamed) = parser.next_event()? {
                match streamed {
                    Streamed::Text(texts) => {
                        for content in texts {
                            let shown = restorer.push(&content);
                            if !shown.is_empty() {
                                send(&sender, StreamEvent::Delta(shown)).await?;
                            }
                        }
                    }
                    Streamed::Done => {
                        let rest = restorer.finish();
                        if !rest.is_empty() {
                            send(&sender, StreamEvent::Delta(rest)).await?;
                        }
                        let StreamParser {
                            model_text, mut tool_calls, finish_reason, usage, ..
                        } = parser;
                        // The arguments are restored once whole: a placeholder may span
                        // pieces.
                        for call in &mut tool_calls {
                            call.arguments = redactor.restore(&call.arguments);
                        }
                        let completion = Completion {
                            text: redactor.restore(&model_text),
                            model_text,
                            tool_calls,
                            finish_reason,
                            cost: settings.cost(&usage),
                            usage,
                            attempts,
                        };
                        return send(&sender, StreamEvent::Done(completion)).await;
                    }
                }
            }
        }
    }
}

async fn send(
    sender: &mpsc::Sender<Result<StreamEvent, LlmError>>,
    event: StreamEvent,
) -> Result<(), StreamEnd> {
    sender.send(Ok(event)).await.map_err(|_| StreamEnd::ReceiverGone)
}
