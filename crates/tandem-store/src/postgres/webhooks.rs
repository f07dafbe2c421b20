//! Outbound webhooks in PostgreSQL: endpoints, the outbox and the deliveries a worker claims and
//! records.
//!
//! Events are written by [`record`], called by the write that makes the change an event
//! reports, in that write's transaction: a committed change always has its event and a rolled
//! back one never does. The payload is built from the same Rust values the change wrote (the
//! conversation, its customer, the message, the packet), so a field added to them reaches the
//! payload without a migration.
//!
//! Several nodes share the outbox. [`claim`] locks the due deliveries it takes (skipping those
//! another claimer holds) before it leases them, so each is handed to one claimer. The writes
//! that read an endpoint's state before they change what hangs off it lock the endpoint row
//! first (a share lock where it only must not change under them): endpoint, then its
//! deliveries.

use serde_json::Value;
use tandem_domain::{
    Conversation, ConversationId, InboxId, MAX_WEBHOOK_ENDPOINTS, Millis, WebhookDelivery,
    WebhookDeliveryId, WebhookDeliveryStatus, WebhookEndpoint, WebhookEndpointId, WebhookEventId,
    WebhookEventType, WorkspaceId,
};
use tokio_postgres::Row;

use super::sql::{Db, code, execute, get, json, query, query_one, query_opt, to_json};
use crate::shared::webhooks::{
    DELIVERY_COLUMNS, DISABLED, ENDPOINT_COLUMNS, event_names, settled, subscribes,
};
use crate::{
    Conflict, DueWebhook, Entity, NewWebhookEndpoint, StoreError, StoreResult, WebhookAttempt,
    WebhookEndpointUpdate, WebhookEvent, now_millis,
};

fn endpoint_from_row(row: &Row) -> StoreResult<WebhookEndpoint> {
    let events: Vec<String> = json(row, 4)?.unwrap_or_default();
    Ok(WebhookEndpoint {
        id: WebhookEndpointId(get(row, 0)?),
        workspace_id: WorkspaceId(get(row, 1)?),
        url: get(row, 2)?,
        description: get(row, 3)?,
        // A name this build does not know (written by a newer one) is skipped, not fatal.
        events: events.iter().filter_map(|name| WebhookEventType::parse(name)).collect(),
        active: get(row, 5)?,
        created_at: get(row, 6)?,
        updated_at: get(row, 7)?,
        inbox_id: get::<Option<i64>>(row, 8)?.map(tandem_domain::InboxId),
    })
}

/// A delivery from [`DELIVERY_COLUMNS`] of `webhook_deliveries d JOIN webhook_events v`.
fn delivery_from_row(row: &Row) -> StoreResult<WebhookDelivery> {
    let attempts: i64 = get(row, 5)?;
    let response_status: Option<i64> = get(row, 8)?;
    Ok(WebhookDelivery {
        id: WebhookDeliveryId(get(row, 0)?),
        endpoint_id: WebhookEndpointId(get(row, 1)?),
        event_id: WebhookEventId(get(row, 2)?),
        event_type: code(row, 3, WebhookEventType::parse)?,
        status: code(row, 4, WebhookDeliveryStatus::parse)?,
        attempts: u32::try_from(attempts).map_err(StoreError::database)?,
        next_attempt_at: get(row, 6)?,
        last_attempt_at: get(row, 7)?,
        response_status: response_status
            .map(u16::try_from)
            .transpose()
            .map_err(StoreError::database)?,
        error: get(row, 9)?,
        created_at: get(row, 10)?,
        delivered_at: get(row, 11)?,
    })
}

pub(super) async fn load_endpoint(
    db: &Db,
    id: WebhookEndpointId,
) -> StoreResult<Option<WebhookEndpoint>> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
    query_opt(db, &sql, &[&id.0]).await?.as_ref().map(endpoint_from_row).transpose()
}

pub(super) async fn endpoints(
    db: &Db,
    workspace: WorkspaceId,
) -> StoreResult<Vec<WebhookEndpoint>> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY id"
    );
    query(db, &sql, &[&workspace.0]).await?.iter().map(endpoint_from_row).collect()
}

pub(super) async fn create_endpoint(
    db: &Db,
    endpoint: NewWebhookEndpoint,
) -> StoreResult<WebhookEndpoint> {
    // Counted under the workspace's row lock: concurrent creates (from any node) count one
    // after another and cannot pass the limit together.
    execute(
        db,
        "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE",
        &[&endpoint.workspace_id.0],
    )
    .await?;
    let existing: i64 = get(
        &query_one(
            db,
            "SELECT COUNT(*) FROM webhook_endpoints WHERE workspace_id = $1",
            &[&endpoint.workspace_id.0],
        )
        .await?,
        0,
    )?;
    if existing as usize >= MAX_WEBHOOK_ENDPOINTS {
        return Err(Conflict::WebhookEndpointLimit(MAX_WEBHOOK_ENDPOINTS).into());
    }
    let now = now_millis();
    let row = query_one(
        db,
        "INSERT INTO webhook_endpoints (workspace_id, url, description, events, secret, active, created_at, updated_at, inbox_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id",
        &[
            &endpoint.workspace_id.0,
            &endpoint.url,
            &endpoint.description,
            &event_names(&endpoint.events)?,
            &endpoint.secret,
            &endpoint.active,
            &now,
            &endpoint.inbox_id.map(|inbox| inbox.0),
        ],
    )
    .await?;
    Ok(crate::shared::created::webhook_endpoint(get(&row, 0)?, endpoint, now))
}

pub(super) async fn update_endpoint(
    db: &Db,
    id: WebhookEndpointId,
    update: WebhookEndpointUpdate,
) -> StoreResult<WebhookEndpoint> {
    let now = now_millis();
    let events = update.events.as_deref().map(event_names).transpose()?;
    // The update locks the endpoint row; the deliveries are failed after it (endpoint, then
    // its deliveries), and events being written meanwhile wait for it (see `subscribers`).
    let changed = execute(
        db,
        "UPDATE webhook_endpoints SET
            url = COALESCE($2, url),
            description = COALESCE($3, description),
            events = COALESCE($4, events),
            active = COALESCE($5, active),
            secret = COALESCE($6, secret),
            updated_at = $7
         WHERE id = $1",
        &[&id.0, &update.url, &update.description, &events, &update.active, &update.secret, &now],
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound(Entity::WebhookEndpoint));
    }
    if update.active == Some(false) {
        execute(
            db,
            "UPDATE webhook_deliveries SET status = 'failed', error = $2, next_attempt_at = NULL
             WHERE endpoint_id = $1 AND status = 'pending'",
            &[&id.0, &DISABLED],
        )
        .await?;
    }
    load_endpoint(db, id).await?.ok_or(StoreError::NotFound(Entity::WebhookEndpoint))
}

pub(super) async fn delete_endpoint(db: &Db, id: WebhookEndpointId) -> StoreResult<()> {
    // The deliveries and test events go with it (ON DELETE CASCADE); events that other
    // endpoints still deliver stay.
    let deleted = execute(db, "DELETE FROM webhook_endpoints WHERE id = $1", &[&id.0]).await?;
    if deleted == 0 {
        return Err(StoreError::NotFound(Entity::WebhookEndpoint));
    }
    Ok(())
}

pub(super) async fn deliveries(
    db: &Db,
    endpoint: WebhookEndpointId,
    limit: u32,
) -> StoreResult<Vec<WebhookDelivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
         WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2"
    );
    query(db, &sql, &[&endpoint.0, &i64::from(limit)])
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
}

async fn load_delivery(db: &Db, id: WebhookDeliveryId) -> StoreResult<WebhookDelivery> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
         WHERE d.id = $1"
    );
    let row = query_opt(db, &sql, &[&id.0]).await?;
    delivery_from_row(&row.ok_or(StoreError::NotFound(Entity::WebhookDelivery))?)
}

pub(super) async fn enqueue_test(
    db: &Db,
    endpoint: WebhookEndpointId,
) -> StoreResult<WebhookDelivery> {
    let now = now_millis();
    // Share-locked: a concurrent delete waits for the test (or the test sees it gone).
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 FOR SHARE");
    let endpoint = query_opt(db, &sql, &[&endpoint.0])
        .await?
        .as_ref()
        .map(endpoint_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound(Entity::WebhookEndpoint))?;
    let data = serde_json::json!({
        "endpoint_id": endpoint.id,
        "message": "A test event from Tandem: this endpoint receives and verifies deliveries.",
    });
    let event: i64 = get(
        &query_one(
            db,
            "INSERT INTO webhook_events (workspace_id, type, data, endpoint_id, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &endpoint.workspace_id.0,
                &WebhookEventType::Test.as_str(),
                &to_json(&data)?,
                &endpoint.id.0,
                &now,
            ],
        )
        .await?,
        0,
    )?;
    let delivery: i64 = get(
        &query_one(
            db,
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $3) RETURNING id",
            &[&endpoint.id.0, &event, &now],
        )
        .await?,
        0,
    )?;
    load_delivery(db, WebhookDeliveryId(delivery)).await
}

pub(super) async fn claim(
    db: &Db,
    now: Millis,
    lease_until: Millis,
    limit: u32,
) -> StoreResult<Vec<DueWebhook>> {
    // Each due delivery is locked as it is taken; one another claimer holds (on any node) is
    // skipped, and one leased by a claim that committed meanwhile is due no more when
    // rechecked. The lease is then set in the same transaction.
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, v.workspace_id, v.data, v.created_at, e.url, e.secret, e.inbox_id
         FROM webhook_deliveries d
         JOIN webhook_events v ON v.id = d.event_id
         JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND e.active
           AND (e.inbox_id IS NULL OR NOT EXISTS (
               SELECT 1 FROM webhook_deliveries p JOIN webhook_events pv ON pv.id = p.event_id
               WHERE p.endpoint_id = d.endpoint_id AND p.status = 'pending' AND p.id < d.id
                 AND pv.conversation_id = v.conversation_id))
         ORDER BY d.next_attempt_at, d.id LIMIT $2
         FOR UPDATE OF d SKIP LOCKED"
    );
    let rows = query(db, &sql, &[&now, &i64::from(limit)]).await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        let delivery = delivery_from_row(row)?;
        let data: String = get(row, 13)?;
        let data = serde_json::from_str(&data).map_err(StoreError::database)?;
        let event = WebhookEvent {
            id: delivery.event_id,
            workspace_id: WorkspaceId(get(row, 12)?),
            event_type: delivery.event_type,
            created_at: get(row, 14)?,
            data,
        };
        due.push(DueWebhook {
            delivery,
            event,
            url: get(row, 15)?,
            secret: get(row, 16)?,
            inbox_id: get::<Option<i64>>(row, 17)?.map(tandem_domain::InboxId),
        });
    }
    if due.is_empty() {
        return Ok(due);
    }
    let ids: Vec<i64> = due.iter().map(|webhook| webhook.delivery.id.0).collect();
    execute(
        db,
        "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = ANY($1)",
        &[&ids, &lease_until],
    )
    .await?;
    for webhook in &mut due {
        webhook.delivery.next_attempt_at = Some(lease_until);
    }
    Ok(due)
}

pub(super) async fn next_due(db: &Db) -> StoreResult<Option<Millis>> {
    let row = query_one(
        db,
        "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d
             JOIN webhook_events v ON v.id = d.event_id
             JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.status = 'pending' AND (e.inbox_id IS NULL OR NOT EXISTS (
                 SELECT 1 FROM webhook_deliveries p JOIN webhook_events pv ON pv.id = p.event_id
                 WHERE p.endpoint_id = d.endpoint_id AND p.status = 'pending' AND p.id < d.id
                   AND pv.conversation_id = v.conversation_id))",
        &[],
    )
    .await?;
    get(&row, 0)
}

pub(super) async fn finish(
    db: &Db,
    id: WebhookDeliveryId,
    attempt: WebhookAttempt,
) -> StoreResult<()> {
    // The endpoint is share-locked before the delivery is written (endpoint, then delivery, as
    // `update_endpoint` does): a retry cannot be left pending by an endpoint disabled
    // meanwhile.
    let active: Option<bool> = query_opt(
        db,
        "SELECT active FROM webhook_endpoints
         WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = $1)
         FOR SHARE",
        &[&id.0],
    )
    .await?
    .map(|row| get(&row, 0))
    .transpose()?;
    let Some(active) = active else { return Ok(()) };
    let (status, next_attempt_at, delivered_at, error) =
        settled(attempt.outcome, attempt.at, attempt.error, active);
    execute(
        db,
        "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3,
            last_attempt_at = $4, response_status = $5, error = $6, delivered_at = $7
         WHERE id = $1",
        &[
            &id.0,
            &status.as_str(),
            &next_attempt_at,
            &attempt.at,
            &attempt.response_status.map(i64::from),
            &error,
            &delivered_at,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn prune(db: &Db, before: Millis) -> StoreResult<u64> {
    let deliveries = execute(
        db,
        "DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_at < $1",
        &[&before],
    )
    .await?;
    execute(
        db,
        "DELETE FROM webhook_events WHERE created_at < $1
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
        &[&before],
    )
    .await?;
    Ok(deliveries)
}

/// The active endpoints of `workspace` subscribed to `event`, share-locked: an endpoint being
/// disabled is waited for (and then skipped), and one disabled after this fails the delivery
/// written here, which it then sees.
/// The active endpoints of the workspace subscribed to `event`: those of every inbox, and
/// those of `inbox` (an event about one of its conversations).
async fn subscribers(
    db: &Db,
    workspace: WorkspaceId,
    event: WebhookEventType,
    inbox: Option<InboxId>,
) -> StoreResult<Vec<WebhookEndpointId>> {
    let rows = query(
        db,
        "SELECT id, events FROM webhook_endpoints
         WHERE workspace_id = $1 AND active AND (inbox_id IS NULL OR inbox_id = $2) ORDER BY id
         FOR SHARE",
        &[&workspace.0, &inbox.map(|inbox| inbox.0)],
    )
    .await?;
    let mut subscribed = Vec::new();
    for row in &rows {
        let events: Vec<String> = json(row, 1)?.unwrap_or_default();
        if subscribes(&events, event) {
            subscribed.push(WebhookEndpointId(get(row, 0)?));
        }
    }
    Ok(subscribed)
}

/// The conversation as events describe it (see [`crate::shared::webhooks::snapshot`]).
async fn snapshot(db: &Db, conversation: &Conversation) -> StoreResult<Value> {
    let channel: String = get(
        &query_one(db, "SELECT channel FROM inboxes WHERE id = $1", &[&conversation.inbox_id.0])
            .await?,
        0,
    )?;
    let customer = super::customers::customer(db, conversation.customer_id)
        .await?
        .ok_or(StoreError::NotFound(Entity::Customer))?;
    Ok(crate::shared::webhooks::snapshot(conversation, &channel, &customer))
}

/// Writes `event` about `conversation` to the outbox with a delivery for every active endpoint
/// of its workspace that subscribes to it; `data` makes the payload from the conversation's
/// snapshot, only when someone subscribes.
pub(super) async fn record(
    db: &Db,
    conversation: &Conversation,
    event: WebhookEventType,
    at: Millis,
    data: impl FnOnce(Value) -> StoreResult<Value>,
) -> StoreResult<()> {
    let endpoints =
        subscribers(db, conversation.workspace_id, event, Some(conversation.inbox_id)).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let data = data(snapshot(db, conversation).await?)?;
    let about = Some(conversation.id);
    insert_event(db, conversation.workspace_id, (event, about), at, &data, endpoints).await
}

/// Records a workspace's event that concerns no one conversation (an insight alert).
pub(super) async fn record_for_workspace(
    db: &Db,
    workspace: WorkspaceId,
    event: WebhookEventType,
    at: Millis,
    data: &Value,
) -> StoreResult<()> {
    let endpoints = subscribers(db, workspace, event, None).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    insert_event(db, workspace, (event, None), at, data, endpoints).await
}

/// Records an event (with the conversation it is about, if one) and its deliveries.
async fn insert_event(
    db: &Db,
    workspace: WorkspaceId,
    (event, about): (WebhookEventType, Option<ConversationId>),
    at: Millis,
    data: &Value,
    endpoints: Vec<WebhookEndpointId>,
) -> StoreResult<()> {
    let event: i64 = get(
        &query_one(
            db,
            "INSERT INTO webhook_events (workspace_id, type, data, created_at, conversation_id)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &workspace.0,
                &event.as_str(),
                &to_json(data)?,
                &at,
                &about.map(|conversation| conversation.0),
            ],
        )
        .await?,
        0,
    )?;
    // One delivery per endpoint, in endpoint order, in one statement.
    let endpoints: Vec<i64> = endpoints.iter().map(|endpoint| endpoint.0).collect();
    execute(
        db,
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, next_attempt_at, created_at)
         SELECT endpoint, $2, $3, $3 FROM unnest($1::BIGINT[]) WITH ORDINALITY AS e(endpoint, n)
         ORDER BY n",
        &[&endpoints, &event, &at],
    )
    .await?;
    Ok(())
}
