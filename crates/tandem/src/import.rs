//! `tandem import conversations`: a conversation history (JSONL, as PRODUCT.md defines it) from
//! another helpdesk into a workspace, all of it or nothing, and nothing twice.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tandem_knowledge::history;
use tandem_store::Store;

use crate::ConfigArgs;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import conversation history files (JSONL, one conversation a line): every file is
    /// checked first and nothing is stored if any line is wrong; conversations already imported
    /// (the same id) are skipped.
    Conversations(ConversationsArgs),
}

#[derive(Debug, Args)]
pub struct ConversationsArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// History files (JSONL).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The workspace to import into (its number); the first workspace when not given.
    #[arg(long)]
    workspace: Option<i64>,
    /// Print `{"imported": N, "skipped": N}` instead of a sentence.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Conversations(args) => conversations(args).await,
    }
}

async fn conversations(args: ConversationsArgs) -> anyhow::Result<()> {
    let mut conversations = Vec::new();
    let mut problems = 0;
    // The file and line of each id, so one conversation in two files is named too.
    let mut seen: std::collections::HashMap<String, (String, usize)> = Default::default();
    for file in &args.files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {name}"))?;
        match history::parse_strict(&text) {
            Ok(parsed) => {
                let lines = text
                    .lines()
                    .enumerate()
                    .filter(|(_, line)| !line.trim().is_empty())
                    .map(|(index, _)| index + 1);
                for (conversation, line) in parsed.iter().zip(lines) {
                    let id = conversation.id.trim().to_owned();
                    if let Some((first_file, first_line)) = seen.get(&id) {
                        eprintln!(
                            "{name}:{line}: id: {id} is already on {first_file}:{first_line}"
                        );
                        problems += 1;
                    } else {
                        seen.insert(id, (name.clone(), line));
                    }
                }
                conversations.extend(parsed);
            }
            Err(errors) => {
                for error in &errors {
                    eprintln!("{name}:{}: {}", error.line, error.message);
                }
                problems += errors.len();
            }
        }
    }
    if problems > 0 {
        bail!("{problems} problem(s) found; nothing was imported");
    }
    let imported = tandem_bot::history_import::imported_conversations(&conversations);
    let config = args.config.load()?;
    let opened = crate::open_store(&config).await?;
    let store: Arc<dyn Store> = opened.shared();
    let workspace = crate::kb::chosen_workspace(&store, args.workspace).await?;
    let summary = store
        .import_conversations(workspace, imported)
        .await
        .context("the import failed; nothing was imported")?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "imported {} conversation(s), skipped {} already imported",
            summary.imported, summary.skipped
        );
    }
    opened.close();
    Ok(())
}
