//! The token bucket: a level that refills continuously at `limit / period`
//! up to a capacity, the semantics of [`crate::Enforcement::TokenBucket`]
//! and of the per-day and per-minute limits of
//! [`crate::Enforcement::Daily`].

use std::time::{Duration, Instant};

use super::{Meter, Moment, Quota, Scale, secs};

#[derive(Debug)]
pub(super) struct Bucket {
    limit: u64,
    capacity: f64,
    rate: f64,
    level: f64,
    updated: Instant,
}

impl Bucket {
    /// `limit` per `period`, holding at most `capacity`; starts full.
    pub(super) fn new(limit: u64, capacity: u64, period: Duration, now: Instant) -> Self {
        Self {
            limit,
            capacity: capacity as f64,
            rate: limit as f64 / period.as_secs_f64(),
            level: capacity as f64,
            updated: now,
        }
    }
}

impl Meter for Bucket {
    fn advance(&mut self, now: Moment) {
        let elapsed = now.at.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level + elapsed * self.rate).min(self.capacity);
        self.updated = now.at;
    }

    /// A cost larger than the whole bucket only waits for a full bucket and
    /// then leaves it in debt, so an oversized request is slowed down rather
    /// than refused forever.
    fn wait(&self, cost: u64, _now: Moment) -> Duration {
        let need = (cost as f64).min(self.capacity);
        if self.level >= need {
            Duration::ZERO
        } else {
            secs((need - self.level) / self.rate)
        }
    }

    fn charge(&mut self, cost: u64, _now: Moment) {
        self.level -= cost as f64;
    }

    /// At minute scale the limit is the stated one (per minute, or per day
    /// for a daily bucket) while `remaining` is what the bucket holds, as
    /// OpenAI reports it; at window scale the limit is the capacity.
    fn quota(&self, _now: Moment, scale: Scale) -> Quota {
        Quota {
            limit: match scale {
                Scale::Minute => self.limit,
                Scale::Window => self.capacity as u64,
            },
            remaining: self.level.max(0.0).floor() as u64,
            reset: secs((self.capacity - self.level) / self.rate),
        }
    }

    fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{admit, at, limiter, q};
    use super::super::{Period, Resource};
    use super::*;
    use crate::config::{Config, Enforcement};

    #[test]
    fn request_burst_defaults_to_one_second_and_refills() {
        let (l, t0) = limiter(Config {
            rpm: Some(120),
            ..Config::default()
        });
        assert_eq!(admit(&l, 1, t0).unwrap().requests.remaining, 1);
        assert_eq!(admit(&l, 1, t0).unwrap().requests.remaining, 0);
        let denied = admit(&l, 1, t0).unwrap_err();
        assert_eq!(denied.resource, Resource::Requests);
        assert_eq!((denied.limit, denied.used, denied.requested), (120, 120, 1));
        assert_eq!(denied.retry_after, Duration::from_millis(500));
        assert!(admit(&l, 1, at(t0, 499)).is_err());
        let ok = admit(&l, 1, at(t0, 500)).unwrap();
        assert_eq!(ok.requests.reset, Duration::from_secs(1));
    }

    #[test]
    fn oversized_request_waits_for_full_bucket_then_leaves_debt() {
        let (l, t0) = limiter(Config {
            tpm: Some(600),
            burst_tokens: Some(100),
            ..Config::default()
        });
        assert_eq!(admit(&l, 250, t0).unwrap().tokens.remaining, 0);
        let denied = admit(&l, 10, t0).unwrap_err();
        assert_eq!(denied.resource, Resource::Tokens);
        assert_eq!(denied.retry_after, Duration::from_secs(16));
        assert!(admit(&l, 10, at(t0, 16_000)).is_ok());
    }

    #[test]
    fn window_scale_reports_the_capacity() {
        let (l, t0) = limiter(Config {
            rpm: Some(3000),
            ..Config::default()
        });
        let snap = admit(&l, 1, t0).unwrap();
        assert_eq!((snap.requests.limit, snap.requests.remaining), (3000, 49));
        let window = l.peek(t0, Scale::Window).requests;
        assert_eq!(q(window), (50, 49, 20));
    }

    /// Groq's figures: the requests bucket holds a day's worth and refills
    /// over the day, the tokens bucket a minute's worth over the minute.
    #[test]
    fn daily_requests_and_minute_tokens_refill_separately() {
        let (l, t0) = limiter(Config {
            enforcement: Enforcement::Daily,
            rpd: Some(14_400),
            tpm: Some(6_000),
            ..Config::default()
        });
        for _ in 0..29 {
            admit(&l, 100, t0).unwrap();
        }
        let snap = admit(&l, 100, t0).unwrap();
        // 30 requests at 6 s each; 3,000 tokens at 100 a second.
        assert_eq!(q(snap.requests), (14_400, 14_370, 180_000));
        assert_eq!(q(snap.tokens), (6_000, 3_000, 30_000));
        let later = l.peek(at(t0, 440), Scale::Minute);
        assert_eq!(q(later.requests), (14_400, 14_370, 179_560));
        assert_eq!(later.tokens.remaining, 3_044);
    }

    #[test]
    fn daily_limit_denies_with_a_day_period() {
        let (l, t0) = limiter(Config {
            enforcement: Enforcement::Daily,
            rpd: Some(2),
            rpm: Some(100),
            ..Config::default()
        });
        admit(&l, 1, t0).unwrap();
        admit(&l, 1, t0).unwrap();
        let denied = admit(&l, 1, t0).unwrap_err();
        assert_eq!(
            (denied.resource, denied.period, denied.limit, denied.used),
            (Resource::Requests, Period::Day, 2, 2)
        );
        assert_eq!(denied.retry_after, Duration::from_secs(43_200));
        assert_eq!(denied.snapshot.requests.limit, 2);
    }
}
