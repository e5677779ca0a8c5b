//! The sliding window of [`crate::Enforcement::SlidingWindow`]: at most
//! `limit * secs / 60` in any window of `secs` seconds, kept as a log of
//! admissions. The log also covers the last minute, for the headers at
//! minute scale.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{MINUTE, Meter, Moment, Quota, Scale};

#[derive(Debug)]
pub(super) struct Sliding {
    limit: u64,
    capacity: u64,
    /// Admission times and costs, oldest first, back to the start of the
    /// longer of the window and the minute.
    log: VecDeque<(Instant, u64)>,
    window: Tail,
    minute: Tail,
}

/// The part of the log within `span` of now: it starts at index `first`
/// and its costs add up to `sum`. Kept up to date as time advances, so no
/// call has to walk the whole log.
#[derive(Debug)]
struct Tail {
    span: Duration,
    first: usize,
    sum: u64,
}

impl Tail {
    fn new(span: Duration) -> Self {
        Self {
            span,
            first: 0,
            sum: 0,
        }
    }

    /// Drops the entries that have left the span; an entry admitted at `t`
    /// counts until `t + span`.
    fn advance(&mut self, log: &VecDeque<(Instant, u64)>, now: Instant) {
        while let Some(&(t, cost)) = log.get(self.first) {
            if t + self.span > now {
                break;
            }
            self.sum -= cost;
            self.first += 1;
        }
    }

    /// How much of `per_span` is left and how long until the span is empty.
    fn quota(&self, log: &VecDeque<(Instant, u64)>, per_span: u64, now: Instant) -> Quota {
        let newest = log.back().filter(|_| self.first < log.len());
        Quota {
            limit: per_span,
            remaining: per_span.saturating_sub(self.sum),
            reset: newest.map_or(Duration::ZERO, |&(t, _)| {
                (t + self.span).saturating_duration_since(now)
            }),
        }
    }
}

impl Sliding {
    /// The window's share of the minute is rounded down; configuration
    /// checks make sure it is at least 1.
    pub(super) fn new(limit: u64, window: Duration) -> Self {
        let capacity = u128::from(limit) * window.as_millis() / MINUTE.as_millis();
        Self {
            limit,
            capacity: u64::try_from(capacity).unwrap_or(u64::MAX),
            log: VecDeque::new(),
            window: Tail::new(window),
            minute: Tail::new(MINUTE),
        }
    }
}

impl Meter for Sliding {
    fn advance(&mut self, now: Moment) {
        self.window.advance(&self.log, now.at);
        self.minute.advance(&self.log, now.at);
        let gone = self.window.first.min(self.minute.first);
        self.log.drain(..gone);
        self.window.first -= gone;
        self.minute.first -= gone;
    }

    /// Waits until enough of the oldest entries have left the window for
    /// `cost` to fit. A cost larger than the whole window waits for an
    /// empty window, like an oversized request waits for a full bucket.
    fn wait(&self, cost: u64, now: Moment) -> Duration {
        let excess = if cost > self.capacity {
            self.window.sum
        } else {
            (self.window.sum + cost).saturating_sub(self.capacity)
        };
        if excess == 0 {
            return Duration::ZERO;
        }
        let mut freed = 0;
        self.log
            .range(self.window.first..)
            .find(|&&(_, c)| {
                freed += c;
                freed >= excess
            })
            .map_or(Duration::ZERO, |&(t, _)| {
                (t + self.window.span).saturating_duration_since(now.at)
            })
    }

    fn charge(&mut self, cost: u64, now: Moment) {
        // A zero cost would only make the figures show a pending reset.
        if cost > 0 {
            self.log.push_back((now.at, cost));
            self.window.sum += cost;
            self.minute.sum += cost;
        }
    }

    fn quota(&self, now: Moment, scale: Scale) -> Quota {
        match scale {
            Scale::Minute => self.minute.quota(&self.log, self.limit, now.at),
            Scale::Window => self.window.quota(&self.log, self.capacity, now.at),
        }
    }

    fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::super::Resource;
    use super::super::tests::{admit, at, limiter, q};
    use super::*;
    use crate::config::{Config, Enforcement};

    fn sliding(rpm: Option<u64>, tpm: Option<u64>, secs: u64) -> Config {
        Config {
            rpm,
            tpm,
            enforcement: Enforcement::SlidingWindow { secs },
            ..Config::default()
        }
    }

    /// 3,000 a minute in a 1-second window is 50 in any second, however
    /// they are spread.
    #[test]
    fn admits_exactly_the_window_share_in_any_window() {
        let (l, t0) = limiter(sliding(Some(3_000), None, 1));
        for i in 0..30 {
            admit(&l, 0, at(t0, i)).unwrap();
        }
        for i in 0..20 {
            admit(&l, 0, at(t0, 600 + i)).unwrap();
        }
        let denied = admit(&l, 0, at(t0, 700)).unwrap_err();
        assert_eq!(denied.resource, Resource::Requests);
        // Room again when the first admission, at 0 ms, leaves at 1,000 ms.
        assert_eq!(denied.retry_after, Duration::from_millis(300));
        assert!(admit(&l, 0, at(t0, 999)).is_err());
        admit(&l, 0, at(t0, 1_000)).unwrap();
        assert!(admit(&l, 0, at(t0, 1_000)).is_err());
        // Another 29 leave by 1,029 ms, while 20 of 600 ms are still in.
        for _ in 0..29 {
            admit(&l, 0, at(t0, 1_029)).unwrap();
        }
        assert_eq!(
            admit(&l, 0, at(t0, 1_029)).unwrap_err().retry_after,
            Duration::from_millis(571)
        );
    }

    #[test]
    fn reports_the_window_or_the_minute() {
        let (l, t0) = limiter(sliding(Some(3_000), None, 1));
        for i in 0..10 {
            admit(&l, 0, at(t0, i * 100)).unwrap();
        }
        let now = at(t0, 1_050);
        // 9 admissions in the last second, the newest leaving at 1,900 ms.
        assert_eq!(q(l.peek(now, Scale::Window).requests), (50, 41, 850));
        // 10 in the last minute, the newest leaving at 60,900 ms.
        assert_eq!(
            q(l.peek(now, Scale::Minute).requests),
            (3_000, 2_990, 59_850)
        );
        assert_eq!(
            q(l.peek(at(t0, 61_000), Scale::Minute).requests),
            (3_000, 3_000, 0)
        );
    }

    #[test]
    fn tokens_wait_for_enough_old_entries_to_leave() {
        let (l, t0) = limiter(sliding(None, Some(600), 10));
        // 100 tokens per 10 s window.
        admit(&l, 40, t0).unwrap();
        admit(&l, 30, at(t0, 2_000)).unwrap();
        admit(&l, 20, at(t0, 4_000)).unwrap();
        let denied = admit(&l, 50, at(t0, 5_000)).unwrap_err();
        assert_eq!(denied.resource, Resource::Tokens);
        assert_eq!((denied.limit, denied.used, denied.requested), (600, 90, 50));
        // 40 must leave (at 10 s) to fit 50 beside the other 50.
        assert_eq!(denied.retry_after, Duration::from_secs(5));
        let oversized = admit(&l, 150, at(t0, 5_000)).unwrap_err();
        assert_eq!(oversized.retry_after, Duration::from_secs(9));
        admit(&l, 150, at(t0, 14_000)).unwrap();
        let snap = l.peek(at(t0, 14_000), Scale::Window);
        assert_eq!(q(snap.tokens), (100, 0, 10_000));
    }

    #[test]
    fn the_log_keeps_only_what_a_span_still_holds() {
        let t0 = Instant::now();
        let moment = |ms| Moment {
            at: at(t0, ms),
            wall: Duration::ZERO,
        };
        let mut s = Sliding::new(6_000, Duration::from_secs(1));
        for i in 0..100 {
            s.advance(moment(i * 20));
            s.charge(1, moment(i * 20));
        }
        s.advance(moment(30_000));
        assert_eq!((s.log.len(), s.window.first, s.window.sum), (100, 100, 0));
        assert_eq!((s.minute.first, s.minute.sum), (0, 100));
        s.advance(moment(62_000));
        assert_eq!((s.log.len(), s.window.first, s.minute.first), (0, 0, 0));
    }
}
