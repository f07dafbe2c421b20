//! The change feed across nodes. A write records each change it reports in `change_feed`, in
//! its own transaction, and announces it with `pg_notify` (the change itself when it fits in a
//! notification, else its id). PostgreSQL delivers notifications when, and in the order,
//! their transactions commit, so every node's listening connection sees every node's changes
//! in commit order and republishes them on its broadcast channel: one path for local and
//! remote changes. A node that loses its listening connection reconnects and catches up from
//! the table, skipping what it already published.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tandem_domain::{Conversation, ConversationId, Message, Millis, WorkspaceId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Notification};

use super::sql::{Db, query_one};
use crate::{Change, StoreError, StoreResult, now_millis};

const CHANNEL: &str = "tandem_changes";
/// A notification's payload must stay under 8000 bytes; larger changes are fetched by id.
const INLINE_LIMIT: i32 = 7000;
/// How long a writer waits for its node to publish its changes before answering anyway (the
/// listening connection is down; the changes are published when it catches up).
const PUBLISH_WAIT: Duration = Duration::from_secs(5);
/// How far back a reconnected listener looks for changes it may have missed.
const CATCH_UP: Millis = 30_000;
/// How long rows stay in `change_feed`.
const KEEP: Millis = 60 * 60 * 1000;
/// Rate buckets untouched this long are full again, and go.
const IDLE_BUCKET: Millis = 10 * 60 * 1000;
/// Ids remembered as published, to skip them when catching up.
const REMEMBERED: usize = 65_536;

/// A change as it travels between nodes.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Wire {
    Message { conversation: Box<Conversation>, message: Box<Message> },
    Conversation { conversation: Box<Conversation> },
    Knowledge { workspace: WorkspaceId },
    Agents { workspace: WorkspaceId },
    Erased { workspace: WorkspaceId, conversations: Vec<ConversationId> },
}

impl Wire {
    fn of(change: &Change) -> Wire {
        match change {
            Change::Message { conversation, message } => Wire::Message {
                conversation: Box::new(Conversation::clone(conversation)),
                message: Box::new(Message::clone(message)),
            },
            Change::Conversation(conversation) => {
                Wire::Conversation { conversation: Box::new(Conversation::clone(conversation)) }
            }
            Change::Knowledge(workspace) => Wire::Knowledge { workspace: *workspace },
            Change::Agents(workspace) => Wire::Agents { workspace: *workspace },
            Change::Erased { workspace, conversations } => {
                Wire::Erased { workspace: *workspace, conversations: conversations.to_vec() }
            }
        }
    }

    fn into_change(self) -> Change {
        match self {
            Wire::Message { conversation, message } => Change::Message {
                conversation: Arc::new(*conversation),
                message: Arc::new(*message),
            },
            Wire::Conversation { conversation } => Change::Conversation(Arc::new(*conversation)),
            Wire::Knowledge { workspace } => Change::Knowledge(workspace),
            Wire::Agents { workspace } => Change::Agents(workspace),
            Wire::Erased { workspace, conversations } => {
                Change::Erased { workspace, conversations: conversations.into() }
            }
        }
    }
}

pub(super) struct Feed {
    changes: broadcast::Sender<Change>,
    state: Mutex<State>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Whether the listening connection is up.
    connected: AtomicBool,
}

#[derive(Default)]
struct State {
    /// Writers waiting for their changes to be published, by change id.
    waiting: HashMap<i64, oneshot::Sender<()>>,
    published: HashSet<i64>,
    order: VecDeque<i64>,
}

impl State {
    /// Notes `id` as published; `false` when it already was.
    fn publish(&mut self, id: i64) -> bool {
        if !self.published.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.published.remove(&oldest);
        }
        if let Some(waiter) = self.waiting.remove(&id) {
            let _ = waiter.send(());
        }
        true
    }
}

/// What a write waits for after its commit: see [`Feed::record`].
pub(super) struct Announced {
    receivers: Vec<oneshot::Receiver<()>>,
}

impl Announced {
    /// Waits until this node has published the write's changes (or gives up after a while:
    /// they are durable, and the listener publishes them when it catches up).
    pub(super) async fn published(self) {
        for receiver in self.receivers {
            if tokio::time::timeout(PUBLISH_WAIT, receiver).await.is_err() {
                tracing::warn!("the change feed did not deliver a committed change in time");
                return;
            }
        }
    }
}

impl Feed {
    /// Starts listening (before answering, so no change committed after `open` is missed).
    pub(super) async fn start(config: tokio_postgres::Config) -> StoreResult<Arc<Feed>> {
        let (changes, _) = broadcast::channel(4096);
        let feed = Arc::new(Feed {
            changes,
            state: Mutex::new(State::default()),
            listener: Mutex::new(None),
            connected: AtomicBool::new(true),
        });
        let first = listen(&config).await?;
        let task = tokio::spawn(follow(Arc::downgrade(&feed), config, first));
        *feed.listener.lock().expect("feed lock") = Some(task);
        Ok(feed)
    }

    pub(super) fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    pub(super) fn stop(&self) {
        if let Some(task) = self.listener.lock().expect("feed lock").take() {
            task.abort();
        }
    }

    /// Writes `changes` to the feed inside the caller's transaction; the caller commits and
    /// then waits on what this returns.
    pub(super) async fn record(&self, db: &Db, changes: &[Change]) -> StoreResult<Announced> {
        let mut receivers = Vec::with_capacity(changes.len());
        let now = now_millis();
        for change in changes {
            let payload = serde_json::to_string(&Wire::of(change)).map_err(StoreError::database)?;
            let row = query_one(
                db,
                "WITH recorded AS (
                     INSERT INTO change_feed (payload, created_at) VALUES ($1::text, $2) RETURNING id
                 )
                 SELECT id, pg_notify($3, CASE WHEN octet_length($1::text) < $4
                     THEN id || ' ' || $1::text ELSE id::text END)::text
                 FROM recorded",
                &[&payload, &now, &CHANNEL, &INLINE_LIMIT],
            )
            .await?;
            let id: i64 = row.try_get(0)?;
            let (sender, receiver) = oneshot::channel();
            self.state.lock().expect("feed lock").waiting.insert(id, sender);
            receivers.push(receiver);
        }
        Ok(Announced { receivers })
    }

    fn publish(&self, id: i64, change: Change) {
        let fresh = self.state.lock().expect("feed lock").publish(id);
        if fresh {
            let _ = self.changes.send(change);
        }
    }

    fn already_published(&self, id: i64) -> bool {
        self.state.lock().expect("feed lock").published.contains(&id)
    }
}

/// A listening connection: its client (to catch up and fetch) and its notifications.
struct Listening {
    client: Client,
    notifications: mpsc::UnboundedReceiver<Notification>,
}

async fn listen(config: &tokio_postgres::Config) -> StoreResult<Listening> {
    let mut config = config.clone();
    // Named, so an operator tells it from the pool's connections in `pg_stat_activity`.
    config.application_name("tandem change feed");
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (sender, notifications) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages =
            futures_util::stream::poll_fn(move |context| connection.poll_message(context));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    if sender.send(notification).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the change feed's connection failed");
                    return;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok(Listening { client, notifications })
}

/// Follows the feed for as long as the store lives, reconnecting when the connection drops.
async fn follow(feed: std::sync::Weak<Feed>, config: tokio_postgres::Config, first: Listening) {
    let mut listening = Some(first);
    let mut last_prune = 0;
    loop {
        let mut current = match listening.take() {
            Some(current) => current,
            None => match listen(&config).await {
                Ok(current) => {
                    let Some(feed) = feed.upgrade() else { return };
                    if let Err(error) = catch_up(&feed, &current.client).await {
                        tracing::warn!(%error, "the change feed could not catch up");
                    }
                    feed.connected.store(true, Ordering::Relaxed);
                    tracing::info!("the change feed is connected again");
                    current
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot reach PostgreSQL for the change feed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if feed.strong_count() == 0 {
                        return;
                    }
                    continue;
                }
            },
        };
        loop {
            let notification = tokio::select! {
                notification = current.notifications.recv() => notification,
                _ = tokio::time::sleep(Duration::from_secs(60)) => {
                    if feed.strong_count() == 0 {
                        return;
                    }
                    continue;
                }
            };
            let Some(notification) = notification else { break };
            let Some(feed) = feed.upgrade() else { return };
            if let Err(error) = deliver(&feed, &current.client, notification.payload()).await {
                tracing::warn!(%error, "a change from the feed could not be read");
            }
            let now = now_millis();
            if now - last_prune > 60_000 {
                last_prune = now;
                let pruned = current
                    .client
                    .execute("DELETE FROM change_feed WHERE created_at < $1", &[&(now - KEEP)])
                    .await;
                let pruned = match pruned {
                    Ok(_) => {
                        current
                            .client
                            .execute(
                                "DELETE FROM rate_buckets WHERE updated_at < $1",
                                &[&(now - IDLE_BUCKET)],
                            )
                            .await
                    }
                    error => error,
                };
                if let Err(error) = pruned {
                    tracing::warn!(%error, "old changes could not be pruned from the feed");
                }
            }
        }
        if let Some(feed) = feed.upgrade() {
            feed.connected.store(false, Ordering::Relaxed);
        }
        tracing::warn!("the change feed's connection closed; reconnecting");
    }
}

/// Publishes one notified change: inline, or read from the table by id.
async fn deliver(feed: &Feed, client: &Client, payload: &str) -> StoreResult<()> {
    let (id, inline) = payload.split_once(' ').unwrap_or((payload, ""));
    let id: i64 =
        id.parse().map_err(|_| StoreError::database(format!("bad feed payload {id:?}")))?;
    if feed.already_published(id) {
        return Ok(());
    }
    let wire: Wire = if inline.is_empty() {
        let row = client.query_one("SELECT payload FROM change_feed WHERE id = $1", &[&id]).await?;
        serde_json::from_str(row.try_get::<_, &str>(0)?).map_err(StoreError::database)?
    } else {
        serde_json::from_str(inline).map_err(StoreError::database)?
    };
    feed.publish(id, wire.into_change());
    Ok(())
}

/// After a reconnect: publishes the recent changes this node has not seen, oldest first.
async fn catch_up(feed: &Feed, client: &Client) -> StoreResult<()> {
    let rows = client
        .query(
            "SELECT id, payload FROM change_feed WHERE created_at >= $1 ORDER BY id",
            &[&(now_millis() - CATCH_UP)],
        )
        .await?;
    for row in rows {
        let id: i64 = row.try_get(0)?;
        if feed.already_published(id) {
            continue;
        }
        let wire: Wire =
            serde_json::from_str(row.try_get::<_, &str>(1)?).map_err(StoreError::database)?;
        feed.publish(id, wire.into_change());
    }
    Ok(())
}
