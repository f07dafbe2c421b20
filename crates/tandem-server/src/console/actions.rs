//! Settings → Actions: the workspace's business actions listed for every agent, and for
//! managers (admins and supervisors) enable, disable, delete (after a confirmation step) and a
//! paste-in TOML or JSON form that imports new actions or replaces one being edited.
//!
//! Saving goes through `tandem_bot::actions::parse`, the same check as the API and the CLI: every
//! problem is shown with the text kept, and nothing is saved unless every action is valid.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tandem_bot::actions::{self, ActionError};
use tandem_domain::{Action, ValidationError};

use super::{Chrome, PageAgent, PageError, PageResult, render};
use crate::AppState;
use crate::auth::Agent;
use crate::error::ApiError;
use crate::i18n::Text;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings/actions", get(show_actions).post(save_actions))
        .route("/settings/actions/{key}", post(change_action))
}

fn require_manager(agent: &Agent) -> Result<(), PageError> {
    agent.require_manager().map_err(PageError::for_agent(agent))
}

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
struct ActionsPage {
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
struct PageQuery {
    notice: Option<String>,
    /// Prefill the form with this action.
    edit: Option<String>,
    /// Ask to confirm deleting this action.
    delete: Option<String>,
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

/// A problem as the page shows it; a file-wide problem (a syntax error) names no action.
fn problem_line(problem: &ActionError) -> String {
    if problem.action.is_empty() {
        format!("{}: {}", problem.field, problem.reason)
    } else {
        problem.to_string()
    }
}

async fn actions_page(
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

async fn show_actions(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Query(query): Query<PageQuery>,
) -> PageResult {
    Ok(render(&actions_page(&state, &agent, query, None, Vec::new()).await?))
}

#[derive(Debug, Deserialize)]
struct SaveForm {
    csrf: String,
    #[serde(default)]
    content: String,
    /// The key of the action being edited, kept so a refused edit stays an edit.
    #[serde(default)]
    editing: String,
}

/// Imports the pasted TOML or JSON: all of it, or nothing with every problem named.
async fn save_actions(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Form(form): Form<SaveForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.check_csrf(&form.csrf).map_err(failed)?;
    require_manager(&agent)?;
    let text = Text::for_locale(agent.user.locale);
    let problems = match actions::parse(&form.content) {
        Ok(parsed) if parsed.is_empty() => vec![text.act_empty.to_owned()],
        Ok(parsed) => {
            state
                .store
                .save_actions(agent.user.workspace_id, parsed)
                .await
                .map_err(|error| failed(error.into()))?;
            return Ok(Redirect::to("/settings/actions?notice=saved").into_response());
        }
        Err(problems) => problems.iter().map(problem_line).collect(),
    };
    let query = PageQuery {
        edit: Some(form.editing).filter(|key| !key.is_empty()),
        ..PageQuery::default()
    };
    let page = actions_page(&state, &agent, query, Some(form.content), problems).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}

#[derive(Debug, Deserialize)]
struct ChangeForm {
    csrf: String,
    /// enable, disable or delete.
    action: String,
}

async fn change_action(
    State(state): State<AppState>,
    PageAgent(agent): PageAgent,
    Path(key): Path<String>,
    Form(form): Form<ChangeForm>,
) -> PageResult {
    let failed = PageError::for_agent(&agent);
    agent.check_csrf(&form.csrf).map_err(failed)?;
    require_manager(&agent)?;
    let workspace = agent.user.workspace_id;
    let store_failed = |error: tandem_store::StoreError| failed(error.into());
    let enabled = match form.action.as_str() {
        "enable" => true,
        "disable" => false,
        "delete" => {
            state.store.delete_action(workspace, &key).await.map_err(store_failed)?;
            return Ok(Redirect::to("/settings/actions?notice=deleted").into_response());
        }
        _ => {
            return Err(failed(ApiError::Invalid(ValidationError {
                field: "action",
                reason: "must be enable, disable or delete".into(),
            })));
        }
    };
    let mut action = state
        .store
        .actions(workspace)
        .await
        .map_err(store_failed)?
        .into_iter()
        .find(|action| action.key == key)
        .ok_or_else(|| failed(ApiError::NotFound(tandem_store::Entity::Action)))?;
    action.enabled = enabled;
    state.store.save_actions(workspace, vec![action]).await.map_err(store_failed)?;
    let notice = if enabled { "enabled" } else { "disabled" };
    Ok(Redirect::to(&format!("/settings/actions?notice={notice}#action-{key}")).into_response())
}
