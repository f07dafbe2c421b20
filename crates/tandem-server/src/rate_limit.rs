//! Token-bucket rate limits for public endpoints (widget sends, login attempts).
//!
//! Written here rather than taken from `governor`: a keyed bucket is a map and two numbers,
//! and the crate's keyed limiter brings a dozen dependencies for the same result.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tandem_store::Store;

/// At most `burst` requests at once per key, refilled at `per_minute` a minute.
#[derive(Debug)]
pub struct RateLimiter<K> {
    /// What the limit is called in a shared store's buckets (`logins`).
    name: &'static str,
    burst: u32,
    per_minute: u32,
    per_second: f64,
    buckets: Mutex<Buckets<K>>,
}

#[derive(Debug)]
struct Buckets<K> {
    /// Tokens left and when they were counted, per key.
    tokens: HashMap<K, (f64, Instant)>,
    /// When idle keys were last forgotten.
    swept: Instant,
}

/// Keys untouched for this long are forgotten (their bucket is full again by then anyway),
/// so the map does not grow without bound.
const IDLE: Duration = Duration::from_secs(600);
/// How often idle keys are looked for: a sweep visits every key, so it runs on a schedule,
/// not on every call.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl<K: Eq + Hash + Clone + std::fmt::Display> RateLimiter<K> {
    pub fn new(name: &'static str, burst: u32, per_minute: u32) -> RateLimiter<K> {
        RateLimiter {
            name,
            burst: burst.max(1),
            per_minute: per_minute.max(1),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            buckets: Mutex::new(Buckets { tokens: HashMap::new(), swept: Instant::now() }),
        }
    }

    /// Takes one token for `key` from the store's shared bucket when the store is shared by
    /// several nodes (so the limit holds whichever node a request reaches), else from this
    /// process's; `Err(seconds)` says when the next one is available. A shared store that
    /// does not answer falls back to this process's bucket.
    pub async fn take(&self, store: &dyn Store, key: &K) -> Result<(), u64> {
        let shared = format!("{}:{key}", self.name);
        match store
            .take_token(&shared, self.burst, self.per_minute, tandem_store::now_millis())
            .await
        {
            Ok(Some(decision)) => decision,
            Ok(None) => self.check(key),
            Err(error) => {
                tracing::warn!(limit = self.name, %error, "the shared rate limit did not answer; limiting on this node");
                self.check(key)
            }
        }
    }

    /// Takes one token for `key` in this process; `Err(seconds)` says when the next one is
    /// available.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), u64> {
        // A thread that panicked while holding the lock left the counts as they were: keep
        // limiting with them rather than let everything through.
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if now.saturating_duration_since(buckets.swept) >= SWEEP_EVERY {
            buckets.swept = now;
            buckets.tokens.retain(|_, (_, last)| now.saturating_duration_since(*last) < IDLE);
        }
        let burst = f64::from(self.burst);
        let (tokens, last) = buckets.tokens.entry(key.clone()).or_insert((burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil() as u64)
        }
    }

    /// How many keys are remembered.
    #[cfg(test)]
    fn keys(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new("test", 3, 60);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(&"a", start).is_ok());
        }
        assert_eq!(limiter.check_at(&"a", start), Err(1));
        assert!(limiter.check_at(&"b", start).is_ok(), "keys are independent");
        assert!(limiter.check_at(&"a", start + Duration::from_secs(1)).is_ok());
        assert!(limiter.check_at(&"a", start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_poisoned_lock_keeps_limiting() {
        let limiter = std::sync::Arc::new(RateLimiter::new("test", 1, 1));
        assert!(limiter.check(&"a").is_ok());
        let poisoner = std::sync::Arc::clone(&limiter);
        let _ = std::thread::spawn(move || {
            let _held = poisoner.buckets.lock().unwrap();
            panic!("a bug while holding the limiter");
        })
        .join();
        assert!(limiter.buckets.is_poisoned());
        assert!(limiter.check(&"a").is_err(), "still limited after the poisoning");
    }

    #[test]
    fn idle_keys_are_forgotten_on_a_schedule() {
        let limiter = RateLimiter::new("test", 2, 60);
        let start = Instant::now();
        for key in 0..1000 {
            limiter.check_at(&key, start).unwrap();
        }
        // Within the sweep interval nothing is swept, however many keys there are.
        limiter.check_at(&0, start + Duration::from_secs(30)).unwrap();
        assert_eq!(limiter.keys(), 1000);
        // Once idle long enough, the next sweep forgets them (the key in use stays).
        limiter.check_at(&0, start + IDLE).unwrap();
        assert_eq!(limiter.keys(), 1);
    }
}
