//! The SQLite engine room: one writer thread that commits jobs in groups, and a small pool of
//! read connections.
//!
//! SQLite allows one writer at a time, and with `synchronous = FULL` each commit costs an
//! fsync. Funnelling every write through one thread that takes all queued jobs, runs each in
//! its own savepoint, and commits them together turns N fsyncs into one without weakening the
//! guarantee: a job's caller hears back only after the commit that contains its job.
//!
//! A job is isolated from the rest of its group: a job that fails, or panics, is rolled back to
//! its savepoint and only its caller hears of it; a job whose savepoint cannot be opened is not
//! run at all. Should undoing a job fail (its savepoint gone), the job's writes cannot be
//! separated from the others', so the whole group is rolled back and every caller told: a
//! group never commits part of a job.
//!
//! The pool is written here rather than taken from r2d2/deadpool because it is a mutex around
//! a vector of connections; the crates bring generic machinery (timeouts, health checks,
//! async managers) that a local file does not need.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{broadcast, oneshot};

use crate::{Change, StoreError, StoreResult};

/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 512;
/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// What a job produced, type-erased so that jobs of every result type share one queue.
type Output = Box<dyn Any + Send>;
/// A job's work: run on the writer's connection inside the job's savepoint; the changes it
/// pushes are published only if the group commits.
type Work = Box<dyn FnOnce(&Connection, &mut Vec<Change>) -> StoreResult<Output> + Send>;

pub(crate) struct Job {
    work: Work,
    reply: oneshot::Sender<StoreResult<Output>>,
}

pub(crate) struct Engine {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    pub(crate) changes: broadcast::Sender<Change>,
    /// How long each write waited for its commit.
    pub(crate) write_stats: crate::WriteStats,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::database(error)
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
            .map_err(StoreError::database)?;
        Ok(Arc::new(Engine {
            jobs: Mutex::new(Some(sender)),
            readers: Mutex::new(Vec::new()),
            path: path.to_owned(),
            changes,
            write_stats: crate::WriteStats::default(),
            writer: Mutex::new(Some(writer)),
        }))
    }

    /// Runs `job` in the writer thread inside the current group transaction and returns its
    /// result once that transaction is committed. If `job` fails or panics, its changes are
    /// rolled back (its savepoint) and the rest of the group is unaffected.
    pub(crate) async fn write<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<Change>) -> StoreResult<T> + Send + 'static,
    {
        let started = std::time::Instant::now();
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |connection, changes| {
            job(connection, changes).map(|value| Box::new(value) as Output)
        });
        let sender = self.jobs.lock().map_err(|_| StoreError::Closed)?.clone();
        sender
            .ok_or(StoreError::Closed)?
            .send(Job { work, reply })
            .map_err(|_| StoreError::Closed)?;
        let answered = answer.await;
        self.write_stats.observe(started.elapsed());
        let output = answered.map_err(|_| StoreError::Closed)??;
        // The writer hands back exactly what this job's closure returned.
        output
            .downcast::<T>()
            .map(|value| *value)
            .map_err(|_| StoreError::Database("a write job's result had another type".into()))
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
        .map_err(|error| StoreError::Panicked(format!("read task failed: {error}")))?
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

/// What a job's panic said, for the log and its caller.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a write job panicked".to_owned())
}

/// Runs one job in its savepoint. Returns the job's result for its caller, and `false` when
/// the job's writes could not be separated from the group's (its savepoint could not be
/// undone), in which case the whole group must be rolled back.
fn run_job(
    connection: &Connection,
    work: Work,
    changes: &mut Vec<Change>,
) -> (StoreResult<Output>, bool) {
    // A savepoint that does not open leaves nothing to undo with: the job is not run.
    if let Err(error) = connection.execute_batch("SAVEPOINT job") {
        tracing::error!(%error, "cannot open a write job's savepoint; the job is refused");
        return (Err(StoreError::database(error)), true);
    }
    let mut job_changes = Vec::new();
    let result = match catch_unwind(AssertUnwindSafe(|| work(connection, &mut job_changes))) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!(panic = %message, "a write job panicked; it is rolled back");
            Err(StoreError::Panicked(message))
        }
    };
    let ended = match &result {
        Ok(_) => connection.execute_batch("RELEASE job"),
        Err(_) => connection.execute_batch("ROLLBACK TO job; RELEASE job"),
    };
    match ended {
        Ok(()) => {
            if result.is_ok() {
                changes.extend(job_changes);
            }
            (result, true)
        }
        Err(error) => {
            tracing::error!(%error, "cannot close a write job's savepoint; the group is rolled back");
            (Err(StoreError::database(error)), false)
        }
    }
}

pub(crate) fn commit_group(
    connection: &Connection,
    group: Vec<Job>,
    feed: &broadcast::Sender<Change>,
) {
    if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(%error, "cannot begin write transaction");
        let message = error.to_string();
        for job in group {
            let _ = job.reply.send(Err(StoreError::database(message.clone())));
        }
        return;
    }
    let mut changes = Vec::new();
    let mut results = Vec::with_capacity(group.len());
    let mut intact = true;
    for job in group {
        let (result, separable) = if intact {
            run_job(connection, job.work, &mut changes)
        } else {
            (Err(StoreError::Database("the write group was rolled back".into())), true)
        };
        intact &= separable;
        results.push((job.reply, result));
    }
    let committed = if intact {
        connection.execute_batch("COMMIT").map_err(|error| {
            tracing::error!(%error, "group commit failed");
            error.to_string()
        })
    } else {
        Err("a job's writes could not be undone; the write group was rolled back".to_owned())
    };
    match committed {
        Ok(()) => {
            for change in changes {
                // No subscriber is not an error: nobody is watching right now.
                let _ = feed.send(change);
            }
            for (reply, result) in results {
                let _ = reply.send(result);
            }
        }
        Err(reason) => {
            let _ = connection.execute_batch("ROLLBACK");
            for (reply, result) in results {
                // A job that failed keeps its own error; one that succeeded was not committed.
                let _ = reply.send(result.and(Err(StoreError::database(reason.clone()))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The writer's isolation of jobs within a group, with failures injected where SQLite
    //! reports them: an authorizer that refuses the next savepoint, or the next rollback to one.

    use std::sync::atomic::{AtomicBool, Ordering};

    use rusqlite::hooks::{AuthAction, AuthContext, Authorization, TransactionOperation};

    use super::*;

    fn database() -> Connection {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch("CREATE TABLE t (name TEXT NOT NULL)").unwrap();
        connection
    }

    /// A job inserting `name`, then doing `after` (which may fail or panic).
    fn job(
        name: &'static str,
        after: impl FnOnce(&Connection) -> StoreResult<()> + Send + 'static,
    ) -> (Job, oneshot::Receiver<StoreResult<Output>>) {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |connection, _| {
            connection.execute("INSERT INTO t (name) VALUES (?1)", [name])?;
            after(connection)?;
            Ok(Box::new(name) as Output)
        });
        (Job { work, reply }, answer)
    }

    fn ok(_: &Connection) -> StoreResult<()> {
        Ok(())
    }

    fn names(connection: &Connection) -> Vec<String> {
        let mut statement = connection.prepare("SELECT name FROM t ORDER BY rowid").unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    fn outcome(mut answer: oneshot::Receiver<StoreResult<Output>>) -> Result<String, String> {
        match answer.try_recv().expect("every caller is answered") {
            Ok(output) => Ok((*output.downcast::<&str>().unwrap()).to_owned()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Refuses the next savepoint statement of `kind` (begin or rollback) once.
    fn refuse_next(connection: &Connection, kind: TransactionOperation) {
        let armed = AtomicBool::new(true);
        connection.authorizer(Some(move |context: AuthContext<'_>| match context.action {
            AuthAction::Savepoint { operation, .. }
                if operation == kind && armed.swap(false, Ordering::SeqCst) =>
            {
                Authorization::Deny
            }
            _ => Authorization::Allow,
        }));
    }

    #[test]
    fn a_job_whose_savepoint_fails_is_not_run_and_the_others_commit() {
        let connection = database();
        let feed = broadcast::channel(16).0;
        let (first, first_answer) = job("first", |connection| {
            refuse_next(connection, TransactionOperation::Begin);
            Ok(())
        });
        let (refused, refused_answer) = job("refused", ok);
        let (last, last_answer) = job("last", ok);
        commit_group(&connection, vec![first, refused, last], &feed);
        assert_eq!(names(&connection), ["first", "last"], "no write of the refused job");
        assert_eq!(outcome(first_answer), Ok("first".into()));
        assert!(outcome(refused_answer).is_err());
        assert_eq!(outcome(last_answer), Ok("last".into()));
    }

    #[test]
    fn a_failing_or_panicking_job_is_rolled_back_alone() {
        let connection = database();
        let feed = broadcast::channel(16).0;
        let (first, first_answer) = job("first", ok);
        let (failing, failing_answer) =
            job("failing", |_| Err(StoreError::NotFound(crate::Entity::Article)));
        let (panicking, panicking_answer) = job("panicking", |_| panic!("a bug in a job"));
        let (last, last_answer) = job("last", ok);
        commit_group(&connection, vec![first, failing, panicking, last], &feed);
        assert_eq!(names(&connection), ["first", "last"]);
        assert_eq!(outcome(first_answer), Ok("first".into()));
        assert_eq!(outcome(failing_answer), Err("article not found".into()));
        assert!(outcome(panicking_answer).unwrap_err().contains("a bug in a job"));
        assert_eq!(outcome(last_answer), Ok("last".into()));
    }

    #[test]
    fn a_job_that_cannot_be_undone_rolls_back_the_whole_group() {
        let connection = database();
        let feed = broadcast::channel(16).0;
        let (first, first_answer) = job("first", ok);
        let (failing, failing_answer) = job("failing", |connection| {
            refuse_next(connection, TransactionOperation::Rollback);
            Err(StoreError::NotFound(crate::Entity::Article))
        });
        let (last, last_answer) = job("last", ok);
        commit_group(&connection, vec![first, failing, last], &feed);
        assert!(names(&connection).is_empty(), "nothing of the group is committed");
        for answer in [first_answer, failing_answer, last_answer] {
            assert!(outcome(answer).is_err());
        }
        // The connection is usable again for the next group.
        connection.authorizer(None::<fn(AuthContext<'_>) -> Authorization>);
        let (next, next_answer) = job("next", ok);
        commit_group(&connection, vec![next], &feed);
        assert_eq!(
            (names(&connection), outcome(next_answer)),
            (vec!["next".into()], Ok("next".into()))
        );
    }

    #[test]
    fn the_writer_thread_survives_a_panicking_job() {
        let directory = tempfile::tempdir().unwrap();
        let engine = Engine::open(&directory.path().join("t.db"), false, |connection| {
            Ok(connection.execute_batch("CREATE TABLE t (name TEXT NOT NULL)")?)
        })
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let panicked = engine.write::<(), _>(|_, _| panic!("a bug in a job")).await;
            assert!(matches!(panicked, Err(StoreError::Panicked(_))), "{panicked:?}");
            let written = engine
                .write(
                    |connection, _| Ok(connection.execute("INSERT INTO t VALUES ('after')", [])?),
                )
                .await;
            assert_eq!(written.unwrap(), 1, "the writer still runs jobs");
        });
        engine.close();
    }
}
