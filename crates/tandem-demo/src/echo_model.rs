//! A stand-in for an OpenAI-compatible model, for the offline demo and the benchmarks.
//!
//! Tandem's optional model provider is any OpenAI-compatible endpoint. So that the model
//! settings, grounded answers and streaming can be tried without a network or an API key,
//! `tandem demo` serves this "echo model" under [`BASE_PATH`] (`/demo/model/v1`), and the demo
//! workspace's model settings point at it (switched off until an admin turns them on in
//! Settings → Model). It is not a language model: it repeats the first passage of the grounded
//! prompt it is given, with its citation, a few characters per chunk. It is not part of Tandem
//! proper: nothing else in the server calls it.
//!
//! `POST /demo/model/v1/chat/completions` takes a chat-completions request; the model name
//! picks the behaviour:
//!
//! - `echo`: answers at once and streams a chunk every 15 ms;
//! - `echo:FIRST:GAP`: waits `FIRST` ms before the first chunk (or the whole answer) and `GAP`
//!   ms between chunks (`echo:300:20`);
//! - `hang`: accepts the request and never answers (to see the fallback);
//!
//! and any other name gets 404 `model_not_found`. A prompt without passages whose user message
//! is a transcript (`Customer: …` lines, as hand-off summaries send) gets the customer's last
//! two lines back as the "summary"; any other prompt gets `NO_ANSWER`.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// Where the echo model is served.
pub const BASE_PATH: &str = "/demo/model/v1";

/// The echo model's routes, to merge into the demo's app.
pub fn router() -> Router {
    Router::new().route(&format!("{BASE_PATH}/chat/completions"), post(chat_completions))
}

/// How the model named in a request behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Echo { first: Duration, gap: Duration },
    Hang,
}

fn behaviour(model: &str) -> Option<Behaviour> {
    let millis = |text: &str| text.parse::<u64>().ok().map(Duration::from_millis);
    match model.split(':').collect::<Vec<_>>()[..] {
        ["echo"] => Some(Behaviour::Echo { first: Duration::ZERO, gap: Duration::from_millis(15) }),
        ["echo", first, gap] => Some(Behaviour::Echo { first: millis(first)?, gap: millis(gap)? }),
        ["hang"] => Some(Behaviour::Hang),
        _ => None,
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"error": {"message": message, "type": "invalid_request_error", "code": code}}),
        ),
    )
        .into_response()
}

async fn chat_completions(body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_json", "the body is not JSON");
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    let Some(behaviour) = behaviour(&model) else {
        return error(
            StatusCode::NOT_FOUND,
            "model_not_found",
            "models: echo, echo:FIRST:GAP, hang",
        );
    };
    let (first, gap) = match behaviour {
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Behaviour::Echo { first, gap } => (first, gap),
    };
    let system = request["messages"]
        .as_array()
        .and_then(|messages| messages.iter().find(|message| message["role"] == "system"))
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default();
    let user = request["messages"]
        .as_array()
        .and_then(|messages| messages.iter().rev().find(|message| message["role"] == "user"))
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default();
    let answer = first_passage(system)
        .or_else(|| customer_lines(user))
        .unwrap_or_else(|| "NO_ANSWER".to_owned());
    // Roughly one token per two characters: enough for the cost estimates to show something.
    let usage = json!({
        "prompt_tokens": system.chars().count() / 2,
        "completion_tokens": answer.chars().count() / 2,
        "total_tokens": (system.chars().count() + answer.chars().count()) / 2,
    });
    if request["stream"] != true {
        tokio::time::sleep(first).await;
        return axum::Json(json!({
            "id": "chatcmpl-echo", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": usage,
        }))
        .into_response();
    }
    let chunk = move |delta: Value, finish: Option<&str>| {
        let event = json!({
            "id": "chatcmpl-echo", "object": "chat.completion.chunk", "created": 0, "model": &model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        Bytes::from(format!("data: {event}\n\n"))
    };
    let pieces = pieces(&answer);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(16);
    tokio::spawn(async move {
        tokio::time::sleep(first).await;
        let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
        for (index, piece) in pieces.iter().enumerate() {
            if index > 0 {
                tokio::time::sleep(gap).await;
            }
            events.push(chunk(json!({"content": piece}), None));
            for event in events.drain(..) {
                if sender.send(Ok(event)).await.is_err() {
                    return;
                }
            }
        }
        let done = json!({
            "id": "chatcmpl-echo", "object": "chat.completion.chunk", "created": 0,
            "choices": [], "usage": usage,
        });
        for event in [
            chunk(json!({}), Some("stop")),
            Bytes::from(format!("data: {done}\n\n")),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ] {
            if sender.send(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The first passage of a grounded prompt (`[ref:KEY] title` and its text up to the next blank
/// line), as an answer citing it.
fn first_passage(system: &str) -> Option<String> {
    let passages = &system[system.find("Passages:")?..];
    let mut lines = passages.lines().skip_while(|line| !line.starts_with("[ref:"));
    let heading = lines.next()?;
    let key = heading.strip_prefix("[ref:")?.split(']').next()?;
    let text: Vec<&str> = lines.take_while(|line| !line.trim().is_empty()).collect();
    let text = text.join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| format!("{text}[ref:{key}]"))
}

/// The customer's last two lines of a transcript, joined: what the echo model "summarises".
fn customer_lines(transcript: &str) -> Option<String> {
    let said: Vec<&str> = transcript
        .lines()
        .filter_map(|line| line.strip_prefix("Customer: "))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let start = said.len().saturating_sub(2);
    (!said.is_empty()).then(|| said[start..].join(" / "))
}

/// The answer cut into stream chunks: a word of English, or three characters of Chinese.
fn pieces(answer: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for c in answer.chars() {
        current.push(c);
        let cjk = !c.is_ascii();
        if (c == ' ' && current.trim().len() > 1) || (cjk && current.chars().count() >= 3) {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_and_passages() {
        assert_eq!(
            behaviour("echo:300:20"),
            Some(Behaviour::Echo {
                first: Duration::from_millis(300),
                gap: Duration::from_millis(20)
            })
        );
        assert_eq!(behaviour("hang"), Some(Behaviour::Hang));
        assert_eq!(behaviour("gpt-4o"), None);
        assert_eq!(behaviour("echo:x:1"), None);
        let system = "Rules...\n\nPassages:\n\n[ref:returns] 退货政策\n签收后 7 天内可退货。\n运费买家承担。\n\n[ref:other] B\nb\n";
        assert_eq!(
            first_passage(system).as_deref(),
            Some("签收后 7 天内可退货。\n运费买家承担。[ref:returns]")
        );
        assert_eq!(first_passage("no passages"), None);
        assert_eq!(
            customer_lines("Customer: 耳机坏了\nBot: 抱歉\nCustomer: 要退款\nCustomer: 转人工")
                .as_deref(),
            Some("要退款 / 转人工")
        );
        assert_eq!(customer_lines("Bot: hi"), None);
        assert_eq!(pieces("签收后 7 天内").concat(), "签收后 7 天内");
        assert_eq!(pieces("Refunds take three days"), ["Refunds ", "take ", "three ", "days"]);
    }
}
