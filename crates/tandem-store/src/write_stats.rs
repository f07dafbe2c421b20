//! How long writes wait for their commit, for the server's `/metrics`.
//!
//! Measured in the engine around each job, from the caller's hand-off to the writer until its
//! group has committed (queueing, the job and the group's fsync: what a caller waits for).
//! Plain atomics in fixed buckets, so the store needs no metrics library and a write costs
//! two relaxed additions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds; one more bucket (`+Inf`) follows.
pub const WRITE_BUCKETS_SECONDS: [f64; 12] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// A histogram of write latencies.
#[derive(Debug, Default)]
pub struct WriteStats {
    /// Per bucket (not cumulative), the last one `+Inf`.
    buckets: [AtomicU64; WRITE_BUCKETS_SECONDS.len() + 1],
    sum_micros: AtomicU64,
}

/// A reading of [`WriteStats`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriteSnapshot {
    pub count: u64,
    pub sum_seconds: f64,
    /// `(upper bound, count in this bucket)`, not cumulative, ending with `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
}

impl WriteStats {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let index = WRITE_BUCKETS_SECONDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(WRITE_BUCKETS_SECONDS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> WriteSnapshot {
        let buckets: Vec<(f64, u64)> = WRITE_BUCKETS_SECONDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(&self.buckets)
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        WriteSnapshot {
            count: buckets.iter().map(|(_, count)| count).sum(),
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_write_lands_in_the_first_bucket_that_holds_it() {
        let stats = WriteStats::default();
        stats.observe(Duration::from_micros(300));
        stats.observe(Duration::from_millis(3));
        stats.observe(Duration::from_secs(10));
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.count, 3);
        assert_eq!(snapshot.buckets[0], (0.0005, 1));
        assert_eq!(snapshot.buckets[3], (0.005, 1));
        assert_eq!(*snapshot.buckets.last().unwrap(), (f64::INFINITY, 1));
        assert!((snapshot.sum_seconds - 10.0033).abs() < 1e-9);
    }
}
