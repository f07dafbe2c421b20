//! A stand-in for an OpenAI-compatible provider, for tests of the client and of the turns that
//! use it: it answers from a script, then with a default reply, and records every request it
//! receives. Compiled only with the `mock` feature.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::LlmSettings;

#[derive(Debug, Clone)]
pub enum Reply {
    /// A text reply, streamed when the request asks for a stream.
    Text(&'static str),
    /// A text reply as one JSON completion, even when a stream was asked for.
    Json(&'static str),
    ToolCall {
        name: &'static str,
        arguments: &'static str,
    },
    /// A `text/event-stream` reply, one chunk per delta.
    Stream(Vec<&'static str>),
    Status {
        status: u16,
        retry_after: Option<&'static str>,
    },
    /// Accepts the request and never answers.
    Hang,
    /// A stream whose second chunk is cut off mid-JSON.
    MalformedStream,
    /// Exactly this body, with this content type (for replies no well-behaved server sends).
    Raw {
        content_type: &'static str,
        body: String,
    },
}

#[derive(Debug)]
struct Recorded {
    authorization: Option<String>,
    body: Value,
}

#[derive(Debug)]
struct Inner {
    /// Texts the embeddings endpoint reads as another (a synonym the test teaches it).
    meanings: Mutex<Vec<(String, String)>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Reply>,
    requests: Mutex<Vec<Recorded>>,
}

#[derive(Debug, Clone)]
pub struct MockServer {
    pub base_url: String,
    inner: Arc<Inner>,
}

impl MockServer {
    pub async fn start(script: Vec<Reply>) -> MockServer {
        let inner = Arc::new(Inner {
            meanings: Mutex::new(Vec::new()),
            script: Mutex::new(script.into()),
            default: Mutex::new(Reply::Status { status: 500, retry_after: None }),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/embeddings", post(embeddings))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockServer { base_url: format!("http://{address}/v1"), inner }
    }

    /// Settings for a workspace whose model is this server: on, external calls allowed, no
    /// key, short timeouts, prices for cost figures and a quick breaker.
    pub fn settings(&self) -> LlmSettings {
        LlmSettings {
            enabled: true,
            allow_external: true,
            base_url: self.base_url.clone(),
            model: "mock-model".into(),
            api_key_env: None,
            timeout_ms: 2_000,
            total_timeout_ms: 6_000,
            max_retries: 2,
            input_price_per_1k: 0.5,
            output_price_per_1k: 1.5,
            breaker_failures: 5,
            breaker_cooldown_ms: 300,
            ..LlmSettings::default()
        }
    }

    /// Makes the embeddings endpoint read any text containing `phrase` as if it were
    /// `meaning`: how a test stands for a model that knows two wordings mean the same.
    pub fn means(&self, phrase: &str, meaning: &str) {
        self.inner.meanings.lock().unwrap().push((phrase.to_owned(), meaning.to_owned()));
    }

    /// How many embeddings requests were received.
    pub fn embedding_requests(&self) -> usize {
        self.bodies().iter().filter(|body| body.get("input").is_some()).count()
    }

    /// The reply once the script has run out.
    pub fn set_default(&self, reply: Reply) {
        *self.inner.default.lock().unwrap() = reply;
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.inner.requests.lock().unwrap().iter().map(|r| r.body.clone()).collect()
    }

    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.inner.requests.lock().unwrap().iter().map(|r| r.authorization.clone()).collect()
    }

    pub fn request_count(&self) -> usize {
        self.inner.requests.lock().unwrap().len()
    }
}

async fn chat_completions(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let authorization =
        headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
    inner.requests.lock().unwrap().push(Recorded { authorization, body: body.clone() });
    let reply = inner
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| inner.default.lock().unwrap().clone());
    let model = body["model"].as_str().unwrap_or("unknown").to_owned();
    match reply {
        // Asked to stream, a text reply streams a few characters at a time.
        Reply::Text(text) if body["stream"] == true => {
            let chars: Vec<char> = text.chars().collect();
            let deltas: Vec<String> = chars.chunks(4).map(|piece| piece.iter().collect()).collect();
            event_stream(sse(&model, &deltas, (100, 20)))
        }
        Reply::Text(text) | Reply::Json(text) => {
            completion(&model, json!({"role": "assistant", "content": text}), "stop")
        }
        Reply::ToolCall { name, arguments } => completion(
            &model,
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments}
                }]
            }),
            "tool_calls",
        ),
        Reply::Stream(deltas) => event_stream(sse(&model, &deltas, (80, 12))),
        Reply::MalformedStream => {
            let first = chunk(&model, json!({"role": "assistant", "content": "签收后"}), None);
            event_stream(format!(
                "data: {first}\n\ndata: {{\"choices\": [{{\"delta\": {{\"content\": \"7\n\ndata: [DONE]\n\n"
            ))
        }
        Reply::Status { status, retry_after } => {
            let status = StatusCode::from_u16(status).unwrap();
            let body = json!({"error": {"message": "mock failure", "type": "server_error"}});
            let mut response = (status, axum::Json(body)).into_response();
            if let Some(seconds) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, seconds.parse().unwrap());
            }
            response
        }
        Reply::Raw { content_type, body } => {
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

fn completion(model: &str, message: Value, finish_reason: &str) -> Response {
    axum::Json(json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    }))
    .into_response()
}

/// A whole server-sent event stream: the deltas, the finish, the usage and `[DONE]`.
fn sse(model: &str, deltas: &[impl AsRef<str>], (prompt, completion): (u64, u64)) -> String {
    let mut events = vec![chunk(model, json!({"role": "assistant", "content": ""}), None)];
    events
        .extend(deltas.iter().map(|delta| chunk(model, json!({"content": delta.as_ref()}), None)));
    events.push(chunk(model, json!({}), Some("stop")));
    events.push(json!({
        "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
        "model": model, "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion}
    }));
    let mut text: String = events.iter().map(|event| format!("data: {event}\n\n")).collect();
    text.push_str("data: [DONE]\n\n");
    text
}

fn chunk(model: &str, delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    })
}

fn event_stream(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/event-stream")], text).into_response()
}

/// `POST /v1/embeddings`: each text as a unit vector of its characters' counts in 64 buckets
/// (after the meanings a test taught), so equal texts embed equally and unrelated ones apart.
async fn embeddings(State(inner): State<Arc<Inner>>, body: String) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    inner.requests.lock().unwrap().push(Recorded { authorization: None, body: body.clone() });
    let Some(input) = body["input"].as_array() else {
        return (StatusCode::BAD_REQUEST, "no input").into_response();
    };
    let meanings = inner.meanings.lock().unwrap().clone();
    let data: Vec<Value> = input
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let text = text.as_str().unwrap_or_default();
            let text = meanings
                .iter()
                .find(|(phrase, _)| text.contains(phrase.as_str()))
                .map_or(text, |(_, meaning)| meaning.as_str());
            let mut vector = vec![0f32; 64];
            for character in text.to_lowercase().chars().filter(|c| c.is_alphanumeric()) {
                vector[character as usize % 64] += 1.0;
            }
            let norm = vector.iter().map(|value| value * value).sum::<f32>().sqrt().max(1e-6);
            let embedding: Vec<f32> = vector.iter().map(|value| value / norm).collect();
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens = input.len() as u64 * 8;
    axum::Json(json!({"object": "list", "data": data, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
        .into_response()
}
