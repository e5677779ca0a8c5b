//! The fixed window of [`crate::Enforcement::FixedWindow`]: the whole
//! minute's budget, spent freely and given back at once at each wall-clock
//! minute boundary (counted from the Unix epoch, as servers that key a
//! counter by the minute do).

use std::time::Duration;

use super::{MINUTE, Meter, Moment, Quota, Scale};

#[derive(Debug)]
pub(super) struct Fixed {
    limit: u64,
    /// The current minute, counted from the epoch.
    minute: u64,
    used: u64,
}

impl Fixed {
    pub(super) fn new(limit: u64) -> Self {
        Self {
            limit,
            minute: 0,
            used: 0,
        }
    }

    fn until_boundary(&self, now: Moment) -> Duration {
        let next = Duration::from_secs((self.minute + 1) * MINUTE.as_secs());
        next.saturating_sub(now.wall)
    }
}

impl Meter for Fixed {
    fn advance(&mut self, now: Moment) {
        let minute = now.wall.as_secs() / MINUTE.as_secs();
        if minute != self.minute {
            self.minute = minute;
            self.used = 0;
        }
    }

    /// A cost larger than the whole budget is admitted into an untouched
    /// minute, like an oversized request into a full bucket.
    fn wait(&self, cost: u64, now: Moment) -> Duration {
        if self.used == 0 || self.used + cost <= self.limit {
            Duration::ZERO
        } else {
            self.until_boundary(now)
        }
    }

    fn charge(&mut self, cost: u64, _now: Moment) {
        self.used += cost;
    }

    /// The window is the minute, so both scales read the same.
    fn quota(&self, now: Moment, _scale: Scale) -> Quota {
        Quota {
            limit: self.limit,
            remaining: self.limit.saturating_sub(self.used),
            reset: if self.used == 0 {
                Duration::ZERO
            } else {
                self.until_boundary(now)
            },
        }
    }

    fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{admit, at, limiter, q};
    use super::super::{Cost, Resource};
    use super::*;
    use crate::config::{Config, Enforcement};

    fn fixed(rpm: Option<u64>, tpm: Option<u64>) -> Config {
        Config {
            rpm,
            tpm,
            enforcement: Enforcement::FixedWindow,
            ..Config::default()
        }
    }

    /// The clock starts 20 s into a minute: the first window has 40 s left.
    #[test]
    fn admits_the_budget_until_the_boundary_then_all_of_it_again() {
        let (l, t0) = limiter(fixed(Some(5), None));
        for i in 0..5 {
            let snap = admit(&l, 0, at(t0, i * 1_000)).unwrap();
            assert_eq!(q(snap.requests), (5, 4 - i, 40_000 - i * 1_000));
        }
        let denied = admit(&l, 0, at(t0, 10_000)).unwrap_err();
        assert_eq!(denied.resource, Resource::Requests);
        assert_eq!((denied.limit, denied.used, denied.requested), (5, 5, 1));
        assert_eq!(denied.retry_after, Duration::from_secs(30));
        assert_eq!(q(denied.snapshot.requests), (5, 0, 30_000));
        assert!(admit(&l, 0, at(t0, 39_999)).is_err());
        for _ in 0..5 {
            admit(&l, 0, at(t0, 40_000)).unwrap();
        }
        let denied = admit(&l, 0, at(t0, 40_000)).unwrap_err();
        assert_eq!(denied.retry_after, MINUTE);
    }

    #[test]
    fn tokens_share_the_minute_and_an_oversized_cost_fits_an_empty_one() {
        let (l, t0) = limiter(fixed(None, Some(100)));
        admit(&l, 60, t0).unwrap();
        let denied = admit(&l, 50, at(t0, 500)).unwrap_err();
        assert_eq!((denied.resource, denied.used), (Resource::Tokens, 60));
        assert_eq!(denied.retry_after, Duration::from_millis(39_500));
        admit(&l, 40, at(t0, 500)).unwrap();
        let big = l.admit(Cost::call(90, 90), at(t0, 40_000), Scale::Minute);
        assert_eq!(q(big.unwrap().tokens), (100, 0, 60_000));
    }

    #[test]
    fn an_untouched_minute_reports_no_reset() {
        let (l, t0) = limiter(fixed(Some(5), None));
        admit(&l, 0, t0).unwrap();
        let next_minute = l.peek(at(t0, 41_000), Scale::Window);
        assert_eq!(q(next_minute.requests), (5, 5, 0));
    }
}
