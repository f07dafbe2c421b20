//! A circuit breaker per provider: after enough consecutive failures it stops sending requests
//! for a cool-down, so a provider outage costs each customer nothing but the fallback answer
//! instead of a timeout; then one trial request decides whether to close it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What time it is for cool-downs: the monotonic clock, or a test's own.
type Now = Arc<dyn Fn() -> Instant + Send + Sync>;

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
pub struct CircuitBreaker {
    failures_to_open: u32,
    cooldown: Duration,
    now: Now,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("failures_to_open", &self.failures_to_open)
            .field("cooldown", &self.cooldown)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    pub fn new(failures_to_open: u32, cooldown: Duration) -> Self {
        CircuitBreaker::with_clock(failures_to_open, cooldown, Arc::new(Instant::now))
    }

    /// Like [`CircuitBreaker::new`], timing the cool-down by `now` (tests move it forward
    /// to end a cool-down without waiting it out).
    pub fn with_clock(
        failures_to_open: u32,
        cooldown: Duration,
        now: Arc<dyn Fn() -> Instant + Send + Sync>,
    ) -> Self {
        CircuitBreaker {
            failures_to_open: failures_to_open.max(1),
            cooldown,
            now,
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        }
    }

    /// Whether the cool-down of a breaker opened at `opened` is still running.
    fn cooling_down(&self, opened: Instant) -> bool {
        (self.now)().saturating_duration_since(opened) < self.cooldown
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
            Some(opened) if self.cooling_down(opened) => BreakerState::Open,
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
            Some(opened) if self.cooling_down(opened) => false,
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
            inner.opened_at = Some((self.now)());
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
#[derive(Default)]
pub struct Breakers {
    by_key: Mutex<HashMap<String, Arc<CircuitBreaker>>>,
    /// The clock the breakers time their cool-downs by, when not the monotonic clock.
    now: Option<Now>,
}

impl std::fmt::Debug for Breakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breakers").field("by_key", &self.by_key).finish_non_exhaustive()
    }
}

impl Breakers {
    /// Breakers that time their cool-downs by `now` (see [`CircuitBreaker::with_clock`]).
    pub fn with_clock(now: Arc<dyn Fn() -> Instant + Send + Sync>) -> Breakers {
        Breakers { by_key: Mutex::default(), now: Some(now) }
    }

    /// The breaker for `key` (for example `"{workspace}:{base_url}:{model}"`), created with
    /// these limits on first use.
    pub fn get(&self, key: &str, failures_to_open: u32, cooldown: Duration) -> Arc<CircuitBreaker> {
        let mut map = self.by_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry(key.to_owned())
            .or_insert_with(|| {
                let now = self.now.clone().unwrap_or_else(|| Arc::new(Instant::now));
                Arc::new(CircuitBreaker::with_clock(failures_to_open, cooldown, now))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_lets_one_trial_through() {
        // A clock that stands still until the test moves it.
        let time = Arc::new(Mutex::new(Instant::now()));
        let clock = Arc::clone(&time);
        let breaker = CircuitBreaker::with_clock(
            2,
            Duration::from_millis(30),
            Arc::new(move || *clock.lock().unwrap()),
        );
        let advance = |by: u64| *time.lock().unwrap() += Duration::from_millis(by);
        assert!(breaker.try_acquire());
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Closed, "failures must be consecutive");
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.try_acquire());
        advance(29);
        assert_eq!(breaker.state(), BreakerState::Open, "still cooling down");
        advance(1);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.try_acquire(), "the trial");
        assert!(!breaker.try_acquire(), "only one trial at a time");
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open, "a failed trial reopens");
        advance(29);
        assert!(!breaker.try_acquire(), "a fresh cool-down");
        advance(1);
        assert!(breaker.try_acquire());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }
}
