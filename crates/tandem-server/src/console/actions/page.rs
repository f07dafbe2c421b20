//! `GET /settings/actions`: the actions list, with the paste-in form (empty, or filled with the
//! action being edited) and the confirmation step before a delete; the save action shows it
//! again with every problem of a refused paste.

use askama::Template;
use axum::extract::{Query, State};
use serde::Deserialize;
use tandem_domain::Action;

use crate::AppState;
use crate::auth::Agent;
use crate::console::{Chrome, PageAgent, PageError, PageResult, render};
use crate::i18n::Text;

/// One action as a row of the list.
#[derive(Debug)]
pub struct ActionRow {
    pub key: String,
    pub name: String,
    pub description: String,
    pub triggers: usize,
    /// `name (kind)` for each parameter.
    pub params: Vec<String>,
    /// `GET {env.SHOP_URL}/orders/{order_number}` for each step.
    pub steps: Vec<String>,
    pub requires_verified: bool,
    pub enabled: bool,
}

impl ActionRow {
    fn new(action: &Action) -> ActionRow {
        ActionRow {
            key: action.key.clone(),
            name: action.name.clone(),
            description: action.description.clone(),
            triggers: action.triggers.len(),
            params: action
                .params
                .iter()
                .map(|param| format!("{} ({})", param.name, param.kind.as_str()))
                .collect(),
            steps: action
                .steps
                .iter()
                .map(|step| format!("{} {}", step.method.as_str(), step.url))
                .collect(),
            requires_verified: action.requires_verified,
            enabled: action.enabled,
        }
    }
}

#[derive(Template)]
#[template(path = "pages/actions.html")]
pub(super) struct ActionsPage {
    chrome: Chrome,
    can_edit: bool,
    actions: Vec<ActionRow>,
    notice: Option<String>,
    /// The action a manager asked to delete, waiting for confirmation: (key, name).
    confirm_delete: Option<(String, String)>,
    /// The key of the action whose TOML fills the form ("" for a new import).
    editing: String,
    content: String,
    /// Every problem of the pasted text, "action: field: reason".
    errors: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    pub(super) notice: Option<String>,
    /// Prefill the form with this action.
    pub(super) edit: Option<String>,
    /// Ask to confirm deleting this action.
    pub(super) delete: Option<String>,
}

/// An action as a TOML file of one `[[action]]` table, the form the import reads back. Falls
/// back to JSON when TOML cannot hold a value (a JSON `null` in a request body).
fn action_as_toml(action: &Action) -> String {
    #[derive(serde::Serialize)]
    struct File {
        action: Vec<toml::Value>,
    }
    let as_toml = toml::Value::try_from(action).and_then(|mut value| {
        // The store sets the time of each save; a pasted one would only confuse.
        if let Some(table) = value.as_table_mut() {
            table.remove("updated_at");
        }
        toml::to_string(&File { action: vec![value] })
    });
    match as_toml {
        Ok(text) => text,
        Err(error) => {
            tracing::debug!(key = %action.key, %error, "action shown as JSON: TOML cannot hold it");
            serde_json::to_string_pretty(&[action]).unwrap_or_default()
        }
    }
}

pub(super) async fn actions_page(
    state: &AppState,
    agent: &Agent,
    query: PageQuery,
    content: Option<String>,
    errors: Vec<String>,
) -> Result<ActionsPage, PageError> {
    let failed = PageError::for_agent(agent);
    let text = Text::for_locale(agent.user.locale);
    let can_edit = agent.user.is_manager();
    let stored =
        state.store.actions(agent.user.workspace_id).await.map_err(|error| failed(error.into()))?;
    let find = |key: Option<&str>| {
        key.and_then(|key| stored.iter().find(|action| action.key == key)).filter(|_| can_edit)
    };
    let editing = find(query.edit.as_deref());
    let confirm_delete =
        find(query.delete.as_deref()).map(|action| (action.key.clone(), action.name.clone()));
    let notice = query.notice.as_deref().and_then(|notice| match notice {
        "saved" => Some(text.act_saved.to_owned()),
        "enabled" => Some(text.act_enabled_notice.to_owned()),
        "disabled" => Some(text.act_disabled_notice.to_owned()),
        "deleted" => Some(text.act_deleted.to_owned()),
        _ => None,
    });
    Ok(ActionsPage {
        chrome: Chrome::new(agent, "actions"),
        can_edit,
        actions: stored.iter().map(ActionRow::new).collect(),
        notice,
        confirm_delete,
        editing: editing.map(|action| action.key.clone()).unwrap_or_default(),
        content: content.or_else(|| editing.map(action_as_toml)).unwrap_or_default(),
        errors,
    })
}

pub(super) async fn show_actions_page(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<PageQuery>,
) -> PageResult {
    Ok(render(&actions_page(&state, &agent, query, None, Vec::new()).await?))
}
