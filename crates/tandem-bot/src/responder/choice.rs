//! The model's second opinion when the engine is unsure: the stage between the engine's
//! decision and the business actions. When the engine would clarify, or abstains with an
//! article close to the threshold, the workspace's model (when on, with `choose` allowed) is
//! shown the best few articles, and with an embedding model also the few closest in meaning
//! to the question (`embeddings.rs`), and names the one that answers, or none. A named article is
//! answered with its own text, exactly as if the engine had chosen it; anything else leaves the
//! engine's decision. The call is recorded in the decision record (`llm.article` says what it
//! chose), and it is the turn's one model call: neither the action tools nor the grounded
//! rewording follow it.

use tandem_domain::LlmOutcome;
use tandem_flow::Turn;
use tandem_knowledge::Outcome;
use tandem_llm::choice;
use tandem_llm::grounding::Passage;

use tandem_domain::Article;
use tandem_knowledge::Candidate;

use super::{Decided, KnowledgeResponder};
use crate::embeddings;
use crate::engines::{ACTION_PREFIX, Built};
use crate::model::PASSAGES;

/// An article is a candidate worth asking about from this fraction of the threshold up: below
/// it the engine is not unsure, it has nothing.
const UNSURE_FROM: f32 = 0.5;

impl KnowledgeResponder {
    /// Lets the model choose among the engine's candidates (and, with embeddings, the articles
    /// closest in meaning) when the engine is unsure; whether it chose.
    pub(super) async fn model_choice(
        &self,
        turn: &Turn,
        built: &Built,
        decided: &mut Decided,
    ) -> bool {
        if decided.decision.outcome == Outcome::Answer {
            return false;
        }
        let floor = decided.decision.threshold * UNSURE_FROM;
        let mut options: Vec<Article> = decided
            .decision
            .candidates
            .iter()
            .zip(&decided.articles)
            .filter(|(candidate, article)| {
                candidate.score >= floor && !article.key.starts_with(ACTION_PREFIX)
            })
            .map(|(_, article)| article.clone())
            .take(PASSAGES)
            .collect();
        let workspace = turn.inbox.workspace_id;
        let by_meaning = embeddings::wanted(self.store.as_ref(), workspace).await;
        if options.is_empty() && !by_meaning {
            return false;
        }
        let client = match self.llm.ready(self.store.as_ref(), workspace, |s| s.choose).await {
            Ok(Some(client)) => client,
            Ok(None) => return false,
            Err(record) => {
                decided.record.llm = Some(record);
                return false;
            }
        };
        let mut offered_by_meaning = Vec::new();
        let mut embedding_cost = None;
        if by_meaning {
            let started = std::time::Instant::now();
            if let Some((nearest, embedded)) =
                self.nearest_in_meaning(&client, workspace, &decided.record.query).await
            {
                for key in nearest.iter().take(embeddings::NEAREST) {
                    if options.iter().any(|article| &article.key == key) {
                        continue;
                    }
                    if let Some(article) = built.live(key, Some(turn.inbox.channel)) {
                        options.push(article.clone());
                        offered_by_meaning.push(key.clone());
                    }
                }
                embedding_cost = Some((embedded, started.elapsed().as_millis() as u64));
            }
        }
        if options.is_empty() {
            return false;
        }
        let passages: Vec<Passage> = options.iter().map(crate::model::passage).collect();
        let keys: Vec<&str> = passages.iter().map(|passage| passage.key.as_str()).collect();
        let request = tandem_llm::ChatRequest {
            messages: choice::choice_messages(&decided.record.query, &passages),
            tools: Vec::new(),
        };
        let called = self.llm.call(&client, &request).await;
        let (chosen, mut llm) = match called {
            Ok((completion, mut llm)) => match choice::chosen(&completion.text, &keys) {
                Some(Some(key)) => (Some(key), llm),
                Some(None) => {
                    llm.outcome = LlmOutcome::Refused;
                    (None, llm)
                }
                None => {
                    llm.outcome = LlmOutcome::Rejected;
                    (None, llm)
                }
            },
            Err(llm) => (None, llm),
        };
        if let Some((embedded, latency_ms)) = embedding_cost {
            llm.prompt_tokens += embedded.usage.prompt_tokens;
            llm.cost += embedded.cost;
            llm.latency_ms += latency_ms;
        }
        llm.by_meaning = offered_by_meaning;
        let Some(chosen) = chosen else {
            decided.record.llm = Some(llm);
            return false;
        };
        // The chosen article first: moved up from the engine's candidates, or added from the
        // articles found by meaning.
        let candidate = match decided.articles.iter().position(|article| article.key == chosen) {
            Some(index) => {
                let article = decided.articles.remove(index);
                decided.articles.insert(0, article);
                decided.decision.candidates.remove(index)
            }
            None => {
                let article = options.iter().find(|article| article.key == chosen).cloned();
                let Some(article) = article else { return false };
                decided.articles.insert(0, article);
                Candidate { article: 0, score: 0.0, retrieval: 0.0, intent: None }
            }
        };
        decided.decision.candidates.insert(0, candidate);
        for (index, candidate) in decided.decision.candidates.iter_mut().enumerate() {
            candidate.article = index;
        }
        decided.decision.outcome = Outcome::Answer;
        decided.record.outcome = Outcome::Answer.into();
        llm.article = Some(chosen);
        decided.record.llm = Some(llm);
        true
    }
}
