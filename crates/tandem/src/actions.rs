//! `tandem actions import|export`: business actions (declarative connectors) in and out of a
//! workspace, as TOML (`[[action]]` tables) or JSON.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tandem_store::Store;

use crate::ConfigArgs;

#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// Import actions from TOML or JSON files: all of them, or none if any is wrong.
    Import(ImportArgs),
    /// Write the workspace's actions as JSON.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(command: ActionsCommand) -> anyhow::Result<()> {
    match command {
        ActionsCommand::Import(args) => import(args).await,
        ActionsCommand::Export(args) => export(args).await,
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let mut actions = Vec::new();
    let mut problems = 0;
    for file in &args.files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {name}"))?;
        match tandem_bot::actions::parse(&text) {
            Ok(parsed) => actions.extend(parsed),
            Err(found) => {
                for error in &found {
                    eprintln!("{}", describe(&name, error));
                }
                problems += found.len();
            }
        }
    }
    if problems > 0 {
        bail!("{problems} problem(s) found; nothing was imported");
    }
    let mut keys: Vec<&str> = actions.iter().map(|action| action.key.as_str()).collect();
    keys.sort_unstable();
    if let Some(pair) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
        bail!("the action {} appears in more than one file; nothing was imported", pair[0]);
    }
    let config = args.config.load()?;
    let opened = crate::open_store(&config).await?;
    let store: Arc<dyn Store> = opened.shared();
    let workspace = crate::kb::workspace(&store).await?;
    let saved = store.save_actions(workspace, actions).await?;
    println!("imported {} action(s)", saved.len());
    opened.close();
    Ok(())
}

/// A problem of an actions file as the command line says it: `FILE: ACTION: field: problem`, or
/// `FILE: problem` for the file as a whole (TOML that does not read names its line).
pub(crate) fn describe(file: &str, error: &tandem_bot::actions::ActionError) -> String {
    match error.action.as_str() {
        "" => format!("{file}: {}", tandem_locales::english(&error.problem)),
        action => {
            let field = Some(error.field.as_str()).filter(|field| !field.is_empty());
            format!("{file}: {action}: {}", tandem_locales::english_about(field, &error.problem))
        }
    }
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let config = args.config.load()?;
    let opened = crate::open_store(&config).await?;
    let store: Arc<dyn Store> = opened.shared();
    let actions = store.actions(crate::kb::workspace(&store).await?).await?;
    let text = serde_json::to_string_pretty(&serde_json::json!({ "actions": actions }))? + "\n";
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    opened.close();
    Ok(())
}
