//! The model's second opinion when the engine is unsure: the stage between the engine's
//! decision and the business actions. When the engine would clarify, or abstains with an
//! article close to the threshold, the workspace's model (when on, with `choose` allowed) is
//! shown the best few articles and names the one that answers, or none. A named article is
//! answered with its own text, exactly as if the engine had chosen it; anything else leaves the
//! engine's decision. The call is recorded in the decision record (`llm.article` says what it
//! chose), and it is the turn's one model call: neither the action tools nor the grounded
//! rewording follow it.

use tandem_domain::LlmOutcome;
use tandem_flow::Turn;
use tandem_knowledge::Outcome;
use tandem_llm::choice;
use tandem_llm::grounding::Passage;

use super::{Decided, KnowledgeResponder};
use crate::engines::ACTION_PREFIX;
use crate::model::PASSAGES;

/// An article is a candidate worth asking about from this fraction of the threshold up: below
/// it the engine is not unsure, it has nothing.
const UNSURE_FROM: f32 = 0.5;

impl KnowledgeResponder {
    /// Lets the model choose among the engine's candidates when it is unsure; whether it chose.
    pub(super) async fn model_choice(&self, turn: &Turn, decided: &mut Decided) -> bool {
        if decided.decision.outcome == Outcome::Answer {
            return false;
        }
        let floor = decided.decision.threshold * UNSURE_FROM;
        let choices: Vec<usize> = decided
            .decision
            .candidates
            .iter()
            .zip(&decided.articles)
            .enumerate()
            .filter(|(_, (candidate, article))| {
                candidate.score >= floor && !article.key.starts_with(ACTION_PREFIX)
            })
            .map(|(index, _)| index)
            .take(PASSAGES)
            .collect();
        if choices.is_empty() {
            return false;
        }
        let workspace = turn.inbox.workspace_id;
        let client = match self.llm.ready(self.store.as_ref(), workspace, |s| s.choose).await {
            Ok(Some(client)) => client,
            Ok(None) => return false,
            Err(record) => {
                decided.record.llm = Some(record);
                return false;
            }
        };
        let passages: Vec<Passage> = choices
            .iter()
            .map(|&index| {
                let article = &decided.articles[index];
                Passage {
                    key: article.key.clone(),
                    title: article.title.clone(),
                    text: article.answer.clone(),
                }
            })
            .collect();
        let keys: Vec<&str> = passages.iter().map(|passage| passage.key.as_str()).collect();
        let request = tandem_llm::ChatRequest {
            messages: choice::choice_messages(&decided.record.query, &passages),
            tools: Vec::new(),
        };
        let (completion, mut llm) = match self.llm.call(&client, &request).await {
            Ok(called) => called,
            Err(llm) => {
                decided.record.llm = Some(llm);
                return false;
            }
        };
        let chosen = match choice::chosen(&completion.text, &keys) {
            Some(Some(key)) => key,
            Some(None) => {
                llm.outcome = LlmOutcome::Refused;
                decided.record.llm = Some(llm);
                return false;
            }
            None => {
                llm.outcome = LlmOutcome::Rejected;
                decided.record.llm = Some(llm);
                return false;
            }
        };
        let index = choices[keys.iter().position(|key| *key == chosen).unwrap_or(0)];
        let candidate = decided.decision.candidates.remove(index);
        decided.decision.candidates.insert(0, candidate);
        let article = decided.articles.remove(index);
        decided.articles.insert(0, article);
        decided.decision.outcome = Outcome::Answer;
        decided.record.outcome = Outcome::Answer.into();
        llm.article = Some(chosen);
        decided.record.llm = Some(llm);
        true
    }
}
