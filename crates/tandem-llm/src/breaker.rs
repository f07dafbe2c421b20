//! A circuit breaker per provider: after enough consecutive failures it stops sending requests
//! for a cool-down, so a provider outage costs each customer nothing but the fallback answer
//! instead of a timeout; then one trial request decides whether to close it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; failures are counted.
    Closed,
    /// Requests are refused until the cool-down ends.
    Open,
    /// The cool-down ended: one trial request is allowed, the rest refused until it finishes.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// Shared by every client of one workspace and provider (see [`Breakers`]).
#[derive(Debug)]
pub struct CircuitBreaker {
    failures_to_open: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    pub fn new(failures_to_open: u32, cooldown: Duration) -> Self {
        CircuitBreaker {
            failures_to_open: failures_to_open.max(1),
            cooldown,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state is a few counters, always consistent between statements: a panic elsewhere
        // while holding the lock cannot leave it half-written.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn state(&self) -> BreakerState {
        let inner = self.lock();
        match inner.opened_at {
            None => BreakerState::Closed,
            Some(opened) if opened.elapsed() < self.cooldown => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// Whether a request may go out now. In the half-open state only the first caller gets
    /// `true` (the trial); it must report back with [`record_success`] or [`record_failure`].
    ///
    /// [`record_success`]: CircuitBreaker::record_success
    /// [`record_failure`]: CircuitBreaker::record_failure
    pub fn try_acquire(&self) -> bool {
        let mut inner = self.lock();
        match inner.opened_at {
            None => true,
            Some(opened) if opened.elapsed() < self.cooldown => false,
            Some(_) if inner.trial_in_flight => false,
            Some(_) => {
                inner.trial_in_flight = true;
                true
            }
        }
    }

    pub fn record_success(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = 0;
        inner.opened_at = None;
        inner.trial_in_flight = false;
    }

    pub fn record_failure(&self) {
        let mut inner = self.lock();
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        if inner.trial_in_flight || inner.consecutive_failures >= self.failures_to_open {
            // A failed trial opens the breaker for a fresh cool-down.
            inner.opened_at = Some(Instant::now());
        }
        inner.trial_in_flight = false;
    }

    /// Gives back a trial that ended without saying anything about the provider (the caller
    /// gave up), so the next caller may try.
    pub fn release(&self) {
        self.lock().trial_in_flight = false;
    }
}

/// The breakers of one process, one per workspace and provider, so that every conversation of a
/// workspace sees the same outage.
#[derive(Debug, Default)]
pub struct Breakers {
    by_key: Mutex<HashMap<String, Arc<CircuitBreaker>>>,
}

impl Breakers {
    /// The breaker for `key` (for example `"{workspace}:{base_url}:{model}"`), created with
    /// these limits on first use.
    pub fn get(&self, key: &str, failures_to_open: u32, cooldown: Duration) -> Arc<CircuitBreaker> {
        let mut map = self.by_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry(key.to_owned())
            .or_insert_with(|| Arc::new(CircuitBreaker::new(failures_to_open, cooldown)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_lets_one_trial_through() {
        let breaker = CircuitBreaker::new(2, Duration::from_millis(30));
        assert!(breaker.try_acquire());
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed, "failures must be consecutive");
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.try_acquire());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.try_acquire(), "the trial");
        assert!(!breaker.try_acquire(), "only one trial at a time");
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open, "a failed trial reopens");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.try_acquire());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
