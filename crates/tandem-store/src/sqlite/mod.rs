//! The embedded SQLite backend (the default store).
//!
//! One module per aggregate holds its SQL as plain functions on a connection
//! (`accounts`, `customers`, `conversations`, `knowledge`, `actions`, `routing`, `webhooks`), so
//! that one write can combine several of them in its transaction; `rows` turns rows into
//! entities. This file only says, for each [`Store`] method, whether it reads (a pooled read
//! connection) or writes (a job of the writer's group transaction, see `engine`).

mod accounts;
mod actions;
mod audit;
pub mod backup;
mod channels;
mod conversations;
mod customers;
mod engine;
mod identities;
mod insight;
mod knowledge;
mod migrations;
mod privacy;
mod routing;
mod rows;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::Connection;
use tandem_domain::{
    Action, AgentRouting, AnswerSettings, ApiToken, ApiTokenId, Article, ArticleStatus, Channel,
    Conversation, ConversationFacts, ConversationId, Customer, CustomerId, DecisionRecord,
    EscalationPolicy, HandoffPacket, IdentityKind, Inbox, InboxId, LlmUsage, Message, MessageId,
    Millis, ModelSummary, NewArticle, PendingAction, Queue, QueueRouting, Transition, User, UserId,
    WebhookDelivery, WebhookDeliveryId, WebhookEndpoint, WebhookEndpointId, Workspace, WorkspaceId,
    Wrapup,
};
use tokio::sync::broadcast;

use self::engine::Engine;
use crate::{
    Appended, ArticleEmbedding, ArticleVersion, Attached, AttachmentInfo, Change,
    ConversationCounts, ConversationFilter, ConversationText, CustomerHistory, CustomerIdentity,
    DueWebhook, HandledConversation, IdentifiedCustomer, ImportSummary, ImportedConversation,
    InsightAlert, NewApiToken, NewAttachment, NewCustomer, NewInbox, NewInsightAlert, NewMessage,
    NewUser, NewWebhookEndpoint, Rating, RouteChange, Session, Store, StoreError, StoreResult,
    SuggestionDecision, SuggestionUse, SuggestionUses, TokenOwners, UserUpdate, VerifiedCustomer,
    WebhookAttempt, WebhookEndpointUpdate,
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
            std::fs::create_dir_all(parent).map_err(StoreError::database)?;
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

    /// Runs `query` on a read connection.
    async fn read<T, F>(&self, query: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.engine.read(query).await
    }

    /// Runs `job` in the writer's group transaction; returns once it is committed.
    async fn write<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<Change>) -> StoreResult<T> + Send + 'static,
    {
        self.engine.write(job).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.engine.changes.subscribe()
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn write_stats(&self) -> Option<&crate::WriteStats> {
        Some(&self.engine.write_stats)
    }

    async fn schema_version(&self) -> StoreResult<i64> {
        self.read(migrations::current_version).await
    }

    // ---------- The installation and its workspaces ----------

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.read(move |connection| accounts::setting(connection, &key)).await
    }

    async fn setting_or_insert(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |connection, _| accounts::setting_or_insert(connection, &key, &value)).await
    }

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace> {
        let name = name.to_owned();
        self.write(move |connection, _| accounts::create_workspace(connection, name)).await
    }

    async fn workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.read(accounts::workspaces).await
    }

    async fn create_inbox(&self, inbox: NewInbox) -> StoreResult<Inbox> {
        self.write(move |connection, _| accounts::create_inbox(connection, inbox)).await
    }

    async fn inbox(&self, id: InboxId) -> StoreResult<Option<Inbox>> {
        self.read(move |connection| accounts::inbox(connection, id)).await
    }

    async fn inbox_by_public_key(&self, public_key: &str) -> StoreResult<Option<Inbox>> {
        let public_key = public_key.to_owned();
        self.read(move |connection| accounts::inbox_by_public_key(connection, &public_key)).await
    }

    async fn inboxes(&self, workspace: WorkspaceId) -> StoreResult<Vec<Inbox>> {
        self.read(move |connection| accounts::inboxes(connection, workspace)).await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.write(move |connection, _| accounts::create_user(connection, user)).await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(move |connection| accounts::user(connection, id)).await
    }

    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>> {
        let email = email.trim().to_lowercase();
        self.read(move |connection| accounts::user_credentials(connection, &email)).await
    }

    async fn users(&self, workspace: WorkspaceId) -> StoreResult<Vec<User>> {
        self.read(move |connection| accounts::users(connection, workspace)).await
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<User> {
        self.write(move |connection, _| accounts::update_user(connection, id, update)).await
    }

    async fn create_session(&self, session: Session) -> StoreResult<()> {
        self.write(move |connection, _| accounts::create_session(connection, session)).await
    }

    async fn session(&self, token_hash: &str, now: Millis) -> StoreResult<Option<(Session, User)>> {
        let token_hash = token_hash.to_owned();
        self.read(move |connection| accounts::session(connection, &token_hash, now)).await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |connection, _| accounts::delete_session(connection, &token_hash)).await
    }

    async fn create_api_token(&self, token: NewApiToken) -> StoreResult<ApiToken> {
        self.write(move |connection, _| accounts::create_api_token(connection, token)).await
    }

    async fn api_token(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        let token_hash = token_hash.to_owned();
        self.read(move |connection| accounts::api_token(connection, &token_hash)).await
    }

    async fn api_token_by_id(&self, id: ApiTokenId) -> StoreResult<Option<(ApiToken, User)>> {
        self.read(move |connection| accounts::api_token_by_id(connection, id)).await
    }

    async fn api_tokens(&self, owners: TokenOwners) -> StoreResult<Vec<(ApiToken, User)>> {
        self.read(move |connection| accounts::api_tokens(connection, owners)).await
    }

    async fn revoke_api_token(&self, id: ApiTokenId, now: Millis) -> StoreResult<ApiToken> {
        self.write(move |connection, _| accounts::revoke_api_token(connection, id, now)).await
    }

    async fn touch_api_token(&self, id: ApiTokenId, now: Millis) -> StoreResult<()> {
        self.write(move |connection, _| accounts::touch_api_token(connection, id, now)).await
    }

    async fn workspace_setting(
        &self,
        workspace: WorkspaceId,
        key: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        let key = key.to_owned();
        self.read(move |connection| accounts::workspace_setting(connection, workspace, &key)).await
    }

    async fn save_workspace_setting(
        &self,
        workspace: WorkspaceId,
        key: &str,
        value: serde_json::Value,
    ) -> StoreResult<Millis> {
        let key = key.to_owned();
        self.write(move |connection, _| {
            accounts::save_workspace_setting(connection, workspace, &key, value)
        })
        .await
    }

    // ---------- Customers ----------

    async fn create_customer(&self, customer: NewCustomer) -> StoreResult<Customer> {
        self.write(move |connection, _| customers::create(connection, customer)).await
    }

    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>> {
        self.read(move |connection| customers::customer(connection, id)).await
    }

    async fn customer_names(
        &self,
        workspace: WorkspaceId,
        ids: Vec<CustomerId>,
    ) -> StoreResult<Vec<(CustomerId, String)>> {
        self.read(move |connection| customers::names(connection, workspace, &ids)).await
    }

    async fn customer_history(&self, customer: CustomerId) -> StoreResult<CustomerHistory> {
        self.read(move |connection| customers::history(connection, customer)).await
    }

    async fn merge_customers(
        &self,
        workspace: WorkspaceId,
        keep: CustomerId,
        merged: CustomerId,
        by: Option<UserId>,
    ) -> StoreResult<crate::CustomerMerge> {
        self.write(move |connection, changes| {
            customers::merge(connection, changes, workspace, keep, merged, by)
        })
        .await
    }

    async fn undo_customer_merge(
        &self,
        workspace: WorkspaceId,
        merge: i64,
        by: Option<UserId>,
    ) -> StoreResult<crate::CustomerMerge> {
        self.write(move |connection, changes| {
            customers::undo_merge(connection, changes, workspace, merge, by)
        })
        .await
    }

    async fn customer_merges(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
    ) -> StoreResult<Vec<crate::CustomerMerge>> {
        self.read(move |connection| customers::merges(connection, workspace, customer)).await
    }

    async fn verified_customer(&self, customer: VerifiedCustomer) -> StoreResult<Customer> {
        self.write(move |connection, _| customers::verified(connection, customer)).await
    }

    async fn identified_customer(&self, customer: IdentifiedCustomer) -> StoreResult<Customer> {
        self.write(move |connection, _| identities::identified(connection, customer)).await
    }

    async fn attach_identity(
        &self,
        customer: CustomerId,
        kind: IdentityKind,
        value: &str,
        verified: bool,
    ) -> StoreResult<Attached> {
        let value = value.to_owned();
        self.write(move |connection, _| {
            identities::attach(connection, customer, kind, &value, verified)
        })
        .await
    }

    async fn customer_identities(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Vec<CustomerIdentity>> {
        self.read(move |connection| identities::of_customer(connection, customer)).await
    }

    async fn inbox_settings(&self, inbox: InboxId) -> StoreResult<Option<serde_json::Value>> {
        self.read(move |connection| channels::inbox_settings(connection, inbox)).await
    }

    async fn set_inbox_settings(
        &self,
        inbox: InboxId,
        settings: serde_json::Value,
    ) -> StoreResult<()> {
        self.write(move |connection, _| channels::set_inbox_settings(connection, inbox, &settings))
            .await
    }

    async fn channel_inboxes(
        &self,
        channel: Channel,
    ) -> StoreResult<Vec<(Inbox, serde_json::Value)>> {
        self.read(move |connection| channels::channel_inboxes(connection, channel)).await
    }

    async fn store_attachment(&self, attachment: NewAttachment) -> StoreResult<AttachmentInfo> {
        self.write(move |connection, _| channels::store_attachment(connection, attachment)).await
    }

    async fn attachment(&self, id: i64) -> StoreResult<Option<(AttachmentInfo, Vec<u8>)>> {
        self.read(move |connection| channels::attachment(connection, id)).await
    }

    async fn conversation_attachments(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<AttachmentInfo>> {
        self.read(move |connection| channels::conversation_attachments(connection, conversation))
            .await
    }

    async fn conversation_by_client_msg_ids(
        &self,
        inbox: InboxId,
        ids: &[String],
    ) -> StoreResult<Option<Conversation>> {
        let ids = ids.to_vec();
        self.read(move |connection| {
            channels::conversation_by_client_msg_ids(connection, inbox, &ids)
        })
        .await
    }

    async fn inbox_identity_secret(&self, inbox: InboxId) -> StoreResult<Option<String>> {
        match self.read(move |connection| accounts::identity_secret(connection, inbox)).await? {
            None => Ok(None),
            Some(Some(secret)) => Ok(Some(secret)),
            // Every inbox gets a secret when it is created or migrated; one that still has none
            // gets it now.
            Some(None) => {
                self.write(move |connection, _| accounts::ensure_identity_secret(connection, inbox))
                    .await
            }
        }
    }

    async fn rotate_inbox_identity_secret(&self, inbox: InboxId) -> StoreResult<String> {
        self.write(move |connection, _| accounts::rotate_identity_secret(connection, inbox)).await
    }

    // ---------- Conversations and messages ----------

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.read(move |connection| conversations::conversation(connection, id)).await
    }

    async fn latest_conversation(
        &self,
        inbox: InboxId,
        customer: CustomerId,
    ) -> StoreResult<Option<Conversation>> {
        self.read(move |connection| conversations::latest(connection, inbox, customer)).await
    }

    async fn conversations_on(
        &self,
        workspace: WorkspaceId,
        filter: ConversationFilter,
        channel: Option<Channel>,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        self.read(move |connection| {
            conversations::list(connection, workspace, filter, channel, limit)
        })
        .await
    }

    async fn conversation_counts(
        &self,
        workspace: WorkspaceId,
        me: UserId,
    ) -> StoreResult<ConversationCounts> {
        self.read(move |connection| conversations::counts(connection, workspace, me)).await
    }

    async fn customer_conversations(
        &self,
        customer: CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        self.read(move |connection| conversations::of_customer(connection, customer, limit)).await
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        self.write(move |connection, changes| conversations::append(connection, changes, message))
            .await
    }

    async fn decisions(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<(MessageId, DecisionRecord)>> {
        self.read(move |connection| conversations::decisions(connection, conversation)).await
    }

    async fn llm_usage(&self, workspace: WorkspaceId, since: Millis) -> StoreResult<LlmUsage> {
        self.read(move |connection| conversations::llm_usage(connection, workspace, since)).await
    }

    async fn messages(
        &self,
        conversation: ConversationId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.read(move |connection| {
            conversations::messages(connection, conversation, after_seq, limit)
        })
        .await
    }

    async fn message_by_client_id(
        &self,
        conversation: ConversationId,
        client_msg_id: &str,
    ) -> StoreResult<Option<Message>> {
        let client_msg_id = client_msg_id.to_owned();
        self.read(move |connection| {
            conversations::message_by_client_id(connection, conversation, &client_msg_id)
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
        self.write(move |connection, changes| {
            conversations::route(connection, changes, conversation, change)
        })
        .await
    }

    async fn set_pending_action(
        &self,
        conversation: ConversationId,
        pending: Option<PendingAction>,
    ) -> StoreResult<()> {
        self.write(move |connection, _| {
            conversations::set_pending_action(connection, conversation, pending)
        })
        .await
    }

    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffPacket>> {
        self.read(move |connection| conversations::handoff(connection, conversation)).await
    }

    async fn record_suggestion_use(
        &self,
        conversation: ConversationId,
        used: SuggestionUse,
    ) -> StoreResult<()> {
        self.write(move |connection, _| {
            conversations::record_suggestion_use(connection, conversation, used)
        })
        .await
    }

    async fn suggestion_uses(&self, conversation: ConversationId) -> StoreResult<SuggestionUses> {
        self.read(move |connection| conversations::suggestion_uses(connection, conversation)).await
    }

    async fn set_model_summary(
        &self,
        conversation: ConversationId,
        summary: ModelSummary,
    ) -> StoreResult<()> {
        self.write(move |connection, _| {
            conversations::set_model_summary(connection, conversation, summary)
        })
        .await
    }

    async fn wrapup(&self, conversation: ConversationId) -> StoreResult<Option<Wrapup>> {
        self.read(move |connection| conversations::wrapup(connection, conversation)).await
    }

    async fn save_wrapup(&self, wrapup: Wrapup) -> StoreResult<()> {
        self.write(move |connection, _| conversations::save_wrapup(connection, &wrapup)).await
    }

    async fn set_wrapup_topic(
        &self,
        conversation: ConversationId,
        topic: Option<String>,
    ) -> StoreResult<Wrapup> {
        self.write(move |connection, _| {
            conversations::set_wrapup_topic(connection, conversation, topic.as_deref())
        })
        .await
    }

    async fn routed_conversations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Conversation>> {
        self.read(move |connection| conversations::routed(connection, workspace)).await
    }

    // ---------- Knowledge and actions ----------

    async fn save_articles(
        &self,
        workspace: WorkspaceId,
        articles: Vec<NewArticle>,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> StoreResult<Vec<Article>> {
        self.write(move |connection, changes| {
            knowledge::save_articles(connection, changes, workspace, articles, (status, author))
        })
        .await
    }

    async fn answer_settings(&self, workspace: WorkspaceId) -> StoreResult<AnswerSettings> {
        self.read(move |connection| knowledge::answer_settings(connection, workspace)).await
    }

    async fn save_answer_settings(
        &self,
        workspace: WorkspaceId,
        settings: AnswerSettings,
    ) -> StoreResult<AnswerSettings> {
        self.write(move |connection, changes| {
            knowledge::save_answer_settings(connection, changes, workspace, settings)
        })
        .await
    }

    async fn knowledge_stamp(&self, workspace: WorkspaceId) -> StoreResult<(i64, Millis)> {
        self.read(move |connection| knowledge::stamp(connection, workspace)).await
    }

    async fn handled_conversations(
        &self,
        workspace: WorkspaceId,
        since: Millis,
        limit: u32,
    ) -> StoreResult<Vec<HandledConversation>> {
        self.read(move |connection| {
            knowledge::handled_conversations(connection, workspace, since, limit)
        })
        .await
    }

    async fn decide_suggestions(
        &self,
        workspace: WorkspaceId,
        decisions: Vec<SuggestionDecision>,
    ) -> StoreResult<()> {
        self.write(move |connection, _| {
            knowledge::decide_suggestions(connection, workspace, &decisions)
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
        self.write(move |connection, _| {
            knowledge::save_article_embeddings(connection, workspace, &model, &embeddings)
        })
        .await
    }

    async fn article_embeddings(
        &self,
        workspace: WorkspaceId,
        model: &str,
    ) -> StoreResult<Vec<ArticleEmbedding>> {
        let model = model.to_owned();
        self.read(move |connection| knowledge::article_embeddings(connection, workspace, &model))
            .await
    }

    async fn suggestion_decisions(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<SuggestionDecision>> {
        self.read(move |connection| knowledge::suggestion_decisions(connection, workspace)).await
    }

    async fn article(&self, workspace: WorkspaceId, key: &str) -> StoreResult<Option<Article>> {
        let key = key.to_owned();
        self.read(move |connection| knowledge::article(connection, workspace, &key)).await
    }

    async fn articles(&self, workspace: WorkspaceId) -> StoreResult<Vec<Article>> {
        self.read(move |connection| knowledge::articles(connection, workspace)).await
    }

    async fn article_versions(
        &self,
        workspace: WorkspaceId,
        key: &str,
    ) -> StoreResult<Vec<ArticleVersion>> {
        let key = key.to_owned();
        self.read(move |connection| knowledge::article_versions(connection, workspace, &key)).await
    }

    async fn set_article_status(
        &self,
        workspace: WorkspaceId,
        key: &str,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> StoreResult<Article> {
        let key = key.to_owned();
        self.write(move |connection, changes| {
            knowledge::set_article_status(connection, changes, workspace, &key, (status, author))
        })
        .await
    }

    async fn actions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Action>> {
        self.read(move |connection| actions::actions(connection, workspace)).await
    }

    async fn save_actions(
        &self,
        workspace: WorkspaceId,
        actions: Vec<Action>,
    ) -> StoreResult<Vec<Action>> {
        self.write(move |connection, changes| {
            actions::save_actions(connection, changes, workspace, actions)
        })
        .await
    }

    async fn delete_action(&self, workspace: WorkspaceId, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |connection, changes| {
            actions::delete_action(connection, changes, workspace, &key)
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
        self.write(move |connection, changes| {
            let queue = routing::create_queue(connection, workspace, name, description, routing)?;
            changes.push(Change::Agents(workspace));
            Ok(queue)
        })
        .await
    }

    async fn update_queue(&self, queue: Queue) -> StoreResult<Queue> {
        self.write(move |connection, changes| {
            let queue = routing::update_queue(connection, queue)?;
            changes.push(Change::Agents(queue.workspace_id));
            Ok(queue)
        })
        .await
    }

    async fn queues(&self, workspace: WorkspaceId) -> StoreResult<Vec<Queue>> {
        self.read(move |connection| routing::queues(connection, workspace)).await
    }

    async fn escalation_policy(&self, workspace: WorkspaceId) -> StoreResult<EscalationPolicy> {
        self.read(move |connection| routing::escalation_policy(connection, workspace)).await
    }

    async fn save_escalation_policy(
        &self,
        workspace: WorkspaceId,
        policy: EscalationPolicy,
    ) -> StoreResult<EscalationPolicy> {
        self.write(move |connection, _| {
            routing::save_escalation_policy(connection, workspace, policy)
        })
        .await
    }

    async fn agent_routing(&self, workspace: WorkspaceId) -> StoreResult<Vec<AgentRouting>> {
        self.read(move |connection| routing::agent_routing(connection, workspace)).await
    }

    async fn save_agent_routing(&self, agent: AgentRouting) -> StoreResult<AgentRouting> {
        self.write(move |connection, changes| {
            let agent = routing::save_agent_routing(connection, agent)?;
            if let Some(user) = accounts::user(connection, agent.user_id)? {
                changes.push(Change::Agents(user.workspace_id));
            }
            Ok(agent)
        })
        .await
    }

    // ---------- Outbound webhooks ----------

    async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint> {
        self.write(move |connection, _| webhooks::create_endpoint(connection, endpoint)).await
    }

    async fn webhook_endpoint(
        &self,
        id: WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        self.read(move |connection| webhooks::load_endpoint(connection, id)).await
    }

    async fn webhook_endpoints(&self, workspace: WorkspaceId) -> StoreResult<Vec<WebhookEndpoint>> {
        self.read(move |connection| webhooks::endpoints(connection, workspace)).await
    }

    async fn update_webhook_endpoint(
        &self,
        id: WebhookEndpointId,
        update: WebhookEndpointUpdate,
    ) -> StoreResult<WebhookEndpoint> {
        self.write(move |connection, _| webhooks::update_endpoint(connection, id, update)).await
    }

    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> StoreResult<()> {
        self.write(move |connection, _| webhooks::delete_endpoint(connection, id)).await
    }

    async fn webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        self.read(move |connection| webhooks::deliveries(connection, endpoint, limit)).await
    }

    async fn enqueue_webhook_test(
        &self,
        endpoint: WebhookEndpointId,
    ) -> StoreResult<WebhookDelivery> {
        self.write(move |connection, _| webhooks::enqueue_test(connection, endpoint)).await
    }

    async fn claim_webhooks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> StoreResult<Vec<DueWebhook>> {
        self.write(move |connection, _| webhooks::claim(connection, now, lease_until, limit)).await
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<Millis>> {
        self.read(webhooks::next_due).await
    }

    async fn finish_webhook(
        &self,
        delivery: WebhookDeliveryId,
        attempt: WebhookAttempt,
    ) -> StoreResult<()> {
        self.write(move |connection, _| webhooks::finish(connection, delivery, attempt)).await
    }

    async fn prune_webhooks(&self, before: Millis) -> StoreResult<u64> {
        self.write(move |connection, _| webhooks::prune(connection, before)).await
    }

    async fn conversation_facts(
        &self,
        workspace: WorkspaceId,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<ConversationFacts>> {
        self.read(move |connection| insight::facts(connection, workspace, from, to)).await
    }

    async fn facts_of(
        &self,
        workspace: WorkspaceId,
        conversations: Vec<ConversationId>,
    ) -> StoreResult<Vec<ConversationFacts>> {
        self.read(move |connection| insight::facts_of(connection, workspace, &conversations)).await
    }

    async fn rate_conversation(
        &self,
        conversation: ConversationId,
        rating: Rating,
    ) -> StoreResult<()> {
        self.write(move |connection, changes| {
            insight::rate(connection, changes, conversation, &rating, crate::now_millis())
        })
        .await
    }

    async fn set_cluster_topics(
        &self,
        workspace: WorkspaceId,
        topics: Vec<(ConversationId, String)>,
    ) -> StoreResult<usize> {
        self.write(move |connection, _| insight::set_cluster_topics(connection, workspace, &topics))
            .await
    }

    async fn awaiting_bot(&self, since: Millis, limit: u32) -> StoreResult<Vec<Appended>> {
        self.read(move |connection| conversations::awaiting_bot(connection, since, limit)).await
    }

    async fn idle_answered_conversations(
        &self,
        before: Millis,
        limit: u32,
    ) -> StoreResult<Vec<ConversationId>> {
        self.read(move |connection| insight::idle_answered(connection, before, limit)).await
    }

    async fn rating(&self, conversation: ConversationId) -> StoreResult<Option<Rating>> {
        self.read(move |connection| insight::rating(connection, conversation)).await
    }

    async fn import_conversations(
        &self,
        workspace: WorkspaceId,
        conversations: Vec<ImportedConversation>,
    ) -> StoreResult<ImportSummary> {
        self.write(move |connection, _| insight::import(connection, workspace, &conversations))
            .await
    }

    async fn raise_insight_alert(
        &self,
        workspace: WorkspaceId,
        alert: NewInsightAlert,
    ) -> StoreResult<Option<InsightAlert>> {
        self.write(move |connection, _| {
            insight::raise_alert(connection, workspace, &alert, crate::now_millis())
        })
        .await
    }

    async fn insight_alerts(
        &self,
        workspace: WorkspaceId,
        since: Millis,
    ) -> StoreResult<Vec<InsightAlert>> {
        self.read(move |connection| insight::alerts(connection, workspace, since)).await
    }

    async fn dismiss_insight_alert(&self, workspace: WorkspaceId, id: i64) -> StoreResult<()> {
        self.write(move |connection, _| {
            insight::dismiss_alert(connection, workspace, id, crate::now_millis())
        })
        .await
    }

    async fn conversation_texts(
        &self,
        workspace: WorkspaceId,
        since: Millis,
    ) -> StoreResult<Vec<ConversationText>> {
        self.read(move |connection| insight::conversation_texts(connection, workspace, since)).await
    }

    async fn erase_customer(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
        erased_by: Option<UserId>,
    ) -> StoreResult<crate::Erasure> {
        self.write(move |connection, changes| {
            privacy::erase_customer(
                connection,
                changes,
                workspace,
                customer,
                erased_by,
                crate::now_millis(),
            )
        })
        .await
    }

    async fn delete_resolved_conversations(
        &self,
        workspace: WorkspaceId,
        before: Millis,
        limit: u32,
    ) -> StoreResult<crate::Erasure> {
        self.write(move |connection, changes| {
            privacy::delete_resolved(
                connection,
                changes,
                workspace,
                before,
                limit,
                crate::now_millis(),
            )
        })
        .await
    }

    async fn erasures(&self, workspace: WorkspaceId) -> StoreResult<Vec<crate::Erasure>> {
        self.read(move |connection| privacy::erasures(connection, workspace)).await
    }

    async fn customer_export(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
    ) -> StoreResult<crate::CustomerExport> {
        self.read(move |connection| {
            // One snapshot: every part of the export as of the same commit.
            let snapshot = connection.unchecked_transaction()?;
            let export = privacy::export(&snapshot, workspace, customer, crate::now_millis())?;
            snapshot.finish()?;
            Ok(export)
        })
        .await
    }

    // ---------- The audit log ----------

    async fn append_audit(&self, entry: crate::NewAuditEntry) -> StoreResult<crate::AuditEntry> {
        self.write(move |connection, _| audit::append(connection, &entry, crate::now_millis()))
            .await
    }

    async fn audit(
        &self,
        workspace: WorkspaceId,
        filter: crate::AuditFilter,
        limit: u32,
        before_id: Option<i64>,
    ) -> StoreResult<Vec<crate::AuditEntry>> {
        self.read(move |connection| audit::list(connection, workspace, &filter, limit, before_id))
            .await
    }
}
