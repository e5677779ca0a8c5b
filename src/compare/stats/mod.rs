//! Statistics behind regression verdicts: how a pull request's run compares
//! with the main branch's baseline, and how a new timing compares with the
//! recent history of main.
//!
//! This module owns the arithmetic only — descriptive summaries, the normal,
//! Student-t and binomial distributions, paired and two-sample comparisons, a
//! log-normal prediction interval, a noise floor and a seeded bootstrap. It
//! decides nothing: callers turn estimates, intervals and p-values into
//! verdicts.
//!
//! Everything here is pure: values in, values out. There is no I/O, no clock,
//! no global state; the bootstrap takes its seed as a parameter, so every call
//! is reproducible.
//!
//! Conventions shared by every function:
//! - Non-finite inputs (NaN, ±∞) are treated as missing and skipped; for
//!   paired inputs the whole pair is skipped. Functions that work on
//!   logarithms (ratios, geometric means, history) also skip values ≤ 0.
//! - `confidence` is a two-sided level such as 0.95; a level outside (0, 1)
//!   gives `None`.
//! - Input that leaves nothing to estimate gives `None`; degenerate but
//!   meaningful input (all values equal, all differences zero) gives the
//!   neutral result documented on each function, never a panic or a NaN.
//!   Only the distribution functions answer invalid parameters with NaN,
//!   as SciPy does.

mod bootstrap;
mod descriptive;
mod distributions;
mod flips;
mod history;
mod paired;
mod proportions;
mod ranks;
mod samples;
mod special;

pub use bootstrap::{SplitMix64, bootstrap_ci};
pub use descriptive::{Summary, mean, median, percentile};
pub use flips::{net_count_upper_tail, sign_test_upper};
pub use history::{check_against_history, noise_floor};
pub use paired::{compare_paired_ratios, compare_paired_scores, compare_pass_rates};
pub use proportions::compare_proportions;
pub use samples::compare_geometric_means;

/// A point estimate with a two-sided interval around it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    #[serde(deserialize_with = "f64_or_nan")]
    pub estimate: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub low: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub high: f64,
}

/// Reads back a number that JSON wrote as `null` because it was not a
/// number (NaN): a missing estimate stays missing.
pub fn f64_or_nan<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

impl Interval {
    /// Carries the interval through a monotone increasing transform (e.g.
    /// from the log scale back to ratios).
    pub fn map(self, transform: impl Fn(f64) -> f64) -> Interval {
        Interval {
            estimate: transform(self.estimate),
            low: transform(self.low),
            high: transform(self.high),
        }
    }
}

pub(super) fn is_valid_confidence(confidence: f64) -> bool {
    confidence > 0.0 && confidence < 1.0
}

pub(super) fn is_positive_finite(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

pub(super) fn finite(values: &[f64]) -> impl Iterator<Item = f64> + '_ {
    values.iter().copied().filter(|value| value.is_finite())
}

pub(super) fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = finite(values).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

pub(super) fn positive_logs(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .copied()
        .filter(|value| is_positive_finite(*value))
        .map(f64::ln)
        .collect()
}

#[cfg(test)]
mod tests;
