//! Business actions: their definitions as the business wrote them, enabled or not. They take
//! part in the answer engine, so every change is a knowledge change.

use rusqlite::{Connection, params};
use tandem_domain::{Action, WorkspaceId};

use super::rows::{json_column, to_json};
use crate::{Change, Entity, StoreError, StoreResult, now_millis};

pub(super) fn actions(connection: &Connection, workspace: WorkspaceId) -> StoreResult<Vec<Action>> {
    let mut statement = connection.prepare(
        "SELECT definition, enabled, updated_at FROM actions WHERE workspace_id = ?1 ORDER BY key",
    )?;
    let rows = statement.query_map([workspace.0], |row| {
        let mut action: Action = json_column(row, 0)?.ok_or(rusqlite::Error::InvalidColumnType(
            0,
            "definition".into(),
            rusqlite::types::Type::Null,
        ))?;
        action.enabled = row.get(1)?;
        action.updated_at = row.get(2)?;
        Ok(action)
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn save_actions(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    actions: Vec<Action>,
) -> StoreResult<Vec<Action>> {
    let now = now_millis();
    let mut saved = Vec::with_capacity(actions.len());
    for mut action in actions {
        action.updated_at = now;
        connection
            .prepare_cached(
                "INSERT INTO actions (workspace_id, key, definition, enabled, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (workspace_id, key) DO UPDATE SET definition = excluded.definition,
                    enabled = excluded.enabled, updated_at = excluded.updated_at",
            )?
            .execute(params![workspace.0, action.key, to_json(&action)?, action.enabled, now])?;
        saved.push(action);
    }
    // Actions are answered like articles: the engine is rebuilt with them.
    changes.push(Change::Knowledge(workspace));
    Ok(saved)
}

pub(super) fn delete_action(
    connection: &Connection,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<()> {
    let deleted = connection
        .prepare_cached("DELETE FROM actions WHERE workspace_id = ?1 AND key = ?2")?
        .execute(params![workspace.0, key])?;
    if deleted == 0 {
        return Err(StoreError::NotFound(Entity::Action));
    }
    changes.push(Change::Knowledge(workspace));
    Ok(())
}
