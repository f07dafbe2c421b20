//! Outbound webhooks in SQLite: endpoints, the outbox and the deliveries a worker claims and
//! records.
//!
//! Events are written by [`record`], called by the write that makes the change an event
//! reports, in that write's transaction: a committed change always has its event and a rolled
//! back one never does. The payload is built from the same Rust values the change wrote (the
//! conversation, its customer, the message, the packet), so a field added to them reaches the
//! payload without a migration.
//!
//! Each function runs on a connection the engine hands it: writes inside the writer's group
//! transaction, reads on a pooled read connection.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use tandem_domain::{
    Conversation, ConversationId, InboxId, MAX_WEBHOOK_ENDPOINTS, Millis, WebhookDelivery,
    WebhookDeliveryId, WebhookDeliveryStatus, WebhookEndpoint, WebhookEndpointId, WebhookEventId,
    WebhookEventType, WorkspaceId,
};

use super::rows::{json_column, text_enum, to_json};
use crate::shared::webhooks::{
    DELIVERY_COLUMNS, DISABLED, ENDPOINT_COLUMNS, event_names, settled, subscribes,
};
use crate::{
    Conflict, DueWebhook, Entity, NewWebhookEndpoint, StoreError, StoreResult, WebhookAttempt,
    WebhookEndpointUpdate, WebhookEvent, now_millis,
};

fn endpoint_from_row(row: &Row<'_>) -> rusqlite::Result<WebhookEndpoint> {
    let events: Vec<String> = json_column(row, 4)?.unwrap_or_default();
    Ok(WebhookEndpoint {
        id: WebhookEndpointId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        url: row.get(2)?,
        description: row.get(3)?,
        // A name this build does not know (written by a newer one) is skipped, not fatal.
        events: events.iter().filter_map(|name| WebhookEventType::parse(name)).collect(),
        active: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        inbox_id: row.get::<_, Option<i64>>(8)?.map(tandem_domain::InboxId),
    })
}

/// A delivery from [`DELIVERY_COLUMNS`] of `webhook_deliveries d JOIN webhook_events v`.
fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: WebhookDeliveryId(row.get(0)?),
        endpoint_id: WebhookEndpointId(row.get(1)?),
        event_id: WebhookEventId(row.get(2)?),
        event_type: text_enum(row, 3, WebhookEventType::parse)?,
        status: text_enum(row, 4, WebhookDeliveryStatus::parse)?,
        attempts: row.get(5)?,
        next_attempt_at: row.get(6)?,
        last_attempt_at: row.get(7)?,
        response_status: row.get(8)?,
        error: row.get(9)?,
        created_at: row.get(10)?,
        delivered_at: row.get(11)?,
    })
}

pub(super) fn load_endpoint(
    connection: &Connection,
    id: WebhookEndpointId,
) -> StoreResult<Option<WebhookEndpoint>> {
    Ok(connection
        .prepare_cached(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?1"))?
        .query_row([id.0], endpoint_from_row)
        .optional()?)
}

pub(super) fn endpoints(
    connection: &Connection,
    workspace: WorkspaceId,
) -> StoreResult<Vec<WebhookEndpoint>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = ?1 ORDER BY id"
    ))?;
    let rows = statement.query_map([workspace.0], endpoint_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn create_endpoint(
    connection: &Connection,
    endpoint: NewWebhookEndpoint,
) -> StoreResult<WebhookEndpoint> {
    // Counted in the writer's transaction: concurrent creates cannot pass the limit together.
    let existing: i64 = connection
        .prepare_cached("SELECT COUNT(*) FROM webhook_endpoints WHERE workspace_id = ?1")?
        .query_row([endpoint.workspace_id.0], |row| row.get(0))?;
    if existing as usize >= MAX_WEBHOOK_ENDPOINTS {
        return Err(Conflict::WebhookEndpointLimit(MAX_WEBHOOK_ENDPOINTS).into());
    }
    let now = now_millis();
    connection
        .prepare_cached(
            "INSERT INTO webhook_endpoints (workspace_id, url, description, events, secret, active, created_at, updated_at, inbox_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        )?
        .execute(params![
            endpoint.workspace_id.0,
            endpoint.url,
            endpoint.description,
            event_names(&endpoint.events)?,
            endpoint.secret,
            endpoint.active,
            now,
            endpoint.inbox_id.map(|inbox| inbox.0)
        ])?;
    Ok(crate::shared::created::webhook_endpoint(connection.last_insert_rowid(), endpoint, now))
}

pub(super) fn update_endpoint(
    connection: &Connection,
    id: WebhookEndpointId,
    update: WebhookEndpointUpdate,
) -> StoreResult<WebhookEndpoint> {
    let now = now_millis();
    let events = update.events.as_deref().map(event_names).transpose()?;
    let changed = connection
        .prepare_cached(
            "UPDATE webhook_endpoints SET
                url = COALESCE(?2, url),
                description = COALESCE(?3, description),
                events = COALESCE(?4, events),
                active = COALESCE(?5, active),
                secret = COALESCE(?6, secret),
                updated_at = ?7
             WHERE id = ?1",
        )?
        .execute(params![
            id.0,
            update.url,
            update.description,
            events,
            update.active,
            update.secret,
            now
        ])?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::WebhookEndpoint));
    }
    if update.active == Some(false) {
        connection
            .prepare_cached(
                "UPDATE webhook_deliveries SET status = 'failed', error = ?2, next_attempt_at = NULL
                 WHERE endpoint_id = ?1 AND status = 'pending'",
            )?
            .execute(params![id.0, DISABLED])?;
    }
    load_endpoint(connection, id)?.ok_or(StoreError::NotFound(Entity::WebhookEndpoint))
}

pub(super) fn delete_endpoint(connection: &Connection, id: WebhookEndpointId) -> StoreResult<()> {
    // The deliveries and test events go with it (ON DELETE CASCADE); events that other
    // endpoints still deliver stay.
    let deleted = connection
        .prepare_cached("DELETE FROM webhook_endpoints WHERE id = ?1")?
        .execute([id.0])?;
    if deleted == 0 {
        return Err(StoreError::NotFound(Entity::WebhookEndpoint));
    }
    Ok(())
}

pub(super) fn deliveries(
    connection: &Connection,
    endpoint: WebhookEndpointId,
    limit: u32,
) -> StoreResult<Vec<WebhookDelivery>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
         WHERE d.endpoint_id = ?1 ORDER BY d.id DESC LIMIT ?2"
    ))?;
    let rows = statement.query_map(params![endpoint.0, limit], delivery_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn load_delivery(connection: &Connection, id: WebhookDeliveryId) -> StoreResult<WebhookDelivery> {
    connection
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
             WHERE d.id = ?1"
        ))?
        .query_row([id.0], delivery_from_row)
        .optional()?
        .ok_or(StoreError::NotFound(Entity::WebhookDelivery))
}

pub(super) fn enqueue_test(
    connection: &Connection,
    endpoint: WebhookEndpointId,
) -> StoreResult<WebhookDelivery> {
    let now = now_millis();
    let endpoint = load_endpoint(connection, endpoint)?
        .ok_or(StoreError::NotFound(Entity::WebhookEndpoint))?;
    let data = serde_json::json!({
        "endpoint_id": endpoint.id,
        "message": "A test event from Tandem: this endpoint receives and verifies deliveries.",
    });
    connection
        .prepare_cached(
            "INSERT INTO webhook_events (workspace_id, type, data, endpoint_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            endpoint.workspace_id.0,
            WebhookEventType::Test.as_str(),
            to_json(&data)?,
            endpoint.id.0,
            now
        ])?;
    let event = connection.last_insert_rowid();
    connection
        .prepare_cached(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?3)",
        )?
        .execute(params![endpoint.id.0, event, now])?;
    load_delivery(connection, WebhookDeliveryId(connection.last_insert_rowid()))
}

pub(super) fn claim(
    connection: &Connection,
    now: Millis,
    lease_until: Millis,
    limit: u32,
) -> StoreResult<Vec<DueWebhook>> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS}, v.workspace_id, v.data, v.created_at, e.url, e.secret, e.inbox_id
         FROM webhook_deliveries d
         JOIN webhook_events v ON v.id = d.event_id
         JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 AND e.active
           AND (e.inbox_id IS NULL OR NOT EXISTS (
               SELECT 1 FROM webhook_deliveries p JOIN webhook_events pv ON pv.id = p.event_id
               WHERE p.endpoint_id = d.endpoint_id AND p.status = 'pending' AND p.id < d.id
                 AND pv.conversation_id = v.conversation_id))
         ORDER BY d.next_attempt_at, d.id LIMIT ?2"
    ))?;
    let rows = statement.query_map(params![now, limit], |row| {
        let delivery = delivery_from_row(row)?;
        let data: String = row.get(13)?;
        let data = serde_json::from_str(&data).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(13, rusqlite::types::Type::Text, error.into())
        })?;
        let event = WebhookEvent {
            id: delivery.event_id,
            workspace_id: WorkspaceId(row.get(12)?),
            event_type: delivery.event_type,
            created_at: row.get(14)?,
            data,
        };
        Ok(DueWebhook {
            delivery,
            event,
            url: row.get(15)?,
            secret: row.get(16)?,
            inbox_id: row.get::<_, Option<i64>>(17)?.map(tandem_domain::InboxId),
        })
    })?;
    let mut due: Vec<DueWebhook> = rows.collect::<rusqlite::Result<_>>()?;
    let mut lease = connection
        .prepare_cached("UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE id = ?1")?;
    for webhook in &mut due {
        lease.execute(params![webhook.delivery.id.0, lease_until])?;
        webhook.delivery.next_attempt_at = Some(lease_until);
    }
    Ok(due)
}

pub(super) fn next_due(connection: &Connection) -> StoreResult<Option<Millis>> {
    Ok(connection
        .prepare_cached(
            "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d
             JOIN webhook_events v ON v.id = d.event_id
             JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.status = 'pending' AND (e.inbox_id IS NULL OR NOT EXISTS (
                 SELECT 1 FROM webhook_deliveries p JOIN webhook_events pv ON pv.id = p.event_id
                 WHERE p.endpoint_id = d.endpoint_id AND p.status = 'pending' AND p.id < d.id
                   AND pv.conversation_id = v.conversation_id))",
        )?
        .query_row([], |row| row.get(0))?)
}

pub(super) fn finish(
    connection: &Connection,
    id: WebhookDeliveryId,
    attempt: WebhookAttempt,
) -> StoreResult<()> {
    let active: Option<bool> = connection
        .prepare_cached(
            "SELECT e.active FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.id = ?1",
        )?
        .query_row([id.0], |row| row.get(0))
        .optional()?;
    let Some(active) = active else { return Ok(()) };
    let (status, next_attempt_at, delivered_at, error) =
        settled(attempt.outcome, attempt.at, attempt.error, active);
    connection
        .prepare_cached(
            "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1, next_attempt_at = ?3,
                last_attempt_at = ?4, response_status = ?5, error = ?6, delivered_at = ?7
             WHERE id = ?1",
        )?
        .execute(params![
            id.0,
            status.as_str(),
            next_attempt_at,
            attempt.at,
            attempt.response_status,
            error,
            delivered_at
        ])?;
    Ok(())
}

pub(super) fn prune(connection: &Connection, before: Millis) -> StoreResult<u64> {
    let deliveries = connection
        .prepare_cached(
            "DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_at < ?1",
        )?
        .execute([before])?;
    connection
        .prepare_cached(
            "DELETE FROM webhook_events WHERE created_at < ?1
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
        )?
        .execute([before])?;
    Ok(deliveries as u64)
}

/// The active endpoints of `workspace` subscribed to `event`.
/// The active endpoints of the workspace subscribed to `event`: those of every inbox, and
/// those of `inbox` (an event about one of its conversations).
fn subscribers(
    connection: &Connection,
    workspace: WorkspaceId,
    event: WebhookEventType,
    inbox: Option<InboxId>,
) -> StoreResult<Vec<WebhookEndpointId>> {
    let mut statement = connection.prepare_cached(
        "SELECT id, events FROM webhook_endpoints
         WHERE workspace_id = ?1 AND active AND (inbox_id IS NULL OR inbox_id = ?2) ORDER BY id",
    )?;
    let rows = statement.query_map(params![workspace.0, inbox.map(|inbox| inbox.0)], |row| {
        let events: Vec<String> = json_column(row, 1)?.unwrap_or_default();
        Ok((WebhookEndpointId(row.get(0)?), events))
    })?;
    let mut subscribed = Vec::new();
    for row in rows {
        let (endpoint, events) = row?;
        if subscribes(&events, event) {
            subscribed.push(endpoint);
        }
    }
    Ok(subscribed)
}

/// The conversation as events describe it (see [`crate::shared::webhooks::snapshot`]).
fn snapshot(connection: &Connection, conversation: &Conversation) -> StoreResult<Value> {
    let channel: String = connection
        .prepare_cached("SELECT channel FROM inboxes WHERE id = ?1")?
        .query_row([conversation.inbox_id.0], |row| row.get(0))?;
    let customer = super::customers::customer(connection, conversation.customer_id)?
        .ok_or(StoreError::NotFound(Entity::Customer))?;
    Ok(crate::shared::webhooks::snapshot(conversation, &channel, &customer))
}

/// Writes `event` about `conversation` to the outbox with a delivery for every active endpoint
/// of its workspace that subscribes to it; `data` makes the payload from the conversation's
/// snapshot, only when someone subscribes.
pub(super) fn record(
    connection: &Connection,
    conversation: &Conversation,
    event: WebhookEventType,
    at: Millis,
    data: impl FnOnce(Value) -> StoreResult<Value>,
) -> StoreResult<()> {
    let endpoints =
        subscribers(connection, conversation.workspace_id, event, Some(conversation.inbox_id))?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let data = data(snapshot(connection, conversation)?)?;
    let about = Some(conversation.id);
    insert_event(connection, conversation.workspace_id, (event, about), at, &data, endpoints)
}

/// Records a workspace's event that concerns no one conversation (an insight alert).
pub(super) fn record_for_workspace(
    connection: &Connection,
    workspace: WorkspaceId,
    event: WebhookEventType,
    at: Millis,
    data: &Value,
) -> StoreResult<()> {
    let endpoints = subscribers(connection, workspace, event, None)?;
    if endpoints.is_empty() {
        return Ok(());
    }
    insert_event(connection, workspace, (event, None), at, data, endpoints)
}

/// Records an event (with the conversation it is about, if one) and its deliveries.
fn insert_event(
    connection: &Connection,
    workspace: WorkspaceId,
    (event, about): (WebhookEventType, Option<ConversationId>),
    at: Millis,
    data: &Value,
    endpoints: Vec<WebhookEndpointId>,
) -> StoreResult<()> {
    connection
        .prepare_cached(
            "INSERT INTO webhook_events (workspace_id, type, data, created_at, conversation_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            workspace.0,
            event.as_str(),
            to_json(data)?,
            at,
            about.map(|conversation| conversation.0)
        ])?;
    let event = connection.last_insert_rowid();
    let mut delivery = connection.prepare_cached(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?3)",
    )?;
    for endpoint in endpoints {
        delivery.execute(params![endpoint.0, event, at])?;
    }
    Ok(())
}
