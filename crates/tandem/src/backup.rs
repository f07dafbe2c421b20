//! `tandem backup` and `tandem restore`: an online copy of the database (the server may keep
//! running) and its installation into a data directory (with the server stopped). The work is
//! `tandem_store::backup`'s; this prints what it did.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::ConfigArgs;

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The backup file to write (replaced atomically if it exists).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The backup file, as written by `tandem backup`.
    #[arg(long)]
    from: PathBuf,
    /// Replace the data directory's existing database.
    #[arg(long)]
    force: bool,
}

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let database = args.config.load()?.storage.database_path();
    let report = tandem_store::backup::backup(&database, &args.out)
        .with_context(|| format!("backup of {} failed", database.display()))?;
    println!(
        "backed up {} to {}: {} pages in {} step(s), {}, schema version {}, {:.0?}",
        database.display(),
        args.out.display(),
        report.pages,
        report.steps,
        size(report.bytes),
        report.schema_version,
        report.elapsed,
    );
    Ok(())
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let database = args.config.load()?.storage.database_path();
    let report = tandem_store::backup::restore(&args.from, &database, args.force)
        .with_context(|| format!("restore into {} failed", database.display()))?;
    println!(
        "restored {} into {}{}: {}, schema version {}{}, {:.0?}",
        args.from.display(),
        database.display(),
        if report.replaced { " (replacing its database)" } else { "" },
        size(report.bytes),
        report.schema_version,
        if report.schema_version < tandem_store::SqliteStore::latest_schema_version() {
            " (upgraded when Tandem next opens it)"
        } else {
            ""
        },
        report.elapsed,
    );
    Ok(())
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}
