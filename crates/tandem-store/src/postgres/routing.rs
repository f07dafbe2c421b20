//! What routing reads and edits: queues and their rules, the workspace's escalation policy,
//! and each agent's skills, capacity and presence.

use tandem_domain::{
    AgentRouting, EscalationPolicy, Presence, Queue, QueueId, QueueRouting, UserId, WorkspaceId,
};

use super::sql::{
    Db, code, execute, get, is_unique_violation, json, query, query_one, query_opt, to_json,
};
use crate::{Conflict, Entity, StoreError, StoreResult, now_millis};

pub(super) async fn create_queue(
    db: &Db,
    workspace: WorkspaceId,
    name: String,
    description: String,
    routing: QueueRouting,
) -> StoreResult<Queue> {
    // A taken name fails the insert (and so the transaction): answered as the conflict at once.
    let inserted = query_one(
        db,
        "INSERT INTO queues (workspace_id, name, description, routing) VALUES ($1, $2, $3, $4)
         RETURNING id",
        &[&workspace.0, &name, &description, &to_json(&routing)?],
    )
    .await;
    let row = match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(Conflict::QueueNameTaken(name).into());
        }
        other => other?,
    };
    Ok(Queue { id: QueueId(get(&row, 0)?), workspace_id: workspace, name, description, routing })
}

pub(super) async fn update_queue(db: &Db, queue: Queue) -> StoreResult<Queue> {
    let updated = execute(
        db,
        "UPDATE queues SET name = $3, description = $4, routing = $5 WHERE id = $1 AND workspace_id = $2",
        &[&queue.id.0, &queue.workspace_id.0, &queue.name, &queue.description, &to_json(&queue.routing)?],
    )
    .await;
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

pub(super) async fn queues(db: &Db, workspace: WorkspaceId) -> StoreResult<Vec<Queue>> {
    let rows = query(
        db,
        "SELECT id, workspace_id, name, description, routing FROM queues WHERE workspace_id = $1 ORDER BY id",
        &[&workspace.0],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Queue {
                id: QueueId(get(row, 0)?),
                workspace_id: WorkspaceId(get(row, 1)?),
                name: get(row, 2)?,
                description: get(row, 3)?,
                routing: json(row, 4)?.unwrap_or_default(),
            })
        })
        .collect()
}

pub(super) async fn escalation_policy(
    db: &Db,
    workspace: WorkspaceId,
) -> StoreResult<EscalationPolicy> {
    let row = query_opt(
        db,
        "SELECT policy FROM escalation_policies WHERE workspace_id = $1",
        &[&workspace.0],
    )
    .await?;
    Ok(row.map(|row| json(&row, 0)).transpose()?.flatten().unwrap_or_default())
}

pub(super) async fn save_escalation_policy(
    db: &Db,
    workspace: WorkspaceId,
    mut policy: EscalationPolicy,
) -> StoreResult<EscalationPolicy> {
    policy.updated_at = now_millis();
    execute(
        db,
        "INSERT INTO escalation_policies (workspace_id, policy, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (workspace_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
        &[&workspace.0, &to_json(&policy)?, &policy.updated_at],
    )
    .await?;
    Ok(policy)
}

pub(super) async fn agent_routing(
    db: &Db,
    workspace: WorkspaceId,
) -> StoreResult<Vec<AgentRouting>> {
    let rows = query(
        db,
        "SELECT u.id, r.skills, r.capacity, r.presence, r.presence_at
         FROM users u LEFT JOIN agent_routing r ON r.user_id = u.id
         WHERE u.workspace_id = $1 AND u.active ORDER BY u.id",
        &[&workspace.0],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let user = UserId(get(row, 0)?);
            let Some(skills) = json(row, 1)? else {
                return Ok(AgentRouting::new(user));
            };
            Ok(AgentRouting {
                user_id: user,
                skills,
                capacity: json(row, 2)?.unwrap_or_default(),
                presence: code(row, 3, Presence::parse)?,
                presence_at: get(row, 4)?,
            })
        })
        .collect()
}

pub(super) async fn save_agent_routing(
    db: &Db,
    routing: AgentRouting,
) -> StoreResult<AgentRouting> {
    // The agent must exist (users are never deleted; the key-share lock is the one the foreign
    // key takes anyway). The write is one atomic upsert: the last writer wins, as on SQLite.
    let known =
        query_opt(db, "SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE", &[&routing.user_id.0])
            .await?
            .is_some();
    if !known {
        return Err(StoreError::NotFound(Entity::Agent));
    }
    execute(
        db,
        "INSERT INTO agent_routing (user_id, skills, capacity, presence, presence_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET skills = excluded.skills, capacity = excluded.capacity,
            presence = excluded.presence, presence_at = excluded.presence_at",
        &[
            &routing.user_id.0,
            &to_json(&routing.skills)?,
            &to_json(&routing.capacity)?,
            &routing.presence.as_str(),
            &routing.presence_at,
        ],
    )
    .await?;
    Ok(routing)
}
