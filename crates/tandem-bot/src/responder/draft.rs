//! Help for a person answering: the articles that may answer a customer's question (the
//! console's suggestions) and, on an agent's request, a reply drafted by the workspace's model
//! from them. The draft passes the same check as the bot's grounded answers
//! ([`WorkspaceModels::answer`](crate::model::WorkspaceModels::answer)), and it only ever goes
//! to the agent, who edits and sends it.

use tandem_domain::{Article, Channel, LlmRecord, Locale, WorkspaceId};
use tandem_store::StoreError;

use super::KnowledgeResponder;
use crate::engines::ACTION_PREFIX;
use crate::model::PASSAGES;

/// An article that may answer a customer's question, with the engine's score (0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Suggested {
    pub article: Article,
    pub score: f32,
}

/// A reply drafted for an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentDraft {
    /// The verified draft, citations stripped; `None` when the model's text was rejected or it
    /// refused, or the call failed: `llm` says which.
    pub text: Option<String>,
    /// The keys of the articles the model was given, best first.
    pub articles: Vec<String>,
    pub llm: LlmRecord,
}

/// Why no draft was asked for.
#[derive(Debug, thiserror::Error)]
pub enum DraftUnavailable {
    /// The workspace's model is off: nothing was sent.
    #[error("the workspace's model is off")]
    ModelOff,
    /// No article fits the question well enough to draft from.
    #[error("no article fits the question")]
    NoArticles,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl KnowledgeResponder {
    /// The articles worth suggesting to an agent for `question`, best first, at most `limit`:
    /// those scoring above half the threshold the bot answers at (an agent reads them before
    /// using them, so weaker matches than the bot's still help). Business actions take part in
    /// the engine as articles, but they are run, not quoted, so they are left out.
    pub async fn suggestions(
        &self,
        workspace: WorkspaceId,
        question: &str,
        channel: Option<Channel>,
        limit: usize,
    ) -> Result<Vec<Suggested>, StoreError> {
        let (decision, articles) = self.explain(workspace, question, channel).await?;
        let floor = decision.threshold / 2.0;
        Ok(decision
            .candidates
            .iter()
            .zip(articles)
            .filter(|(candidate, article)| {
                candidate.score > floor && !article.key.starts_with(ACTION_PREFIX)
            })
            .take(limit)
            .map(|(candidate, article)| Suggested { article, score: candidate.score })
            .collect())
    }

    /// Whether the workspace's model may draft replies: on, and allowed to receive text.
    pub async fn drafts_available(&self, workspace: WorkspaceId) -> bool {
        match crate::model::llm_settings(self.store.as_ref(), workspace).await {
            Ok(settings) => settings.enabled && settings.allow_external,
            Err(error) => {
                tracing::warn!(workspace_id = %workspace, %error, "LLM settings unavailable");
                false
            }
        }
    }

    /// A reply to `question` (from a customer on `channel`, answered in `locale`) drafted by
    /// the workspace's model from the best suggested articles, kept only if every claim of it
    /// checks out against them, as the bot's own answers are.
    pub async fn draft_for_agent(
        &self,
        workspace: WorkspaceId,
        question: &str,
        channel: Option<Channel>,
        locale: Locale,
    ) -> Result<AgentDraft, DraftUnavailable> {
        let passages: Vec<Article> = self
            .suggestions(workspace, question, channel, PASSAGES)
            .await?
            .into_iter()
            .map(|suggested| suggested.article)
            .collect();
        if passages.is_empty() {
            return Err(DraftUnavailable::NoArticles);
        }
        let grounded = self
            .llm
            .answer(self.store.as_ref(), workspace, question, &passages, locale, None)
            .await
            .ok_or(DraftUnavailable::ModelOff)?;
        Ok(AgentDraft {
            text: grounded.text,
            articles: passages.into_iter().map(|article| article.key).collect(),
            llm: grounded.record,
        })
    }
}
