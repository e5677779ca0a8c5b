//! Server-side rate limits: a request bucket and a token bucket, each
//! refilling continuously at `limit / 60` per second up to its burst
//! capacity, and the limit/remaining/reset figures the APIs report.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::Config;

/// Which limit a denied request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Requests,
    Tokens,
}

/// One limit as the rate-limit headers show it. `limit` is per minute;
/// `remaining` is what fits in the bucket now; `reset` is how long until
/// the bucket is full again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    pub(crate) limit: u64,
    pub(crate) remaining: u64,
    pub(crate) reset: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) requests: Quota,
    pub(crate) tokens: Quota,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denied {
    pub(crate) resource: Resource,
    pub(crate) limit: u64,
    pub(crate) used: u64,
    pub(crate) requested: u64,
    pub(crate) retry_after: Duration,
    pub(crate) snapshot: Snapshot,
}

/// What the headers claim when no limit is set: large, like a high usage
/// tier, and reported as a full bucket of a whole minute's capacity.
const UNLIMITED_REQUESTS: u64 = 10_000;
const UNLIMITED_TOKENS: u64 = 30_000_000;

#[derive(Debug)]
struct Bucket {
    per_minute: u64,
    capacity: f64,
    rate: f64,
    level: f64,
    updated: Instant,
}

impl Bucket {
    fn new(per_minute: u64, burst: Option<u64>, now: Instant) -> Self {
        let capacity = burst.unwrap_or((per_minute / 60).max(1)) as f64;
        Self {
            per_minute,
            capacity,
            rate: per_minute as f64 / 60.0,
            level: capacity,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level + elapsed * self.rate).min(self.capacity);
        self.updated = now;
    }

    /// How long until `cost` fits. A cost larger than the whole bucket only
    /// waits for a full bucket and then leaves it in debt, so an oversized
    /// request is slowed down rather than refused forever.
    fn wait(&self, cost: u64) -> Duration {
        let need = (cost as f64).min(self.capacity);
        if self.level >= need {
            Duration::ZERO
        } else {
            secs((need - self.level) / self.rate)
        }
    }

    fn quota(&self) -> Quota {
        Quota {
            limit: self.per_minute,
            remaining: self.level.max(0.0).floor() as u64,
            reset: secs((self.capacity - self.level) / self.rate),
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

fn unlimited(limit: u64, cost: u64) -> Quota {
    let cost = cost.min(limit);
    Quota {
        limit,
        remaining: limit - cost,
        reset: secs(cost as f64 * 60.0 / limit as f64),
    }
}

#[derive(Debug)]
struct Buckets {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
}

impl Buckets {
    /// The figures after charging `requests` and `tokens` (zero when the
    /// answer was not charged).
    fn snapshot(&self, requests: u64, tokens: u64) -> Snapshot {
        Snapshot {
            requests: self
                .requests
                .as_ref()
                .map_or_else(|| unlimited(UNLIMITED_REQUESTS, requests), Bucket::quota),
            tokens: self
                .tokens
                .as_ref()
                .map_or_else(|| unlimited(UNLIMITED_TOKENS, tokens), Bucket::quota),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Limiter(Mutex<Buckets>);

impl Limiter {
    pub(crate) fn new(config: &Config, now: Instant) -> Self {
        Self(Mutex::new(Buckets {
            requests: config
                .rpm
                .map(|rpm| Bucket::new(rpm, config.burst_requests, now)),
            tokens: config
                .tpm
                .map(|tpm| Bucket::new(tpm, config.burst_tokens, now)),
        }))
    }

    fn refilled(&self, now: Instant) -> MutexGuard<'_, Buckets> {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let buckets = &mut *guard;
        buckets
            .requests
            .iter_mut()
            .chain(buckets.tokens.iter_mut())
            .for_each(|b| b.refill(now));
        guard
    }

    /// The current figures, for answers that are not charged.
    pub(crate) fn peek(&self, now: Instant) -> Snapshot {
        self.refilled(now).snapshot(0, 0)
    }

    /// Charges one request and `tokens` tokens, or charges nothing and says
    /// why not: a request is admitted only if both buckets have room.
    pub(crate) fn admit(&self, tokens: u64, now: Instant) -> Result<Snapshot, Box<Denied>> {
        let mut buckets = self.refilled(now);
        let wait_requests = buckets
            .requests
            .as_ref()
            .map_or(Duration::ZERO, |b| b.wait(1));
        let wait_tokens = buckets
            .tokens
            .as_ref()
            .map_or(Duration::ZERO, |b| b.wait(tokens));
        let blocked = if !wait_requests.is_zero() {
            buckets
                .requests
                .as_ref()
                .map(|b| (Resource::Requests, b, 1))
        } else if !wait_tokens.is_zero() {
            buckets
                .tokens
                .as_ref()
                .map(|b| (Resource::Tokens, b, tokens))
        } else {
            None
        };
        if let Some((resource, bucket, requested)) = blocked {
            let remaining = bucket.quota().remaining;
            return Err(Box::new(Denied {
                resource,
                limit: bucket.per_minute,
                used: bucket.per_minute.saturating_sub(remaining),
                requested,
                retry_after: wait_requests.max(wait_tokens),
                snapshot: buckets.snapshot(0, 0),
            }));
        }
        if let Some(b) = buckets.requests.as_mut() {
            b.level -= 1.0;
        }
        if let Some(b) = buckets.tokens.as_mut() {
            b.level -= tokens as f64;
        }
        Ok(buckets.snapshot(1, tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(
        rpm: Option<u64>,
        tpm: Option<u64>,
        burst_tokens: Option<u64>,
        now: Instant,
    ) -> Limiter {
        Limiter::new(
            &Config {
                rpm,
                tpm,
                burst_tokens,
                ..Config::default()
            },
            now,
        )
    }

    #[test]
    fn request_burst_defaults_to_one_second_and_refills() {
        let t0 = Instant::now();
        let l = limiter(Some(120), None, None, t0);
        assert_eq!(l.admit(1, t0).unwrap().requests.remaining, 1);
        assert_eq!(l.admit(1, t0).unwrap().requests.remaining, 0);
        let denied = l.admit(1, t0).unwrap_err();
        assert_eq!(denied.resource, Resource::Requests);
        assert_eq!((denied.limit, denied.used, denied.requested), (120, 120, 1));
        assert_eq!(denied.retry_after, Duration::from_millis(500));
        assert!(l.admit(1, t0 + Duration::from_millis(499)).is_err());
        let ok = l.admit(1, t0 + Duration::from_millis(500)).unwrap();
        assert_eq!(ok.requests.reset, Duration::from_secs(1));
    }

    #[test]
    fn oversized_request_waits_for_full_bucket_then_leaves_debt() {
        let t0 = Instant::now();
        let l = limiter(None, Some(600), Some(100), t0);
        assert_eq!(l.admit(250, t0).unwrap().tokens.remaining, 0);
        let denied = l.admit(10, t0).unwrap_err();
        assert_eq!(denied.resource, Resource::Tokens);
        assert_eq!(denied.retry_after, Duration::from_secs(16));
        assert!(l.admit(10, t0 + Duration::from_secs(16)).is_ok());
    }

    #[test]
    fn denial_charges_nothing() {
        let t0 = Instant::now();
        let l = limiter(Some(120), Some(60), Some(5), t0);
        assert!(l.admit(4, t0).is_ok());
        assert_eq!(l.admit(3, t0).unwrap_err().resource, Resource::Tokens);
        let snap = l.peek(t0);
        assert_eq!((snap.requests.remaining, snap.tokens.remaining), (1, 1));
    }

    #[test]
    fn no_limit_reports_large_values() {
        let t0 = Instant::now();
        let snap = limiter(None, None, None, t0).admit(100, t0).unwrap();
        assert_eq!(
            snap.requests,
            Quota {
                limit: 10_000,
                remaining: 9_999,
                reset: Duration::from_millis(6)
            }
        );
        assert_eq!(snap.tokens.remaining, 30_000_000 - 100);
    }
}
