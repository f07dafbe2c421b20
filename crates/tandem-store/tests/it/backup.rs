//! `tandem_store::backup`: an online backup holds one moment of a database being written, and
//! restoring checks both the backup and the place it goes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tandem_store::backup::{self, BackupError};
use tandem_store::{SqliteConfig, SqliteStore, Store};

fn names(workspaces: Vec<tandem_domain::Workspace>) -> Vec<String> {
    workspaces.into_iter().map(|workspace| workspace.name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_one_moment_and_restore_checks_backup_and_target() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("data/tandem.db");
    let store = SqliteStore::open(&SqliteConfig::new(&database)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut written = 0;
            while !stop.load(Ordering::Relaxed) {
                store.create_workspace(&format!("w{written}")).await.unwrap();
                written += 1;
            }
        })
    };
    while store.workspaces().await.unwrap().len() < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = names(store.workspaces().await.unwrap());
    let out = dir.path().join("backup.db");
    let report = {
        let (database, out) = (database.clone(), out.clone());
        tokio::task::spawn_blocking(move || backup::backup(&database, &out)).await.unwrap().unwrap()
    };
    let after = names(store.workspaces().await.unwrap());
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(report.pages > 0 && report.bytes == std::fs::metadata(&out).unwrap().len());
    assert_eq!(report.schema_version, SqliteStore::latest_schema_version());

    let fresh = dir.path().join("fresh/tandem.db");
    let error = backup::restore(&database, &fresh, false).unwrap_err();
    assert!(error.to_string().contains("is a live database"), "{error}");
    let restored = backup::restore(&out, &fresh, false).unwrap();
    assert!(!restored.replaced);
    let copy = SqliteStore::open(&SqliteConfig::new(&fresh)).unwrap();
    let copied = names(copy.workspaces().await.unwrap());
    assert!(copied.len() >= before.len() && copied.len() <= after.len(), "{copied:?}");
    let expected: Vec<String> = (0..copied.len()).map(|n| format!("w{n}")).collect();
    assert_eq!(copied, expected, "a prefix of what was written: one moment");

    // The restored database is open (as a server would hold it) and not empty.
    let error = backup::restore(&out, &fresh, false).unwrap_err();
    assert!(matches!(error, BackupError::TargetNotEmpty(_)), "{error}");
    let error = backup::restore(&out, &fresh, true).unwrap_err();
    assert!(matches!(error, BackupError::InUse(_)), "{error}");
    copy.close();
    drop(copy);
    assert!(backup::restore(&out, &fresh, true).unwrap().replaced);

    // A SQLite file that is not Tandem's, and a backup from a newer Tandem.
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    let error = backup::restore(&foreign, &fresh, true).unwrap_err();
    assert!(matches!(error, BackupError::NotABackup { .. }), "{error}");
    let newer = dir.path().join("newer.db");
    std::fs::copy(&out, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", SqliteStore::latest_schema_version() + 1)
        .unwrap();
    let error = backup::restore(&newer, &fresh, true).unwrap_err();
    assert!(matches!(error, BackupError::NewerSchema { .. }), "{error}");
    let error = backup::backup(&dir.path().join("nowhere/tandem.db"), &out).unwrap_err();
    assert!(matches!(error, BackupError::NoDatabase(_)), "{error}");
}
