//! Outbound webhooks as both stores shape them: the column lists, what a finished attempt
//! leaves on its delivery, and the payloads of the events (the conversation's snapshot first).

use serde_json::Value;
use tandem_domain::{
    Conversation, ConversationState, Customer, HandoffPacket, Message, Millis, User, UserId,
    WebhookDeliveryStatus, WebhookEventType, Wrapup,
};

use crate::{StoreError, StoreResult, WebhookOutcome};

/// What a disabled endpoint's pending deliveries are failed with.
pub(crate) const DISABLED: &str = "endpoint disabled";

pub(crate) const ENDPOINT_COLUMNS: &str =
    "id, workspace_id, url, description, events, active, created_at, updated_at, inbox_id";

pub(crate) const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, v.type, d.status, d.attempts, \
     d.next_attempt_at, d.last_attempt_at, d.response_status, d.error, d.created_at, d.delivered_at";

/// An endpoint's events as its `events` column keeps them (a JSON list of their names).
pub(crate) fn event_names(events: &[WebhookEventType]) -> StoreResult<String> {
    serde_json::to_string(&events.iter().map(|event| event.as_str()).collect::<Vec<_>>())
        .map_err(StoreError::database)
}

/// Whether an endpoint with these event names subscribes to `event`.
pub(crate) fn subscribes(events: &[String], event: WebhookEventType) -> bool {
    events.iter().any(|name| name == event.as_str())
}

/// A delivery after an attempt at `at` with `outcome` and `error`, its endpoint `active` or
/// not: its status, next attempt, delivery time and error (a retry of a disabled endpoint's
/// delivery fails instead, saying so).
pub(crate) fn settled(
    outcome: WebhookOutcome,
    at: Millis,
    mut error: Option<String>,
    active: bool,
) -> (WebhookDeliveryStatus, Option<Millis>, Option<Millis>, Option<String>) {
    let (status, next_attempt_at, delivered_at) = match outcome {
        WebhookOutcome::Delivered => (WebhookDeliveryStatus::Delivered, None, Some(at)),
        WebhookOutcome::RetryAt(at) if active => (WebhookDeliveryStatus::Pending, Some(at), None),
        WebhookOutcome::RetryAt(_) => {
            error = Some(match error {
                Some(error) => format!("{error}; {DISABLED}"),
                None => DISABLED.to_owned(),
            });
            (WebhookDeliveryStatus::Failed, None, None)
        }
        WebhookOutcome::Failed => (WebhookDeliveryStatus::Failed, None, None),
    };
    (status, next_attempt_at, delivered_at, error)
}

/// The conversation as events describe it: its place (inbox, channel, queue), its owner, and
/// its customer with every field the store keeps.
pub(crate) fn snapshot(conversation: &Conversation, channel: &str, customer: &Customer) -> Value {
    serde_json::json!({
        "id": conversation.id,
        "inbox_id": conversation.inbox_id,
        "channel": channel,
        "state": conversation.state,
        "assignee_id": conversation.assignee_id,
        "queue_id": conversation.queue_id,
        "customer_id": conversation.customer_id,
        "customer": customer,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    })
}

/// `message.created`: the conversation and the message.
pub(crate) fn message_created(snapshot: Value, message: &Message) -> Value {
    serde_json::json!({ "conversation": snapshot, "message": message })
}

/// `conversation.assigned`: the conversation, its new assignee, and who had it before.
pub(crate) fn assigned(
    snapshot: Value,
    agent: &User,
    previous_state: ConversationState,
    previous_assignee: Option<UserId>,
) -> Value {
    serde_json::json!({
        "conversation": snapshot,
        "assignee": {"id": agent.id, "display_name": agent.display_name, "email": agent.email},
        "previous_state": previous_state,
        "previous_assignee_id": previous_assignee,
    })
}

/// `conversation.resolved`: the conversation, who had it before, and its wrap-up if any.
pub(crate) fn resolved(
    snapshot: Value,
    previous_state: ConversationState,
    previous_assignee: Option<UserId>,
    wrapup: Option<&Wrapup>,
) -> Value {
    serde_json::json!({
        "conversation": snapshot,
        "previous_state": previous_state,
        "previous_assignee_id": previous_assignee,
        "wrapup": wrapup,
    })
}

/// `conversation.handed_off`: the conversation and the hand-off packet.
pub(crate) fn handed_off(snapshot: Value, packet: &HandoffPacket) -> Value {
    serde_json::json!({ "conversation": snapshot, "packet": packet })
}
