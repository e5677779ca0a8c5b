//! Paired comparisons, case by case: a positive metric (latency, tokens, cost) by ratios, a bounded score by differences, and pass/fail outcomes.

use super::descriptive::moments;
use super::distributions::{binomial_cdf, normal_upper_quantile, t_interval};
use super::ranks::{median_interval_of_sorted, wilcoxon_signed_rank_p_value};
use super::{Interval, is_positive_finite, is_valid_confidence};

/// Per-case change of a positive metric between baseline and current.
#[derive(Debug, Clone, PartialEq)]
pub struct RatioComparison {
    /// Pairs where both values were finite and > 0.
    pub pairs_used: usize,
    pub pairs_skipped: usize,
    /// Typical change as a fraction, exp(median ln(current/baseline)) − 1
    /// (0.6 means 60% higher), with the sign-test interval for it.
    pub change: Interval,
    /// Two-sided Wilcoxon signed-rank p-value on the log-ratios.
    pub p_value: f64,
}

/// Compares a positive metric case by case. Each usable pair contributes
/// ln(current/baseline); the typical change is the median log-ratio turned
/// back into a fraction, its interval is the distribution-free
/// [`median_confidence_interval`], and the p-value is
/// [`wilcoxon_signed_rank_p_value`] on the log-ratios. Ratios make a 10%
/// slowdown on a 50 ms case count as much as on a 5 s case. O(n log n).
///
/// Identical inputs give change 0 with interval [0, 0] and p-value 1.
/// `None` if the slices differ in length, no pair is usable or the
/// confidence is invalid.
pub fn compare_paired_ratios(
    baseline: &[f64],
    current: &[f64],
    confidence: f64,
) -> Option<RatioComparison> {
    if baseline.len() != current.len() || !is_valid_confidence(confidence) {
        return None;
    }
    let mut log_ratios: Vec<f64> = baseline
        .iter()
        .zip(current)
        .filter(|(b, c)| is_positive_finite(**b) && is_positive_finite(**c))
        .map(|(b, c)| (c / b).ln())
        .collect();
    if log_ratios.is_empty() {
        return None;
    }
    let p_value = wilcoxon_signed_rank_p_value(&log_ratios);
    log_ratios.sort_by(f64::total_cmp);
    let change = median_interval_of_sorted(&log_ratios, confidence).map(f64::exp_m1);
    Some(RatioComparison {
        pairs_used: log_ratios.len(),
        pairs_skipped: baseline.len() - log_ratios.len(),
        change,
        p_value,
    })
}

/// Per-case change of a score such as accuracy or a judge's grade.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreComparison {
    /// Pairs where both values were finite.
    pub pairs_used: usize,
    /// Mean of current − baseline, with its paired-t confidence interval.
    pub mean_difference: Interval,
    /// Two-sided paired t-test p-value (as `scipy.stats.ttest_rel`).
    pub t_test_p_value: f64,
    /// Two-sided Wilcoxon signed-rank p-value on the differences, which
    /// does not lean on normality.
    pub wilcoxon_p_value: f64,
}

/// Compares scores case by case through their differences current −
/// baseline. Differences rather than ratios, because a score of 0 is a
/// legitimate value.
///
/// All differences zero gives mean 0, interval [0, 0] and p-values 1; all
/// differences equal but non-zero gives a zero-width interval and a t-test
/// p-value of 0. `None` if the slices differ in length, fewer than two
/// pairs are usable or the confidence is invalid.
pub fn compare_paired_scores(
    baseline: &[f64],
    current: &[f64],
    confidence: f64,
) -> Option<ScoreComparison> {
    if baseline.len() != current.len() || !is_valid_confidence(confidence) {
        return None;
    }
    let differences: Vec<f64> = baseline
        .iter()
        .zip(current)
        .filter(|(b, c)| b.is_finite() && c.is_finite())
        .map(|(b, c)| c - b)
        .collect();
    let moments = moments(&differences).filter(|m| m.n >= 2)?;
    let n = moments.n as f64;
    let standard_error = (moments.variance / n).sqrt();
    let (mean_difference, t_test_p_value) =
        t_interval(moments.mean, standard_error, n - 1.0, confidence);
    Some(ScoreComparison {
        pairs_used: moments.n,
        mean_difference,
        t_test_p_value,
        wilcoxon_p_value: wilcoxon_signed_rank_p_value(&differences),
    })
}

/// Change in pass rate over the same cases.
#[derive(Debug, Clone, PartialEq)]
pub struct PassRateComparison {
    pub cases: usize,
    pub baseline_pass_rate: f64,
    pub current_pass_rate: f64,
    /// Cases that failed on the baseline and pass now.
    pub newly_passing: usize,
    /// Cases that passed on the baseline and fail now.
    pub newly_failing: usize,
    /// current − baseline pass rate, with Newcombe's interval for paired
    /// proportions.
    pub change: Interval,
    /// McNemar's exact test: two-sided binomial test of the discordant
    /// cases against ½ (as `scipy.stats.binomtest`). 1 when none changed.
    pub p_value: f64,
}

/// Compares pass/fail outcomes case by case.
///
/// The interval is Newcombe's (1998, Statistics in Medicine 17:2635,
/// method 10): Wilson score intervals for the two pass rates combined with
/// the observed correlation between them. Unlike the Wald interval it
/// neither collapses to zero width when no case changed nor leaves
/// [−1, 1].
///
/// `None` if the slices differ in length, are empty, or the confidence is
/// invalid.
pub fn compare_pass_rates(
    baseline: &[bool],
    current: &[bool],
    confidence: f64,
) -> Option<PassRateComparison> {
    if baseline.len() != current.len() || baseline.is_empty() || !is_valid_confidence(confidence) {
        return None;
    }
    let count = |before: bool, now: bool| {
        baseline
            .iter()
            .zip(current)
            .filter(|(b, c)| **b == before && **c == now)
            .count()
    };
    let table = PairedTable {
        both_pass: count(true, true),
        newly_failing: count(true, false),
        newly_passing: count(false, true),
        both_fail: count(false, false),
    };
    let cases = baseline.len() as f64;
    Some(PassRateComparison {
        cases: baseline.len(),
        baseline_pass_rate: (table.both_pass + table.newly_failing) as f64 / cases,
        current_pass_rate: (table.both_pass + table.newly_passing) as f64 / cases,
        newly_passing: table.newly_passing,
        newly_failing: table.newly_failing,
        change: table.newcombe_change_interval(normal_upper_quantile((1.0 - confidence) / 2.0)),
        p_value: mcnemar_exact_p_value(table.newly_passing as u64, table.newly_failing as u64),
    })
}

pub(super) struct PairedTable {
    both_pass: usize,
    newly_failing: usize,
    newly_passing: usize,
    both_fail: usize,
}

impl PairedTable {
    fn newcombe_change_interval(&self, z: f64) -> Interval {
        let [a, b, c, d] = [
            self.both_pass,
            self.newly_failing,
            self.newly_passing,
            self.both_fail,
        ]
        .map(|count| count as f64);
        let n = a + b + c + d;
        let (before, after) = ((a + b) / n, (a + c) / n);
        let (before_low, before_high) = wilson_interval(a + b, n, z);
        let (after_low, after_high) = wilson_interval(a + c, n, z);
        let denominator = ((a + b) * (c + d) * (a + c) * (b + d)).sqrt();
        // With a constant margin the correlation is undefined; 0 treats
        // the two rates as independent, the cautious choice.
        let phi = if denominator > 0.0 {
            (a * d - b * c) / denominator
        } else {
            0.0
        };
        let spread = |x: f64, y: f64| (x * x - 2.0 * phi * x * y + y * y).max(0.0).sqrt();
        let estimate = after - before;
        Interval {
            estimate,
            low: estimate - spread(after - after_low, before_high - before),
            high: estimate + spread(after_high - after, before - before_low),
        }
    }
}

/// Wilson score interval for `successes` out of `trials`.
pub(super) fn wilson_interval(successes: f64, trials: f64, z: f64) -> (f64, f64) {
    let z2 = z * z;
    let center = (successes + z2 / 2.0) / (trials + z2);
    let half_width =
        z * (successes * (trials - successes) / trials + z2 / 4.0).sqrt() / (trials + z2);
    (center - half_width, center + half_width)
}

/// Exact McNemar test: under no change each discordant case is equally
/// likely to go either way, so the smaller count is a Binomial(n, ½) tail,
/// doubled for two sides.
pub(super) fn mcnemar_exact_p_value(newly_passing: u64, newly_failing: u64) -> f64 {
    let discordant = newly_passing + newly_failing;
    let smaller = newly_passing.min(newly_failing);
    (2.0 * binomial_cdf(smaller, discordant, 0.5)).min(1.0)
}
