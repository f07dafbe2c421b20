//! `GET /knowledge/suggestions`: what the knowledge should learn from the conversations people
//! answered (customers' wordings for articles, topics without one), for people to accept or
//! reject: nothing changes until they do. Every agent may read it; admins and supervisors
//! decide.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_domain::{Article, Millis};
use tandem_locales::fill;

use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageResult, render, store_failed, text_for};

/// Conversations of this many days are learnt from.
pub(super) const DAYS: i64 = 90;

#[derive(Template)]
#[template(path = "pages/knowledge_suggestions.html")]
pub(super) struct SuggestionsPage {
    chrome: Chrome,
    can_decide: bool,
    intro: String,
    effect: Option<String>,
    variants: Vec<VariantRow>,
    gaps: Vec<GapRow>,
    notice: Option<String>,
}

pub(super) struct VariantRow {
    pub(super) article: String,
    pub(super) title: String,
    pub(super) question: String,
    pub(super) subject: String,
    pub(super) conversations: String,
    pub(super) conversation_ids: Vec<String>,
}

pub(super) struct GapRow {
    pub(super) label: String,
    pub(super) subject: String,
    pub(super) count: usize,
    /// Its conversations per day (`YYYY-MM-DD`, UTC), oldest first: whether it is growing.
    pub(super) daily: Vec<tandem_knowledge::history::DayCount>,
    pub(super) questions: Vec<String>,
    pub(super) answer: String,
    pub(super) conversations: String,
    /// The new-article form, filled in with the gap.
    pub(super) create_link: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct SuggestionsQuery {
    notice: Option<String>,
}

pub(super) async fn show_suggestions_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<SuggestionsQuery>,
) -> PageResult {
    let workspace = agent.user.workspace_id;
    let since: Millis = tandem_store::now_millis() - DAYS * 24 * 3_600_000;
    let learnt = state.knowledge.learn(workspace, since).await.map_err(store_failed(&agent))?;
    let articles = state.store.articles(workspace).await.map_err(store_failed(&agent))?;
    let t = text_for(&agent);
    let title_of = |key: &str| -> String {
        articles
            .iter()
            .find(|article| article.key == key)
            .map_or_else(|| key.to_owned(), |article: &Article| article.title.clone())
    };
    let variants = learnt
        .suggestions
        .variants
        .iter()
        .map(|variant| VariantRow {
            article: variant.article.clone(),
            title: title_of(&variant.article),
            question: variant.question.clone(),
            subject: variant.subject(),
            conversations: variant.conversation_ids.join(","),
            conversation_ids: variant.conversation_ids.clone(),
        })
        .collect();
    let gaps = learnt
        .suggestions
        .gaps
        .iter()
        .map(|gap| GapRow {
            label: gap.label.clone(),
            subject: gap.subject(),
            count: gap.count,
            daily: gap.daily.clone(),
            questions: gap.questions.clone(),
            answer: gap.suggested_answer.clone(),
            conversations: gap.conversation_ids.join(","),
            create_link: create_link(&gap.label, &gap.questions, &gap.suggested_answer),
        })
        .collect();
    let effect = (learnt.effect.questions > 0).then(|| {
        let percent = |share: f32| format!("{:.0}", share * 100.0);
        fill(
            &t.kb_suggestions_effect,
            &[
                ("questions", &learnt.effect.questions),
                ("before", &percent(learnt.effect.before)),
                ("after", &percent(learnt.effect.after)),
            ],
        )
    });
    let notice = query.notice.and_then(|notice| match notice.as_str() {
        "accepted" => Some(t.kb_suggestions_accepted.clone()),
        "rejected" => Some(t.kb_suggestions_rejected.clone()),
        "none" => Some(t.kb_suggestions_none_picked.clone()),
        _ => None,
    });
    let page = SuggestionsPage {
        chrome: Chrome::new(&agent, "knowledge"),
        can_decide: can_decide(&agent),
        intro: fill(
            &t.kb_suggestions_intro,
            &[("days", &DAYS), ("conversations", &learnt.conversations)],
        ),
        effect,
        variants,
        gaps,
        notice,
    };
    Ok(render(&page))
}

fn can_decide(agent: &Agent) -> bool {
    agent.user.is_manager()
}

/// `/knowledge/new` with the gap's label, questions and the agents' answer filled in.
fn create_link(label: &str, questions: &[String], answer: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("title", label),
        ("questions", &questions.join("\n")),
        ("answer", answer),
    ])
    .unwrap_or_default();
    format!("/knowledge/new?{query}")
}
