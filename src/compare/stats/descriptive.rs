//! Descriptive statistics: means, spreads, percentiles and the one-line summary of a metric.

use super::{finite, sorted_finite};

/// Count, mean and sample variance of the finite values.
pub(super) struct Moments {
    pub(super) n: usize,
    pub(super) mean: f64,
    /// Divides by n − 1; zero for a single value.
    pub(super) variance: f64,
}

pub(super) fn moments(values: &[f64]) -> Option<Moments> {
    let (sum, n) = finite(values).fold((0.0, 0_usize), |(sum, n), value| (sum + value, n + 1));
    if n == 0 {
        return None;
    }
    let mean = sum / n as f64;
    // Two passes rather than a running sum of squares, which cancels badly
    // when the spread is small next to the mean (e.g. latencies ~1e6 ± 1).
    let squares: f64 = finite(values).map(|value| (value - mean).powi(2)).sum();
    let variance = if n > 1 { squares / (n - 1) as f64 } else { 0.0 };
    Some(Moments { n, mean, variance })
}

/// Arithmetic mean of the finite values; `None` if there are none.
pub fn mean(values: &[f64]) -> Option<f64> {
    moments(values).map(|m| m.mean)
}

// Only the tests call it: it checks the building blocks against SciPy.
#[cfg(test)]
/// Sample standard deviation (divisor n − 1) of the finite values; `None`
/// for fewer than two.
pub fn std_dev(values: &[f64]) -> Option<f64> {
    moments(values)
        .filter(|m| m.n >= 2)
        .map(|m| m.variance.sqrt())
}

/// Median of the finite values; `None` if there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 50.0)
}

/// The `percent`-th percentile (0 ..= 100) of the finite values, linearly
/// interpolated between order statistics exactly like `numpy.percentile`'s
/// default. `None` if there are no values or `percent` is out of range.
pub fn percentile(values: &[f64], percent: f64) -> Option<f64> {
    if !(0.0..=100.0).contains(&percent) {
        return None;
    }
    let sorted = sorted_finite(values);
    (!sorted.is_empty()).then(|| percentile_of_sorted(&sorted, percent))
}

// Only the tests call it: it checks the building blocks against SciPy.
#[cfg(test)]
/// Smallest finite value; `None` if there are none.
pub fn min(values: &[f64]) -> Option<f64> {
    finite(values).reduce(f64::min)
}

// Only the tests call it: it checks the building blocks against SciPy.
#[cfg(test)]
/// Largest finite value; `None` if there are none.
pub fn max(values: &[f64]) -> Option<f64> {
    finite(values).reduce(f64::max)
}

/// `sorted` must be non-empty and ascending.
pub(super) fn percentile_of_sorted(sorted: &[f64], percent: f64) -> f64 {
    let position = percent / 100.0 * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    lerp(sorted[below], sorted[above], position - below as f64)
}

/// NumPy's interpolation: it measures from the nearer end so that a
/// fraction of exactly 0 or 1 returns that order statistic unchanged.
pub(super) fn lerp(from: f64, to: f64, fraction: f64) -> f64 {
    let span = to - from;
    if fraction >= 0.5 {
        to - span * (1.0 - fraction)
    } else {
        from + span * fraction
    }
}

/// The usual one-line summary of a metric over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of finite values summarised.
    pub n: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    /// Sample standard deviation; 0 when `n` is 1.
    pub std_dev: f64,
}

impl Summary {
    /// Summarises the finite values; `None` if there are none.
    pub fn from_values(values: &[f64]) -> Option<Summary> {
        let sorted = sorted_finite(values);
        let moments = moments(&sorted)?;
        Some(Summary {
            n: moments.n,
            mean: moments.mean,
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            p50: percentile_of_sorted(&sorted, 50.0),
            p95: percentile_of_sorted(&sorted, 95.0),
            p99: percentile_of_sorted(&sorted, 99.0),
            std_dev: moments.variance.sqrt(),
        })
    }
}
