//! `POST /knowledge/suggestions`: accepts or rejects the selected suggestions at once (admins
//! and supervisors). An accepted wording is added to its article and published: the bot answers
//! it when this returns. An accepted gap becomes a draft article to finish. Every decision is
//! kept with its evidence (the conversations), and a rejected suggestion is not proposed again.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use tandem_domain::{ArticleStatus, NewArticle, Problem, ValidationError, validate};
use tandem_knowledge::formats::{MAX_ANSWER, MAX_QUESTION, MAX_TITLE};
use tandem_store::SuggestionDecision;

use crate::AppState;
use crate::console::{CsrfForm, PageError, PageResult, require_manager, store_failed};
use crate::error::ApiError;

/// One selected row of the form.
struct Picked<'a> {
    kind: &'a str,
    subject: String,
    conversations: Vec<i64>,
    fields: BTreeMap<&'a str, &'a str>,
}

pub(super) async fn decide_suggestions(
    State(state): State<AppState>,
    CsrfForm { agent, form }: CsrfForm<Vec<(String, String)>>,
) -> PageResult {
    require_manager(&agent)?;
    let field =
        |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let accept = match field("decision") {
        Some("accept") => true,
        Some("reject") => false,
        other => {
            let problem = Problem::not_one_of(other.unwrap_or_default(), &["accept", "reject"]);
            return Err(PageError::for_agent(&agent)(
                ValidationError::new("decision", problem).into(),
            ));
        }
    };
    // Each row's fields are named `<field>_<row>`; `pick` names the selected rows (`v3`, `g0`).
    let picked: Vec<Picked> = form
        .iter()
        .filter(|(key, _)| key == "pick")
        .filter_map(|(_, row)| {
            let kind = match row.chars().next()? {
                'v' => "variant",
                'g' => "gap",
                _ => return None,
            };
            let fields: BTreeMap<&str, &str> = form
                .iter()
                .filter_map(|(key, value)| {
                    let (name, of) = key.rsplit_once('_')?;
                    (of == row.as_str()).then_some((name, value.as_str()))
                })
                .collect();
            let conversations = fields
                .get("conversations")
                .map(|ids| ids.split(',').filter_map(|id| id.trim().parse().ok()).collect())
                .unwrap_or_default();
            Some(Picked {
                kind,
                subject: fields.get("subject").copied().unwrap_or_default().to_owned(),
                conversations,
                fields,
            })
        })
        .filter(|picked| !picked.subject.is_empty())
        .collect();
    if picked.is_empty() {
        return Ok(Redirect::to("/knowledge/suggestions?notice=none").into_response());
    }
    let workspace = agent.user.workspace_id;
    let failed = PageError::for_agent(&agent);
    let decided_at = tandem_store::now_millis();
    let decision =
        |picked: &Picked, article_key: Option<String>, version: Option<i64>| SuggestionDecision {
            kind: picked.kind.to_owned(),
            subject: picked.subject.clone(),
            accepted: accept,
            article_key,
            article_version: version,
            conversation_ids: picked.conversations.clone(),
            decided_by: Some(agent.user.id),
            decided_at,
        };
    if !accept {
        let decisions = picked.iter().map(|picked| decision(picked, None, None)).collect();
        state.store.decide_suggestions(workspace, decisions).await.map_err(store_failed(&agent))?;
        return Ok(Redirect::to("/knowledge/suggestions?notice=rejected").into_response());
    }
    // Wordings, by article: each article is published once with all of its new wordings.
    let mut wordings: BTreeMap<&str, Vec<(String, &Picked)>> = BTreeMap::new();
    let mut drafts: Vec<(NewArticle, &Picked)> = Vec::new();
    let mut taken: Vec<String> = state
        .store
        .articles(workspace)
        .await
        .map_err(store_failed(&agent))?
        .into_iter()
        .map(|article| article.key)
        .collect();
    for row in &picked {
        let get = |name| row.fields.get(name).copied().unwrap_or_default();
        match row.kind {
            "variant" => {
                let wording = validate::article_text("questions", get("wording"), MAX_QUESTION)
                    .map_err(|error| failed(error.into()))?;
                wordings.entry(get("article")).or_default().push((wording, row));
            }
            _ => {
                let questions: Vec<String> = get("questions")
                    .lines()
                    .map(str::trim)
                    .filter(|q| !q.is_empty())
                    .map(str::to_owned)
                    .collect();
                let title = validate::article_text("title", get("label"), MAX_TITLE)
                    .map_err(|error| failed(error.into()))?;
                let answer_text =
                    if get("answer").trim().is_empty() { title.as_str() } else { get("answer") };
                let answer = validate::article_text("answer", answer_text, MAX_ANSWER)
                    .map_err(|error| failed(error.into()))?;
                let key = free_key(&taken);
                taken.push(key.clone());
                let language = tandem_text::detect_language(&title)
                    .and_then(|lang| tandem_domain::Locale::parse(lang.as_str()));
                drafts.push((
                    NewArticle {
                        key,
                        title,
                        answer,
                        questions,
                        tags: vec!["learnt".to_owned()],
                        language,
                        effective_from: None,
                        expires_at: None,
                        channels: Vec::new(),
                    },
                    row,
                ));
            }
        }
    }
    let mut decisions = Vec::new();
    let mut updated = Vec::new();
    for (key, rows) in &wordings {
        let Some(article) =
            state.store.article(workspace, key).await.map_err(store_failed(&agent))?
        else {
            return Err(failed(ApiError::NotFound(tandem_store::Entity::Article)));
        };
        let mut questions = article.questions.clone();
        for (wording, _) in rows {
            if !questions.contains(wording) {
                questions.push(wording.clone());
            }
        }
        updated.push(NewArticle {
            key: article.key.clone(),
            title: article.title.clone(),
            answer: article.answer.clone(),
            questions,
            tags: article.tags.clone(),
            language: article.language,
            effective_from: article.effective_from,
            expires_at: article.expires_at,
            channels: article.channels.clone(),
        });
    }
    if !updated.is_empty() {
        let saved = state
            .knowledge
            .save(workspace, updated, ArticleStatus::Published, Some(agent.user.id))
            .await
            .map_err(store_failed(&agent))?;
        for article in saved {
            for (_, row) in wordings.get(article.key.as_str()).into_iter().flatten() {
                decisions.push(decision(row, Some(article.key.clone()), Some(article.version)));
            }
        }
    }
    if !drafts.is_empty() {
        let rows: Vec<(String, &Picked)> =
            drafts.iter().map(|(article, row)| (article.key.clone(), *row)).collect();
        let saved = state
            .knowledge
            .save(
                workspace,
                drafts.into_iter().map(|(article, _)| article).collect(),
                ArticleStatus::Draft,
                Some(agent.user.id),
            )
            .await
            .map_err(store_failed(&agent))?;
        for (article, row) in rows {
            let key =
                saved.iter().find(|saved| saved.key == article).map(|saved| saved.key.clone());
            decisions.push(decision(row, key, None));
        }
    }
    state.store.decide_suggestions(workspace, decisions).await.map_err(store_failed(&agent))?;
    Ok(Redirect::to("/knowledge/suggestions?notice=accepted").into_response())
}

/// The first free `learnt-N` article key.
fn free_key(taken: &[String]) -> String {
    (1..)
        .map(|number| format!("learnt-{number}"))
        .find(|key| !taken.contains(key))
        .unwrap_or_default()
}
