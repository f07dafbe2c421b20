//! The embedded SQLite backend (the default store).

mod engine;
mod migrations;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_domain::{
    Action, AgentRouting, AnswerSettings, Article, ArticleId, ArticleStatus, AuthorKind, Channel,
    Conversation, ConversationId, ConversationState, Customer, CustomerId, DecisionRecord,
    EscalationPolicy, HandoffPacket, Inbox, InboxId, LlmUsage, Locale, Message, MessageId, Millis,
    ModelSummary, PendingAction, Presence, Queue, QueueId, QueueRouting, Role, RouteInfo,
    Transition, User, UserId, Workspace, WorkspaceId, conversation::Ownership,
};
use tokio::sync::broadcast;

use self::engine::Engine;
use crate::{
    Appended, ArticleVersion, Change, ConversationCounts, ConversationFilter, CustomerHistory,
    MessageTarget, NewArticle, NewCustomer, NewInbox, NewMessage, NewUser, RouteChange, Session,
    Store, StoreError, StoreResult, UserUpdate, now_millis,
};

/// Applies the migrations to a bare connection (for the insert baseline of `tandem bench`).
pub(crate) fn migrate_for_bench(connection: &mut Connection) -> StoreResult<()> {
    migrations::migrate(connection)
}

/// How to open the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The database file; created with its directory if missing.
    pub path: PathBuf,
    /// `true` (the default) fsyncs every group commit, so an acknowledged message survives a
    /// power cut; `false` survives a process crash only, and is faster.
    pub synchronous_full: bool,
}

impl SqliteConfig {
    pub fn new(path: impl Into<PathBuf>) -> SqliteConfig {
        SqliteConfig { path: path.into(), synchronous_full: true }
    }
}

/// The SQLite store. Cheap to clone; all clones share the writer and the change feed.
#[derive(Clone)]
pub struct SqliteStore {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens the database, creating it and applying migrations as needed.
    pub fn open(config: &SqliteConfig) -> StoreResult<SqliteStore> {
        if let Some(parent) = config.path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|error| {
                StoreError::Database(format!("cannot create {}: {error}", parent.display()))
            })?;
        }
        let engine = Engine::open(&config.path, config.synchronous_full, migrations::migrate)?;
        Ok(SqliteStore { engine })
    }

    /// The schema version a fresh database gets from this build.
    pub fn latest_schema_version() -> i64 {
        migrations::LATEST
    }

    /// Waits for queued writes to commit and stops the writer. Later writes fail with `Closed`.
    pub fn close(&self) {
        self.engine.close();
    }

    pub fn path(config: &SqliteConfig) -> &Path {
        &config.path
    }
}

fn text_enum<T>(row: &Row<'_>, index: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unknown value {text:?}").into(),
        )
    })
}

const WORKSPACE_COLUMNS: &str = "id, name, created_at";
fn workspace_from_row(row: &Row<'_>) -> rusqlite::Result<Workspace> {
    Ok(Workspace { id: WorkspaceId(row.get(0)?), name: row.get(1)?, created_at: row.get(2)? })
}

const INBOX_COLUMNS: &str = "id, workspace_id, name, channel, public_key, bot_name, created_at";
fn inbox_from_row(row: &Row<'_>) -> rusqlite::Result<Inbox> {
    Ok(Inbox {
        id: InboxId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        name: row.get(2)?,
        channel: text_enum(row, 3, Channel::parse)?,
        public_key: row.get(4)?,
        bot_name: row.get(5)?,
        created_at: row.get(6)?,
    })
}

const USER_COLUMNS: &str = "users.id, users.workspace_id, users.email, users.display_name, users.role, users.locale, users.active, users.created_at";
fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        email: row.get(2)?,
        display_name: row.get(3)?,
        role: text_enum(row, 4, Role::parse)?,
        locale: text_enum(row, 5, Locale::parse)?,
        active: row.get(6)?,
        created_at: row.get(7)?,
    })
}

const CUSTOMER_COLUMNS: &str =
    "id, workspace_id, name, email, locale, attributes, created_at, external_id, verified";
fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Customer> {
    let locale: Option<String> = row.get(4)?;
    let attributes: String = row.get(5)?;
    Ok(Customer {
        id: CustomerId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        name: row.get(2)?,
        email: row.get(3)?,
        locale: locale.as_deref().and_then(Locale::parse),
        attributes: serde_json::from_str(&attributes).map_err(|error| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, error.into())
        })?,
        created_at: row.get(6)?,
        external_id: row.get(7)?,
        verified: row.get(8)?,
    })
}

const CONVERSATION_COLUMNS: &str = "id, workspace_id, inbox_id, customer_id, state, assignee_id, queue_id, \
     last_seq, preview, last_message_at, created_at, updated_at, route, pending_action";
fn conversation_from_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: ConversationId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        inbox_id: InboxId(row.get(2)?),
        customer_id: CustomerId(row.get(3)?),
        state: text_enum(row, 4, ConversationState::parse)?,
        assignee_id: row.get::<_, Option<i64>>(5)?.map(UserId),
        queue_id: row.get::<_, Option<i64>>(6)?.map(QueueId),
        last_seq: row.get(7)?,
        preview: row.get(8)?,
        last_message_at: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
        route: json_column(row, 12)?,
        pending_action: json_column(row, 13)?,
    })
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, author_kind, author_id, author_name, body, client_msg_id, created_at, meta";
fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId(row.get(0)?),
        conversation_id: ConversationId(row.get(1)?),
        seq: row.get(2)?,
        author_kind: text_enum(row, 3, AuthorKind::parse)?,
        author_id: row.get(4)?,
        author_name: row.get(5)?,
        body: row.get(6)?,
        client_msg_id: row.get(7)?,
        created_at: row.get(8)?,
        meta: json_column(row, 9)?,
    })
}

/// A nullable JSON column.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<T>> {
    let Some(text) = row.get::<_, Option<String>>(index)? else { return Ok(None) };
    serde_json::from_str(&text).map(Some).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, error.into())
    })
}

fn to_json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Database(error.to_string()))
}

const ARTICLE_COLUMNS: &str = "id, workspace_id, key, status, title, answer, questions, tags, language, \
     effective_from, expires_at, version, created_at, updated_at, channels";
fn article_from_row(row: &Row<'_>) -> rusqlite::Result<Article> {
    let language: Option<String> = row.get(8)?;
    Ok(Article {
        id: ArticleId(row.get(0)?),
        workspace_id: WorkspaceId(row.get(1)?),
        key: row.get(2)?,
        status: text_enum(row, 3, ArticleStatus::parse)?,
        title: row.get(4)?,
        answer: row.get(5)?,
        questions: json_column(row, 6)?.unwrap_or_default(),
        tags: json_column(row, 7)?.unwrap_or_default(),
        language: language.as_deref().and_then(Locale::parse),
        effective_from: row.get(9)?,
        expires_at: row.get(10)?,
        version: row.get(11)?,
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        channels: json_column(row, 14)?.unwrap_or_default(),
    })
}

fn load_article(
    connection: &Connection,
    workspace: WorkspaceId,
    key: &str,
) -> StoreResult<Option<Article>> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles WHERE workspace_id = ?1 AND key = ?2"
        ))?
        .query_row(params![workspace.0, key], article_from_row)
        .optional()?)
}

/// Records the article's current content as its next published version.
fn publish_version(
    connection: &Connection,
    article: &mut Article,
    author: Option<UserId>,
    now: Millis,
) -> StoreResult<()> {
    article.version += 1;
    connection.execute(
        "INSERT INTO article_versions (article_id, version, title, answer, questions, tags, language, effective_from, expires_at, author_id, published_at, channels)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            article.id.0,
            article.version,
            article.title,
            article.answer,
            to_json(&article.questions)?,
            to_json(&article.tags)?,
            article.language.map(Locale::as_str),
            article.effective_from,
            article.expires_at,
            author.map(|user| user.0),
            now,
            to_json(&article.channels)?
        ],
    )?;
    connection.execute(
        "UPDATE articles SET version = ?2 WHERE id = ?1",
        params![article.id.0, article.version],
    )?;
    Ok(())
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

fn load_conversation(connection: &Connection, id: ConversationId) -> StoreResult<Conversation> {
    connection
        .prepare_cached(&format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"))?
        .query_row([id.0], conversation_from_row)
        .optional()?
        .ok_or(StoreError::NotFound("conversation"))
}

fn load_user(connection: &Connection, id: UserId) -> StoreResult<Option<User>> {
    Ok(connection
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id.0], user_from_row)
        .optional()?)
}

/// Writes a new owner for a conversation, records the change, and queues the change event.
/// Its routing record follows the owner: waiting since now when it joins the queue (keeping its
/// place when a person gives it back), offered
/// (not yet accepted) when a person is assigned, gone when the bot has it or it is resolved.
fn save_ownership(
    connection: &Connection,
    conversation: &mut Conversation,
    ownership: Ownership,
    now: Millis,
    changes: &mut Vec<Change>,
) -> StoreResult<()> {
    let route = match ownership.state {
        ConversationState::Bot | ConversationState::Resolved => None,
        ConversationState::Queued => {
            // Back in the queue after a person had it, it keeps its place.
            let mut route = conversation
                .route
                .take()
                .unwrap_or(RouteInfo { queued_at: now, ..RouteInfo::default() });
            route.assigned_at = None;
            route.accepted_at = None;
            Some(route)
        }
        ConversationState::Human => {
            let mut route = conversation
                .route
                .take()
                .unwrap_or(RouteInfo { queued_at: now, ..RouteInfo::default() });
            route.assigned_at = Some(now);
            route.accepted_at = None;
            route.follow_up_at = None;
            Some(route)
        }
    };
    conversation.route = route;
    connection
        .prepare_cached(
            "UPDATE conversations SET state = ?2, assignee_id = ?3, updated_at = ?4 WHERE id = ?1",
        )?
        .execute(params![
            conversation.id.0,
            ownership.state.as_str(),
            ownership.assignee.map(|user| user.0),
            now
        ])?;
    conversation.state = ownership.state;
    conversation.assignee_id = ownership.assignee;
    conversation.updated_at = now;
    save_route(connection, conversation)?;
    changes.push(Change::Conversation(Arc::new(conversation.clone())));
    Ok(())
}

fn save_route(connection: &Connection, conversation: &Conversation) -> StoreResult<()> {
    let route = conversation.route.as_ref().map(to_json).transpose()?;
    connection
        .prepare_cached("UPDATE conversations SET route = ?2, queue_id = ?3 WHERE id = ?1")?
        .execute(params![conversation.id.0, route, conversation.queue_id.map(|queue| queue.0)])?;
    Ok(())
}

/// Inserts a message with the conversation's next seq and updates the conversation's summary
/// fields. Runs inside the writer's transaction, so seq has no gaps and follows commit order.
fn insert_message(
    connection: &Connection,
    conversation: &mut Conversation,
    (author_kind, author_id, author_name): (AuthorKind, Option<i64>, Option<String>),
    (body, client_msg_id, meta): (String, Option<String>, Option<tandem_domain::MessageMeta>),
    now: Millis,
) -> StoreResult<Message> {
    let seq = conversation.last_seq + 1;
    connection
        .prepare_cached(
            "INSERT INTO messages (conversation_id, seq, author_kind, author_id, author_name, body, client_msg_id, created_at, meta)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            conversation.id.0,
            seq,
            author_kind.as_str(),
            author_id,
            author_name,
            body,
            client_msg_id,
            now,
            meta.as_ref().map(to_json).transpose()?
        ])?;
    let id = MessageId(connection.last_insert_rowid());
    conversation.last_seq = seq;
    conversation.updated_at = now;
    if author_kind.visible_to_customer() {
        conversation.last_message_at = now;
    }
    // The inbox shows what the customer said last: that is what an agent triages on.
    if author_kind == AuthorKind::Customer {
        conversation.preview = body.lines().next().unwrap_or_default().chars().take(140).collect();
    }
    connection
        .prepare_cached(
            "UPDATE conversations SET last_seq = ?2, preview = ?3, last_message_at = ?4, updated_at = ?5 WHERE id = ?1",
        )?
        .execute(params![conversation.id.0, seq, conversation.preview, conversation.last_message_at, now])?;
    Ok(Message {
        id,
        conversation_id: conversation.id,
        seq,
        author_kind,
        author_id,
        author_name,
        body,
        client_msg_id,
        meta,
        created_at: now,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.engine.changes.subscribe()
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        self.engine.read(migrations::current_version).await
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.engine
            .read(move |connection| {
                Ok(connection
                    .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| row.get(0))
                    .optional()?)
            })
            .await
    }

    async fn setting_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.engine
            .write(move |connection, _| {
                connection.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                    [&key, &value],
                )?;
                Ok(connection.query_row("SELECT value FROM settings WHERE key = ?1", [&key], |row| row.get(0))?)
            })
            .await
    }

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace> {
        let name = name.to_owned();
        self.engine
            .write(move |connection, _| {
                let now = now_millis();
                connection.execute(
                    "INSERT INTO workspaces (name, created_at) VALUES (?1, ?2)",
                    params![name, now],
                )?;
                Ok(Workspace {
                    id: WorkspaceId(connection.last_insert_rowid()),
                    name,
                    created_at: now,
                })
            })
            .await
    }

    async fn workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.engine
            .read(|connection| {
                let mut statement = connection
                    .prepare(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY id"))?;
                let rows = statement.query_map([], workspace_from_row)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn create_inbox(&self, inbox: NewInbox) -> StoreResult<Inbox> {
        self.engine
            .write(move |connection, _| {
                let now = now_millis();
                connection.execute(
                    "INSERT INTO inboxes (workspace_id, name, channel, public_key, bot_name, created_at, identity_secret)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, lower(hex(randomblob(32))))",
                    params![inbox.workspace_id.0, inbox.name, inbox.channel.as_str(), inbox.public_key, inbox.bot_name, now],
                )?;
                Ok(Inbox {
                    id: InboxId(connection.last_insert_rowid()),
                    workspace_id: inbox.workspace_id,
                    name: inbox.name,
                    channel: inbox.channel,
                    public_key: inbox.public_key,
                    bot_name: inbox.bot_name,
                    created_at: now,
                })
            })
            .await
    }

    async fn inbox(&self, id: InboxId) -> StoreResult<Option<Inbox>> {
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(&format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE id = ?1"))?
                    .query_row([id.0], inbox_from_row)
                    .optional()?)
            })
            .await
    }

    async fn inbox_by_public_key(&self, public_key: &str) -> StoreResult<Option<Inbox>> {
        let public_key = public_key.to_owned();
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(&format!(
                        "SELECT {INBOX_COLUMNS} FROM inboxes WHERE public_key = ?1"
                    ))?
                    .query_row([public_key], inbox_from_row)
                    .optional()?)
            })
            .await
    }

    async fn inboxes(&self, workspace: WorkspaceId) -> StoreResult<Vec<Inbox>> {
        self.engine
            .read(move |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {INBOX_COLUMNS} FROM inboxes WHERE workspace_id = ?1 ORDER BY id"
                ))?;
                let rows = statement.query_map([workspace.0], inbox_from_row)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.engine
            .write(move |connection, _| {
                let now = now_millis();
                let inserted = connection.execute(
                    "INSERT INTO users (workspace_id, email, display_name, role, locale, password_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        user.workspace_id.0,
                        user.email,
                        user.display_name,
                        user.role.as_str(),
                        user.locale.as_str(),
                        user.password_hash,
                        now
                    ],
                );
                match inserted {
                    Err(error) if is_unique_violation(&error) => {
                        return Err(StoreError::Conflict(format!("a user with e-mail {} exists", user.email)));
                    }
                    other => other?,
                };
                Ok(User {
                    id: UserId(connection.last_insert_rowid()),
                    workspace_id: user.workspace_id,
                    email: user.email,
                    display_name: user.display_name,
                    role: user.role,
                    locale: user.locale,
                    active: true,
                    created_at: now,
                })
            })
            .await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.engine.read(move |connection| load_user(connection, id)).await
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>> {
        let email = email.trim().to_lowercase();
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(&format!(
                        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?1"
                    ))?
                    .query_row([email], |row| Ok((user_from_row(row)?, row.get(8)?)))
                    .optional()?)
            })
            .await
    }

    async fn users(&self, workspace: WorkspaceId) -> StoreResult<Vec<User>> {
        self.engine
            .read(move |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE workspace_id = ?1 ORDER BY display_name"
                ))?;
                let rows = statement.query_map([workspace.0], user_from_row)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<User> {
        self.engine
            .write(move |connection, _| {
                let changed = connection.execute(
                    "UPDATE users SET
                        display_name = COALESCE(?2, display_name),
                        role = COALESCE(?3, role),
                        locale = COALESCE(?4, locale),
                        active = COALESCE(?5, active),
                        password_hash = COALESCE(?6, password_hash)
                     WHERE id = ?1",
                    params![
                        id.0,
                        update.display_name,
                        update.role.map(Role::as_str),
                        update.locale.map(Locale::as_str),
                        update.active,
                        update.password_hash
                    ],
                )?;
                if changed == 0 {
                    return Err(StoreError::NotFound("user"));
                }
                if update.active == Some(false) || update.password_hash.is_some() {
                    // A deactivated user or a changed password ends every open session.
                    connection.execute("DELETE FROM sessions WHERE user_id = ?1", [id.0])?;
                }
                load_user(connection, id)?.ok_or(StoreError::NotFound("user"))
            })
            .await
    }

    async fn create_session(&self, session: Session) -> StoreResult<()> {
        self.engine
            .write(move |connection, _| {
                let now = now_millis();
                connection.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
                connection.execute(
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![session.token_hash, session.user_id.0, session.csrf_token, now, session.expires_at],
                )?;
                Ok(())
            })
            .await
    }

    async fn session(&self, token_hash: &str, now: Millis) -> StoreResult<Option<(Session, User)>> {
        let token_hash = token_hash.to_owned();
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(&format!(
                        "SELECT {USER_COLUMNS}, sessions.csrf_token, sessions.expires_at
                         FROM sessions JOIN users ON users.id = sessions.user_id
                         WHERE sessions.token_hash = ?1 AND sessions.expires_at > ?2 AND users.active = 1"
                    ))?
                    .query_row(params![token_hash, now], |row| {
                        let user = user_from_row(row)?;
                        let session = Session {
                            token_hash: token_hash.clone(),
                            user_id: user.id,
                            csrf_token: row.get(8)?,
                            expires_at: row.get(9)?,
                        };
                        Ok((session, user))
                    })
                    .optional()?)
            })
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.engine
            .write(move |connection, _| {
                connection.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
                Ok(())
            })
            .await
    }

    async fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        name: &str,
    ) -> StoreResult<()> {
        let (token_hash, name) = (token_hash.to_owned(), name.to_owned());
        self.engine
            .write(move |connection, _| {
                connection.execute(
                    "INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![token_hash, user.0, name, now_millis()],
                )?;
                Ok(())
            })
            .await
    }

    async fn api_token_user(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let token_hash = token_hash.to_owned();
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(&format!(
                        "SELECT {USER_COLUMNS} FROM api_tokens JOIN users ON users.id = api_tokens.user_id
                         WHERE api_tokens.token_hash = ?1 AND users.active = 1"
                    ))?
                    .query_row([token_hash], user_from_row)
                    .optional()?)
            })
            .await
    }

    async fn create_customer(&self, customer: NewCustomer) -> StoreResult<Customer> {
        self.engine
            .write(move |connection, _| {
                let now = now_millis();
                let attributes = serde_json::to_string(&customer.attributes)
                    .map_err(|error| StoreError::Database(error.to_string()))?;
                connection
                    .prepare_cached(
                        "INSERT INTO customers (workspace_id, name, email, locale, attributes, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        customer.workspace_id.0,
                        customer.name,
                        customer.email,
                        customer.locale.map(Locale::as_str),
                        attributes,
                        now
                    ])?;
                Ok(Customer {
                    id: CustomerId(connection.last_insert_rowid()),
                    workspace_id: customer.workspace_id,
                    name: customer.name,
                    email: customer.email,
                    locale: customer.locale,
                    attributes: customer.attributes,
                    created_at: now,
                    external_id: None,
                    verified: false,
                })
            })
            .await
    }

    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(&format!(
                        "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?1"
                    ))?
                    .query_row([id.0], customer_from_row)
                    .optional()?)
            })
            .await
    }

    async fn create_queue(
        &self,
        workspace: WorkspaceId,
        name: &str,
        description: &str,
        routing: QueueRouting,
    ) -> StoreResult<Queue> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.engine
            .write(move |connection, _| {
                let inserted = connection.execute(
                    "INSERT INTO queues (workspace_id, name, description, routing) VALUES (?1, ?2, ?3, ?4)",
                    params![workspace.0, name, description, to_json(&routing)?],
                );
                match inserted {
                    Err(error) if is_unique_violation(&error) => {
                        return Err(StoreError::Conflict(format!("a queue named {name} exists")));
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
            })
            .await
    }

    async fn update_queue(&self, queue: Queue) -> StoreResult<Queue> {
        self.engine
            .write(move |connection, _| {
                let updated = connection.execute(
                    "UPDATE queues SET name = ?3, description = ?4, routing = ?5 WHERE id = ?1 AND workspace_id = ?2",
                    params![queue.id.0, queue.workspace_id.0, queue.name, queue.description, to_json(&queue.routing)?],
                );
                match updated {
                    Err(error) if is_unique_violation(&error) => {
                        Err(StoreError::Conflict(format!("a queue named {} exists", queue.name)))
                    }
                    Ok(0) => Err(StoreError::NotFound("queue")),
                    other => {
                        other?;
                        Ok(queue)
                    }
                }
            })
            .await
    }

    async fn queues(&self, workspace: WorkspaceId) -> StoreResult<Vec<Queue>> {
        self.engine
            .read(move |connection| {
                let mut statement = connection
                    .prepare("SELECT id, workspace_id, name, description, routing FROM queues WHERE workspace_id = ?1 ORDER BY id")?;
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
            })
            .await
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.engine
            .read(move |connection| match load_conversation(connection, id) {
                Err(StoreError::NotFound(_)) => Ok(None),
                other => other.map(Some),
            })
            .await
    }

    async fn latest_conversation(
        &self,
        inbox: InboxId,
        customer: CustomerId,
    ) -> StoreResult<Option<Conversation>> {
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(&format!(
                        "SELECT {CONVERSATION_COLUMNS} FROM conversations
                         WHERE customer_id = ?1 AND inbox_id = ?2 ORDER BY id DESC LIMIT 1"
                    ))?
                    .query_row([customer.0, inbox.0], conversation_from_row)
                    .optional()?)
            })
            .await
    }

    async fn conversations(
        &self,
        workspace: WorkspaceId,
        filter: ConversationFilter,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        self.engine
            .read(move |connection| {
                let (condition, argument): (&str, Option<String>) = match filter {
                    ConversationFilter::Mine(user) => {
                        ("assignee_id = ?2 AND state = 'human'", Some(user.0.to_string()))
                    }
                    ConversationFilter::State(state) => ("state = ?2", Some(state.as_str().to_owned())),
                    ConversationFilter::Open => ("state != 'resolved'", None),
                    ConversationFilter::All => ("1", None),
                };
                let sql = format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE workspace_id = ?1 AND {condition}
                     ORDER BY last_message_at DESC, id DESC LIMIT {limit}"
                );
                let mut statement = connection.prepare_cached(&sql)?;
                let rows = match argument {
                    Some(argument) => statement.query_map(params![workspace.0, argument], conversation_from_row)?,
                    None => statement.query_map(params![workspace.0], conversation_from_row)?,
                };
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn conversation_counts(
        &self,
        workspace: WorkspaceId,
        me: UserId,
    ) -> StoreResult<ConversationCounts> {
        self.engine
            .read(move |connection| {
                let mut counts = ConversationCounts::default();
                let mut statement = connection.prepare_cached(
                    "SELECT state, COUNT(*), SUM(assignee_id = ?2) FROM conversations WHERE workspace_id = ?1 GROUP BY state",
                )?;
                let mut rows = statement.query(params![workspace.0, me.0])?;
                while let Some(row) = rows.next()? {
                    let count: i64 = row.get(1)?;
                    match ConversationState::parse(&row.get::<_, String>(0)?) {
                        Some(ConversationState::Bot) => counts.bot = count,
                        Some(ConversationState::Queued) => counts.queued = count,
                        Some(ConversationState::Human) => {
                            counts.human = count;
                            counts.mine = row.get::<_, Option<i64>>(2)?.unwrap_or(0);
                        }
                        Some(ConversationState::Resolved) => counts.resolved = count,
                        None => {}
                    }
                }
                Ok(counts)
            })
            .await
    }

    async fn customer_conversations(
        &self,
        customer: CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        self.engine
            .read(move |connection| {
                let mut statement = connection.prepare_cached(&format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE customer_id = ?1 ORDER BY id DESC LIMIT {limit}"
                ))?;
                let rows = statement.query_map([customer.0], conversation_from_row)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn append_message(&self, new: NewMessage) -> StoreResult<Appended> {
        self.engine
            .write(move |connection, changes| {
                let now = now_millis();
                let mut conversation = match new.target {
                    MessageTarget::Conversation(id) => load_conversation(connection, id)?,
                    MessageTarget::CustomerLatest { inbox_id, customer_id } => {
                        let latest = connection
                            .prepare_cached(&format!(
                                "SELECT {CONVERSATION_COLUMNS} FROM conversations
                                 WHERE customer_id = ?1 AND inbox_id = ?2 ORDER BY id DESC LIMIT 1"
                            ))?
                            .query_row([customer_id.0, inbox_id.0], conversation_from_row)
                            .optional()?;
                        match latest {
                            Some(conversation) => conversation,
                            None => create_conversation(connection, inbox_id, customer_id, now, changes)?,
                        }
                    }
                };
                if let Some(client_msg_id) = &new.client_msg_id {
                    let existing = connection
                        .prepare_cached(&format!(
                            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND client_msg_id = ?2"
                        ))?
                        .query_row(params![conversation.id.0, client_msg_id], message_from_row)
                        .optional()?;
                    if let Some(message) = existing {
                        return Ok(Appended { message, conversation, created: false });
                    }
                }
                if new.only_while_bot_owns && !conversation.state.bot_may_reply() {
                    return Err(StoreError::Conflict(format!(
                        "conversation {} is {}; the bot may not reply",
                        conversation.id,
                        conversation.state.as_str()
                    )));
                }
                if new.reopen_if_resolved && conversation.state == ConversationState::Resolved {
                    let ownership = conversation.ownership().apply(Transition::Reopen)?;
                    save_ownership(connection, &mut conversation, ownership, now, changes)?;
                }
                let accepts = new.author_kind == AuthorKind::Agent
                    && conversation.state == ConversationState::Human
                    && new.author_id == conversation.assignee_id.map(|agent| agent.0);
                if let Some(route) = conversation.route.as_mut().filter(|_| accepts)
                    && route.accepted_at.is_none()
                {
                    // The assigned agent's first reply turns the offer into theirs.
                    route.accepted_at = Some(now);
                    save_route(connection, &conversation)?;
                }
                let author = (new.author_kind, new.author_id, new.author_name);
                let decision = new.decision.as_ref().map(to_json).transpose()?;
                let message =
                    insert_message(connection, &mut conversation, author, (new.body, new.client_msg_id, new.meta), now)?;
                if let Some(record) = decision {
                    connection
                        .prepare_cached("INSERT INTO bot_turns (message_id, conversation_id, record, created_at) VALUES (?1, ?2, ?3, ?4)")?
                        .execute(params![message.id.0, conversation.id.0, record, now])?;
                }
                changes.push(Change::Message {
                    conversation: Arc::new(conversation.clone()),
                    message: Arc::new(message.clone()),
                });
                Ok(Appended { message, conversation, created: true })
            })
            .await
    }

    async fn decisions(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<(MessageId, DecisionRecord)>> {
        self.engine
            .read(move |connection| {
                let mut statement = connection
                    .prepare_cached("SELECT message_id, record FROM bot_turns WHERE conversation_id = ?1 ORDER BY message_id")?;
                let rows = statement.query_map([conversation.0], |row| {
                    Ok((MessageId(row.get(0)?), json_column(row, 1)?.ok_or(rusqlite::Error::InvalidColumnType(1, "record".into(), rusqlite::types::Type::Null))?))
                })?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn llm_usage(&self, workspace: WorkspaceId, since: Millis) -> StoreResult<LlmUsage> {
        self.engine
            .read(move |connection| {
                // One group per outcome, the records' JSON read by SQLite, so only a few sums
                // cross into Rust however many turns there were. The recent turns are a small
                // part of all of them: CROSS JOIN keeps SQLite starting from the time index
                // rather than from every conversation the workspace ever had. Turns without an
                // LLM record make a NULL group, skipped below.
                // The hand-off summaries the model wrote count too (their records are in the
                // packets).
                let mut statement = connection.prepare_cached(
                    "SELECT json_extract(llm, '$.outcome') AS outcome, count(*),
                            total(json_extract(llm, '$.prompt_tokens')),
                            total(json_extract(llm, '$.completion_tokens')),
                            total(json_extract(llm, '$.cost'))
                     FROM (SELECT json_extract(t.record, '$.llm') AS llm
                           FROM bot_turns t CROSS JOIN conversations c ON c.id = t.conversation_id
                           WHERE t.created_at >= ?2 AND c.workspace_id = ?1
                           UNION ALL
                           SELECT json_extract(h.packet, '$.model_summary.llm')
                           FROM handoffs h CROSS JOIN conversations c ON c.id = h.conversation_id
                           WHERE h.created_at >= ?2 AND c.workspace_id = ?1)
                     GROUP BY outcome",
                )?;
                let rows = statement.query_map(params![workspace.0, since], |row| {
                    Ok((
                        row.get::<_, Option<String>>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, f64>(2)?,
                        row.get::<_, f64>(3)?,
                        row.get::<_, f64>(4)?,
                    ))
                })?;
                let mut usage = LlmUsage::default();
                for row in rows {
                    let (outcome, count, prompt_tokens, completion_tokens, cost) = row?;
                    let Some(outcome) = outcome else { continue };
                    let tokens = (prompt_tokens as u64, completion_tokens as u64);
                    usage.add(&outcome, count as u64, tokens, cost);
                }
                Ok(usage)
            })
            .await
    }

    async fn messages(
        &self,
        conversation: ConversationId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.engine
            .read(move |connection| {
                let mut statement = connection.prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
                ))?;
                let rows = statement.query_map(params![conversation.0, after_seq, limit], message_from_row)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn save_articles(
        &self,
        workspace: WorkspaceId,
        articles: Vec<NewArticle>,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> StoreResult<Vec<Article>> {
        self.engine
            .write(move |connection, changes| {
                let now = now_millis();
                let mut saved = Vec::with_capacity(articles.len());
                for new in articles {
                    connection
                        .prepare_cached(
                            "INSERT INTO articles (workspace_id, key, status, title, answer, questions, tags, language,
                                                   effective_from, expires_at, author_id, created_at, updated_at, channels)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)
                             ON CONFLICT (workspace_id, key) DO UPDATE SET
                                status = excluded.status, title = excluded.title, answer = excluded.answer,
                                questions = excluded.questions, tags = excluded.tags, language = excluded.language,
                                effective_from = excluded.effective_from, expires_at = excluded.expires_at,
                                author_id = excluded.author_id, updated_at = excluded.updated_at,
                                channels = excluded.channels",
                        )?
                        .execute(params![
                            workspace.0,
                            new.key,
                            status.as_str(),
                            new.title,
                            new.answer,
                            to_json(&new.questions)?,
                            to_json(&new.tags)?,
                            new.language.map(Locale::as_str),
                            new.effective_from,
                            new.expires_at,
                            author.map(|user| user.0),
                            now,
                            to_json(&new.channels)?
                        ])?;
                    let mut article = load_article(connection, workspace, &new.key)?.ok_or(StoreError::NotFound("article"))?;
                    if status == ArticleStatus::Published {
                        publish_version(connection, &mut article, author, now)?;
                    }
                    saved.push(article);
                }
                changes.push(Change::Knowledge(workspace));
                Ok(saved)
            })
            .await
    }

    async fn answer_settings(&self, workspace: WorkspaceId) -> StoreResult<AnswerSettings> {
        self.engine
            .read(move |connection| {
                let settings = connection
                    .prepare_cached("SELECT threshold, dictionary, updated_at FROM answer_settings WHERE workspace_id = ?1")?
                    .query_row([workspace.0], |row| {
                        Ok(AnswerSettings {
                            threshold: row.get::<_, Option<f64>>(0)?.map(|value| value as f32),
                            dictionary: json_column(row, 1)?.unwrap_or_default(),
                            updated_at: row.get(2)?,
                        })
                    })
                    .optional()?;
                Ok(settings.unwrap_or_default())
            })
            .await
    }

    async fn save_answer_settings(
        &self,
        workspace: WorkspaceId,
        mut settings: AnswerSettings,
    ) -> StoreResult<AnswerSettings> {
        self.engine
            .write(move |connection, changes| {
                settings.updated_at = now_millis();
                connection.execute(
                    "INSERT INTO answer_settings (workspace_id, threshold, dictionary, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (workspace_id) DO UPDATE SET threshold = excluded.threshold,
                        dictionary = excluded.dictionary, updated_at = excluded.updated_at",
                    params![
                        workspace.0,
                        settings.threshold.map(f64::from),
                        to_json(&settings.dictionary)?,
                        settings.updated_at
                    ],
                )?;
                changes.push(Change::Knowledge(workspace));
                Ok(settings)
            })
            .await
    }

    async fn knowledge_stamp(&self, workspace: WorkspaceId) -> StoreResult<(i64, Millis)> {
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(
                        "SELECT COUNT(*) + (SELECT COUNT(*) FROM actions WHERE workspace_id = ?1),
                                MAX(COALESCE(MAX(updated_at), 0),
                                COALESCE((SELECT updated_at FROM answer_settings WHERE workspace_id = ?1), 0),
                                COALESCE((SELECT MAX(updated_at) FROM actions WHERE workspace_id = ?1), 0))
                         FROM articles WHERE workspace_id = ?1",
                    )?
                    .query_row([workspace.0], |row| Ok((row.get(0)?, row.get(1)?)))?)
            })
            .await
    }

    async fn article(&self, workspace: WorkspaceId, key: &str) -> StoreResult<Option<Article>> {
        let key = key.to_owned();
        self.engine.read(move |connection| load_article(connection, workspace, &key)).await
    }

    async fn articles(&self, workspace: WorkspaceId) -> StoreResult<Vec<Article>> {
        self.engine
            .read(move |connection| {
                let mut statement = connection.prepare_cached(&format!(
                    "SELECT {ARTICLE_COLUMNS} FROM articles WHERE workspace_id = ?1 ORDER BY key"
                ))?;
                let rows = statement.query_map([workspace.0], article_from_row)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn article_versions(
        &self,
        workspace: WorkspaceId,
        key: &str,
    ) -> StoreResult<Vec<ArticleVersion>> {
        let key = key.to_owned();
        self.engine
            .read(move |connection| {
                let mut statement = connection.prepare_cached(
                    "SELECT v.version, v.title, v.answer, v.questions, v.effective_from, v.expires_at, v.author_id, v.published_at
                     FROM article_versions v JOIN articles a ON a.id = v.article_id
                     WHERE a.workspace_id = ?1 AND a.key = ?2 ORDER BY v.version DESC",
                )?;
                let rows = statement.query_map(params![workspace.0, key], |row| {
                    Ok(ArticleVersion {
                        version: row.get(0)?,
                        title: row.get(1)?,
                        answer: row.get(2)?,
                        questions: json_column(row, 3)?.unwrap_or_default(),
                        effective_from: row.get(4)?,
                        expires_at: row.get(5)?,
                        author_id: row.get::<_, Option<i64>>(6)?.map(UserId),
                        published_at: row.get(7)?,
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn set_article_status(
        &self,
        workspace: WorkspaceId,
        key: &str,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> StoreResult<Article> {
        let key = key.to_owned();
        self.engine
            .write(move |connection, changes| {
                let now = now_millis();
                let mut article = load_article(connection, workspace, &key)?
                    .ok_or(StoreError::NotFound("article"))?;
                connection.execute(
                    "UPDATE articles SET status = ?2, updated_at = ?3 WHERE id = ?1",
                    params![article.id.0, status.as_str(), now],
                )?;
                article.status = status;
                article.updated_at = now;
                if status == ArticleStatus::Published {
                    publish_version(connection, &mut article, author, now)?;
                }
                changes.push(Change::Knowledge(workspace));
                Ok(article)
            })
            .await
    }

    async fn transition(
        &self,
        conversation: ConversationId,
        transition: Transition,
        system_message: Option<String>,
    ) -> StoreResult<Conversation> {
        let change =
            RouteChange { transition: Some(transition), system_message, ..RouteChange::default() };
        self.route(conversation, change).await
    }

    async fn route(
        &self,
        conversation: ConversationId,
        change: RouteChange,
    ) -> StoreResult<Conversation> {
        self.engine
            .write(move |connection, changes| {
                let now = now_millis();
                let mut conversation = load_conversation(connection, conversation)?;
                if let Some(state) = change.only_if_state.filter(|state| *state != conversation.state) {
                    return Err(StoreError::Conflict(format!(
                        "conversation {} is {}, not {}",
                        conversation.id,
                        conversation.state.as_str(),
                        state.as_str()
                    )));
                }
                if let Some(expected) = change.only_if_offered_to {
                    let offered = conversation.state == ConversationState::Human
                        && conversation.assignee_id == Some(expected)
                        && conversation.route.as_ref().is_some_and(|route| route.accepted_at.is_none());
                    if !offered {
                        return Err(StoreError::Conflict(format!(
                            "conversation {} is no longer an open offer to agent {expected}",
                            conversation.id
                        )));
                    }
                }
                if let Some(queue) = change.queue_id {
                    let known: bool = connection
                        .prepare_cached("SELECT EXISTS (SELECT 1 FROM queues WHERE id = ?1 AND workspace_id = ?2)")?
                        .query_row(params![queue.0, conversation.workspace_id.0], |row| row.get(0))?;
                    if !known {
                        return Err(StoreError::NotFound("queue"));
                    }
                    conversation.queue_id = Some(queue);
                }
                if let Some(until) = change.follow_up_at {
                    // After hours: a ticket that stays with the bot until its queue opens.
                    if change.transition.is_some() || conversation.state != ConversationState::Bot {
                        return Err(StoreError::Conflict(format!(
                            "conversation {} is {}; only the bot's conversations wait as tickets",
                            conversation.id,
                            conversation.state.as_str()
                        )));
                    }
                    let route = conversation
                        .route
                        .get_or_insert_with(|| RouteInfo { queued_at: now, ..RouteInfo::default() });
                    route.follow_up_at = Some(until);
                }
                if let Some(transition) = change.transition {
                    let ownership = conversation.ownership().apply(transition)?;
                    if let Transition::Assign { agent } = transition {
                        let assignable = load_user(connection, agent)?.is_some_and(|user| {
                            user.active && user.workspace_id == conversation.workspace_id
                        });
                        if !assignable {
                            return Err(StoreError::NotFound("agent"));
                        }
                    }
                    if let (Some(skip), Some(route)) = (change.skip, conversation.route.as_mut())
                        && !route.skip.contains(&skip)
                    {
                        route.skip.push(skip);
                    }
                    save_ownership(connection, &mut conversation, ownership, now, changes)?;
                }
                if let Some(route) = conversation.route.as_mut() {
                    if let Some(skills) = change.skills {
                        route.skills = skills;
                    }
                    if let Some(priority) = change.priority {
                        route.priority = priority;
                    }
                    if change.sticky.is_some() {
                        route.sticky = change.sticky;
                    }
                }
                save_route(connection, &conversation)?;
                if change.transition.is_none() {
                    changes.push(Change::Conversation(Arc::new(conversation.clone())));
                }
                if let Some(packet) = &change.packet {
                    connection
                        .prepare_cached("INSERT INTO handoffs (conversation_id, packet, created_at) VALUES (?1, ?2, ?3)")?
                        .execute(params![conversation.id.0, to_json(packet)?, now])?;
                }
                if let Some(body) = change.system_message {
                    let system = (AuthorKind::System, None, None);
                    let message = insert_message(
                        connection,
                        &mut conversation,
                        system,
                        (body, None, None),
                        now,
                    )?;
                    changes.push(Change::Message {
                        conversation: Arc::new(conversation.clone()),
                        message: Arc::new(message),
                    });
                }
                Ok(conversation)
            })
            .await
    }

    async fn customer_history(&self, customer: CustomerId) -> StoreResult<CustomerHistory> {
        self.engine
            .read(move |connection| {
                let (conversations, with_people) = connection
                    .prepare_cached(
                        "SELECT COUNT(*), COUNT(*) FILTER (WHERE EXISTS (
                             SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.author_kind = 'agent'))
                         FROM conversations c WHERE c.customer_id = ?1",
                    )?
                    .query_row([customer.0], |row| Ok((row.get(0)?, row.get(1)?)))?;
                let last_agent = connection
                    .prepare_cached(
                        "SELECT m.author_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
                         WHERE c.customer_id = ?1 AND m.author_kind = 'agent' ORDER BY m.id DESC LIMIT 1",
                    )?
                    .query_row([customer.0], |row| row.get::<_, Option<i64>>(0))
                    .optional()?
                    .flatten()
                    .map(UserId);
                Ok(CustomerHistory { conversations, with_people, last_agent })
            })
            .await
    }

    async fn actions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Action>> {
        self.engine
            .read(move |connection| {
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
            })
            .await
    }

    async fn save_actions(
        &self,
        workspace: WorkspaceId,
        actions: Vec<Action>,
    ) -> StoreResult<Vec<Action>> {
        self.engine
            .write(move |connection, changes| {
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
            })
            .await
    }

    async fn delete_action(&self, workspace: WorkspaceId, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.engine
            .write(move |connection, changes| {
                let deleted = connection
                    .prepare_cached("DELETE FROM actions WHERE workspace_id = ?1 AND key = ?2")?
                    .execute(params![workspace.0, key])?;
                if deleted == 0 {
                    return Err(StoreError::NotFound("action"));
                }
                changes.push(Change::Knowledge(workspace));
                Ok(())
            })
            .await
    }

    async fn set_pending_action(
        &self,
        conversation: ConversationId,
        pending: Option<PendingAction>,
    ) -> StoreResult<()> {
        self.engine
            .write(move |connection, _| {
                let updated = connection
                    .prepare_cached("UPDATE conversations SET pending_action = ?2 WHERE id = ?1")?
                    .execute(params![conversation.0, pending.as_ref().map(to_json).transpose()?])?;
                if updated == 0 {
                    return Err(StoreError::NotFound("conversation"));
                }
                Ok(())
            })
            .await
    }

    async fn set_model_summary(
        &self,
        conversation: ConversationId,
        summary: ModelSummary,
    ) -> StoreResult<()> {
        self.engine
            .write(move |connection, _| {
                let updated = connection
                    .prepare_cached(
                        "UPDATE handoffs SET packet = json_set(packet, '$.model_summary', json(?2))
                         WHERE id = (SELECT MAX(id) FROM handoffs WHERE conversation_id = ?1)",
                    )?
                    .execute(params![conversation.0, to_json(&summary)?])?;
                if updated == 0 {
                    return Err(StoreError::NotFound("hand-off packet"));
                }
                Ok(())
            })
            .await
    }

    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffPacket>> {
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached("SELECT packet FROM handoffs WHERE conversation_id = ?1 ORDER BY id DESC LIMIT 1")?
                    .query_row([conversation.0], |row| json_column(row, 0))
                    .optional()?
                    .flatten())
            })
            .await
    }

    async fn routed_conversations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Conversation>> {
        self.engine
            .read(move |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {CONVERSATION_COLUMNS} FROM conversations
                     WHERE workspace_id = ?1 AND (state IN ('queued', 'human') OR (state = 'bot' AND route IS NOT NULL))
                     ORDER BY id"
                ))?;
                let rows = statement.query_map([workspace.0], conversation_from_row)?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
    }

    async fn escalation_policy(&self, workspace: WorkspaceId) -> StoreResult<EscalationPolicy> {
        self.engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached(
                        "SELECT policy FROM escalation_policies WHERE workspace_id = ?1",
                    )?
                    .query_row([workspace.0], |row| json_column(row, 0))
                    .optional()?
                    .flatten()
                    .unwrap_or_default())
            })
            .await
    }

    async fn save_escalation_policy(
        &self,
        workspace: WorkspaceId,
        mut policy: EscalationPolicy,
    ) -> StoreResult<EscalationPolicy> {
        self.engine
            .write(move |connection, _| {
                policy.updated_at = now_millis();
                connection
                    .prepare_cached(
                        "INSERT INTO escalation_policies (workspace_id, policy, updated_at) VALUES (?1, ?2, ?3)
                         ON CONFLICT (workspace_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
                    )?
                    .execute(params![workspace.0, to_json(&policy)?, policy.updated_at])?;
                Ok(policy)
            })
            .await
    }

    async fn agent_routing(&self, workspace: WorkspaceId) -> StoreResult<Vec<AgentRouting>> {
        self.engine
            .read(move |connection| {
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
            })
            .await
    }

    async fn save_agent_routing(&self, routing: AgentRouting) -> StoreResult<AgentRouting> {
        self.engine
            .write(move |connection, _| {
                if load_user(connection, routing.user_id)?.is_none() {
                    return Err(StoreError::NotFound("agent"));
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
            })
            .await
    }

    // ---------- Outbound webhooks (see `webhooks.rs`) ----------

    async fn create_webhook_endpoint(
        &self,
        endpoint: crate::NewWebhookEndpoint,
    ) -> StoreResult<tandem_domain::WebhookEndpoint> {
        self.engine
            .write(move |connection, _| webhooks::create_endpoint(connection, endpoint))
            .await
    }

    async fn webhook_endpoint(
        &self,
        id: tandem_domain::WebhookEndpointId,
    ) -> StoreResult<Option<tandem_domain::WebhookEndpoint>> {
        self.engine.read(move |connection| webhooks::load_endpoint(connection, id)).await
    }

    async fn webhook_endpoints(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<tandem_domain::WebhookEndpoint>> {
        self.engine.read(move |connection| webhooks::endpoints(connection, workspace)).await
    }

    async fn update_webhook_endpoint(
        &self,
        id: tandem_domain::WebhookEndpointId,
        update: crate::WebhookEndpointUpdate,
    ) -> StoreResult<tandem_domain::WebhookEndpoint> {
        self.engine
            .write(move |connection, _| webhooks::update_endpoint(connection, id, update))
            .await
    }

    async fn delete_webhook_endpoint(
        &self,
        id: tandem_domain::WebhookEndpointId,
    ) -> StoreResult<()> {
        self.engine.write(move |connection, _| webhooks::delete_endpoint(connection, id)).await
    }

    async fn webhook_deliveries(
        &self,
        endpoint: tandem_domain::WebhookEndpointId,
        limit: u32,
    ) -> StoreResult<Vec<tandem_domain::WebhookDelivery>> {
        self.engine.read(move |connection| webhooks::deliveries(connection, endpoint, limit)).await
    }

    async fn enqueue_webhook_test(
        &self,
        endpoint: tandem_domain::WebhookEndpointId,
    ) -> StoreResult<tandem_domain::WebhookDelivery> {
        self.engine.write(move |connection, _| webhooks::enqueue_test(connection, endpoint)).await
    }

    async fn claim_webhooks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> StoreResult<Vec<crate::DueWebhook>> {
        self.engine
            .write(move |connection, _| webhooks::claim(connection, now, lease_until, limit))
            .await
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<Millis>> {
        self.engine.read(webhooks::next_due).await
    }

    async fn finish_webhook(
        &self,
        delivery: tandem_domain::WebhookDeliveryId,
        attempt: crate::WebhookAttempt,
    ) -> StoreResult<()> {
        self.engine
            .write(move |connection, _| webhooks::finish(connection, delivery, attempt))
            .await
    }

    async fn prune_webhooks(&self, before: Millis) -> StoreResult<u64> {
        self.engine.write(move |connection, _| webhooks::prune(connection, before)).await
    }

    // ---------- Identity verification ----------

    async fn verified_customer(&self, customer: crate::VerifiedCustomer) -> StoreResult<Customer> {
        self.engine
            .write(move |connection, _| {
                let attributes = to_json(&customer.attributes)?;
                // One statement finds or creates: the unique index on (workspace, external id)
                // turns a second insert of the same id into an update of the first.
                connection
                    .prepare_cached(
                        "INSERT INTO customers (workspace_id, name, email, locale, attributes, created_at, external_id, verified)
                         VALUES (?1, COALESCE(?2, ?6), ?3, ?4, ?5, ?7, ?6, 1)
                         ON CONFLICT (workspace_id, external_id) WHERE external_id IS NOT NULL
                         DO UPDATE SET name = COALESCE(?2, name), email = COALESCE(?3, email),
                            locale = COALESCE(locale, ?4), verified = 1",
                    )?
                    .execute(params![
                        customer.workspace_id.0,
                        customer.name,
                        customer.email,
                        customer.locale.map(Locale::as_str),
                        attributes,
                        customer.external_id,
                        now_millis()
                    ])?;
                Ok(connection
                    .prepare_cached(&format!(
                        "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE workspace_id = ?1 AND external_id = ?2"
                    ))?
                    .query_row(params![customer.workspace_id.0, customer.external_id], customer_from_row)?)
            })
            .await
    }

    async fn inbox_identity_secret(&self, inbox: InboxId) -> StoreResult<Option<String>> {
        let secret = self
            .engine
            .read(move |connection| {
                Ok(connection
                    .prepare_cached("SELECT identity_secret FROM inboxes WHERE id = ?1")?
                    .query_row([inbox.0], |row| row.get::<_, Option<String>>(0))
                    .optional()?)
            })
            .await?;
        match secret {
            None => Ok(None),
            Some(Some(secret)) => Ok(Some(secret)),
            // Every inbox gets a secret when it is created or migrated; one that still has none
            // gets it now.
            Some(None) => self
                .engine
                .write(move |connection, _| {
                    Ok(connection
                        .prepare_cached(
                            "UPDATE inboxes SET identity_secret = COALESCE(identity_secret, lower(hex(randomblob(32))))
                             WHERE id = ?1 RETURNING identity_secret",
                        )?
                        .query_row([inbox.0], |row| row.get(0))
                        .optional()?)
                })
                .await,
        }
    }

    async fn rotate_inbox_identity_secret(&self, inbox: InboxId) -> StoreResult<String> {
        self.engine
            .write(move |connection, _| {
                connection
                    .prepare_cached(
                        "UPDATE inboxes SET identity_secret = lower(hex(randomblob(32)))
                         WHERE id = ?1 RETURNING identity_secret",
                    )?
                    .query_row([inbox.0], |row| row.get(0))
                    .optional()?
                    .ok_or(StoreError::NotFound("inbox"))
            })
            .await
    }

    async fn workspace_setting(
        &self,
        workspace: WorkspaceId,
        key: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        let key = key.to_owned();
        self.engine
            .read(move |connection| {
                let value: Option<String> = connection
                    .prepare_cached(
                        "SELECT value FROM workspace_settings WHERE workspace_id = ?1 AND key = ?2",
                    )?
                    .query_row(params![workspace.0, key], |row| row.get(0))
                    .optional()?;
                value
                    .map(|text| {
                        serde_json::from_str(&text).map_err(|error| {
                            StoreError::Database(format!("workspace setting {key}: {error}"))
                        })
                    })
                    .transpose()
            })
            .await
    }

    async fn save_workspace_setting(
        &self,
        workspace: WorkspaceId,
        key: &str,
        value: serde_json::Value,
    ) -> StoreResult<Millis> {
        let key = key.to_owned();
        self.engine
            .write(move |connection, _| {
                let exists = connection
                    .prepare_cached("SELECT 1 FROM workspaces WHERE id = ?1")?
                    .query_row([workspace.0], |_| Ok(()))
                    .optional()?
                    .is_some();
                if !exists {
                    return Err(StoreError::NotFound("workspace"));
                }
                let now = now_millis();
                connection
                    .prepare_cached(
                        "INSERT INTO workspace_settings (workspace_id, key, value, updated_at)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (workspace_id, key) DO UPDATE SET value = excluded.value,
                            updated_at = excluded.updated_at",
                    )?
                    .execute(params![workspace.0, key, value.to_string(), now])?;
                Ok(now)
            })
            .await
    }
}

fn create_conversation(
    connection: &Connection,
    inbox_id: InboxId,
    customer_id: CustomerId,
    now: Millis,
    changes: &mut Vec<Change>,
) -> StoreResult<Conversation> {
    let workspace_id: i64 = connection
        .prepare_cached("SELECT workspace_id FROM inboxes WHERE id = ?1")?
        .query_row([inbox_id.0], |row| row.get(0))
        .optional()?
        .ok_or(StoreError::NotFound("inbox"))?;
    connection
        .prepare_cached(
            "INSERT INTO conversations (workspace_id, inbox_id, customer_id, state, last_message_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'bot', ?4, ?4, ?4)",
        )?
        .execute(params![workspace_id, inbox_id.0, customer_id.0, now])?;
    let conversation = Conversation {
        id: ConversationId(connection.last_insert_rowid()),
        workspace_id: WorkspaceId(workspace_id),
        inbox_id,
        customer_id,
        state: ConversationState::Bot,
        assignee_id: None,
        queue_id: None,
        route: None,
        pending_action: None,
        last_seq: 0,
        preview: String::new(),
        last_message_at: now,
        created_at: now,
        updated_at: now,
    };
    changes.push(Change::Conversation(Arc::new(conversation.clone())));
    Ok(conversation)
}
