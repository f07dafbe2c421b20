//! The knowledge responder: one bot turn, as a sequence of named stages. Each stage either
//! ends the turn with a reply or passes it on:
//!
//! 1. **pending action**: the bot asked for an action's parameter; take it from this message
//!    (or ask again, or give up), unless the customer moved on to something else;
//! 2. **didn't help**: the customer says the last answer did not help; offer the other
//!    candidates for their question, or a person. A correction ("不是这个，我是问退货", "no, I
//!    meant shipping costs") is not a failure: the question it means goes on to the next stage;
//! 3. **several requests**: a message that asks several separate things ("改地址，不然就退款；
//!    另外发票没收到") gets each part answered from its own article, and the parts nothing
//!    answers are left for a person, listed in the hand-off packet;
//! 4. **decide**: the engine reads the message (with the question before it, for a short
//!    follow-up): answer, clarify or abstain, with the decision record;
//! 5. **action**: the best match is a business action; collect its parameters and run it;
//! 6. **model tools**: nothing matched well enough; the workspace's model may still recognise
//!    a request for one of the actions;
//! 7. **reword**: an answer from an article; the workspace's model may put it in its own words
//!    when every claim checks out against the articles.

mod actions;
mod agent_actions;
mod choice;
mod draft;
mod parts;
mod replies;

pub use agent_actions::{AgentActionError, AgentRun, OfferedAction};
pub use draft::{AgentDraft, DraftUnavailable, Suggested};

use std::sync::Arc;

use async_trait::async_trait;
use tandem_domain::{
    AnswerSettings, Article, ArticleStatus, CandidateRecord, Channel, DecisionRecord, LlmOutcome,
    Locale, Message, ModelSummary, NewArticle, TurnOutcome, UserId, WorkspaceId,
};
use tandem_flow::{BotReply, Clock, Phrases, Responder, Turn};
use tandem_knowledge::calibrate::Calibration;
use tandem_knowledge::{Decision, DecisionPolicy, Outcome};
use tandem_store::{Store, StoreError, now_millis};

use crate::actions::Secrets;
use crate::engines::{ACTION_PREFIX, Built, Engines};
use crate::model::WorkspaceModels;

pub struct KnowledgeResponder {
    engines: Arc<Engines>,
    pub(crate) store: Arc<dyn Store>,
    /// Calls business systems for actions.
    http: reqwest::Client,
    /// Where actions' `{env.NAME}` secrets come from.
    secrets: Secrets,
    /// What time it is: the system clock, or a test's own.
    pub(crate) clock: Clock,
    /// The workspaces' models, when they have one (one circuit breaker per workspace and
    /// provider for the whole process).
    pub(crate) llm: WorkspaceModels,
    /// This responder, for the background work it starts (embedding articles).
    pub(crate) this: std::sync::Weak<KnowledgeResponder>,
    /// Workspaces whose articles are being embedded now.
    pub(crate) embedding: std::sync::Mutex<std::collections::HashSet<WorkspaceId>>,
}

impl std::fmt::Debug for KnowledgeResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeResponder")
            .field("policy", &self.engines.policy)
            .finish_non_exhaustive()
    }
}

/// The engine's reading of a message: its decision, the candidates' articles in the same
/// order, and the record of it.
struct Decided {
    decision: Decision,
    articles: Vec<Article>,
    record: DecisionRecord,
}

impl KnowledgeResponder {
    /// Starts the responder: warms the text analyzer and follows knowledge changes.
    pub fn start(store: Arc<dyn Store>, policy: DecisionPolicy) -> Arc<KnowledgeResponder> {
        KnowledgeResponder::start_with_clock(store, policy, Arc::new(now_millis))
    }

    /// Like [`KnowledgeResponder::start`], telling the time by `clock` (tests move it to see an
    /// effective window open or close without waiting).
    pub fn start_with_clock(
        store: Arc<dyn Store>,
        policy: DecisionPolicy,
        clock: Clock,
    ) -> Arc<KnowledgeResponder> {
        KnowledgeResponder::start_with(store, policy, clock, crate::actions::environment())
    }

    /// Like [`KnowledgeResponder::start_with_clock`], with actions' secrets from `secrets`
    /// instead of the environment.
    pub fn start_with(
        store: Arc<dyn Store>,
        policy: DecisionPolicy,
        clock: Clock,
        secrets: Secrets,
    ) -> Arc<KnowledgeResponder> {
        // Loading the Chinese dictionary takes a few hundred milliseconds: do it off the path
        // of the first customer.
        tokio::task::spawn_blocking(|| {
            tandem_text::analyzer();
        });
        let responder = Arc::new_cyclic(|this| KnowledgeResponder {
            engines: Engines::start(Arc::clone(&store), policy, Arc::clone(&clock)),
            store,
            // Connectors do not follow redirects: an action's URL is the one the business set.
            http: tandem_llm::outbound::client()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            secrets,
            clock,
            llm: WorkspaceModels::new(),
            this: this.clone(),
            embedding: std::sync::Mutex::new(std::collections::HashSet::new()),
        });
        KnowledgeResponder::follow_embeddings(&responder);
        responder
    }

    /// What the engine would decide for `question` from a customer on `channel` (any article,
    /// when `None`), with the candidates' articles in order: the console's "test the bot" box.
    pub async fn explain(
        &self,
        workspace: WorkspaceId,
        question: &str,
        channel: Option<Channel>,
    ) -> Result<(Decision, Vec<Article>), StoreError> {
        Ok(self.engines.get(workspace).await?.decide(question, channel))
    }

    /// Each workspace's model circuit breaker state (see [`WorkspaceModels::breaker_states`]).
    pub fn model_breakers(&self) -> Vec<(WorkspaceId, tandem_llm::BreakerState)> {
        self.llm.breaker_states()
    }

    /// The server's default decision policy (a workspace may set its own threshold).
    pub fn default_policy(&self) -> DecisionPolicy {
        self.engines.policy
    }

    /// The threshold the workspace's turns are answered with now and, when one was learnt from
    /// its articles, what that one is expected to do.
    pub async fn threshold_in_force(
        &self,
        workspace: WorkspaceId,
    ) -> Result<(f32, Option<Calibration>), StoreError> {
        let built = self.engines.get(workspace).await?;
        Ok((built.policy.threshold, built.calibration))
    }

    /// Replaces the workspace's answer settings and returns once turns are answered with them.
    pub async fn save_settings(
        &self,
        workspace: WorkspaceId,
        settings: AnswerSettings,
    ) -> Result<AnswerSettings, StoreError> {
        self.engines.save_settings(workspace, settings).await
    }

    /// Saves articles and returns once they are answerable (or, unpublished, no longer are).
    /// Writes that bypass this are picked up from the change feed a moment later.
    pub async fn save(
        &self,
        workspace: WorkspaceId,
        articles: Vec<NewArticle>,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> Result<Vec<Article>, StoreError> {
        self.engines.save(workspace, articles, status, author).await
    }

    /// Changes an article's status and returns once the engine reflects it.
    pub async fn set_status(
        &self,
        workspace: WorkspaceId,
        key: &str,
        status: ArticleStatus,
        author: Option<UserId>,
    ) -> Result<Article, StoreError> {
        self.engines.set_status(workspace, key, status, author).await
    }

    /// Whether the workspace's engine is a full build (no delta of recent changes pending).
    pub fn is_settled(&self, workspace: WorkspaceId) -> bool {
        self.engines.is_settled(workspace)
    }

    /// Rebuilds the workspace's engine from its live articles.
    pub async fn rebuild(&self, workspace: WorkspaceId) -> Result<(), StoreError> {
        self.engines.rebuild(workspace).await
    }
}

#[async_trait]
impl Responder for KnowledgeResponder {
    async fn respond(&self, turn: &Turn) -> BotReply {
        let phrases = Phrases::for_channel(turn.locale, turn.inbox.channel);
        let built = match self.engines.get(turn.inbox.workspace_id).await {
            Ok(built) => built,
            Err(error) => {
                tracing::warn!(%error, "knowledge unavailable; the bot cannot answer");
                return BotReply::text(phrases.cannot_answer, TurnOutcome::Abstain, false);
            }
        };
        if let Some(reply) = self.pending_action(turn, &built, phrases).await {
            return reply;
        }
        let corrected = replies::corrected_question(turn, &built);
        if corrected.is_none()
            && let Some(reply) = replies::after_didnt_help(turn, &built, phrases)
        {
            return reply;
        }
        if corrected.is_none()
            && let Some(reply) = self.several_requests(turn, &built, phrases).await
        {
            return reply;
        }
        let mut decided = decide(turn, &built, corrected.as_deref());
        if self.model_choice(turn, &built, &mut decided).await {
            // The model named the article: its own answer, with no second model call.
            let Decided { decision, articles, record } = decided;
            let mut reply = replies::reply(phrases, decision.outcome, &articles);
            reply.decision = Some(record);
            return reply;
        }
        if let Some(reply) = self.business_action(turn, &decided, phrases).await {
            return reply;
        }
        if decided.record.llm.is_none()
            && let Some(reply) = self.model_tools(turn, &mut decided, phrases).await
        {
            return reply;
        }
        self.reword(turn, decided, phrases).await
    }

    async fn read(&self, inbox: &tandem_domain::Inbox, text: &str) -> Option<DecisionRecord> {
        let built = self.engines.get(inbox.workspace_id).await.ok()?;
        let started = std::time::Instant::now();
        let (decision, articles) = built.decide(text, Some(inbox.channel));
        (decision.outcome != Outcome::Abstain)
            .then(|| record(text.to_owned(), &decision, &articles, &built, started))
    }

    async fn hand_off_summary(
        &self,
        workspace: WorkspaceId,
        messages: &[Message],
        locale: Locale,
    ) -> Option<ModelSummary> {
        self.summarize(workspace, messages, locale, tandem_llm::summary::summary_messages).await
    }

    async fn wrapup_summary(
        &self,
        workspace: WorkspaceId,
        messages: &[Message],
        locale: Locale,
    ) -> Option<ModelSummary> {
        self.summarize(workspace, messages, locale, tandem_llm::summary::wrapup_messages).await
    }
}

impl KnowledgeResponder {
    /// A summary of `messages` by the workspace's model (when it writes summaries) with the
    /// `prompt` given, kept only if the conversation supports every claim of it.
    async fn summarize(
        &self,
        workspace: WorkspaceId,
        messages: &[Message],
        locale: Locale,
        prompt: fn(&str, Locale) -> Vec<tandem_llm::ChatMessage>,
    ) -> Option<ModelSummary> {
        use tandem_llm::summary;
        // Off (the default): nothing to prepare.
        let ready = self.llm.ready(self.store.as_ref(), workspace, |settings| settings.summaries);
        let ready = ready.await;
        if matches!(ready, Ok(None)) {
            return None;
        }
        let transcript = summary::transcript(messages);
        if transcript.is_empty() {
            return None;
        }
        let client = match ready {
            Ok(client) => client?,
            Err(llm) => return Some(ModelSummary { text: None, llm }),
        };
        let request =
            tandem_llm::ChatRequest { messages: prompt(&transcript, locale), tools: Vec::new() };
        Some(match self.llm.call(&client, &request).await {
            Ok((completion, mut llm)) => {
                let text = summary::accepted(&completion.text, &transcript);
                llm.outcome = if text.is_some() { LlmOutcome::Used } else { LlmOutcome::Rejected };
                ModelSummary { text, llm }
            }
            Err(llm) => ModelSummary { text: None, llm },
        })
    }
}

/// The engine's decision on the message, or on the question a correction meant (`corrected`:
/// "不是这个，我是问退货" is decided as "退货"). A short follow-up ("那电子产品呢？", "and for
/// electronics?") is read with the question before it, when that reading is the more
/// confident one.
fn decide(turn: &Turn, built: &Built, corrected: Option<&str>) -> Decided {
    let channel = Some(turn.inbox.channel);
    let started = std::time::Instant::now();
    let mut query = corrected.unwrap_or(&turn.message.body).to_owned();
    let (mut decision, mut articles) = built.decide(&query, channel);
    if corrected.is_none()
        && let Some(previous) = replies::follow_up_context(turn)
    {
        let combined = format!("{previous} {}", turn.message.body);
        let (in_context, in_context_articles) = built.decide(&combined, channel);
        let best = |decision: &Decision| {
            decision.candidates.first().map_or(0.0, |candidate| candidate.score)
        };
        if best(&in_context) > best(&decision) {
            (decision, articles, query) = (in_context, in_context_articles, combined);
        }
    }
    let record = record(query, &decision, &articles, built, started);
    Decided { decision, articles, record }
}

/// The decision record of the engine's `decision` on `query`, begun at `started`.
fn record(
    query: String,
    decision: &Decision,
    articles: &[Article],
    built: &Built,
    started: std::time::Instant,
) -> DecisionRecord {
    DecisionRecord {
        query,
        outcome: decision.outcome.into(),
        threshold: decision.threshold,
        candidates: decision
            .candidates
            .iter()
            .zip(articles)
            .map(|(candidate, article)| CandidateRecord {
                article: article.key.clone(),
                title: article.title.clone(),
                version: article.version,
                score: candidate.score,
                retrieval: candidate.retrieval,
                intent: candidate.intent,
            })
            .collect(),
        knowledge_version: built.version.clone(),
        latency_us: started.elapsed().as_micros() as u64,
        action: None,
        llm: None,
        parts: Vec::new(),
    }
}

impl KnowledgeResponder {
    /// The reply to an engine decision. An answer from an article may be put in the model's own
    /// words, from the best few articles, if what it writes checks out against them;
    /// clarifications and abstentions never go to the model.
    async fn reword(&self, turn: &Turn, decided: Decided, phrases: &Phrases) -> BotReply {
        let Decided { decision, articles, mut record } = decided;
        let mut reply = replies::reply(phrases, decision.outcome, &articles);
        if decision.outcome == Outcome::Answer
            && articles.first().is_some_and(|article| !article.key.starts_with(ACTION_PREFIX))
        {
            let passages: Vec<Article> = articles
                .iter()
                .filter(|article| !article.key.starts_with(ACTION_PREFIX))
                .take(crate::model::PASSAGES)
                .cloned()
                .collect();
            let show = turn.drafts.as_ref().map(|drafts| |text: &str| drafts.show(text));
            if let Some(grounded) = self
                .llm
                .answer(
                    self.store.as_ref(),
                    turn.inbox.workspace_id,
                    &record.query,
                    &passages,
                    turn.locale,
                    show.as_ref().map(|show| show as &(dyn Fn(&str) + Send + Sync)),
                )
                .await
            {
                if let Some(text) = grounded.text {
                    reply.body = text;
                }
                record.llm = Some(grounded.record);
            }
        }
        reply.decision = Some(record);
        reply
    }
}
