//! A timing against the recent history of the baseline branch: a log-normal prediction interval and the run-to-run noise floor.

use super::descriptive::{moments, percentile_of_sorted};
use super::distributions::student_t_upper_quantile;
use super::{Interval, is_positive_finite, is_valid_confidence, positive_logs};

/// Where a new timing falls against main's recent runs.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryCheck {
    /// History values that were finite and > 0.
    pub runs_used: usize,
    /// Geometric mean of the history (estimate) and the log-normal
    /// prediction interval for one more run (low, high).
    pub prediction: Interval,
    /// new value / geometric mean (1.25 means 25% slower than usual).
    pub ratio_to_geometric_mean: f64,
    pub above_upper_bound: bool,
    pub below_lower_bound: bool,
}

/// Checks one new value against a log-normal model of the history: with m
/// and s the mean and sample standard deviation of ln(history) over n runs,
/// the next run falls within exp(m ± t(n−1, 1−α/2)·s·√(1 + 1/n)) with
/// probability `confidence`. Timings are modelled on the log scale because
/// they are positive and skewed.
///
/// A perfectly constant history gives a zero-width interval, so any change
/// falls outside it; combine with [`noise_floor`] for a tolerance. `None`
/// for fewer than two usable history values, a new value that is not finite
/// and > 0, or an invalid confidence.
pub fn check_against_history(
    history: &[f64],
    new_value: f64,
    confidence: f64,
) -> Option<HistoryCheck> {
    if !is_positive_finite(new_value) || !is_valid_confidence(confidence) {
        return None;
    }
    let logs = positive_logs(history);
    let moments = moments(&logs).filter(|m| m.n >= 2)?;
    let n = moments.n as f64;
    let t = student_t_upper_quantile((1.0 - confidence) / 2.0, n - 1.0);
    let margin = t * moments.variance.sqrt() * (1.0 + 1.0 / n).sqrt();
    let prediction = Interval {
        estimate: moments.mean,
        low: moments.mean - margin,
        high: moments.mean + margin,
    }
    .map(f64::exp);
    Some(HistoryCheck {
        runs_used: moments.n,
        prediction,
        ratio_to_geometric_mean: new_value / prediction.estimate,
        above_upper_bound: new_value > prediction.high,
        below_lower_bound: new_value < prediction.low,
    })
}

/// The typical run-to-run change of a metric on an unchanged code base: the
/// median of |ln(xᵢ₊₁ / xᵢ)| over consecutive usable values, as a fraction
/// (0.03 means runs usually differ by about 3%). The median ignores the
/// occasional outlier run. Values that are not finite and > 0 are dropped
/// before pairing. `None` for fewer than two usable values.
pub fn noise_floor(history: &[f64]) -> Option<f64> {
    let logs = positive_logs(history);
    let mut steps: Vec<f64> = logs.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_by(f64::total_cmp);
    Some(percentile_of_sorted(&steps, 50.0).exp_m1())
}
