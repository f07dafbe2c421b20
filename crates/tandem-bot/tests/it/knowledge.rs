//! Answers from published knowledge through the relay: sources, abstentions, changes made
//! answerable at once, effective windows, channels and answer settings.

use std::sync::Arc;

use tandem_bot::KnowledgeResponder;
use tandem_domain::ArticleStatus;
use tandem_domain::Channel;
use tandem_domain::{ConversationState, Locale, NewArticle};
use tandem_flow::Relay;
use tandem_flow::testing::{World, wait_until_queued, world};
use tandem_knowledge::DecisionPolicy;
use tandem_store::{SqliteConfig, SqliteStore, Store};

use crate::{article, ask, decision_of};

#[tokio::test]
async fn published_knowledge_answers_with_its_source_and_abstains_otherwise() {
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    responder
        .save(
            world.inbox.workspace_id,
            vec![
                article(
                    "returns",
                    "退货政策",
                    &["怎么退货", "可以退货吗", "七天无理由退货"],
                    "签收后 7 天内可无理由退货。",
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
    let answer = ask(&world, &relay, "请问怎样退货？").await;
    assert_eq!(answer.body, "签收后 7 天内可无理由退货。");
    let source = answer.meta.and_then(|meta| meta.source).unwrap();
    assert_eq!(
        (source.article.as_str(), source.title.as_str(), source.version),
        ("returns", "退货政策", 1)
    );

    let unknown = ask(&world, &relay, "你们公司的创始人是谁").await;
    assert!(unknown.body.contains("转人工"), "{}", unknown.body);
    assert!(unknown.meta.is_none());

    // Archiving takes effect at once: the article is no longer answered from.
    responder
        .set_status(world.inbox.workspace_id, "returns", ArticleStatus::Archived, None)
        .await
        .unwrap();
    let after = ask(&world, &relay, "请问怎样退货？").await;
    assert_ne!(after.body, "签收后 7 天内可无理由退货。");
}

#[tokio::test]
async fn an_expired_policy_is_never_served_and_a_scheduled_one_starts_on_time() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let world = world().await;
    // The responder tells the time by a clock the test moves.
    let now = tandem_store::now_millis();
    let time = Arc::new(AtomicI64::new(now));
    let clock = Arc::clone(&time);
    let responder = KnowledgeResponder::start_with_clock(
        world.store.clone(),
        DecisionPolicy::default(),
        Arc::new(move || clock.load(Ordering::SeqCst)),
    );
    let relay = Relay::new(world.store.clone(), responder.clone());
    // The test asks the same questions again on purpose: no hand-off for repeating.
    let policy = tandem_domain::EscalationPolicy { repeats: 0, ..Default::default() };
    world.store.save_escalation_policy(world.inbox.workspace_id, policy).await.unwrap();
    let hour = 3_600_000;
    let mut holiday = article(
        "holiday-returns",
        "春节退货政策",
        &["春节期间怎么退货", "春节退货"],
        "春节期间退货期延长至 30 天。",
    );
    holiday.expires_at = Some(now + hour);
    let mut normal =
        article("returns", "退货政策", &["怎么退货", "退货流程"], "签收后 7 天内可无理由退货。");
    normal.effective_from = Some(now + hour);
    responder
        .save(world.inbox.workspace_id, vec![holiday, normal], ArticleStatus::Published, None)
        .await
        .unwrap();
    let during = ask(&world, &relay, "春节期间怎么退货").await;
    assert_eq!(during.body, "春节期间退货期延长至 30 天。");
    assert_ne!(ask(&world, &relay, "怎么退货").await.body, "签收后 7 天内可无理由退货。");
    // One millisecond before the switch nothing changes; at the switch both change.
    time.store(now + hour - 1, Ordering::SeqCst);
    assert_eq!(ask(&world, &relay, "春节期间怎么退货").await.body, "春节期间退货期延长至 30 天。");
    time.store(now + hour, Ordering::SeqCst);
    let after = ask(&world, &relay, "春节期间怎么退货").await;
    assert_ne!(after.body, "春节期间退货期延长至 30 天。", "the expired policy is not served");
    let normal = ask(&world, &relay, "怎么退货").await;
    assert_eq!(normal.body, "签收后 7 天内可无理由退货。", "the scheduled policy started");
}

#[tokio::test]
async fn close_candidates_are_offered_as_quick_replies() {
    let world = world().await;
    let responder = KnowledgeResponder::start(
        world.store.clone(),
        DecisionPolicy { threshold: 0.05, clarify_margin: 0.5 },
    );
    let relay = Relay::new(world.store.clone(), responder.clone());
    responder
        .save(
            world.inbox.workspace_id,
            vec![
                article("points-use", "会员积分使用", &["积分怎么用"], "积分可抵现。"),
                article("points-expiry", "会员积分过期", &["积分会过期吗"], "积分在次年年底过期。"),
            ],
            ArticleStatus::Published,
            None,
        )
        .await
        .unwrap();
    let reply = ask(&world, &relay, "积分").await;
    let quick_replies = reply.meta.unwrap().quick_replies;
    assert_eq!(quick_replies.len(), 2);
    assert!(
        quick_replies.contains(&"会员积分使用".to_owned())
            && quick_replies.contains(&"会员积分过期".to_owned())
    );
}

async fn returns_kb(world: &World, responder: &Arc<KnowledgeResponder>, with_electronics: bool) {
    let mut articles = vec![article(
        "returns",
        "退货政策",
        &["怎么退货", "可以退货吗", "退货流程"],
        "签收后 7 天内可无理由退货。",
    )];
    if with_electronics {
        articles.push(article(
            "returns-electronics",
            "电子产品退货",
            &["电子产品怎么退货", "手机可以退货吗", "电子产品退货流程"],
            "电子产品签收后 15 天内可退货，需保持未激活。",
        ));
    }
    responder
        .save(world.inbox.workspace_id, articles, ArticleStatus::Published, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_short_follow_up_is_read_with_the_previous_question() {
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    returns_kb(&world, &responder, true).await;
    assert_eq!(ask(&world, &relay, "怎么退货").await.body, "签收后 7 天内可无理由退货。");
    let follow_up = ask(&world, &relay, "那电子产品呢？").await;
    assert_eq!(follow_up.body, "电子产品签收后 15 天内可退货，需保持未激活。");
    let conversation = follow_up.conversation_id;
    let decisions = world.store.decisions(conversation).await.unwrap();
    assert_eq!(
        decisions.last().unwrap().1.query,
        "怎么退货 那电子产品呢？",
        "the follow-up was read in context"
    );
}

#[tokio::test]
async fn that_did_not_help_offers_the_alternatives_then_a_person() {
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    returns_kb(&world, &responder, true).await;
    ask(&world, &relay, "怎么退货").await;
    let next = ask(&world, &relay, "没用").await;
    assert_eq!(next.meta.unwrap().quick_replies, ["电子产品退货"]);

    let other = tandem_flow::testing::world().await;
    let responder = KnowledgeResponder::start(other.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(other.store.clone(), responder.clone());
    returns_kb(&other, &responder, false).await;
    let answered = ask(&other, &relay, "怎么退货").await;
    let handed = ask(&other, &relay, "这个回答没用").await;
    assert!(handed.body.contains("转接人工"), "{}", handed.body);
    wait_until_queued(&other.store, answered.conversation_id).await;
}

#[tokio::test]
async fn knowledge_written_by_another_process_is_picked_up() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let world = world().await;
    // The responder tells the time by a clock the test moves.
    let time = Arc::new(AtomicI64::new(tandem_store::now_millis()));
    let clock = Arc::clone(&time);
    let responder = KnowledgeResponder::start_with_clock(
        world.store.clone(),
        DecisionPolicy::default(),
        Arc::new(move || clock.load(Ordering::SeqCst)),
    );
    let relay = Relay::new(world.store.clone(), responder.clone());
    returns_kb(&world, &responder, false).await;
    assert_eq!(ask(&world, &relay, "怎么退货").await.body, "签收后 7 天内可无理由退货。");
    // Another process (say `tandem kb import`) writes to the same database file.
    let other = SqliteStore::open(&SqliteConfig::new(world.database_path())).unwrap();
    other
        .save_articles(
            world.inbox.workspace_id,
            vec![article(
                "invoice",
                "开发票",
                &["怎么开发票", "电子发票在哪下载"],
                "在订单详情页申请电子发票。",
            )],
            ArticleStatus::Published,
            None,
        )
        .await
        .unwrap();
    other.close();
    // Turns compare the store's knowledge stamp every two seconds (`STAMP_CHECK_MS`): the
    // next turn after that looks, and answers from what the other process wrote.
    time.fetch_add(2_000, Ordering::SeqCst);
    assert_eq!(ask(&world, &relay, "怎么开发票").await.body, "在订单详情页申请电子发票。");
}

#[tokio::test]
async fn workspace_settings_and_channels_shape_the_answers() {
    use tandem_domain::AnswerSettings;
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    let mut email_only = article(
        "reply-by-mail",
        "邮件回复时效",
        &["多久回复邮件", "邮件什么时候回"],
        "我们在 24 小时内回复邮件。",
    );
    email_only.channels = vec![Channel::Email];
    responder
        .save(
            world.inbox.workspace_id,
            vec![
                email_only,
                article("returns", "退货政策", &["怎么退货", "退货流程"], "7 天内可退货。"),
            ],
            ArticleStatus::Published,
            None,
        )
        .await
        .unwrap();
    // An article for e-mail only is never answered in web chat, however well it matches.
    let web = ask(&world, &relay, "多久回复邮件").await;
    assert_ne!(web.body, "我们在 24 小时内回复邮件。");
    let (decision, articles) = responder
        .explain(world.inbox.workspace_id, "多久回复邮件", Some(Channel::Email))
        .await
        .unwrap();
    assert_eq!(decision.answer().map(|_| articles[0].key.as_str()), Some("reply-by-mail"));

    // The workspace's own threshold applies at once; the default comes back when cleared.
    let paraphrase = "我想把东西退掉";
    let (before, _) = responder.explain(world.inbox.workspace_id, paraphrase, None).await.unwrap();
    assert_eq!(before.threshold, DecisionPolicy::default().threshold);
    let strict = AnswerSettings { threshold: Some(0.95), ..AnswerSettings::default() };
    responder.save_settings(world.inbox.workspace_id, strict).await.unwrap();
    let (after, _) = responder.explain(world.inbox.workspace_id, paraphrase, None).await.unwrap();
    assert_eq!((after.threshold, after.outcome), (0.95, tandem_knowledge::Outcome::Abstain));
    let strict_reply = ask(&world, &relay, paraphrase).await;
    assert_ne!(strict_reply.body, "7 天内可退货。");
    let record = world.store.decisions(strict_reply.conversation_id).await.unwrap();
    assert!(record.iter().any(|(_, record)| record.threshold == 0.95), "{record:?}");
    responder.save_settings(world.inbox.workspace_id, AnswerSettings::default()).await.unwrap();
    let (cleared, _) = responder.explain(world.inbox.workspace_id, paraphrase, None).await.unwrap();
    assert_eq!(cleared.threshold, DecisionPolicy::default().threshold);
}

#[tokio::test]
async fn dictionary_words_take_effect_when_saved() {
    use tandem_domain::AnswerSettings;
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    responder
        .save(
            world.inbox.workspace_id,
            vec![
                article("speaker", "天猫精灵连不上网", &["天猫精灵没反应"], "长按音量键配网。"),
                article("cat", "猫粮精选推荐", &["精灵猫粮怎么样"], "推荐鱼肉口味。"),
            ],
            ArticleStatus::Published,
            None,
        )
        .await
        .unwrap();
    let retrieval = |decision: &tandem_knowledge::Decision, articles: &[tandem_domain::Article]| {
        decision
            .candidates
            .iter()
            .zip(articles)
            .find(|(_, article)| article.key == "cat")
            .map_or(0.0, |(candidate, _)| candidate.retrieval)
    };
    let (plain, plain_articles) =
        responder.explain(world.inbox.workspace_id, "精灵连不上", None).await.unwrap();
    let words = AnswerSettings { dictionary: vec!["天猫精灵".into()], ..Default::default() };
    responder.save_settings(world.inbox.workspace_id, words).await.unwrap();
    assert!(responder.is_settled(world.inbox.workspace_id), "a full rebuild, not a delta");
    let (with_words, with_articles) =
        responder.explain(world.inbox.workspace_id, "精灵连不上", None).await.unwrap();
    assert_ne!(retrieval(&plain, &plain_articles), retrieval(&with_words, &with_articles));
}

/// The service's own articles: when people work, shipping and returns.
async fn service_kb(world: &World, responder: &Arc<KnowledgeResponder>) {
    let english = |key: &str, title: &str, questions: &[&str], answer: &str| NewArticle {
        language: Some(Locale::En),
        ..article(key, title, questions, answer)
    };
    let articles = vec![
        article(
            "service-hours",
            "人工客服服务时间",
            &["人工客服几点上班", "人工服务时间", "客服工作时间是几点到几点"],
            "人工客服每天 9:00-21:00 在线。",
        ),
        article(
            "shipping",
            "运费说明",
            &["运费怎么算", "要付运费吗", "包邮吗"],
            "订单满 99 元包邮，否则运费 8 元。",
        ),
        article(
            "returns",
            "退货政策",
            &["怎么退货", "退货怎么办", "退货流程"],
            "签收后 7 天内可无理由退货。",
        ),
        english(
            "shipping-en",
            "Shipping costs",
            &["how much is shipping", "what does delivery cost", "shipping fee"],
            "Shipping is free on orders over $50.",
        ),
        english(
            "returns-en",
            "Returns",
            &["how do returns work", "can I return an item", "return policy"],
            "You can return any item within 30 days.",
        ),
    ];
    responder
        .save(world.inbox.workspace_id, articles, ArticleStatus::Published, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_question_about_the_human_service_is_answered_and_a_request_hands_off() {
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    service_kb(&world, &responder).await;
    let hours = ask(&world, &relay, "人工客服几点上班？").await;
    assert_eq!(hours.body, "人工客服每天 9:00-21:00 在线。");
    let conversation = world.store.conversation(hours.conversation_id).await.unwrap().unwrap();
    assert_eq!(conversation.state, ConversationState::Bot, "not handed off");

    let request = ask(&world, &relay, "转人工").await;
    wait_until_queued(&world.store, request.conversation_id).await;
}

#[tokio::test]
async fn a_correction_is_answered_as_the_question_it_means() {
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    service_kb(&world, &responder).await;
    assert_eq!(ask(&world, &relay, "运费怎么算").await.body, "订单满 99 元包邮，否则运费 8 元。");
    let corrected = ask(&world, &relay, "不是这个，我是问退货怎么办").await;
    assert_eq!(corrected.body, "签收后 7 天内可无理由退货。");
    let record = decision_of(&world, &corrected).await;
    assert_eq!(record.query, "退货怎么办", "the question meant was decided");

    assert_eq!(
        ask(&world, &relay, "how much is shipping").await.body,
        "Shipping is free on orders over $50."
    );
    let corrected = ask(&world, &relay, "no, I meant how do returns work").await;
    assert_eq!(corrected.body, "You can return any item within 30 days.");
    let conversation = world.store.conversation(corrected.conversation_id).await.unwrap().unwrap();
    assert_eq!(conversation.state, ConversationState::Bot, "corrections are not failures");

    // Too short to be a question of its own, but it names an article.
    assert_eq!(ask(&world, &relay, "包邮吗").await.body, "订单满 99 元包邮，否则运费 8 元。");
    assert_eq!(ask(&world, &relay, "不对，退货").await.body, "签收后 7 天内可无理由退货。");
}

#[tokio::test]
async fn a_bare_correction_is_still_a_failed_answer() {
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    returns_kb(&world, &responder, false).await;
    let answered = ask(&world, &relay, "怎么退货").await;
    let handed = ask(&world, &relay, "不是这个").await;
    assert!(handed.body.contains("转接人工"), "{}", handed.body);
    wait_until_queued(&world.store, answered.conversation_id).await;
}

#[tokio::test]
async fn several_requests_get_each_answer_and_the_rest_goes_to_people_listed() {
    use tandem_domain::{Reason, TurnOutcome};
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    service_kb(&world, &responder).await;

    // Two answerable questions: both answers, each with its source; the bot keeps the chat.
    let both = ask(&world, &relay, "How do returns work? Also, how much is shipping?").await;
    assert_eq!(
        both.body,
        "About \"How do returns work\": You can return any item within 30 days.\n\n\
         About \"how much is shipping\": Shipping is free on orders over $50."
    );
    let meta = both.meta.clone().unwrap();
    let sources: Vec<&str> = meta.sources().map(|source| source.article.as_str()).collect();
    assert_eq!(sources, ["returns-en", "shipping-en"]);
    let record = decision_of(&world, &both).await;
    assert_eq!(record.parts.len(), 2);
    assert!(record.parts.iter().all(|part| !part.left_for_people()));
    let conversation = world.store.conversation(both.conversation_id).await.unwrap().unwrap();
    assert_eq!(conversation.state, ConversationState::Bot, "nothing left for people");

    // Two answerable, one that no article covers: the answers, then the rest to a person,
    // listed in the hand-off packet.
    let text = "我想退货。运费怎么算？另外上个订单的发票还没收到";
    let reply = ask(&world, &relay, text).await;
    assert!(
        reply.body.starts_with("关于“我想退货”：签收后 7 天内可无理由退货。"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("关于“运费怎么算”：订单满 99 元包邮，否则运费 8 元。"));
    assert!(reply.body.ends_with(
        "其余的问题（“上个订单的发票还没收到”）我已转给人工客服，请稍候，他们会接着为您处理。"
    ));
    wait_until_queued(&world.store, reply.conversation_id).await;
    let packet = world.store.handoff(reply.conversation_id).await.unwrap().expect("a packet");
    assert!(packet.reasons.contains(&Reason::MultiPart), "{:?}", packet.reasons);
    let parts: Vec<(&str, TurnOutcome, Option<&str>)> = packet
        .parts
        .iter()
        .map(|part| {
            let source = part.source.as_ref().map(|source| source.article.as_str());
            (part.text.as_str(), part.outcome, source)
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("我想退货", TurnOutcome::Answer, Some("returns")),
            ("运费怎么算", TurnOutcome::Answer, Some("shipping")),
            ("上个订单的发票还没收到", TurnOutcome::Abstain, None),
        ]
    );
}

#[tokio::test]
async fn one_request_with_context_or_a_follow_up_is_answered_once() {
    let world = world().await;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let relay = Relay::new(world.store.clone(), responder.clone());
    service_kb(&world, &responder).await;
    for (text, answer) in [
        ("我昨天买了个耳机。怎么退货？", "签收后 7 天内可无理由退货。"),
        ("怎么退货？退货流程是什么？", "签收后 7 天内可无理由退货。"),
        (
            "I bought a lamp last week. Can I return an item?",
            "You can return any item within 30 days.",
        ),
    ] {
        let reply = ask(&world, &relay, text).await;
        assert_eq!(reply.body, answer, "{text}");
        assert!(decision_of(&world, &reply).await.parts.is_empty(), "{text}");
    }
}
