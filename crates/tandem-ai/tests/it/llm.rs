//! The LLM client against a local server that speaks the OpenAI chat-completions wire protocol:
//! JSON completions, server-sent event streams, tool calls, rate limits, server errors, hangs
//! and malformed chunks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_ai::llm::{
    BreakerState, Breakers, ChatMessage, ChatRequest, CircuitBreaker, LlmClient, LlmError,
    LlmSettings, NO_ANSWER, Passage, Rejection, StreamEvent, ToolDefinition, grounded_messages,
    verify,
};
use tandem_domain::Locale;

use mock::{MockServer, Reply};

pub(crate) mod mock {
    //! A stand-in for an OpenAI-compatible provider: it answers from a script, then with a
    //! default reply, and records every request it receives.

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use serde_json::{Value, json};

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
    }

    #[derive(Debug)]
    struct Recorded {
        authorization: Option<String>,
        body: Value,
    }

    #[derive(Debug)]
    struct Inner {
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
                script: Mutex::new(script.into()),
                default: Mutex::new(Reply::Status { status: 500, retry_after: None }),
                requests: Mutex::new(Vec::new()),
            });
            let app = Router::new()
                .route("/v1/chat/completions", post(chat_completions))
                .with_state(inner.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            MockServer { base_url: format!("http://{address}/v1"), inner }
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
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
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
                let deltas: Vec<String> =
                    chars.chunks(4).map(|piece| piece.iter().collect()).collect();
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
        events.extend(
            deltas.iter().map(|delta| chunk(model, json!({"content": delta.as_ref()}), None)),
        );
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
}

fn settings(server: &MockServer) -> LlmSettings {
    LlmSettings {
        enabled: true,
        allow_external: true,
        base_url: server.base_url.clone(),
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

fn client(settings: LlmSettings) -> LlmClient {
    let breaker = Arc::new(CircuitBreaker::new(
        settings.breaker_failures,
        Duration::from_millis(settings.breaker_cooldown_ms),
    ));
    LlmClient::with_api_key(settings, breaker, Some("sk-test".into())).unwrap()
}

fn passages() -> Vec<Passage> {
    vec![
        Passage {
            key: "returns".into(),
            title: "退货政策".into(),
            text: "签收后 7 天内可无理由退货，退款在 48 小时内原路退回。".into(),
        },
        Passage {
            key: "invoice".into(),
            title: "开发票".into(),
            text: "在订单详情页申请电子发票。".into(),
        },
    ]
}

fn ask(question: &str) -> ChatRequest {
    ChatRequest {
        messages: grounded_messages(question, &passages(), Locale::Zh),
        tools: Vec::new(),
    }
}

#[tokio::test]
async fn a_grounded_answer_is_accepted_with_its_usage_and_cost() {
    let server =
        MockServer::start(vec![Reply::Text("签收后七天内可无理由退货 [ref:returns]。")]).await;
    let completion = client(settings(&server)).complete(&ask("怎么退货？")).await.unwrap();
    assert_eq!(verify(&completion.model_text, &passages()), Ok(()));
    assert_eq!((completion.usage.prompt_tokens, completion.usage.completion_tokens), (100, 20));
    assert!((completion.cost - (0.1 * 0.5 + 0.02 * 1.5)).abs() < 1e-9, "{}", completion.cost);
    assert_eq!(completion.attempts, 1);

    let body = &server.bodies()[0];
    assert_eq!(body["model"], "mock-model");
    assert_eq!(body["stream"], false);
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(body["messages"][0]["content"].as_str().unwrap().contains("[ref:returns] 退货政策"));
    assert_eq!(body["messages"][1], json!({"role": "user", "content": "怎么退货？"}));
    assert_eq!(server.authorizations(), [Some("Bearer sk-test".to_owned())]);
}

#[tokio::test]
async fn an_unsupported_claim_is_rejected_for_the_extractive_answer() {
    let server = MockServer::start(vec![
        Reply::Text("签收后 30 天内可无理由退货 [ref:returns]。"),
        Reply::Text(NO_ANSWER),
    ])
    .await;
    let client = client(settings(&server));
    let wrong = client.complete(&ask("怎么退货？")).await.unwrap();
    let Err(Rejection::Unsupported { claims }) = verify(&wrong.model_text, &passages()) else {
        panic!("a wrong time limit passed verification");
    };
    assert_eq!(claims.iter().map(|claim| claim.text.as_str()).collect::<Vec<_>>(), ["30 天"]);
    // What the responder will do: show the best article's own answer instead.
    let shown = match verify(&wrong.model_text, &passages()) {
        Ok(()) => wrong.text.clone(),
        Err(_) => passages()[0].text.clone(),
    };
    assert_eq!(shown, "签收后 7 天内可无理由退货，退款在 48 小时内原路退回。");

    let unknown = client.complete(&ask("你们的创始人是谁？")).await.unwrap();
    assert_eq!(verify(&unknown.model_text, &passages()), Err(Rejection::Refused));
}

#[tokio::test]
async fn personal_data_never_reaches_the_provider_and_comes_back_in_the_reply() {
    let server = MockServer::start(vec![Reply::Text(
        "好的，我们会致电 [PHONE_1]，并把发票发到 [EMAIL_1] [ref:invoice]。",
    )])
    .await;
    let mut request = ask("我的手机 13800138000，邮箱 li.lei@example.com，发票怎么开？");
    request.messages.push(ChatMessage::assistant("请留下联系方式"));
    request.messages.push(ChatMessage::user("打这个：138 0013 8000"));
    request.messages.push(ChatMessage::user(
        "寄到上海市浦东新区世纪大道100号，或者 350 Fifth Avenue, New York, NY 10118",
    ));
    let completion = client(settings(&server)).complete(&request).await.unwrap();

    let wire = server.bodies()[0].to_string();
    for personal in
        ["13800138000", "138 0013 8000", "li.lei@example.com", "世纪大道100号", "350 Fifth Avenue"]
    {
        assert!(!wire.contains(personal), "{personal} reached the provider: {wire}");
    }
    assert!(wire.contains("我的手机 [PHONE_1]，邮箱 [EMAIL_1]"), "{wire}");
    assert!(wire.contains("寄到[ADDRESS_1]") || wire.contains("寄到 [ADDRESS_1]"), "{wire}");
    assert!(wire.contains("[ADDRESS_2]"), "{wire}");
    assert!(wire.contains("打这个：[PHONE_1]"), "the same number, however written: {wire}");
    assert_eq!(
        completion.text,
        "好的，我们会致电 13800138000，并把发票发到 li.lei@example.com [ref:invoice]。"
    );
    assert!(completion.model_text.contains("[PHONE_1]"));
    assert_eq!(verify(&completion.model_text, &passages()), Ok(()));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_until_success() {
    let server = MockServer::start(vec![
        Reply::Status { status: 429, retry_after: Some("1") },
        Reply::Status { status: 500, retry_after: None },
        Reply::Text("签收后 7 天内可退货 [ref:returns]。"),
    ])
    .await;
    let started = Instant::now();
    let completion = client(settings(&server)).complete(&ask("怎么退货")).await.unwrap();
    assert_eq!((completion.attempts, server.request_count()), (3, 3));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");

    // Without retries left, the error is the provider's.
    let limited = MockServer::start(vec![Reply::Status { status: 429, retry_after: None }]).await;
    let error = client(LlmSettings { max_retries: 0, ..settings(&limited) })
        .complete(&ask("怎么退货"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "llm_rate_limited");
    // A request the provider refuses is not retried.
    let refused = MockServer::start(vec![Reply::Status { status: 400, retry_after: None }]).await;
    let error = client(settings(&refused)).complete(&ask("怎么退货")).await.unwrap_err();
    assert!(matches!(error, LlmError::Status { status: 400, .. }), "{error:?}");
    assert_eq!(refused.request_count(), 1);
}

#[tokio::test]
async fn a_hanging_provider_times_out_within_the_configured_time() {
    let server = MockServer::start(Vec::new()).await;
    server.set_default(Reply::Hang);
    let settings =
        LlmSettings { timeout_ms: 300, total_timeout_ms: 700, max_retries: 3, ..settings(&server) };
    let started = Instant::now();
    let error = client(settings.clone()).complete(&ask("怎么退货")).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error, LlmError::Timeout);
    assert!(elapsed < Duration::from_millis(1_200), "took {elapsed:?}");
    assert!(server.request_count() <= 2, "no retry starts past the total budget");

    let started = Instant::now();
    let stream = client(LlmSettings { max_retries: 0, ..settings }).stream(&ask("怎么退货")).await;
    assert_eq!(stream.unwrap_err(), LlmError::Timeout);
    assert!(started.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn the_circuit_breaker_opens_after_failures_and_closes_after_the_cooldown() {
    let server = MockServer::start(Vec::new()).await;
    let settings = LlmSettings {
        max_retries: 0,
        breaker_failures: 2,
        breaker_cooldown_ms: 1_000,
        ..settings(&server)
    };
    // Two conversations of one workspace share the breaker.
    let breakers = Breakers::default();
    let key = format!("workspace-1:{}:{}", settings.base_url, settings.model);
    let breaker = || breakers.get(&key, 2, Duration::from_millis(1_000));
    let first = LlmClient::with_api_key(settings.clone(), breaker(), None).unwrap();
    let second = LlmClient::with_api_key(settings.clone(), breaker(), None).unwrap();

    for _ in 0..2 {
        let error = first.complete(&ask("怎么退货")).await.unwrap_err();
        assert!(matches!(error, LlmError::Status { status: 500, .. }), "{error:?}");
    }
    assert_eq!(first.breaker().state(), BreakerState::Open);
    assert_eq!(second.complete(&ask("怎么退货")).await.unwrap_err(), LlmError::CircuitOpen);
    assert!(second.stream(&ask("怎么退货")).await.is_err());
    assert_eq!(server.request_count(), 2, "nothing reaches the provider while open");

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(second.breaker().state(), BreakerState::HalfOpen);
    server.set_default(Reply::Text("签收后 7 天内可退货。"));
    second.complete(&ask("怎么退货")).await.unwrap();
    assert_eq!(first.breaker().state(), BreakerState::Closed);
    first.complete(&ask("怎么退货")).await.unwrap();
    assert_eq!(server.request_count(), 4);
}

#[tokio::test]
async fn streaming_yields_deltas_and_the_full_text() {
    let server = MockServer::start(vec![Reply::Stream(vec![
        "签收后 7 天内",
        "可无理由退货 [ref:returns]。",
        "我们会致电 [PHO",
        "NE_1] 确认。",
    ])])
    .await;
    let request = ask("手机 13800138000，怎么退货？");
    let mut stream = client(settings(&server)).stream(&request).await.unwrap();
    let mut deltas = Vec::new();
    let completion = loop {
        match stream.next().await.unwrap().unwrap() {
            StreamEvent::Delta(text) => deltas.push(text),
            StreamEvent::Done(completion) => break completion,
        }
    };
    assert!(deltas.len() >= 3, "{deltas:?}");
    assert_eq!(deltas.concat(), completion.text);
    assert_eq!(
        completion.text,
        "签收后 7 天内可无理由退货 [ref:returns]。我们会致电 13800138000 确认。"
    );
    assert_eq!(verify(&completion.model_text, &passages()), Ok(()));
    assert_eq!((completion.usage.prompt_tokens, completion.usage.completion_tokens), (80, 12));
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    assert!(stream.next().await.is_none());

    let body = &server.bodies()[0];
    assert_eq!(
        (&body["stream"], &body["stream_options"]["include_usage"]),
        (&json!(true), &json!(true))
    );
    assert!(!body.to_string().contains("13800138000"));
}

#[tokio::test]
async fn a_malformed_chunk_ends_the_stream_with_an_error() {
    let server = MockServer::start(vec![Reply::MalformedStream]).await;
    let client = client(settings(&server));
    let stream = client.stream(&ask("怎么退货")).await.unwrap();
    let mut shown = String::new();
    let error = stream.finish(|delta| shown.push_str(delta)).await.unwrap_err();
    assert!(matches!(error, LlmError::Malformed(_)), "{error:?}");
    assert_eq!(shown, "签收后", "the caller saw the start and now falls back");
    // A plain JSON reply where a stream was asked for is malformed too.
    server.set_default(Reply::Json("签收后 7 天内可退货。"));
    assert!(matches!(client.stream(&ask("怎么退货")).await, Err(LlmError::Malformed(_))));
}

#[tokio::test]
async fn tool_calls_go_out_as_functions_and_come_back_with_their_arguments() {
    let server = MockServer::start(vec![Reply::ToolCall {
        name: "order_status",
        arguments: r#"{"phone":"[PHONE_1]","order":"20241123001"}"#,
    }])
    .await;
    let request = ChatRequest {
        messages: vec![
            ChatMessage::system("You help customers of a shop."),
            ChatMessage::user("订单 20241123001 到哪了？手机 13800138000"),
        ],
        tools: vec![ToolDefinition {
            name: "order_status".into(),
            description: "Looks up an order".into(),
            parameters: json!({
                "type": "object",
                "properties": {"phone": {"type": "string"}, "order": {"type": "string"}},
                "required": ["order"]
            }),
        }],
    };
    let completion = client(settings(&server)).complete(&request).await.unwrap();
    assert_eq!(completion.finish_reason.as_deref(), Some("tool_calls"));
    let call = &completion.tool_calls[0];
    assert_eq!((call.id.as_str(), call.name.as_str()), ("call_1", "order_status"));
    let arguments: Value = serde_json::from_str(&call.arguments).unwrap();
    assert_eq!(arguments, json!({"phone": "13800138000", "order": "20241123001"}));

    let body = &server.bodies()[0];
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "order_status");
    assert_eq!(body["tools"][0]["function"]["parameters"]["required"], json!(["order"]));

    // The result goes back as a tool message answering the call.
    let mut follow_up = request.clone();
    let mut asked = ChatMessage::assistant("");
    asked.tool_calls = completion.tool_calls.clone();
    follow_up.messages.push(asked);
    follow_up.messages.push(ChatMessage::tool_result("call_1", r#"{"status":"shipped"}"#));
    let server = MockServer::start(vec![Reply::Text("您的订单已发货。")]).await;
    client(settings(&server)).complete(&follow_up).await.unwrap();
    let body = server.bodies()[0].clone();
    assert_eq!(body["messages"][2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        body["messages"][2]["tool_calls"][0]["function"]["arguments"],
        r#"{"phone":"[PHONE_1]","order":"20241123001"}"#
    );
    assert_eq!(
        body["messages"][3],
        json!({"role": "tool", "content": r#"{"status":"shipped"}"#, "tool_call_id": "call_1"})
    );
}

#[tokio::test]
async fn no_request_leaves_when_external_calls_are_forbidden_or_the_provider_is_off() {
    let server = MockServer::start(Vec::new()).await;
    server.set_default(Reply::Text("hello"));
    let forbidden = client(LlmSettings { allow_external: false, ..settings(&server) });
    assert_eq!(
        forbidden.complete(&ask("怎么退货")).await.unwrap_err(),
        LlmError::ExternalCallsForbidden
    );
    assert_eq!(
        forbidden.stream(&ask("怎么退货")).await.unwrap_err(),
        LlmError::ExternalCallsForbidden
    );
    let off = client(LlmSettings { enabled: false, ..settings(&server) });
    assert_eq!(off.complete(&ask("怎么退货")).await.unwrap_err(), LlmError::Disabled);
    let keyless = LlmClient::new(
        LlmSettings {
            api_key_env: Some("TANDEM_LLM_TEST_KEY_THAT_IS_NOT_SET".into()),
            ..settings(&server)
        },
        Arc::new(CircuitBreaker::new(5, Duration::from_secs(1))),
    )
    .unwrap();
    assert_eq!(
        keyless.complete(&ask("怎么退货")).await.unwrap_err(),
        LlmError::MissingApiKey("TANDEM_LLM_TEST_KEY_THAT_IS_NOT_SET".into())
    );
    assert_eq!(server.request_count(), 0);
}

/// Grounded answers in the bot's turns: a knowledge base, a workspace's LLM settings, and the
/// relay answering customers with the knowledge responder.
mod in_turns {
    use super::*;
    use crate::{World, send, world};
    use tandem_ai::llm::save_llm_settings;
    use tandem_ai::{CustomerSend, KnowledgeResponder, Relay};
    use tandem_domain::{ArticleStatus, AuthorKind, DecisionRecord, LlmRecord, Message};
    use tandem_knowledge::DecisionPolicy;
    use tandem_store::NewArticle;

    const RETURNS: &str = "签收后 7 天内可无理由退货，退款在 48 小时内原路退回。";

    fn article(key: &str, title: &str, questions: &[&str], answer: &str) -> NewArticle {
        NewArticle {
            key: key.into(),
            title: title.into(),
            answer: answer.into(),
            questions: questions.iter().map(|question| (*question).to_owned()).collect(),
            tags: Vec::new(),
            language: Some(Locale::Zh),
            effective_from: None,
            expires_at: None,
            channels: Vec::new(),
        }
    }

    /// A workspace with two articles and these LLM settings (`None`: never saved).
    async fn shop(llm: Option<LlmSettings>) -> (World, Relay) {
        let world = world().await;
        let workspace = world.inbox.workspace_id;
        let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
        responder
            .save(
                workspace,
                vec![
                    article(
                        "returns",
                        "退货政策",
                        &["怎么退货", "可以退货吗", "七天无理由退货"],
                        RETURNS,
                    ),
                    article(
                        "invoice",
                        "开发票",
                        &["怎么开发票", "电子发票在哪下载"],
                        "在订单详情页申请电子发票。",
                    ),
                ],
                ArticleStatus::Published,
                None,
            )
            .await
            .unwrap();
        // The tests ask about returns more than once on purpose: no hand-off for repeating.
        let policy = tandem_domain::EscalationPolicy { repeats: 0, ..Default::default() };
        world.store.save_escalation_policy(workspace, policy).await.unwrap();
        if let Some(settings) = llm {
            save_llm_settings(world.store.as_ref(), workspace, &settings).await.unwrap();
        }
        let relay = Relay::new(world.store.clone(), responder);
        (world, relay)
    }

    /// Sends `text` and waits for the bot's reply and the turn's decision record.
    async fn ask(world: &World, relay: &Relay, text: &str) -> (Message, DecisionRecord) {
        let appended = relay.customer_message(send(world, text)).await.unwrap();
        let seq = appended.message.seq;
        for _ in 0..1000 {
            let messages = world.store.messages(appended.conversation.id, seq, 10).await.unwrap();
            if let Some(reply) =
                messages.into_iter().find(|message| message.author_kind == AuthorKind::Bot)
            {
                let decisions = world.store.decisions(appended.conversation.id).await.unwrap();
                let (_, record) = decisions
                    .into_iter()
                    .find(|(message, _)| *message == reply.id)
                    .expect("a decision record for the reply");
                return (reply, record);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no bot reply to {text}");
    }

    fn source(message: &Message) -> &str {
        &message.meta.as_ref().unwrap().source.as_ref().unwrap().article
    }

    #[tokio::test]
    async fn a_verified_grounded_answer_is_shown_with_its_article_as_source() {
        let server =
            MockServer::start(vec![Reply::Text("签收后七天内可无理由退货 [ref:returns]。")]).await;
        let (world, relay) = shop(Some(settings(&server))).await;
        let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
        assert_eq!(reply.body, "签收后七天内可无理由退货。");
        assert_eq!(source(&reply), "returns");
        assert_eq!(record.outcome, "answer");
        let llm = record.llm.unwrap();
        assert_eq!(
            (
                llm.outcome.as_str(),
                llm.error,
                llm.attempts,
                llm.prompt_tokens,
                llm.completion_tokens
            ),
            ("used", None, 1, 100, 20)
        );
        assert!((llm.cost - (0.1 * 0.5 + 0.02 * 1.5)).abs() < 1e-9, "{}", llm.cost);

        let body = &server.bodies()[0];
        let system = body["messages"][0]["content"].as_str().unwrap();
        assert!(system.contains(&format!("[ref:returns] 退货政策\n{RETURNS}")), "{system}");
        assert_eq!(body["messages"][1], json!({"role": "user", "content": "请问怎样退货？"}));
    }

    #[tokio::test]
    async fn an_unsupported_number_falls_back_to_the_articles_own_answer() {
        let server =
            MockServer::start(vec![Reply::Text("签收后 30 天内可无理由退货 [ref:returns]。")])
                .await;
        let (world, relay) = shop(Some(settings(&server))).await;
        let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
        assert_eq!(reply.body, RETURNS);
        assert_eq!(source(&reply), "returns");
        let llm = record.llm.unwrap();
        assert_eq!(llm.outcome, "rejected");
        assert_eq!(llm.rejected_claims, ["30 天"]);
        assert_eq!(llm.attempts, 1);

        // The model saying it does not know is a refusal, with the same fallback.
        server.set_default(Reply::Text(NO_ANSWER));
        let (reply, record) = ask(&world, &relay, "可以退货吗").await;
        assert_eq!(reply.body, RETURNS);
        assert_eq!(record.llm.unwrap().outcome, "refused");
    }

    #[tokio::test]
    async fn a_provider_outage_falls_back_within_the_time_budget() {
        let server = MockServer::start(Vec::new()).await; // Every request: 500.
        let budget = LlmSettings {
            timeout_ms: 300,
            total_timeout_ms: 1_000,
            max_retries: 2,
            breaker_failures: 50,
            ..settings(&server)
        };
        let (world, relay) = shop(Some(budget.clone())).await;
        // Warm up the text analyzer on a question the model is never asked.
        let (_, record) = ask(&world, &relay, "你们公司的创始人是谁").await;
        assert_eq!((record.outcome.as_str(), record.llm), ("abstain", None));

        let started = Instant::now();
        let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
        let elapsed = started.elapsed();
        assert_eq!(reply.body, RETURNS);
        assert!(elapsed < Duration::from_millis(budget.total_timeout_ms + 500), "{elapsed:?}");
        let llm = record.llm.unwrap();
        assert_eq!(
            (llm.outcome.as_str(), llm.error.as_deref()),
            ("error", Some("llm_error_status"))
        );
        assert!(server.request_count() >= 2, "server errors are retried");

        server.set_default(Reply::Hang);
        let started = Instant::now();
        let (reply, record) = ask(&world, &relay, "可以退货吗").await;
        let elapsed = started.elapsed();
        assert_eq!(reply.body, RETURNS);
        assert!(elapsed < Duration::from_millis(budget.total_timeout_ms + 500), "{elapsed:?}");
        let llm = record.llm.unwrap();
        assert_eq!((llm.outcome.as_str(), llm.error.as_deref()), ("error", Some("llm_timeout")));
        assert!(llm.latency_ms <= budget.total_timeout_ms + 100, "{}", llm.latency_ms);
    }

    #[tokio::test]
    async fn no_request_reaches_the_provider_when_off_forbidden_or_abstaining() {
        let server = MockServer::start(Vec::new()).await;
        server.set_default(Reply::Text("签收后七天内可无理由退货 [ref:returns]。"));

        // Never configured, and configured but off: today's answers, no LLM record.
        for llm in [None, Some(LlmSettings { enabled: false, ..settings(&server) })] {
            let (world, relay) = shop(llm).await;
            let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
            assert_eq!((reply.body.as_str(), record.llm), (RETURNS, None));
        }

        // On, but the workspace forbids external calls: skipped, and said so.
        let forbidden = LlmSettings { allow_external: false, ..settings(&server) };
        let (world, relay) = shop(Some(forbidden)).await;
        let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
        assert_eq!(reply.body, RETURNS);
        assert_eq!(
            record.llm,
            Some(LlmRecord {
                outcome: "skipped".into(),
                error: Some("llm_external_calls_forbidden".into()),
                ..LlmRecord::default()
            })
        );

        // On and allowed, but the engine abstains: the model is not asked.
        let (world, relay) = shop(Some(settings(&server))).await;
        let (reply, record) = ask(&world, &relay, "你们公司的创始人是谁").await;
        assert_eq!((record.outcome.as_str(), record.llm), ("abstain", None));
        assert!(reply.body.contains("转人工"), "{}", reply.body);
        assert_eq!(server.request_count(), 0);
    }

    /// The drafts of one turn, up to and including the one that ends it.
    async fn drafts_of_turn(
        drafts: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<tandem_ai::Draft>>,
    ) -> Vec<tandem_ai::Draft> {
        let mut seen = Vec::new();
        loop {
            let draft = tokio::time::timeout(Duration::from_secs(5), drafts.recv())
                .await
                .expect("the turn's drafts end")
                .unwrap();
            seen.push((*draft).clone());
            if draft.done {
                return seen;
            }
        }
    }

    #[tokio::test]
    async fn a_streamed_answer_shows_verified_clauses_and_stops_at_an_unsupported_one() {
        let server = MockServer::start(vec![Reply::Stream(vec![
            "签收后 7 天内",
            "可无理由退货，",
            "退款在 48 小时内",
            "原路退回。[ref:returns]",
        ])])
        .await;
        let (world, relay) = shop(Some(settings(&server))).await;
        let mut drafts = relay.drafts();
        let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
        assert_eq!(reply.body, "签收后 7 天内可无理由退货，退款在 48 小时内原路退回。");
        assert_eq!(record.llm.unwrap().outcome, "used");
        let turn = drafts_of_turn(&mut drafts).await;
        let texts: Vec<&str> = turn.iter().map(|draft| draft.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "签收后",
                "签收后 7 天内可无理由退货，",
                "签收后 7 天内可无理由退货，退款在",
                reply.body.as_str(),
                ""
            ]
        );
        assert!(turn.iter().all(|draft| draft.reply_to == reply.seq - 1));
        assert_eq!(server.bodies()[0]["stream"], true);

        // A clause with a claim no article makes is never shown: the stream stops there and
        // the article's own answer replaces the draft.
        server.set_default(Reply::Stream(vec![
            "签收后可以退货，",
            "30 天内",
            "都行。",
            "运费全免。",
        ]));
        let (reply, record) = ask(&world, &relay, "可以退货吗").await;
        assert_eq!(reply.body, RETURNS);
        let llm = record.llm.unwrap();
        assert_eq!(
            (llm.outcome.as_str(), llm.rejected_claims),
            ("rejected", vec!["30 天".to_owned()])
        );
        let texts: Vec<String> =
            drafts_of_turn(&mut drafts).await.into_iter().map(|draft| draft.text).collect();
        assert_eq!(texts, ["签收后可以退货，", ""]);

        // Streaming off: the answer arrives whole, and nothing is previewed.
        let whole = LlmSettings { stream: false, ..settings(&server) };
        save_llm_settings(world.store.as_ref(), world.inbox.workspace_id, &whole).await.unwrap();
        server.set_default(Reply::Text("签收后七天内可无理由退货 [ref:returns]。"));
        let (reply, _) = ask(&world, &relay, "七天无理由退货").await;
        assert_eq!(reply.body, "签收后七天内可无理由退货。");
        assert_ne!(server.bodies().last().unwrap()["stream"], true);
        assert!(drafts.try_recv().is_err(), "no drafts without streaming");
    }

    #[tokio::test]
    async fn a_hand_off_gets_the_models_summary_when_the_conversation_supports_it() {
        let server = MockServer::start(vec![
            // The summary call of the first hand-off; the second invents an amount.
            Reply::Json("客户的订单 20241123001 三天没更新，要求人工处理。"),
            Reply::Json("客户要求赔偿 200 元。"),
        ])
        .await;
        let whole = LlmSettings { stream: false, tools: false, ..settings(&server) };
        let (world, relay) = shop(Some(whole)).await;
        let asked = relay
            .customer_message(send(&world, "我的订单 20241123001 三天没更新了，转人工"))
            .await
            .unwrap();
        let conversation = asked.conversation.id;
        let summary = loop {
            if let Some(packet) = world.store.handoff(conversation).await.unwrap()
                && let Some(summary) = packet.model_summary
            {
                assert!(!packet.summary.is_empty(), "the extractive summary stays");
                break summary;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(
            summary.text.as_deref(),
            Some("客户的订单 20241123001 三天没更新，要求人工处理。")
        );
        assert_eq!((summary.llm.outcome.as_str(), summary.llm.prompt_tokens), ("used", 100));
        let request = &server.bodies()[0];
        assert!(
            request["messages"][1]["content"]
                .as_str()
                .unwrap()
                .starts_with("Customer: 我的订单 20241123001")
        );

        // A summary with a claim the conversation does not make is not kept.
        let other = world
            .store
            .create_customer(tandem_store::NewCustomer {
                workspace_id: world.inbox.workspace_id,
                name: "another".into(),
                email: None,
                locale: None,
                attributes: Default::default(),
            })
            .await
            .unwrap();
        let second = relay
            .customer_message(CustomerSend {
                customer: other,
                ..send(&world, "耳机坏了，我要投诉，转人工")
            })
            .await
            .unwrap();
        let summary = loop {
            if let Some(packet) = world.store.handoff(second.conversation.id).await.unwrap()
                && let Some(summary) = packet.model_summary
            {
                break summary;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!((summary.text, summary.llm.outcome.as_str()), (None, "rejected"));
    }
}
