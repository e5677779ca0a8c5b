//! What a provider's rate-limit headers say its limit is: one [`Learner`]
//! per limit (requests, tokens, input and output tokens) reads each
//! answer's `limit`, `remaining` and `reset` and decides which period the
//! `limit` is stated for, so that the lane can pace to it and compute how
//! fast the provider refills.
//!
//! Providers state a limit per minute but report it in different ways, and
//! the `limit` value alone cannot tell them apart: 50 may be a 1-second
//! window of a 3,000 RPM account or an account of 50 RPM. What does tell
//! is how `remaining` and `reset` behave:
//!
//! - **an allowance**: on the first answer, the limit less `remaining` is
//!   far more than this lane has sent, so `remaining` is what may go now
//!   out of a bucket smaller than the limit (or another client shares the
//!   key); the limit is per minute. Anthropic's headers and a token bucket
//!   of a second's capacity read this way.
//! - **a window**: `remaining` plus what a per-minute rate refills in
//!   `reset` falls short of the limit, so the limit comes back faster than
//!   a minute could bring it: it is per window, and the window is the
//!   longest `reset` among the recent answers, in whole seconds (a sliding
//!   window reports the time until it clears, a bucket the time until it
//!   is full; neither is ever longer than the window). A reset rounded up
//!   to the second (Anthropic's timestamps) is read as its lower bound, so
//!   the rounding never stretches the window: a limit of 10 whose reset
//!   is about a second ahead is 10 a second, 600 a minute. A window
//!   learned too long (a late answer, an early outlier) shortens again
//!   once the recent answers no longer show it.
//! - **a fixed window**: answers sent at different times (further apart
//!   than the resets' rounding) report resets ending at the same instant
//!   (the boundary), so the limit is per minute however short the reset
//!   looks near the boundary.
//! - **longer than a minute**: a reset beyond a minute is a per-day limit
//!   (Groq's requests): it caps the run but does not set its pace, and a
//!   large `remaining` in it is no licence to burst. (Until its reset
//!   passes a minute, such a limit reads as a minute of the same size,
//!   far above the pace its per-minute limits set.)
//! - otherwise **a minute**, OpenAI's usual reading.
//!
//! One answer cannot tell a window from a minute (50 left of 50 with a
//! 1-second reset fits both), so nothing is learned from it alone unless
//! it is an allowance or a day.

use std::collections::VecDeque;

/// One limit as one answer reported it, on the lane's clock (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the request went out.
    pub at: f64,
    pub limit: u64,
    pub remaining: u64,
    /// Seconds from `at` until the limit is whole again.
    pub reset: f64,
    /// Units (requests or tokens) this lane had sent when the answer
    /// arrived: all the provider can have counted, unless another client
    /// shares the key.
    pub sent: f64,
    /// How coarse `reset` is: the limit may be whole again up to this many
    /// seconds sooner (a timestamp rounded up to the second).
    pub resolution: f64,
}

/// The period a limit is stated for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Period {
    Minute,
    /// A window of this many seconds.
    Window(f64),
    /// Longer than a minute: a cap on the run, not a pace.
    Long,
}

/// A reset beyond this many seconds belongs to a limit longer than a minute.
const LONG_RESET: f64 = 65.0;
/// Answers whose resets end within this many seconds of each other end
/// at the same instant (network jitter between them).
const SAME_END: f64 = 0.025;
/// Two answers this far apart ending at the same instant point to a fixed
/// window: a sliding window or a bucket would have moved its end.
const FIXED_APART: f64 = 0.2;
/// Answers kept to compare the newest with: at most one per
/// [`RECENT_APART`], so that they span more than [`FIXED_APART`] however
/// fast answers come.
const RECENT: usize = 8;
const RECENT_APART: f64 = 0.1;
/// The window is the longest of this many recent answers' resets.
const WINDOWS: usize = 16;

/// What the answers so far say about one limit.
#[derive(Debug, Clone, Default)]
pub struct Learner {
    recent: VecDeque<Sample>,
    newest: Option<Sample>,
    seen: usize,
    /// Decided on the first answer: `remaining` is an allowance rather than
    /// the limit less what was used.
    allowance: Option<bool>,
    /// The window each recent answer's reset has shown, newest last.
    windows: VecDeque<f64>,
    period: Option<Period>,
}

impl Learner {
    /// Takes one answer's figures into account.
    pub fn observe(&mut self, sample: Sample) {
        if sample.limit == 0 || !sample.reset.is_finite() || sample.reset < 0.0 {
            return;
        }
        let sample = Sample {
            remaining: sample.remaining.min(sample.limit),
            resolution: sample.resolution.max(0.0),
            ..sample
        };
        let used = (sample.limit - sample.remaining) as f64;
        let allowance = *self.allowance.get_or_insert(used > 1.5 * sample.sent + 2.0);
        self.seen += 1;
        self.newest = Some(sample);
        self.period = self.classify(&sample, allowance).or(self.period);
        let apart = RECENT_APART.max((FIXED_APART + sample.resolution) / 4.0);
        if self
            .recent
            .back()
            .is_none_or(|last| sample.at - last.at >= apart)
        {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(sample);
        }
    }

    fn classify(&mut self, newest: &Sample, allowance: bool) -> Option<Period> {
        if newest.reset > LONG_RESET {
            return Some(Period::Long);
        }
        if allowance {
            return Some(Period::Minute);
        }
        if self.seen < 2 {
            return None;
        }
        if self.fixed(newest) {
            self.windows.clear();
            return Some(Period::Minute);
        }
        if refills_within_a_minute(newest) {
            let whole = (earliest_reset(newest) - 0.05).ceil().clamp(1.0, 60.0);
            if self.windows.len() == WINDOWS {
                self.windows.pop_front();
            }
            self.windows.push_back(whole);
        }
        let window = self.windows.iter().copied().reduce(f64::max);
        Some(window.map_or(Period::Minute, Period::Window))
    }

    /// The newest answer and one sent at least [`FIXED_APART`] before it
    /// (beyond the resets' rounding) have resets ending at the same instant.
    fn fixed(&self, newest: &Sample) -> bool {
        self.recent.iter().any(|s| {
            newest.at - s.at >= FIXED_APART + newest.resolution.max(s.resolution)
                && ends_together(s, newest)
        })
    }

    /// The period, once the answers tell it.
    pub fn period(&self) -> Option<Period> {
        self.period
    }

    /// The limit as a per-minute rate to pace to: `None` while unknown and
    /// for limits longer than a minute.
    pub fn per_minute(&self) -> Option<f64> {
        let limit = self.newest?.limit as f64;
        match self.period? {
            Period::Minute => Some(limit),
            Period::Window(secs) => Some(limit * 60.0 / secs),
            Period::Long => None,
        }
    }

    /// How many units a second the limit of `sample` gives back.
    pub fn refill_per_second(&self, sample: &Sample) -> f64 {
        let limit = sample.limit as f64;
        match self.period {
            Some(Period::Window(secs)) => limit / secs,
            Some(Period::Long) if sample.reset > 0.0 => {
                (limit - sample.remaining as f64) / sample.reset
            }
            Some(Period::Long) => limit / 86_400.0,
            Some(Period::Minute) | None => limit / 60.0,
        }
    }

    /// The most the limit of `sample` can hold: the limit itself, or for an
    /// allowance what `remaining` refills to by the reset.
    pub fn capacity(&self, sample: &Sample) -> f64 {
        if self.allowance == Some(true) {
            let refilled = sample.remaining as f64 + sample.reset * self.refill_per_second(sample);
            refilled.min(sample.limit as f64)
        } else {
            sample.limit as f64
        }
    }
}

fn ends_together(a: &Sample, b: &Sample) -> bool {
    ((a.at + a.reset) - (b.at + b.reset)).abs() <= SAME_END
}

/// The soonest the limit of `s` can be whole again: its reset less the
/// reset's rounding.
fn earliest_reset(s: &Sample) -> f64 {
    (s.reset - s.resolution).max(0.0)
}

/// `remaining`, plus what a per-minute rate refills by the reset, is short
/// of the limit (by more than rounding): the limit comes back faster than
/// per minute.
fn refills_within_a_minute(s: &Sample) -> bool {
    let limit = s.limit as f64;
    let tolerance = (limit * 0.01).max(1.0);
    s.remaining as f64 + earliest_reset(s) * limit / 60.0 < limit - tolerance
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: f64, limit: u64, remaining: u64, reset: f64, sent: f64) -> Sample {
        Sample {
            at,
            limit,
            remaining,
            reset,
            sent,
            resolution: 0.0,
        }
    }

    /// A sample whose reset is a timestamp rounded up to the second.
    fn stamped(at: f64, limit: u64, remaining: u64, reset: f64, sent: f64) -> Sample {
        Sample {
            resolution: 1.0,
            ..sample(at, limit, remaining, reset, sent)
        }
    }

    fn learn(samples: &[Sample]) -> Learner {
        let mut learner = Learner::default();
        for s in samples {
            learner.observe(*s);
        }
        learner
    }

    /// 3,000 RPM enforced as 50 in any second, headers scaled to the
    /// window: twenty requests at once, then answers, each reset the time
    /// until the window clears.
    #[test]
    fn window_scaled_headers_give_the_per_second_share() {
        let burst: Vec<Sample> = (0..20)
            .map(|i| sample(0.0, 50, 49 - i, 1.0, 20.0))
            .collect();
        let first = learn(&burst[..1]);
        assert_eq!(first.per_minute(), None, "one answer cannot tell");
        let learner = learn(&burst);
        assert_eq!(learner.period(), Some(Period::Window(1.0)));
        assert_eq!(learner.per_minute(), Some(3_000.0));
        assert_eq!(learner.refill_per_second(&burst[19]), 50.0);
        // Later, paced: one left in the window, which clears in a second.
        let mut paced = learner.clone();
        for k in 0..30 {
            paced.observe(sample(1.0 + k as f64 / 49.0, 50, 1, 1.0, 40.0 + k as f64));
        }
        assert_eq!(paced.per_minute(), Some(3_000.0));
    }

    /// The same bucket reported at minute scale: limit 3,000, `remaining`
    /// what the bucket of 50 holds, reset until it is full.
    #[test]
    fn an_allowance_is_read_as_a_minute() {
        let learner = learn(&[sample(0.0, 3_000, 49, 0.02, 1.0)]);
        assert_eq!(learner.period(), Some(Period::Minute));
        assert_eq!(learner.per_minute(), Some(3_000.0));
        let later = sample(5.0, 3_000, 10, 0.8, 250.0);
        assert_eq!(learner.refill_per_second(&later), 50.0);
        assert!((learner.capacity(&later) - 50.0).abs() < 1e-9);
    }

    /// OpenAI's own reading: 5,000 a minute, one used, back in 12 ms.
    #[test]
    fn minute_scaled_headers_give_the_limit() {
        let learner = learn(&[
            sample(0.0, 5_000, 4_999, 0.012, 2.0),
            sample(0.0, 5_000, 4_998, 0.024, 2.0),
            sample(0.5, 5_000, 4_990, 0.12, 12.0),
        ]);
        assert_eq!(learner.period(), Some(Period::Minute));
        assert_eq!(learner.per_minute(), Some(5_000.0));
        assert_eq!(
            learner.capacity(&sample(1.0, 5_000, 10, 59.0, 0.0)),
            5_000.0
        );
    }

    /// A fixed minute window: every reset ends at the next minute, even a
    /// short one just before it, which alone would look like a window.
    #[test]
    fn a_fixed_window_is_a_minute_even_near_its_boundary() {
        let learner = learn(&[
            sample(20.0, 3_000, 2_999, 40.0, 2.0),
            sample(20.0, 3_000, 2_998, 40.0, 2.0),
            sample(59.5, 3_000, 1_000, 0.5, 2_005.0),
            sample(59.8, 3_000, 990, 0.2, 2_015.0),
        ]);
        assert_eq!(learner.period(), Some(Period::Minute));
        assert_eq!(learner.per_minute(), Some(3_000.0));
    }

    /// Groq: 14,400 requests a day, refilled over the day (6 s a request);
    /// the requests headers describe the day.
    #[test]
    fn per_day_headers_cap_but_do_not_pace() {
        let burst: Vec<Sample> = (0..12)
            .map(|i| sample(0.0, 14_400, 14_399 - i, 6.0 * (i + 1) as f64, 12.0))
            .collect();
        // Ten requests in, the day reads as a minute far above the pace.
        assert_eq!(learn(&burst[..10]).per_minute(), Some(14_400.0));
        let learner = learn(&burst);
        assert_eq!(learner.period(), Some(Period::Long));
        assert_eq!(learner.per_minute(), None);
        assert!((learner.refill_per_second(&burst[11]) - 1.0 / 6.0).abs() < 1e-9);
        let later = learn(&[sample(0.0, 14_400, 14_200, 1_200.0, 210.0)]);
        assert_eq!(later.period(), Some(Period::Long));
        // Groq's tokens: a minute's bucket, refilled at the limit a minute.
        let tokens = learn(&[
            sample(0.0, 72_000, 71_976, 0.02, 48.0),
            sample(0.0, 72_000, 71_952, 0.04, 48.0),
        ]);
        assert_eq!(tokens.per_minute(), Some(72_000.0));
    }

    /// Anthropic: input and output tokens have their own limits, each an
    /// allowance of a second's bucket, resets rounded up to the second.
    #[test]
    fn anthropic_input_and_output_limits_each_learn_their_minute() {
        let input = learn(&[sample(0.0, 40_000, 658, 1.0, 300.0)]);
        let output = learn(&[sample(0.0, 48_000, 784, 1.0, 320.0)]);
        assert_eq!(input.per_minute(), Some(40_000.0));
        assert_eq!(output.per_minute(), Some(48_000.0));
        // A bucket whose capacity is the limit, as Anthropic documents it:
        // resets rounded up to the second end together, a minute.
        let full = learn(&[sample(0.0, 50, 49, 1.6, 1.0), sample(0.3, 50, 48, 1.3, 2.0)]);
        assert_eq!(full.per_minute(), Some(50.0));
    }

    /// 600 RPM enforced as 10 in any second, Anthropic-style: limit 10,
    /// the reset a timestamp about a second ahead, rounded up to the
    /// second (so up to two seconds ahead). Paced at 10 a second, answers
    /// 0.3 s apart often share a timestamp; that is the rounding, not a
    /// fixed window.
    #[test]
    fn a_rounded_reset_about_a_window_ahead_is_that_windows_limit() {
        // The server's clock reads 0.45 s past a whole second at t = 0.
        let stamp = |t: f64| (t + 0.45 + 1.0).ceil() - 0.45 - t;
        let samples: Vec<Sample> = (0..60)
            .map(|k| {
                let t = k as f64 * 0.1;
                let remaining = if k < 10 { 9 - k } else { 0 };
                stamped(t, 10, remaining, stamp(t), k as f64 + 1.0)
            })
            .collect();
        let learner = learn(&samples);
        assert_eq!(learner.period(), Some(Period::Window(1.0)));
        assert_eq!(learner.per_minute(), Some(600.0));
        // Read as exact, the same resets say something else.
        let exact: Vec<Sample> = samples
            .iter()
            .map(|s| Sample {
                resolution: 0.0,
                ..*s
            })
            .collect();
        assert_ne!(learn(&exact).per_minute(), Some(600.0));
    }

    /// A window read too long from one answer (a late one) is read again
    /// from the recent answers: the learned limit goes back up.
    #[test]
    fn a_window_learned_too_long_shortens_with_later_answers() {
        let mut learner = learn(&[
            sample(0.0, 50, 40, 1.0, 10.0),
            sample(0.0, 50, 30, 2.6, 20.0),
        ]);
        assert_eq!(learner.per_minute(), Some(1_000.0));
        for k in 0..WINDOWS {
            learner.observe(sample(1.0 + k as f64 * 0.05, 50, 5, 1.0, 60.0));
        }
        assert_eq!(learner.period(), Some(Period::Window(1.0)));
        assert_eq!(learner.per_minute(), Some(3_000.0));
    }

    /// A fixed minute with resets rounded to the second: answers more than
    /// the rounding apart end at the boundary together.
    #[test]
    fn a_fixed_window_with_rounded_resets_is_still_a_minute() {
        let learner = learn(&[
            stamped(20.0, 3_000, 2_999, 40.0, 2.0),
            stamped(20.0, 3_000, 2_998, 40.0, 2.0),
            stamped(21.5, 3_000, 2_900, 38.5, 102.0),
        ]);
        assert_eq!(learner.period(), Some(Period::Minute));
        assert_eq!(learner.per_minute(), Some(3_000.0));
    }

    #[test]
    fn nonsense_is_ignored() {
        let learner = learn(&[
            sample(0.0, 0, 0, 1.0, 0.0),
            sample(0.0, 50, 10, f64::NAN, 0.0),
        ]);
        assert_eq!(learner.period(), None);
        assert_eq!(learner.per_minute(), None);
    }
}
