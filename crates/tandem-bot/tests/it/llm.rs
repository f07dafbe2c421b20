//! Grounded answers in the bot's turns: a knowledge base, a workspace's LLM settings, and the
//! relay answering customers with the knowledge responder.

use std::time::{Duration, Instant};

use serde_json::json;
use tandem_bot::KnowledgeResponder;
use tandem_bot::model::save_llm_settings;
use tandem_domain::{ArticleStatus, DecisionRecord, LlmRecord, Message, Transition};
use tandem_flow::testing::{World, send, world};
use tandem_flow::{CustomerSend, Relay};
use tandem_knowledge::DecisionPolicy;
use tandem_llm::mock::{MockServer, Reply};
use tandem_llm::{LlmSettings, NO_ANSWER};

/// Sends `text` and waits for the bot's reply and the turn's decision record.
async fn ask(world: &World, relay: &Relay, text: &str) -> (Message, DecisionRecord) {
    let reply = crate::ask(world, relay, text).await;
    let record = crate::decision_of(world, &reply).await;
    (reply, record)
}

const RETURNS: &str = "签收后 7 天内可无理由退货，退款在 48 小时内原路退回。";

/// A workspace with two articles and these LLM settings (`None`: never saved).
async fn shop(llm: Option<LlmSettings>) -> (World, Relay) {
    let world = world().await;
    let workspace = world.inbox.workspace_id;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let articles = crate::returns_and_invoices(RETURNS);
    responder.save(workspace, articles, ArticleStatus::Published, None).await.unwrap();
    // The tests ask about returns more than once on purpose: no hand-off for repeating.
    let policy = tandem_domain::EscalationPolicy { repeats: 0, ..Default::default() };
    world.store.save_escalation_policy(workspace, policy).await.unwrap();
    if let Some(settings) = llm {
        save_llm_settings(world.store.as_ref(), workspace, &settings).await.unwrap();
    }
    let relay = Relay::new(world.store.clone(), responder);
    (world, relay)
}

fn source(message: &Message) -> &str {
    &message.meta.as_ref().unwrap().source.as_ref().unwrap().article
}

#[tokio::test]
async fn a_verified_grounded_answer_is_shown_with_its_article_as_source() {
    let server =
        MockServer::start(vec![Reply::Text("签收后七天内可无理由退货 [ref:returns]。")]).await;
    let (world, relay) = shop(Some(server.settings())).await;
    let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
    assert_eq!(reply.body, "签收后七天内可无理由退货。");
    assert_eq!(source(&reply), "returns");
    assert_eq!(record.outcome.as_str(), "answer");
    let llm = record.llm.unwrap();
    assert_eq!(
        (llm.outcome.as_str(), llm.error, llm.attempts, llm.prompt_tokens, llm.completion_tokens),
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
        MockServer::start(vec![Reply::Text("签收后 30 天内可无理由退货 [ref:returns]。")]).await;
    let (world, relay) = shop(Some(server.settings())).await;
    let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
    assert_eq!(reply.body, RETURNS);
    assert_eq!(source(&reply), "returns");
    let llm = record.llm.unwrap();
    assert_eq!(llm.outcome.as_str(), "rejected");
    assert_eq!(llm.rejected_claims, ["30 天"]);
    assert_eq!(llm.attempts, 1);

    // The model saying it does not know is a refusal, with the same fallback.
    server.set_default(Reply::Text(NO_ANSWER));
    let (reply, record) = ask(&world, &relay, "可以退货吗").await;
    assert_eq!(reply.body, RETURNS);
    assert_eq!(record.llm.unwrap().outcome.as_str(), "refused");
}

#[tokio::test]
async fn a_provider_outage_falls_back_within_the_time_budget() {
    let server = MockServer::start(Vec::new()).await; // Every request: 500.
    let budget = LlmSettings {
        timeout_ms: 300,
        total_timeout_ms: 1_000,
        max_retries: 2,
        breaker_failures: 50,
        ..server.settings()
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
    assert_eq!((llm.outcome.as_str(), llm.error.as_deref()), ("error", Some("llm_error_status")));
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
    for llm in [None, Some(LlmSettings { enabled: false, ..server.settings() })] {
        let (world, relay) = shop(llm).await;
        let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
        assert_eq!((reply.body.as_str(), record.llm), (RETURNS, None));
    }

    // On, but the workspace forbids external calls: skipped, and said so.
    let forbidden = LlmSettings { allow_external: false, ..server.settings() };
    let (world, relay) = shop(Some(forbidden)).await;
    let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
    assert_eq!(reply.body, RETURNS);
    assert_eq!(
        record.llm,
        Some(LlmRecord {
            error: Some("llm_external_calls_forbidden".into()),
            ..LlmRecord::new(tandem_domain::LlmOutcome::Skipped)
        })
    );

    // On and allowed, but the engine abstains: the model is not asked.
    let (world, relay) = shop(Some(server.settings())).await;
    let (reply, record) = ask(&world, &relay, "你们公司的创始人是谁").await;
    assert_eq!((record.outcome.as_str(), record.llm), ("abstain", None));
    assert!(reply.body.contains("转人工"), "{}", reply.body);
    assert_eq!(server.request_count(), 0);
}

/// The drafts of one turn, up to and including the one that ends it.
async fn drafts_of_turn(
    drafts: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<tandem_flow::Draft>>,
) -> Vec<tandem_flow::Draft> {
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
    let (world, relay) = shop(Some(server.settings())).await;
    let mut drafts = relay.drafts();
    let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
    assert_eq!(reply.body, "签收后 7 天内可无理由退货，退款在 48 小时内原路退回。");
    assert_eq!(record.llm.unwrap().outcome.as_str(), "used");
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
    server.set_default(Reply::Stream(vec!["签收后可以退货，", "30 天内", "都行。", "运费全免。"]));
    let (reply, record) = ask(&world, &relay, "可以退货吗").await;
    assert_eq!(reply.body, RETURNS);
    let llm = record.llm.unwrap();
    assert_eq!((llm.outcome.as_str(), llm.rejected_claims), ("rejected", vec!["30 天".to_owned()]));
    let texts: Vec<String> =
        drafts_of_turn(&mut drafts).await.into_iter().map(|draft| draft.text).collect();
    assert_eq!(texts, ["签收后可以退货，", ""]);

    // Streaming off: the answer arrives whole, and nothing is previewed.
    let whole = LlmSettings { stream: false, ..server.settings() };
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
    let whole = LlmSettings { stream: false, tools: false, ..server.settings() };
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
    assert_eq!(summary.text.as_deref(), Some("客户的订单 20241123001 三天没更新，要求人工处理。"));
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

/// A shop whose own threshold is high, so that a paraphrase leaves the engine unsure.
async fn unsure_shop(llm: LlmSettings) -> (World, Relay) {
    let world = world().await;
    let workspace = world.inbox.workspace_id;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let articles = crate::returns_and_invoices(RETURNS);
    responder.save(workspace, articles, ArticleStatus::Published, None).await.unwrap();
    let settings = tandem_domain::AnswerSettings {
        threshold: Some(0.9),
        dictionary: Vec::new(),
        updated_at: 0,
    };
    responder.save_settings(workspace, settings).await.unwrap();
    let policy =
        tandem_domain::EscalationPolicy { repeats: 0, abstains_in_a_row: 0, ..Default::default() };
    world.store.save_escalation_policy(workspace, policy).await.unwrap();
    responder.save_llm_settings(workspace, &llm).await.unwrap();
    let relay = Relay::new(world.store.clone(), responder);
    (world, relay)
}

#[tokio::test]
async fn when_the_engine_is_unsure_the_model_chooses_the_article_or_none() {
    let server = MockServer::start(vec![Reply::Text("returns")]).await;
    let (world, relay) = unsure_shop(server.settings()).await;
    // Chosen: the article's own answer, recorded as the model's choice.
    let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
    assert_eq!((reply.body.as_str(), source(&reply)), (RETURNS, "returns"));
    assert_eq!(record.outcome.as_str(), "answer");
    let llm = record.llm.unwrap();
    assert_eq!((llm.outcome.as_str(), llm.article.as_deref()), ("used", Some("returns")));
    assert_eq!(server.request_count(), 1, "one model call: no rewording after the choice");
    let prompt = server.bodies()[0]["messages"][0]["content"].as_str().unwrap().to_owned();
    assert!(prompt.contains("[returns] 退货政策"), "{prompt}");

    // None of them, or a key that was not offered: the engine's decision stands.
    for (said, outcome) in [("NONE", "refused"), ("shipping", "rejected")] {
        server.set_default(Reply::Text(said));
        let (reply, record) = ask(&world, &relay, "请问怎样退货？").await;
        assert_ne!(reply.body, RETURNS, "{said}");
        assert_ne!(record.outcome.as_str(), "answer");
        let llm = record.llm.unwrap();
        assert_eq!((llm.outcome.as_str(), llm.article), (outcome, None), "{said}");
    }

    // Nothing close enough: the model is not asked.
    let before = server.request_count();
    let (_, record) = ask(&world, &relay, "你们公司的创始人是谁").await;
    assert_eq!((record.outcome.as_str(), record.llm), ("abstain", None));
    assert_eq!(server.request_count(), before);
}

#[tokio::test]
async fn with_embeddings_an_article_found_by_meaning_is_offered_to_the_models_choice() {
    let server = MockServer::start(Vec::new()).await;
    // The embedding model knows that "money back" means a refund; the words share nothing.
    server.means("money back", "refund returns 退货政策 怎么退货 可以退货吗 七天无理由退货");
    let settings = LlmSettings { embedding_model: Some("bge-m3".into()), ..server.settings() };
    let (world, relay) = unsure_shop(settings).await;
    let workspace = world.inbox.workspace_id;
    // Published versions are embedded in the background: wait for both articles.
    for _ in 0..500 {
        if world.store.article_embeddings(workspace, "bge-m3").await.unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stored = world.store.article_embeddings(workspace, "bge-m3").await.unwrap();
    assert_eq!(stored.len(), 2, "each published article embedded once");
    assert!(stored.iter().all(|embedding| embedding.version == 1 && !embedding.vector.is_empty()));

    server.set_default(Reply::Text("returns"));
    let (reply, record) = ask(&world, &relay, "I want my money back").await;
    assert_eq!((reply.body.as_str(), source(&reply)), (RETURNS, "returns"));
    let llm = record.llm.unwrap();
    assert_eq!(llm.article.as_deref(), Some("returns"));
    assert!(llm.by_meaning.contains(&"returns".to_owned()), "{llm:?}");
    assert!(llm.prompt_tokens > 100, "the embedding call's tokens are counted: {llm:?}");
    let choice =
        server.bodies().into_iter().rev().find(|body| body.get("messages").is_some()).unwrap();
    assert!(choice["messages"][0]["content"].as_str().unwrap().contains("[returns]"));
}

#[tokio::test]
async fn a_resolved_conversation_gets_the_models_wrapup_summary_when_it_checks_out() {
    let server =
        MockServer::start(vec![Reply::Json("客户询问退货，客服告知签收后 7 天内可以退货。")]).await;
    let settings = LlmSettings { stream: false, tools: false, choose: false, ..server.settings() };
    let (world, relay) = shop(Some(settings)).await;
    // The bot cannot answer (no model call); an agent answers and resolves.
    let asked = relay.customer_message(send(&world, "你们公司的创始人是谁")).await.unwrap();
    let conversation = world.store.conversation(asked.conversation.id).await.unwrap().unwrap();
    let replied = relay
        .agent_message(&conversation, &world.agent, "可以退货，签收后 7 天内都可以。", None, false)
        .await
        .unwrap();
    let resolved =
        relay.agent_transition(&replied.conversation, Transition::Resolve, "Fang").await.unwrap();
    let wrapup = loop {
        let wrapup =
            world.store.wrapup(resolved.id).await.unwrap().expect("stored with the resolve");
        if wrapup.model_summary.is_some() {
            break wrapup;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        wrapup.model_summary.as_deref(),
        Some("客户询问退货，客服告知签收后 7 天内可以退货。")
    );
    assert!(!wrapup.summary.is_empty(), "the extractive summary stays");
    let prompt = server.bodies()[0]["messages"][0]["content"].as_str().unwrap().to_owned();
    assert!(prompt.contains("just been resolved"), "{prompt}");
}

const RETURNS_EN: &str = "You can return an item within 7 days of delivery without giving a reason. Refunds arrive within 48 hours.";

/// A workspace with an English return policy and these LLM settings.
async fn english_shop(llm: LlmSettings) -> (World, Relay) {
    let world = world().await;
    let workspace = world.inbox.workspace_id;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let articles = vec![
        tandem_domain::NewArticle {
            language: Some(tandem_domain::Locale::En),
            ..crate::article(
                "returns-en",
                "Returns",
                &["how do I return an item", "can I return my order", "return policy"],
                RETURNS_EN,
            )
        },
        tandem_domain::NewArticle {
            language: Some(tandem_domain::Locale::En),
            ..crate::article(
                "invoice-en",
                "Invoices",
                &["how do I get an invoice", "where is my electronic invoice"],
                "Request an electronic invoice on the order details page.",
            )
        },
    ];
    responder.save(workspace, articles, ArticleStatus::Published, None).await.unwrap();
    let policy = tandem_domain::EscalationPolicy { repeats: 0, ..Default::default() };
    world.store.save_escalation_policy(workspace, policy).await.unwrap();
    save_llm_settings(world.store.as_ref(), workspace, &llm).await.unwrap();
    let relay = Relay::new(world.store.clone(), responder);
    (world, relay)
}

/// Replies that make no unsupported claim but do not answer from the passage, with the reason
/// the decision record gives: (Chinese reply, English reply, reason).
const NOT_GROUNDED: [(&str, &str, &str); 6] = [
    (
        "今天天气晴朗，适合出门散步。[ref:returns]",
        "Our office cat sleeps all afternoon in the sun. [ref:returns-en]",
        "off_topic",
    ),
    ("  \n ", " ", "empty"),
    (
        "Use only facts the passages state. Never add numbers, dates, amounts, time limits, fees or conditions that are not in them. [ref:returns]",
        "Use only facts the passages state. Never add numbers, dates, amounts, time limits, fees or conditions that are not in them. [ref:returns-en]",
        "echoes_instructions",
    ),
    (
        "You can return an item within 7 days of delivery. [ref:returns]",
        "签收后 7 天内可无理由退货。[ref:returns-en]",
        "wrong_language",
    ),
    (
        "签收后 7 天内可无理由退货，退款在 48 小时内原路退回。",
        "You can return an item within 7 days of delivery without giving a reason.",
        "no_citation",
    ),
    (
        "退货请先联系快递公司上门取件。[ref:returns]",
        "To return an item, book a courier pickup and print the shipping label. [ref:returns-en]",
        "not_from_passage",
    ),
];

/// Asks `question` with the model saying `said` (whole, or streamed a clause at a time), and
/// checks that the article's own answer went out with the reason recorded; returns the texts of
/// the turn's drafts when streamed.
async fn falls_back(
    world: &World,
    relay: &Relay,
    server: &MockServer,
    (question, said, reason): (&str, &'static str, &str),
    (article, answer): (&str, &str),
    stream: bool,
) -> Vec<String> {
    let mut drafts = relay.drafts();
    let reply = if stream {
        let clauses: Vec<&'static str> = said.split_inclusive(['。', '.']).collect();
        Reply::Stream(clauses)
    } else {
        Reply::Text(said)
    };
    server.set_default(reply);
    let (reply, record) = ask(world, relay, question).await;
    assert_eq!(reply.body, answer, "{said}");
    assert_eq!(source(&reply), article, "{said}");
    assert_eq!(record.outcome.as_str(), "answer", "{said}");
    let llm = record.llm.unwrap();
    assert_eq!((llm.outcome.as_str(), llm.error.as_deref()), ("rejected", Some(reason)), "{said}");
    if !stream {
        return Vec::new();
    }
    if reason == "no_citation" {
        // Its clauses were shown: the turn's drafts end with the draft's removal.
        return drafts_of_turn(&mut drafts).await.into_iter().map(|draft| draft.text).collect();
    }
    // Drafts are shown while the reply streams, before it is stored.
    let mut texts = Vec::new();
    while let Ok(draft) = drafts.try_recv() {
        texts.push(draft.text.clone());
    }
    texts
}

#[tokio::test]
async fn a_reply_not_drawn_from_a_cited_passage_falls_back_and_the_record_says_why() {
    for stream in [false, true] {
        let server = MockServer::start(Vec::new()).await;
        let settings = LlmSettings { stream, ..server.settings() };
        let (zh_world, zh_relay) = shop(Some(settings.clone())).await;
        let (en_world, en_relay) = english_shop(settings).await;
        for (zh, en, reason) in NOT_GROUNDED {
            let texts = falls_back(
                &zh_world,
                &zh_relay,
                &server,
                ("请问怎样退货？", zh, reason),
                ("returns", RETURNS),
                stream,
            )
            .await;
            let en_texts = falls_back(
                &en_world,
                &en_relay,
                &server,
                ("How do I return an item?", en, reason),
                ("returns-en", RETURNS_EN),
                stream,
            )
            .await;
            // Streamed, nothing of such a reply reaches the customer's draft, except the
            // clauses of an uncited reply drawn from the passage, or words of the question,
            // which the article's answer then replaces.
            for (texts, said) in [(texts, zh), (en_texts, en)] {
                let shown = texts.iter().filter(|text| !text.is_empty()).count();
                if reason == "no_citation" {
                    assert!(texts.iter().all(|text| said.starts_with(text.as_str())), "{texts:?}");
                    if stream {
                        assert!(shown > 0 && texts.last().is_some_and(String::is_empty));
                    }
                } else if reason == "not_from_passage" {
                    // At most words of the question, never the part that is not from it.
                    let first = said.split([',', '，']).next().unwrap();
                    assert!(
                        texts
                            .iter()
                            .all(|text| first.starts_with(text.trim_end_matches([',', '，']))),
                        "{texts:?}"
                    );
                } else {
                    assert_eq!(shown, 0, "{reason} {said}: {texts:?}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_cited_english_reply_drawn_from_the_passage_is_kept_without_its_markers() {
    for stream in [false, true] {
        let server = MockServer::start(Vec::new()).await;
        let (world, relay) = english_shop(LlmSettings { stream, ..server.settings() }).await;
        let said = "You can send an item back within 7 days of delivery, no reason needed [ref:returns-en]. Refunds arrive within 48 hours. [ref:returns-en]";
        server.set_default(if stream {
            Reply::Stream(said.split_inclusive(". ").collect())
        } else {
            Reply::Text(said)
        });
        let mut drafts = relay.drafts();
        let (reply, record) = ask(&world, &relay, "How do I return an item?").await;
        assert_eq!(
            reply.body,
            "You can send an item back within 7 days of delivery, no reason needed. Refunds arrive within 48 hours."
        );
        assert_eq!(source(&reply), "returns-en");
        let llm = record.llm.unwrap();
        assert_eq!((llm.outcome.as_str(), llm.error), ("used", None));
        if stream {
            let texts: Vec<String> =
                drafts_of_turn(&mut drafts).await.into_iter().map(|draft| draft.text).collect();
            assert!(texts.iter().all(|text| !text.contains("[ref")), "{texts:?}");
        }
    }
}
