//! Two independent samples: Welch's t-test on logs, as a ratio of geometric means.

use super::descriptive::moments;
use super::distributions::t_interval;
use super::{Interval, is_valid_confidence, positive_logs};

/// Ratio of geometric means of two independent samples.
#[derive(Debug, Clone, PartialEq)]
pub struct GeometricMeanComparison {
    pub before_n: usize,
    pub after_n: usize,
    /// geometric mean(after) / geometric mean(before), with its interval.
    pub ratio: Interval,
    /// Welch–Satterthwaite degrees of freedom.
    pub degrees_of_freedom: f64,
    /// Two-sided p-value of Welch's t-test on the logarithms.
    pub p_value: f64,
}

/// Welch's t-test on ln(values) for two independent samples, such as a
/// benchmark's iterations before and after a change — the same test as
/// `scipy.stats.ttest_ind(ln(after), ln(before), equal_var=False)`, with
/// the difference of mean logs reported as a ratio of geometric means.
///
/// If both samples are constant the degrees of freedom fall back to
/// n₁ + n₂ − 2, the interval has zero width and the p-value is 1 for equal
/// values, else 0. `None` if either sample has fewer than two values that
/// are finite and > 0, or the confidence is invalid.
pub fn compare_geometric_means(
    before: &[f64],
    after: &[f64],
    confidence: f64,
) -> Option<GeometricMeanComparison> {
    if !is_valid_confidence(confidence) {
        return None;
    }
    let before_logs = positive_logs(before);
    let after_logs = positive_logs(after);
    let before_moments = moments(&before_logs).filter(|m| m.n >= 2)?;
    let after_moments = moments(&after_logs).filter(|m| m.n >= 2)?;
    let (n_before, n_after) = (before_moments.n as f64, after_moments.n as f64);
    let before_share = before_moments.variance / n_before;
    let after_share = after_moments.variance / n_after;
    let standard_error = (before_share + after_share).sqrt();
    let degrees_of_freedom = if standard_error > 0.0 {
        (before_share + after_share).powi(2)
            / (before_share.powi(2) / (n_before - 1.0) + after_share.powi(2) / (n_after - 1.0))
    } else {
        n_before + n_after - 2.0
    };
    let (log_difference, p_value) = t_interval(
        after_moments.mean - before_moments.mean,
        standard_error,
        degrees_of_freedom,
        confidence,
    );
    Some(GeometricMeanComparison {
        before_n: before_moments.n,
        after_n: after_moments.n,
        ratio: log_difference.map(f64::exp),
        degrees_of_freedom,
        p_value,
    })
}
