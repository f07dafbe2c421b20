//! The PostgreSQL store: the same [`Store`] on a database several Tandem nodes share.
//!
//! One module per aggregate holds its SQL as async functions on a connection, as in the SQLite
//! store (`accounts`, `customers`, `conversations`, `knowledge`, `actions`, `routing`,
//! `webhooks`, `insight`, `privacy`, `audit`), so one write can combine several of them in its
//! transaction. This file says, for each [`Store`] method, whether it reads (a pooled
//! connection, each statement on its own) or writes (one transaction, see [`PostgresStore::write`]).
//!
//! Writes run at READ COMMITTED and take row locks on what they read to change, always in the
//! order workspace, customer, conversation: the conversation (`FOR UPDATE`) for its messages,
//! owner, packet and wrap-up, which is what keeps `seq` gapless and ordered under writers on
//! several nodes; the customer before finding or starting its conversation; the workspace
//! (`FOR NO KEY UPDATE`, which leaves inserts of its conversations free) for limits, knowledge,
//! actions, imports and erasure. Every committed change goes to every node through
//! `feed` (a table written in the change's transaction and PostgreSQL's NOTIFY, which delivers
//! in commit order).

mod accounts;
mod actions;
mod audit;
mod channels;
mod conversations;
mod copy;
mod customers;
mod feed;
mod identities;
mod insight;
mod knowledge;
mod migrations;
mod privacy;
mod routing;
mod rows;
mod sql;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures_util::future::BoxFuture;
use tandem_domain::{
    Action, AgentRouting, AnswerSettings, ApiToken, ApiTokenId, Article, ArticleStatus, Channel,
    Conversation, ConversationFacts, ConversationId, Customer, CustomerId, DecisionRecord,
    EscalationPolicy, HandoffPacket, IdentityKind, Inbox, InboxId, LlmUsage, Message, MessageId,
    Millis, ModelSummary, NewArticle, PendingAction, Queue, QueueRouting, Transition, User, UserId,
    WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookEndpointId, Workspace, WorkspaceId,
    Wrapup,
};
use tokio::sync::broadcast;

pub use self::copy::{CopiedTable, CopyReport, copy_sqlite_to_postgres};
use self::feed::Feed;
use self::sql::Db;
use crate::{
    Appended, ArticleEmbedding, ArticleVersion, Attached, AttachmentInfo, Change,
    ConversationCounts, ConversationFilter, ConversationText, CustomerHistory, CustomerIdentity,
    DueWebhook, HandledConversation, IdentifiedCustomer, ImportSummary, ImportedConversation,
    InsightAlert, NewApiToken, NewAttachment, NewCustomer, NewInbox, NewInsightAlert, NewMessage,
    NewUser, NewWebhookEndpoint, Rating, RouteChange, Session, Store, StoreError, StoreResult,
    SuggestionDecision, SuggestionUse, SuggestionUses, TokenOwners, UserUpdate, VerifiedCustomer,
    WebhookAttempt, WebhookEndpointUpdate,
};

/// How to reach the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// A `postgres://user@host:port/database` URL (or key=value connection string).
    pub url: String,
    /// Connections the pool keeps at most (the change feed holds one more).
    pub pool_size: usize,
}

impl PostgresConfig {
    pub fn new(url: impl Into<String>) -> PostgresConfig {
        PostgresConfig { url: url.into(), pool_size: 16 }
    }
}

/// The PostgreSQL store. Cheap to clone; clones share the pool and the change feed.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    feed: Arc<Feed>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresStore")
    }
}

impl PostgresStore {
    /// Connects, applies migrations as needed (one node at a time) and starts following the
    /// change feed.
    pub async fn open(config: &PostgresConfig) -> StoreResult<PostgresStore> {
        let pg_config: tokio_postgres::Config = config.url.parse().map_err(StoreError::database)?;
        {
            let (client, connection) =
                pg_config.connect(tokio_postgres::NoTls).await.map_err(StoreError::database)?;
            let driver = tokio::spawn(connection);
            let migrated = migrations::migrate(&client).await;
            drop(client);
            let _ = driver.await;
            migrated?;
        }
        let mut pooled = pg_config.clone();
        if pooled.get_application_name().is_none() {
            pooled.application_name("tandem");
        }
        let manager = Manager::from_config(
            pooled,
            tokio_postgres::NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(2))
            .build()
            .map_err(StoreError::database)?;
        let feed = Feed::start(pg_config).await?;
        Ok(PostgresStore { inner: Arc::new(Inner { pool, feed }) })
    }

    /// The schema version a fresh database gets from this build.
    pub fn latest_schema_version() -> i64 {
        migrations::LATEST
    }

    /// Stops following the feed and closes the pool. Later calls fail with `Closed`.
    pub fn close(&self) {
        self.inner.pool.close();
        self.inner.feed.stop();
    }

    async fn connection(&self) -> StoreResult<Object> {
        if self.inner.pool.is_closed() {
            return Err(StoreError::Closed);
        }
        Ok(self.inner.pool.get().await?)
    }

    /// Runs `query` on a pooled connection, each statement on its own.
    async fn read<T, F>(&self, query: F) -> StoreResult<T>
    where
        F: for<'a> FnOnce(&'a Db) -> BoxFuture<'a, StoreResult<T>> + Send,
    {
        let connection = self.connection().await?;
        query(&connection).await
    }

    /// Runs `query` in a read-only transaction that sees one snapshot of the database.
    async fn snapshot<T, F>(&self, query: F) -> StoreResult<T>
    where
        F: for<'a> FnOnce(&'a Db) -> BoxFuture<'a, StoreResult<T>> + Send,
    {
        let transaction = Transaction::begin(
            self.connection().await?,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )
        .await?;
        let result = query(transaction.db()).await;
        transaction.end(result).await
    }

    /// Runs `job` in a transaction whose commit does not wait for the disk: for state that
    /// may be lost with a crash of the database (rate-limit buckets, a token's last use).
    async fn unflushed<T, F>(&self, job: F) -> StoreResult<T>
    where
        F: for<'a> FnOnce(&'a Db) -> BoxFuture<'a, StoreResult<T>> + Send,
    {
        let transaction = Transaction::begin(
            self.connection().await?,
            "BEGIN; SET LOCAL synchronous_commit TO OFF",
        )
        .await?;
        let result = job(transaction.db()).await;
        transaction.end(result).await
    }

    /// Runs `job` in a transaction and commits it with the changes it reports in the feed;
    /// answers once the commit is durable and this node has published the changes.
    async fn write<T, F>(&self, job: F) -> StoreResult<T>
    where
        F: for<'a> FnOnce(&'a Db, &'a mut Vec<Change>) -> BoxFuture<'a, StoreResult<T>> + Send,
    {
        let transaction = Transaction::begin(self.connection().await?, "BEGIN").await?;
        let mut changes = Vec::new();
        let value = match job(transaction.db(), &mut changes).await {
            Ok(value) => value,
            Err(error) => return transaction.end(Err(error)).await,
        };
        let announced = self.inner.feed.record(transaction.db(), &changes).await?;
        transaction.end(Ok(())).await?;
        if !changes.is_empty() {
            self.inner.feed.committed();
        }
        announced.published().await;
        Ok(value)
    }
}

/// A transaction on a pooled connection. Ended by [`Transaction::end`]; one dropped before
/// (a cancelled call) takes its connection out of the pool and closes it, which rolls it back.
struct Transaction {
    connection: Option<Object>,
    open: bool,
}

impl Transaction {
    async fn begin(connection: Object, begin: &str) -> StoreResult<Transaction> {
        let transaction = Transaction { connection: Some(connection), open: true };
        transaction.db().batch_execute(begin).await?;
        Ok(transaction)
    }

    fn db(&self) -> &Db {
        self.connection.as_ref().expect("a transaction keeps its connection until dropped")
    }

    /// Commits after `Ok`, rolls back after `Err`; answers `result` (or why the commit failed).
    async fn end<T>(mut self, result: StoreResult<T>) -> StoreResult<T> {
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.db().batch_execute(end).await;
        if ended.is_ok() {
            self.open = false;
        }
        let value = result?;
        ended?;
        Ok(value)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.open
            && let Some(connection) = self.connection.take()
        {
            drop(Object::take(connection));
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.inner.feed.subscribe()
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn shared(&self) -> bool {
        true
    }

    fn feed_connected(&self) -> bool {
        self.inner.feed.connected()
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        self.read(|db| Box::pin(migrations::current_version(db))).await
    }

    async fn lease(&self, name: &str, holder: &str, now: Millis, ttl: Millis) -> StoreResult<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        // Taken when free or expired, renewed by its holder; one statement, so two nodes
        // asking at once cannot both win (the row's lock orders them).
        self.read(move |db| {
            Box::pin(async move {
                let held = sql::query_opt(
                    db,
                    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
                     WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= $4
                     RETURNING holder",
                    &[&name, &holder, &(now + ttl), &now],
                )
                .await?;
                Ok(held.is_some())
            })
        })
        .await
    }

    async fn take_token(
        &self,
        key: &str,
        burst: u32,
        per_minute: u32,
        now: Millis,
    ) -> StoreResult<Option<Result<(), u64>>> {
        let key = key.to_owned();
        let burst = f64::from(burst.max(1));
        let per_ms = f64::from(per_minute.max(1)) / 60_000.0;
        // The bucket is refilled and debited in one statement: concurrent requests on several
        // nodes queue on its row.
        self.unflushed(move |db| {
            Box::pin(async move {
                let taken = sql::query_opt(
                    db,
                    // The casts: PostgreSQL would infer `$2 - 1` as an integer and `... * $4`
                    // as a bigint, and the f64 parameters would not serialize.
                    "INSERT INTO rate_buckets AS bucket (key, tokens, updated_at) VALUES ($1, $2::float8 - 1, $3)
                     ON CONFLICT (key) DO UPDATE SET
                         tokens = LEAST($2::float8, bucket.tokens + GREATEST($3 - bucket.updated_at, 0) * $4::float8) - 1,
                         updated_at = $3
                     WHERE LEAST($2::float8, bucket.tokens + GREATEST($3 - bucket.updated_at, 0) * $4::float8) >= 1
                     RETURNING tokens",
                    &[&key, &burst, &now, &per_ms],
                )
                .await?;
                if taken.is_some() {
                    return Ok(Some(Ok(())));
                }
                let row = sql::query_opt(
                    db,
                    "SELECT LEAST($2::float8, tokens + GREATEST($3 - updated_at, 0) * $4::float8) FROM rate_buckets WHERE key = $1",
                    &[&key, &burst, &now, &per_ms],
                )
                .await?;
                let tokens: f64 = match row {
                    Some(row) => sql::get(&row, 0)?,
                    None => 0.0,
                };
                let wait_ms = ((1.0 - tokens).max(0.0) / per_ms).ceil();
                Ok(Some(Err(((wait_ms / 1000.0).ceil() as u64).max(1))))
            })
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.read(move |db| {
            Box::pin(async move {
                sql::execute(
                    db,
                    "DELETE FROM leases WHERE name = $1 AND holder = $2",
                    &[&name, &holder],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    // ---------- The installation and its workspaces ----------

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.read(move |db| Box::pin(async move { accounts::setting(db, &key).await })).await
    }

    async fn setting_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |db, _| {
            Box::pin(async move { accounts::setting_or_insert(db, &key, &value).await })
        })
        .await
    }

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace> {
        let name = name.to_owned();
        self.write(move |db, _| Box::pin(async move { accounts::create_workspace(db, name).await }))
            .await
    }

    async fn workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.read(|db| Box::pin(accounts::workspaces(db))).await
    }

    async fn create_inbox(&self, inbox: NewInbox) -> StoreResult<Inbox> {
        self.write(move |db, _| Box::pin(async move { accounts::create_inbox(db, inbox).await }))
            .await
    }

    async fn inbox(&self, id: InboxId) -> StoreResult<Option<Inbox>> {
        self.read(move |db| Box::pin(async move { accounts::inbox(db, id).await })).await
    }

    async fn inbox_by_public_key(&self, public_key: &str) -> StoreResult<Option<Inbox>> {
        let public_key = public_key.to_owned();
        self.read(move |db| {
            Box::pin(async move { accounts::inbox_by_public_key(db, &public_key).await })
        })
        .await
    }

    async fn inboxes(&self, workspace: WorkspaceId) -> StoreResult<Vec<Inbox>> {
        self.read(move |db| Box::pin(async move { accounts::inboxes(db, workspace).await })).await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.write(move |db, _| Box::pin(async move { accounts::create_user(db, user).await }))
            .await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(move |db| Box::pin(async move { accounts::user(db, id).await })).await
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>> {
        let email = email.trim().to_lowercase();
        self.read(move |db| Box::pin(async move { accounts::user_credentials(db, &email).await }))
            .await
    }

    async fn users(&self, workspace: WorkspaceId) -> StoreResult<Vec<User>> {
        self.read(move |db| Box::pin(async move { accounts::users(db, workspace).await })).await
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<User> {
        self.write(move |db, _| {
            Box::pin(async move { accounts::update_user(db, id, update).await })
        })
        .await
    }

    async fn create_session(&self, session: Session) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(async move { accounts::create_session(db, session).await })
        })
        .await
    }

    async fn session(&self, token_hash: &str, now: Millis) -> StoreResult<Option<(Session, User)>> {
        let token_hash = token_hash.to_owned();
        self.read(move |db| Box::pin(async move { accounts::session(db, &token_hash, now).await }))
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |db, _| {
            Box::pin(async move { accounts::delete_session(db, &token_hash).await })
        })
        .await
    }

    async fn create_api_token(&self, token: NewApiToken) -> StoreResult<ApiToken> {
        self.write(move |db, _| {
            Box::pin(async move { accounts::create_api_token(db, token).await })
        })
        .await
    }

    async fn api_token(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        let token_hash = token_hash.to_owned();
        self.read(move |db| Box::pin(async move { accounts::api_token(db, &token_hash).await }))
            .await
    }

    async fn api_token_by_id(&self, id: ApiTokenId) -> StoreResult<Option<(ApiToken, User)>> {
        self.read(move |db| Box::pin(async move { accounts::api_token_by_id(db, id).await })).await
    }

    async fn api_tokens(&self, owners: TokenOwners) -> StoreResult<Vec<(ApiToken, User)>> {
        self.read(move |db| Box::pin(async move { accounts::api_tokens(db, owners).await })).await
    }

    async fn revoke_api_token(&self, id: ApiTokenId, now: Millis) -> StoreResult<ApiToken> {
        self.write(move |db, _| {
            Box::pin(async move { accounts::revoke_api_token(db, id, now).await })
        })
        .await
    }

    async fn touch_api_token(&self, id: ApiTokenId, now: Millis) -> StoreResult<()> {
        self.unflushed(move |db| {
            Box::pin(async move { accounts::touch_api_token(db, id, now).await })
        })
        .await
    }

    async fn workspace_setting(
        &self,
        workspace: WorkspaceId,
        key: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        let key = key.to_owned();
        self.read(move |db| {
            Box::pin(async move { accounts::workspace_setting(db, workspace, &key).await })
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
        self.write(move |db, _| {
            Box::pin(
                async move { accounts::save_workspace_setting(db, workspace, &key, value).await },
            )
        })
        .await
    }

    // ---------- Customers ----------

    async fn create_customer(&self, customer: NewCustomer) -> StoreResult<Customer> {
        self.write(move |db, _| Box::pin(async move { customers::create(db, customer).await }))
            .await
    }

    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
        self.read(move |db| Box::pin(async move { customers::customer(db, id).await })).await
    }

    async fn customer_names(
        &self,
        workspace: WorkspaceId,
        ids: Vec<CustomerId>,
    ) -> StoreResult<Vec<(CustomerId, String)>> {
        self.read(move |db| Box::pin(async move { customers::names(db, workspace, &ids).await }))
            .await
    }

    async fn customer_history(&self, customer: CustomerId) -> StoreResult<CustomerHistory> {
        self.read(move |db| Box::pin(async move { customers::history(db, customer).await })).await
    }

    async fn merge_customers(
        &self,
        workspace: WorkspaceId,
        keep: CustomerId,
        merged: CustomerId,
        by: Option<UserId>,
    ) -> StoreResult<crate::CustomerMerge> {
        self.write(move |db, changes| {
            Box::pin(
                async move { customers::merge(db, changes, workspace, keep, merged, by).await },
            )
        })
        .await
    }

    async fn undo_customer_merge(
        &self,
        workspace: WorkspaceId,
        merge: i64,
        by: Option<UserId>,
    ) -> StoreResult<crate::CustomerMerge> {
        self.write(move |db, changes| {
            Box::pin(async move { customers::undo_merge(db, changes, workspace, merge, by).await })
        })
        .await
    }

    async fn customer_merges(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
    ) -> StoreResult<Vec<crate::CustomerMerge>> {
        self.read(move |db| {
            Box::pin(async move { customers::merges(db, workspace, customer).await })
        })
        .await
    }

    async fn verified_customer(&self, customer: VerifiedCustomer) -> StoreResult<Customer> {
        self.write(move |db, _| Box::pin(async move { customers::verified(db, customer).await }))
            .await
    }

    async fn identified_customer(&self, customer: IdentifiedCustomer) -> StoreResult<Customer> {
        self.write(move |db, _| Box::pin(async move { identities::identified(db, customer).await }))
            .await
    }

    async fn attach_identity(
        &self,
        customer: CustomerId,
        kind: IdentityKind,
        value: &str,
        verified: bool,
    ) -> StoreResult<Attached> {
        let value = value.to_owned();
        self.write(move |db, _| {
            Box::pin(async move { identities::attach(db, customer, kind, &value, verified).await })
        })
        .await
    }

    async fn customer_identities(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Vec<CustomerIdentity>> {
        self.read(move |db| Box::pin(async move { identities::of_customer(db, customer).await }))
            .await
    }

    async fn inbox_settings(&self, inbox: InboxId) -> StoreResult<Option<serde_json::Value>> {
        self.read(move |db| Box::pin(async move { channels::inbox_settings(db, inbox).await }))
            .await
    }

    async fn set_inbox_settings(
        &self,
        inbox: InboxId,
        settings: serde_json::Value,
    ) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(async move { channels::set_inbox_settings(db, inbox, &settings).await })
        })
        .await
    }

    async fn channel_inboxes(
        &self,
        channel: Channel,
    ) -> StoreResult<Vec<(Inbox, serde_json::Value)>> {
        self.read(move |db| Box::pin(async move { channels::channel_inboxes(db, channel).await }))
            .await
    }

    async fn store_attachment(&self, attachment: NewAttachment) -> StoreResult<AttachmentInfo> {
        self.write(move |db, _| {
            Box::pin(async move { channels::store_attachment(db, attachment).await })
        })
        .await
    }

    async fn attachment(&self, id: i64) -> StoreResult<Option<(AttachmentInfo, Vec<u8>)>> {
        self.read(move |db| Box::pin(async move { channels::attachment(db, id).await })).await
    }

    async fn conversation_attachments(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<AttachmentInfo>> {
        self.read(move |db| {
            Box::pin(async move { channels::conversation_attachments(db, conversation).await })
        })
        .await
    }

    async fn conversation_by_client_msg_ids(
        &self,
        inbox: InboxId,
        ids: &[String],
    ) -> StoreResult<Option<Conversation>> {
        let ids = ids.to_vec();
        self.read(move |db| {
            Box::pin(async move { channels::conversation_by_client_msg_ids(db, inbox, &ids).await })
        })
        .await
    }

    async fn inbox_identity_secret(&self, inbox: InboxId) -> StoreResult<Option<String>> {
        match self
            .read(move |db| Box::pin(async move { accounts::identity_secret(db, inbox).await }))
            .await?
        {
            None => Ok(None),
            Some(Some(secret)) => Ok(Some(secret)),
            // Every inbox gets a secret when it is created or migrated; one that still has none
            // gets it now.
            Some(None) => {
                self.write(move |db, _| {
                    Box::pin(async move { accounts::ensure_identity_secret(db, inbox).await })
                })
                .await
            }
        }
    }

    async fn rotate_inbox_identity_secret(&self, inbox: InboxId) -> StoreResult<String> {
        self.write(move |db, _| {
            Box::pin(async move { accounts::rotate_identity_secret(db, inbox).await })
        })
        .await
    }

    // ---------- Conversations and messages ----------

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.read(move |db| Box::pin(async move { conversations::conversation(db, id).await }))
            .await
    }

    async fn latest_conversation(
        &self,
        inbox: InboxId,
        customer: CustomerId,
    ) -> StoreResult<Option<Conversation>> {
        self.read(move |db| {
            Box::pin(async move { conversations::latest(db, inbox, customer).await })
        })
        .await
    }

    async fn conversations_on(
        &self,
        workspace: WorkspaceId,
        filter: ConversationFilter,
        channel: Option<Channel>,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        self.read(move |db| {
            Box::pin(
                async move { conversations::list(db, workspace, filter, channel, limit).await },
            )
        })
        .await
    }

    async fn conversation_counts(
        &self,
        workspace: WorkspaceId,
        me: UserId,
    ) -> StoreResult<ConversationCounts> {
        self.read(move |db| Box::pin(async move { conversations::counts(db, workspace, me).await }))
            .await
    }

    async fn customer_conversations(
        &self,
        customer: CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        self.read(move |db| {
            Box::pin(async move { conversations::of_customer(db, customer, limit).await })
        })
        .await
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        self.write(move |db, changes| {
            Box::pin(async move { conversations::append(db, changes, message).await })
        })
        .await
    }

    async fn decisions(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<(MessageId, DecisionRecord)>> {
        self.read(move |db| {
            Box::pin(async move { conversations::decisions(db, conversation).await })
        })
        .await
    }

    async fn llm_usage(&self, workspace: WorkspaceId, since: Millis) -> StoreResult<LlmUsage> {
        self.read(move |db| {
            Box::pin(async move { conversations::llm_usage(db, workspace, since).await })
        })
        .await
    }

    async fn messages(
        &self,
        conversation: ConversationId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.read(move |db| {
            Box::pin(
                async move { conversations::messages(db, conversation, after_seq, limit).await },
            )
        })
        .await
    }

    async fn message_by_client_id(
        &self,
        conversation: ConversationId,
        client_msg_id: &str,
    ) -> StoreResult<Option<Message>> {
        let client_msg_id = client_msg_id.to_owned();
        self.read(move |db| {
            Box::pin(async move {
                conversations::message_by_client_id(db, conversation, &client_msg_id).await
            })
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
        self.write(move |db, changes| {
            Box::pin(async move { conversations::route(db, changes, conversation, change).await })
        })
        .await
    }

    async fn set_pending_action(
        &self,
        conversation: ConversationId,
        pending: Option<PendingAction>,
    ) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(
                async move { conversations::set_pending_action(db, conversation, pending).await },
            )
        })
        .await
    }

    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffPacket>> {
        self.read(move |db| Box::pin(async move { conversations::handoff(db, conversation).await }))
            .await
    }

    async fn record_suggestion_use(
        &self,
        conversation: ConversationId,
        used: SuggestionUse,
    ) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(
                async move { conversations::record_suggestion_use(db, conversation, used).await },
            )
        })
        .await
    }

    async fn suggestion_uses(&self, conversation: ConversationId) -> StoreResult<SuggestionUses> {
        self.read(move |db| {
            Box::pin(async move { conversations::suggestion_uses(db, conversation).await })
        })
        .await
    }

    async fn set_model_summary(
        &self,
        conversation: ConversationId,
        summary: ModelSummary,
    ) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(
                async move { conversations::set_model_summary(db, conversation, summary).await },
            )
        })
        .await
    }

    async fn wrapup(&self, conversation: ConversationId) -> StoreResult<Option<Wrapup>> {
        self.read(move |db| Box::pin(async move { conversations::wrapup(db, conversation).await }))
            .await
    }

    async fn save_wrapup(&self, wrapup: Wrapup) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(async move { conversations::save_wrapup(db, &wrapup).await })
        })
        .await
    }

    async fn set_wrapup_topic(
        &self,
        conversation: ConversationId,
        topic: Option<String>,
    ) -> StoreResult<Wrapup> {
        self.write(move |db, _| {
            Box::pin(async move {
                conversations::set_wrapup_topic(db, conversation, topic.as_deref()).await
            })
        })
        .await
    }

    async fn routed_conversations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Conversation>> {
        self.read(move |db| Box::pin(async move { conversations::routed(db, workspace).await }))
            .await
    }

    // ---------- Knowledge and actions ----------

    async fn save_articles(
        &self,
        workspace: WorkspaceId,
        articles: Vec<NewArticle>,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> StoreResult<Vec<Article>> {
        self.write(move |db, changes| {
            Box::pin(async move {
                knowledge::save_articles(db, changes, workspace, articles, (status, author)).await
            })
        })
        .await
    }

    async fn answer_settings(&self, workspace: WorkspaceId) -> StoreResult<AnswerSettings> {
        self.read(move |db| {
            Box::pin(async move { knowledge::answer_settings(db, workspace).await })
        })
        .await
    }

    async fn save_answer_settings(
        &self,
        workspace: WorkspaceId,
        settings: AnswerSettings,
    ) -> StoreResult<AnswerSettings> {
        self.write(move |db, changes| {
            Box::pin(async move {
                knowledge::save_answer_settings(db, changes, workspace, settings).await
            })
        })
        .await
    }

    async fn knowledge_stamp(&self, workspace: WorkspaceId) -> StoreResult<(i64, Millis)> {
        self.read(move |db| Box::pin(async move { knowledge::stamp(db, workspace).await })).await
    }

    async fn handled_conversations(
        &self,
        workspace: WorkspaceId,
        since: Millis,
        limit: u32,
    ) -> StoreResult<Vec<HandledConversation>> {
        self.read(move |db| {
            Box::pin(
                async move { knowledge::handled_conversations(db, workspace, since, limit).await },
            )
        })
        .await
    }

    async fn decide_suggestions(
        &self,
        workspace: WorkspaceId,
        decisions: Vec<SuggestionDecision>,
    ) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(async move { knowledge::decide_suggestions(db, workspace, &decisions).await })
        })
        .await
    }

    async fn save_article_embeddings(
        &self,
        workspace: WorkspaceId,
        model: &str,
        embeddings: Vec<ArticleEmbedding>,
    ) -> StoreResult<()> {
        let model = model.to_owned();
        self.write(move |db, _| {
            Box::pin(async move {
                knowledge::save_article_embeddings(db, workspace, &model, &embeddings).await
            })
        })
        .await
    }

    async fn article_embeddings(
        &self,
        workspace: WorkspaceId,
        model: &str,
    ) -> StoreResult<Vec<ArticleEmbedding>> {
        let model = model.to_owned();
        self.read(move |db| {
            Box::pin(async move { knowledge::article_embeddings(db, workspace, &model).await })
        })
        .await
    }

    async fn suggestion_decisions(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<SuggestionDecision>> {
        self.read(move |db| {
            Box::pin(async move { knowledge::suggestion_decisions(db, workspace).await })
        })
        .await
    }

    async fn article(&self, workspace: WorkspaceId, key: &str) -> StoreResult<Option<Article>> {
        let key = key.to_owned();
        self.read(move |db| Box::pin(async move { knowledge::article(db, workspace, &key).await }))
            .await
    }

    async fn articles(&self, workspace: WorkspaceId) -> StoreResult<Vec<Article>> {
        self.read(move |db| Box::pin(async move { knowledge::articles(db, workspace).await })).await
    }

    async fn article_versions(
        &self,
        workspace: WorkspaceId,
        key: &str,
    ) -> StoreResult<Vec<ArticleVersion>> {
        let key = key.to_owned();
        self.read(move |db| {
            Box::pin(async move { knowledge::article_versions(db, workspace, &key).await })
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
        self.write(move |db, changes| {
            Box::pin(async move {
                knowledge::set_article_status(db, changes, workspace, &key, (status, author)).await
            })
        })
        .await
    }

    async fn actions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Action>> {
        self.read(move |db| Box::pin(async move { actions::actions(db, workspace).await })).await
    }

    async fn save_actions(
        &self,
        workspace: WorkspaceId,
        actions: Vec<Action>,
    ) -> StoreResult<Vec<Action>> {
        self.write(move |db, changes| {
            Box::pin(async move { actions::save_actions(db, changes, workspace, actions).await })
        })
        .await
    }

    async fn delete_action(&self, workspace: WorkspaceId, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |db, changes| {
            Box::pin(async move { actions::delete_action(db, changes, workspace, &key).await })
        })
        .await
    }

    // ---------- Routing ----------

    async fn create_queue(
        &self,
        workspace: WorkspaceId,
        name: &str,
        description: &str,
        routing: QueueRouting,
    ) -> StoreResult<Queue> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.write(move |db, changes| {
            Box::pin(async move {
                let queue =
                    routing::create_queue(db, workspace, name, description, routing).await?;
                changes.push(Change::Agents(workspace));
                Ok(queue)
            })
        })
        .await
    }

    async fn update_queue(&self, queue: Queue) -> StoreResult<Queue> {
        self.write(move |db, changes| {
            Box::pin(async move {
                let queue = routing::update_queue(db, queue).await?;
                changes.push(Change::Agents(queue.workspace_id));
                Ok(queue)
            })
        })
        .await
    }

    async fn queues(&self, workspace: WorkspaceId) -> StoreResult<Vec<Queue>> {
        self.read(move |db| Box::pin(async move { routing::queues(db, workspace).await })).await
    }

    async fn escalation_policy(&self, workspace: WorkspaceId) -> StoreResult<EscalationPolicy> {
        self.read(move |db| {
            Box::pin(async move { routing::escalation_policy(db, workspace).await })
        })
        .await
    }

    async fn save_escalation_policy(
        &self,
        workspace: WorkspaceId,
        policy: EscalationPolicy,
    ) -> StoreResult<EscalationPolicy> {
        self.write(move |db, _| {
            Box::pin(async move { routing::save_escalation_policy(db, workspace, policy).await })
        })
        .await
    }

    async fn agent_routing(&self, workspace: WorkspaceId) -> StoreResult<Vec<AgentRouting>> {
        self.read(move |db| Box::pin(async move { routing::agent_routing(db, workspace).await }))
            .await
    }

    async fn save_agent_routing(&self, agent: AgentRouting) -> StoreResult<AgentRouting> {
        self.write(move |db, changes| {
            Box::pin(async move {
                let agent = routing::save_agent_routing(db, agent).await?;
                if let Some(user) = accounts::user(db, agent.user_id).await? {
                    changes.push(Change::Agents(user.workspace_id));
                }
                Ok(agent)
            })
        })
        .await
    }

    // ---------- Outbound webhooks ----------

    async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint> {
        self.write(move |db, _| {
            Box::pin(async move { webhooks::create_endpoint(db, endpoint).await })
        })
        .await
    }

    async fn webhook_endpoint(
        &self,
        id: WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        self.read(move |db| Box::pin(async move { webhooks::load_endpoint(db, id).await })).await
    }

    async fn webhook_endpoints(&self, workspace: WorkspaceId) -> StoreResult<Vec<WebhookEndpoint>> {
        self.read(move |db| Box::pin(async move { webhooks::endpoints(db, workspace).await })).await
    }

    async fn update_webhook_endpoint(
        &self,
        id: WebhookEndpointId,
        update: WebhookEndpointUpdate,
    ) -> StoreResult<WebhookEndpoint> {
        self.write(move |db, _| {
            Box::pin(async move { webhooks::update_endpoint(db, id, update).await })
        })
        .await
    }

    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> StoreResult<()> {
        self.write(move |db, _| Box::pin(async move { webhooks::delete_endpoint(db, id).await }))
            .await
    }

    async fn webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        self.read(move |db| {
            Box::pin(async move { webhooks::deliveries(db, endpoint, limit).await })
        })
        .await
    }

    async fn enqueue_webhook_test(
        &self,
        endpoint: WebhookEndpointId,
    ) -> StoreResult<WebhookDelivery> {
        self.write(move |db, _| Box::pin(async move { webhooks::enqueue_test(db, endpoint).await }))
            .await
    }

    async fn claim_webhooks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> StoreResult<Vec<DueWebhook>> {
        self.write(move |db, _| {
            Box::pin(async move { webhooks::claim(db, now, lease_until, limit).await })
        })
        .await
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<Millis>> {
        self.read(|db| Box::pin(webhooks::next_due(db))).await
    }

    async fn finish_webhook(
        &self,
        delivery: WebhookDeliveryId,
        attempt: WebhookAttempt,
    ) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(async move { webhooks::finish(db, delivery, attempt).await })
        })
        .await
    }

    async fn prune_webhooks(&self, before: Millis) -> StoreResult<u64> {
        self.write(move |db, _| Box::pin(async move { webhooks::prune(db, before).await })).await
    }

    async fn conversation_facts(
        &self,
        workspace: WorkspaceId,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<ConversationFacts>> {
        self.read(move |db| Box::pin(async move { insight::facts(db, workspace, from, to).await }))
            .await
    }

    async fn facts_of(
        &self,
        workspace: WorkspaceId,
        conversations: Vec<ConversationId>,
    ) -> StoreResult<Vec<ConversationFacts>> {
        self.read(move |db| {
            Box::pin(async move { insight::facts_of(db, workspace, &conversations).await })
        })
        .await
    }

    async fn rate_conversation(
        &self,
        conversation: ConversationId,
        rating: Rating,
    ) -> StoreResult<()> {
        self.write(move |db, changes| {
            Box::pin(async move {
                insight::rate(db, changes, conversation, &rating, crate::now_millis()).await
            })
        })
        .await
    }

    async fn set_cluster_topics(
        &self,
        workspace: WorkspaceId,
        topics: Vec<(ConversationId, String)>,
    ) -> StoreResult<usize> {
        self.write(move |db, _| {
            Box::pin(async move { insight::set_cluster_topics(db, workspace, &topics).await })
        })
        .await
    }

    async fn awaiting_bot(&self, since: Millis, limit: u32) -> StoreResult<Vec<Appended>> {
        self.read(move |db| {
            Box::pin(async move { conversations::awaiting_bot(db, since, limit).await })
        })
        .await
    }

    async fn idle_answered_conversations(
        &self,
        before: Millis,
        limit: u32,
    ) -> StoreResult<Vec<ConversationId>> {
        self.read(move |db| {
            Box::pin(async move { insight::idle_answered(db, before, limit).await })
        })
        .await
    }

    async fn rating(&self, conversation: ConversationId) -> StoreResult<Option<Rating>> {
        self.read(move |db| Box::pin(async move { insight::rating(db, conversation).await })).await
    }

    async fn import_conversations(
        &self,
        workspace: WorkspaceId,
        conversations: Vec<ImportedConversation>,
    ) -> StoreResult<ImportSummary> {
        self.write(move |db, _| {
            Box::pin(async move { insight::import(db, workspace, &conversations).await })
        })
        .await
    }

    async fn raise_insight_alert(
        &self,
        workspace: WorkspaceId,
        alert: NewInsightAlert,
    ) -> StoreResult<Option<InsightAlert>> {
        self.write(move |db, _| {
            Box::pin(async move {
                insight::raise_alert(db, workspace, &alert, crate::now_millis()).await
            })
        })
        .await
    }

    async fn insight_alerts(
        &self,
        workspace: WorkspaceId,
        since: Millis,
    ) -> StoreResult<Vec<InsightAlert>> {
        self.read(move |db| Box::pin(async move { insight::alerts(db, workspace, since).await }))
            .await
    }

    async fn dismiss_insight_alert(&self, workspace: WorkspaceId, id: i64) -> StoreResult<()> {
        self.write(move |db, _| {
            Box::pin(
                async move { insight::dismiss_alert(db, workspace, id, crate::now_millis()).await },
            )
        })
        .await
    }

    async fn conversation_texts(
        &self,
        workspace: WorkspaceId,
        since: Millis,
    ) -> StoreResult<Vec<ConversationText>> {
        self.read(move |db| {
            Box::pin(async move { insight::conversation_texts(db, workspace, since).await })
        })
        .await
    }

    async fn erase_customer(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
        erased_by: Option<UserId>,
    ) -> StoreResult<crate::Erasure> {
        self.write(move |db, changes| {
            Box::pin(async move {
                privacy::erase_customer(
                    db,
                    changes,
                    workspace,
                    customer,
                    erased_by,
                    crate::now_millis(),
                )
                .await
            })
        })
        .await
    }

    async fn delete_resolved_conversations(
        &self,
        workspace: WorkspaceId,
        before: Millis,
        limit: u32,
    ) -> StoreResult<crate::Erasure> {
        self.write(move |db, changes| {
            Box::pin(async move {
                privacy::delete_resolved(db, changes, workspace, before, limit, crate::now_millis())
                    .await
            })
        })
        .await
    }

    async fn erasures(&self, workspace: WorkspaceId) -> StoreResult<Vec<crate::Erasure>> {
        self.read(move |db| Box::pin(async move { privacy::erasures(db, workspace).await })).await
    }

    async fn customer_export(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
    ) -> StoreResult<crate::CustomerExport> {
        // One snapshot: every part of the export as of the same commit.
        self.snapshot(move |db| {
            Box::pin(
                async move { privacy::export(db, workspace, customer, crate::now_millis()).await },
            )
        })
        .await
    }

    // ---------- The audit log ----------

    async fn append_audit(&self, entry: crate::NewAuditEntry) -> StoreResult<crate::AuditEntry> {
        self.write(move |db, _| {
            Box::pin(async move { audit::append(db, &entry, crate::now_millis()).await })
        })
        .await
    }

    async fn audit(
        &self,
        workspace: WorkspaceId,
        filter: crate::AuditFilter,
        limit: u32,
        before_id: Option<i64>,
    ) -> StoreResult<Vec<crate::AuditEntry>> {
        self.read(move |db| {
            Box::pin(async move { audit::list(db, workspace, &filter, limit, before_id).await })
        })
        .await
    }
}
