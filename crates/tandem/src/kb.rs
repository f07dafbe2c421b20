//! `tandem kb import|export`: knowledge files in and out of a workspace.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tandem_domain::ArticleStatus;
use tandem_knowledge::formats::{self as kb, Format};
use tandem_store::Store;

use crate::ConfigArgs;

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Import articles from JSONL, CSV or Markdown files: all of them, or none if any line is wrong.
    Import(ImportArgs),
    /// Write the workspace's articles as JSONL or CSV.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Files to import; the format follows the extension (.jsonl, .csv, .md) unless --format says.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// jsonl, csv or markdown, for every file.
    #[arg(long)]
    format: Option<String>,
    /// Save as drafts instead of publishing.
    #[arg(long)]
    draft: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// jsonl or csv.
    #[arg(long, default_value = "jsonl")]
    format: String,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub async fn run(command: KbCommand) -> anyhow::Result<()> {
    match command {
        KbCommand::Import(args) => import(args).await,
        KbCommand::Export(args) => export(args).await,
    }
}

/// The workspace `--workspace` names, checked to exist; without it, the first one.
pub(crate) async fn chosen_workspace(
    store: &Arc<dyn Store>,
    named: Option<i64>,
) -> anyhow::Result<tandem_domain::WorkspaceId> {
    let Some(id) = named else { return workspace(store).await };
    let id = tandem_domain::WorkspaceId(id);
    if !store.workspaces().await?.iter().any(|workspace| workspace.id == id) {
        bail!("--workspace {}: there is no such workspace", id.0);
    }
    Ok(id)
}

pub(crate) async fn workspace(
    store: &Arc<dyn Store>,
) -> anyhow::Result<tandem_domain::WorkspaceId> {
    match store.workspaces().await?.first() {
        Some(workspace) => Ok(workspace.id),
        None => bail!(
            "there is no workspace yet: create one with `tandem user create` (or run `tandem demo`)"
        ),
    }
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let forced = match args.format.as_deref() {
        Some(name) => Some(
            Format::parse(name)
                .with_context(|| format!("--format {name}: use jsonl, csv or markdown"))?,
        ),
        None => None,
    };
    let mut articles = Vec::new();
    let mut errors = Vec::new();
    let mut drafts = 0;
    for file in &args.files {
        let name = file.display().to_string();
        let format = forced.or_else(|| Format::from_file_name(&name)).with_context(|| {
            format!("{name}: cannot tell the format from the extension; pass --format")
        })?;
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {name}"))?;
        if format == Format::Jsonl && !args.draft {
            // A draft (a gap `tandem learn --apply` proposed) must not go live with the rest.
            for line in draft_lines(&text) {
                eprintln!(
                    "{name}:{line}: status: a draft article; import the file with --draft, \
                     or remove the line"
                );
                drafts += 1;
            }
        }
        match kb::parse(format, &name, &text) {
            Ok(parsed) => articles.extend(parsed),
            Err(found) => errors.extend(found),
        }
    }
    let mut keys: Vec<&str> = articles.iter().map(|article| article.key.as_str()).collect();
    keys.sort_unstable();
    if let Some(pair) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
        bail!("the id {} appears in more than one file; nothing was imported", pair[0]);
    }
    if !errors.is_empty() || drafts > 0 {
        for error in &errors {
            let problem = tandem_locales::english_about(error.field, &error.problem);
            eprintln!("{}:{}: {problem}", error.file, error.line);
        }
        bail!("{} problem(s) found; nothing was imported", errors.len() + drafts);
    }
    let config = args.config.load()?;
    let opened = crate::open_store(&config).await?;
    let store: Arc<dyn Store> = opened.shared();
    let workspace = workspace(&store).await?;
    let status = if args.draft { ArticleStatus::Draft } else { ArticleStatus::Published };
    let saved = store.save_articles(workspace, articles, status, None).await?;
    println!("imported {} article(s) as {}", saved.len(), status.as_str());
    opened.close();
    Ok(())
}

/// The numbers of the JSONL lines that mark their article `"status": "draft"`.
fn draft_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            serde_json::from_str::<serde_json::Value>(line)
                .is_ok_and(|value| value["status"] == "draft")
        })
        .map(|(index, _)| index + 1)
        .collect()
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let config = args.config.load()?;
    let opened = crate::open_store(&config).await?;
    let store: Arc<dyn Store> = opened.shared();
    let articles = store.articles(workspace(&store).await?).await?;
    let text = kb::export(&args.format, &articles)
        .with_context(|| format!("--format {}", args.format))?
        .text;
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    opened.close();
    Ok(())
}
