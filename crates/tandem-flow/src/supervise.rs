//! Supervised background work: a long-running task (a change-feed follower, the routing clock,
//! the webhook worker) that panics is noticed, logged with its cause and started again, instead
//! of leaving the process quietly without it.

use std::future::Future;
use std::time::Duration;

use tandem_domain::Millis;
use tandem_store::Store;

/// The first pause before a restart; it doubles with each restart, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Whether this process runs the periodic job `name` this time. Several Tandem nodes on one
/// database each start the job; the one holding its lease (taken for two periods, renewed by
/// every run) runs it, so it runs once per period, and another node takes over within two
/// periods of the holder's end. A store that cannot be asked answers `false`.
pub async fn holds_lease(store: &dyn Store, name: &str, every: Duration) -> bool {
    let ttl = Millis::try_from(every.as_millis()).unwrap_or(Millis::MAX / 4).saturating_mul(2);
    take_lease(store, name, ttl).await
}

/// Takes or renews this process's lease `name` for `ttl` (by the wall clock, which every node
/// shares); `false` while another process holds it or the store cannot say.
pub(crate) async fn take_lease(store: &dyn Store, name: &str, ttl: Millis) -> bool {
    match store.lease(name, tandem_store::node_id(), tandem_store::now_millis(), ttl).await {
        Ok(held) => held,
        Err(error) => {
            tracing::warn!(lease = name, %error, "cannot take or renew a lease; not holding it");
            false
        }
    }
}

/// Runs `task` in the background and runs it again whenever it panics, after a pause that grows
/// with each restart. A task that returns is done (its input closed). `task` is told how many
/// times it was restarted (0 the first time), so that a restarted task can catch up with what
/// it may have missed, such as re-reading the store instead of trusting its mirror.
pub fn supervise<F, Work>(name: &'static str, mut task: F)
where
    F: FnMut(u32) -> Work + Send + 'static,
    Work: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut restarts = 0u32;
        loop {
            match tokio::spawn(task(restarts)).await {
                Ok(()) => return,
                Err(error) if error.is_panic() => {
                    let panic = error.into_panic();
                    let cause = panic
                        .downcast_ref::<&str>()
                        .map(|text| (*text).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    restarts = restarts.saturating_add(1);
                    let pause = FIRST_BACKOFF
                        .saturating_mul(1 << restarts.min(8).saturating_sub(1))
                        .min(MAX_BACKOFF);
                    tracing::error!(task = name, restarts, %cause, ?pause, "a background task panicked; restarting it");
                    tokio::time::sleep(pause).await;
                }
                // Cancelled: the runtime is shutting down.
                Err(_) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_and_told_so_and_a_returning_one_is_not() {
        let runs = Arc::new(Mutex::new(Vec::new()));
        let (done, finished) = tokio::sync::oneshot::channel();
        let mut done = Some(done);
        let recorded = Arc::clone(&runs);
        supervise("test", move |restarts| {
            recorded.lock().unwrap().push(restarts);
            let done = if restarts == 2 { done.take() } else { None };
            async move {
                match done {
                    Some(done) => {
                        let _ = done.send(());
                    }
                    None => panic!("failure {restarts}"),
                }
            }
        });
        finished.await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(*runs.lock().unwrap(), [0, 1, 2], "restarted twice, then done");
    }
}
