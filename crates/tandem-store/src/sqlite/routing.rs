//! What routing reads and edits: queues and their rules, the workspace's escalation policy,
//! and each agent's skills, capacity and presence.

use rusqlite::{Connection, OptionalExtension, params};
use tandem_domain::{
    AgentRouting, EscalationPolicy, Presence, Queue, QueueId, QueueRouting, UserId, WorkspaceId,
};

use super::rows::{is_unique_violation, json_column, text_enum, to_json};
use crate::{Conflict, Entity, StoreError, StoreResult, now_millis};

pub(super) fn create_queue(
    connection: &Connection,
    workspace: WorkspaceId,
    name: String,
    description: String,
    routing: QueueRouting,
) -> StoreResult<Queue> {
    let inserted = connection.execute(
        "INSERT INTO queues (workspace_id, name, description, routing) VALUES (?1, ?2, ?3, ?4)",
        params![workspace.0, name, description, to_json(&routing)?],
    );
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(Conflict::QueueNameTaken(name).into());
        }
        other => other?,
    };
    Ok(Queue {
        id: QueueId(connection.last_insert_rowid()),
        workspace_id: workspace,
        name,
        description,
        routing,
    })
}

pub(super) fn update_queue(connection: &Connection, queue: Queue) -> StoreResult<Queue> {
    let updated = connection.execute(
        "UPDATE queues SET name = ?3, description = ?4, routing = ?5 WHERE id = ?1 AND workspace_id = ?2",
        params![queue.id.0, queue.workspace_id.0, queue.name, queue.description, to_json(&queue.routing)?],
    );
    match updated {
        Err(error) if is_unique_violation(&error) => {
            Err(Conflict::QueueNameTaken(queue.name).into())
        }
        Ok(0) => Err(StoreError::NotFound(Entity::Queue)),
        other => {
            other?;
            Ok(queue)
        }
    }
}

pub(super) fn queues(connection: &Connection, workspace: WorkspaceId) -> StoreResult<Vec<Queue>> {
    let mut statement = connection.prepare(
        "SELECT id, workspace_id, name, description, routing FROM queues WHERE workspace_id = ?1 ORDER BY id",
    )?;
    let rows = statement.query_map([workspace.0], |row| {
        Ok(Queue {
            id: QueueId(row.get(0)?),
            workspace_id: WorkspaceId(row.get(1)?),
            name: row.get(2)?,
            description: row.get(3)?,
            routing: json_column(row, 4)?.unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn escalation_policy(
    connection: &Connection,
    workspace: WorkspaceId,
) -> StoreResult<EscalationPolicy> {
    Ok(connection
        .prepare_cached("SELECT policy FROM escalation_policies WHERE workspace_id = ?1")?
        .query_row([workspace.0], |row| json_column(row, 0))
        .optional()?
        .flatten()
        .unwrap_or_default())
}

pub(super) fn save_escalation_policy(
    connection: &Connection,
    workspace: WorkspaceId,
    mut policy: EscalationPolicy,
) -> StoreResult<EscalationPolicy> {
    policy.updated_at = now_millis();
    connection
        .prepare_cached(
            "INSERT INTO escalation_policies (workspace_id, policy, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (workspace_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
        )?
        .execute(params![workspace.0, to_json(&policy)?, policy.updated_at])?;
    Ok(policy)
}

pub(super) fn agent_routing(
    connection: &Connection,
    workspace: WorkspaceId,
) -> StoreResult<Vec<AgentRouting>> {
    let mut statement = connection.prepare(
        "SELECT u.id, r.skills, r.capacity, r.presence, r.presence_at
         FROM users u LEFT JOIN agent_routing r ON r.user_id = u.id
         WHERE u.workspace_id = ?1 AND u.active ORDER BY u.id",
    )?;
    let rows = statement.query_map([workspace.0], |row| {
        let user = UserId(row.get(0)?);
        let Some(skills) = json_column(row, 1)? else {
            return Ok(AgentRouting::new(user));
        };
        Ok(AgentRouting {
            user_id: user,
            skills,
            capacity: json_column(row, 2)?.unwrap_or_default(),
            presence: text_enum(row, 3, Presence::parse)?,
            presence_at: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn save_agent_routing(
    connection: &Connection,
    routing: AgentRouting,
) -> StoreResult<AgentRouting> {
    if super::accounts::user(connection, routing.user_id)?.is_none() {
        return Err(StoreError::NotFound(Entity::Agent));
    }
    connection
        .prepare_cached(
            "INSERT INTO agent_routing (user_id, skills, capacity, presence, presence_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (user_id) DO UPDATE SET skills = excluded.skills, capacity = excluded.capacity,
                presence = excluded.presence, presence_at = excluded.presence_at",
        )?
        .execute(params![
            routing.user_id.0,
            to_json(&routing.skills)?,
            to_json(&routing.capacity)?,
            routing.presence.as_str(),
            routing.presence_at
        ])?;
    Ok(routing)
}
