//! How rows become entities: the column lists every query selects and their readers (the same
//! lists as the SQLite store's).

use tandem_domain::{
    Article, ArticleId, ArticleStatus, AuthorKind, Channel, Conversation, ConversationId,
    ConversationState, Customer, CustomerId, Inbox, InboxId, Locale, Message, MessageId, QueueId,
    Role, User, UserId, Workspace, WorkspaceId,
};
use tokio_postgres::Row;

use super::sql::{code, get, json};
use crate::StoreResult;

pub(super) const WORKSPACE_COLUMNS: &str = "id, name, created_at";
pub(super) fn workspace_from_row(row: &Row) -> StoreResult<Workspace> {
    Ok(Workspace { id: WorkspaceId(get(row, 0)?), name: get(row, 1)?, created_at: get(row, 2)? })
}

pub(super) const INBOX_COLUMNS: &str =
    "id, workspace_id, name, channel, public_key, bot_name, created_at";
pub(super) fn inbox_from_row(row: &Row) -> StoreResult<Inbox> {
    Ok(Inbox {
        id: InboxId(get(row, 0)?),
        workspace_id: WorkspaceId(get(row, 1)?),
        name: get(row, 2)?,
        channel: code(row, 3, Channel::parse)?,
        public_key: get(row, 4)?,
        bot_name: get(row, 5)?,
        created_at: get(row, 6)?,
    })
}

pub(super) const USER_COLUMNS: &str = "users.id, users.workspace_id, users.email, users.display_name, users.role, users.locale, users.active, users.created_at";
pub(super) fn user_from_row(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: UserId(get(row, 0)?),
        workspace_id: WorkspaceId(get(row, 1)?),
        email: get(row, 2)?,
        display_name: get(row, 3)?,
        role: code(row, 4, Role::parse)?,
        locale: code(row, 5, Locale::parse)?,
        active: get(row, 6)?,
        created_at: get(row, 7)?,
    })
}

pub(super) const CUSTOMER_COLUMNS: &str =
    "id, workspace_id, name, email, locale, attributes, created_at, external_id, verified";
pub(super) fn customer_from_row(row: &Row) -> StoreResult<Customer> {
    let locale: Option<String> = get(row, 4)?;
    let attributes: String = get(row, 5)?;
    Ok(Customer {
        id: CustomerId(get(row, 0)?),
        workspace_id: WorkspaceId(get(row, 1)?),
        name: get(row, 2)?,
        email: get(row, 3)?,
        locale: locale.as_deref().and_then(Locale::parse),
        attributes: serde_json::from_str(&attributes).map_err(crate::StoreError::database)?,
        created_at: get(row, 6)?,
        external_id: get(row, 7)?,
        verified: get(row, 8)?,
    })
}

pub(super) const CONVERSATION_COLUMNS: &str = "id, workspace_id, inbox_id, customer_id, state, assignee_id, queue_id, \
     last_seq, preview, last_message_at, created_at, updated_at, route, pending_action";
pub(super) fn conversation_from_row(row: &Row) -> StoreResult<Conversation> {
    Ok(Conversation {
        id: ConversationId(get(row, 0)?),
        workspace_id: WorkspaceId(get(row, 1)?),
        inbox_id: InboxId(get(row, 2)?),
        customer_id: CustomerId(get(row, 3)?),
        state: code(row, 4, ConversationState::parse)?,
        assignee_id: get::<Option<i64>>(row, 5)?.map(UserId),
        queue_id: get::<Option<i64>>(row, 6)?.map(QueueId),
        last_seq: get(row, 7)?,
        preview: get(row, 8)?,
        last_message_at: get(row, 9)?,
        created_at: get(row, 10)?,
        updated_at: get(row, 11)?,
        route: json(row, 12)?,
        pending_action: json(row, 13)?,
    })
}

pub(super) const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, author_kind, author_id, author_name, body, client_msg_id, created_at, meta";
pub(super) fn message_from_row(row: &Row) -> StoreResult<Message> {
    Ok(Message {
        id: MessageId(get(row, 0)?),
        conversation_id: ConversationId(get(row, 1)?),
        seq: get(row, 2)?,
        author_kind: code(row, 3, AuthorKind::parse)?,
        author_id: get(row, 4)?,
        author_name: get(row, 5)?,
        body: get(row, 6)?,
        client_msg_id: get(row, 7)?,
        created_at: get(row, 8)?,
        meta: json(row, 9)?,
    })
}

pub(super) const ARTICLE_COLUMNS: &str = "id, workspace_id, key, status, title, answer, questions, tags, language, \
     effective_from, expires_at, version, created_at, updated_at, channels";
pub(super) fn article_from_row(row: &Row) -> StoreResult<Article> {
    let language: Option<String> = get(row, 8)?;
    Ok(Article {
        id: ArticleId(get(row, 0)?),
        workspace_id: WorkspaceId(get(row, 1)?),
        key: get(row, 2)?,
        status: code(row, 3, ArticleStatus::parse)?,
        title: get(row, 4)?,
        answer: get(row, 5)?,
        questions: json(row, 6)?.unwrap_or_default(),
        tags: json(row, 7)?.unwrap_or_default(),
        language: language.as_deref().and_then(Locale::parse),
        effective_from: get(row, 9)?,
        expires_at: get(row, 10)?,
        version: get(row, 11)?,
        created_at: get(row, 12)?,
        updated_at: get(row, 13)?,
        channels: json(row, 14)?.unwrap_or_default(),
    })
}
