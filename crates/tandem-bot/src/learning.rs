//! What a workspace's knowledge should learn from the conversations its people answered: the
//! proposals `tandem learn` makes from a history file, made here from the store, less what
//! people already decided. The console's Knowledge → Suggestions page shows them.

use std::collections::HashSet;

use tandem_domain::validate::format_timestamp;
use tandem_domain::{ArticleStatus, AuthorKind, Millis, WorkspaceId};
use tandem_knowledge::history::{Author, HistoryConversation, HistoryMessage};
use tandem_knowledge::learn::{self, Effect, Suggestions};
use tandem_knowledge::{Article, DecisionPolicy, Engine};
use tandem_store::StoreError;
use tandem_text::Dictionary;

use crate::KnowledgeResponder;

/// At most this many of the newest answered conversations are learnt from.
const MOST_CONVERSATIONS: u32 = 2000;

/// The proposals for a workspace, and what the variants among them would change.
#[derive(Debug, Clone)]
pub struct Learnt {
    /// Conversations people answered that were read.
    pub conversations: usize,
    pub suggestions: Suggestions,
    pub effect: Effect,
    pub threshold: f32,
}

impl KnowledgeResponder {
    /// Proposes what the workspace's knowledge should learn from the conversations created
    /// since `since` that people answered; suggestions people accepted or rejected are left
    /// out.
    pub async fn learn(&self, workspace: WorkspaceId, since: Millis) -> Result<Learnt, StoreError> {
        let store = &self.store;
        let handled = store.handled_conversations(workspace, since, MOST_CONVERSATIONS).await?;
        let decided: HashSet<(String, String)> = store
            .suggestion_decisions(workspace)
            .await?
            .into_iter()
            .map(|decision| (decision.kind, decision.subject))
            .collect();
        let settings = store.answer_settings(workspace).await?;
        let (threshold, _) = self.threshold_in_force(workspace).await?;
        let now = (self.clock)();
        let policy = self.default_policy();
        let articles: Vec<Article> = store
            .articles(workspace)
            .await?
            .into_iter()
            .filter(|article| article.status == ArticleStatus::Published && article.live_at(now))
            .map(|article| Article {
                id: article.key,
                title: article.title,
                questions: article.questions,
                answer: article.answer,
            })
            .collect();
        let conversations: Vec<HistoryConversation> = handled
            .into_iter()
            .map(|conversation| HistoryConversation {
                id: conversation.id.0.to_string(),
                // In UTC: a gap's days are the days the store's conversations began.
                created_at: format_timestamp(conversation.created_at),
                messages: conversation
                    .messages
                    .into_iter()
                    .filter_map(|message| {
                        let author = match message.author_kind {
                            AuthorKind::Customer => Author::Customer,
                            AuthorKind::Bot => Author::Bot,
                            AuthorKind::Agent => Author::Agent,
                            AuthorKind::System => Author::System,
                            AuthorKind::Note => return None,
                        };
                        Some(HistoryMessage {
                            author,
                            text: message.body,
                            source: None,
                            at: None,
                            agent: None,
                        })
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            let dictionary = Dictionary::new(settings.dictionary.iter().map(String::as_str));
            let engine = Engine::build_with(articles, dictionary);
            let policy = DecisionPolicy { threshold, ..policy };
            let handled: Vec<learn::Handled> =
                conversations.iter().filter_map(learn::handled).collect();
            let mut suggestions = learn::learn(&engine, policy, &handled);
            suggestions
                .variants
                .retain(|variant| !decided.contains(&("variant".to_owned(), variant.subject())));
            suggestions.gaps.retain(|gap| !decided.contains(&("gap".to_owned(), gap.subject())));
            let effect = learn::effect(&engine, policy, &handled, &suggestions.variants);
            Learnt { conversations: handled.len(), suggestions, effect, threshold }
        })
        .await
        .map_err(|error| StoreError::Panicked(format!("learning failed: {error}")))
    }
}
