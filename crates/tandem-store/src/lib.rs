//! Tandem's storage: one [`Store`] trait, the embedded SQLite backend, and the change feed.
//!
//! Every write goes through the trait; every committed write that others must see (a new
//! message, a conversation changing owner) is published on the change feed in commit order,
//! *after* it is durable. The HTTP layer fans these changes out to WebSockets; a later
//! PostgreSQL backend will publish the same changes through LISTEN/NOTIFY.

pub mod bench;
mod postgres;
mod shared;
mod sqlite;
pub mod testing;
mod write_stats;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use tandem_domain::{
    Action, AgentRouting, AnswerSettings, Article, ArticleStatus, AuthorKind, Channel,
    Conversation, ConversationFacts, ConversationId, ConversationState, Customer, CustomerId,
    DecisionRecord, EscalationPolicy, HandoffPacket, IdentityKind, Inbox, InboxId, LlmUsage,
    Locale, Message, MessageId, MessageMeta, Millis, ModelSummary, PendingAction, Queue, QueueId,
    QueueRouting, Role, Transition, TransitionError, User, UserId, WebhookDelivery,
    WebhookDeliveryId, WebhookEndpoint, WebhookEndpointId, WebhookEventId, WebhookEventType,
    Workspace, WorkspaceId, Wrapup,
};
use tokio::sync::broadcast;

pub use postgres::{
    CopiedTable, CopyReport, PostgresConfig, PostgresStore, copy_sqlite_to_postgres,
};
pub use sqlite::backup::{self, BackupError, BackupReport, RestoreReport};
pub use sqlite::{SqliteConfig, SqliteStore};
pub use tandem_domain::NewArticle;
pub use write_stats::{WRITE_BUCKETS_SECONDS, WriteSnapshot, WriteStats};

/// How many changes a slow subscriber may fall behind before it is told it lagged (and must
/// re-read what it missed from the store).
pub const CHANGE_FEED_CAPACITY: usize = 8192;

/// Why a store call failed. Each condition a caller may act on has its own variant; an
/// unexpected failure keeps its cause (for the log), never shown to customers or agents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(Entity),
    /// The write contradicts what the store holds (see [`Conflict`]).
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The database failed; the cause is kept for the log.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A store job panicked (a bug): it was rolled back, and only its caller hears of it.
    #[error("a store job panicked: {0}")]
    Panicked(String),
    #[error("the store is shut down")]
    Closed,
}

impl StoreError {
    /// A database failure with its cause.
    pub fn database(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError::Database(cause.into())
    }
}

/// What a [`StoreError::NotFound`] did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Workspace,
    Inbox,
    User,
    /// An active user of the conversation's workspace, to assign or route to.
    Agent,
    Customer,
    Conversation,
    Queue,
    Article,
    Action,
    HandoffPacket,
    /// A conversation's wrap-up: only a resolved conversation has a current one.
    Wrapup,
    WebhookEndpoint,
    WebhookDelivery,
    InsightAlert,
    /// An API token of the workspace.
    ApiToken,
    /// A merge of two customers of the workspace.
    CustomerMerge,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Workspace => "workspace",
            Entity::Inbox => "inbox",
            Entity::User => "user",
            Entity::Agent => "agent",
            Entity::Customer => "customer",
            Entity::Conversation => "conversation",
            Entity::Queue => "queue",
            Entity::Article => "article",
            Entity::Action => "action",
            Entity::HandoffPacket => "hand-off packet",
            Entity::Wrapup => "wrap-up",
            Entity::WebhookEndpoint => "webhook endpoint",
            Entity::WebhookDelivery => "webhook delivery",
            Entity::InsightAlert => "insight alert",
            Entity::ApiToken => "API token",
            Entity::CustomerMerge => "customer merge",
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A write refused because of what the store holds, checked inside the write's transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("a user with e-mail {0} exists")]
    EmailTaken(String),
    #[error("a queue named {0} exists")]
    QueueNameTaken(String),
    /// A bot reply computed before a person took the conversation over.
    #[error("conversation {conversation} is {state}; the bot may not reply")]
    BotMayNotReply { conversation: ConversationId, state: ConversationState },
    /// The conversation moved on since the change was decided (`only_if_state`).
    #[error("conversation {conversation} is {state}, not {expected}")]
    StateChanged {
        conversation: ConversationId,
        state: ConversationState,
        expected: ConversationState,
    },
    /// A timed-out offer whose agent replied (or gave it back) meanwhile.
    #[error("conversation {conversation} is no longer an open offer to agent {agent}")]
    OfferWithdrawn { conversation: ConversationId, agent: UserId },
    /// Only conversations the bot has wait as after-hours tickets.
    #[error("conversation {conversation} is {state}; only the bot's conversations wait as tickets")]
    NotTheBots { conversation: ConversationId, state: ConversationState },
    #[error("a workspace has at most {0} webhook endpoints")]
    WebhookEndpointLimit(usize),
    /// Only a resolved conversation can be rated.
    #[error("conversation {conversation} is not resolved")]
    NotResolved { conversation: ConversationId },
    /// A customer cannot be merged into itself.
    #[error("customer {0} cannot be merged into itself")]
    MergeIntoItself(CustomerId),
    /// The customer was merged into another one (and is no longer used).
    #[error("customer {0} was merged into another customer")]
    CustomerMergedAway(CustomerId),
    /// A merge that was undone already.
    #[error("customer merge {0} was undone already")]
    MergeUndone(i64),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A committed change, published to [`Store::subscribe`] subscribers in commit order.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new message, with its conversation as it stands after the append.
    Message {
        conversation: Arc<Conversation>,
        message: Arc<Message>,
    },
    Conversation(Arc<Conversation>),
    /// The workspace's knowledge articles changed.
    Knowledge(WorkspaceId),
    /// The workspace's queues or its agents' routing settings (skills, capacity, presence)
    /// changed: its router reads them again.
    Agents(WorkspaceId),
    /// These conversations of the workspace were deleted with every row about them (a
    /// customer's erasure, or retention): followers forget them.
    Erased {
        workspace: WorkspaceId,
        conversations: Arc<[ConversationId]>,
    },
}

/// One published version of an article, as it was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleVersion {
    pub version: i64,
    pub title: String,
    pub answer: String,
    pub questions: Vec<String>,
    pub effective_from: Option<Millis>,
    pub expires_at: Option<Millis>,
    pub author_id: Option<UserId>,
    pub published_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewInbox {
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub channel: Channel,
    pub public_key: String,
    pub bot_name: String,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub workspace_id: WorkspaceId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub locale: Locale,
    pub password_hash: String,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub locale: Option<Locale>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
    /// Revokes every API token of the user in the same transaction (asked for with a new
    /// password).
    pub revoke_api_tokens: bool,
}

/// A new API token; only its secret's hash is stored.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub user_id: UserId,
    pub token_hash: String,
    pub name: String,
    pub scope: tandem_domain::TokenScope,
    pub expires_at: Option<Millis>,
}

/// Whose API tokens to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOwners {
    /// One user's.
    User(UserId),
    /// Every user's of a workspace.
    Workspace(WorkspaceId),
}

#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub email: Option<String>,
    pub locale: Option<Locale>,
    pub attributes: BTreeMap<String, String>,
}

/// A browser session of an agent. Only a hash of the cookie's token is stored.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub expires_at: Millis,
}

/// Where a new message goes.
#[derive(Debug, Clone, Copy)]
pub enum MessageTarget {
    Conversation(ConversationId),
    /// The customer's newest conversation in the inbox, created (owned by the bot) if there is
    /// none. Finding and creating happen in the same transaction as the append.
    CustomerLatest {
        inbox_id: InboxId,
        customer_id: CustomerId,
    },
    /// A new conversation of the customer in the inbox, owned by the bot, created in the same
    /// transaction as the append, whatever conversations the customer has: an e-mail that
    /// starts a new thread is a new conversation. Created as `CustomerLatest` creates one (a
    /// customer merged away writes as the kept one). A retry whose `client_msg_id` one of the
    /// customer's conversations in the inbox already holds answers that message instead.
    NewConversation {
        inbox_id: InboxId,
        customer_id: CustomerId,
    },
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub target: MessageTarget,
    pub author_kind: AuthorKind,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub body: String,
    pub client_msg_id: Option<String>,
    /// Reopen the conversation (back to the bot) if it is resolved, in the same transaction.
    pub reopen_if_resolved: bool,
    pub meta: Option<MessageMeta>,
    /// For a bot message: why the bot said it, stored with the message.
    pub decision: Option<DecisionRecord>,
    /// Refuse the message (`Conflict`) unless the bot owns the conversation at commit time, so
    /// that a bot reply computed before an agent took over is never shown.
    pub only_while_bot_owns: bool,
    /// For a customer message: its sentiment (-1..1), for the reports' sentiment shift.
    pub sentiment: Option<f32>,
}

/// The result of [`Store::append_message`].
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    pub conversation: Conversation,
    /// `false` when a message with the same `client_msg_id` was already stored: this is it.
    pub created: bool,
}

/// Which conversations an inbox list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationFilter {
    /// Owned by this agent and not resolved.
    Mine(UserId),
    State(ConversationState),
    /// Every conversation that is not resolved.
    Open,
    All,
}

/// Counts of conversations per state, for inbox tabs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConversationCounts {
    pub bot: i64,
    pub queued: i64,
    pub human: i64,
    pub resolved: i64,
    pub mine: i64,
}

/// Tandem's storage. Methods that write return only once the write is durable.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The change feed: every committed message and ownership change, in commit order.
    fn subscribe(&self) -> broadcast::Receiver<Change>;

    /// How long writes have waited for their commit, when the backend measures it (for the
    /// server's `/metrics`).
    fn write_stats(&self) -> Option<&WriteStats> {
        None
    }

    /// Which backend this is (`sqlite` or `postgres`), for health checks and logs.
    fn backend(&self) -> &'static str;

    /// Whether other processes share this store (several Tandem nodes on one database).
    fn shared(&self) -> bool {
        false
    }

    /// Whether the change feed reaches this process: `false` while a shared store's listening
    /// connection is down (other nodes' changes arrive when it is back).
    fn feed_connected(&self) -> bool {
        true
    }

    /// The schema version in use.
    async fn schema_version(&self) -> StoreResult<i64>;

    /// Takes the lease `name` for `holder` until `now + ttl`, or renews it when `holder`
    /// already has it; `false` while another holder's lease runs. Work that one process at a
    /// time must do (a workspace's router, periodic jobs) runs only while its lease is held.
    /// One process owns an embedded database, so a backend without other processes grants
    /// every lease.
    async fn lease(&self, name: &str, holder: &str, now: Millis, ttl: Millis) -> StoreResult<bool> {
        let _ = (name, holder, now, ttl);
        Ok(true)
    }

    /// Takes one token from the bucket `key` (holding at most `burst`, refilled at `per_minute`)
    /// that every process sharing the store sees, so a limit holds whichever node a request
    /// reaches: `Some(Ok(()))`, or `Some(Err(seconds))` until the next token. `None` when the
    /// store is one process's own: the caller limits in memory.
    async fn take_token(
        &self,
        key: &str,
        burst: u32,
        per_minute: u32,
        now: Millis,
    ) -> StoreResult<Option<Result<(), u64>>> {
        let _ = (key, burst, per_minute, now);
        Ok(None)
    }

    /// Gives up `holder`'s lease `name` (a process shutting down), so another takes it at once.
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let _ = (name, holder);
        Ok(())
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` under `key` unless the key already has a value; returns the value kept.
    async fn setting_or_insert(&self, key: &str, value: &str) -> StoreResult<String>;

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace>;
    async fn workspaces(&self) -> StoreResult<Vec<Workspace>>;

    async fn create_inbox(&self, inbox: NewInbox) -> StoreResult<Inbox>;
    async fn inbox(&self, id: InboxId) -> StoreResult<Option<Inbox>>;
    async fn inbox_by_public_key(&self, public_key: &str) -> StoreResult<Option<Inbox>>;
    async fn inboxes(&self, workspace: WorkspaceId) -> StoreResult<Vec<Inbox>>;

    /// Fails with `Conflict` when the e-mail address is taken.
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The user with this e-mail address and their password hash.
    async fn user_credentials(&self, email: &str) -> StoreResult<Option<(User, String)>>;
    async fn users(&self, workspace: WorkspaceId) -> StoreResult<Vec<User>>;
    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<User>;

    async fn create_session(&self, session: Session) -> StoreResult<()>;
    /// A session that has not expired, with its (active) user.
    async fn session(&self, token_hash: &str, now: Millis) -> StoreResult<Option<(Session, User)>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;

    async fn create_api_token(&self, token: NewApiToken) -> StoreResult<tandem_domain::ApiToken>;
    /// The token with this secret's hash and its (active) user, whether it still works or
    /// not (the caller tells revoked and expired tokens apart with `ApiToken::status`).
    async fn api_token(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(tandem_domain::ApiToken, User)>>;
    /// One token by id with its user (active or not).
    async fn api_token_by_id(
        &self,
        id: tandem_domain::ApiTokenId,
    ) -> StoreResult<Option<(tandem_domain::ApiToken, User)>>;
    /// Tokens with their users, newest first.
    async fn api_tokens(
        &self,
        owners: TokenOwners,
    ) -> StoreResult<Vec<(tandem_domain::ApiToken, User)>>;
    /// Revokes a token (a revoked one keeps its first revocation time); `NotFound(ApiToken)`.
    async fn revoke_api_token(
        &self,
        id: tandem_domain::ApiTokenId,
        now: Millis,
    ) -> StoreResult<tandem_domain::ApiToken>;
    /// Notes that a token was used at `now`, unless it was within the last minute.
    async fn touch_api_token(&self, id: tandem_domain::ApiTokenId, now: Millis) -> StoreResult<()>;

    async fn create_customer(&self, customer: NewCustomer) -> StoreResult<Customer>;
    async fn customer(&self, id: CustomerId) -> StoreResult<Option<Customer>>;
    /// The names of these customers of the workspace (those it has), in one read.
    async fn customer_names(
        &self,
        workspace: WorkspaceId,
        ids: Vec<CustomerId>,
    ) -> StoreResult<Vec<(CustomerId, String)>>;

    async fn create_queue(
        &self,
        workspace: WorkspaceId,
        name: &str,
        description: &str,
        routing: QueueRouting,
    ) -> StoreResult<Queue>;
    /// Renames a queue or changes its routing rules.
    async fn update_queue(&self, queue: Queue) -> StoreResult<Queue>;
    async fn queues(&self, workspace: WorkspaceId) -> StoreResult<Vec<Queue>>;

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>>;
    async fn latest_conversation(
        &self,
        inbox: InboxId,
        customer: CustomerId,
    ) -> StoreResult<Option<Conversation>>;
    /// Newest activity first, at most `limit`.
    async fn conversations(
        &self,
        workspace: WorkspaceId,
        filter: ConversationFilter,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        self.conversations_on(workspace, filter, None, limit).await
    }
    /// [`Store::conversations`], only those of inboxes on `channel` when one is given
    /// (filtered in the query, before the limit).
    async fn conversations_on(
        &self,
        workspace: WorkspaceId,
        filter: ConversationFilter,
        channel: Option<Channel>,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>>;
    async fn conversation_counts(
        &self,
        workspace: WorkspaceId,
        me: UserId,
    ) -> StoreResult<ConversationCounts>;
    /// A customer's conversations, newest first.
    async fn customer_conversations(
        &self,
        customer: CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>>;

    /// Appends a message with the next `seq`. Idempotent on `client_msg_id` per conversation.
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended>;
    /// The decision records of a conversation's bot messages.
    async fn decisions(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<(MessageId, DecisionRecord)>>;
    /// The workspace's model usage: the LLM records of its bot turns stored at or after
    /// `since`, added up.
    async fn llm_usage(&self, workspace: WorkspaceId, since: Millis) -> StoreResult<LlmUsage>;
    /// Messages with `seq > after_seq`, oldest first, at most `limit`.
    async fn messages(
        &self,
        conversation: ConversationId,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
    /// The message stored with `client_msg_id` in the conversation, if any (what
    /// [`append_message`](Store::append_message) would return for a retry).
    async fn message_by_client_id(
        &self,
        conversation: ConversationId,
        client_msg_id: &str,
    ) -> StoreResult<Option<Message>>;

    /// Creates or replaces articles by key, all or none. With `status` Published each article
    /// gets a new version, recorded in its history.
    async fn save_articles(
        &self,
        workspace: WorkspaceId,
        articles: Vec<NewArticle>,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> StoreResult<Vec<Article>>;
    /// How the workspace's bot answers (defaults when never saved).
    async fn answer_settings(&self, workspace: WorkspaceId) -> StoreResult<AnswerSettings>;
    /// Replaces the workspace's answer settings (a knowledge change: engines are rebuilt).
    async fn save_answer_settings(
        &self,
        workspace: WorkspaceId,
        settings: AnswerSettings,
    ) -> StoreResult<AnswerSettings>;
    /// How many articles and actions the workspace has and when the newest change to them or
    /// to the answer settings was: a cheap way to notice changes made by another process (such
    /// as `tandem kb import`).
    async fn knowledge_stamp(&self, workspace: WorkspaceId) -> StoreResult<(i64, Millis)>;
    /// Conversations created at or after `since` in which an agent replied, newest first, at
    /// most `limit`, each with its messages the customer saw (no notes), oldest first: what
    /// people answered, for learning.
    async fn handled_conversations(
        &self,
        workspace: WorkspaceId,
        since: Millis,
        limit: u32,
    ) -> StoreResult<Vec<HandledConversation>>;
    /// Records what people decided about knowledge suggestions (a decision on the same
    /// suggestion replaces the earlier one).
    async fn decide_suggestions(
        &self,
        workspace: WorkspaceId,
        decisions: Vec<SuggestionDecision>,
    ) -> StoreResult<()>;
    /// Keeps the embeddings of articles' versions made with `model` (one per article: a newer
    /// version replaces the older one's).
    async fn save_article_embeddings(
        &self,
        workspace: WorkspaceId,
        model: &str,
        embeddings: Vec<ArticleEmbedding>,
    ) -> StoreResult<()>;
    /// The workspace's article embeddings made with `model`.
    async fn article_embeddings(
        &self,
        workspace: WorkspaceId,
        model: &str,
    ) -> StoreResult<Vec<ArticleEmbedding>>;
    /// Every decision about the workspace's knowledge suggestions, newest first.
    async fn suggestion_decisions(
        &self,
        workspace: WorkspaceId,
    ) -> StoreResult<Vec<SuggestionDecision>>;
    /// One article by key, whatever its status.
    async fn article(&self, workspace: WorkspaceId, key: &str) -> StoreResult<Option<Article>>;
    /// Every article of the workspace, whatever its status, by key.
    async fn articles(&self, workspace: WorkspaceId) -> StoreResult<Vec<Article>>;
    /// The published versions of an article, newest first.
    async fn article_versions(
        &self,
        workspace: WorkspaceId,
        key: &str,
    ) -> StoreResult<Vec<ArticleVersion>>;
    /// Moves an article to `status`; publishing records a new version.
    async fn set_article_status(
        &self,
        workspace: WorkspaceId,
        key: &str,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> StoreResult<Article>;

    /// Changes the owner of a conversation through the state machine and, if `system_message`
    /// is given, records it as a system message in the same transaction.
    async fn transition(
        &self,
        conversation: ConversationId,
        transition: Transition,
        system_message: Option<String>,
    ) -> StoreResult<Conversation>;
    /// Changes a conversation's owner and routing record together (see [`RouteChange`]).
    async fn route(
        &self,
        conversation: ConversationId,
        change: RouteChange,
    ) -> StoreResult<Conversation>;
    /// How much this customer has talked to the workspace before: conversations, how many of
    /// them a person answered in, and the agent who wrote to them last.
    async fn customer_history(&self, customer: CustomerId) -> StoreResult<CustomerHistory>;
    /// The workspace's business actions, by key.
    async fn actions(&self, workspace: WorkspaceId) -> StoreResult<Vec<Action>>;
    /// Creates or replaces actions by key, all or nothing.
    async fn save_actions(
        &self,
        workspace: WorkspaceId,
        actions: Vec<Action>,
    ) -> StoreResult<Vec<Action>>;
    async fn delete_action(&self, workspace: WorkspaceId, key: &str) -> StoreResult<()>;
    /// Records (or clears) the action a conversation is collecting parameters for.
    async fn set_pending_action(
        &self,
        conversation: ConversationId,
        pending: Option<PendingAction>,
    ) -> StoreResult<()>;
    /// The newest hand-off packet of a conversation.
    async fn handoff(&self, conversation: ConversationId) -> StoreResult<Option<HandoffPacket>>;
    /// Records that an agent's reply was a suggested article inserted into the reply box, sent
    /// as it was or edited. Once per message: recording a message again changes nothing. The
    /// message must be one of the conversation's, or the conversation is not found.
    async fn record_suggestion_use(
        &self,
        conversation: ConversationId,
        used: SuggestionUse,
    ) -> StoreResult<()>;
    /// How the conversation's replies used suggested articles.
    async fn suggestion_uses(&self, conversation: ConversationId) -> StoreResult<SuggestionUses>;
    /// Adds the model's summary to the conversation's newest hand-off packet.
    async fn set_model_summary(
        &self,
        conversation: ConversationId,
        summary: ModelSummary,
    ) -> StoreResult<()>;
    /// The wrap-up written when the conversation was last resolved.
    async fn wrapup(&self, conversation: ConversationId) -> StoreResult<Option<Wrapup>>;
    /// Stores a conversation's wrap-up as given, replacing the one it had (a corrected topic, a
    /// model-written summary); an unknown conversation is not found.
    async fn save_wrapup(&self, wrapup: Wrapup) -> StoreResult<()>;
    /// Changes only the topic of a conversation's wrap-up (`None` clears it), so a correction
    /// and the model's summary added in the background cannot undo each other; answers the
    /// wrap-up as it now stands. A conversation without one: [`Entity::Wrapup`] not found.
    async fn set_wrapup_topic(
        &self,
        conversation: ConversationId,
        topic: Option<String>,
    ) -> StoreResult<Wrapup>;
    /// Every conversation waiting for or owned by a person, and the bot's after-hours tickets,
    /// for rebuilding the router.
    async fn routed_conversations(&self, workspace: WorkspaceId) -> StoreResult<Vec<Conversation>>;

    /// The workspace's escalation policy; the default when it never saved one.
    async fn escalation_policy(&self, workspace: WorkspaceId) -> StoreResult<EscalationPolicy>;
    async fn save_escalation_policy(
        &self,
        workspace: WorkspaceId,
        policy: EscalationPolicy,
    ) -> StoreResult<EscalationPolicy>;
    /// Skills, capacity and presence of every active user of the workspace (defaults for those
    /// never set up).
    async fn agent_routing(&self, workspace: WorkspaceId) -> StoreResult<Vec<AgentRouting>>;
    async fn save_agent_routing(&self, routing: AgentRouting) -> StoreResult<AgentRouting>;

    // ---------- Outbound webhooks ----------
    //
    // Events are written to an outbox in the same transaction as the change they report (see
    // the schema), one delivery per active endpoint that subscribes to them; a worker claims
    // due deliveries, posts them and records each attempt.

    async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> StoreResult<WebhookEndpoint>;
    async fn webhook_endpoint(&self, id: WebhookEndpointId)
    -> StoreResult<Option<WebhookEndpoint>>;
    /// The workspace's endpoints, oldest first.
    async fn webhook_endpoints(&self, workspace: WorkspaceId) -> StoreResult<Vec<WebhookEndpoint>>;
    /// Changes an endpoint; disabling it gives up on its pending deliveries (marked failed).
    async fn update_webhook_endpoint(
        &self,
        id: WebhookEndpointId,
        update: WebhookEndpointUpdate,
    ) -> StoreResult<WebhookEndpoint>;
    /// Deletes an endpoint with its deliveries.
    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> StoreResult<()>;
    /// The endpoint's newest deliveries first, at most `limit`.
    async fn webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    /// Queues a `webhook.test` event for this endpoint only, whatever it subscribes to.
    async fn enqueue_webhook_test(
        &self,
        endpoint: WebhookEndpointId,
    ) -> StoreResult<WebhookDelivery>;
    /// Takes up to `limit` pending deliveries of active endpoints due at `now`, oldest first,
    /// and leases them: each is not due again before `lease_until`, so a worker that dies
    /// mid-attempt leaves it to be retried, never lost (deliveries are at least once).
    async fn claim_webhooks(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> StoreResult<Vec<DueWebhook>>;
    /// When the earliest pending delivery is due.
    async fn next_webhook_due(&self) -> StoreResult<Option<Millis>>;
    /// Records an attempt. A retry asked for an endpoint that was disabled meanwhile is failed
    /// instead; an attempt on a deleted endpoint is forgotten.
    async fn finish_webhook(
        &self,
        delivery: WebhookDeliveryId,
        attempt: WebhookAttempt,
    ) -> StoreResult<()>;
    /// Deletes finished (delivered or failed) deliveries created before `before`, and events
    /// left without deliveries; returns how many deliveries went.
    async fn prune_webhooks(&self, before: Millis) -> StoreResult<u64>;

    // ---------- Identity verification ----------
    //
    // A business signs its logged-in user's id with its inbox's identity secret; a customer
    // whose signature checks out is found (or created) by that id, so one person on several
    // devices is one customer with one history.

    /// Finds the workspace's customer with `customer.external_id` or creates it, marks it
    /// verified and takes the name and e-mail given (a `None` keeps what is stored), in one
    /// transaction. Two concurrent calls for one id get the same customer (the id is unique
    /// per workspace).
    async fn verified_customer(&self, customer: VerifiedCustomer) -> StoreResult<Customer>;
    /// The secret this inbox's business signs its users' ids with; `None` for an unknown inbox.
    async fn inbox_identity_secret(&self, inbox: InboxId) -> StoreResult<Option<String>>;
    /// Replaces the inbox's identity secret with a new random one and returns it; hashes made
    /// with the old secret no longer verify.
    async fn rotate_inbox_identity_secret(&self, inbox: InboxId) -> StoreResult<String>;

    // ---------- Workspace settings ----------
    //
    // Small JSON documents, one per workspace and key (`llm`: the model provider), read on the
    // turn that needs them (a read is a primary-key lookup).

    /// The workspace's settings document under `key`; `None` when it was never saved.
    async fn workspace_setting(
        &self,
        workspace: WorkspaceId,
        key: &str,
    ) -> StoreResult<Option<serde_json::Value>>;
    /// Saves the workspace's settings document under `key`, replacing any before it; returns
    /// when it was saved. An unknown workspace is `NotFound`.
    async fn save_workspace_setting(
        &self,
        workspace: WorkspaceId,
        key: &str,
        value: serde_json::Value,
    ) -> StoreResult<Millis>;

    /// The report facts of a workspace's conversations created in `[from, to)`, oldest first.
    async fn conversation_facts(
        &self,
        workspace: WorkspaceId,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<ConversationFacts>>;
    /// The report facts of these conversations of the workspace (those it has).
    async fn facts_of(
        &self,
        workspace: WorkspaceId,
        conversations: Vec<ConversationId>,
    ) -> StoreResult<Vec<ConversationFacts>>;
    /// Records the customer's rating of a resolved conversation (replacing an earlier one);
    /// `Conflict::NotResolved` otherwise.
    async fn rate_conversation(
        &self,
        conversation: ConversationId,
        rating: Rating,
    ) -> StoreResult<()>;
    async fn rating(&self, conversation: ConversationId) -> StoreResult<Option<Rating>>;
    /// Files conversations that have no topic, or an older cluster's, under a cluster of
    /// similar first messages (`label`); an article's, action's or person's topic stays.
    /// Returns how many changed.
    async fn set_cluster_topics(
        &self,
        workspace: WorkspaceId,
        topics: Vec<(ConversationId, String)>,
    ) -> StoreResult<usize>;
    /// Customer messages the bot owes a turn: each the last message of a conversation the bot
    /// has, written at or after `since` (a turn cut off by a restart), oldest first, with its
    /// conversation.
    async fn awaiting_bot(&self, since: Millis, limit: u32) -> StoreResult<Vec<Appended>>;
    /// Conversations (of every workspace) the bot has whose last message, older than
    /// `before`, is a bot reply that answered, with nothing waiting: oldest first.
    async fn idle_answered_conversations(
        &self,
        before: Millis,
        limit: u32,
    ) -> StoreResult<Vec<ConversationId>>;
    /// Stores conversations from another system in one transaction (all or nothing), skipping
    /// those whose external id the workspace has already: importing twice changes nothing.
    async fn import_conversations(
        &self,
        workspace: WorkspaceId,
        conversations: Vec<ImportedConversation>,
    ) -> StoreResult<ImportSummary>;
    /// Records a spike alert unless one with the same key exists; returns it when it is new.
    /// Its `insight.alert` webhook event is written in the same transaction.
    async fn raise_insight_alert(
        &self,
        workspace: WorkspaceId,
        alert: NewInsightAlert,
    ) -> StoreResult<Option<InsightAlert>>;
    /// A workspace's alerts raised since `since`, newest first.
    async fn insight_alerts(
        &self,
        workspace: WorkspaceId,
        since: Millis,
    ) -> StoreResult<Vec<InsightAlert>>;
    async fn dismiss_insight_alert(&self, workspace: WorkspaceId, id: i64) -> StoreResult<()>;
    /// The openings of a workspace's conversations created since `since`, oldest first, as the
    /// spike detector reads them (see [`ConversationText`]).
    async fn conversation_texts(
        &self,
        workspace: WorkspaceId,
        since: Millis,
    ) -> StoreResult<Vec<ConversationText>>;

    // ---------- One customer across channels: merges ----------

    /// Merges the workspace's customer `merged` into `keep` in one transaction: moves every
    /// conversation of `merged` (and its report facts) to `keep`, fills `keep`'s empty email,
    /// locale and external id and the attributes it lacks from `merged`, marks `merged` as
    /// merged into `keep` (new messages of its sessions go to `keep`), and records the merge.
    /// `NotFound` when either is not the workspace's; `Conflict` when they are the same
    /// customer or either was merged away.
    async fn merge_customers(
        &self,
        workspace: WorkspaceId,
        keep: CustomerId,
        merged: CustomerId,
        by: Option<UserId>,
    ) -> StoreResult<CustomerMerge>;
    /// Undoes a merge in one transaction: moves its conversations that still belong to the
    /// kept customer back, restores the fields it filled, un-marks the merged customer and
    /// records when. `Conflict` when it was undone already.
    async fn undo_customer_merge(
        &self,
        workspace: WorkspaceId,
        merge: i64,
        by: Option<UserId>,
    ) -> StoreResult<CustomerMerge>;
    /// The workspace's merges that this customer took part in (kept or merged), newest first.
    async fn customer_merges(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
    ) -> StoreResult<Vec<CustomerMerge>>;

    // ---------- One customer across channels: identities ----------
    //
    // An e-mail address, a phone number or a channel's account id names one customer of a
    // workspace, so a person writing from WeCom today and by e-mail tomorrow can be one
    // customer (once the identities meet, by a merge or an attach).

    /// The customer holding the identity (followed through merges to the one kept, as a
    /// widget session's customer is), or a new customer with it, in one transaction: two
    /// concurrent calls for one identity get the same customer. A verified call marks a found
    /// unverified identity verified.
    async fn identified_customer(&self, customer: IdentifiedCustomer) -> StoreResult<Customer>;
    /// Gives the customer an identity of its workspace unless another customer holds it
    /// ([`Attached::HeldBy`]: never moved); a verified call marks the customer's own verified.
    /// `NotFound` for an unknown customer.
    async fn attach_identity(
        &self,
        customer: CustomerId,
        kind: IdentityKind,
        value: &str,
        verified: bool,
    ) -> StoreResult<Attached>;
    /// The customer's identities, oldest first.
    async fn customer_identities(&self, customer: CustomerId)
    -> StoreResult<Vec<CustomerIdentity>>;

    // ---------- Channels: inbox settings, attachments, threading ----------

    /// The inbox's channel settings (credentials and options, as the server defines them);
    /// `None` when never set or for an unknown inbox. They may hold secrets.
    async fn inbox_settings(&self, inbox: InboxId) -> StoreResult<Option<serde_json::Value>>;
    /// Replaces the inbox's channel settings; `NotFound` for an unknown inbox.
    async fn set_inbox_settings(
        &self,
        inbox: InboxId,
        settings: serde_json::Value,
    ) -> StoreResult<()>;
    /// Every workspace's inboxes on `channel` that have settings, with them, oldest first:
    /// what a channel's poller or connection manager serves.
    async fn channel_inboxes(
        &self,
        channel: Channel,
    ) -> StoreResult<Vec<(Inbox, serde_json::Value)>>;
    /// Stores a file with a conversation (of the conversation's workspace); `NotFound` for an
    /// unknown conversation. Deleted with the conversation (erasure, retention).
    async fn store_attachment(&self, attachment: NewAttachment) -> StoreResult<AttachmentInfo>;
    /// A stored file with its bytes.
    async fn attachment(&self, id: i64) -> StoreResult<Option<(AttachmentInfo, Vec<u8>)>>;
    /// A conversation's files, oldest first.
    async fn conversation_attachments(
        &self,
        conversation: ConversationId,
    ) -> StoreResult<Vec<AttachmentInfo>>;
    /// The inbox's newest conversation holding a message whose `client_msg_id` is one of
    /// `ids`: where a reply threads (an e-mail's `In-Reply-To` and `References`). `None`
    /// for no ids.
    async fn conversation_by_client_msg_ids(
        &self,
        inbox: InboxId,
        ids: &[String],
    ) -> StoreResult<Option<Conversation>>;

    // ---------- Privacy: erasure, retention, export ----------

    /// Deletes the workspace's customer and every row about them (their identities, their
    /// conversations across inboxes and channels, messages, attachments, decision records,
    /// hand-off packets, wrap-ups, report facts, ratings, suggestion uses, webhook events naming those conversations and their
    /// deliveries, and their ids in knowledge-suggestion evidence and insight alerts) in one
    /// transaction, and records the erasure (ids and counts, no personal data). `NotFound`
    /// when the workspace has no such customer.
    async fn erase_customer(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
        erased_by: Option<UserId>,
    ) -> StoreResult<Erasure>;
    /// Retention: deletes up to `limit` of the workspace's resolved conversations whose last
    /// activity is before `before`, each with every row about it (as [`Store::erase_customer`]
    /// does), and records what went when anything did. Customers are kept.
    async fn delete_resolved_conversations(
        &self,
        workspace: WorkspaceId,
        before: Millis,
        limit: u32,
    ) -> StoreResult<Erasure>;
    /// The workspace's erasure and retention records, newest first.
    async fn erasures(&self, workspace: WorkspaceId) -> StoreResult<Vec<Erasure>>;
    /// Everything the workspace holds about one customer, read in one snapshot.
    async fn customer_export(
        &self,
        workspace: WorkspaceId,
        customer: CustomerId,
    ) -> StoreResult<CustomerExport>;

    /// Appends an entry to the audit log (append-only: the database refuses to change or
    /// delete one).
    async fn append_audit(&self, entry: NewAuditEntry) -> StoreResult<AuditEntry>;
    /// A workspace's audit entries that `filter` lets through, newest first, at most `limit`,
    /// only those with an id below `before_id` when given (the page after the last one seen).
    async fn audit(
        &self,
        workspace: WorkspaceId,
        filter: AuditFilter,
        limit: u32,
        before_id: Option<i64>,
    ) -> StoreResult<Vec<AuditEntry>>;
}

/// A customer's satisfaction rating of a conversation: see [`Store::rate_conversation`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rating {
    /// 1–5; `None` when only a comment or other answers were given (imported history).
    pub rating: Option<u8>,
    pub comment: Option<String>,
    /// Answers to the inbox's further questions, by question id.
    pub answers: BTreeMap<String, serde_json::Value>,
    pub rated_at: Millis,
}

/// A conversation from another system: see [`Store::import_conversations`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedConversation {
    /// Its id in the system it came from, unique per workspace.
    pub external_id: String,
    pub created_at: Millis,
    pub channel: Channel,
    pub customer_external_id: Option<String>,
    pub customer_name: String,
    pub customer_email: Option<String>,
    pub customer_phone: Option<String>,
    pub customer_tier: Option<String>,
    /// A queue of the workspace by name (ignored when it has none by that name).
    pub queue: Option<String>,
    pub tags: Vec<String>,
    pub messages: Vec<ImportedMessage>,
    pub handed_off_at: Option<Millis>,
    pub assigned_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub csat: Option<u8>,
    pub csat_comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportedMessage {
    pub author_kind: AuthorKind,
    pub body: String,
    pub at: Millis,
    /// An agent's e-mail: the workspace's user with it is the author.
    pub agent: Option<String>,
    /// The article a bot message answered from.
    pub source: Option<String>,
    /// A customer message's sentiment (-1..1).
    pub sentiment: Option<f32>,
}

/// What [`Store::import_conversations`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub imported: u32,
    /// Already imported (same external id).
    pub skipped: u32,
}

/// A spike alert to record: see [`Store::raise_insight_alert`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewInsightAlert {
    /// What makes it the same alert when the detector runs again (topic and first day).
    pub key: String,
    /// The alert as `tandem trends` prints it.
    pub alert: serde_json::Value,
}

/// A conversation's opening, what topics and spikes are found on: see
/// [`Store::conversation_texts`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationText {
    pub id: ConversationId,
    pub created_at: Millis,
    /// The customer's first message; `None` when the customer has not written.
    pub first_customer_message: Option<String>,
    /// The article of the first bot answer that came from one.
    pub source: Option<String>,
}

/// The workspace settings document (key [`RETENTION_SETTING`]) that says how long resolved
/// conversations are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetentionSettings {
    /// Resolved conversations with no activity for this many days are deleted; 0 keeps them.
    #[serde(default)]
    pub resolved_conversation_days: u32,
}

/// The key of [`RetentionSettings`] among the workspace settings.
pub const RETENTION_SETTING: &str = "retention";

/// Why rows were erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureKind {
    /// One customer, at an admin's request.
    Customer,
    /// Resolved conversations past the workspace's retention period.
    Retention,
}

/// The record of an erasure: who, when, and how many rows of which table, never what they
/// said. Kept as a workspace settings document of its own (`erasure:…`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Erasure {
    pub kind: ErasureKind,
    /// The erased customer (for [`ErasureKind::Customer`]).
    pub customer_id: Option<CustomerId>,
    /// The admin who asked for it; `None` for retention or the command line.
    pub erased_by: Option<UserId>,
    pub at: Millis,
    pub conversations: u64,
    /// Rows deleted (or, for evidence lists, rows changed) per table.
    pub rows: BTreeMap<String, u64>,
}

/// A merge of two customers: see [`Store::merge_customers`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomerMerge {
    pub id: i64,
    pub workspace_id: WorkspaceId,
    /// The customer kept (who has both histories).
    pub keep: CustomerId,
    /// The customer merged away.
    pub merged: CustomerId,
    /// The conversations moved from `merged` to `keep`.
    pub conversations: Vec<ConversationId>,
    /// The fields of `keep` that were empty, filled from `merged`, with the value they got:
    /// `email`, `locale`, `external_id` (moved, it is unique) and `attributes.<key>`.
    pub filled: BTreeMap<String, String>,
    pub by: Option<UserId>,
    pub at: Millis,
    pub undone_at: Option<Millis>,
    pub undone_by: Option<UserId>,
}

/// What [`Store::customer_export`] returns.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerExport {
    pub customer: Customer,
    /// The customer's identities (e-mail addresses, phone numbers, channel accounts).
    pub identities: Vec<CustomerIdentity>,
    pub conversations: Vec<ConversationExport>,
    pub exported_at: Millis,
}

/// One conversation of a [`CustomerExport`], with everything stored about it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConversationExport {
    pub conversation: Conversation,
    /// Every message, internal notes included, oldest first.
    pub messages: Vec<Message>,
    /// The bot's decision records, by message.
    pub decisions: Vec<(MessageId, DecisionRecord)>,
    /// Every hand-off packet, oldest first.
    pub handoffs: Vec<HandoffPacket>,
    pub wrapup: Option<Wrapup>,
    pub rating: Option<Rating>,
}

/// A recorded spike alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InsightAlert {
    pub id: i64,
    pub key: String,
    pub alert: serde_json::Value,
    pub raised_at: Millis,
    pub dismissed_at: Option<Millis>,
}

/// See [`Store::verified_customer`].
#[derive(Debug, Clone)]
pub struct VerifiedCustomer {
    pub workspace_id: WorkspaceId,
    /// The business's id of its user.
    pub external_id: String,
    /// The name to show; a new customer without one is named by its external id.
    pub name: Option<String>,
    pub email: Option<String>,
    /// Kept when the customer already has a language.
    pub locale: Option<Locale>,
    /// Profile attributes of a new customer; an existing customer's are left as they are.
    pub attributes: BTreeMap<String, String>,
}

/// An identifier of a customer (an e-mail address, a phone number, a channel's account id):
/// see [`Store::customer_identities`]. One identifier belongs to one customer of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomerIdentity {
    pub customer_id: CustomerId,
    pub kind: IdentityKind,
    /// As the caller normalised it (a lowercased e-mail address); compared exactly.
    pub value: String,
    /// Whether the channel vouched for it (an account id a platform signed), rather than the
    /// customer typing it.
    pub verified: bool,
    pub created_at: Millis,
}

/// A customer found by an identifier: see [`Store::identified_customer`].
#[derive(Debug, Clone)]
pub struct IdentifiedCustomer {
    pub workspace_id: WorkspaceId,
    pub kind: IdentityKind,
    /// Normalised by the caller; compared exactly.
    pub value: String,
    /// Marks the identity verified (an unverified one found is upgraded, never downgraded).
    pub verified: bool,
    /// The profile of a new customer; an existing customer's is left as it is.
    pub name: String,
    pub email: Option<String>,
    pub locale: Option<Locale>,
    pub attributes: BTreeMap<String, String>,
}

/// What [`Store::attach_identity`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    /// The identity is the customer's now.
    Attached,
    /// The customer had it already.
    Already,
    /// Another customer holds it, and keeps it: identities are never moved silently (a merge
    /// moves them).
    HeldBy(CustomerId),
}

/// A file to store with a conversation: see [`Store::store_attachment`].
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub conversation_id: ConversationId,
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A stored file, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttachmentInfo {
    pub id: i64,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub filename: String,
    pub content_type: String,
    /// In bytes.
    pub size: i64,
    /// The SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    pub created_at: Millis,
}

/// The embedding of one version of an article.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleEmbedding {
    pub key: String,
    pub version: i64,
    pub vector: Vec<f32>,
}

/// What a person decided about a knowledge suggestion learnt from conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestionDecision {
    /// `variant` (a customer's wording for an article) or `gap` (a topic without one).
    pub kind: String,
    /// Which suggestion: for a variant `KEY:wording` (normalised), for a gap
    /// its normalised label.
    pub subject: String,
    pub accepted: bool,
    /// The article an accepted suggestion went into, and the version that took it in.
    pub article_key: Option<String>,
    pub article_version: Option<i64>,
    /// The evidence: the conversations it was learnt from.
    pub conversation_ids: Vec<i64>,
    pub decided_by: Option<UserId>,
    pub decided_at: Millis,
}

/// A conversation people answered, as learning reads it: see [`Store::handled_conversations`].
#[derive(Debug, Clone, PartialEq)]
pub struct HandledConversation {
    pub id: ConversationId,
    /// When the conversation began, so what is learnt can say on which days it was asked.
    pub created_at: Millis,
    /// The messages the customer saw (no notes), oldest first.
    pub messages: Vec<Message>,
}

/// A reply that came from a suggested article: see [`Store::record_suggestion_use`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestionUse {
    pub message: MessageId,
    /// The key of the article whose answer was inserted.
    pub article: String,
    /// Whether the agent changed the answer before sending it.
    pub edited: bool,
}

/// See [`Store::suggestion_uses`]: replies sent with a suggested answer as it was, and edited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SuggestionUses {
    pub sent_unchanged: u32,
    pub sent_edited: u32,
}

/// See [`Store::customer_history`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CustomerHistory {
    pub conversations: u32,
    pub with_people: u32,
    pub last_agent: Option<UserId>,
}

/// A change of a conversation's owner and place in routing, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct RouteChange {
    /// Through the ownership state machine; its routing record follows (see `route`).
    pub transition: Option<Transition>,
    pub queue_id: Option<QueueId>,
    pub skills: Option<Vec<String>>,
    pub priority: Option<i64>,
    /// The agent to prefer.
    pub sticky: Option<UserId>,
    /// An agent not to offer the conversation to again (added before the transition).
    pub skip: Option<UserId>,
    /// Stored as the conversation's newest hand-off packet.
    pub packet: Option<HandoffPacket>,
    /// After hours: keep the conversation with the bot as a ticket that joins the queue at this
    /// time (no transition; only for conversations the bot has).
    pub follow_up_at: Option<Millis>,
    pub system_message: Option<String>,
    /// Refuse (`Conflict`) unless the conversation is in this state (an assignment decided for a
    /// waiting conversation must not take it from someone who picked it up meanwhile).
    pub only_if_state: Option<ConversationState>,
    /// Refuse (`Conflict`) unless the conversation is still offered to this agent and they have
    /// not replied: a timed-out offer must not take back a conversation its agent just answered.
    pub only_if_offered_to: Option<UserId>,
    /// When the transition resolves the conversation: its wrap-up, stored (replacing an earlier
    /// one) and carried by the `conversation.resolved` webhook event in the same transaction.
    /// Its `conversation_id` and `created_at` are set by the store. Resolving without one
    /// removes an earlier wrap-up, which would describe an earlier resolution.
    pub wrapup: Option<Wrapup>,
}

/// This process's name among the nodes sharing a store, as a lease holder: host, process id
/// and start time.
pub fn node_id() -> &'static str {
    static NODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NODE.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "node".to_owned());
        format!("{host}:{}:{}", std::process::id(), now_millis())
    })
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as Millis)
        .unwrap_or_default()
}

// ---------- Outbound webhooks ----------

/// A webhook endpoint as registered, with its signing secret.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub workspace_id: WorkspaceId,
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEventType>,
    pub active: bool,
    /// The key its deliveries are signed with; stored as is, because signing needs it.
    pub secret: String,
    /// Only this inbox's conversations (see [`WebhookEndpoint::inbox_id`]).
    pub inbox_id: Option<tandem_domain::InboxId>,
}

/// Changes to a webhook endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointUpdate {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<WebhookEventType>>,
    pub active: Option<bool>,
    /// A new signing secret (rolling the old one).
    pub secret: Option<String>,
}

/// Something that happened, as recorded in the outbox when it was committed.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub id: WebhookEventId,
    pub workspace_id: WorkspaceId,
    pub event_type: WebhookEventType,
    pub created_at: Millis,
    /// What the event is about, as of its commit (`conversation`, `message`, `packet`...).
    pub data: serde_json::Value,
}

/// A delivery claimed by [`Store::claim_webhooks`], with what is needed to send it.
#[derive(Debug, Clone)]
pub struct DueWebhook {
    pub delivery: WebhookDelivery,
    pub event: WebhookEvent,
    pub url: String,
    pub secret: String,
    /// The inbox the endpoint serves (see [`WebhookEndpoint::inbox_id`]): a channel that
    /// answers through a webhook knows which inbox's credentials to reply with.
    pub inbox_id: Option<InboxId>,
}

/// The result of one delivery attempt (see [`Store::finish_webhook`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub at: Millis,
    /// The HTTP status, when the endpoint answered.
    pub response_status: Option<u16>,
    /// Why it failed; `None` when delivered.
    pub error: Option<String>,
    pub outcome: WebhookOutcome,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Delivered,
    /// Try again at this time.
    RetryAt(Millis),
    /// Give up: the retries are spent.
    Failed,
}

/// Who made a change the audit log records: see [`Store::append_audit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditActorKind {
    /// A person signed in to the console (session cookie).
    User,
    /// A program calling the API with an API token.
    Token,
    /// The bot, on its own account (hand-offs, business actions).
    Bot,
    /// The workspace's model (a reply it wrote, used or rejected).
    Model,
    /// Tandem itself.
    System,
}

impl AuditActorKind {
    pub const ALL: [AuditActorKind; 5] = [
        AuditActorKind::User,
        AuditActorKind::Token,
        AuditActorKind::Bot,
        AuditActorKind::Model,
        AuditActorKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditActorKind::User => "user",
            AuditActorKind::Token => "token",
            AuditActorKind::Bot => "bot",
            AuditActorKind::Model => "model",
            AuditActorKind::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<AuditActorKind> {
        AuditActorKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One change to record in the audit log. `detail` never holds secrets or request bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub workspace_id: WorkspaceId,
    pub actor_kind: AuditActorKind,
    /// The user's, token's or model's id, as text (`None` for the bot and the system).
    pub actor_id: Option<String>,
    /// A name a person recognises: the user's display name, the token's name, the bot's name.
    pub actor_name: String,
    /// A stable code (`knowledge.save`, `conversation.handoff`) or `METHOD /route/{template}`.
    pub action: String,
    /// What was changed (`conversation:12`, `article:returns`), empty when nothing in particular.
    pub target: String,
    pub detail: serde_json::Value,
    /// The client's address, for people's and tokens' changes.
    pub ip: Option<String>,
}

/// A recorded audit entry: never changed or deleted once written.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub workspace_id: WorkspaceId,
    pub at: Millis,
    pub actor_kind: AuditActorKind,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub target: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

/// Which audit entries to list: every field set narrows the list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    /// The actor's kind.
    pub actor_kind: Option<AuditActorKind>,
    /// Part of the actor's name or id (case-insensitive).
    pub actor: Option<String>,
    /// The start of the action's code (`knowledge.`, `POST /api/v1/webhooks`).
    pub action_prefix: Option<String>,
    /// Part of the action, target, detail, actor or address (case-insensitive).
    pub text: Option<String>,
    /// At or after this time.
    pub from: Option<Millis>,
    /// Before this time.
    pub to: Option<Millis>,
}
