//! `GET /knowledge/import`: the import form (admins and supervisors), where JSONL, CSV or
//! Markdown is pasted; the import action shows it again with every problem of a refused paste.

use askama::Template;

use crate::console::{Chrome, PageAgent, PageResult, render, require_manager};

#[derive(Template)]
#[template(path = "pages/knowledge_import.html")]
pub(super) struct ImportPage {
    pub(super) chrome: Chrome,
    pub(super) content: String,
    pub(super) format: String,
    pub(super) publish: bool,
    /// Every problem, "line N: message".
    pub(super) errors: Vec<String>,
}

pub(super) async fn show_import_page(PageAgent(agent): PageAgent) -> PageResult {
    require_manager(&agent)?;
    Ok(render(&ImportPage {
        chrome: Chrome::new(&agent, "knowledge"),
        content: String::new(),
        format: "jsonl".into(),
        publish: true,
        errors: Vec::new(),
    }))
}
