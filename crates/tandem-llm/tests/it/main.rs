//! The LLM client against a local server that speaks the OpenAI chat-completions wire protocol:
//! JSON completions, server-sent event streams, tool calls, rate limits, server errors, hangs
//! and malformed chunks.

mod fuzz;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tandem_domain::Locale;
use tandem_llm::{
    BreakerState, Breakers, ChatMessage, ChatRequest, CircuitBreaker, LlmClient, LlmError,
    LlmSettings, NO_ANSWER, Passage, Rejection, StreamEvent, ToolDefinition, grounded_messages,
    verify,
};

use tandem_llm::mock::{MockServer, Reply};

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
    let completion = client(server.settings()).complete(&ask("怎么退货？")).await.unwrap();
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
    let client = client(server.settings());
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
    let completion = client(server.settings()).complete(&request).await.unwrap();

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
    let completion = client(server.settings()).complete(&ask("怎么退货")).await.unwrap();
    assert_eq!((completion.attempts, server.request_count()), (3, 3));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");

    // Without retries left, the error is the provider's.
    let limited = MockServer::start(vec![Reply::Status { status: 429, retry_after: None }]).await;
    let error = client(LlmSettings { max_retries: 0, ..limited.settings() })
        .complete(&ask("怎么退货"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "llm_rate_limited");
    // A request the provider refuses is not retried.
    let refused = MockServer::start(vec![Reply::Status { status: 400, retry_after: None }]).await;
    let error = client(refused.settings()).complete(&ask("怎么退货")).await.unwrap_err();
    assert!(matches!(error, LlmError::Status { status: 400, .. }), "{error:?}");
    assert_eq!(refused.request_count(), 1);
}

#[tokio::test]
async fn a_hanging_provider_times_out_within_the_configured_time() {
    let server = MockServer::start(Vec::new()).await;
    server.set_default(Reply::Hang);
    let settings =
        LlmSettings { timeout_ms: 300, total_timeout_ms: 700, max_retries: 3, ..server.settings() };
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
        ..server.settings()
    };
    // Two conversations of one workspace share the breaker, which tells the time by a clock
    // the test moves.
    let time = Arc::new(Mutex::new(Instant::now()));
    let clock = Arc::clone(&time);
    let breakers = Breakers::with_clock(Arc::new(move || *clock.lock().unwrap()));
    let advance = |by: u64| *time.lock().unwrap() += Duration::from_millis(by);
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

    advance(999);
    assert_eq!(second.complete(&ask("怎么退货")).await.unwrap_err(), LlmError::CircuitOpen);
    assert_eq!(server.request_count(), 2, "still cooling down");
    advance(1);
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
    let mut stream = client(server.settings()).stream(&request).await.unwrap();
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
    let client = client(server.settings());
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
async fn oversized_or_absurd_replies_are_refused_without_holding_them() {
    let huge_index = r#"data: {"choices":[{"delta":{"tool_calls":[{"index":4000000000,"id":"c","function":{"name":"f","arguments":"{}"}}]}}]}"#;
    let endless_line = "x".repeat(tandem_llm::MAX_RESPONSE_BYTES + 1);
    let server = MockServer::start(vec![
        Reply::Raw { content_type: "text/event-stream", body: format!("{huge_index}\n\n") },
        Reply::Raw { content_type: "text/event-stream", body: endless_line.clone() },
        Reply::Raw { content_type: "application/json", body: endless_line },
    ])
    .await;
    let client = client(LlmSettings { max_retries: 0, ..server.settings() });
    for expected in ["tool call index", "too large"] {
        let stream = client.stream(&ask("怎么退货")).await.unwrap();
        let error = stream.finish(|_| {}).await.unwrap_err();
        assert!(
            matches!(&error, LlmError::Malformed(reason) if reason.contains(expected)),
            "{error:?}"
        );
    }
    let error = client.complete(&ask("怎么退货")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Malformed(reason) if reason.contains("too large")),
        "{error:?}"
    );
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
    let completion = client(server.settings()).complete(&request).await.unwrap();
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
    client(server.settings()).complete(&follow_up).await.unwrap();
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
    let forbidden = client(LlmSettings { allow_external: false, ..server.settings() });
    assert_eq!(
        forbidden.complete(&ask("怎么退货")).await.unwrap_err(),
        LlmError::ExternalCallsForbidden
    );
    assert_eq!(
        forbidden.stream(&ask("怎么退货")).await.unwrap_err(),
        LlmError::ExternalCallsForbidden
    );
    let off = client(LlmSettings { enabled: false, ..server.settings() });
    assert_eq!(off.complete(&ask("怎么退货")).await.unwrap_err(), LlmError::Disabled);
    let keyless = LlmClient::new(
        LlmSettings {
            api_key_env: Some("TANDEM_LLM_TEST_KEY_THAT_IS_NOT_SET".into()),
            ..server.settings()
        },
        Arc::new(CircuitBreaker::new(5, Duration::from_secs(1))),
    )
    .unwrap();
    assert_eq!(
        keyless.complete(&ask("怎么退货")).await.unwrap_err(),
        LlmError::MissingApiKey("TANDEM_LLM_TEST_KEY_THAT_IS_NOT_SET".into())
    );
    assert_eq!(server.request_count(), 0);
    // A provider at a cloud metadata address is refused outright.
    let metadata = LlmClient::new(
        LlmSettings { base_url: "http://169.254.169.254/v1".into(), ..server.settings() },
        Arc::new(CircuitBreaker::new(5, Duration::from_secs(1))),
    );
    let Err(LlmError::Settings(error)) = metadata else {
        panic!("a metadata address was accepted")
    };
    assert_eq!(error.field, "base_url");
    assert_eq!(error.problem.code(), "url_refused_address");
}

#[tokio::test]
async fn embeddings_come_back_in_order_with_personal_data_redacted() {
    let server = MockServer::start(Vec::new()).await;
    let settings = LlmSettings { embedding_model: Some("bge-m3".into()), ..server.settings() };
    let on = client(settings.clone());
    let texts = ["退货政策".to_owned(), "call me on 13812345678".to_owned()];
    let embedded = on.embed(&texts).await.unwrap();
    assert_eq!(embedded.vectors.len(), 2);
    assert!(embedded.vectors.iter().all(|vector| vector.len() == 64));
    assert_ne!(embedded.vectors[0], embedded.vectors[1]);
    assert_eq!((embedded.usage.prompt_tokens, embedded.attempts), (16, 1));
    let body = &server.bodies()[0];
    assert_eq!(body["model"], "bge-m3");
    assert!(!body.to_string().contains("13812345678"), "{body}");
    // No embedding model: nothing is sent.
    let off = client(LlmSettings { embedding_model: None, ..settings });
    assert!(off.embed(&texts).await.is_err());
    assert_eq!(server.request_count(), 1);
}
