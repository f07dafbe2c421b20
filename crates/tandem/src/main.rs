//! The `tandem` binary: argument handling and wiring only. Everything it runs lives in the
//! library crates.

mod actions;
mod analyze;
mod backup;
mod bench;
mod bench_assist;
mod bench_channels;
mod bench_cluster;
mod bench_insight;
mod bench_knowledge;
mod bench_llm;
mod bench_routing;
mod config;
mod customers;
mod eval;
mod import;
mod kb;
mod learn;
mod report;
mod simulate;
mod trends;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tandem_bot::KnowledgeResponder;
use tandem_domain::{Channel, Locale, Role, validate};
use tandem_store::{
    NewInbox, NewUser, PostgresConfig, PostgresStore, SqliteConfig, SqliteStore, Store,
};

use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "tandem",
    version,
    about = "AI-first customer service: a bot front line and a human team as one relay"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the server with a seeded demo workspace (no network or API key needed).
    Demo(DemoArgs),
    /// Create or upgrade the database schema (SQLite or PostgreSQL), then exit.
    Migrate(ConfigArgs),
    /// Copy an embedded (SQLite) installation into an empty PostgreSQL database, once, and
    /// check that every table arrived whole.
    MigrateStore(MigrateStoreArgs),
    /// Copy the database to a file while the server keeps running (SQLite's online backup).
    Backup(backup::BackupArgs),
    /// Install a backup as the data directory's database (with the server stopped).
    Restore(backup::RestoreArgs),
    /// Manage agent accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Measure the message pipeline, idle WebSocket memory and demo start-up.
    Bench(bench::BenchArgs),
    /// Test the answer engine against labelled questions.
    Eval(eval::EvalArgs),
    /// Read customer messages (JSONL on stdin) and write their signals: language, sentiment,
    /// emotion, reasons and whether the default policy would hand off.
    Analyze(analyze::AnalyzeArgs),
    /// Import and export business actions (connectors to the business's systems).
    Actions {
        #[command(subcommand)]
        command: actions::ActionsCommand,
    },
    /// Import and export knowledge articles.
    Kb {
        #[command(subcommand)]
        command: kb::KbCommand,
    },
    /// One customer's data (privacy requests): export it as JSON, or erase it.
    Customers {
        #[command(subcommand)]
        command: customers::CustomersCommand,
    },
    /// Import data from other systems: conversation history.
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
    /// Propose what the knowledge should learn from conversations people handled: new
    /// wordings of its articles, and the topics it has no article for.
    Learn(learn::LearnArgs),
    /// Topics, their daily counts and spike alerts (early warning of product problems) over a
    /// conversation history read from standard input.
    Trends(trends::TrendsArgs),
    /// The KPIs of the Insight pages from the store: volume, bot resolution, hand-offs, first
    /// response, resolution, FCR, CSAT, SLA and sentiment shift, in total and per group.
    Report(report::ReportArgs),
    /// Run scripted customer conversations through the whole bot (knowledge, escalation,
    /// actions) and check how each one ends; exits 1 when any fails.
    Simulate(simulate::SimulateArgs),
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// A TOML configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Where the database lives (overrides `storage.data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The store: `postgres://user@host:5432/database`, or `sqlite:DIR` for the embedded
    /// database in DIR (overrides `storage.url` and `storage.data_dir`).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

impl ConfigArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = config::load(self.config.as_deref(), std::env::vars())?;
        if let Some(data_dir) = &self.data_dir {
            config.storage.data_dir = data_dir.clone();
        }
        if let Some(store) = &self.store {
            match store.strip_prefix("sqlite:") {
                Some(directory) => {
                    config.storage.data_dir = PathBuf::from(directory);
                    config.storage.url = None;
                }
                None if is_postgres_url(store) => config.storage.url = Some(store.clone()),
                None => anyhow::bail!(
                    "--store must be postgres://user@host:port/database or sqlite:DIRECTORY, not {store:?}"
                ),
            }
        }
        Ok(config)
    }
}

fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

#[derive(Debug, Args)]
struct MigrateStoreArgs {
    /// The embedded installation: `sqlite:DIR` (its data directory).
    #[arg(long, value_name = "sqlite:DIR")]
    from: String,
    /// The PostgreSQL database to fill: `postgres://user@host:5432/database`. It must hold no
    /// Tandem data yet.
    #[arg(long, value_name = "URL")]
    to: String,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address to listen on (overrides `server.listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The URL people reach Tandem at (overrides `server.public_url`).
    #[arg(long)]
    public_url: Option<String>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Where the demo database lives; reused on the next run.
    #[arg(long, default_value = "tandem-demo")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Delete the demo data first and seed afresh.
    #[arg(long)]
    reset: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an agent account (and, on a fresh database, the first workspace and web inbox).
    Create(UserCreateArgs),
}

#[derive(Debug, Args)]
struct UserCreateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[arg(long)]
    email: String,
    /// The name customers and colleagues see.
    #[arg(long)]
    name: String,
    /// admin, supervisor or agent.
    #[arg(long, default_value = "agent")]
    role: String,
    /// Console language: zh or en.
    #[arg(long, default_value = "zh")]
    locale: String,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    password_stdin: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => {
                let mut config = args.config.load()?;
                if let Some(listen) = args.listen {
                    config.server.listen = listen;
                }
                if let Some(public_url) = args.public_url {
                    config.server.public_url = public_url.trim_end_matches('/').to_owned();
                }
                run(config, false).await
            }
            Command::Demo(args) => {
                if args.reset && args.data_dir.exists() {
                    std::fs::remove_dir_all(&args.data_dir)
                        .with_context(|| format!("cannot delete {}", args.data_dir.display()))?;
                }
                let mut config = config::load(None, std::env::vars())?;
                config.storage.data_dir = args.data_dir;
                config.server.listen = args.listen;
                run(config, true).await
            }
            Command::Migrate(args) => migrate(args.load()?).await,
            Command::MigrateStore(args) => migrate_store(args).await,
            Command::Backup(args) => backup::backup(args),
            Command::Restore(args) => backup::restore(args),
            Command::User { command: UserCommand::Create(args) } => create_user(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Eval(args) => eval::run(args),
            Command::Kb { command } => kb::run(command).await,
            Command::Import { command } => import::run(command).await,
            Command::Customers { command } => customers::run(command).await,
            Command::Actions { command } => actions::run(command).await,
            Command::Analyze(args) => analyze::run(args),
            Command::Learn(args) => learn::run(args),
            Command::Trends(args) => trends::run(args),
            Command::Report(args) => report::run(args).await,
            // Its exit status says whether every scenario passed.
            Command::Simulate(args) => std::process::exit(simulate::run(args).await as i32),
        }
    })
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.filter));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log.format {
        config::LogFormat::Text => logs.init(),
        config::LogFormat::Json => logs.json().init(),
    }
}

/// An opened store of either kind.
#[derive(Clone)]
pub(crate) enum Opened {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Opened {
    pub(crate) fn shared(&self) -> Arc<dyn Store> {
        match self {
            Opened::Sqlite(store) => Arc::new(store.clone()),
            Opened::Postgres(store) => Arc::new(store.clone()),
        }
    }

    pub(crate) fn close(&self) {
        match self {
            Opened::Sqlite(store) => store.close(),
            Opened::Postgres(store) => store.close(),
        }
    }
}

/// Opens the store the configuration names: PostgreSQL when `storage.url` is set, else the
/// embedded database in `storage.data_dir`.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Opened> {
    if let Some(url) = &config.storage.url {
        anyhow::ensure!(is_postgres_url(url), "storage.url must be a postgres:// URL, not {url:?}");
        let store = PostgresStore::open(&PostgresConfig::new(url.clone()))
            .await
            .with_context(|| format!("cannot open the PostgreSQL store {}", redacted(url)))?;
        return Ok(Opened::Postgres(store));
    }
    let path = config.storage.database_path();
    let sqlite =
        SqliteConfig { path: path.clone(), synchronous_full: config.storage.synchronous_full };
    let store = SqliteStore::open(&sqlite)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    Ok(Opened::Sqlite(store))
}

/// A database URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn run(mut config: Config, demo: bool) -> anyhow::Result<()> {
    init_logging(&config);
    let opened = open_store(&config).await?;
    let store = opened.shared();
    let seeded = if demo {
        tandem_demo::seed(&store).await.context("cannot seed the demo workspace")?
    } else {
        false
    };
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let address = listener.local_addr()?;
    if config.server.public_url == tandem_server::ServerConfig::default().public_url {
        config.server.public_url = format!("http://{address}");
    }
    let url = config.server.public_url.clone();
    // Actions read their secrets from TANDEM_ACTION_*; the demo's point at its own shop,
    // served from the same address.
    let shop_key = demo.then(tandem_demo::shop_key);
    // Outbound requests reach link-local and metadata addresses only where the administrator
    // allows them.
    if !tandem_llm::outbound::allow(config.server.outbound_allow.clone()) {
        tracing::warn!("outbound_allow was already set in this process; keeping the first");
    }
    let secrets = match &shop_key {
        Some(key) => tandem_demo::secrets(
            &format!("http://{address}"),
            key,
            tandem_bot::actions::environment(),
        ),
        None => tandem_bot::actions::environment(),
    };
    let responder = KnowledgeResponder::start_with(
        Arc::clone(&store),
        config.engine.policy(),
        Arc::new(tandem_store::now_millis),
        secrets,
    );
    let state = tandem_server::build(Arc::clone(&store), responder, config.server.clone()).await?;
    // The bot's turns a crash or restart cut off: their customers were told their message
    // arrived, so they are answered now.
    let relay = state.relay.clone();
    let resumer = relay.clone();
    tokio::spawn(async move {
        match resumer.resume_turns().await {
            Ok(0) => {}
            Ok(resumed) => tracing::info!(resumed, "resumed bot turns cut off by a restart"),
            Err(error) => tracing::error!(%error, "cannot resume the bot turns a restart cut off"),
        }
    });
    if store.shared() {
        // Several nodes share the store: a node that stops leaves its turns unanswered until
        // it restarts, or until the node holding this job's lease adopts them.
        let (adopter, shared) = (relay.clone(), Arc::clone(&store));
        tandem_flow::supervise("bot turns of stopped nodes", move |_| {
            let (adopter, shared) = (adopter.clone(), Arc::clone(&shared));
            async move {
                let mut tick = tokio::time::interval(ADOPT_EVERY);
                loop {
                    tick.tick().await;
                    if !tandem_flow::holds_lease(shared.as_ref(), "job:orphaned-turns", ADOPT_EVERY)
                        .await
                    {
                        continue;
                    }
                    let before = tandem_store::now_millis() - ORPHANED_AFTER_MS;
                    match adopter.adopt_orphaned_turns(before).await {
                        Ok(0) => {}
                        Ok(adopted) => {
                            tracing::info!(adopted, "answered bot turns a stopped node left")
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot look for bot turns a stopped node left")
                        }
                    }
                }
            }
        });
    }
    // E-mail inboxes' mail arrives through the SMTP listener, when one is configured.
    let smtp = tandem_server::channels::email::start(state.clone())
        .await
        .map_err(|error| anyhow::anyhow!("cannot open the SMTP listener: {error}"))?;
    let mut app = tandem_server::router(state);
    // Only `tandem demo` mounts the demo: `tandem serve` never serves its page, shop or model.
    if let Some(key) = &shop_key {
        app = app.merge(tandem_demo::routes(Arc::clone(&store), key));
        if seeded {
            // The demo workspace's model settings point at the echo model, switched off.
            tandem_demo::point_model_at(&store, &url).await?;
        }
    }
    println!("Tandem is listening on {url}");
    println!("  Console:      {url}/login");
    if demo {
        println!("  Widget demo:  {url}/demo");
    }
    println!("  API:          {url}/openapi.json");
    if let Some(smtp) = smtp {
        println!("  SMTP in:      {smtp} (e-mail inboxes' mail)");
    }
    if let Some(key) = &shop_key {
        let key_source = if key == tandem_demo::shop::DEFAULT_KEY {
            format!("key {key}")
        } else {
            format!("key from {}", tandem_demo::shop::KEY_VARIABLE)
        };
        println!(
            "  Demo shop:    {url}{} (Authorization: Bearer, {key_source})",
            tandem_demo::shop::BASE_PATH
        );
        println!(
            "  Echo model:   {url}{} (Settings → Model turns it on)",
            tandem_demo::echo_model::BASE_PATH
        );
        println!(
            "  Data:         {} ({})",
            config.storage.data_dir.display(),
            if seeded {
                "demo workspace seeded"
            } else {
                "existing demo data; --reset starts over"
            }
        );
        println!("  Sign in with a demo account:");
        for account in tandem_demo::ACCOUNTS {
            println!(
                "    {:<11} {:<22} {}",
                account.role.as_str(),
                account.email,
                account.password
            );
        }
    }
    tandem_server::serve(listener, app).await?;
    // Let the bot finish the turns it started; what does not finish in time is resumed on the
    // next start.
    let unfinished = relay.finish_turns(SHUTDOWN_TURNS).await;
    if unfinished > 0 {
        tracing::warn!(
            unfinished,
            "bot turns still running at shutdown; the next start resumes them"
        );
    }
    opened.close();
    Ok(())
}

/// How often a shared store is searched for bot turns a stopped node left.
const ADOPT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
/// How old an unanswered customer message must be before another node answers it: longer than
/// a turn takes on a live node, model calls with their timeouts included.
const ORPHANED_AFTER_MS: i64 = 2 * 60 * 1000;

/// How long a graceful shutdown waits for the bot's running turns.
const SHUTDOWN_TURNS: std::time::Duration = std::time::Duration::from_secs(20);

async fn migrate(config: Config) -> anyhow::Result<()> {
    let opened = open_store(&config).await?;
    let version = opened.shared().schema_version().await?;
    match &opened {
        Opened::Sqlite(_) => println!(
            "{}: schema version {version} (this build writes {})",
            config.storage.database_path().display(),
            SqliteStore::latest_schema_version()
        ),
        Opened::Postgres(_) => println!(
            "{}: schema version {version} (this build writes {})",
            redacted(config.storage.url.as_deref().unwrap_or_default()),
            PostgresStore::latest_schema_version()
        ),
    }
    opened.close();
    Ok(())
}

/// `tandem migrate-store`: see [`tandem_store::copy_sqlite_to_postgres`].
async fn migrate_store(args: MigrateStoreArgs) -> anyhow::Result<()> {
    let Some(directory) = args.from.strip_prefix("sqlite:") else {
        anyhow::bail!(
            "--from must be sqlite:DIRECTORY (the embedded installation's data directory)"
        );
    };
    anyhow::ensure!(is_postgres_url(&args.to), "--to must be a postgres:// URL");
    let path = config::StorageConfig { data_dir: PathBuf::from(directory), ..Default::default() }
        .database_path();
    anyhow::ensure!(path.exists(), "{} does not exist", path.display());
    let report =
        tandem_store::copy_sqlite_to_postgres(&path, &PostgresConfig::new(args.to.clone()))
            .await
            .with_context(|| format!("cannot copy {} to {}", path.display(), redacted(&args.to)))?;
    for table in &report.tables {
        println!("{:<24} {:>9} rows", table.name, table.rows);
    }
    println!(
        "copied {} rows of {} tables from {} to {}; every count matches",
        report.tables.iter().map(|table| table.rows).sum::<u64>(),
        report.tables.len(),
        path.display(),
        redacted(&args.to)
    );
    Ok(())
}

/// A refused value of `what` (an option) in English, for the command line.
fn refused(what: &str) -> impl Fn(validate::ValidationError) -> anyhow::Error + '_ {
    move |error| anyhow::anyhow!(tandem_locales::english_about(Some(what), &error.problem))
}

async fn create_user(args: UserCreateArgs) -> anyhow::Result<()> {
    let config = args.config.load()?;
    let role = Role::parse(&args.role).context("--role must be admin, supervisor or agent")?;
    let locale = Locale::parse(&args.locale).context("--locale must be zh or en")?;
    let email = validate::email(&args.email).map_err(refused("--email"))?;
    let name = validate::display_name(&args.name).map_err(refused("--name"))?;
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (tandem_server::auth::random_token()[..16].to_owned(), true)
    };
    validate::password(&password).map_err(refused("the password"))?;
    let opened = open_store(&config).await?;
    let store = opened.shared();
    let workspace = match store.workspaces().await?.into_iter().next() {
        Some(workspace) => workspace,
        None => {
            let workspace = store.create_workspace("Default").await?;
            let inbox = store
                .create_inbox(NewInbox {
                    workspace_id: workspace.id,
                    name: "Website".into(),
                    channel: Channel::Web,
                    public_key: format!("pk_{}", tandem_server::auth::random_token()),
                    bot_name: "Tandem".into(),
                })
                .await?;
            println!(
                "Created workspace \"{}\" with web inbox key {}",
                workspace.name, inbox.public_key
            );
            workspace
        }
    };
    let user = store
        .create_user(NewUser {
            workspace_id: workspace.id,
            email,
            display_name: name,
            role,
            locale,
            password_hash: tandem_server::auth::hash_password(&password)
                .map_err(|error| anyhow::anyhow!("{error}"))?,
        })
        .await?;
    println!(
        "Created {} {} <{}> (id {})",
        user.role.as_str(),
        user.display_name,
        user.email,
        user.id
    );
    if generated {
        println!("Password: {password}");
    }
    opened.close();
    Ok(())
}
