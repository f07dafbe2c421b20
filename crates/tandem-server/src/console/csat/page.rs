//! `GET /settings/csat`: every inbox's satisfaction questions as a form of its own; the save
//! action shows the page again with a refused form as it was typed, its message next to it.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_domain::{Inbox, ValidationError};

use super::form::{CsatForm, ExtraRow};
use crate::AppState;
use crate::api::csat::{default_inbox_csat, settings};
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, render, text_for};
use crate::i18n::Text;

/// One further question's inputs.
#[derive(Debug)]
pub struct ExtraView {
    /// 1, 2, 3: the inputs are `q{n}_id`...
    pub n: usize,
    pub heading: String,
    pub id: String,
    pub kind: String,
    pub zh: String,
    pub en: String,
}

/// One inbox's form.
#[derive(Debug)]
pub struct InboxSection {
    pub id: i64,
    pub name: String,
    /// Whether the questions were saved (else the defaults are shown).
    pub configured: bool,
    pub enabled: bool,
    pub rating_zh: String,
    pub rating_en: String,
    pub comment: bool,
    pub comment_zh: String,
    pub comment_en: String,
    pub extras: Vec<ExtraView>,
    pub error: Option<String>,
    /// The input the error is about ("" when none).
    pub error_field: &'static str,
}

#[derive(Template)]
#[template(path = "pages/csat.html")]
struct CsatPage {
    chrome: Chrome,
    can_edit: bool,
    inboxes: Vec<InboxSection>,
    notice: Option<String>,
}

/// The label of a form's input, for a refused value's message.
fn label(text: &Text, field: &str) -> String {
    let part = |name: &str| match name {
        "zh" => text.csat_zh.as_str(),
        "en" => text.csat_en.as_str(),
        "id" => text.csat_question_id.as_str(),
        _ => text.csat_kind.as_str(),
    };
    match field.split_once('_') {
        Some(("rating", lang)) => format!("{} · {}", text.csat_rating_question, part(lang)),
        Some(("comment", lang)) => format!("{} · {}", text.csat_comment_question, part(lang)),
        Some((question, what)) if question.starts_with('q') => {
            let n = &question[1..];
            let heading = tandem_locales::fill(&text.csat_question, &[("n", &n)]);
            format!("{heading} · {}", part(what))
        }
        _ => text.csat_extra.clone(),
    }
}

fn section(
    text: &Text,
    inbox: Inbox,
    configured: bool,
    form: &CsatForm,
    error: Option<ValidationError>,
) -> InboxSection {
    let extras = form
        .rows()
        .into_iter()
        .enumerate()
        .map(|(index, ExtraRow { id, kind, zh, en })| ExtraView {
            n: index + 1,
            heading: tandem_locales::fill(&text.csat_question, &[("n", &(index + 1))]),
            id,
            kind,
            zh,
            en,
        })
        .collect();
    InboxSection {
        id: inbox.id.0,
        name: inbox.name,
        configured,
        enabled: form.enabled(),
        rating_zh: form.rating_zh.clone(),
        rating_en: form.rating_en.clone(),
        comment: form.asks_comment(),
        comment_zh: form.comment_zh.clone(),
        comment_en: form.comment_en.clone(),
        extras,
        error_field: error.as_ref().map_or("", |error| error.field),
        error: error.map(|error| {
            let message = text.about(&label(text, error.field), &text.problem(&error.problem));
            format!("{} {message}", text.kb_not_saved)
        }),
    }
}

/// The page; `refused` is an inbox's form as typed with why it was not saved.
pub(super) async fn csat_page(
    state: &AppState,
    agent: &Agent,
    refused: Option<(i64, CsatForm, ValidationError)>,
    notice: Option<String>,
) -> PageResult {
    let failed = PageError::for_agent(agent);
    let text = text_for(agent);
    let workspace = agent.user.workspace_id;
    let settings = settings(state, workspace).await.map_err(failed)?;
    let defaults = default_inbox_csat();
    let default_comment = defaults.comment.clone().unwrap_or_else(|| defaults.rating.clone());
    let mut refused = refused;
    let mut inboxes = Vec::new();
    for inbox in state.store.inboxes(workspace).await.map_err(|error| failed(error.into()))? {
        let stored = settings.inbox(inbox.id);
        let configured = stored.is_some();
        match refused.take_if(|(id, _, _)| *id == inbox.id.0) {
            Some((_, form, error)) => {
                inboxes.push(section(text, inbox, configured, &form, Some(error)));
            }
            None => {
                let form = CsatForm::from_csat(stored.unwrap_or(&defaults), &default_comment);
                inboxes.push(section(text, inbox, configured, &form, None));
            }
        }
    }
    Ok(render(&CsatPage {
        chrome: Chrome::new(agent, "csat"),
        can_edit: agent.user.is_manager(),
        inboxes,
        notice,
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

pub(super) async fn show_csat_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    let notice = query.notice.map(|_| text_for(&agent).saved.to_owned());
    csat_page(&state, &agent, None, notice).await
}
