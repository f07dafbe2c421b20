//! Token-bucket rate limits for public endpoints (widget sends, login attempts).
//!
//! Written here rather than taken from `governor`: a keyed bucket is a map and two numbers,
//! and the crate's keyed limiter brings a dozen dependencies for the same result.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// At most `burst` requests at once per key, refilled at `per_minute` a minute.
#[derive(Debug)]
pub struct RateLimiter<K> {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

/// Forget keys untouched for this long, so the map does not grow without bound.
const IDLE_SECS: f64 = 600.0;

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(burst: u32, per_minute: u32) -> RateLimiter<K> {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; `Err(seconds)` says when the next one is available.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, last)| now.duration_since(*last).as_secs_f64() < IDLE_SECS);
        }
        let (tokens, last) = buckets.entry(key.clone()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new(3, 60);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(&"a", start).is_ok());
        }
        assert_eq!(limiter.check_at(&"a", start), Err(1));
        assert!(limiter.check_at(&"b", start).is_ok(), "keys are independent");
        assert!(limiter.check_at(&"a", start + Duration::from_secs(1)).is_ok());
        assert!(limiter.check_at(&"a", start + Duration::from_secs(1)).is_err());
    }
}
