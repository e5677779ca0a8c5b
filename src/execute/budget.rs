//! Rate budgets spent before a request goes out: a requests-per-minute or
//! tokens-per-minute allowance over governor's GCRA limiter.
//!
//! Two facts about governor shape this wrapper: asking for more cells than
//! the burst is an immediate `InsufficientCapacity` (so it is reported as
//! [`Denied::TooLarge`], never waited on), and it has its own clock, so tests
//! drive it with `FakeRelativeClock` rather than tokio's paused time.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Budgets are spent this much below the configured rate, so that clock and
/// network jitter never turn an exactly-spent budget into a 429.
pub const HEADROOM: f64 = 0.02;

/// Why a budget said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// Ask again after this long.
    Wait(Duration),
    /// More than the budget can ever allow at once.
    TooLarge { burst: u32 },
}

/// A per-minute allowance with a burst.
pub struct Budget<C: Clock = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    per_minute: u32,
    burst: u32,
}

impl<C: Clock + Clone> Budget<C> {
    /// `per_minute` units a minute, at most `burst` at once.
    pub fn new(per_minute: NonZeroU32, burst: NonZeroU32, clock: C) -> Budget<C> {
        let rate = f64::from(per_minute.get()) * (1.0 - HEADROOM);
        let period = Duration::from_secs_f64(60.0 / rate);
        let quota = Quota::with_period(period)
            .expect("a positive rate gives a positive period")
            .allow_burst(burst);
        Budget {
            limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            per_minute: per_minute.get(),
            burst: burst.get(),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Spends `n` units now, or says how long until they are there.
    pub fn take(&self, n: u32) -> Result<(), Denied> {
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.limiter.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Denied::Wait(not_until.wait_time_from(self.clock.now()))),
            Err(_) => Err(Denied::TooLarge { burst: self.burst }),
        }
    }
}

/// The burst for a requests budget: half a second's worth. Providers may
/// enforce a per-minute limit per second (OpenAI says it does), so a whole
/// minute sent at once would be refused; and requests released on time can
/// still arrive bunched (a busy runner, a slow network), so keeping half
/// of the provider's one-second bucket free absorbs that jitter instead of
/// drawing a 429. The rate, and so the throughput, is unchanged.
pub fn request_burst(per_minute: u32) -> NonZeroU32 {
    NonZeroU32::new((per_minute / 120).max(1)).expect("at least 1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::{FakeRelativeClock, Reference};

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    /// Spends one unit at a time as soon as the budget allows, advancing
    /// the fake clock by each wait, and returns the grant times.
    fn grants(
        budget: &Budget<FakeRelativeClock>,
        clock: &FakeRelativeClock,
        n: usize,
    ) -> Vec<Duration> {
        let start = clock.now();
        let mut times = Vec::with_capacity(n);
        while times.len() < n {
            match budget.take(1) {
                Ok(()) => times.push(Duration::from(clock.now().duration_since(start))),
                Err(Denied::Wait(d)) => clock.advance(d),
                Err(Denied::TooLarge { .. }) => unreachable!(),
            }
        }
        times
    }

    #[test]
    fn never_more_than_the_limit_in_any_minute() {
        let clock = FakeRelativeClock::default();
        let budget = Budget::new(nz(120), request_burst(120), clock.clone());
        let times = grants(&budget, &clock, 600);
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(60))
                .count();
            assert!(
                in_window <= 120,
                "{in_window} grants in the minute from {t:?}"
            );
        }
        // Spent at the configured rate less the headroom: 600 grants take
        // about 600 / (120 × 0.98) minutes.
        let last = times.last().unwrap().as_secs_f64();
        let expected = (600.0 - 2.0) / (120.0 * (1.0 - HEADROOM)) * 60.0;
        assert!((last - expected).abs() < 1.0, "{last} vs {expected}");
    }

    #[test]
    fn burst_is_half_a_second_of_requests() {
        let clock = FakeRelativeClock::default();
        let budget = Budget::new(nz(3000), request_burst(3000), clock.clone());
        assert_eq!(budget.burst(), 25);
        for _ in 0..25 {
            assert_eq!(budget.take(1), Ok(()));
        }
        assert!(matches!(budget.take(1), Err(Denied::Wait(_))));
    }

    #[test]
    fn more_than_the_burst_is_refused_not_waited_on() {
        let clock = FakeRelativeClock::default();
        let budget = Budget::new(nz(10_000), nz(10_000), clock);
        assert_eq!(budget.take(10_001), Err(Denied::TooLarge { burst: 10_000 }));
        assert_eq!(budget.take(10_000), Ok(()));
        assert_eq!(budget.take(0), Ok(()));
    }

    #[test]
    fn tokens_refill_over_the_minute() {
        let clock = FakeRelativeClock::default();
        let budget = Budget::new(nz(6000), nz(6000), clock.clone());
        assert_eq!(budget.take(6000), Ok(()));
        let Err(Denied::Wait(wait)) = budget.take(1000) else {
            panic!("an empty budget must ask for a wait");
        };
        // 1000 tokens of a 6000/min budget (less headroom) take about 10.2 s.
        assert!(
            (wait.as_secs_f64() - 10.0 / (1.0 - HEADROOM)).abs() < 0.05,
            "{wait:?}"
        );
        clock.advance(wait);
        assert_eq!(budget.take(1000), Ok(()));
    }
}
