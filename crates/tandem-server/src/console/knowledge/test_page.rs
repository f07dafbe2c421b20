//! `GET /knowledge/test`: "test the bot", what the answer engine would decide for a question
//! (optionally as for a customer on one channel), with every candidate's scores. Read-only,
//! so every agent may use it.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use tandem_knowledge::Outcome;

use crate::AppState;
use crate::console::{Chrome, PageAgent, PageError, PageResult, render, text_for};
use crate::error::ApiError;

#[derive(Debug)]
pub struct CandidateRow {
    pub key: String,
    pub title: String,
    pub score: f32,
    pub score_text: String,
    pub retrieval: String,
    pub intent: String,
    /// At or above the threshold.
    pub passes: bool,
}

#[derive(Debug)]
pub struct TestResult {
    pub outcome: &'static str,
    pub outcome_label: &'static str,
    pub threshold: f32,
    pub threshold_text: String,
    pub candidates: Vec<CandidateRow>,
    /// The article answered with and the answer the customer would get.
    pub answer: Option<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "pages/knowledge_test.html")]
struct TestPage {
    chrome: Chrome,
    q: String,
    channel: String,
    result: Option<TestResult>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TestQuery {
    #[serde(default)]
    q: String,
    /// Answer as for a customer on this channel; empty for any article.
    #[serde(default)]
    channel: String,
}

pub(super) async fn show_test_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<TestQuery>,
) -> PageResult {
    let text = text_for(&agent);
    let chrome = Chrome::new(&agent, "knowledge");
    let TestQuery { q, channel } = query;
    if q.trim().is_empty() {
        return Ok(render(&TestPage { chrome, q, channel, result: None, error: None }));
    }
    let parsed = tandem_domain::validate::message_body(&q)
        .map_err(ApiError::from)
        .and_then(|question| Ok((question, crate::api::knowledge::parse_channel(Some(&channel))?)));
    let (question, wanted_channel) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let page =
                TestPage { chrome, q, channel, result: None, error: Some(text.api_error(&error)) };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
        }
    };
    let (decision, articles) = state
        .knowledge
        .explain(agent.user.workspace_id, &question, wanted_channel)
        .await
        .map_err(|e| PageError::for_agent(&agent)(e.into()))?;
    let outcome = decision.outcome.as_str();
    let outcome_label = match decision.outcome {
        Outcome::Answer => &text.kb_outcome_answer,
        Outcome::Clarify => &text.kb_outcome_clarify,
        Outcome::Abstain => &text.kb_outcome_abstain,
    };
    let candidates = decision
        .candidates
        .iter()
        .zip(&articles)
        .map(|(candidate, article)| CandidateRow {
            key: article.key.clone(),
            title: article.title.clone(),
            score: candidate.score,
            score_text: format!("{:.3}", candidate.score),
            retrieval: format!("{:.3}", candidate.retrieval),
            intent: candidate.intent.map_or_else(|| "—".to_owned(), |p| format!("{p:.3}")),
            passes: candidate.score >= decision.threshold,
        })
        .collect();
    // Candidates come best first: an answer is the first one's.
    let answer = decision
        .answer()
        .and(articles.first())
        .map(|article| (article.key.clone(), article.title.clone(), article.answer.clone()));
    let result = TestResult {
        outcome,
        outcome_label,
        threshold: decision.threshold,
        threshold_text: format!("{:.2}", decision.threshold),
        candidates,
        answer,
    };
    Ok(render(&TestPage { chrome, q, channel, result: Some(result), error: None }))
}
