//! The relay: the conversation flow between the customer, the bot and the people.

use std::sync::Arc;

use tokio::sync::broadcast;

use tandem_domain::{
    ActionOutcome, AuthorKind, Conversation, ConversationId, ConversationState, Customer,
    DecisionRecord, EscalationDecision, EscalationOutcome, EscalationPolicy, Inbox, Locale,
    Message, MessageId, MessageMeta, Millis, Reason, TimeZoneName, Transition, TransitionError,
    TurnOutcome, User, ValidationError, validate,
};
use tandem_routing::BusinessHours;
use tandem_store::{Appended, MessageTarget, NewMessage, RouteChange, Store, StoreError};

use crate::triage::{self, CustomerTurn, PacketInput, Situation};
use crate::{Draft, DraftSink, Phrases, Responder, Turn, detect_locale};

/// Who and what an escalation is about.
#[derive(Clone, Copy)]
struct Escalation<'a> {
    inbox: &'a Inbox,
    customer: &'a Customer,
    policy: &'a EscalationPolicy,
    turns: &'a [CustomerTurn],
    phrases: &'static Phrases,
    /// The bot's decision on the newest message when it is not stored (a draft handed over for
    /// approval, or the engine's reading of a message handed off before the bot's turn): what
    /// the hand-off is about.
    current: Option<&'a DecisionRecord>,
}

/// Where an escalation left the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escalated {
    /// In the queue (or it was no longer the bot's to give).
    Queued,
    /// After hours: a ticket that stays with the bot until the queue opens; `noted` when the
    /// customer was told so now (the first time).
    Ticket { noted: bool },
}

/// Drafts the socket hub may fall behind by before it misses some (a missed draft is only a
/// missed preview: the stored reply follows).
const DRAFT_QUEUE: usize = 1024;

/// Ended turns a slow follower may fall behind by before it misses some.
const TURN_QUEUE: usize = 256;

/// The relay is done with a customer's message: the bot replied, or it will not (see
/// [`Relay::turns`]).
#[derive(Debug, Clone)]
pub struct TurnEnded {
    pub conversation: ConversationId,
    /// The customer's message.
    pub message: MessageId,
    /// The bot's reply, as stored; `None` when no turn ran (the bot did not own the
    /// conversation), when the turn handed off or a person took over before the reply was
    /// written, or when the turn failed (which is logged).
    pub reply: Option<Message>,
}

/// Ends a turn's draft when dropped.
struct EndPreview(Option<DraftSink>);

impl Drop for EndPreview {
    fn drop(&mut self) {
        if let Some(drafts) = &self.0 {
            drafts.finish();
        }
    }
}

/// The most messages a wrap-up reads, from the start: what the customer wanted and the first
/// replies are there.
const WRAPUP_MESSAGES: i64 = 500;

/// How many earlier messages an engine sees.
const HISTORY_FOR_ENGINE: u32 = 20;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message a customer sends.
#[derive(Debug, Clone)]
pub struct CustomerSend {
    pub inbox: Inbox,
    pub customer: Customer,
    pub client_msg_id: Option<String>,
    pub body: String,
}

/// Runs the conversation flow. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    store: Arc<dyn Store>,
    responder: Arc<dyn Responder>,
    /// Replies being written, for the customers' sockets.
    drafts: broadcast::Sender<Arc<Draft>>,
    /// Customer messages the relay is done with.
    turns: broadcast::Sender<TurnEnded>,
    /// The bot's turns running now, for a shutdown that lets them finish.
    running: Arc<Running>,
    /// Customer messages whose turn this process resumed for a node that stopped: each once.
    adopted: Arc<std::sync::Mutex<std::collections::HashSet<MessageId>>>,
}

/// A count of running turns and a way to wait for none.
#[derive(Default)]
struct Running {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// One running turn; counted down when dropped, however the turn ends.
struct RunningTurn(Arc<Running>);

impl RunningTurn {
    fn start(running: &Arc<Running>) -> RunningTurn {
        running.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        RunningTurn(Arc::clone(running))
    }
}

impl Drop for RunningTurn {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// How far back a restart looks for customer messages whose turn it cut off.
pub const RESUME_WINDOW_MS: i64 = 60 * 60 * 1000;

/// The most cut-off turns one restart resumes.
const RESUME_LIMIT: u32 = 10_000;

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Relay")
    }
}

impl Relay {
    pub fn new(store: Arc<dyn Store>, responder: Arc<dyn Responder>) -> Relay {
        Relay {
            store,
            responder,
            drafts: broadcast::channel(DRAFT_QUEUE).0,
            turns: broadcast::channel(TURN_QUEUE).0,
            running: Arc::default(),
            adopted: Arc::default(),
        }
    }

    /// Runs the bot's turns that a restart cut off: every customer message of the last
    /// [`RESUME_WINDOW_MS`] that is still the last word of a conversation the bot has. The
    /// message was stored (and acknowledged) before its turn began, so it is answered now; a
    /// turn that had finished left a reply or a hand-off behind and is not run again (and the
    /// reply's `client_msg_id` keeps one reply per message even if it were). Returns how many
    /// turns it started.
    pub async fn resume_turns(&self) -> Result<usize, RelayError> {
        self.resume_turns_before(Millis::MAX, false).await
    }

    /// With several nodes on one store: resumes the bot's turns for customer messages stored
    /// before `before` (old enough that a running node would have finished them) that are
    /// still unanswered, because the node that took them stopped. Each message is resumed at
    /// most once by this process, so a turn that fails is not retried forever. Run by the one
    /// node holding the job's lease.
    pub async fn adopt_orphaned_turns(&self, before: Millis) -> Result<usize, RelayError> {
        self.resume_turns_before(before, true).await
    }

    async fn resume_turns_before(&self, before: Millis, once: bool) -> Result<usize, RelayError> {
        let since = tandem_store::now_millis() - RESUME_WINDOW_MS;
        let awaiting = self.store.awaiting_bot(since, RESUME_LIMIT).await?;
        let mut started = 0;
        for appended in awaiting {
            if appended.message.created_at >= before {
                continue;
            }
            if once {
                let mut adopted =
                    self.adopted.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if !adopted.insert(appended.message.id) {
                    continue;
                }
            }
            let conversation = &appended.conversation;
            let inbox = self.store.inbox(conversation.inbox_id).await?;
            let customer = self.store.customer(conversation.customer_id).await?;
            let (Some(inbox), Some(customer)) = (inbox, customer) else { continue };
            self.spawn_turn(inbox, customer, appended, None);
            started += 1;
        }
        Ok(started)
    }

    /// Waits until no bot turn is running, or `timeout` has passed; returns how many still
    /// run (a restart resumes them).
    pub async fn finish_turns(&self, timeout: std::time::Duration) -> usize {
        let running = &self.running;
        let wait = async {
            loop {
                let idle = running.idle.notified();
                if running.count.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        running.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Runs a bot turn in the background, counted while it runs.
    fn spawn_turn(
        &self,
        inbox: Inbox,
        customer: Customer,
        appended: Appended,
        analysis: Option<tandem_text::Analysis>,
    ) {
        let relay = self.clone();
        let running = RunningTurn::start(&self.running);
        tokio::spawn(async move {
            let _running = running;
            let (conversation, workspace) = (appended.conversation.id, inbox.workspace_id);
            let turn = relay.bot_turn_read(inbox, customer, appended, analysis);
            if let Err(error) = turn.await {
                tracing::warn!(conversation_id = %conversation, workspace_id = %workspace, %error, "bot turn failed");
            }
        });
    }

    /// Follows the replies being written (streamed model answers), for the customers' sockets.
    pub fn drafts(&self) -> broadcast::Receiver<Arc<Draft>> {
        self.drafts.subscribe()
    }

    /// Tells when the relay is done with each customer message it stored anew (a repeated send
    /// that was already stored gets none): once the bot's turn has ended, with its reply if it
    /// gave one, or at once when the bot does not own the conversation and no turn runs. For
    /// whoever follows the bot's work (a typing indicator, counts of turns), and for tests,
    /// which can wait for this instead of sleeping to see that the bot stayed silent.
    pub fn turns(&self) -> broadcast::Receiver<TurnEnded> {
        self.turns.subscribe()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Stores a customer's message in their current conversation (starting or reopening it as
    /// needed) and returns once it is durable. If the bot owns the conversation, the bot's
    /// turn then runs in the background; its reply arrives through the change feed.
    pub async fn customer_message(&self, send: CustomerSend) -> Result<Appended, RelayError> {
        let target = MessageTarget::CustomerLatest {
            inbox_id: send.inbox.id,
            customer_id: send.customer.id,
        };
        self.customer_message_to(send, target, None).await
    }

    /// [`Relay::customer_message`] into a chosen conversation (`target`: an e-mail thread's
    /// conversation, or a new one for a new thread), with what the customer's channel says
    /// of the message (`meta`).
    pub async fn customer_message_to(
        &self,
        send: CustomerSend,
        target: MessageTarget,
        meta: Option<MessageMeta>,
    ) -> Result<Appended, RelayError> {
        let body = validate::message_body(&send.body)?;
        let client_msg_id =
            send.client_msg_id.as_deref().map(validate::client_msg_id).transpose()?;
        // Read here, before the write, so the reports' sentiment shift is current with it; the
        // bot's turn reads the same analysis.
        let analysis = tandem_text::analyze(&body);
        let appended = self
            .store
            .append_message(NewMessage {
                target,
                author_kind: AuthorKind::Customer,
                author_id: None,
                author_name: Some(send.customer.name.clone()),
                body,
                client_msg_id,
                reopen_if_resolved: true,
                only_while_bot_owns: false,
                meta,
                decision: None,
                sentiment: Some(analysis.sentiment),
            })
            .await?;
        if appended.created && appended.conversation.state.bot_may_reply() {
            self.spawn_turn(send.inbox, send.customer, appended.clone(), Some(analysis));
        } else if appended.created {
            self.turn_ended(appended.conversation.id, appended.message.id, None);
        }
        Ok(appended)
    }

    /// Runs the bot's turn for one customer message: the escalation policy decides first
    /// whether the bot answers, drafts for a person's approval, or hands off now; after an
    /// answer it decides again (the bot may have failed once too often). Returns the bot's
    /// message, or `None` when it did not reply (handed off, or a person took over first).
    /// Followers of [`Relay::turns`] hear of it when it ends.
    pub async fn bot_turn(
        &self,
        inbox: Inbox,
        customer: Customer,
        appended: Appended,
    ) -> Result<Option<Message>, RelayError> {
        self.bot_turn_read(inbox, customer, appended, None).await
    }

    /// [`Relay::bot_turn`] with the customer message's analysis when it was already read.
    async fn bot_turn_read(
        &self,
        inbox: Inbox,
        customer: Customer,
        appended: Appended,
        analysis: Option<tandem_text::Analysis>,
    ) -> Result<Option<Message>, RelayError> {
        let (conversation, message) = (appended.conversation.id, appended.message.id);
        let ended = self.run_bot_turn(inbox, customer, appended, analysis).await;
        self.turn_ended(conversation, message, ended.as_ref().ok().cloned().flatten());
        ended
    }

    fn turn_ended(&self, conversation: ConversationId, message: MessageId, reply: Option<Message>) {
        // Nobody may be listening: that is fine.
        let _ = self.turns.send(TurnEnded { conversation, message, reply });
    }

    async fn run_bot_turn(
        &self,
        inbox: Inbox,
        customer: Customer,
        appended: Appended,
        analysis: Option<tandem_text::Analysis>,
    ) -> Result<Option<Message>, RelayError> {
        let conversation = appended.conversation.id;
        let mut history = self
            .store
            .messages(
                conversation,
                (appended.message.seq - 1 - i64::from(HISTORY_FOR_ENGINE)).max(0),
                HISTORY_FOR_ENGINE,
            )
            .await?;
        history.retain(|message| {
            message.seq < appended.message.seq && message.author_kind.visible_to_customer()
        });
        let policy = self.store.escalation_policy(inbox.workspace_id).await?;
        let decisions = self.store.decisions(conversation).await?;
        let since_person = history
            .iter()
            .rposition(|message| message.author_kind == AuthorKind::Agent)
            .map_or(0, |index| index + 1);
        let mut turns: Vec<CustomerTurn> = history[since_person..]
            .iter()
            .filter(|message| message.author_kind == AuthorKind::Customer)
            .map(|message| CustomerTurn::new(message.seq, &message.body))
            .collect();
        let (seq, text) = (appended.message.seq, &appended.message.body);
        turns.push(match analysis {
            Some(analysis) => CustomerTurn { seq, text: text.clone(), analysis },
            None => CustomerTurn::new(seq, text),
        });
        let mut outcomes: Vec<TurnOutcome> = history[since_person..]
            .iter()
            .filter(|message| message.author_kind == AuthorKind::Bot)
            .filter_map(|message| {
                decisions.iter().find(|(id, _)| *id == message.id).map(|(_, record)| record.outcome)
            })
            .collect();
        let tier = customer.attributes.get("tier").cloned();
        let situation = |outcomes: &[TurnOutcome]| {
            triage::decide(
                &policy,
                Situation { turns: &turns, bot_outcomes: outcomes, tier: tier.as_deref() },
            )
        };
        let before = situation(&outcomes);
        let locale = reply_locale(&appended.message.body, &customer);
        let phrases = Phrases::for_locale(locale);
        let escalation = Escalation {
            inbox: &inbox,
            customer: &customer,
            policy: &policy,
            turns: &turns,
            phrases,
            current: None,
        };
        if before.outcome == EscalationOutcome::HandOff {
            // What the hand-off is about now: the engine's reading of this message, when it
            // has one, before an earlier question's article.
            let read = self.responder.read(&inbox, &appended.message.body).await;
            let escalation = Escalation { current: read.as_ref(), ..escalation };
            let escalated = self
                .escalate(
                    escalation,
                    &appended.conversation,
                    before.clone(),
                    None,
                    phrases.handing_off,
                )
                .await?;
            // An after-hours ticket that already exists: the bot keeps helping meanwhile.
            if escalated != (Escalated::Ticket { noted: false }) {
                return Ok(None);
            }
        }
        let mut turn = Turn {
            inbox: inbox.clone(),
            customer: customer.clone(),
            conversation: appended.conversation.clone(),
            message: appended.message,
            history,
            locale,
            drafts: None,
        };
        // Only the web widget shows replies as they are written, and never one that waits for
        // a person's approval.
        if inbox.channel.is_live_chat() && before.outcome != EscalationOutcome::DraftForApproval {
            turn.drafts = Some(DraftSink::new(self.drafts.clone(), &turn));
        }
        // However the turn ends, the preview goes when it does (after the stored reply, if
        // any, is on the feed).
        let _preview = EndPreview(turn.drafts.clone());
        let reply = self.responder.respond(&turn).await;
        // Why the bot itself gave up, when it did: a business action that failed or whose
        // parameter it could not get, or an answer that did not help.
        let record = reply.decision.as_ref();
        let bot_reason = match record.and_then(|record| record.action.as_ref()) {
            Some(action) if action.outcome == ActionOutcome::Error => Reason::ActionFailed,
            Some(action) if action.outcome == ActionOutcome::GaveUp => Reason::ActionGaveUp,
            // Several requests, some of which the bot left for people.
            _ if record
                .is_some_and(|record| record.parts.iter().any(|part| part.left_for_people())) =>
            {
                Reason::MultiPart
            }
            _ => Reason::DidntHelp,
        };
        if before.outcome == EscalationOutcome::DraftForApproval {
            // Regulated: a person approves (or rewrites) the bot's answer before it is sent.
            let draft = (reply.outcome == TurnOutcome::Answer).then_some(reply.body.as_str());
            // The draft is not stored as a reply: its decision says what the hand-off is about.
            let escalation = Escalation { current: reply.decision.as_ref(), ..escalation };
            self.escalate(escalation, &turn.conversation, before, draft, phrases.specialist_review)
                .await?;
            return Ok(None);
        }
        outcomes.push(reply.outcome);
        let after = situation(&outcomes);
        let posted = self
            .store
            .append_message(NewMessage {
                target: MessageTarget::Conversation(conversation),
                author_kind: AuthorKind::Bot,
                author_id: None,
                author_name: Some(inbox.bot_name.clone()),
                body: reply.body,
                // One bot reply per customer message, even if the turn is retried.
                client_msg_id: Some(format!("bot:{}", turn.message.id)),
                reopen_if_resolved: false,
                only_while_bot_owns: true,
                meta: reply.meta,
                decision: reply.decision,
                sentiment: None,
            })
            .await;
        let message = match posted {
            Ok(appended) => appended,
            Err(StoreError::Conflict(_)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        // (A turn that went on although it called for a hand-off is an after-hours ticket's:
        // the ticket was written before the reply.)
        let ticketed = before.outcome == EscalationOutcome::HandOff;
        if (after.outcome == EscalationOutcome::HandOff || reply.hand_off) && !ticketed {
            let mut decision = after;
            decision.outcome = EscalationOutcome::HandOff;
            if decision.reasons.is_empty() {
                decision.reasons.push(bot_reason);
            }
            // The bot's own reply already says a person is coming when it chose to hand off.
            let note = if reply.hand_off { None } else { Some(phrases.connecting_after_failure) };
            self.escalate_quietly(escalation, &message.conversation, decision, None, note).await?;
        }
        Ok(Some(message.message))
    }

    /// Hands the conversation to people: builds the hand-off packet, picks the queue, the
    /// skills and the priority, and writes all of it with the move to the queue and the note
    /// to the customer in one transaction. A conversation that is no longer the bot's is left
    /// as it is.
    async fn escalate(
        &self,
        escalation: Escalation<'_>,
        conversation: &Conversation,
        decision: EscalationDecision,
        draft: Option<&str>,
        note: &str,
    ) -> Result<Escalated, RelayError> {
        self.escalate_quietly(escalation, conversation, decision, draft, Some(note)).await
    }

    async fn escalate_quietly(
        &self,
        escalation: Escalation<'_>,
        conversation: &Conversation,
        decision: EscalationDecision,
        draft: Option<&str>,
        note: Option<&str>,
    ) -> Result<Escalated, RelayError> {
        let Escalation { inbox, customer, policy, turns, phrases, current: current_decision } =
            escalation;
        let workspace = inbox.workspace_id;
        let decisions = self.store.decisions(conversation.id).await?;
        let messages = recent_messages(&self.store, conversation).await?;
        // The articles the customer asked about name the topic (their keys and tags): the one
        // the newest message was matched to (the bot's reply to it, or the draft now handed
        // over) is what the hand-off is about; an earlier one only when nothing current names
        // a queue.
        let newest = turns.last().map_or(i64::MAX, |turn| turn.seq);
        let answers_newest =
            |id: MessageId| messages.iter().any(|message| message.id == id && message.seq > newest);
        let top_article =
            |record: &DecisionRecord| record.candidates.first().map(|top| top.article.clone());
        let current_article = current_decision.and_then(top_article).or_else(|| {
            decisions
                .iter()
                .rev()
                .filter(|(id, _)| answers_newest(*id))
                .find_map(|(_, record)| top_article(record))
        });
        let earlier_article = decisions
            .iter()
            .rev()
            .filter(|(id, _)| !answers_newest(*id))
            .find_map(|(_, record)| top_article(record));
        let mut topics = [Vec::new(), Vec::new()];
        for (topics, key) in topics.iter_mut().zip([current_article, earlier_article]) {
            let Some(key) = key else { continue };
            if let Some(article) = self.store.article(workspace, &key).await? {
                topics.extend(article.tags);
            }
            topics.push(key);
        }
        let [current_topics, earlier_topics] = topics;
        let queues = self.store.queues(workspace).await?;
        let chosen =
            triage::choose_queue(&queues, &decision.reasons, &current_topics, &earlier_topics);
        let queue = chosen.map(|queue| queue.id);
        let now = tandem_store::now_millis();
        // Nobody is in: the conversation waits as a ticket and the bot keeps helping.
        let opens = chosen.and_then(|queue| {
            let hours =
                BusinessHours::new(queue.routing.hours.clone(), queue.routing.time_zone.clone());
            if hours.is_open(now) {
                None
            } else {
                hours.next_open(now).map(|at| (at, queue.routing.time_zone.clone()))
            }
        });
        let skills = triage::language_skills(triage::customer_language(turns, customer));
        // The agent's card names everything the conversation needs: its queue's skills too.
        let mut needed: Vec<String> =
            chosen.map(|queue| queue.routing.skills.keys().cloned().collect()).unwrap_or_default();
        needed.extend(skills.iter().cloned());
        let latest = turns
            .last()
            .map(|turn| turn.analysis.clone())
            .unwrap_or_else(|| tandem_text::analyze(""));
        let priority = triage::priority(customer, policy, &latest, &decision.reasons);
        let history = self.store.customer_history(customer.id).await?;
        let packet = triage::packet(PacketInput {
            conversation,
            customer,
            turns,
            messages: &messages,
            decisions: &decisions,
            current: current_decision,
            decision: &decision,
            draft,
            history,
            skills: &needed,
            priority,
            queue,
            now,
        });
        let locale = packet.language.or(customer.locale).unwrap_or(Locale::En);
        let mut change = RouteChange {
            transition: Some(Transition::Escalate),
            queue_id: queue,
            skills: Some(skills),
            priority: Some(priority),
            sticky: history.last_agent,
            packet: Some(packet),
            system_message: note.map(str::to_owned),
            ..RouteChange::default()
        };
        let mut escalated = Escalated::Queued;
        if let Some((opens, zone)) = opens
            && conversation.state == ConversationState::Bot
        {
            let ticket = conversation.route.as_ref().and_then(|route| route.follow_up_at).is_some();
            // Told once; a regulated question is answered by a person later, so say so again.
            let noted = !ticket || decision.outcome == EscalationOutcome::DraftForApproval;
            change.transition = None;
            change.follow_up_at = Some(opens);
            change.system_message = noted.then(|| {
                phrases.after_hours.replace("{time}", &opening_time(phrases, opens, &zone))
            });
            escalated = Escalated::Ticket { noted };
        }
        match self.store.route(conversation.id, change).await {
            Ok(_) => {
                self.summarize_later(workspace, conversation.id, messages, locale);
                Ok(escalated)
            }
            Err(StoreError::Transition(_)) => Ok(escalated),
            Err(error) => Err(error.into()),
        }
    }

    /// Asks the workspace's model for a summary of the conversation just handed off and adds
    /// it to the packet, in the background: the customer is not kept waiting for it, and the
    /// packet's extractive summary stands until it comes (or if it never does).
    fn summarize_later(
        &self,
        workspace: tandem_domain::WorkspaceId,
        conversation: tandem_domain::ConversationId,
        messages: Vec<Message>,
        locale: Locale,
    ) {
        let relay = self.clone();
        tokio::spawn(async move {
            let Some(summary) =
                relay.responder.hand_off_summary(workspace, &messages, locale).await
            else {
                return;
            };
            if let Err(error) = relay.store.set_model_summary(conversation, summary).await {
                tracing::warn!(conversation_id = %conversation, workspace_id = %workspace, %error, "could not keep the model's summary");
            }
        });
    }

    /// The customer asks for a person: their conversation (started now if there is none)
    /// joins the queue with a hand-off packet, and they are told so in their language.
    pub async fn request_person(
        &self,
        inbox: &Inbox,
        customer: &Customer,
    ) -> Result<Conversation, RelayError> {
        let latest = self.store.latest_conversation(inbox.id, customer.id).await?;
        let locale = match &latest {
            Some(conversation) => self.conversation_locale(conversation).await?,
            None => customer.locale.unwrap_or(Locale::En),
        };
        let note = Phrases::for_locale(locale).handing_off;
        let noted = latest.is_none();
        let conversation = match latest {
            Some(conversation) => conversation,
            None => {
                self.store
                    .append_message(NewMessage {
                        target: MessageTarget::CustomerLatest {
                            inbox_id: inbox.id,
                            customer_id: customer.id,
                        },
                        author_kind: AuthorKind::System,
                        author_id: None,
                        author_name: None,
                        body: note.to_owned(),
                        client_msg_id: None,
                        reopen_if_resolved: false,
                        only_while_bot_owns: false,
                        meta: None,
                        decision: None,
                        sentiment: None,
                    })
                    .await?
                    .conversation
            }
        };
        if matches!(conversation.state, ConversationState::Queued | ConversationState::Human) {
            return Err(StoreError::Transition(TransitionError {
                from: conversation.state.as_str(),
                transition: "escalate",
            })
            .into());
        }
        if conversation.state == ConversationState::Resolved {
            // Asking for a person after the end starts over with a person, not the bot.
            self.store.transition(conversation.id, Transition::Reopen, None).await?;
        }
        let recent = recent_messages(&self.store, &conversation).await?;
        let turns: Vec<CustomerTurn> = recent
            .iter()
            .filter(|message| message.author_kind == AuthorKind::Customer)
            .map(|message| CustomerTurn::new(message.seq, &message.body))
            .collect();
        let policy = self.store.escalation_policy(inbox.workspace_id).await?;
        let mut reasons = vec![Reason::AsksForHuman];
        let tier = customer.attributes.get("tier").cloned();
        let signals = triage::decide(
            &policy,
            Situation { turns: &turns, bot_outcomes: &[], tier: tier.as_deref() },
        );
        reasons
            .extend(signals.reasons.into_iter().filter(|reason| *reason != Reason::AsksForHuman));
        let decision = EscalationDecision { outcome: EscalationOutcome::HandOff, reasons };
        let conversation = self
            .store
            .conversation(conversation.id)
            .await?
            .ok_or(StoreError::NotFound(tandem_store::Entity::Conversation))?;
        let phrases = Phrases::for_locale(locale);
        let escalation =
            Escalation { inbox, customer, policy: &policy, turns: &turns, phrases, current: None };
        let note = if noted { None } else { Some(note) };
        self.escalate_quietly(escalation, &conversation, decision, None, note).await?;
        Ok(self
            .store
            .conversation(conversation.id)
            .await?
            .ok_or(StoreError::NotFound(tandem_store::Entity::Conversation))?)
    }

    /// An agent changes who owns the conversation; the customer sees a system message in their
    /// language.
    pub async fn agent_transition(
        &self,
        conversation: &Conversation,
        transition: Transition,
        agent_name: &str,
    ) -> Result<Conversation, RelayError> {
        let phrases = Phrases::for_locale(self.conversation_locale(conversation).await?);
        let note = match transition {
            Transition::Assign { .. } => Some(phrases.agent_joined.replace("{agent}", agent_name)),
            Transition::HandBack => Some(phrases.back_to_bot.to_owned()),
            Transition::Release | Transition::Escalate => Some(phrases.back_to_queue.to_owned()),
            Transition::Resolve => Some(phrases.resolved.to_owned()),
            Transition::Reopen => Some(phrases.reopened.to_owned()),
        };
        // A resolution stores its wrap-up in the same transaction, so the resolved event carries
        // it. It is read from what the conversation holds now: a customer message committed
        // between this read and the resolution is left out of it (it reopens the conversation
        // right after, in any case).
        let wrapup = match transition {
            Transition::Resolve if conversation.state != ConversationState::Resolved => {
                Some(self.wrapup(conversation).await?)
            }
            _ => None,
        };
        let created = wrapup.is_some();
        let change = RouteChange {
            transition: Some(transition),
            system_message: note,
            wrapup,
            ..RouteChange::default()
        };
        let routed = self.store.route(conversation.id, change).await?;
        if created {
            let locale = self.conversation_locale(conversation).await?;
            self.summarize_wrapup_later(conversation.workspace_id, conversation.id, locale);
        }
        Ok(routed)
    }

    /// Asks the workspace's model (when it writes summaries) for a summary of the conversation
    /// just resolved and adds it to its wrap-up, in the background, if every claim of it checks
    /// out against the conversation and the wrap-up is still this resolution's.
    fn summarize_wrapup_later(
        &self,
        workspace: tandem_domain::WorkspaceId,
        conversation: tandem_domain::ConversationId,
        locale: Locale,
    ) {
        let relay = self.clone();
        tokio::spawn(async move {
            let Ok(Some(resolved)) = relay.store.wrapup(conversation).await else { return };
            let limit = u32::try_from(WRAPUP_MESSAGES).unwrap_or(u32::MAX);
            let Ok(messages) = relay.store.messages(conversation, 0, limit).await else { return };
            let Some(summary) = relay.responder.wrapup_summary(workspace, &messages, locale).await
            else {
                return;
            };
            let Some(text) = summary.text else { return };
            // Another resolution (after a reopen) replaced it meanwhile: that one gets its own.
            match relay.store.wrapup(conversation).await {
                Ok(Some(current)) if current.created_at == resolved.created_at => {
                    let wrapup = tandem_domain::Wrapup { model_summary: Some(text), ..current };
                    if let Err(error) = relay.store.save_wrapup(wrapup).await {
                        tracing::warn!(conversation_id = %conversation, workspace_id = %workspace, %error, "could not keep the model's wrap-up summary");
                    }
                }
                _ => {}
            }
        });
    }

    /// The wrap-up of the conversation as it stands (see [`crate::wrapup`]).
    async fn wrapup(
        &self,
        conversation: &Conversation,
    ) -> Result<tandem_domain::Wrapup, RelayError> {
        let limit = u32::try_from(conversation.last_seq.clamp(1, WRAPUP_MESSAGES)).unwrap_or(1);
        let messages = self.store.messages(conversation.id, 0, limit).await?;
        let decisions = self.store.decisions(conversation.id).await?;
        let now = tandem_store::now_millis();
        let articles: Vec<(String, String)> = self
            .store
            .articles(conversation.workspace_id)
            .await?
            .into_iter()
            .filter(|article| article.live_at(now) && !article.key.starts_with("action:"))
            .map(|article| (article.title, article.answer))
            .collect();
        Ok(crate::wrapup::wrapup(crate::wrapup::WrapupInput {
            conversation: conversation.id,
            messages: &messages,
            decisions: &decisions,
            articles: &articles,
        }))
    }

    async fn conversation_locale(&self, conversation: &Conversation) -> Result<Locale, RelayError> {
        Ok(conversation_locale(&self.store, conversation).await)
    }

    /// An agent writes to the customer (or, with `note`, to colleagues only). A reply to a
    /// conversation that the bot or the queue holds first assigns it to the agent, so the bot
    /// never talks over a person.
    pub async fn agent_message(
        &self,
        conversation: &Conversation,
        agent: &User,
        body: &str,
        client_msg_id: Option<&str>,
        note: bool,
    ) -> Result<Appended, RelayError> {
        let body = validate::message_body(body)?;
        let client_msg_id = client_msg_id.map(validate::client_msg_id).transpose()?;
        match conversation.state {
            _ if note => {}
            ConversationState::Resolved => {
                return Err(StoreError::Transition(TransitionError {
                    from: "resolved",
                    transition: "reply to",
                })
                .into());
            }
            ConversationState::Bot | ConversationState::Queued => {
                self.agent_transition(
                    conversation,
                    Transition::Assign { agent: agent.id },
                    &agent.display_name,
                )
                .await?;
            }
            ConversationState::Human => {}
        }
        Ok(self
            .store
            .append_message(NewMessage {
                target: MessageTarget::Conversation(conversation.id),
                author_kind: if note { AuthorKind::Note } else { AuthorKind::Agent },
                author_id: Some(agent.id.0),
                author_name: Some(agent.display_name.clone()),
                body,
                client_msg_id,
                reopen_if_resolved: false,
                only_while_bot_owns: false,
                meta: None,
                decision: None,
                sentiment: None,
            })
            .await?)
    }
}

fn reply_locale(text: &str, customer: &Customer) -> Locale {
    detect_locale(text).or(customer.locale).unwrap_or(Locale::En)
}

/// The conversation's newest messages, as many as an engine sees.
async fn recent_messages(
    store: &Arc<dyn Store>,
    conversation: &Conversation,
) -> Result<Vec<Message>, StoreError> {
    let after = (conversation.last_seq - i64::from(HISTORY_FOR_ENGINE)).max(0);
    store.messages(conversation.id, after, HISTORY_FOR_ENGINE).await
}

/// The language the customer writes in: that of their latest message, else their profile's,
/// else English.
pub(crate) async fn conversation_locale(
    store: &Arc<dyn Store>,
    conversation: &Conversation,
) -> Locale {
    let recent = recent_messages(store, conversation).await.unwrap_or_default();
    let written = recent
        .iter()
        .rev()
        .filter(|message| message.author_kind == AuthorKind::Customer)
        .find_map(|message| detect_locale(&message.body));
    if let Some(locale) = written {
        return locale;
    }
    match store.customer(conversation.customer_id).await {
        Ok(Some(customer)) => customer.locale.unwrap_or(Locale::En),
        _ => Locale::En,
    }
}

/// When a queue opens, in its own local time with the offset it has then: "周一 09:00 (UTC+8)".
fn opening_time(phrases: &Phrases, at: tandem_domain::Millis, zone: &TimeZoneName) -> String {
    let Ok(instant) = jiff::Timestamp::from_millisecond(at) else { return String::new() };
    let local = instant.to_zoned(zone.zone().clone());
    let weekday = local.weekday().to_monday_zero_offset() as usize;
    let minutes = local.offset().seconds() / 60;
    let offset = if minutes % 60 == 0 {
        format!("{:+}", minutes / 60)
    } else {
        format!("{:+}:{:02}", minutes / 60, (minutes % 60).abs())
    };
    format!("{} {:02}:{:02} (UTC{offset})", phrases.weekdays[weekday], local.hour(), local.minute())
}
