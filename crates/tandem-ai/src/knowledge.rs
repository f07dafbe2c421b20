//! The knowledge responder: answers from the workspace's published articles with the built-in
//! engine, asks which one when two are close, and says so when it cannot help.
//!
//! One engine per workspace is kept built. Rebuilding it for a large knowledge base takes
//! seconds (the intent model is retrained), so a change is made answerable in two steps: at
//! once, the changed articles are indexed on their own as a small *delta* engine, and the base
//! engine's stale entries are masked; then the full rebuild runs in the background and replaces
//! both. An effective window opening or closing is noticed by the first turn after the moment,
//! which applies the difference the same way before answering, so an expired policy is never
//! served. A change of more than [`MAX_DELTA`] articles, or of the workspace's answer settings,
//! is built in full before the change counts as applied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use tandem_domain::{
    AnswerSettings, Article, ArticleStatus, CandidateRecord, Channel, DecisionRecord, Locale,
    MessageMeta, Millis, PendingAction, Source, WorkspaceId,
};
use tandem_knowledge::{Candidate, Decision, DecisionPolicy, Engine, Outcome};
use tandem_store::{Change, Store, StoreError, now_millis};
use tandem_text::Dictionary;
use tokio::sync::broadcast;

use crate::{BotReply, Phrases, Responder, Turn, actions};

/// At most this many changed articles go into a delta; more, and the full rebuild is awaited.
const MAX_DELTA: usize = 500;

/// An engine over a set of live articles, in the engine's order.
struct Indexed {
    engine: Engine,
    articles: Vec<Article>,
}

impl Indexed {
    fn build(articles: Vec<Article>, dictionary: Dictionary) -> Indexed {
        let engine = Engine::build_with(
            articles
                .iter()
                .map(|article| tandem_knowledge::Article {
                    id: article.key.clone(),
                    title: article.title.clone(),
                    questions: article.questions.clone(),
                    answer: article.answer.clone(),
                })
                .collect(),
            dictionary,
        );
        Indexed { engine, articles }
    }
}

/// What a workspace's turns are answered from.
struct Built {
    base: Arc<Indexed>,
    /// Articles changed since `base` was built, indexed on their own.
    delta: Option<Arc<Indexed>>,
    /// Keys whose entries in `base` are stale: changed, or no longer live.
    masked: HashSet<String>,
    /// The next moment an effective window opens or closes: rebuild from then on.
    valid_until: Millis,
    /// Which knowledge this is, for decision records.
    version: String,
    /// The store's knowledge stamp for the articles this was built from.
    stamp: (i64, Millis),
    /// The workspace's settings this was built with, and the decision policy they make.
    settings: AnswerSettings,
    policy: DecisionPolicy,
}

/// The knowledge stamp of a workspace's articles and settings (see `Store::knowledge_stamp`).
fn stamp(articles: &[Article], settings: &AnswerSettings) -> (i64, Millis) {
    let newest = articles.iter().map(|article| article.updated_at).max().unwrap_or(0);
    (articles.len() as i64, newest.max(settings.updated_at))
}

/// Which articles a turn may be answered from.
type Allowed<'a> = &'a dyn Fn(usize) -> bool;

/// How often a turn checks the store for knowledge changed by another process.
const STAMP_CHECK_MS: Millis = 2000;

/// Names a set of live articles: how many, and when the newest changed.
fn knowledge_version(live: &[Article]) -> String {
    let newest = live.iter().map(|article| article.updated_at).max().unwrap_or(0);
    let when = tandem_domain::validate::format_timestamp(newest);
    format!("{} articles, last change {when}", live.len())
}

impl Built {
    /// Scores `question` against the base (stale keys left out) and the delta, best first,
    /// over the articles that serve `channel` (all, when `None`).
    fn decide(&self, question: &str, channel: Option<Channel>) -> (Decision, Vec<Article>) {
        self.decide_by(question, channel, self.policy, Engine::candidates_where)
    }

    /// Like `decide`, but ranks every article even for a word-for-word question.
    fn rank(
        &self,
        question: &str,
        channel: Option<Channel>,
        policy: DecisionPolicy,
    ) -> (Decision, Vec<Article>) {
        self.decide_by(question, channel, policy, Engine::ranked_where)
    }

    fn decide_by(
        &self,
        question: &str,
        channel: Option<Channel>,
        policy: DecisionPolicy,
        score: fn(&Engine, &str, Allowed<'_>) -> Vec<Candidate>,
    ) -> (Decision, Vec<Article>) {
        let serves = |article: &Article| channel.is_none_or(|channel| article.serves(channel));
        let base = &self.base.articles;
        let base_allowed =
            |index: usize| serves(&base[index]) && !self.masked.contains(&base[index].key);
        let mut scored: Vec<(Candidate, &Article)> =
            score(&self.base.engine, question, &base_allowed)
                .into_iter()
                .map(|candidate| (candidate, &base[candidate.article]))
                .collect();
        if let Some(delta) = &self.delta {
            let delta_allowed = |index: usize| serves(&delta.articles[index]);
            scored.extend(
                score(&delta.engine, question, &delta_allowed)
                    .into_iter()
                    .map(|candidate| (candidate, &delta.articles[candidate.article])),
            );
        }
        scored.sort_by(|left, right| right.0.score.total_cmp(&left.0.score));
        scored.truncate(tandem_knowledge::CANDIDATES);
        let articles = scored.iter().map(|(_, article)| (*article).clone()).collect();
        let candidates = scored
            .into_iter()
            .enumerate()
            .map(|(index, (candidate, _))| Candidate { article: index, ..candidate })
            .collect();
        (Decision::from_candidates(candidates, policy), articles)
    }
}

pub struct KnowledgeResponder {
    /// This responder, for work a turn starts in the background.
    this: Weak<KnowledgeResponder>,
    store: Arc<dyn Store>,
    policy: DecisionPolicy,
    /// Calls business systems for actions.
    http: reqwest::Client,
    /// Where actions' `{env.NAME}` secrets come from.
    secrets: actions::Secrets,
    built: Mutex<HashMap<WorkspaceId, Arc<Built>>>,
    /// When each workspace's knowledge stamp was last compared with the store.
    checked: Mutex<HashMap<WorkspaceId, Millis>>,
    /// Counts knowledge changes, so that a slow full rebuild never replaces a newer state.
    generation: AtomicU64,
    /// Woken whenever a workspace's engine is replaced.
    installed: tokio::sync::Notify,
    /// What time it is, for effective windows: the system clock, or a test's own.
    clock: Clock,
    /// Grounded answers from the workspace's model, when it has one (one circuit breaker per
    /// workspace and provider for the whole process).
    llm: crate::llm::WorkspaceModels,
}

/// The key prefix of the articles that stand for business actions in the engine.
pub const ACTION_PREFIX: &str = "action:";

/// A source of the current time in milliseconds.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

impl std::fmt::Debug for KnowledgeResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeResponder").field("policy", &self.policy).finish_non_exhaustive()
    }
}

fn valid_until(articles: &[Article], now: Millis) -> Millis {
    articles
        .iter()
        .filter(|article| article.status == ArticleStatus::Published)
        .flat_map(|article| [article.effective_from, article.expires_at])
        .flatten()
        .filter(|moment| *moment > now)
        .min()
        .unwrap_or(Millis::MAX)
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
        KnowledgeResponder::start_with(store, policy, clock, actions::environment())
    }

    /// Like [`KnowledgeResponder::start_with_clock`], with actions' secrets from `secrets`
    /// instead of the environment.
    pub fn start_with(
        store: Arc<dyn Store>,
        policy: DecisionPolicy,
        clock: Clock,
        secrets: actions::Secrets,
    ) -> Arc<KnowledgeResponder> {
        let responder = Arc::new_cyclic(|this| KnowledgeResponder {
            secrets,
            this: this.clone(),
            store,
            policy,
            // Connectors do not follow redirects: an action's URL is the one the business set.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            built: Mutex::new(HashMap::new()),
            checked: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            installed: tokio::sync::Notify::new(),
            clock,
            llm: crate::llm::WorkspaceModels::new(),
        });
        // Loading the Chinese dictionary takes a few hundred milliseconds: do it off the path
        // of the first customer.
        tokio::task::spawn_blocking(|| {
            tandem_text::analyzer();
        });
        let mut feed = responder.store.subscribe();
        let follower = Arc::clone(&responder);
        tokio::spawn(async move {
            loop {
                match feed.recv().await {
                    Ok(Change::Knowledge(workspace)) => {
                        if let Err(error) = Arc::clone(&follower).changed(workspace).await {
                            tracing::warn!(workspace_id = %workspace, %error, "knowledge update failed");
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Knowledge changes may have been missed: rebuild on next use.
                        follower.generation.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut built) = follower.built.lock() {
                            built.clear();
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        responder
    }

    /// What the engine answers from: the articles, and each business action as an article
    /// whose questions are its triggers (key `action:<key>`), so that actions and articles are
    /// ranked together and an action wins only when it is the best match.
    async fn answerable(&self, workspace: WorkspaceId) -> Result<Vec<Article>, StoreError> {
        let mut articles = self.store.articles(workspace).await?;
        for action in self.store.actions(workspace).await? {
            articles.push(Article {
                id: tandem_domain::ArticleId(0),
                workspace_id: workspace,
                key: format!("{ACTION_PREFIX}{}", action.key),
                status: if action.enabled {
                    ArticleStatus::Published
                } else {
                    ArticleStatus::Archived
                },
                title: action.name.clone(),
                answer: action.description.clone(),
                questions: action.triggers.clone(),
                tags: vec!["action".to_owned()],
                language: None,
                effective_from: None,
                expires_at: None,
                channels: Vec::new(),
                version: 1,
                created_at: action.updated_at,
                updated_at: action.updated_at,
            });
        }
        Ok(articles)
    }

    fn current(&self, workspace: WorkspaceId) -> Option<Arc<Built>> {
        self.built.lock().ok().and_then(|map| map.get(&workspace).cloned())
    }

    fn install(&self, workspace: WorkspaceId, built: Built) {
        if let Ok(mut map) = self.built.lock() {
            map.insert(workspace, Arc::new(built));
        }
        self.installed.notify_waiters();
    }

    /// The articles changed: make them answerable now with a delta, then rebuild in full.
    async fn changed(self: Arc<Self>, workspace: WorkspaceId) -> Result<(), StoreError> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(current) = self.current(workspace) else {
            return self.rebuild(workspace).await;
        };
        let settings = self.store.answer_settings(workspace).await?;
        if settings != current.settings {
            // New dictionary words change how every text is segmented: rebuild it all.
            return self.rebuild_if_current(workspace, generation).await;
        }
        let articles = self.answerable(workspace).await?;
        let now = (self.clock)();
        let base_versions: HashMap<&str, (i64, Millis)> = current
            .base
            .articles
            .iter()
            .map(|article| (article.key.as_str(), (article.version, article.updated_at)))
            .collect();
        let live: Vec<Article> =
            articles.iter().filter(|article| article.live_at(now)).cloned().collect();
        let live_keys: HashSet<&str> = live.iter().map(|article| article.key.as_str()).collect();
        let changed: Vec<Article> = live
            .iter()
            .filter(|article| {
                base_versions.get(article.key.as_str())
                    != Some(&(article.version, article.updated_at))
            })
            .cloned()
            .collect();
        if changed.len() > MAX_DELTA {
            // Too many changes for a quick delta (a bulk import): build it all, now.
            return self.rebuild_if_current(workspace, generation).await;
        }
        let mut masked: HashSet<String> =
            changed.iter().map(|article| article.key.clone()).collect();
        masked.extend(
            base_versions
                .keys()
                .filter(|key| !live_keys.contains(*key))
                .map(|key| (*key).to_owned()),
        );
        let dictionary = current.base.engine.dictionary().clone();
        let delta = (!changed.is_empty()).then(|| Arc::new(Indexed::build(changed, dictionary)));
        let base = Arc::clone(&current.base);
        let version = knowledge_version(&live);
        self.install(
            workspace,
            Built {
                base,
                delta,
                masked,
                valid_until: valid_until(&articles, now),
                version,
                stamp: stamp(&articles, &settings),
                settings,
                policy: current.policy,
            },
        );
        let responder = Arc::clone(&self);
        tokio::spawn(async move {
            if responder.generation.load(Ordering::SeqCst) != generation {
                return; // A newer change will rebuild.
            }
            if let Err(error) = responder.rebuild_if_current(workspace, generation).await {
                tracing::warn!(workspace_id = %workspace, %error, "knowledge rebuild failed");
            }
        });
        Ok(())
    }

    /// Rebuilds the workspace's engine from its live articles.
    pub async fn rebuild(&self, workspace: WorkspaceId) -> Result<(), StoreError> {
        let generation = self.generation.load(Ordering::SeqCst);
        self.rebuild_if_current(workspace, generation).await
    }

    async fn rebuild_if_current(
        &self,
        workspace: WorkspaceId,
        generation: u64,
    ) -> Result<(), StoreError> {
        let articles = self.answerable(workspace).await?;
        let settings = self.store.answer_settings(workspace).await?;
        let policy = DecisionPolicy {
            threshold: settings.threshold.unwrap_or(self.policy.threshold),
            ..self.policy
        };
        let now = (self.clock)();
        let built = tokio::task::spawn_blocking(move || {
            let valid_until = valid_until(&articles, now);
            let stamp = stamp(&articles, &settings);
            let live: Vec<Article> =
                articles.into_iter().filter(|article| article.live_at(now)).collect();
            let version = knowledge_version(&live);
            let dictionary = Dictionary::new(settings.dictionary.iter().map(String::as_str));
            Built {
                base: Arc::new(Indexed::build(live, dictionary)),
                delta: None,
                masked: HashSet::new(),
                valid_until,
                version,
                stamp,
                settings,
                policy,
            }
        })
        .await
        .map_err(|error| StoreError::Database(format!("engine build failed: {error}")))?;
        // A change that arrived during the build has its own delta in place: keep that.
        if self.generation.load(Ordering::SeqCst) == generation || self.current(workspace).is_none()
        {
            self.install(workspace, built);
        }
        Ok(())
    }

    /// What the engine would decide for `question` from a customer on `channel` (any article,
    /// when `None`), with the candidates' articles in order: the console's "test the bot" box.
    pub async fn explain(
        &self,
        workspace: WorkspaceId,
        question: &str,
        channel: Option<Channel>,
    ) -> Result<(Decision, Vec<Article>), StoreError> {
        Ok(self.engine_for(workspace).await?.decide(question, channel))
    }

    /// The server's default decision policy (a workspace may set its own threshold).
    pub fn default_policy(&self) -> DecisionPolicy {
        self.policy
    }

    /// Replaces the workspace's answer settings and returns once turns are answered with them.
    pub async fn save_settings(
        self: &Arc<Self>,
        workspace: WorkspaceId,
        settings: AnswerSettings,
    ) -> Result<AnswerSettings, StoreError> {
        let saved = self.store.save_answer_settings(workspace, settings).await?;
        Arc::clone(self).changed(workspace).await?;
        // The change feed's follower rebuilds for the same change, and whichever build is
        // newest is kept: wait for one with these settings.
        let settled = async {
            loop {
                let installed = self.installed.notified();
                if self.current(workspace).is_some_and(|built| built.settings == saved) {
                    return;
                }
                installed.await;
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(60), settled).await.is_err() {
            tracing::warn!(workspace_id = %workspace, "answer settings saved but not yet in use");
        }
        Ok(saved)
    }

    /// Saves articles and returns once they are answerable (or, unpublished, no longer are).
    /// Writes that bypass this are picked up from the change feed a moment later.
    pub async fn save(
        self: &Arc<Self>,
        workspace: WorkspaceId,
        articles: Vec<tandem_store::NewArticle>,
        status: ArticleStatus,
        author: Option<tandem_domain::UserId>,
    ) -> Result<Vec<Article>, StoreError> {
        let saved = self.store.save_articles(workspace, articles, status, author).await?;
        Arc::clone(self).changed(workspace).await?;
        Ok(saved)
    }

    /// Changes an article's status and returns once the engine reflects it.
    pub async fn set_status(
        self: &Arc<Self>,
        workspace: WorkspaceId,
        key: &str,
        status: ArticleStatus,
        author: Option<tandem_domain::UserId>,
    ) -> Result<Article, StoreError> {
        let article = self.store.set_article_status(workspace, key, status, author).await?;
        Arc::clone(self).changed(workspace).await?;
        Ok(article)
    }

    /// Whether the workspace's engine is a full build (no delta of recent changes pending).
    pub fn is_settled(&self, workspace: WorkspaceId) -> bool {
        self.current(workspace).is_some_and(|built| built.delta.is_none())
    }

    async fn engine_for(&self, workspace: WorkspaceId) -> Result<Arc<Built>, StoreError> {
        let now = (self.clock)();
        if let Some(built) = self.current(workspace) {
            if now < built.valid_until
                && (!self.due_for_check(workspace, now)
                    || self.store.knowledge_stamp(workspace).await? == built.stamp)
            {
                return Ok(built);
            }
            // An effective window opened or closed, or another process (or a change this one
            // has not applied yet) changed the knowledge: bring in the difference as a delta
            // now and rebuild in the background, rather than make this turn wait for a full
            // build.
            if let Some(this) = self.this.upgrade() {
                this.changed(workspace).await?;
                if let Some(built) =
                    self.current(workspace).filter(|built| (self.clock)() < built.valid_until)
                {
                    return Ok(built);
                }
            }
        }
        self.rebuild(workspace).await?;
        self.current(workspace).ok_or(StoreError::Database("engine missing after rebuild".into()))
    }

    /// Whether the store's knowledge stamp should be compared again (at most every
    /// [`STAMP_CHECK_MS`]); records the check.
    fn due_for_check(&self, workspace: WorkspaceId, now: Millis) -> bool {
        let Ok(mut checked) = self.checked.lock() else { return false };
        let last = checked.entry(workspace).or_insert(0);
        if now - *last < STAMP_CHECK_MS {
            return false;
        }
        *last = now;
        true
    }
}

#[async_trait]
impl Responder for KnowledgeResponder {
    async fn hand_off_summary(
        &self,
        workspace: WorkspaceId,
        messages: &[tandem_domain::Message],
        locale: Locale,
    ) -> Option<tandem_domain::ModelSummary> {
        use crate::llm::summary;
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
            Err(llm) => return Some(tandem_domain::ModelSummary { text: None, llm }),
        };
        let request = crate::llm::ChatRequest {
            messages: summary::summary_messages(&transcript, locale),
            tools: Vec::new(),
        };
        Some(match self.llm.call(&client, &request).await {
            Ok((completion, mut llm)) => {
                let text = summary::accepted(&completion.text, &transcript);
                llm.outcome = if text.is_some() { "used" } else { "rejected" }.to_owned();
                tandem_domain::ModelSummary { text, llm }
            }
            Err(llm) => tandem_domain::ModelSummary { text: None, llm },
        })
    }

    async fn respond(&self, turn: &Turn) -> BotReply {
        let phrases = Phrases::for_locale(turn.locale);
        let built = match self.engine_for(turn.inbox.workspace_id).await {
            Ok(built) => built,
            Err(error) => {
                tracing::warn!(%error, "knowledge unavailable; the bot cannot answer");
                return BotReply::text(phrases.cannot_answer, crate::Outcome::Abstain, false);
            }
        };
        let channel = Some(turn.inbox.channel);
        if let Some(pending) = &turn.conversation.pending_action
            && let Some(reply) = self.continue_action(turn, &built, pending.clone(), phrases).await
        {
            return reply;
        }
        if said_it_did_not_help(&turn.message.body)
            && let Some(reply) = next_step_after_failure(turn, &built, phrases)
        {
            return reply;
        }
        let started = std::time::Instant::now();
        let (mut decision, mut articles) = built.decide(&turn.message.body, channel);
        let mut query = turn.message.body.clone();
        // A short follow-up ("那电子产品呢？", "and for electronics?") is read with the question
        // before it, when that reading is the more confident one.
        if let Some(previous) = follow_up_context(turn) {
            let combined = format!("{previous} {}", turn.message.body);
            let (in_context, in_context_articles) = built.decide(&combined, channel);
            let best = |decision: &Decision| {
                decision.candidates.first().map_or(0.0, |candidate| candidate.score)
            };
            if best(&in_context) > best(&decision) {
                (decision, articles, query) = (in_context, in_context_articles, combined);
            }
        }
        let mut record = DecisionRecord {
            query,
            outcome: decision.outcome.as_str().to_owned(),
            threshold: decision.threshold,
            candidates: decision
                .candidates
                .iter()
                .zip(&articles)
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
        };
        // The best match is a business action: do it.
        if decision.outcome == Outcome::Answer
            && let Some(key) =
                articles.first().and_then(|article| article.key.strip_prefix(ACTION_PREFIX))
        {
            let key = key.to_owned();
            if let Some(reply) = self.start_action(turn, &key, record.clone(), phrases).await {
                return reply;
            }
        }
        // Nothing good enough: the workspace's model may still recognise a request for one of
        // the actions. It only chooses; the action then runs as if the engine had picked it.
        if decision.outcome == Outcome::Abstain
            && let Some(reply) = self.action_by_model(turn, &mut record, phrases).await
        {
            return reply;
        }
        let mut reply = reply(phrases, decision.outcome, &articles);
        // An answer from an article: the workspace's model may put it in its own words, from
        // the best few articles, if what it writes checks out against them. Clarifications and
        // abstentions never go to the model.
        if decision.outcome == Outcome::Answer
            && articles.first().is_some_and(|article| !article.key.starts_with(ACTION_PREFIX))
        {
            let passages: Vec<Article> = articles
                .iter()
                .filter(|article| !article.key.starts_with(ACTION_PREFIX))
                .take(crate::llm::answer::PASSAGES)
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

impl KnowledgeResponder {
    async fn action(&self, turn: &Turn, key: &str) -> Option<tandem_domain::Action> {
        match self.store.actions(turn.inbox.workspace_id).await {
            Ok(actions) => actions.into_iter().find(|action| action.key == key && action.enabled),
            Err(error) => {
                tracing::warn!(%error, "actions unavailable");
                None
            }
        }
    }

    async fn set_pending(&self, turn: &Turn, pending: Option<PendingAction>) -> bool {
        if turn.conversation.pending_action == pending {
            return true;
        }
        match self.store.set_pending_action(turn.conversation.id, pending).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(conversation_id = %turn.conversation.id, %error, "could not record the action in progress");
                false
            }
        }
    }

    /// Asks the workspace's model (when it is on, with tools allowed) whether the message asks
    /// for one of the enabled actions; runs the one it names with the arguments the customer
    /// wrote. Records the call in `record` either way.
    async fn action_by_model(
        &self,
        turn: &Turn,
        record: &mut DecisionRecord,
        phrases: &Phrases,
    ) -> Option<BotReply> {
        use crate::llm::tools;
        let workspace = turn.inbox.workspace_id;
        // Off (the default): the actions are not even read.
        let ready = self.llm.ready(self.store.as_ref(), workspace, |settings| settings.tools).await;
        if matches!(ready, Ok(None)) {
            return None;
        }
        let enabled: Vec<tandem_domain::Action> = match self.store.actions(workspace).await {
            Ok(actions) => actions.into_iter().filter(|action| action.enabled).collect(),
            Err(error) => {
                tracing::warn!(%error, "actions unavailable");
                return None;
            }
        };
        if enabled.is_empty() {
            return None;
        }
        let client = match ready {
            Ok(client) => client?,
            Err(failed) => {
                record.llm = Some(failed);
                return None;
            }
        };
        let mut earlier: Vec<&str> = turn
            .history
            .iter()
            .rev()
            .filter(|message| message.author_kind == tandem_domain::AuthorKind::Customer)
            .take(3)
            .map(|message| message.body.as_str())
            .collect();
        earlier.reverse();
        let request = crate::llm::ChatRequest {
            messages: tools::tool_messages(&turn.message.body, &earlier),
            tools: tools::tool_definitions(&enabled),
        };
        let (completion, mut llm) = match self.llm.call(&client, &request).await {
            Ok(done) => done,
            Err(failed) => {
                record.llm = Some(failed);
                return None;
            }
        };
        let choice = completion
            .tool_calls
            .iter()
            .find_map(|call| tools::chosen(call, &enabled).map(|action| (call, action)));
        let Some((call, action)) = choice else {
            llm.outcome = "refused".to_owned();
            record.llm = Some(llm);
            return None;
        };
        let mut said = earlier;
        said.push(&turn.message.body);
        let values = tools::chosen_values(action, call, &said);
        llm.outcome = "used".to_owned();
        llm.tool = Some(action.key.clone());
        record.llm = Some(llm);
        Some(self.proceed(turn, action, values, record.clone(), phrases).await)
    }

    /// The customer's message triggered `key`: collect its parameters, then run it.
    async fn start_action(
        &self,
        turn: &Turn,
        key: &str,
        record: DecisionRecord,
        phrases: &Phrases,
    ) -> Option<BotReply> {
        let action = self.action(turn, key).await?;
        Some(self.proceed(turn, &action, BTreeMap::new(), record, phrases).await)
    }

    /// The bot asked for a parameter: take it from this message, or ask again, or give up. A
    /// message that is plainly about something else drops the action (`None`: answer it).
    async fn continue_action(
        &self,
        turn: &Turn,
        built: &Built,
        pending: PendingAction,
        phrases: &Phrases,
    ) -> Option<BotReply> {
        let Some(action) = self.action(turn, &pending.action).await else {
            self.set_pending(turn, None).await;
            return None;
        };
        let record = DecisionRecord {
            query: turn.message.body.clone(),
            outcome: "action".to_owned(),
            threshold: built.policy.threshold,
            candidates: Vec::new(),
            knowledge_version: built.version.clone(),
            latency_us: 0,
            action: None,
            llm: None,
        };
        let asked = actions::needed_params(&action, &turn.customer)
            .into_iter()
            .find(|param| param.name == pending.asking);
        let given = asked.and_then(|param| actions::find_param(param, &turn.message.body, true));
        let mut values = pending.values.clone();
        if let (Some(param), Some(value)) = (asked, given) {
            values.insert(param.name.clone(), value);
            return Some(self.proceed(turn, &action, values, record, phrases).await);
        }
        // Not the value asked for: another question, or a value that does not fit.
        let (decision, articles) = built.decide(&turn.message.body, Some(turn.inbox.channel));
        let elsewhere = decision.outcome == Outcome::Answer
            && articles
                .first()
                .is_some_and(|article| article.key != format!("{ACTION_PREFIX}{}", action.key));
        if elsewhere {
            self.set_pending(turn, None).await;
            return None;
        }
        let mut record = record;
        let mut done =
            tandem_domain::ActionRecord { action: action.key.clone(), ..Default::default() };
        if pending.tries >= actions::MAX_TRIES {
            self.set_pending(turn, None).await;
            done.outcome = "gave_up".to_owned();
            record.action = Some(done);
            let mut reply = BotReply::text(phrases.action_gave_up, crate::Outcome::Abstain, true);
            reply.decision = Some(record);
            return Some(reply);
        }
        let ask = asked.map(|param| param.ask.get(turn.locale).to_owned()).unwrap_or_default();
        self.set_pending(turn, Some(PendingAction { tries: pending.tries + 1, ..pending })).await;
        done.outcome = "asking".to_owned();
        record.action = Some(done);
        let mut reply = BotReply::text(
            &format!("{}{ask}", phrases.action_retry),
            crate::Outcome::Clarify,
            false,
        );
        reply.decision = Some(record);
        Some(reply)
    }

    /// With what is known, ask for the next missing parameter or run the action.
    async fn proceed(
        &self,
        turn: &Turn,
        action: &tandem_domain::Action,
        mut values: BTreeMap<String, String>,
        mut record: DecisionRecord,
        phrases: &Phrases,
    ) -> BotReply {
        record.outcome = "action".to_owned();
        let mut done =
            tandem_domain::ActionRecord { action: action.key.clone(), ..Default::default() };
        if action.requires_verified && !turn.customer.verified && action.identity_check.is_none() {
            self.set_pending(turn, None).await;
            done.outcome = "login_required".to_owned();
            record.action = Some(done);
            let text = action.replies.login_required.get(turn.locale);
            let body = if text.is_empty() { phrases.login_required } else { text };
            let mut reply = BotReply::text(body, crate::Outcome::Answer, false);
            reply.decision = Some(record);
            return reply;
        }
        if let Some(missing) =
            actions::gather(action, &mut values, &turn.customer, &turn.message.body)
        {
            let pending = PendingAction {
                action: action.key.clone(),
                values,
                asking: missing.name.clone(),
                tries: 1,
            };
            self.set_pending(turn, Some(pending)).await;
            done.outcome = "asking".to_owned();
            record.action = Some(done);
            let mut reply =
                BotReply::text(missing.ask.get(turn.locale), crate::Outcome::Clarify, false);
            reply.decision = Some(record);
            return reply;
        }
        self.set_pending(turn, None).await;
        let started = std::time::Instant::now();
        let when = (turn.locale, (self.clock)(), turn.customer.verified);
        let run = actions::execute(&self.http, &self.secrets, action, &values, when).await;
        let source = match &action.policy_article {
            Some(key) => self
                .store
                .article(turn.inbox.workspace_id, key)
                .await
                .ok()
                .flatten()
                .filter(|article| article.version > 0)
                .map(|article| Source {
                    article: article.key,
                    title: article.title,
                    version: article.version,
                }),
            None => None,
        };
        let outcome = if run.record.outcome == "error" {
            crate::Outcome::Abstain
        } else {
            crate::Outcome::Answer
        };
        // The turn's time includes the calls to the business's systems.
        record.latency_us += started.elapsed().as_micros() as u64;
        record.action = Some(run.record);
        BotReply {
            body: run.reply,
            outcome,
            hand_off: run.hand_off,
            meta: source
                .map(|source| MessageMeta { source: Some(source), quick_replies: Vec::new() }),
            decision: Some(record),
        }
    }
}

/// Whether the customer says the last answer did not help.
pub(crate) fn said_it_did_not_help(text: &str) -> bool {
    const ZH: &[&str] = &[
        "没用",
        "没有用",
        "没帮助",
        "没有帮助",
        "不是这个",
        "没解决",
        "没有解决",
        "答非所问",
        "不对",
    ];
    const EN: &[&str] = &[
        "didn't help",
        "did not help",
        "not helpful",
        "doesn't help",
        "that's not it",
        "not what i asked",
        "wrong answer",
        "useless",
    ];
    let lower = text.to_lowercase();
    text.chars().count() <= 30
        && (ZH.iter().any(|phrase| text.contains(phrase))
            || EN.iter().any(|phrase| lower.contains(phrase)))
}

/// After "that didn't help": offer the other candidates for the question the failed answer
/// was for, or hand off to a person when there are none.
fn next_step_after_failure(turn: &Turn, built: &Built, phrases: &Phrases) -> Option<BotReply> {
    let policy = built.policy;
    let failed = turn
        .history
        .iter()
        .rev()
        .find(|message| message.author_kind == tandem_domain::AuthorKind::Bot)?;
    let failed_article = failed.meta.as_ref()?.source.as_ref()?.article.clone();
    let question = turn
        .history
        .iter()
        .rev()
        .filter(|message| {
            message.seq < failed.seq && message.author_kind == tandem_domain::AuthorKind::Customer
        })
        .map(|message| message.body.clone())
        .next()?;
    let (decision, articles) = built.rank(
        &question,
        Some(turn.inbox.channel),
        DecisionPolicy { clarify_margin: 0.0, ..policy },
    );
    let alternatives: Vec<String> = decision
        .candidates
        .iter()
        .zip(&articles)
        .filter(|(candidate, article)| {
            article.key != failed_article && candidate.score >= policy.threshold / 2.0
        })
        .take(2)
        .map(|(_, article)| article.title.clone())
        .collect();
    let mut reply = if alternatives.is_empty() {
        BotReply::text(phrases.sorry_handing_off, crate::Outcome::Abstain, true)
    } else {
        BotReply {
            body: phrases.clarify.to_owned(),
            outcome: crate::Outcome::Clarify,
            hand_off: false,
            meta: Some(MessageMeta { source: None, quick_replies: alternatives }),
            decision: None,
        }
    };
    reply.decision = Some(DecisionRecord {
        query: turn.message.body.clone(),
        outcome: if reply.hand_off { "hand_off" } else { "clarify" }.to_owned(),
        threshold: policy.threshold,
        candidates: Vec::new(),
        knowledge_version: built.version.clone(),
        latency_us: 0,
        action: None,
        llm: None,
    });
    Some(reply)
}

/// For a short message that reads as a follow-up, the customer's previous question.
fn follow_up_context(turn: &Turn) -> Option<String> {
    let text = turn.message.body.trim();
    let han = text.chars().filter(|character| tandem_text::is_han(*character)).count();
    let words = text.split_whitespace().count();
    const MARKERS: &[&str] =
        &["那", "那么", "还有", "如果是", "and ", "what about", "how about", "and for", "also "];
    let lower = text.to_lowercase();
    let short = if han > 0 { han <= 8 } else { words <= 5 };
    if !short || !MARKERS.iter().any(|marker| lower.starts_with(marker)) {
        return None;
    }
    turn.history
        .iter()
        .rev()
        .find(|message| message.author_kind == tandem_domain::AuthorKind::Customer)
        .map(|message| message.body.clone())
}

/// The bot's words for an engine outcome.
fn reply(phrases: &Phrases, outcome: Outcome, articles: &[Article]) -> BotReply {
    match outcome {
        Outcome::Answer => {
            let article = &articles[0];
            BotReply {
                body: article.answer.clone(),
                outcome: crate::Outcome::Answer,
                hand_off: false,
                meta: Some(MessageMeta {
                    source: Some(Source {
                        article: article.key.clone(),
                        title: article.title.clone(),
                        version: article.version,
                    }),
                    quick_replies: Vec::new(),
                }),
                decision: None,
            }
        }
        Outcome::Clarify => BotReply {
            body: phrases.clarify.to_owned(),
            outcome: crate::Outcome::Clarify,
            hand_off: false,
            meta: Some(MessageMeta {
                source: None,
                quick_replies: articles
                    .iter()
                    .take(2)
                    .map(|article| article.title.clone())
                    .collect(),
            }),
            decision: None,
        },
        Outcome::Abstain => BotReply::text(phrases.cannot_answer, crate::Outcome::Abstain, false),
    }
}
