//! The audit log's entries as both stores build them: the AI's own changes from a hand-off or
//! a decision record, and the `LIKE` patterns of the list filters.

use tandem_domain::{Conversation, DecisionRecord, HandoffPacket, LlmOutcome, LlmRecord, Millis};

use crate::{AuditActorKind, AuditEntry, NewAuditEntry};

pub(crate) const COLUMNS: &str =
    "id, workspace_id, at, actor_kind, actor_id, actor_name, action, target, detail, ip";

/// The entry `entry` became once stored under `id` at `now`.
pub(crate) fn stored(id: i64, entry: &NewAuditEntry, now: Millis) -> AuditEntry {
    AuditEntry {
        id,
        workspace_id: entry.workspace_id,
        at: now,
        actor_kind: entry.actor_kind,
        actor_id: entry.actor_id.clone(),
        actor_name: entry.actor_name.clone(),
        action: entry.action.clone(),
        target: entry.target.clone(),
        detail: entry.detail.clone(),
        ip: entry.ip.clone(),
    }
}

/// `LIKE` pattern for text containing `needle` (its `%`, `_` and `\` taken literally).
pub(crate) fn containing(needle: &str) -> String {
    format!("%{}%", escape_like(needle))
}

pub(crate) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The bot handed a conversation to people (or kept it as an after-hours ticket).
pub(crate) fn handoff(
    conversation: &Conversation,
    packet: &HandoffPacket,
    after_hours: bool,
) -> NewAuditEntry {
    NewAuditEntry {
        workspace_id: conversation.workspace_id,
        actor_kind: AuditActorKind::Bot,
        actor_id: None,
        actor_name: "bot".to_owned(),
        action: "conversation.handoff".to_owned(),
        target: format!("conversation:{}", conversation.id),
        detail: serde_json::json!({
            "reasons": packet.reasons,
            "outcome": packet.outcome,
            "queue_id": conversation.queue_id.map(|queue| queue.0),
            "after_hours": after_hours,
        }),
        ip: None,
    }
}

/// A business action the bot's turn ran (with its outcome; parameters are left out, they are
/// the customer's data), if it ran one.
pub(crate) fn bot_action(
    conversation: &Conversation,
    bot_name: Option<&str>,
    record: &DecisionRecord,
) -> Option<NewAuditEntry> {
    let action = record
        .action
        .as_ref()
        .filter(|action| action.outcome != tandem_domain::ActionOutcome::Asking)?;
    Some(NewAuditEntry {
        workspace_id: conversation.workspace_id,
        actor_kind: AuditActorKind::Bot,
        actor_id: None,
        actor_name: bot_name.unwrap_or("bot").to_owned(),
        action: "bot.action".to_owned(),
        target: format!("conversation:{}", conversation.id),
        detail: serde_json::json!({
            "action": action.action,
            "outcome": action.outcome,
            "calls": action.calls.iter().map(|call| call.status).collect::<Vec<_>>(),
        }),
        ip: None,
    })
}

/// The model's reply of the bot's turn, if it was used or rejected (and so has an entry).
pub(crate) fn model_reply(record: &DecisionRecord) -> Option<&LlmRecord> {
    record.llm.as_ref().filter(|llm| matches!(llm.outcome, LlmOutcome::Used | LlmOutcome::Rejected))
}

/// The entry of the model's reply `llm`, the model named by the workspace's `llm` settings
/// document (the one `tandem_bot::model` keeps) as it is now.
pub(crate) fn model_reply_entry(
    conversation: &Conversation,
    llm: &LlmRecord,
    settings: Option<&serde_json::Value>,
) -> NewAuditEntry {
    let model = settings
        .and_then(|settings| settings.get("model"))
        .and_then(serde_json::Value::as_str)
        .filter(|model| !model.is_empty())
        .map(str::to_owned);
    NewAuditEntry {
        workspace_id: conversation.workspace_id,
        actor_kind: AuditActorKind::Model,
        actor_name: model.clone().unwrap_or_else(|| "model".to_owned()),
        actor_id: model,
        action: format!("model.reply.{}", llm.outcome.as_str()),
        target: format!("conversation:{}", conversation.id),
        detail: serde_json::json!({
            "outcome": llm.outcome,
            "reason": llm.error,
            "tool": llm.tool,
            "article": llm.article,
        }),
        ip: None,
    }
}
