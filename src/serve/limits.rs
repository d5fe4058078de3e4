//! Admission control: how many requests may be scored at once (beyond it,
//! `429 RESOURCE_EXHAUSTED` at once rather than a queue that grows), and
//! optional per-key token-bucket rate limits.

use super::config::RateLimit;
use super::wire::RpcError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Caps the requests admitted to scoring.
#[derive(Debug, Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    capacity: usize,
}

impl Admission {
    /// Admits at most `capacity` requests at once.
    pub fn new(capacity: usize) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// A slot, held until the permit is dropped; `429` when none is free.
    pub fn try_admit(&self) -> Result<OwnedSemaphorePermit, RpcError> {
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            RpcError::exhausted(
                format!(
                    "The server is scoring its limit of {} requests; retry shortly.",
                    self.capacity
                ),
                "CONCURRENCY_LIMIT",
                1,
            )
        })
    }

    /// Requests admitted now.
    pub fn in_flight(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets, one per API key id (or one for the whole server when no
/// keys are configured).
#[derive(Debug)]
pub struct RateLimiter {
    rate: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Buckets refilled at `rate.per_second`, holding at most `rate.burst`.
    pub fn new(rate: RateLimit) -> Self {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key` at time `now`; `429` with the seconds until
    /// a token is back when the bucket is empty.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), RpcError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.rate.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate.per_second).min(self.rate.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - b.tokens) / self.rate.per_second).ceil().max(1.0) as u64;
        Err(RpcError::exhausted(
            format!(
                "Quota exceeded: {} requests per second per key; retry in {wait} s.",
                self.rate.per_second
            ),
            "RATE_LIMIT_EXCEEDED",
            wait,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn admission_counts_and_refuses_beyond_capacity() {
        let a = Admission::new(2);
        let p1 = a.try_admit().unwrap();
        let _p2 = a.try_admit().unwrap();
        assert_eq!(a.in_flight(), 2);
        let e = a.try_admit().unwrap_err();
        assert_eq!(e.http.as_u16(), 429);
        assert_eq!(e.kind_name(), "CONCURRENCY_LIMIT");
        drop(p1);
        assert!(a.try_admit().is_ok());
    }

    #[test]
    fn buckets_refill_per_key() {
        let r = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 2.0,
        });
        let t = Instant::now();
        assert!(r.check("a", t).is_ok());
        assert!(r.check("a", t).is_ok());
        let e = r.check("a", t).unwrap_err();
        assert_eq!(e.retry_after, Some(1));
        assert_eq!(e.kind_name(), "RATE_LIMIT_EXCEEDED");
        assert!(r.check("b", t).is_ok(), "keys have their own buckets");
        assert!(r.check("a", t + Duration::from_millis(500)).is_ok());
        assert!(r.check("a", t + Duration::from_millis(500)).is_err());
        assert!(r.check("a", t + Duration::from_secs(10)).is_ok());
    }
}
