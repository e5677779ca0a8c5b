//! Rank-based building blocks: the Wilcoxon signed-rank test and the distribution-free interval for a median.

use super::descriptive::percentile_of_sorted;
use super::distributions::{normal_cdf, normal_upper_quantile};
use super::{Interval, finite};

/// Two-sided p-value of the Wilcoxon signed-rank test that the differences
/// are symmetric about zero.
///
/// Zero differences are dropped (Wilcoxon's method), tied magnitudes get
/// their average rank, and the normal approximation uses the tie-corrected
/// variance without continuity correction — the same number as
/// `scipy.stats.wilcoxon(d, zero_method="wilcox", correction=False,
/// method="approx")`. Sorting dominates, so it is O(n log n). Returns 1
/// when no non-zero finite difference is left.
pub fn wilcoxon_signed_rank_p_value(differences: &[f64]) -> f64 {
    let mut nonzero: Vec<f64> = finite(differences).filter(|d| *d != 0.0).collect();
    if nonzero.is_empty() {
        return 1.0;
    }
    nonzero.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    let mut positive_rank_sum = 0.0;
    let mut tie_sum = 0.0;
    let mut ranks_before = 0;
    for group in nonzero.chunk_by(|a, b| a.abs() == b.abs()) {
        let size = group.len() as f64;
        let average_rank = ranks_before as f64 + (size + 1.0) / 2.0;
        let positives = group.iter().filter(|d| **d > 0.0).count() as f64;
        positive_rank_sum += average_rank * positives;
        tie_sum += size * size * size - size;
        ranks_before += group.len();
    }
    let n = nonzero.len() as f64;
    let expected = n * (n + 1.0) / 4.0;
    let variance = (n * (n + 1.0) * (2.0 * n + 1.0) - tie_sum / 2.0) / 24.0;
    let z = (positive_rank_sum - expected) / variance.sqrt();
    (2.0 * normal_cdf(-z.abs())).min(1.0)
}

// Only the tests call it: it checks the building blocks against SciPy.
#[cfg(test)]
/// Distribution-free confidence interval for the median of the finite
/// values: the estimate is the sample median and the bounds are the order
/// statistics x₍k₎ and x₍n+1−k₎ chosen by the sign test, so the interval
/// needs no assumption about the shape of the distribution.
///
/// For n ≤ 1000 k comes from the exact Binomial(n, ½) distribution (the
/// coverage is then at least `confidence`); above that from its normal
/// approximation with continuity correction. When n is too small for any
/// pair of order statistics to reach `confidence` (n ≤ 5 at 0.95), the
/// bounds are −∞ and +∞: the data cannot bound the median at that level.
/// `None` for no values or an invalid confidence.
pub fn median_confidence_interval(values: &[f64], confidence: f64) -> Option<Interval> {
    if !super::is_valid_confidence(confidence) {
        return None;
    }
    let sorted = super::sorted_finite(values);
    (!sorted.is_empty()).then(|| median_interval_of_sorted(&sorted, confidence))
}

/// `sorted` must be non-empty and ascending.
pub(super) fn median_interval_of_sorted(sorted: &[f64], confidence: f64) -> Interval {
    let estimate = percentile_of_sorted(sorted, 50.0);
    match median_bound_rank(sorted.len(), (1.0 - confidence) / 2.0) {
        Some(rank) => Interval {
            estimate,
            low: sorted[rank - 1],
            high: sorted[sorted.len() - rank],
        },
        None => Interval {
            estimate,
            low: f64::NEG_INFINITY,
            high: f64::INFINITY,
        },
    }
}

/// Largest sample size for which the sign-test ranks are found from the
/// exact binomial distribution; 2⁻ⁿ is still a normal double there.
pub(super) const EXACT_RANK_LIMIT: usize = 1000;

/// The largest 1-based rank k with P(B ≤ k − 1) ≤ tail for
/// B ~ Binomial(n, ½): each bound then misses the median with probability
/// at most `tail`.
pub(super) fn median_bound_rank(n: usize, tail: f64) -> Option<usize> {
    if n <= EXACT_RANK_LIMIT {
        exact_median_bound_rank(n, tail)
    } else {
        let z = normal_upper_quantile(tail);
        let rank = ((n as f64 + 1.0 - z * (n as f64).sqrt()) / 2.0).floor();
        (rank >= 1.0).then_some(rank as usize)
    }
}

pub(super) fn exact_median_bound_rank(n: usize, tail: f64) -> Option<usize> {
    let mut probability = 0.5_f64.powi(n as i32);
    let mut cumulative = probability;
    let mut rank = None;
    let mut below = 0;
    // Stopping at n / 2 keeps x₍k₎ ≤ x₍n+1−k₎.
    while cumulative <= tail && below < n / 2 {
        rank = Some(below + 1);
        probability *= (n - below) as f64 / (below + 1) as f64;
        below += 1;
        cumulative += probability;
    }
    rank
}
