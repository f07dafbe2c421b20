//! The knowledge responder: answers from the workspace's published articles with the built-in
//! engine, asks which one when two are close, and says so when it cannot help.
//!
//! One engine per workspace is kept built. A change to the articles (the store's change feed)
//! rebuilds it in the background at once, so a publish is answerable in milliseconds; an
//! effective window opening or closing is noticed by the first turn after the moment, which
//! rebuilds before answering, so an expired policy is never served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tandem_domain::{Article, MessageMeta, Millis, Source, WorkspaceId};
use tandem_knowledge::{Decision, DecisionPolicy, Engine, Outcome};
use tandem_store::{Change, Store, StoreError, now_millis};
use tokio::sync::broadcast;

use crate::responder::asks_for_person;
use crate::{BotReply, Phrases, Responder, Turn};

/// A workspace's engine over the articles live when it was built.
struct Built {
    engine: Engine,
    /// The live articles, in the engine's order.
    articles: Vec<Article>,
    /// The next moment an effective window opens or closes: rebuild from then on.
    valid_until: Millis,
}

pub struct KnowledgeResponder {
    store: Arc<dyn Store>,
    policy: DecisionPolicy,
    built: Mutex<HashMap<WorkspaceId, Arc<Built>>>,
}

impl std::fmt::Debug for KnowledgeResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeResponder").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl KnowledgeResponder {
    /// Starts the responder: warms the text analyzer and follows knowledge changes.
    pub fn start(store: Arc<dyn Store>, policy: DecisionPolicy) -> Arc<KnowledgeResponder> {
        let responder =
            Arc::new(KnowledgeResponder { store, policy, built: Mutex::new(HashMap::new()) });
        // Loading the Chinese dictionary takes a few hundred milliseconds: do it off the path
        // of the first customer.
        tokio::task::spawn_blocking(|| {
            tandem_text::analyzer();
        });
        let mut feed = responder.store.subscribe();
        let follower = Arc::clone(&responder);
        tokio::spawn(async move {
            loop {
                match feed.recv().await {
                    Ok(Change::Knowledge(workspace)) => {
                        if let Err(error) = follower.rebuild(workspace).await {
                            tracing::warn!(workspace_id = %workspace, %error, "knowledge rebuild failed");
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Knowledge changes may have been missed: rebuild on next use.
                        if let Ok(mut built) = follower.built.lock() {
                            built.clear();
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        responder
    }

    /// Rebuilds the workspace's engine from its live articles.
    pub async fn rebuild(&self, workspace: WorkspaceId) -> Result<(), StoreError> {
        let articles = self.store.articles(workspace).await?;
        let built = tokio::task::spawn_blocking(move || build(articles, now_millis()))
            .await
            .map_err(|error| StoreError::Database(format!("engine build failed: {error}")))?;
        if let Ok(mut map) = self.built.lock() {
            map.insert(workspace, Arc::new(built));
        }
        Ok(())
    }

    /// What the engine would decide for `question`, with the candidates' articles in order:
    /// the console's "test the bot" box.
    pub async fn explain(
        &self,
        workspace: WorkspaceId,
        question: &str,
    ) -> Result<(Decision, Vec<Article>), StoreError> {
        let built = self.engine_for(workspace).await?;
        let decision = built.engine.decide(question, self.policy);
        let articles = decision
            .candidates
            .iter()
            .map(|candidate| built.articles[candidate.article].clone())
            .collect();
        Ok((decision, articles))
    }

    pub fn policy(&self) -> DecisionPolicy {
        self.policy
    }

    async fn engine_for(&self, workspace: WorkspaceId) -> Result<Arc<Built>, StoreError> {
        let current = self.built.lock().ok().and_then(|map| map.get(&workspace).cloned());
        match current {
            Some(built) if now_millis() < built.valid_until => Ok(built),
            _ => {
                self.rebuild(workspace).await?;
                self.built
                    .lock()
                    .ok()
                    .and_then(|map| map.get(&workspace).cloned())
                    .ok_or(StoreError::Database("engine missing after rebuild".into()))
            }
        }
    }
}

fn build(articles: Vec<Article>, now: Millis) -> Built {
    let valid_until = articles
        .iter()
        .filter(|article| article.status == tandem_domain::ArticleStatus::Published)
        .flat_map(|article| [article.effective_from, article.expires_at])
        .flatten()
        .filter(|moment| *moment > now)
        .min()
        .unwrap_or(Millis::MAX);
    let live: Vec<Article> = articles.into_iter().filter(|article| article.live_at(now)).collect();
    let engine = Engine::build(
        live.iter()
            .map(|article| tandem_knowledge::Article {
                id: article.key.clone(),
                title: article.title.clone(),
                questions: article.questions.clone(),
                answer: article.answer.clone(),
            })
            .collect(),
    );
    Built { engine, articles: live, valid_until }
}

#[async_trait]
impl Responder for KnowledgeResponder {
    async fn respond(&self, turn: &Turn) -> BotReply {
        let phrases = Phrases::for_locale(turn.locale);
        if asks_for_person(&turn.message.body) {
            return BotReply::text(phrases.handing_off, crate::Outcome::Abstain, true);
        }
        let built = match self.engine_for(turn.inbox.workspace_id).await {
            Ok(built) => built,
            Err(error) => {
                tracing::warn!(%error, "knowledge unavailable; the bot cannot answer");
                return BotReply::text(phrases.cannot_answer, crate::Outcome::Abstain, false);
            }
        };
        let decision = built.engine.decide(&turn.message.body, self.policy);
        match decision.outcome {
            Outcome::Answer => {
                let article = &built.articles[decision.candidates[0].article];
                BotReply {
                    body: article.answer.clone(),
                    outcome: crate::Outcome::Answer,
                    hand_off: false,
                    meta: Some(MessageMeta {
                        source: Some(Source {
                            article: article.key.clone(),
                            title: article.title.clone(),
                            version: article.version,
                        }),
                        quick_replies: Vec::new(),
                    }),
                }
            }
            Outcome::Clarify => BotReply {
                body: phrases.clarify.to_owned(),
                outcome: crate::Outcome::Clarify,
                hand_off: false,
                meta: Some(MessageMeta {
                    source: None,
                    quick_replies: decision
                        .candidates
                        .iter()
                        .take(2)
                        .map(|candidate| built.articles[candidate.article].title.clone())
                        .collect(),
                }),
            },
            Outcome::Abstain => {
                BotReply::text(phrases.cannot_answer, crate::Outcome::Abstain, false)
            }
        }
    }
}
