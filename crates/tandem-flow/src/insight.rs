//! The reports' working set: each workspace's conversation facts in memory, loaded from the
//! store on first use and kept current from the change feed, so that a report over a million
//! conversations is a scan of memory rather than of the database. The figures themselves are
//! `tandem_domain::insight`'s, the same as `tandem report` computes straight from the store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_domain::{
    ConversationFacts, ConversationId, GroupBy, Metric, Millis, QueueRouting, Report,
    ReportContext, ReportDocument, WorkspaceId,
};
use tandem_store::{Change, Store, StoreResult};
use tokio::sync::{RwLock, broadcast};

/// How long a loaded table is trusted before it is read again in full (to pick up what other
/// processes wrote, such as `tandem import conversations`).
const RELOAD_AFTER: Duration = Duration::from_secs(600);

/// Runs a report's computation (up to a few hundred milliseconds over a million
/// conversations) without holding up the runtime's other tasks: on a multi-threaded runtime
/// the worker hands its tasks to others meanwhile.
fn computing<T>(work: impl FnOnce() -> T) -> T {
    let multi_threaded = tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
        runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    });
    if multi_threaded { tokio::task::block_in_place(work) } else { work() }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Invalid(#[from] tandem_domain::ValidationError),
    #[error(transparent)]
    Store(#[from] tandem_store::StoreError),
}

/// See the module documentation.
#[derive(Clone)]
pub struct Insight {
    store: Arc<dyn Store>,
    tables: Arc<Mutex<HashMap<WorkspaceId, Arc<RwLock<Table>>>>>,
}

#[derive(Default)]
struct Table {
    facts: Vec<ConversationFacts>,
    index: HashMap<ConversationId, usize>,
    /// Changed since they were read.
    dirty: HashSet<ConversationId>,
    loaded_at: Option<Instant>,
}

impl Table {
    fn remove(&mut self, conversations: &[ConversationId]) {
        let gone: HashSet<ConversationId> = conversations.iter().copied().collect();
        for id in &gone {
            self.dirty.remove(id);
        }
        if !gone.iter().any(|id| self.index.contains_key(id)) {
            return;
        }
        self.facts.retain(|facts| !gone.contains(&facts.conversation_id));
        self.index =
            self.facts.iter().enumerate().map(|(at, facts)| (facts.conversation_id, at)).collect();
    }

    fn upsert(&mut self, facts: ConversationFacts) {
        match self.index.get(&facts.conversation_id) {
            Some(&at) => self.facts[at] = facts,
            None => {
                self.index.insert(facts.conversation_id, self.facts.len());
                self.facts.push(facts);
            }
        }
    }
}

impl Insight {
    pub fn new(store: Arc<dyn Store>) -> Insight {
        Insight { store, tables: Arc::default() }
    }

    /// Follows the store's change feed, marking the conversations that changed; run it under
    /// [`crate::supervise`].
    pub async fn follow(self) {
        let mut feed = self.store.subscribe();
        loop {
            match feed.recv().await {
                Ok(Change::Message { conversation, .. })
                | Ok(Change::Conversation(conversation)) => {
                    self.mark(conversation.workspace_id, conversation.id).await;
                }
                Ok(Change::Knowledge(_) | Change::Agents(_)) => {}
                Ok(Change::Erased { workspace, conversations }) => {
                    self.forget(workspace, &conversations).await;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => self.invalidate_all(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    async fn mark(&self, workspace: WorkspaceId, conversation: ConversationId) {
        let table = self.tables.lock().expect("insight tables").get(&workspace).cloned();
        if let Some(table) = table {
            table.write().await.dirty.insert(conversation);
        }
    }

    /// Drops erased conversations from the workspace's loaded table, so no report counts them.
    pub async fn forget(&self, workspace: WorkspaceId, conversations: &[ConversationId]) {
        let table = self.tables.lock().expect("insight tables").get(&workspace).cloned();
        if let Some(table) = table {
            table.write().await.remove(conversations);
        }
    }

    /// Forgets every loaded table: the next report reads the store again.
    pub fn invalidate_all(&self) {
        self.tables.lock().expect("insight tables").clear();
    }

    /// Forgets one workspace's table (after an import).
    pub fn invalidate(&self, workspace: WorkspaceId) {
        self.tables.lock().expect("insight tables").remove(&workspace);
    }

    /// The workspace's table, loaded and brought up to date.
    async fn table(&self, workspace: WorkspaceId) -> StoreResult<Arc<RwLock<Table>>> {
        let table =
            self.tables.lock().expect("insight tables").entry(workspace).or_default().clone();
        let mut guard = table.write().await;
        let stale = guard.loaded_at.is_none_or(|loaded| loaded.elapsed() > RELOAD_AFTER);
        if stale {
            let facts = self.store.conversation_facts(workspace, Millis::MIN, Millis::MAX).await?;
            let index = facts.iter().enumerate().map(|(at, facts)| (facts.conversation_id, at));
            *guard = Table {
                index: index.collect(),
                facts,
                dirty: HashSet::new(),
                loaded_at: Some(Instant::now()),
            };
        } else if !guard.dirty.is_empty() {
            let dirty: Vec<ConversationId> = guard.dirty.drain().collect();
            for facts in self.store.facts_of(workspace, dirty).await? {
                guard.upsert(facts);
            }
        }
        drop(guard);
        Ok(table)
    }

    /// The report's context for a workspace now: its queues' SLAs, in `time_zone`.
    pub async fn context(
        &self,
        workspace: WorkspaceId,
        time_zone: jiff::tz::TimeZone,
        now: Millis,
    ) -> StoreResult<ReportContext> {
        let queues = self.store.queues(workspace).await?;
        Ok(ReportContext {
            now,
            time_zone,
            sla_ms: queues.iter().map(|queue| (queue.id, queue.routing.sla_ms)).collect(),
            default_sla_ms: QueueRouting::default().sla_ms,
        })
    }

    /// The KPIs of conversations created in `[from, to)`, in total and per group, of those
    /// `filter` keeps.
    pub async fn report(
        &self,
        workspace: WorkspaceId,
        period: (Millis, Millis),
        by: Option<GroupBy>,
        context: &ReportContext,
        filter: impl Fn(&ConversationFacts) -> bool + Sync,
    ) -> StoreResult<Report> {
        let table = self.table(workspace).await?;
        let table = table.read().await;
        Ok(computing(|| {
            tandem_domain::insight::report_of(&table.facts, &filter, period, by, context)
        }))
    }

    /// The report `tandem report` prints and `GET /api/v1/reports/kpis` answers: the period read
    /// with [`tandem_domain::insight::period`], its KPIs in total and per named group.
    pub async fn document(
        &self,
        workspace: WorkspaceId,
        (from, to): (Option<&str>, Option<&str>),
        by: Option<GroupBy>,
        context: &ReportContext,
        filter: impl Fn(&ConversationFacts) -> bool + Sync,
    ) -> Result<ReportDocument, ReportError> {
        let (period, (from, to)) = tandem_domain::insight::period(from, to, context)?;
        let mut report = self.report(workspace, period, by, context, filter).await?;
        self.name_rows(workspace, by, &mut report).await?;
        Ok(ReportDocument { from, to, by, total: report.total, rows: report.rows })
    }

    /// Names the rows of a report grouped `by`: queues and agents by name, article topics by
    /// title.
    pub async fn name_rows(
        &self,
        workspace: WorkspaceId,
        by: Option<GroupBy>,
        report: &mut Report,
    ) -> StoreResult<()> {
        let names: HashMap<String, String> = match by {
            Some(GroupBy::Queue) => self
                .store
                .queues(workspace)
                .await?
                .into_iter()
                .map(|queue| (queue.id.0.to_string(), queue.name))
                .collect(),
            Some(GroupBy::Agent) => self
                .store
                .users(workspace)
                .await?
                .into_iter()
                .map(|user| (user.id.0.to_string(), user.display_name))
                .collect(),
            Some(GroupBy::Topic) => self
                .store
                .articles(workspace)
                .await?
                .into_iter()
                .map(|article| (article.key, article.title))
                .collect(),
            _ => HashMap::new(),
        };
        for row in &mut report.rows {
            row.label = names.get(&row.key).cloned();
        }
        Ok(())
    }

    /// Reads the conversations of the period in `metric`'s population that `filter` keeps,
    /// in no particular order, without copying them (for figures a page computes itself).
    pub async fn select<T>(
        &self,
        workspace: WorkspaceId,
        period: (Millis, Millis),
        metric: Metric,
        context: &ReportContext,
        filter: impl Fn(&ConversationFacts) -> bool + Sync,
        read: impl FnOnce(&[&ConversationFacts]) -> T,
    ) -> StoreResult<T> {
        let table = self.table(workspace).await?;
        let table = table.read().await;
        let keep = |facts: &ConversationFacts| {
            (period.0..period.1).contains(&facts.created_at)
                && context.includes(facts, metric)
                && filter(facts)
        };
        Ok(computing(|| read(&tandem_domain::insight::select(&table.facts, &keep))))
    }

    /// The conversations behind a figure: created in `[from, to)`, in the group `key` of `by`
    /// when given, in `metric`'s population and kept by `filter`; how many there are, and the
    /// newest `limit` of them (`usize::MAX`: all), newest first.
    #[allow(clippy::too_many_arguments)]
    pub async fn conversations_page(
        &self,
        workspace: WorkspaceId,
        period: (Millis, Millis),
        group: Option<(GroupBy, &str)>,
        metric: Metric,
        context: &ReportContext,
        filter: impl Fn(&ConversationFacts) -> bool,
        limit: usize,
    ) -> StoreResult<(usize, Vec<ConversationFacts>)> {
        let table = self.table(workspace).await?;
        let table = table.read().await;
        let mut found: Vec<&ConversationFacts> = table
            .facts
            .iter()
            .filter(|facts| (period.0..period.1).contains(&facts.created_at))
            .filter(|facts| group.is_none_or(|(by, key)| context.key(facts, by) == key))
            .filter(|facts| context.includes(facts, metric) && filter(facts))
            .collect();
        let total = found.len();
        let newest = |facts: &&ConversationFacts| {
            std::cmp::Reverse((facts.created_at, facts.conversation_id))
        };
        if limit < total {
            found.select_nth_unstable_by_key(limit, newest);
            found.truncate(limit);
        }
        found.sort_by_key(newest);
        Ok((total, found.into_iter().cloned().collect()))
    }
}
