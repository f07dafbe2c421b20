//! The version history under an article's edit form: every published version with its author,
//! the one customers are answered from marked live, and the conversations whose wordings it
//! took in from accepted suggestions, so people can see where a question came from.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tandem_domain::{Article, ArticleStatus, UserId};

use crate::AppState;
use crate::auth::Agent;
use crate::console::{PageError, format_time};

#[derive(Debug)]
pub struct VersionView {
    pub version: i64,
    pub title: String,
    pub answer: String,
    pub questions: Vec<String>,
    pub author: String,
    pub time: String,
    pub timestamp: i64,
    /// The version customers are answered from now.
    pub live: bool,
    /// The conversations whose wordings this version took in (accepted suggestions), by id.
    pub learnt_from: Vec<i64>,
}

/// The published versions of `article`, in the order the store lists them.
pub(super) async fn article_versions(
    state: &AppState,
    agent: &Agent,
    article: &Article,
) -> Result<Vec<VersionView>, PageError> {
    let fail = |error: tandem_store::StoreError| PageError::for_agent(agent)(error.into());
    let workspace = agent.user.workspace_id;
    let history = state.store.article_versions(workspace, &article.key).await.map_err(fail)?;
    let names: HashMap<UserId, String> = state
        .store
        .users(workspace)
        .await
        .map_err(fail)?
        .into_iter()
        .map(|user| (user.id, user.display_name))
        .collect();
    let mut learnt_from: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    for decision in state.store.suggestion_decisions(workspace).await.map_err(fail)? {
        if let (true, Some(key), Some(version)) =
            (decision.accepted, decision.article_key.as_deref(), decision.article_version)
            && key == article.key
        {
            learnt_from.entry(version).or_default().extend(decision.conversation_ids);
        }
    }
    let versions = history
        .into_iter()
        .map(|version| VersionView {
            learnt_from: learnt_from
                .remove(&version.version)
                .map(|ids| ids.into_iter().collect())
                .unwrap_or_default(),
            live: article.status == ArticleStatus::Published && version.version == article.version,
            version: version.version,
            author: version
                .author_id
                .and_then(|author| names.get(&author).cloned())
                .unwrap_or_default(),
            time: format_time(version.published_at),
            timestamp: version.published_at,
            title: version.title,
            answer: version.answer,
            questions: version.questions,
        })
        .collect();
    Ok(versions)
}
