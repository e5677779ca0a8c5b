//! The noise model for cases whose request did not change but whose model
//! drew a new answer: how many of them would newly fail by chance alone.
//!
//! Each case passes with its own probability π on the baseline branch,
//! learnt from the fresh answers its unchanged request got on the branch's
//! recent runs other than the baseline (and from its repeats), and shrunk
//! toward the suite-wide rate, so a case seen only a few times is not taken
//! as certain. Given which cases passed on the baseline, a case that passed
//! newly fails with probability 1 − π; the number of newly failing cases
//! then has a known distribution (Poisson-binomial), and the observed count
//! is tested against it, one-sided. Cases that newly pass are improvements:
//! they are reported and never offset a failure, so a pull request that
//! fixes ten cases and breaks ten others is judged on the ten it broke.
//!
//! With no fresh answer on record there is no rate to learn; then the only
//! sound test left is McNemar's (flips either way equally likely under no
//! change), which does weigh failures against passes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::compare::stats;
use crate::store::{CaseKey, CaseOutcome, CaseSamples};

/// Prior strength when too few cases have history to fit one: worth two
/// runs of the case itself.
const DEFAULT_STRENGTH: f64 = 2.0;
/// The prior is at most this strong: a suite whose cases all behave alike
/// still lets a case's own record move its estimate.
const MAX_STRENGTH: f64 = 1000.0;
/// Cases with at least two samples needed to fit the prior's spread.
const MIN_CASES_FOR_FIT: usize = 5;

/// What the noise model concluded about the resampled cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoiseTest {
    /// `history` (per-case pass rates learnt from the baseline branch) or
    /// `symmetric` (no fresh answers on record: McNemar's exact test).
    pub method: String,
    /// Shared cases whose request was unchanged and whose answer was drawn
    /// again (or whose run kept no fingerprint).
    pub cases: usize,
    /// Of those, newly failing and newly passing.
    pub newly_failing: usize,
    pub newly_passing: usize,
    /// Fresh answers on the baseline branch that the estimates rest on, and
    /// the runs they came from.
    pub samples: u64,
    pub history_runs: usize,
    /// The suite-wide pass rate the estimates are shrunk toward, and how
    /// many runs' worth of weight it carries.
    pub prior_pass_rate: Option<f64>,
    pub prior_strength: Option<f64>,
    /// Newly failing cases expected by chance, and observed.
    #[serde(alias = "expected_net")]
    pub expected_failing: f64,
    #[serde(alias = "observed_net")]
    pub observed_failing: i64,
    /// P(at least the observed count by chance).
    pub p_value: f64,
    /// The level it was decided at (the family's).
    pub alpha: f64,
    /// Newly failing cases beyond what chance explains; 0 when within the
    /// noise.
    pub beyond_noise: f64,
}

/// A resampled pair with its case's estimated pass probability.
struct Estimate {
    baseline_passed: bool,
    current_passed: bool,
    pass_probability: Option<f64>,
}

/// Tests the resampled pairs at `alpha` against `samples` from `history_runs`.
pub(super) fn test(
    pairs: &[(&CaseOutcome, &CaseOutcome)],
    samples: &[CaseSamples],
    history_runs: usize,
    alpha: f64,
) -> NoiseTest {
    let counts = per_case_counts(pairs, samples);
    let prior = fit_prior(counts.values());
    let estimates: Vec<Estimate> = pairs
        .iter()
        .map(|(b, c)| Estimate {
            baseline_passed: b.passed,
            current_passed: c.passed,
            pass_probability: prior.map(|(mean, strength)| {
                let (n, k) = counts.get(&case_of(b)).copied().unwrap_or((0, 0));
                (k as f64 + strength * mean) / (n as f64 + strength)
            }),
        })
        .collect();
    let newly_failing = estimates
        .iter()
        .filter(|e| e.baseline_passed && !e.current_passed)
        .count();
    let newly_passing = estimates
        .iter()
        .filter(|e| !e.baseline_passed && e.current_passed)
        .count();
    let observed = newly_failing as i64;
    let (method, expected, p_value) = match prior {
        Some(_) => {
            let chances = failure_chances(&estimates);
            let (mean, p) = stats::net_count_upper_tail(&chances, &[], observed);
            ("history", mean, p)
        }
        None => {
            let discordant = newly_failing + newly_passing;
            let p = stats::sign_test_upper(newly_failing as u64, discordant as u64);
            ("symmetric", discordant as f64 / 2.0, p)
        }
    };
    let beyond_noise = if p_value < alpha {
        (observed as f64 - expected).max(0.0)
    } else {
        0.0
    };
    NoiseTest {
        method: method.into(),
        cases: pairs.len(),
        newly_failing,
        newly_passing,
        samples: counts.values().map(|(n, _)| *n).sum(),
        history_runs,
        prior_pass_rate: prior.map(|(mean, _)| mean),
        prior_strength: prior.map(|(_, strength)| strength),
        expected_failing: expected,
        observed_failing: observed,
        p_value,
        alpha,
        beyond_noise,
    }
}

/// A case across its repeats: its id and, in a matrix, its prompt and
/// provider, which answer with their own pass rate.
type CaseOf<'a> = (&'a str, Option<&'a str>);

fn case_of(outcome: &CaseOutcome) -> CaseOf<'_> {
    (outcome.key.id.as_str(), outcome.key.variant.as_deref())
}

/// Fresh answers and passes per case, over the repeats of its unchanged
/// requests: a repeat is one more answer to the same question.
fn per_case_counts<'a>(
    pairs: &[(&'a CaseOutcome, &CaseOutcome)],
    samples: &'a [CaseSamples],
) -> HashMap<CaseOf<'a>, (u64, u64)> {
    let by_request: HashMap<(&CaseKey, &str), (u32, u32)> = samples
        .iter()
        .map(|s| ((&s.key, s.request_hash.as_str()), (s.samples, s.passes)))
        .collect();
    let mut counts: HashMap<CaseOf<'a>, (u64, u64)> = HashMap::new();
    for (b, _) in pairs {
        let entry = counts.entry(case_of(b)).or_default();
        let Some(hash) = b.request_hash.as_deref() else {
            continue;
        };
        if let Some((n, k)) = by_request.get(&(&b.key, hash)) {
            entry.0 += u64::from(*n);
            entry.1 += u64::from(*k);
        }
    }
    counts
}

/// The suite-wide prior: its mean pass rate (kept off 0 and 1, since no
/// finite record proves a case can never flip) and its strength, fitted by
/// the method of moments: the spread of the cases' own rates beyond what
/// sampling explains says how different the cases are. `None` when no case
/// has a fresh answer on record.
fn fit_prior<'a>(counts: impl Iterator<Item = &'a (u64, u64)> + Clone) -> Option<(f64, f64)> {
    let (n, k) = counts
        .clone()
        .fold((0u64, 0u64), |(n, k), (cn, ck)| (n + cn, k + ck));
    if n == 0 {
        return None;
    }
    let mean = (k as f64 + 1.0) / (n as f64 + 2.0);
    let rates: Vec<(f64, f64)> = counts
        .filter(|(n, _)| *n >= 2)
        .map(|(n, k)| (*k as f64 / *n as f64, *n as f64))
        .collect();
    if rates.len() < MIN_CASES_FOR_FIT {
        return Some((mean, DEFAULT_STRENGTH));
    }
    let count = rates.len() as f64;
    let average = rates.iter().map(|(r, _)| r).sum::<f64>() / count;
    let spread = rates
        .iter()
        .map(|(r, _)| (r - average).powi(2))
        .sum::<f64>()
        / (count - 1.0);
    let sampling = rates
        .iter()
        .map(|(_, n)| mean * (1.0 - mean) / n)
        .sum::<f64>()
        / count;
    let between = spread - sampling;
    let strength = if between <= 1e-12 {
        MAX_STRENGTH
    } else {
        (mean * (1.0 - mean) / between - 1.0).clamp(0.5, MAX_STRENGTH)
    };
    Some((mean, strength))
}

/// Each pair that passed on the baseline: its chance to fail anew.
fn failure_chances(estimates: &[Estimate]) -> Vec<f64> {
    estimates
        .iter()
        .filter(|e| e.baseline_passed)
        .map(|e| 1.0 - e.pass_probability.unwrap_or(0.5))
        .collect()
}
