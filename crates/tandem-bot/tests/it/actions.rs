//! Business actions against a local HTTP server started by the test: slot filling in both
//! languages, every kind of answer (found, not found, error, timeout, malformed), identity, and
//! a customer who moves on to another question.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tandem_bot::KnowledgeResponder;
use tandem_domain::{
    Action, ActionParam, ActionReplies, ActionStep, ArticleStatus, ConversationState, HttpMethod,
    Locale, ParamKind, ReplyRule, Texts,
};
use tandem_flow::Relay;
use tandem_knowledge::DecisionPolicy;
use tandem_store::{NewArticle, VerifiedCustomer};

use tandem_flow::testing::{World, world};

use crate::ask;

fn texts(zh: &str, en: &str) -> Texts {
    Texts { zh: zh.into(), en: en.into() }
}

/// A shop: one known order, a 500, a slow one, and one that answers garbage.
async fn shop() -> String {
    async fn order(headers: HeaderMap, Path(number): Path<String>) -> axum::response::Response {
        if headers.get("authorization").and_then(|value| value.to_str().ok())
            != Some("Bearer shop-secret")
        {
            return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "unauthorized" })))
                .into_response();
        }
        match number.as_str() {
            "20241123001" => Json(
                json!({ "number": number, "status": "shipped", "carrier": "顺丰", "eta": "明天", "phone_last4": "5678" }),
            )
            .into_response(),
            "20240000500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
            "20240000408" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Json(json!({ "status": "late" })).into_response()
            }
            "20240000666" => (StatusCode::OK, "{not json").into_response(),
            // A careless service that echoes the credential it was sent.
            "20240000777" => {
                let sent = headers.get("authorization").and_then(|value| value.to_str().ok());
                Json(json!({ "status": "shipped", "carrier": format!("echo {sent:?}") }))
                    .into_response()
            }
            "20240000999" => {
                (StatusCode::OK, Json(json!({ "status": "cancelled", "carrier": null })))
                    .into_response()
            }
            _ => (StatusCode::NOT_FOUND, Json(json!({ "error": "not_found" }))).into_response(),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().route("/orders/{number}", get(order)))
            .await
            .unwrap();
    });
    format!("http://{address}")
}

fn order_status(base: &str) -> Action {
    Action {
        key: "order-status".into(),
        name: "查询订单 Order status".into(),
        description: "Where an order is".into(),
        triggers: vec![
            "我的订单到哪了".into(),
            "查一下订单物流".into(),
            "订单什么时候到".into(),
            "where is my order".into(),
            "track my order".into(),
        ],
        params: vec![ActionParam {
            name: "order_number".into(),
            kind: ParamKind::OrderNumber,
            pattern: Some(r"\d{11}".into()),
            from_profile: None,
            ask: texts(
                "请提供您的订单号（11 位数字）。",
                "Please tell me your order number (11 digits).",
            ),
        }],
        steps: vec![ActionStep {
            method: HttpMethod::Get,
            url: format!("{base}/orders/{{order_number}}"),
            headers: BTreeMap::from([("Authorization".into(), "Bearer {env.SHOP_KEY}".into())]),
            body: None,
            timeout_ms: 500,
            extract: BTreeMap::from([
                ("status".into(), "/status".into()),
                ("carrier".into(), "/carrier".into()),
            ]),
            rules: vec![ReplyRule {
                status: Some(200),
                pointer: Some("/status".into()),
                equals: Some(json!("cancelled")),
                reply: texts("订单 {order_number} 已取消。", "Order {order_number} was cancelled."),
                hand_off: false,
            }],
            within_days: None,
        }],
        replies: ActionReplies {
            done: texts(
                "订单 {order_number} 状态：{status}，承运商 {carrier}。",
                "Order {order_number}: {status}, carried by {carrier}.",
            ),
            not_found: texts(
                "没有找到订单 {order_number}，请核对一下。",
                "I couldn't find order {order_number}.",
            ),
            error: texts(
                "抱歉，订单系统暂时无法访问，已为您转接人工客服。",
                "Sorry, the order system is unavailable; a person will help.",
            ),
            login_required: Texts::default(),
        },
        requires_verified: false,
        identity_check: None,
        policy_article: None,
        enabled: true,
        updated_at: 0,
    }
}

async fn setup(world: &World, action: Action) -> (Arc<KnowledgeResponder>, Relay) {
    // The connector's secret, as the environment would give it in production.
    let secrets: tandem_bot::actions::Secrets = Arc::new(|name| match name {
        "SHOP_KEY" => Some("shop-secret".to_owned()),
        // The administrator binds the key to the shop's host.
        "SHOP_KEY_HOSTS" => Some("127.0.0.1".to_owned()),
        _ => None,
    });
    let responder = KnowledgeResponder::start_with(
        world.store.clone(),
        DecisionPolicy::default(),
        Arc::new(tandem_store::now_millis),
        secrets,
    );
    let workspace = world.inbox.workspace_id;
    let article = NewArticle {
        key: "returns".into(),
        title: "退货政策".into(),
        answer: "签收后 7 天内可无理由退货。".into(),
        questions: vec!["怎么退货".into(), "可以退货吗".into(), "七天无理由退货".into()],
        tags: Vec::new(),
        language: Some(Locale::Zh),
        effective_from: None,
        expires_at: None,
        channels: Vec::new(),
    };
    responder.save(workspace, vec![article], ArticleStatus::Published, None).await.unwrap();
    world.store.save_actions(workspace, vec![action]).await.unwrap();
    responder.rebuild(workspace).await.unwrap();
    let relay = Relay::new(world.store.clone(), responder.clone());
    (responder, relay)
}

async fn last_action(world: &World) -> tandem_domain::ActionRecord {
    let conversation =
        world.store.latest_conversation(world.inbox.id, world.customer.id).await.unwrap().unwrap();
    let decisions = world.store.decisions(conversation.id).await.unwrap();
    decisions.into_iter().rev().find_map(|(_, record)| record.action).expect("an action record")
}

#[tokio::test]
async fn the_bot_asks_for_the_order_number_then_looks_it_up() {
    let world = world().await;
    let base = shop().await;
    let (_responder, relay) = setup(&world, order_status(&base)).await;
    let asked = ask(&world, &relay, "我的订单到哪了？").await;
    assert_eq!(asked.body, "请提供您的订单号（11 位数字）。");
    let conversation =
        world.store.latest_conversation(world.inbox.id, world.customer.id).await.unwrap().unwrap();
    assert_eq!(
        conversation.pending_action.as_ref().map(|pending| pending.asking.as_str()),
        Some("order_number")
    );
    let answered = ask(&world, &relay, "20241123001").await;
    assert_eq!(answered.body, "订单 20241123001 状态：shipped，承运商 顺丰。");
    let record = last_action(&world).await;
    assert_eq!(record.outcome.as_str(), "done");
    assert_eq!(record.calls[0].status, Some(200));
    assert!(record.calls[0].url.ends_with("/orders/20241123001"));
    let conversation = world.store.conversation(conversation.id).await.unwrap().unwrap();
    assert_eq!(conversation.pending_action, None);
    // With the number in the question, no need to ask.
    let direct = ask(&world, &relay, "我的订单 20241123001 到哪了").await;
    assert!(direct.body.contains("shipped"), "{}", direct.body);
}

#[tokio::test]
async fn english_customers_are_asked_in_english_and_a_bad_number_is_asked_again_then_a_person_helps()
 {
    let world = world().await;
    let base = shop().await;
    let (_responder, relay) = setup(&world, order_status(&base)).await;
    assert_eq!(
        ask(&world, &relay, "where is my order?").await.body,
        "Please tell me your order number (11 digits)."
    );
    let again = ask(&world, &relay, "it's ABC-12").await;
    assert!(
        again.body.starts_with("Sorry, that doesn't look right.")
            && again.body.contains("order number"),
        "{}",
        again.body
    );
    ask(&world, &relay, "hmm 123").await;
    let gave_up = ask(&world, &relay, "I don't know it").await;
    assert!(gave_up.body.contains("connecting you to a person"), "{}", gave_up.body);
    assert_eq!(last_action(&world).await.outcome.as_str(), "gave_up");
    let conversation =
        world.store.latest_conversation(world.inbox.id, world.customer.id).await.unwrap().unwrap();
    for _ in 0..100 {
        if world.store.conversation(conversation.id).await.unwrap().unwrap().state
            == ConversationState::Queued
        {
            let packet = world.store.handoff(conversation.id).await.unwrap().unwrap();
            assert_eq!(packet.reasons, [tandem_domain::Reason::ActionGaveUp]);
            assert_eq!(
                packet.actions.last().map(|action| action.outcome.as_str()),
                Some("gave_up")
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not handed to a person");
}

#[tokio::test]
async fn not_found_rules_errors_timeouts_and_garbage_each_get_their_reply() {
    let world = world().await;
    let base = shop().await;
    let (_responder, relay) = setup(&world, order_status(&base)).await;
    let missing = ask(&world, &relay, "我的订单 20249999999 到哪了").await;
    assert_eq!(missing.body, "没有找到订单 20249999999，请核对一下。");
    assert_eq!(last_action(&world).await.outcome.as_str(), "not_found");
    let cancelled = ask(&world, &relay, "我的订单 20240000999 到哪了").await;
    assert_eq!(cancelled.body, "订单 20240000999 已取消。");
    let broken = ask(&world, &relay, "帮我查一下订单 20240000500 的物流").await;
    assert!(broken.body.contains("暂时无法访问"), "{}", broken.body);
    let record = last_action(&world).await;
    assert_eq!((record.outcome.as_str(), record.calls[0].status), ("error", Some(500)));
}

#[tokio::test]
async fn a_slow_or_garbled_answer_is_an_error_within_the_timeout() {
    let world = world().await;
    let base = shop().await;
    let (_responder, relay) = setup(&world, order_status(&base)).await;
    let started = std::time::Instant::now();
    let slow = ask(&world, &relay, "我的订单 20240000408 到哪了").await;
    assert!(slow.body.contains("暂时无法访问"), "{}", slow.body);
    assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());
    let record = last_action(&world).await;
    assert!(record.calls[0].error.as_deref().unwrap().contains("500 ms"), "{record:?}");
    // A new conversation for the garbled one (the first was handed to a person).
    let world2 = tandem_flow::testing::world().await;
    let (_responder, relay2) = setup(&world2, order_status(&base)).await;
    let garbled = ask(&world2, &relay2, "我的订单 20240000666 到哪了").await;
    assert!(garbled.body.contains("暂时无法访问"), "{}", garbled.body);
    assert_eq!(
        last_action(&world2).await.calls[0].error.as_deref(),
        Some("the answer is not JSON")
    );
}

#[tokio::test]
async fn a_customer_who_moves_on_gets_an_answer_and_the_action_is_dropped() {
    let world = world().await;
    let base = shop().await;
    let (_responder, relay) = setup(&world, order_status(&base)).await;
    ask(&world, &relay, "我的订单到哪了").await;
    let other = ask(&world, &relay, "请问怎么退货？").await;
    assert_eq!(other.body, "签收后 7 天内可无理由退货。");
    let conversation =
        world.store.latest_conversation(world.inbox.id, world.customer.id).await.unwrap().unwrap();
    assert_eq!(conversation.pending_action, None);
}

#[tokio::test]
async fn actions_that_reveal_personal_data_need_a_verified_customer() {
    let mut world = world().await;
    let base = shop().await;
    let mut action = order_status(&base);
    action.requires_verified = true;
    let (_responder, relay) = setup(&world, action).await;
    let refused = ask(&world, &relay, "我的订单 20241123001 到哪了").await;
    assert!(refused.body.contains("登录"), "{}", refused.body);
    assert_eq!(last_action(&world).await.outcome.as_str(), "login_required");
    world.customer = world
        .store
        .verified_customer(VerifiedCustomer {
            workspace_id: world.inbox.workspace_id,
            external_id: "u-1001".into(),
            name: Some("张伟".into()),
            email: None,
            locale: Some(Locale::Zh),
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let answered = ask(&world, &relay, "我的订单 20241123001 到哪了").await;
    assert!(answered.body.contains("shipped"), "{}", answered.body);
}

#[tokio::test]
async fn a_customer_who_is_not_logged_in_passes_a_one_time_check_first() {
    let world = world().await;
    let base = shop().await;
    let mut action = order_status(&base);
    action.requires_verified = true;
    action.steps[0].extract.insert("phone_last4".into(), "/phone_last4".into());
    action.identity_check = Some(tandem_domain::IdentityCheck {
        param: ActionParam {
            name: "phone_check".into(),
            kind: ParamKind::Text,
            pattern: Some(r"\d{4}".into()),
            from_profile: None,
            ask: texts(
                "为了保护隐私，请告诉我下单手机号的后四位。",
                "For your privacy: the last four digits of the phone on the order?",
            ),
        },
        field: "phone_last4".into(),
        mismatch: texts(
            "手机号后四位不匹配，无法查询该订单。",
            "Those digits don't match; I can't look up this order.",
        ),
    });
    let action = tandem_bot::actions::validate(action).unwrap();
    let (_responder, relay) = setup(&world, action).await;
    let asked = ask(&world, &relay, "我的订单 20241123001 到哪了").await;
    assert!(asked.body.contains("后四位"), "{}", asked.body);
    let wrong = ask(&world, &relay, "1234").await;
    assert_eq!(wrong.body, "手机号后四位不匹配，无法查询该订单。");
    let record = last_action(&world).await;
    assert_eq!(record.outcome.as_str(), "identity_failed");
    assert_eq!(record.params.get("phone_check").map(String::as_str), Some("****"), "{record:?}");
    ask(&world, &relay, "帮我查一下订单 20241123001").await;
    let right = ask(&world, &relay, "5678").await;
    assert!(right.body.contains("shipped"), "{}", right.body);
}

/// The workspace's model, served by the test's OpenAI-compatible stand-in.
async fn model(
    world: &World,
    script: Vec<tandem_llm::mock::Reply>,
) -> tandem_llm::mock::MockServer {
    let server = tandem_llm::mock::MockServer::start(script).await;
    let settings = server.settings();
    tandem_bot::model::save_llm_settings(world.store.as_ref(), world.inbox.workspace_id, &settings)
        .await
        .unwrap();
    server
}

async fn last_decision(world: &World) -> tandem_domain::DecisionRecord {
    let conversation =
        world.store.latest_conversation(world.inbox.id, world.customer.id).await.unwrap().unwrap();
    world.store.decisions(conversation.id).await.unwrap().pop().unwrap().1
}

#[tokio::test]
async fn the_model_may_choose_an_action_the_triggers_missed_under_the_same_rules() {
    use tandem_llm::mock::Reply;
    let world = world().await;
    let base = shop().await;
    let (_responder, relay) = setup(&world, order_status(&base)).await;
    let server = model(
        &world,
        vec![
            Reply::ToolCall {
                name: "order-status",
                arguments: r#"{"order_number": "20241123001"}"#,
            },
            // A number the customer never wrote is not used: the bot asks instead.
            Reply::ToolCall {
                name: "order-status",
                arguments: r#"{"order_number": "20249999999"}"#,
            },
            Reply::Text("NO_ANSWER"),
        ],
    )
    .await;

    let found = ask(&world, &relay, "快递三天没动静了，编号 20241123001").await;
    assert_eq!(found.body, "订单 20241123001 状态：shipped，承运商 顺丰。");
    let record = last_decision(&world).await;
    assert_eq!(record.outcome.as_str(), "action");
    let llm = record.llm.unwrap();
    assert_eq!((llm.outcome.as_str(), llm.tool.as_deref()), ("used", Some("order-status")));
    assert_eq!(record.action.unwrap().outcome.as_str(), "done");
    let request = &server.bodies()[0];
    assert_eq!(request["tools"][0]["function"]["name"], "order-status");
    assert_eq!(
        request["tools"][0]["function"]["parameters"]["properties"]["order_number"]["type"],
        "string"
    );

    let asked = ask(&world, &relay, "快递员一直不来，急死了").await;
    assert_eq!(asked.body, "请提供您的订单号（11 位数字）。");
    let answered = ask(&world, &relay, "20241123001").await;
    assert!(answered.body.contains("shipped"), "{}", answered.body);

    // Nothing fits: the engine's abstention stands, and the record says the model declined.
    let declined = ask(&world, &relay, "你们老板是谁").await;
    assert!(declined.body.contains("人工"), "{}", declined.body);
    let record = last_decision(&world).await;
    assert_eq!(
        (record.outcome.as_str(), record.llm.unwrap().outcome.as_str()),
        ("abstain", "refused")
    );
    assert_eq!(server.request_count(), 3, "the slot-filled turn did not ask the model");
}

#[test]
fn only_valid_arguments_the_customer_wrote_are_kept() {
    use tandem_bot::actions::chosen_values;
    use tandem_llm::ToolCall;
    use tandem_llm::tools::chosen;
    let action = order_status("http://shop.test");
    let call = |arguments: &str| ToolCall {
        id: "c1".into(),
        name: "order-status".into(),
        arguments: arguments.into(),
    };
    let said = ["包裹三天没动静了，单号 2024 1124 003"];
    let kept = chosen_values(&action, &call(r#"{"order_number":"20241124003"}"#), &said);
    assert_eq!(kept.get("order_number").map(String::as_str), Some("20241124003"));
    // Invented, invalid, unknown, or not JSON: dropped.
    for arguments in [
        r#"{"order_number":"20249999999"}"#,
        r#"{"order_number":"123"}"#,
        r#"{"coupon":"20241124003"}"#,
        "not json",
    ] {
        assert!(chosen_values(&action, &call(arguments), &said).is_empty(), "{arguments}");
    }
    assert!(chosen(&call("{}"), std::slice::from_ref(&action)).is_some());
    assert!(chosen(&ToolCall { name: "refund".into(), ..call("{}") }, &[action]).is_none());
}

/// A supervisor's action cannot send a secret anywhere but the hosts an administrator bound
/// it to, cannot reach a metadata address, and a secret echoed back never reaches the reply.
#[tokio::test]
async fn a_secret_goes_only_to_its_hosts_and_never_into_a_reply() {
    let world = world().await;
    let base = shop().await;

    // The same shop under another name: not a host the key is bound to.
    let elsewhere = base.replace("127.0.0.1", "localhost");
    let (_responder, relay) = setup(&world, order_status(&elsewhere)).await;
    let refused = ask(&world, &relay, "我的订单 20241123001 到哪了").await;
    assert!(refused.body.contains("暂时无法访问"), "{}", refused.body);
    let record = last_action(&world).await;
    let error = record.calls[0].error.clone().unwrap_or_default();
    assert!(error.contains("{env.SHOP_KEY} may not be sent to localhost"), "{error}");
    assert_eq!(record.calls[0].status, None, "no request was made");

    // A cloud metadata address is refused before any secret question arises.
    let world = tandem_flow::testing::world().await;
    let mut metadata = order_status(&base);
    metadata.steps[0].url = "http://169.254.169.254/latest/meta-data/{order_number}".into();
    let (_responder, relay) = setup(&world, metadata).await;
    ask(&world, &relay, "我的订单 20241123001 到哪了").await;
    let error = last_action(&world).await.calls[0].error.clone().unwrap_or_default();
    assert!(error.contains("169.254.169.254 is a link-local or metadata address"), "{error}");

    // The bound host answers with the key in a field the reply shows: masked.
    let world = tandem_flow::testing::world().await;
    let (_responder, relay) = setup(&world, order_status(&base)).await;
    let echoed = ask(&world, &relay, "我的订单 20240000777 到哪了").await;
    assert!(!echoed.body.contains("shop-secret"), "{}", echoed.body);
    assert!(echoed.body.contains("Bearer ***"), "{}", echoed.body);
}
