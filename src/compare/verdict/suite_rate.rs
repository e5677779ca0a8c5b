//! The whole suite's pass rate against the baseline's, over every case of
//! each run, paired or not.
//!
//! The case-by-case verdict sees only the cases both runs have. A pull
//! request that re-keys its rows, adds failing cases or removes passing
//! ones can move the suite without moving a single pair, so the two pass
//! rates are also compared as independent samples (Newcombe's interval,
//! one-sided at the family's level). The drop is read off the conservative
//! end of the interval, relative to the baseline's rate, and graded by the
//! same bands.

use serde::{Deserialize, Serialize};

use super::{Settings, Severity};
use crate::compare::stats::{self, Interval};
use crate::store::RunData;

/// The suite's pass rate on the baseline and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRate {
    pub baseline_passed: u64,
    pub baseline_cases: u64,
    pub current_passed: u64,
    pub current_cases: u64,
    /// Current − baseline pass rate; `high` is the one-sided bound at the
    /// family's level.
    pub change: Interval,
    /// The conservative drop relative to the baseline's rate; 0 when the
    /// drop is within chance.
    pub worse: f64,
    /// The level it was decided at.
    pub alpha: f64,
}

fn counts(run: &RunData) -> (u64, u64) {
    let passed = run.cases.iter().filter(|c| c.passed).count() as u64;
    (passed, run.cases.len() as u64)
}

/// Whether the test can fire: both runs scored cases and the current pass
/// rate is lower (a rise or no change cannot be a regression).
pub(super) fn can_fire(current: &RunData, baseline: &RunData) -> bool {
    let ((k1, n1), (k2, n2)) = (counts(baseline), counts(current));
    n1 > 0 && n2 > 0 && k2 * n1 < k1 * n2
}

/// The suite-wide comparison and its severity, at the family's `alpha`.
pub(super) fn assess(
    current: &RunData,
    baseline: &RunData,
    alpha: f64,
    settings: &Settings,
) -> Option<(SuiteRate, Severity)> {
    let ((k1, n1), (k2, n2)) = (counts(baseline), counts(current));
    // A two-sided interval at 1 − 2α has α in each tail: its upper end is
    // the one-sided bound at α.
    let change = stats::compare_proportions((k1, n1), (k2, n2), 1.0 - 2.0 * alpha)?;
    let rate = k1 as f64 / n1 as f64;
    let worse = if change.high < 0.0 && rate > 0.0 {
        -change.high / rate
    } else {
        0.0
    };
    let severity = if worse > 0.0 {
        settings.bands.grade(worse)
    } else {
        Severity::None
    };
    let suite = SuiteRate {
        baseline_passed: k1,
        baseline_cases: n1,
        current_passed: k2,
        current_cases: n2,
        change,
        worse,
        alpha,
    };
    Some((suite, severity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CaseKey, CaseOutcome};

    fn run(prefix: &str, passed: usize, failed: usize) -> RunData {
        let case = |i: usize, passed: bool| CaseOutcome {
            key: CaseKey {
                id: format!("{prefix}{i}"),
                repeat: 0,
                variant: None,
            },
            passed,
            ..CaseOutcome::default()
        };
        RunData {
            cases: (0..passed)
                .map(|i| case(i, true))
                .chain((passed..passed + failed).map(|i| case(i, false)))
                .collect(),
            ..RunData::default()
        }
    }

    #[test]
    fn a_fall_of_thirty_points_counts_whatever_the_ids() {
        // 40 of 40 on the baseline; 28 of 40 now, none of them sharing an id.
        let (baseline, current) = (run("old", 40, 0), run("new", 28, 12));
        assert!(can_fire(&current, &baseline));
        let (suite, severity) = assess(&current, &baseline, 0.05, &Settings::default()).unwrap();
        assert!(suite.change.high < 0.0, "{suite:?}");
        assert!(suite.worse > 0.10 && suite.worse < 0.30, "{suite:?}");
        assert_eq!(severity, Severity::Minor);
        // At a stricter level the bound moves toward no change.
        let (strict, _) = assess(&current, &baseline, 0.001, &Settings::default()).unwrap();
        assert!(strict.worse < suite.worse);
    }

    #[test]
    fn chance_and_rises_are_not_regressions() {
        let baseline = run("a", 160, 40);
        let same = run("b", 155, 45);
        let (suite, severity) = assess(&same, &baseline, 0.05, &Settings::default()).unwrap();
        assert_eq!((suite.worse, severity), (0.0, Severity::None));
        let better = run("c", 190, 10);
        assert!(!can_fire(&better, &baseline));
        assert!(!can_fire(&run("d", 0, 0), &baseline));
    }
}
