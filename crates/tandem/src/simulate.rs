//! `tandem simulate`: scripted customer conversations through the whole pipeline, in process,
//! so that a business can check what its bot does with a knowledge change before it goes live
//! (and gate the change in CI on the exit status).
//!
//! Nothing is imitated: a temporary SQLite store holds a fresh workspace with the KB's articles
//! (and the actions, when given), the bot is the server's `KnowledgeResponder` with the default
//! decision policy, and each customer message goes through `tandem_flow::Relay`, the escalation
//! policy included. What the bot did is read back from what the turn stored: its decision record,
//! the conversation's owner and the hand-off packet.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use tandem_bot::{ACTION_PREFIX, KnowledgeResponder};
use tandem_domain::{
    Action, ArticleStatus, Channel, Inbox, MessageId, NewArticle, Problem, Reason, TurnOutcome,
    WorkspaceId, validate,
};
use tandem_flow::{CustomerSend, Relay, TurnEnded};
use tandem_knowledge::formats::{self, Format};
use tandem_store::{Appended, NewCustomer, NewInbox, SqliteConfig, SqliteStore, Store};
use tokio::sync::broadcast;

/// The rules of a scenario's expectation and of the exit status, for `--help`.
const RULES: &str = "\
Each scenario is one new conversation of an anonymous web-widget customer, in a fresh workspace
holding the articles of KB.jsonl (an article whose line says \"status\": \"draft\" is kept as a
draft and never answered) and the actions of ACTIONS.toml, answered by the bot of `tandem serve`
with the default decision policy and the default escalation policy.

SCENARIOS.jsonl, one a line:
  {\"id\": \"refund\", \"turns\": [\"退货要多久\"], \"expect\": {\"answer\": \"refund-time\"}}

A scenario passes when:
  {\"answer\": \"ID\"}       the last turn answered from the article ID;
  {\"abstain\": true}      the last turn abstained, or the conversation ended handed off because
                         the bot could not answer (abstained_repeatedly among the reasons);
  {\"handoff\": \"REASON\"}  the conversation was handed off at some turn with REASON among the
                         reasons (asks_for_human, anger, complaint, abstained_repeatedly...).

Each turn reports its outcome (answer, clarify, abstain, handoff or action), the article it
answered from (action:KEY for an action; null otherwise) and, on the turn that handed off, the
reasons. Once a conversation has been handed off the bot no longer speaks in it: later turns are
reported as handoff with no new reasons.

Actions call the business's systems over HTTP, with secrets from TANDEM_ACTION_* as the server
reads them. The simulated customer is not verified, so an action that requires a verified
customer asks them to sign in. To simulate the demo's actions
(crates/tandem-demo/assets/demo-actions.toml), run the demo shop in another terminal with
`tandem demo` and point the actions at it:
  TANDEM_ACTION_DEMO_SHOP_URL=http://127.0.0.1:8080/demo/shop/api \\
  TANDEM_ACTION_DEMO_SHOP_KEY=demo-shop-key \\
  TANDEM_ACTION_DEMO_SHOP_KEY_HOSTS=127.0.0.1:8080 \\
  tandem simulate --kb kb.jsonl --scenarios scenarios.jsonl \\
    --actions crates/tandem-demo/assets/demo-actions.toml

Exit status: 0 when every scenario passes, 1 when any fails, 2 when an input file is wrong
(every problem is printed as FILE:LINE: message and nothing runs) or the simulation cannot run.";

#[derive(Debug, Args)]
#[command(after_long_help = RULES)]
pub struct SimulateArgs {
    /// Knowledge articles, one JSON object a line (the JSONL of `tandem kb import` and
    /// `tandem eval`).
    #[arg(long)]
    kb: PathBuf,
    /// Scripted conversations, one a line: {"id", "turns": [...], "expect": {...}} (see --help).
    #[arg(long)]
    scenarios: PathBuf,
    /// Business actions, as `tandem actions import` reads them (TOML `[[action]]` tables or
    /// JSON).
    #[arg(long)]
    actions: Option<PathBuf>,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
}

/// How a simulation ended: its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    AllPassed = 0,
    SomeFailed = 1,
    /// An input file is wrong, or the simulation could not run.
    CannotRun = 2,
}

/// Most scenarios in a file, and turns in a scenario.
const MAX_SCENARIOS: usize = 10_000;
const MAX_TURNS: usize = 100;

/// How long a turn may take before the simulation gives up on it: a backstop for a stuck turn,
/// never a wait (turns end as soon as the relay says so). An action may make five calls of up to
/// 30 seconds each.
const TURN_DEADLINE: Duration = Duration::from_secs(300);

pub async fn run(args: SimulateArgs) -> Verdict {
    init_logging();
    let input = match read_input(&args) {
        Ok(input) => input,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s) found; nothing was run", problems.len());
            return Verdict::CannotRun;
        }
    };
    let results = match simulate(&input).await {
        Ok(results) => results,
        Err(error) => {
            eprintln!("error: {error:#}");
            return Verdict::CannotRun;
        }
    };
    let report = Report {
        scenarios: results.len(),
        passed: results.iter().filter(|result| result.passed).count(),
        results,
    };
    let printed = if args.json { print_json(&report) } else { print_text(&report, &input) };
    if let Err(error) = printed {
        eprintln!("error: cannot write the report: {error}");
        return Verdict::CannotRun;
    }
    if report.passed == report.scenarios { Verdict::AllPassed } else { Verdict::SomeFailed }
}

/// Warnings of the bot (a failed turn, an action's call) on standard error; `RUST_LOG` overrides.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

/// What a scenario expects of its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Answer(String),
    Abstain,
    Handoff(Reason),
}

impl Expect {
    /// Whether the turns of a conversation meet the expectation (the rules in [`RULES`]).
    fn met_by(&self, turns: &[TurnReport]) -> bool {
        let Some(last) = turns.last() else { return false };
        match self {
            Expect::Answer(article) => {
                last.outcome == Outcome::Answer && last.article.as_deref() == Some(article)
            }
            Expect::Abstain => {
                last.outcome == Outcome::Abstain
                    || last.outcome == Outcome::Handoff
                        && turns
                            .iter()
                            .any(|turn| turn.reasons.contains(&Reason::AbstainedRepeatedly))
            }
            Expect::Handoff(reason) => turns
                .iter()
                .any(|turn| turn.outcome == Outcome::Handoff && turn.reasons.contains(reason)),
        }
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Answer(article) => write!(f, "answer {article}"),
            Expect::Abstain => f.write_str("abstain"),
            Expect::Handoff(reason) => write!(f, "handoff {reason}"),
        }
    }
}

#[derive(Debug)]
struct Scenario {
    id: String,
    turns: Vec<String>,
    expect: Expect,
}

/// Everything the simulation needs, read and checked before anything runs.
struct Input {
    /// The articles by the status their lines give them.
    knowledge: Vec<(ArticleStatus, Vec<NewArticle>)>,
    actions: Vec<Action>,
    scenarios: Vec<Scenario>,
}

/// Reads and checks the three files; every problem of every file, as `FILE:LINE: message`.
fn read_input(args: &SimulateArgs) -> Result<Input, Vec<String>> {
    let mut problems = Vec::new();
    let knowledge = match read_file(&args.kb) {
        Ok((name, text)) => read_knowledge(&name, &text).unwrap_or_else(|found| {
            problems.extend(found);
            Vec::new()
        }),
        Err(problem) => {
            problems.push(problem);
            Vec::new()
        }
    };
    let actions = match args.actions.as_deref().map(read_file).transpose() {
        Ok(Some((name, text))) => tandem_bot::actions::parse(&text).unwrap_or_else(|found| {
            problems.extend(found.iter().map(|error| crate::actions::describe(&name, error)));
            Vec::new()
        }),
        Ok(None) => Vec::new(),
        Err(problem) => {
            problems.push(problem);
            Vec::new()
        }
    };
    let articles: HashSet<&str> = knowledge
        .iter()
        .flat_map(|(_, articles)| articles.iter().map(|article| article.key.as_str()))
        .collect();
    let scenarios = match read_file(&args.scenarios) {
        Ok((name, text)) => {
            // Only a KB that reads can tell which article ids exist.
            let kb = args.kb.display().to_string();
            let known = (!knowledge.is_empty()).then_some((kb.as_str(), &articles));
            read_scenarios(&name, &text, known).unwrap_or_else(|found| {
                problems.extend(found);
                Vec::new()
            })
        }
        Err(problem) => {
            problems.push(problem);
            Vec::new()
        }
    };
    if problems.is_empty() { Ok(Input { knowledge, actions, scenarios }) } else { Err(problems) }
}

/// A file's name as the messages say it, and its text.
fn read_file(path: &Path) -> Result<(String, String), String> {
    let name = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((name, text)),
        Err(error) => Err(format!("{name}: cannot read: {error}")),
    }
}

/// A problem of an input file at a line, in English from the catalogue.
fn at_line(file: &str, line: usize, field: Option<&str>, problem: &Problem) -> String {
    format!("{file}:{line}: {}", tandem_locales::english_about(field, problem))
}

/// The KB's articles, read and checked as `tandem kb import` reads JSONL, grouped by the
/// status their lines give them (published unless a line says otherwise: `tandem learn --apply`
/// writes its proposals as drafts, which are never answered).
fn read_knowledge(
    file: &str,
    text: &str,
) -> Result<Vec<(ArticleStatus, Vec<NewArticle>)>, Vec<String>> {
    let mut problems = Vec::new();
    let articles = formats::parse(Format::Jsonl, file, text).unwrap_or_else(|errors| {
        problems.extend(
            errors
                .iter()
                .map(|error| at_line(&error.file, error.line, error.field, &error.problem)),
        );
        Vec::new()
    });
    let mut statuses: HashMap<String, ArticleStatus> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        // A line that does not read is reported by the article reader above.
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let (Some(id), Some(status)) = (entry.get("id"), entry.get("status")) else { continue };
        let given = status.as_str().unwrap_or_default();
        match ArticleStatus::parse(given) {
            Some(parsed) => {
                statuses.insert(id.as_str().unwrap_or_default().trim().to_owned(), parsed);
            }
            None => {
                let known: Vec<&str> =
                    ArticleStatus::ALL.iter().map(|status| status.as_str()).collect();
                let value = status.as_str().map_or_else(|| status.to_string(), str::to_owned);
                let problem = Problem::not_one_of(value, &known);
                problems.push(at_line(file, index + 1, Some("status"), &problem));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut grouped: Vec<(ArticleStatus, Vec<NewArticle>)> = Vec::new();
    for article in articles {
        let status = statuses.get(&article.key).copied().unwrap_or(ArticleStatus::Published);
        match grouped.iter_mut().find(|(group, _)| *group == status) {
            Some((_, group)) => group.push(article),
            None => grouped.push((status, vec![article])),
        }
    }
    Ok(grouped)
}

/// One line of SCENARIOS.jsonl as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioLine {
    id: String,
    turns: Vec<String>,
    expect: ExpectLine,
}

/// A scenario's `expect` as written: exactly one of its fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectLine {
    answer: Option<String>,
    abstain: Option<bool>,
    handoff: Option<String>,
}

/// Reads and checks the scenarios. `articles`: the KB's file and article ids, when the KB read,
/// so that an expected answer from an article the KB does not have is refused before anything
/// runs.
fn read_scenarios(
    file: &str,
    text: &str,
    articles: Option<(&str, &HashSet<&str>)>,
) -> Result<Vec<Scenario>, Vec<String>> {
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let number = index + 1;
        let mut refuse = |field: Option<&str>, problem: Problem| {
            problems.push(at_line(file, number, field, &problem));
        };
        let written: ScenarioLine = match serde_json::from_str(line) {
            Ok(written) => written,
            Err(error) => {
                refuse(None, Problem::Unreadable { detail: error.to_string() });
                continue;
            }
        };
        let id = written.id.trim().to_owned();
        if id.is_empty() {
            refuse(Some("id"), Problem::Empty);
        } else if let Some(first) = first_line.get(&id) {
            refuse(Some("id"), Problem::UsedOnLine { value: id.clone(), line: *first });
        } else {
            first_line.insert(id.clone(), number);
        }
        if !(1..=MAX_TURNS).contains(&written.turns.len()) {
            refuse(Some("turns"), Problem::Count { min: 1, max: MAX_TURNS });
        }
        let mut turns = Vec::with_capacity(written.turns.len());
        for (position, turn) in written.turns.iter().enumerate() {
            match validate::message_body(turn) {
                Ok(body) => turns.push(body),
                Err(error) => refuse(Some(&format!("turns[{position}]")), error.problem),
            }
        }
        let expect = match written.expect {
            ExpectLine { answer: Some(article), abstain: None, handoff: None } => {
                let article = article.trim().to_owned();
                match articles {
                    Some((kb, known)) if !known.contains(article.as_str()) => {
                        let allowed = format!("the article ids in {kb}");
                        refuse(
                            Some("expect.answer"),
                            Problem::NotOneOf { value: article.clone(), allowed },
                        );
                    }
                    _ => {}
                }
                Some(Expect::Answer(article))
            }
            ExpectLine { answer: None, abstain: Some(true), handoff: None } => {
                Some(Expect::Abstain)
            }
            ExpectLine { answer: None, abstain: Some(false), handoff: None } => {
                let problem = Problem::Mismatch { value: "false".into(), expected: "true".into() };
                refuse(Some("expect.abstain"), problem);
                None
            }
            ExpectLine { answer: None, abstain: None, handoff: Some(code) } => {
                match Reason::parse(code.trim()) {
                    Some(reason) => Some(Expect::Handoff(reason)),
                    None => {
                        let known: Vec<&str> =
                            Reason::ALL.iter().map(|reason| reason.as_str()).collect();
                        refuse(Some("expect.handoff"), Problem::not_one_of(code, &known));
                        None
                    }
                }
            }
            _ => {
                let options = "answer, abstain, handoff".to_owned();
                refuse(Some("expect"), Problem::ExactlyOne { options });
                None
            }
        };
        if let Some(expect) = expect {
            scenarios.push(Scenario { id, turns, expect });
        }
    }
    if problems.is_empty() && !(1..=MAX_SCENARIOS).contains(&scenarios.len()) {
        let problem = Problem::Count { min: 1, max: MAX_SCENARIOS };
        problems.push(at_line(file, 1, Some("scenarios"), &problem));
    }
    if problems.is_empty() { Ok(scenarios) } else { Err(problems) }
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    scenarios: usize,
    passed: usize,
    results: Vec<ScenarioResult>,
}

#[derive(Debug, Serialize)]
struct ScenarioResult {
    id: String,
    turns: Vec<TurnReport>,
    passed: bool,
}

/// What the bot did with one customer message.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct TurnReport {
    outcome: Outcome,
    /// The article answered from (`action:KEY` for an action); `None` for other outcomes.
    article: Option<String>,
    /// Why the conversation went to people, on the turn that handed it off.
    reasons: Vec<Reason>,
}

impl TurnReport {
    fn handoff(reasons: Vec<Reason>) -> TurnReport {
        TurnReport { outcome: Outcome::Handoff, article: None, reasons }
    }
}

impl std::fmt::Display for TurnReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.outcome.as_str())?;
        if let Some(article) = &self.article {
            write!(f, " {article}")?;
        }
        if !self.reasons.is_empty() {
            let reasons: Vec<&str> = self.reasons.iter().map(|reason| reason.as_str()).collect();
            write!(f, " ({})", reasons.join(", "))?;
        }
        Ok(())
    }
}

/// A turn's outcome as the report names it: the bot's own outcomes, and the hand-off to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Answer,
    Clarify,
    Abstain,
    Handoff,
    Action,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Answer => "answer",
            Outcome::Clarify => "clarify",
            Outcome::Abstain => "abstain",
            Outcome::Handoff => "handoff",
            Outcome::Action => "action",
        }
    }
}

impl From<TurnOutcome> for Outcome {
    fn from(outcome: TurnOutcome) -> Outcome {
        match outcome {
            TurnOutcome::Answer => Outcome::Answer,
            TurnOutcome::Clarify => Outcome::Clarify,
            // An acknowledgement answers nothing (the knowledge bot never only acknowledges).
            TurnOutcome::Abstain | TurnOutcome::Acknowledge => Outcome::Abstain,
            TurnOutcome::Action => Outcome::Action,
            TurnOutcome::HandOff => Outcome::Handoff,
        }
    }
}

/// Runs every scenario in a temporary store, removed afterwards.
async fn simulate(input: &Input) -> anyhow::Result<Vec<ScenarioResult>> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    // Nothing here needs to survive a power cut.
    let config = SqliteConfig { path: dir.path().join("tandem.db"), synchronous_full: false };
    let sqlite = SqliteStore::open(&config).context("cannot open the temporary database")?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let results = async {
        let simulation = Simulation::start(Arc::clone(&store), input).await?;
        simulation.play_all(&input.scenarios).await
    }
    .await;
    sqlite.close();
    results
}

/// A workspace with the KB and the actions, its web inbox, and the server's bot behind a relay.
struct Simulation {
    store: Arc<dyn Store>,
    workspace: WorkspaceId,
    inbox: Inbox,
    relay: Relay,
}

impl Simulation {
    async fn start(store: Arc<dyn Store>, input: &Input) -> anyhow::Result<Simulation> {
        let workspace = store.create_workspace("Simulation").await?.id;
        let inbox = store
            .create_inbox(NewInbox {
                workspace_id: workspace,
                name: "Website".into(),
                channel: Channel::Web,
                public_key: "pk_simulate".into(),
                bot_name: "Tandem".into(),
            })
            .await?;
        if !input.actions.is_empty() {
            store.save_actions(workspace, input.actions.clone()).await?;
        }
        for (status, articles) in &input.knowledge {
            store.save_articles(workspace, articles.clone(), *status, None).await?;
        }
        // Started once the knowledge is stored, the bot builds its engine from all of it on the
        // first turn, as a server does after a restart. Its policy is what `tandem serve` uses
        // without an [engine] section, so a change of the default reaches both.
        let policy = crate::config::EngineConfig::default().policy();
        let bot = KnowledgeResponder::start(Arc::clone(&store), policy);
        let relay = Relay::new(Arc::clone(&store), bot);
        Ok(Simulation { store, workspace, inbox, relay })
    }

    async fn play_all(&self, scenarios: &[Scenario]) -> anyhow::Result<Vec<ScenarioResult>> {
        let mut ended = self.relay.turns();
        let mut results = Vec::with_capacity(scenarios.len());
        for scenario in scenarios {
            let turns = self
                .play(scenario, &mut ended)
                .await
                .with_context(|| format!("scenario {}", scenario.id))?;
            let passed = scenario.expect.met_by(&turns);
            results.push(ScenarioResult { id: scenario.id.clone(), turns, passed });
        }
        Ok(results)
    }

    /// One scenario: a new customer sends its turns one after the other, each once the relay is
    /// done with the one before.
    async fn play(
        &self,
        scenario: &Scenario,
        ended: &mut broadcast::Receiver<TurnEnded>,
    ) -> anyhow::Result<Vec<TurnReport>> {
        let customer = self
            .store
            .create_customer(NewCustomer {
                workspace_id: self.workspace,
                name: "Simulated customer".into(),
                email: None,
                locale: None,
                attributes: Default::default(),
            })
            .await?;
        let mut reports = Vec::with_capacity(scenario.turns.len());
        for (position, body) in scenario.turns.iter().enumerate() {
            let appended = self
                .relay
                .customer_message(CustomerSend {
                    inbox: self.inbox.clone(),
                    customer: customer.clone(),
                    client_msg_id: None,
                    body: body.clone(),
                })
                .await?;
            let turn = wait_for_turn(ended, appended.message.id)
                .await
                .with_context(|| format!("turn {}", position + 1))?;
            let report = self
                .report(&appended, turn)
                .await
                .with_context(|| format!("turn {}", position + 1))?;
            reports.push(report);
        }
        Ok(reports)
    }

    /// What the turn did, from what it stored: the conversation's owner, the hand-off packet,
    /// the bot's reply and its decision record.
    async fn report(&self, appended: &Appended, turn: TurnEnded) -> anyhow::Result<TurnReport> {
        if !appended.conversation.state.bot_may_reply() {
            // Handed off earlier: no turn ran, and nothing new was decided.
            return Ok(TurnReport::handoff(Vec::new()));
        }
        let id = appended.conversation.id;
        let conversation =
            self.store.conversation(id).await?.context("the conversation is gone")?;
        if !conversation.state.bot_may_reply() {
            let packet = self.store.handoff(id).await?;
            return Ok(TurnReport::handoff(
                packet.map(|packet| packet.reasons).unwrap_or_default(),
            ));
        }
        let reply =
            turn.reply.context("the bot's turn ended without a reply (the log says why)")?;
        let record = self
            .store
            .decisions(id)
            .await?
            .into_iter()
            .find_map(|(message, record)| (message == reply.id).then_some(record))
            .context("the bot's reply has no decision record")?;
        let outcome = Outcome::from(record.outcome);
        let article = match outcome {
            Outcome::Answer => reply.meta.and_then(|meta| meta.source).map(|source| source.article),
            Outcome::Action => {
                record.action.map(|action| format!("{ACTION_PREFIX}{}", action.action))
            }
            _ => None,
        };
        Ok(TurnReport { outcome, article, reasons: Vec::new() })
    }
}

/// Waits until the relay is done with the customer's `message`.
async fn wait_for_turn(
    ended: &mut broadcast::Receiver<TurnEnded>,
    message: MessageId,
) -> anyhow::Result<TurnEnded> {
    let wait = async {
        loop {
            match ended.recv().await {
                Ok(turn) if turn.message == message => return Ok(turn),
                // Turns end one at a time here, so none of ours can be among those skipped.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => bail!("the relay stopped"),
            }
        }
    };
    tokio::time::timeout(TURN_DEADLINE, wait)
        .await
        .map_err(|_| anyhow!("the turn did not end within {} s", TURN_DEADLINE.as_secs()))?
}

fn print_json(report: &Report) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, report)?;
    writeln!(out)?;
    out.flush()
}

/// One line per scenario (PASS or FAIL, its id, each turn; what a failed one expected), then
/// the totals.
fn print_text(report: &Report, input: &Input) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for (result, scenario) in report.results.iter().zip(&input.scenarios) {
        let turns: Vec<String> = result.turns.iter().map(ToString::to_string).collect();
        let verdict = if result.passed { "PASS" } else { "FAIL" };
        write!(out, "{verdict}  {}: {}", result.id, turns.join(" → "))?;
        if !result.passed {
            write!(out, "  (expected {})", scenario.expect)?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "{} scenario(s): {} passed, {} failed",
        report.scenarios,
        report.passed,
        report.scenarios - report.passed
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(outcome: Outcome, article: Option<&str>, reasons: &[Reason]) -> TurnReport {
        TurnReport { outcome, article: article.map(str::to_owned), reasons: reasons.to_vec() }
    }

    #[test]
    fn an_answer_is_judged_by_the_last_turn_and_its_article() {
        let expect = Expect::Answer("refund-time".into());
        let answered = turn(Outcome::Answer, Some("refund-time"), &[]);
        let other = turn(Outcome::Answer, Some("shipping"), &[]);
        assert!(expect.met_by(&[turn(Outcome::Clarify, None, &[]), answered.clone()]));
        assert!(!expect.met_by(&[answered.clone(), turn(Outcome::Abstain, None, &[])]));
        assert!(!expect.met_by(&[other]));
        assert!(!expect.met_by(&[]));
    }

    #[test]
    fn abstaining_counts_a_hand_off_for_repeated_abstentions_but_not_other_hand_offs() {
        let expect = Expect::Abstain;
        assert!(expect.met_by(&[turn(Outcome::Abstain, None, &[])]));
        let gave_up = [
            turn(Outcome::Abstain, None, &[]),
            turn(Outcome::Handoff, None, &[Reason::AbstainedRepeatedly]),
            turn(Outcome::Handoff, None, &[]),
        ];
        assert!(expect.met_by(&gave_up));
        assert!(!expect.met_by(&[turn(Outcome::Handoff, None, &[Reason::AsksForHuman])]));
        assert!(!expect.met_by(&[turn(Outcome::Clarify, None, &[])]));
        assert!(!expect.met_by(&[
            turn(Outcome::Abstain, None, &[]),
            turn(Outcome::Answer, Some("refund-time"), &[])
        ]));
    }

    #[test]
    fn a_hand_off_passes_with_its_reason_at_any_turn() {
        let expect = Expect::Handoff(Reason::Anger);
        let angry = [
            turn(Outcome::Answer, Some("refund-time"), &[]),
            turn(Outcome::Handoff, None, &[Reason::Complaint, Reason::Anger]),
            turn(Outcome::Handoff, None, &[]),
        ];
        assert!(expect.met_by(&angry));
        assert!(!expect.met_by(&[turn(Outcome::Handoff, None, &[Reason::AsksForHuman])]));
    }

    #[test]
    fn a_kb_line_may_keep_its_article_a_draft() {
        let text = concat!(
            r#"{"id": "returns", "title": "退货", "answer": "7 天无理由退货", "questions": ["怎么退货"]}"#,
            "\n",
            r#"{"id": "invoice", "title": "发票", "answer": "开发票", "status": "draft"}"#,
            "\n"
        );
        let grouped = read_knowledge("kb.jsonl", text).unwrap();
        let keys = |wanted: ArticleStatus| -> Vec<String> {
            grouped
                .iter()
                .filter(|(status, _)| *status == wanted)
                .flat_map(|(_, articles)| articles.iter().map(|article| article.key.clone()))
                .collect()
        };
        assert_eq!(keys(ArticleStatus::Published), ["returns"]);
        assert_eq!(keys(ArticleStatus::Draft), ["invoice"]);
        let wrong = r#"{"id": "invoice", "title": "发票", "answer": "开发票", "status": "maybe"}"#;
        let problems = read_knowledge("kb.jsonl", wrong).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems,
            ["kb.jsonl:1: status: \"maybe\" is not one of draft, in_review, published, archived"]
        );
    }

    #[test]
    fn every_scenario_problem_is_named_with_its_line() {
        let articles: HashSet<&str> = ["returns"].into_iter().collect();
        let text = [
            r#"{"id": "a", "turns": ["怎么退货"], "expect": {"answer": "returns"}}"#,
            r#"{"id": "a", "turns": ["again"], "expect": {"abstain": true}}"#,
            "",
            r#"{"id": "b", "turns": [], "expect": {"abstain": true}}"#,
            r#"{"id": "c", "turns": ["hi"], "expect": {"answer": "nope"}}"#,
            r#"{"id": "d", "turns": ["hi"], "expect": {"handoff": "bored"}}"#,
            r#"{"id": "e", "turns": ["hi"], "expect": {"answer": "returns", "abstain": true}}"#,
            r#"{"id": "f", "turns": ["hi"], "expect": {"abstain": true}, "extra": 1}"#,
            r#"{"id": "g", "turns": ["  "], "expect": {"abstain": false}}"#,
        ]
        .join("\n");
        let problems = read_scenarios("s.jsonl", &text, Some(("kb.jsonl", &articles))).unwrap_err();
        let lines: Vec<&str> =
            problems.iter().map(|problem| problem.split(": ").next().unwrap_or_default()).collect();
        assert_eq!(
            lines,
            [
                "s.jsonl:2",
                "s.jsonl:4",
                "s.jsonl:5",
                "s.jsonl:6",
                "s.jsonl:7",
                "s.jsonl:8",
                "s.jsonl:9",
                "s.jsonl:9"
            ],
            "{problems:#?}"
        );
        assert!(problems[0].contains("id: \"a\" is already used on line 1"), "{}", problems[0]);
        assert!(problems[1].contains("turns: must have 1 to 100 entries"), "{}", problems[1]);
        assert!(problems[2].contains("\"nope\" is not one of the article ids in kb.jsonl"));
        assert!(problems[3].contains("expect.handoff: \"bored\" is not one of asks_for_human"));
        assert!(problems[4].contains("expect: give exactly one of answer, abstain, handoff"));
        assert!(problems[5].contains("unknown field `extra`"), "{}", problems[5]);
        assert!(problems[6].contains("turns[0]: must not be empty"), "{}", problems[6]);
    }

    #[test]
    fn an_empty_scenarios_file_is_refused() {
        let problems = read_scenarios("s.jsonl", "\n\n", None).unwrap_err();
        assert_eq!(problems, ["s.jsonl:1: scenarios: must have 1 to 10000 entries"]);
    }
}
