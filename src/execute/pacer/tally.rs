//! A running total over time (the units a lane sent, or its answers used),
//! to tell how much of it fell close to a moment: requests sent a few
//! milliseconds apart travel on their own connections and may reach the
//! server in either order, so a header cannot say which of them it had
//! counted.

use std::collections::VecDeque;

/// Units this close to a moment may have been counted on either side of it.
pub const ORDER: f64 = 0.01;
/// Entries older than this are forgotten (an answer compares with figures
/// at most a request's latency old), and at most [`CAP`] are kept.
const SPAN: f64 = 120.0;
const CAP: usize = 4096;

/// The total after each addition, with its time.
#[derive(Debug, Default)]
pub struct Tally {
    entries: VecDeque<(f64, f64)>,
    /// The total before the oldest entry kept.
    forgotten: f64,
}

impl Tally {
    /// Counts `total`, the running total after an addition at `at`.
    pub fn add(&mut self, at: f64, total: f64) {
        while self
            .entries
            .front()
            .is_some_and(|(t, _)| *t < at - SPAN || self.entries.len() >= CAP)
        {
            if let Some((_, total)) = self.entries.pop_front() {
                self.forgotten = total;
            }
        }
        self.entries.push_back((at, total));
    }

    /// The units added up to [`ORDER`] before `at` (or at it), less
    /// `own`, the addition the moment itself stands for.
    pub fn before(&self, at: f64, own: f64) -> f64 {
        (self.total_by(at, true) - self.total_by(at - ORDER, false) - own).max(0.0)
    }

    /// The units added up to [`ORDER`] after `at`.
    pub fn after(&self, at: f64) -> f64 {
        self.total_by(at + ORDER, true) - self.total_by(at, true)
    }

    /// The units added in the `span` seconds up to `at`, unless some of
    /// them are forgotten.
    pub fn within(&self, at: f64, span: f64) -> Option<f64> {
        let start = at - span;
        let kept = self.forgotten == 0.0 || self.entries.front().is_some_and(|(t, _)| *t <= start);
        kept.then(|| self.total_by(at, true) - self.total_by(start, true))
    }

    /// The total after the additions up to `end` (or, not `inclusive`,
    /// before it).
    fn total_by(&self, end: f64, inclusive: bool) -> f64 {
        let upto = self
            .entries
            .partition_point(|(t, _)| if inclusive { *t <= end } else { *t < end });
        match upto {
            0 => self.forgotten,
            n => self.entries[n - 1].1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_came_close_to_the_moment_counts() {
        let mut tally = Tally::default();
        // A burst of five at 1.000–1.004 s, one alone at 1.5 s.
        for (k, at) in [1.000, 1.001, 1.002, 1.003, 1.004, 1.5]
            .into_iter()
            .enumerate()
        {
            tally.add(at, 10.0 * (k + 1) as f64);
        }
        assert_eq!(
            (tally.before(1.002, 10.0), tally.after(1.002)),
            (20.0, 20.0)
        );
        assert_eq!((tally.before(1.5, 10.0), tally.after(1.5)), (0.0, 0.0));
        assert_eq!((tally.before(1.2, 0.0), tally.after(1.2)), (0.0, 0.0));
        assert_eq!(tally.within(1.5, 0.5), Some(50.0));
        assert_eq!(tally.within(1.5, 1.0), Some(60.0));
    }

    #[test]
    fn what_is_forgotten_still_counts_as_before() {
        let mut tally = Tally::default();
        // One unit every 4 ms: the window before the last holds two more.
        for k in 0..CAP + 10 {
            tally.add(k as f64 * 0.004, (k + 1) as f64);
        }
        let last = (CAP + 9) as f64 * 0.004;
        assert_eq!(tally.before(last, 1.0), 2.0);
        assert_eq!(tally.within(last, 0.999), Some(250.0));
        assert_eq!(tally.within(last, 100.0), None);
        // Before what is kept, the window holds nothing it can see.
        assert_eq!(tally.before(0.0, 0.0), 0.0);
    }
}
