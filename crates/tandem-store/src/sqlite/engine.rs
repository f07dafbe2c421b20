//! The SQLite engine room: one writer thread that commits jobs in groups, and a small pool of
//! read connections.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` each commit costs an
//! fsync. Funnelling every write through one thread that takes all queued jobs, runs each in
//! its own savepoint, and commits them together turns N fsyncs into one without weakening the
//! guarantee: a job's caller hears back only after the commit that contains its job.
//!
//! The pool is written here rather than taken from r2d2/deadpool because it is a mutex around
//! a vector of connections; the crates bring generic machinery (timeouts, health checks,
//! async managers) that a local file does not need.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{broadcast, oneshot};

use crate::{Change, StoreError, StoreResult};

/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 512;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// What a job tells the writer: whether its savepoint holds, and how to answer its caller once
/// the group's commit has succeeded (`Ok`) or failed (`Err`).
type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&Connection, &mut Vec<Change>) -> (bool, Completion) + Send>;

pub(crate) struct Engine {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    pub(crate) changes: broadcast::Sender<Change>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

pub(crate) fn database_error(error: rusqlite::Error) -> StoreError {
    StoreError::Database(error.to_string())
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        database_error(error)
    }
}

fn configure(connection: &Connection, synchronous_full: bool) -> rusqlite::Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )?;
    Ok(())
}

impl Engine {
    /// Opens (creating if needed) the database at `path`, runs `prepare` on the writer
    /// connection (migrations) and starts the writer thread.
    pub(crate) fn open(
        path: &Path,
        synchronous_full: bool,
        prepare: impl FnOnce(&mut Connection) -> StoreResult<()>,
    ) -> StoreResult<Arc<Engine>> {
        let mut connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        configure(&connection, synchronous_full)?;
        prepare(&mut connection)?;
        let (sender, receiver) = mpsc::channel::<Job>();
        let (changes, _) = broadcast::channel(crate::CHANGE_FEED_CAPACITY);
        let feed = changes.clone();
        let writer = std::thread::Builder::new()
            .name("tandem-sqlite-writer".into())
            .spawn(move || write_loop(connection, receiver, feed))
            .map_err(|error| {
                StoreError::Database(format!("cannot start writer thread: {error}"))
            })?;
        Ok(Arc::new(Engine {
            jobs: Mutex::new(Some(sender)),
            readers: Mutex::new(Vec::new()),
            path: path.to_owned(),
            changes,
            writer: Mutex::new(Some(writer)),
        }))
    }

    /// Runs `job` in the writer thread inside the current group transaction and returns its
    /// result once that transaction is committed. If `job` fails, its changes are rolled back
    /// (its savepoint) and the rest of the group is unaffected.
    pub(crate) async fn write<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<Change>) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |connection, changes| match job(connection, changes) {
            Ok(value) => (
                true,
                Box::new(move |committed: Result<(), StoreError>| {
                    let _ = reply.send(committed.map(|()| value));
                }),
            ),
            Err(error) => (
                false,
                Box::new(move |_| {
                    let _ = reply.send(Err(error));
                }),
            ),
        });
        let sender = self.jobs.lock().map_err(|_| StoreError::Closed)?.clone();
        sender.ok_or(StoreError::Closed)?.send(job).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `query` on a pooled read connection on the blocking thread pool.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, query: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let engine = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let connection = engine.take_reader()?;
            let result = query(&connection);
            let mut idle = engine.readers.lock().map_err(|_| StoreError::Closed)?;
            if idle.len() < MAX_IDLE_READERS {
                idle.push(connection);
            }
            result
        })
        .await
        .map_err(|error| StoreError::Database(format!("read task failed: {error}")))?
    }

    fn take_reader(&self) -> StoreResult<Connection> {
        if let Some(connection) = self.readers.lock().map_err(|_| StoreError::Closed)?.pop() {
            return Ok(connection);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        configure(&connection, false)?;
        Ok(connection)
    }

    /// Stops accepting writes, lets the writer finish what is queued, and waits for it.
    pub(crate) fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(writer) = self.writer.lock().ok().and_then(|mut writer| writer.take()) {
            let _ = writer.join();
        }
    }
}

fn write_loop(connection: Connection, jobs: mpsc::Receiver<Job>, feed: broadcast::Sender<Change>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&connection, group, &feed);
    }
}

fn commit_group(connection: &Connection, group: Vec<Job>, feed: &broadcast::Sender<Change>) {
    let mut completions = Vec::with_capacity(group.len());
    let mut changes = Vec::new();
    if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(%error, "cannot begin write transaction");
        // Dropping the jobs unrun drops their reply channels: callers see `Closed`.
        drop(group);
        return;
    }
    for job in group {
        let mut job_changes = Vec::new();
        let savepoint = connection.execute_batch("SAVEPOINT job");
        let (keep, completion) = job(connection, &mut job_changes);
        let outcome = match (savepoint, keep) {
            (Ok(()), true) => connection.execute_batch("RELEASE job"),
            (Ok(()), false) => connection.execute_batch("ROLLBACK TO job; RELEASE job"),
            (Err(error), _) => Err(error),
        };
        match outcome {
            Ok(()) if keep => changes.extend(job_changes),
            Ok(()) => {}
            Err(error) => tracing::error!(%error, "savepoint handling failed"),
        }
        completions.push(completion);
    }
    match connection.execute_batch("COMMIT") {
        Ok(()) => {
            for change in changes {
                // No subscriber is not an error: nobody is watching right now.
                let _ = feed.send(change);
            }
            for completion in completions {
                completion(Ok(()));
            }
        }
        Err(error) => {
            tracing::error!(%error, "group commit failed");
            let _ = connection.execute_batch("ROLLBACK");
            for completion in completions {
                completion(Err(StoreError::Database(format!("commit failed: {error}"))));
            }
        }
    }
}
