//! Article embeddings, when a workspace's model settings name an embedding model: each
//! published article version is embedded in the background (a publish never waits for it) and
//! kept per version in the store; an unsure turn's question is embedded too, so that the
//! model's choice among articles also sees the ones closest in meaning, whatever their words.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use tandem_domain::{ArticleStatus, WorkspaceId};
use tandem_llm::{Embedded, LlmClient};
use tandem_store::{ArticleEmbedding, Change, StoreError};
use tokio::sync::broadcast;

use crate::KnowledgeResponder;
use crate::model::llm_settings;

/// Articles embedded per request.
const BATCH: usize = 16;
/// Longest text of an article sent to be embedded, in characters.
const MAX_TEXT_CHARS: usize = 2000;
/// How many articles closest in meaning an unsure turn adds to the model's choice.
pub(crate) const NEAREST: usize = 3;

/// What an article is embedded from: its title, its questions and its answer.
fn text_of(article: &tandem_domain::Article) -> String {
    let text = format!("{}\n{}\n{}", article.title, article.questions.join("\n"), article.answer);
    text.chars().take(MAX_TEXT_CHARS).collect()
}

fn cosine(left: &[f32], right: &[f32]) -> f32 {
    let dot: f32 = left.iter().zip(right).map(|(a, b)| a * b).sum();
    let norm = |vector: &[f32]| vector.iter().map(|value| value * value).sum::<f32>().sqrt();
    let norms = norm(left) * norm(right);
    if norms > 0.0 { dot / norms } else { 0.0 }
}

impl KnowledgeResponder {
    /// Embeds every knowledge change's new versions in the background, for as long as the
    /// responder lives.
    pub(crate) fn follow_embeddings(responder: &Arc<KnowledgeResponder>) {
        let follower: Weak<KnowledgeResponder> = Arc::downgrade(responder);
        tandem_flow::supervise("knowledge: embeddings", move |_| {
            let follower = follower.clone();
            async move {
                let Some(responder) = follower.upgrade() else { return };
                let mut feed = responder.store.subscribe();
                drop(responder);
                loop {
                    let change = feed.recv().await;
                    let Some(responder) = follower.upgrade() else { return };
                    match change {
                        Ok(Change::Knowledge(workspace)) => responder.embed_later(workspace),
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });
    }

    /// Validates and saves the workspace's model settings (they apply from the next turn) and,
    /// when they name an embedding model, starts embedding the articles it has not embedded.
    pub async fn save_llm_settings(
        &self,
        workspace: WorkspaceId,
        settings: &tandem_llm::LlmSettings,
    ) -> Result<tandem_domain::Millis, crate::model::LlmSettingsError> {
        let saved =
            crate::model::save_llm_settings(self.store.as_ref(), workspace, settings).await?;
        if settings.embedding_model.is_some() {
            self.embed_later(workspace);
        }
        Ok(saved)
    }

    /// Starts embedding the workspace's new article versions, unless that is already under way.
    pub(crate) fn embed_later(&self, workspace: WorkspaceId) {
        let Some(responder) = self.this.upgrade() else { return };
        {
            let mut embedding = self.embedding.lock().unwrap_or_else(|e| e.into_inner());
            if !embedding.insert(workspace) {
                return;
            }
        }
        tokio::spawn(async move {
            if let Err(error) = responder.embed_missing(workspace).await {
                tracing::warn!(workspace_id = %workspace, %error, "article embeddings failed");
            }
            responder.embedding.lock().unwrap_or_else(|e| e.into_inner()).remove(&workspace);
        });
    }

    /// Embeds the published article versions of the workspace that have no embedding with
    /// its embedding model yet; how many it embedded. Nothing when the model or embeddings
    /// are off.
    pub async fn embed_missing(&self, workspace: WorkspaceId) -> Result<usize, StoreError> {
        let ready = self
            .llm
            .ready(self.store.as_ref(), workspace, |settings| settings.embedding_model.is_some())
            .await;
        let Ok(Some(client)) = ready else { return Ok(0) };
        let Some(model) = client.settings().embedding_model.clone() else { return Ok(0) };
        let existing: HashMap<String, i64> = self
            .store
            .article_embeddings(workspace, &model)
            .await?
            .into_iter()
            .map(|embedding| (embedding.key, embedding.version))
            .collect();
        let missing: Vec<tandem_domain::Article> = self
            .store
            .articles(workspace)
            .await?
            .into_iter()
            .filter(|article| article.status == ArticleStatus::Published)
            .filter(|article| existing.get(&article.key) != Some(&article.version))
            .collect();
        let mut embedded = 0;
        for batch in missing.chunks(BATCH) {
            let texts: Vec<String> = batch.iter().map(text_of).collect();
            let vectors = match client.embed(&texts).await {
                Ok(Embedded { vectors, .. }) => vectors,
                Err(error) => {
                    tracing::warn!(workspace_id = %workspace, code = error.code(), %error, "embedding articles failed");
                    break;
                }
            };
            let embeddings = batch
                .iter()
                .zip(vectors)
                .map(|(article, vector)| ArticleEmbedding {
                    key: article.key.clone(),
                    version: article.version,
                    vector,
                })
                .collect();
            self.store.save_article_embeddings(workspace, &model, embeddings).await?;
            embedded += batch.len();
        }
        Ok(embedded)
    }

    /// The keys of the stored articles closest in meaning to `question`, closest first, with
    /// the embedding call's cost (`None` when the workspace has no embeddings yet, or the call
    /// failed: the turn goes on without them).
    pub(crate) async fn nearest_in_meaning(
        &self,
        client: &LlmClient,
        workspace: WorkspaceId,
        question: &str,
    ) -> Option<(Vec<String>, Embedded)> {
        let model = client.settings().embedding_model.clone()?;
        let stored = match self.store.article_embeddings(workspace, &model).await {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(workspace_id = %workspace, %error, "article embeddings unavailable");
                return None;
            }
        };
        // New versions (or a new embedding model) are embedded for the next turns.
        self.embed_later(workspace);
        if stored.is_empty() {
            return None;
        }
        let embedded = match client.embed(&[question.to_owned()]).await {
            Ok(embedded) => embedded,
            Err(error) => {
                tracing::warn!(workspace_id = %workspace, code = error.code(), "embedding a question failed");
                return None;
            }
        };
        let query = embedded.vectors.first()?;
        let mut scored: Vec<(f32, &str)> = stored
            .iter()
            .map(|embedding| (cosine(query, &embedding.vector), embedding.key.as_str()))
            .collect();
        scored.sort_by(|left, right| right.0.total_cmp(&left.0));
        let keys = scored.iter().map(|(_, key)| (*key).to_owned()).collect();
        Some((keys, embedded))
    }
}

/// Whether the workspace asks for embeddings at all (its model on, choosing allowed, an
/// embedding model named): read before anything else is prepared.
pub(crate) async fn wanted(store: &dyn tandem_store::Store, workspace: WorkspaceId) -> bool {
    llm_settings(store, workspace).await.is_ok_and(|settings| {
        settings.enabled && settings.choose && settings.embedding_model.is_some()
    })
}
