//! Replies drafted for an agent by the workspace's model: from the suggested articles, checked
//! like the bot's answers, and nothing asked of the model while it is off.

use std::sync::Arc;

use tandem_bot::model::save_llm_settings;
use tandem_bot::{DraftUnavailable, KnowledgeResponder};
use tandem_domain::{ArticleStatus, Channel, Locale, WorkspaceId};
use tandem_flow::testing::{World, world};
use tandem_knowledge::DecisionPolicy;
use tandem_llm::mock::{MockServer, Reply};
use tandem_llm::{LlmSettings, NO_ANSWER};

/// A responder over a workspace with a returns article and an invoice article, with these LLM
/// settings (`None`: never saved); the world keeps the store's files while the test runs.
async fn shop(llm: Option<LlmSettings>) -> (World, Arc<KnowledgeResponder>, WorkspaceId) {
    let world = world().await;
    let workspace = world.inbox.workspace_id;
    let responder = KnowledgeResponder::start(world.store.clone(), DecisionPolicy::default());
    let articles =
        crate::returns_and_invoices("签收后 7 天内可无理由退货，退款在 48 小时内原路退回。");
    responder.save(workspace, articles, ArticleStatus::Published, None).await.unwrap();
    if let Some(settings) = llm {
        save_llm_settings(world.store.as_ref(), workspace, &settings).await.unwrap();
    }
    (world, responder, workspace)
}

const QUESTION: &str = "请问怎样退货？";

#[tokio::test]
async fn a_verified_draft_comes_back_from_the_suggested_articles() {
    let server =
        MockServer::start(vec![Reply::Text("签收后七天内可无理由退货 [ref:returns]。")]).await;
    let (_world, responder, workspace) = shop(Some(server.settings())).await;
    assert!(responder.drafts_available(workspace).await);
    let suggested =
        responder.suggestions(workspace, QUESTION, Some(Channel::Web), 3).await.unwrap();
    assert_eq!(suggested[0].article.key, "returns");

    let draft = responder
        .draft_for_agent(workspace, QUESTION, Some(Channel::Web), Locale::Zh)
        .await
        .unwrap();
    assert_eq!(draft.text.as_deref(), Some("签收后七天内可无理由退货。"));
    assert_eq!(draft.articles[0], "returns");
    assert_eq!((draft.llm.outcome.as_str(), draft.llm.attempts), ("used", 1));
    // The model was given the article's answer and the customer's question.
    let body = server.bodies()[0].to_string();
    assert!(body.contains("48 小时内原路退回") && body.contains(QUESTION), "{body}");
}

#[tokio::test]
async fn an_unsupported_or_refused_draft_has_no_text_and_says_why() {
    let server =
        MockServer::start(vec![Reply::Text("签收后 30 天内可以退货 [ref:returns]。")]).await;
    let (_world, responder, workspace) = shop(Some(server.settings())).await;
    let rejected = responder
        .draft_for_agent(workspace, QUESTION, Some(Channel::Web), Locale::Zh)
        .await
        .unwrap();
    assert_eq!(rejected.text, None);
    assert_eq!(rejected.llm.outcome.as_str(), "rejected");
    assert_eq!(rejected.llm.rejected_claims, ["30 天"]);

    server.set_default(Reply::Text(NO_ANSWER));
    let refused = responder
        .draft_for_agent(workspace, QUESTION, Some(Channel::Web), Locale::Zh)
        .await
        .unwrap();
    assert_eq!((refused.text, refused.llm.outcome.as_str()), (None, "refused"));
}

#[tokio::test]
async fn nothing_is_asked_while_the_model_is_off_or_no_article_fits() {
    let server = MockServer::start(vec![Reply::Text("不该被调用")]).await;
    let (_world, responder, workspace) = shop(None).await;
    assert!(!responder.drafts_available(workspace).await);
    let off = responder.draft_for_agent(workspace, QUESTION, Some(Channel::Web), Locale::Zh).await;
    assert!(matches!(off, Err(DraftUnavailable::ModelOff)), "{off:?}");

    let (_world, responder, workspace) = shop(Some(server.settings())).await;
    let unrelated = "zqxj";
    let none =
        responder.draft_for_agent(workspace, unrelated, Some(Channel::Web), Locale::Zh).await;
    assert!(matches!(none, Err(DraftUnavailable::NoArticles)), "{none:?}");
    assert_eq!(server.request_count(), 0);
}
