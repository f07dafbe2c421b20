//! Business actions: their definitions as the business wrote them, enabled or not. They take
//! part in the answer engine, so every change is a knowledge change.
//!
//! Like the other knowledge writes (see `knowledge`), a change locks the workspace row first,
//! so a workspace's knowledge changes run one at a time and their times follow commit order.

use tandem_domain::{Action, WorkspaceId};

use super::sql::{Db, execute, get, json, query, to_json};
use crate::{Change, Entity, StoreError, StoreResult, now_millis};

/// Locks the workspace row (the first in the crate's lock order).
async fn lock_workspace(db: &Db, workspace: WorkspaceId) -> StoreResult<()> {
    execute(db, "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE", &[&workspace.0])
        .await?;
    Ok(())
}

pub(super) async fn actions(db: &Db, workspace: WorkspaceId) -> StoreResult<Vec<Action>> {
    // SQLite's BINARY collation: byte order, whatever the database's locale.
    let rows = query(
        db,
        "SELECT definition, enabled, updated_at FROM actions WHERE workspace_id = $1
         ORDER BY key COLLATE \"C\"",
        &[&workspace.0],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let mut action: Action = json(row, 0)?
                .ok_or_else(|| StoreError::database("an action without a definition"))?;
            action.enabled = get(row, 1)?;
            action.updated_at = get(row, 2)?;
            Ok(action)
        })
        .collect()
}

pub(super) async fn save_actions(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    actions: Vec<Action>,
) -> StoreResult<Vec<Action>> {
    lock_workspace(db, workspace).await?;
    let now = now_millis();
    let mut saved = Vec::with_capacity(actions.len());
    for mut action in actions {
        action.updated_at = now;
        execute(
            db,
            "INSERT INTO actions (workspace_id, key, definition, enabled, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace_id, key) DO UPDATE SET definition = excluded.definition,
                enabled = excluded.enabled, updated_at = excluded.updated_at",
            &[&workspace.0, &action.key, &to_json(&action)?, &action.enabled, &now],
        )
        .await?;
        saved.push(action);
    }
    // Actions are answered like articles: the engine is rebuilt with them.
    changes.push(Change::Knowledge(workspace));
    Ok(saved)
}

pub(super) async fn delete_action(
    db: &Db,
    changes: &mut Vec<Change>,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<()> {
    lock_workspace(db, workspace).await?;
    let deleted = execute(
        db,
        "DELETE FROM actions WHERE workspace_id = $1 AND key = $2",
        &[&workspace.0, &key],
    )
    .await?;
    if deleted == 0 {
        return Err(StoreError::NotFound(Entity::Action));
    }
    changes.push(Change::Knowledge(workspace));
    Ok(())
}
