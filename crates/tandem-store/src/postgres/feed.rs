//! The change feed across nodes. A write records each change it reports in `change_feed`, in
//! its own transaction; ids are taken under the write's row locks, so the changes of one
//! conversation are numbered in the order they commit. Every node follows the table with a
//! durable cursor: it reads the rows after the last id it published, in id order, and
//! publishes them on its broadcast channel (one path for its own changes and other nodes').
//! A node reads again when one of its writers commits, when another node pings the channel
//! with NOTIFY (sent after commit, outside the writes: a NOTIFY inside them would make every
//! commit in the cluster wait for one lock), and every second regardless. An id not yet
//! visible is a write still committing: reading waits for it a few seconds, then goes on and
//! fetches it by id if it turns up later. A node whose connection drops reconnects and reads
//! on from its cursor.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tandem_domain::{Conversation, ConversationId, Message, Millis, WorkspaceId};
use tokio::sync::{Notify, broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client};

use super::sql::{Db, query_one};
use crate::{Change, StoreError, StoreResult, now_millis};

const CHANNEL: &str = "tandem_changes";
/// How often the table is read with no wake-up (a lost ping, a write that rolled back).
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How often while an id is missing: the write that took it is committing.
const GAP_POLL: Duration = Duration::from_millis(20);
/// How long a missing id holds back the ids after it before they are published anyway.
const GAP_WAIT: Duration = Duration::from_secs(3);
/// How long an id passed over is looked for afterwards.
const LATE: Duration = Duration::from_secs(60);
/// Rows read at a time.
const BATCH: i64 = 2_000;
/// How many ids below the newest a starting node checks for writes still committing.
const STARTUP_WINDOW: i64 = 1_000;
/// How long a writer waits for its node to publish its changes before answering anyway (the
/// listening connection is down; the changes are published when it catches up).
const PUBLISH_WAIT: Duration = Duration::from_secs(5);
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
    /// A writer of this node committed: read the table.
    committed: Notify,
}

#[derive(Default)]
struct State {
    /// Writers waiting for their changes to be published, by change id.
    waiting: HashMap<i64, oneshot::Sender<()>>,
    published: HashSet<i64>,
    order: VecDeque<i64>,
}

impl State {
    /// Notes `id` as published: `None` when it already was, else whether a writer of this
    /// node was waiting for it.
    fn publish(&mut self, id: i64) -> Option<bool> {
        if !self.published.insert(id) {
            return None;
        }
        self.order.push_back(id);
        if self.order.len() > REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.published.remove(&oldest);
        }
        let waiter = self.waiting.remove(&id);
        let local = waiter.is_some();
        if let Some(waiter) = waiter {
            let _ = waiter.send(());
        }
        Some(local)
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
    /// Starts following the table from its newest row (before answering, so no change
    /// committed after `open` is missed).
    pub(super) async fn start(config: tokio_postgres::Config) -> StoreResult<Arc<Feed>> {
        let (changes, _) = broadcast::channel(4096);
        let feed = Arc::new(Feed {
            changes,
            state: Mutex::new(State::default()),
            listener: Mutex::new(None),
            connected: AtomicBool::new(true),
            committed: Notify::new(),
        });
        let first = listen(&config).await?;
        let row =
            first.client.query_one("SELECT COALESCE(MAX(id), 0) FROM change_feed", &[]).await?;
        let last: i64 = row.try_get(0)?;
        // Ids below the newest that are not there yet are writes still committing: looked for
        // as late ones, so a change committed just after this start is not missed.
        let present: HashSet<i64> = first
            .client
            .query("SELECT id FROM change_feed WHERE id > $1", &[&(last - STARTUP_WINDOW)])
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        let now = Instant::now();
        let late = ((last - STARTUP_WINDOW).max(0) + 1..=last)
            .filter(|id| !present.contains(id))
            .map(|id| (id, now))
            .collect();
        let cursor = Cursor { last, gap_since: None, late };
        let task = tokio::spawn(follow(Arc::downgrade(&feed), config, first, cursor));
        *feed.listener.lock().expect("feed lock") = Some(task);
        Ok(feed)
    }

    /// Tells the follower that a writer of this node committed changes.
    pub(super) fn committed(&self) {
        self.committed.notify_one();
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

    /// Writes `changes` to the feed inside the caller's transaction; the caller commits, calls
    /// [`Feed::committed`] and then waits on what this returns.
    pub(super) async fn record(&self, db: &Db, changes: &[Change]) -> StoreResult<Announced> {
        let mut receivers = Vec::with_capacity(changes.len());
        let now = now_millis();
        for change in changes {
            let payload = serde_json::to_string(&Wire::of(change)).map_err(StoreError::database)?;
            let row = query_one(
                db,
                "INSERT INTO change_feed (payload, created_at) VALUES ($1, $2) RETURNING id",
                &[&payload, &now],
            )
            .await?;
            let id: i64 = row.try_get(0)?;
            let (sender, receiver) = oneshot::channel();
            self.state.lock().expect("feed lock").waiting.insert(id, sender);
            receivers.push(receiver);
        }
        Ok(Announced { receivers })
    }

    /// Publishes one row; `true` when a writer of this node was waiting for it.
    fn publish(&self, id: i64, payload: &str) -> bool {
        let wire: Wire = match serde_json::from_str(payload) {
            Ok(wire) => wire,
            Err(error) => {
                tracing::warn!(id, %error, "a change in the feed could not be read; skipped");
                return self.state.lock().expect("feed lock").publish(id).unwrap_or(false);
            }
        };
        let published = self.state.lock().expect("feed lock").publish(id);
        match published {
            None => false,
            Some(local) => {
                let _ = self.changes.send(wire.into_change());
                local
            }
        }
    }
}

/// Where a node is in the table.
struct Cursor {
    /// Every id up to this one is published or was passed over.
    last: i64,
    /// Since when the id after `last` has been missing while later ones are there.
    gap_since: Option<Instant>,
    /// Ids passed over while missing, with when: published if they turn up.
    late: BTreeMap<i64, Instant>,
}

/// A listening connection: its client (to catch up and fetch) and its notifications.
struct Listening {
    client: Client,
    /// Pings from other nodes.
    notifications: mpsc::UnboundedReceiver<()>,
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
                Ok(AsyncMessage::Notification(_)) => {
                    if sender.send(()).is_err() {
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
async fn follow(
    feed: std::sync::Weak<Feed>,
    config: tokio_postgres::Config,
    first: Listening,
    mut cursor: Cursor,
) {
    let mut listening = Some(first);
    let mut last_prune = 0;
    loop {
        let mut current = match listening.take() {
            Some(current) => current,
            None => match listen(&config).await {
                Ok(current) => {
                    let Some(feed) = feed.upgrade() else { return };
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
            let Some(strong) = feed.upgrade() else { return };
            // Read what committed meanwhile (from the cursor on: nothing missed while away).
            match read(&strong, &current.client, &mut cursor).await {
                // Other nodes read when pinged: once per read that published this node's own.
                Ok(true) => {
                    if let Err(error) =
                        current.client.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await
                    {
                        tracing::warn!(%error, "could not ping the other nodes");
                        break;
                    }
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "the change feed could not be read");
                    break;
                }
            }
            let now = now_millis();
            if now - last_prune > 60_000 {
                last_prune = now;
                if let Err(error) = prune(&current.client, now).await {
                    tracing::warn!(%error, "old changes could not be pruned from the feed");
                }
            }
            let pause = if cursor.gap_since.is_some() { GAP_POLL } else { POLL_EVERY };
            // Holds the feed for at most one pause: a dropped store ends this loop after it.
            let closed = tokio::select! {
                ping = current.notifications.recv() => ping.is_none(),
                _ = strong.committed.notified() => false,
                _ = tokio::time::sleep(pause) => false,
            };
            drop(strong);
            if closed {
                break;
            }
            // Several pings are one read.
            while current.notifications.try_recv().is_ok() {}
        }
        if let Some(feed) = feed.upgrade() {
            feed.connected.store(false, Ordering::Relaxed);
        }
        tracing::warn!("the change feed's connection closed; reconnecting");
    }
}

/// Publishes the rows after the cursor in id order, and late ones passed over before; `true`
/// when any was this node's own.
async fn read(feed: &Feed, client: &Client, cursor: &mut Cursor) -> StoreResult<bool> {
    let mut local = false;
    loop {
        let late: Vec<i64> = cursor.late.keys().copied().collect();
        let rows = client
            .query(
                "SELECT id, payload FROM change_feed WHERE id > $1 OR id = ANY($2)
                 ORDER BY id LIMIT $3",
                &[&cursor.last, &late, &BATCH],
            )
            .await?;
        let full = rows.len() as i64 == BATCH;
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            let payload: &str = row.try_get(1)?;
            if id <= cursor.last {
                cursor.late.remove(&id);
                local |= feed.publish(id, payload);
                continue;
            }
            if id > cursor.last + 1 {
                // The ids between are writes still committing (or rolled back).
                let since = *cursor.gap_since.get_or_insert_with(Instant::now);
                if since.elapsed() < GAP_WAIT {
                    break;
                }
                let now = Instant::now();
                for missing in (cursor.last + 1..id).take(1_000) {
                    cursor.late.insert(missing, now);
                }
            }
            cursor.last = id;
            cursor.gap_since = None;
            local |= feed.publish(id, payload);
        }
        cursor.late.retain(|_, since| since.elapsed() < LATE);
        if !full || cursor.gap_since.is_some() {
            return Ok(local);
        }
    }
}

/// Removes old changes and idle rate buckets.
async fn prune(client: &Client, now: Millis) -> StoreResult<()> {
    client.execute("DELETE FROM change_feed WHERE created_at < $1", &[&(now - KEEP)]).await?;
    client
        .execute("DELETE FROM rate_buckets WHERE updated_at < $1", &[&(now - IDLE_BUCKET)])
        .await?;
    Ok(())
}
