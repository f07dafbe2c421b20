//! The engines a workspace's turns are answered from, kept built and up to date.
//!
//! One engine per workspace is kept built. Rebuilding it for a large knowledge base takes
//! seconds (the intent model is retrained), so a change is made answerable in two steps: at
//! once, the changed articles are indexed on their own as a small *delta* engine, and the base
//! engine's stale entries are masked; then the full rebuild runs in the background and replaces
//! both. An effective window opening or closing is noticed by the first turn after the moment,
//! which applies the difference the same way before answering, so an expired policy is never
//! served. A change of more than [`MAX_DELTA`] articles, or of the workspace's answer settings,
//! is built in full before the change counts as applied.
//!
//! Business actions take part as articles keyed [`ACTION_PREFIX`]`<key>` whose questions are
//! their triggers, so that an action wins only when it is the best match.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tandem_domain::{AnswerSettings, Article, ArticleStatus, Channel, Millis, WorkspaceId};
use tandem_flow::Clock;
use tandem_knowledge::calibrate::{self, Calibration};
use tandem_knowledge::{Candidate, Decision, DecisionPolicy, Engine};
use tandem_store::{Change, Store, StoreError};
use tandem_text::Dictionary;
use tokio::sync::broadcast;

/// The key prefix of the articles that stand for business actions in the engine.
pub const ACTION_PREFIX: &str = "action:";

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
pub(crate) struct Built {
    base: Arc<Indexed>,
    /// Articles changed since `base` was built, indexed on their own.
    delta: Option<Arc<Indexed>>,
    /// Keys whose entries in `base` are stale: changed, or no longer live.
    masked: HashSet<String>,
    /// The next moment an effective window opens or closes: rebuild from then on.
    valid_until: Millis,
    /// Which knowledge this is, for decision records.
    pub(crate) version: String,
    /// The store's knowledge stamp for the articles this was built from.
    stamp: (i64, Millis),
    /// The workspace's settings this was built with, and the decision policy they make.
    pub(crate) settings: AnswerSettings,
    pub(crate) policy: DecisionPolicy,
    /// The threshold learnt from the articles of the last full build (in force unless the
    /// workspace set its own); `None` when they have too few variants to learn from.
    pub(crate) calibration: Option<Calibration>,
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
    /// The live article keyed `key` that serves `channel` (any, when `None`), as turns are
    /// answered from it now: the delta's version of a changed article, never a stale one.
    pub(crate) fn live(&self, key: &str, channel: Option<Channel>) -> Option<&Article> {
        let serves = |article: &&Article| channel.is_none_or(|channel| article.serves(channel));
        if let Some(delta) = &self.delta
            && let Some(article) = delta.articles.iter().find(|article| article.key == key)
        {
            return Some(article).filter(serves);
        }
        if self.masked.contains(key) {
            return None;
        }
        self.base.articles.iter().find(|article| article.key == key).filter(serves)
    }

    /// Scores `question` against the base (stale keys left out) and the delta, best first,
    /// over the articles that serve `channel` (all, when `None`).
    pub(crate) fn decide(
        &self,
        question: &str,
        channel: Option<Channel>,
    ) -> (Decision, Vec<Article>) {
        self.decide_by(question, channel, self.policy, Engine::candidates_where)
    }

    /// Like `decide`, but ranks every article even for a word-for-word question.
    pub(crate) fn rank(
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

/// Every workspace's built engine, following the store's knowledge changes.
pub(crate) struct Engines {
    /// These engines, for the rebuild a change starts in the background.
    this: Weak<Engines>,
    store: Arc<dyn Store>,
    /// The server's decision policy (a workspace may set its own threshold).
    pub(crate) policy: DecisionPolicy,
    built: Mutex<HashMap<WorkspaceId, Arc<Built>>>,
    /// When each workspace's knowledge stamp was last compared with the store.
    checked: Mutex<HashMap<WorkspaceId, Millis>>,
    /// Counts knowledge changes, so that a slow full rebuild never replaces a newer state.
    generation: AtomicU64,
    /// Woken whenever a workspace's engine is replaced.
    installed: tokio::sync::Notify,
    /// What time it is, for effective windows: the system clock, or a test's own.
    clock: Clock,
}

impl Engines {
    /// Starts following the store's knowledge changes; engines are built on first use.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        policy: DecisionPolicy,
        clock: Clock,
    ) -> Arc<Engines> {
        let engines = Arc::new_cyclic(|this| Engines {
            this: this.clone(),
            store,
            policy,
            built: Mutex::new(HashMap::new()),
            checked: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            installed: tokio::sync::Notify::new(),
            clock,
        });
        let follower = Arc::downgrade(&engines);
        tandem_flow::supervise("knowledge: change feed", move |restarts| {
            let follower = follower.clone();
            async move {
                let Some(engines) = follower.upgrade() else { return };
                let mut feed = engines.store.subscribe();
                if restarts > 0 {
                    // Knowledge changes may have gone by meanwhile: rebuild on next use.
                    engines.forget_all();
                }
                drop(engines);
                loop {
                    let change = feed.recv().await;
                    let Some(engines) = follower.upgrade() else { return };
                    match change {
                        Ok(Change::Knowledge(workspace)) => {
                            if let Err(error) = Arc::clone(&engines).changed(workspace).await {
                                tracing::warn!(workspace_id = %workspace, %error, "knowledge update failed");
                            }
                        }
                        Ok(_) => {}
                        // Knowledge changes may have been missed: rebuild on next use.
                        Err(broadcast::error::RecvError::Lagged(_)) => engines.forget_all(),
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });
        engines
    }

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

    /// Drops every built engine: each is rebuilt from the store on its next use.
    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut built) = self.built.lock() {
            built.clear();
        }
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
    pub(crate) async fn changed(self: Arc<Self>, workspace: WorkspaceId) -> Result<(), StoreError> {
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
                calibration: current.calibration,
            },
        );
        let engines = Arc::clone(&self);
        tokio::spawn(async move {
            if engines.generation.load(Ordering::SeqCst) != generation {
                return; // A newer change will rebuild.
            }
            if let Err(error) = engines.rebuild_if_current(workspace, generation).await {
                tracing::warn!(workspace_id = %workspace, %error, "knowledge rebuild failed");
            }
        });
        Ok(())
    }

    /// Rebuilds the workspace's engine from its live articles.
    pub(crate) async fn rebuild(&self, workspace: WorkspaceId) -> Result<(), StoreError> {
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
        let policy = self.policy;
        let now = (self.clock)();
        let built = tokio::task::spawn_blocking(move || {
            let valid_until = valid_until(&articles, now);
            let stamp = stamp(&articles, &settings);
            let live: Vec<Article> =
                articles.into_iter().filter(|article| article.live_at(now)).collect();
            let version = knowledge_version(&live);
            let dictionary = Dictionary::new(settings.dictionary.iter().map(String::as_str));
            let base = Indexed::build(live, dictionary);
            let calibration = calibrate::calibrate(&base.engine);
            let threshold = settings
                .threshold
                .or(calibration.map(|calibration| calibration.threshold))
                .unwrap_or(policy.threshold);
            Built {
                base: Arc::new(base),
                delta: None,
                masked: HashSet::new(),
                valid_until,
                version,
                stamp,
                settings,
                policy: DecisionPolicy { threshold, ..policy },
                calibration,
            }
        })
        .await
        .map_err(|error| StoreError::Panicked(format!("engine build failed: {error}")))?;
        // A change that arrived during the build has its own delta in place: keep that.
        if self.generation.load(Ordering::SeqCst) == generation || self.current(workspace).is_none()
        {
            self.install(workspace, built);
        }
        Ok(())
    }

    /// Replaces the workspace's answer settings and returns once turns are answered with them.
    pub(crate) async fn save_settings(
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
    pub(crate) async fn save(
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
    pub(crate) async fn set_status(
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
    pub(crate) fn is_settled(&self, workspace: WorkspaceId) -> bool {
        self.current(workspace).is_some_and(|built| built.delta.is_none())
    }

    /// The workspace's engine as of now: built on first use, brought up to date with changes
    /// made by another process and with effective windows that opened or closed.
    pub(crate) async fn get(&self, workspace: WorkspaceId) -> Result<Arc<Built>, StoreError> {
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
        self.current(workspace).ok_or(StoreError::database("engine missing after rebuild"))
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
