//! What an erasure visits and leaves, as both stores see it: the tables keyed by conversation,
//! the evidence lists with the erased ids taken out, and the erasure's record and change.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tandem_domain::{ConversationId, CustomerId, Millis, UserId, WorkspaceId};

use crate::{Change, Erasure, ErasureKind};

/// The prefix of the workspace settings keys erasure records are kept under.
pub(crate) const RECORD_PREFIX: &str = "erasure:";

/// Tables with one or more rows per conversation, keyed by `conversation_id`, children first.
pub(crate) const CONVERSATION_TABLES: &[&str] = &[
    "suggestion_uses",
    "bot_turns",
    "handoffs",
    "wrapups",
    "ratings",
    "conversation_facts",
    "attachments",
    "messages",
];

/// The `LIKE` pattern of the record keys taken at `at`.
pub(crate) fn record_keys_at(at: Millis) -> String {
    format!("{RECORD_PREFIX}{at:015}:%")
}

/// The record key at `at` after the `taken` ones: unique even for two records in one
/// millisecond.
pub(crate) fn record_key(at: Millis, taken: i64) -> String {
    format!("{RECORD_PREFIX}{at:015}:{taken:04}")
}

/// An evidence list without the `gone` conversations; `None` when it names none of them.
pub(crate) fn kept_evidence(ids: Vec<i64>, gone: &HashSet<i64>) -> Option<Vec<i64>> {
    if !ids.iter().any(|id| gone.contains(id)) {
        return None;
    }
    Some(ids.into_iter().filter(|id| !gone.contains(id)).collect())
}

/// Takes the `gone` conversations out of an alert's `conversation_ids` (numbers or their
/// text); `true` when it named any.
pub(crate) fn forget_in_alert(alert: &mut serde_json::Value, gone: &HashSet<i64>) -> bool {
    let named = |value: &serde_json::Value| {
        let id = match value {
            serde_json::Value::String(text) => text.parse::<i64>().ok(),
            other => other.as_i64(),
        };
        id.is_some_and(|id| gone.contains(&id))
    };
    let Some(ids) = alert.get_mut("conversation_ids").and_then(|ids| ids.as_array_mut()) else {
        return false;
    };
    let before = ids.len();
    ids.retain(|value| !named(value));
    ids.len() != before
}

/// The record of a customer's erasure.
pub(crate) fn customer_erasure(
    customer: CustomerId,
    erased_by: Option<UserId>,
    now: Millis,
    ids: &[i64],
    rows: BTreeMap<String, u64>,
) -> Erasure {
    Erasure {
        kind: ErasureKind::Customer,
        customer_id: Some(customer),
        erased_by,
        at: now,
        conversations: ids.len() as u64,
        rows,
    }
}

/// The record of a retention run.
pub(crate) fn retention_erasure(now: Millis, ids: &[i64], rows: BTreeMap<String, u64>) -> Erasure {
    Erasure {
        kind: ErasureKind::Retention,
        customer_id: None,
        erased_by: None,
        at: now,
        conversations: ids.len() as u64,
        rows,
    }
}

/// Reports the erased conversations, if any.
pub(crate) fn erased(changes: &mut Vec<Change>, workspace: WorkspaceId, ids: &[i64]) {
    if ids.is_empty() {
        return;
    }
    let conversations: Arc<[ConversationId]> = ids.iter().copied().map(ConversationId).collect();
    changes.push(Change::Erased { workspace, conversations });
}
