//! Resolving the bot's finished conversations. A customer who got an answer (from knowledge or
//! a business action) and then said nothing more for a while is done: the conversation is
//! resolved, so that it counts as resolved by the bot in the reports and the widget can ask how
//! it went. A conversation whose last bot reply did not answer (an abstention, a clarifying
//! question) stays open: nobody resolved it.

use std::sync::Arc;
use std::time::Duration;

use tandem_domain::{ConversationState, Millis, Transition};
use tandem_store::{RouteChange, Store, StoreError, StoreResult};

use crate::Clock;

/// Conversations resolved per sweep at most (the next sweep takes the rest).
const PER_SWEEP: u32 = 500;

/// Resolves the bot's conversations idle for `idle_ms` after an answer; returns how many.
pub async fn resolve_idle(
    store: &Arc<dyn Store>,
    idle_ms: Millis,
    now: Millis,
) -> StoreResult<usize> {
    let idle = store.idle_answered_conversations(now - idle_ms, PER_SWEEP).await?;
    let mut resolved = 0;
    for conversation in idle {
        let change = RouteChange {
            transition: Some(Transition::Resolve),
            // A customer who wrote meanwhile, or a person who took it, keeps it open.
            only_if_state: Some(ConversationState::Bot),
            ..RouteChange::default()
        };
        match store.route(conversation, change).await {
            Ok(_) => resolved += 1,
            Err(StoreError::Conflict(_) | StoreError::Transition(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(resolved)
}

/// Sweeps once a minute (under [`crate::supervise`]); `idle_ms` of 0 turns it off.
pub fn start_idle_resolver(store: Arc<dyn Store>, idle_ms: Millis, clock: Clock) {
    if idle_ms <= 0 {
        return;
    }
    crate::supervise("idle bot conversations", move |_| {
        let (store, clock) = (Arc::clone(&store), Arc::clone(&clock));
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                if !crate::holds_lease(store.as_ref(), "job:idle", Duration::from_secs(60)).await {
                    continue;
                }
                match resolve_idle(&store, idle_ms, clock()).await {
                    Ok(0) => {}
                    Ok(resolved) => tracing::info!(resolved, "resolved idle bot conversations"),
                    Err(error) => tracing::warn!(%error, "cannot resolve idle bot conversations"),
                }
            }
        }
    });
}
