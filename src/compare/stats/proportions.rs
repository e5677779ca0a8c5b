//! Two pass rates from independent samples: the whole suite's on the
//! baseline and now, which need not hold the same cases.

use super::distributions::normal_upper_quantile;
use super::paired::wilson_interval;
use super::{Interval, is_valid_confidence};

/// The change current − baseline of two proportions, `passed` of `cases`
/// each, with Newcombe's hybrid score interval (1998, Statistics in
/// Medicine 17:873, method 10): the two Wilson intervals combined. It stays
/// within [−1, 1] and keeps a sensible width when a rate is 0 or 1, where
/// the Wald interval collapses.
///
/// `None` when either sample is empty, a count exceeds its sample, or the
/// confidence is invalid.
pub fn compare_proportions(
    baseline: (u64, u64),
    current: (u64, u64),
    confidence: f64,
) -> Option<Interval> {
    let ((k1, n1), (k2, n2)) = (baseline, current);
    if n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2 || !is_valid_confidence(confidence) {
        return None;
    }
    let z = normal_upper_quantile((1.0 - confidence) / 2.0);
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let (l1, u1) = wilson_interval(k1 as f64, n1 as f64, z);
    let (l2, u2) = wilson_interval(k2 as f64, n2 as f64, z);
    let estimate = p2 - p1;
    Some(Interval {
        estimate,
        low: estimate - ((p2 - l2).powi(2) + (u1 - p1).powi(2)).sqrt(),
        high: estimate + ((u2 - p2).powi(2) + (p1 - l1).powi(2)).sqrt(),
    })
}
