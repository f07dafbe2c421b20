//! Online backup and offline restore of the SQLite database file.
//!
//! [`backup`] copies a live database (a server may be writing to it) with SQLite's online
//! backup API. It first opens a read transaction on its own connection to the source and keeps
//! it open for the whole copy, so every step copies pages of the same snapshot: the copy is
//! exactly the database as of the moment the backup started, with every transaction committed
//! before it and none after. In WAL mode a reader never blocks the writer (it only holds back
//! checkpoints past its snapshot until it ends), so the server keeps committing throughout and
//! the steps need no pauses; without the pinned snapshot, any commit by the server between two
//! steps would restart the copy from the first page, and a busy server could starve it. The
//! copy is written next to the output file, switched to a single-file journal mode, checked
//! with `PRAGMA integrity_check`, synced, and only then renamed onto the output file.
//!
//! [`restore`] installs a backup as a data directory's database: it copies the backup next to
//! the target, checks that copy (a SQLite database, intact, with a schema version this build
//! can open), refuses to replace a non-empty database unless forced and refuses while any
//! other connection has the database open (a running server), then renames the copy into
//! place after removing the old database's WAL files, so that no old WAL is replayed onto it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// Pages copied per backup step.
const PAGES_PER_STEP: std::ffi::c_int = 1024;
/// Busy or locked steps retried (5 ms apart) before the backup gives up.
const MAX_WAITS: u32 = 2000;

/// What a backup or restore refused or failed at, worded for the command line.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no database at {0}")]
    NoDatabase(PathBuf),
    #[error("{path} is not a Tandem backup: {reason}")]
    NotABackup { path: PathBuf, reason: String },
    #[error("{path} is damaged (integrity check: {report})")]
    Corrupt { path: PathBuf, report: String },
    #[error(
        "{path} has schema version {found}, newer than this build ({supported}); upgrade Tandem"
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error("{0} already holds a database; pass --force to replace it")]
    TargetNotEmpty(PathBuf),
    #[error("{0} is in use by another process (is `tandem serve` running?); stop it first")]
    InUse(PathBuf),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
}

type Result<T> = std::result::Result<T, BackupError>;

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

fn sqlite(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Sqlite { context, source }
}

/// What [`backup`] copied.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// Pages in the copy (the source's pages at the snapshot).
    pub pages: i64,
    /// Steps the copy took.
    pub steps: u32,
    /// Size of the output file in bytes.
    pub bytes: u64,
    /// The copy's schema version.
    pub schema_version: i64,
    /// How long the copy, its check and its sync took.
    pub elapsed: Duration,
}

/// What [`restore`] installed.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub bytes: u64,
    pub schema_version: i64,
    /// Whether an existing database was replaced.
    pub replaced: bool,
    pub elapsed: Duration,
}

/// A file next to `path` for writing its new contents before renaming them into place.
fn temporary_next_to(path: &Path, purpose: &str) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{purpose}-{}", std::process::id()))
}

/// The WAL-mode companions of a database file.
fn companions(database: &Path) -> [PathBuf; 3] {
    let name = database.as_os_str().to_owned();
    ["-wal", "-shm", "-journal"].map(|suffix| {
        let mut companion = name.clone();
        companion.push(suffix);
        PathBuf::from(companion)
    })
}

fn remove_with_companions(path: &Path) {
    let _ = std::fs::remove_file(path);
    for companion in companions(path) {
        let _ = std::fs::remove_file(companion);
    }
}

/// Fsyncs a file, then its directory (so a rename into it is durable).
fn sync(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(io(format!("cannot sync {}", path.display())))?;
    sync_directory(path)
}

fn sync_directory(path: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Some(directory) = path.parent() {
        let directory = if directory.as_os_str().is_empty() { Path::new(".") } else { directory };
        std::fs::File::open(directory)
            .and_then(|file| file.sync_all())
            .map_err(io(format!("cannot sync {}", directory.display())))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes `file` (a copy of a database) a single self-contained file and checks it: a SQLite
/// database that passes `PRAGMA integrity_check`, written by Tandem at a schema version this
/// build can open. `shown` is the path errors name. Returns the schema version.
fn check_copy(file: &Path, shown: &Path) -> Result<i64> {
    let not_a_backup = |reason: String| BackupError::NotABackup { path: shown.to_owned(), reason };
    // A damaged page can surface at any statement, not only in the integrity check.
    let failed = |error: rusqlite::Error| match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            BackupError::Corrupt { path: shown.to_owned(), report: error.to_string() }
        }
        _ => not_a_backup(error.to_string()),
    };
    let connection = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    // The copy keeps the source's WAL flag; a backup file stands alone.
    let mode: String = connection
        .query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))
        .map_err(failed)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(not_a_backup(format!("its journal mode stays {mode}")));
    }
    let mut statement = connection.prepare("PRAGMA integrity_check").map_err(failed)?;
    let report = statement
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(|error| BackupError::Corrupt {
            path: shown.to_owned(),
            report: error.to_string(),
        })?;
    drop(statement);
    if report != ["ok"] {
        let report = report.into_iter().take(5).collect::<Vec<_>>().join("; ");
        return Err(BackupError::Corrupt { path: shown.to_owned(), report });
    }
    let version: i64 =
        connection.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(failed)?;
    let has_workspaces: bool = connection
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'workspaces')",
            [],
            |row| row.get(0),
        )
        .map_err(failed)?;
    if version < 1 || !has_workspaces {
        return Err(not_a_backup("it holds no Tandem schema".into()));
    }
    let supported = super::migrations::LATEST;
    if version > supported {
        return Err(BackupError::NewerSchema { path: shown.to_owned(), found: version, supported });
    }
    connection
        .close()
        .map_err(|(_, error)| sqlite(format!("cannot close {}", file.display()))(error))?;
    Ok(version)
}

/// Copies the database at `database` to `out`, online: a server may keep writing to it.
/// `out` appears only once the whole copy is written, checked and synced.
pub fn backup(database: &Path, out: &Path) -> Result<BackupReport> {
    let started = Instant::now();
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database.to_owned()));
    }
    let source = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite(format!("cannot open {}", database.display())))?;
    source.busy_timeout(Duration::from_secs(5)).map_err(sqlite("cannot set the busy timeout"))?;
    // Pin one snapshot for the whole copy (see the module's comment): the read transaction
    // starts at the first read, not at BEGIN.
    source.execute_batch("BEGIN").map_err(sqlite("cannot begin a read transaction"))?;
    source
        .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(sqlite(format!("cannot read {}", database.display())))?;

    let temporary = temporary_next_to(out, "backup");
    remove_with_companions(&temporary);
    let outcome = (|| {
        let mut target = Connection::open(&temporary)
            .map_err(sqlite(format!("cannot create {}", temporary.display())))?;
        let (mut steps, mut waits) = (0, 0);
        let pages = {
            let copy = rusqlite::backup::Backup::new(&source, &mut target)
                .map_err(sqlite("cannot start the backup"))?;
            loop {
                steps += 1;
                match copy.step(PAGES_PER_STEP).map_err(sqlite("backup step failed"))? {
                    rusqlite::backup::StepResult::Done => break,
                    rusqlite::backup::StepResult::More => {}
                    // Only the target could be locked (it is ours) or the source busy
                    // (its snapshot is already held): wait a little and retry.
                    _ if waits < MAX_WAITS => {
                        waits += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    _ => {
                        return Err(BackupError::Sqlite {
                            context: "the backup waited too long for a lock".into(),
                            source: rusqlite::Error::SqliteFailure(
                                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                                None,
                            ),
                        });
                    }
                }
            }
            copy.progress().pagecount as i64
        };
        target.close().map_err(|(_, error)| sqlite("cannot close the copy")(error))?;
        let schema_version = check_copy(&temporary, out)?;
        sync(&temporary)?;
        Ok((pages, steps, schema_version))
    })();
    let _ = source.execute_batch("COMMIT");
    drop(source);
    let (pages, steps, schema_version) = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            remove_with_companions(&temporary);
            return Err(error);
        }
    };
    std::fs::rename(&temporary, out).map_err(|error| {
        remove_with_companions(&temporary);
        BackupError::Io {
            context: format!("cannot rename the copy to {}", out.display()),
            source: error,
        }
    })?;
    sync_directory(out)?;
    let bytes = std::fs::metadata(out).map_err(io(format!("cannot read {}", out.display())))?.len();
    Ok(BackupReport { pages, steps, bytes, schema_version, elapsed: started.elapsed() })
}

/// Installs the backup `from` as the database `database` (its directory is created if
/// missing). Refuses a damaged backup or one from a newer Tandem, an existing non-empty
/// database unless `force`, and a database another process has open.
pub fn restore(from: &Path, database: &Path, force: bool) -> Result<RestoreReport> {
    let started = Instant::now();
    if !from.is_file() {
        return Err(BackupError::NotABackup {
            path: from.to_owned(),
            reason: "there is no such file".into(),
        });
    }
    // The directory is created for the copy, and removed again if nothing is restored.
    let directory = database.parent().filter(|parent| !parent.as_os_str().is_empty());
    let created = directory.filter(|directory| !directory.exists());
    if let Some(directory) = directory {
        std::fs::create_dir_all(directory)
            .map_err(io(format!("cannot create {}", directory.display())))?;
    }
    let outcome = restore_into(from, database, force, started);
    if let (Err(_), Some(created)) = (&outcome, created) {
        let _ = std::fs::remove_dir(created);
    }
    outcome
}

fn restore_into(
    from: &Path,
    database: &Path,
    force: bool,
    started: Instant,
) -> Result<RestoreReport> {
    let existing = std::fs::metadata(database).map(|metadata| metadata.len() > 0).unwrap_or(false);
    if existing && !force {
        return Err(BackupError::TargetNotEmpty(database.to_owned()));
    }

    // A live database's latest writes may be in its WAL, which a file copy leaves behind.
    let [wal, ..] = companions(from);
    if std::fs::metadata(&wal).is_ok_and(|metadata| metadata.len() > 0) {
        return Err(BackupError::NotABackup {
            path: from.to_owned(),
            reason: format!(
                "{} lies beside it, so it is a live database; copy it with `tandem backup`",
                wal.display()
            ),
        });
    }

    // Check what will be installed: the copy, not the file it was copied from.
    let temporary = temporary_next_to(database, "restore");
    remove_with_companions(&temporary);
    let checked = std::fs::copy(from, &temporary)
        .map_err(io(format!("cannot copy {} to {}", from.display(), temporary.display())))
        .and_then(|_| check_copy(&temporary, from))
        .and_then(|version| sync(&temporary).map(|()| version));
    let schema_version = match checked {
        Ok(version) => version,
        Err(error) => {
            remove_with_companions(&temporary);
            return Err(error);
        }
    };

    let installed = (|| {
        // Keep other processes out while the file is swapped, and make sure none has it open.
        let guard = if existing { Some(take_exclusive(database)?) } else { None };
        for companion in companions(database) {
            match std::fs::remove_file(&companion) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(BackupError::Io {
                        context: format!("cannot remove {}", companion.display()),
                        source: error,
                    });
                }
            }
        }
        std::fs::rename(&temporary, database)
            .map_err(io(format!("cannot move the restored database to {}", database.display())))?;
        drop(guard);
        sync_directory(database)
    })();
    if let Err(error) = installed {
        remove_with_companions(&temporary);
        return Err(error);
    }
    let bytes = std::fs::metadata(database)
        .map_err(io(format!("cannot read {}", database.display())))?
        .len();
    Ok(RestoreReport { bytes, schema_version, replaced: existing, elapsed: started.elapsed() })
}

/// Opens the existing database alone: switching it out of WAL mode needs every other
/// connection closed (each one open in WAL mode keeps a shared lock on the file), and it
/// checkpoints and deletes the WAL. The connection returned keeps the file locked until dropped.
fn take_exclusive(database: &Path) -> Result<Connection> {
    let connection = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite(format!("cannot open {}", database.display())))?;
    let in_use = |error: rusqlite::Error| match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            BackupError::InUse(database.to_owned())
        }
        _ => BackupError::Sqlite {
            context: format!("cannot lock {}", database.display()),
            source: error,
        },
    };
    connection.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(in_use)?;
    let mode: String = connection
        .query_row("PRAGMA journal_mode = DELETE", [], |row| row.get(0))
        .map_err(in_use)?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(BackupError::InUse(database.to_owned()));
    }
    // A write takes the exclusive lock, which locking_mode keeps until the connection closes.
    connection.execute_batch("BEGIN EXCLUSIVE; COMMIT").map_err(in_use)?;
    Ok(connection)
}
