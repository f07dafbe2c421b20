//! The realtime hub: routes the store's change feed to the WebSockets that care.
//!
//! One task reads the feed. A widget subscribes by customer and gets only that customer's
//! changes (so ten thousand idle widgets cost nothing per message); a console subscribes by
//! workspace. Subscribers that fall behind are cut off or told to resync, never silently
//! skipped: a widget reconnects with its last `seq`, a console re-reads what it shows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tandem_domain::{Conversation, CustomerId, Message, WorkspaceId};
use tandem_flow::Draft;
use tandem_store::{Change, Store};
use tokio::sync::{broadcast, mpsc};

/// Changes a widget connection may queue before it is considered too slow and cut off.
const WIDGET_QUEUE: usize = 256;
/// Changes a console connection may fall behind before it must resync.
const CONSOLE_QUEUE: usize = 1024;

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum Push {
    Change(Change),
    /// A bot reply being written (widgets only).
    Draft(Arc<Draft>),
    /// Events may have been missed: re-read state from the store.
    Resync,
}

/// What a widget socket receives: only what it forwards. Kept small (16 bytes of payload, no
/// `Change::Erased`) because every socket's queue allocates room for 32 of them up front.
#[derive(Debug, Clone)]
pub enum WidgetPush {
    Message {
        conversation: Arc<Conversation>,
        message: Arc<Message>,
    },
    Conversation(Arc<Conversation>),
    /// A bot reply being written.
    Draft(Arc<Draft>),
    /// Events may have been missed: re-read state from the store.
    Resync,
}

type WidgetSenders = HashMap<CustomerId, Vec<(u64, mpsc::Sender<WidgetPush>)>>;

#[derive(Debug, Default)]
pub struct Hub {
    widgets: Mutex<WidgetSenders>,
    consoles: Mutex<HashMap<WorkspaceId, broadcast::Sender<Push>>>,
    next_id: AtomicU64,
}

/// A widget's subscription; dropping it unsubscribes.
#[derive(Debug)]
pub struct WidgetSubscription {
    pub receiver: mpsc::Receiver<WidgetPush>,
    hub: Arc<Hub>,
    customer: CustomerId,
    id: u64,
}

impl Drop for WidgetSubscription {
    fn drop(&mut self) {
        if let Ok(mut widgets) = self.hub.widgets.lock()
            && let Some(senders) = widgets.get_mut(&self.customer)
        {
            senders.retain(|(id, _)| *id != self.id);
            if senders.is_empty() {
                widgets.remove(&self.customer);
            }
        }
    }
}

impl Hub {
    /// Starts the task that reads `store`'s change feed and the relay's drafts.
    pub fn start(store: &Arc<dyn Store>, drafts: broadcast::Receiver<Arc<Draft>>) -> Arc<Hub> {
        let hub = Arc::new(Hub::default());
        let store = Arc::clone(store);
        let dispatcher = Arc::downgrade(&hub);
        tandem_flow::supervise("realtime hub", move |restarts| {
            let mut feed = store.subscribe();
            let mut drafts = drafts.resubscribe();
            let dispatcher = dispatcher.clone();
            async move {
                if restarts > 0
                    && let Some(dispatcher) = dispatcher.upgrade()
                {
                    // Changes went by unsent: every subscriber catches up from the store.
                    dispatcher.resync_everyone();
                }
                let mut drafting = true;
                loop {
                    let change = tokio::select! {
                        // Stored changes first: a reply that is stored makes its draft moot.
                        biased;
                        change = feed.recv() => change,
                        draft = drafts.recv(), if drafting => {
                            let Some(dispatcher) = dispatcher.upgrade() else { return };
                            match draft {
                                Ok(draft) => dispatcher.dispatch_draft(draft),
                                // A missed draft is a missed preview; the stored reply follows.
                                Err(broadcast::error::RecvError::Lagged(_)) => {}
                                Err(broadcast::error::RecvError::Closed) => drafting = false,
                            }
                            continue;
                        }
                    };
                    let Some(dispatcher) = dispatcher.upgrade() else { return };
                    match change {
                        Ok(change) => dispatcher.dispatch(change),
                        Err(broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(
                                missed,
                                "realtime hub fell behind the change feed; resyncing subscribers"
                            );
                            dispatcher.resync_everyone();
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            }
        });
        hub
    }

    pub fn subscribe_customer(self: &Arc<Self>, customer: CustomerId) -> WidgetSubscription {
        let (sender, receiver) = mpsc::channel(WIDGET_QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut widgets) = self.widgets.lock() {
            widgets.entry(customer).or_default().push((id, sender));
        }
        WidgetSubscription { receiver, hub: Arc::clone(self), customer, id }
    }

    pub fn subscribe_workspace(&self, workspace: WorkspaceId) -> broadcast::Receiver<Push> {
        let mut consoles = self.consoles.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        consoles.entry(workspace).or_insert_with(|| broadcast::channel(CONSOLE_QUEUE).0).subscribe()
    }

    /// How many widget connections are subscribed.
    pub fn widget_subscribers(&self) -> usize {
        self.widgets.lock().map(|widgets| widgets.values().map(Vec::len).sum()).unwrap_or(0)
    }

    fn dispatch(&self, change: Change) {
        let (workspace, customer) = match &change {
            Change::Message { conversation, .. } | Change::Conversation(conversation) => {
                (conversation.workspace_id, conversation.customer_id)
            }
            // Knowledge and routing settings concern the answer engine and the router, not the
            // sockets.
            Change::Knowledge(_) | Change::Agents(_) => return,
            // Erased conversations leave the consoles' lists: they read them again.
            Change::Erased { workspace, .. } => {
                if let Ok(consoles) = self.consoles.lock()
                    && let Some(sender) = consoles.get(workspace)
                {
                    let _ = sender.send(Push::Resync);
                }
                return;
            }
        };
        self.push_to_widgets(customer, || match &change {
            Change::Message { conversation, message } => WidgetPush::Message {
                conversation: Arc::clone(conversation),
                message: Arc::clone(message),
            },
            Change::Conversation(conversation) => {
                WidgetPush::Conversation(Arc::clone(conversation))
            }
            // Not reached: returned above.
            Change::Knowledge(_) | Change::Agents(_) | Change::Erased { .. } => WidgetPush::Resync,
        });
        if let Ok(consoles) = self.consoles.lock()
            && let Some(sender) = consoles.get(&workspace)
        {
            let _ = sender.send(Push::Change(change));
        }
    }

    fn dispatch_draft(&self, draft: Arc<Draft>) {
        self.push_to_widgets(draft.customer_id, || WidgetPush::Draft(Arc::clone(&draft)));
    }

    /// Queues `push()` for each of the customer's widget sockets.
    fn push_to_widgets(&self, customer: CustomerId, push: impl Fn() -> WidgetPush) {
        if let Ok(mut widgets) = self.widgets.lock()
            && let Some(senders) = widgets.get_mut(&customer)
        {
            // A full queue means the socket is not keeping up: drop it; the widget reconnects
            // and resumes from its last seq.
            senders.retain(|(_, sender)| sender.try_send(push()).is_ok());
            if senders.is_empty() {
                widgets.remove(&customer);
            }
        }
    }

    fn resync_everyone(&self) {
        if let Ok(mut widgets) = self.widgets.lock() {
            for senders in widgets.values_mut() {
                senders.retain(|(_, sender)| sender.try_send(WidgetPush::Resync).is_ok());
            }
        }
        if let Ok(consoles) = self.consoles.lock() {
            for sender in consoles.values() {
                let _ = sender.send(Push::Resync);
            }
        }
    }
}
