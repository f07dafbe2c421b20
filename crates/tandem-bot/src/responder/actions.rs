//! The stages of a turn that involve business actions: an action in progress (slot
//! filling), an action the engine matched, and an action the model chose.

use std::collections::BTreeMap;

use tandem_domain::{
    Action, ActionOutcome, ActionRecord, DecisionRecord, LlmOutcome, MessageMeta, PendingAction,
    TurnOutcome,
};
use tandem_flow::{BotReply, Phrases, Turn};
use tandem_knowledge::Outcome;

use super::{Decided, KnowledgeResponder};
use crate::actions;
use crate::engines::{ACTION_PREFIX, Built};

impl KnowledgeResponder {
    /// Stage 1: the bot asked for a parameter of an action in progress.
    pub(super) async fn pending_action(
        &self,
        turn: &Turn,
        built: &Built,
        phrases: &Phrases,
    ) -> Option<BotReply> {
        let pending = turn.conversation.pending_action.clone()?;
        self.continue_action(turn, built, pending, phrases).await
    }

    /// Stage 4: the best match is a business action: collect its parameters and run it.
    pub(super) async fn business_action(
        &self,
        turn: &Turn,
        decided: &Decided,
        phrases: &Phrases,
    ) -> Option<BotReply> {
        if decided.decision.outcome != Outcome::Answer {
            return None;
        }
        let key = decided.articles.first()?.key.strip_prefix(ACTION_PREFIX)?;
        self.start_action(turn, key, decided.record.clone(), phrases).await
    }

    /// Stage 5: nothing good enough; the workspace's model may still recognise a request for
    /// one of the actions. It only chooses; the action then runs as if the engine had picked
    /// it. The call is recorded in the decision record either way.
    pub(super) async fn model_tools(
        &self,
        turn: &Turn,
        decided: &mut Decided,
        phrases: &Phrases,
    ) -> Option<BotReply> {
        if decided.decision.outcome != Outcome::Abstain {
            return None;
        }
        self.action_by_model(turn, &mut decided.record, phrases).await
    }

    async fn action(&self, turn: &Turn, key: &str) -> Option<Action> {
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
        use tandem_llm::tools;
        let workspace = turn.inbox.workspace_id;
        // Off (the default): the actions are not even read.
        let ready = self.llm.ready(self.store.as_ref(), workspace, |settings| settings.tools).await;
        if matches!(ready, Ok(None)) {
            return None;
        }
        let enabled: Vec<Action> = match self.store.actions(workspace).await {
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
        let request = tandem_llm::ChatRequest {
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
            llm.outcome = LlmOutcome::Refused;
            record.llm = Some(llm);
            return None;
        };
        let mut said = earlier;
        said.push(&turn.message.body);
        let values = actions::chosen_values(action, call, &said);
        llm.outcome = LlmOutcome::Used;
        llm.tool = Some(action.key.clone());
        record.llm = Some(llm);
        Some(self.proceed(turn, action, values, record.clone(), phrases).await)
    }

    /// The customer's message triggered `key`: collect its parameters, then run it.
    pub(super) async fn start_action(
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
            outcome: TurnOutcome::Action,
            threshold: built.policy.threshold,
            candidates: Vec::new(),
            knowledge_version: built.version.clone(),
            latency_us: 0,
            action: None,
            llm: None,
            parts: Vec::new(),
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
        let mut done = ActionRecord::new(&action.key, ActionOutcome::Asking);
        if pending.tries >= actions::MAX_TRIES {
            self.set_pending(turn, None).await;
            done.outcome = ActionOutcome::GaveUp;
            record.action = Some(done);
            let mut reply = BotReply::text(phrases.action_gave_up, TurnOutcome::Abstain, true);
            reply.decision = Some(record);
            return Some(reply);
        }
        let ask = asked.map(|param| param.ask.get(turn.locale).to_owned()).unwrap_or_default();
        self.set_pending(turn, Some(PendingAction { tries: pending.tries + 1, ..pending })).await;
        record.action = Some(done);
        let mut reply =
            BotReply::text(&format!("{}{ask}", phrases.action_retry), TurnOutcome::Clarify, false);
        reply.decision = Some(record);
        Some(reply)
    }

    /// With what is known, ask for the next missing parameter or run the action.
    async fn proceed(
        &self,
        turn: &Turn,
        action: &Action,
        mut values: BTreeMap<String, String>,
        mut record: DecisionRecord,
        phrases: &Phrases,
    ) -> BotReply {
        record.outcome = TurnOutcome::Action;
        if action.requires_verified && !turn.customer.verified && action.identity_check.is_none() {
            self.set_pending(turn, None).await;
            record.action = Some(ActionRecord::new(&action.key, ActionOutcome::LoginRequired));
            let text = action.replies.login_required.get(turn.locale);
            let body = if text.is_empty() { phrases.login_required } else { text };
            let mut reply = BotReply::text(body, TurnOutcome::Answer, false);
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
            record.action = Some(ActionRecord::new(&action.key, ActionOutcome::Asking));
            let mut reply =
                BotReply::text(missing.ask.get(turn.locale), TurnOutcome::Clarify, false);
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
                .map(|article| article.source()),
            None => None,
        };
        let outcome = if run.record.outcome == ActionOutcome::Error {
            TurnOutcome::Abstain
        } else {
            TurnOutcome::Answer
        };
        // The turn's time includes the calls to the business's systems.
        record.latency_us += started.elapsed().as_micros() as u64;
        record.action = Some(run.record);
        BotReply {
            body: run.reply,
            outcome,
            hand_off: run.hand_off,
            meta: source.map(|source| MessageMeta {
                source: Some(source),
                quick_replies: Vec::new(),
                more_sources: Vec::new(),
                ..MessageMeta::default()
            }),
            decision: Some(record),
        }
    }
}
