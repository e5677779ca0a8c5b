//! The gate's rule: which regressions fail it at the severities a suite
//! chose, and why, in words the comment and the terminal show.

use super::{Comparison, Finding, QualityChange, Severity, SuiteRate};
use crate::config::{FailOn, Gate};

// The gate's rule belongs with the severities; the config only names it.
impl FailOn {
    /// Whether a regression of `worst` severity fails the gate.
    pub fn fails(self, worst: Severity) -> bool {
        let at = match self {
            FailOn::Critical => Severity::Critical,
            FailOn::Major => Severity::Major,
            FailOn::Minor => Severity::Minor,
            FailOn::Never => return false,
        };
        worst >= at
    }
}

/// Why the gate fails: one line per regression at or above its severity,
/// worst first, a line for certain breakage at `fail-on-certain`, and
/// with `fail_on_removed` one for the baseline's cases this run no longer
/// has. Empty when the gate passes.
pub fn gate_reasons(comparison: &Comparison, gate: &Gate) -> Vec<String> {
    let mut reasons: Vec<(Severity, String)> = Vec::new();
    let removed = &comparison.quality.removed;
    if gate.fail_on_removed && !removed.is_empty() {
        let passed = removed.iter().filter(|r| r.passed).count();
        reasons.push((
            Severity::Critical,
            format!(
                "{} {} of the baseline {} gone from this run ({passed} of them passed there) and [compare] fail-on-removed is set",
                removed.len(),
                if removed.len() == 1 { "case" } else { "cases" },
                if removed.len() == 1 { "is" } else { "are" }
            ),
        ));
    }
    if gate.fail_on.fails(comparison.quality_severity) {
        reasons.push((comparison.quality_severity, quality_reason(comparison)));
    } else if gate.fail_on_certain.fails(comparison.certain_severity) {
        reasons.push((
            comparison.certain_severity,
            certain_reason(comparison, gate),
        ));
    }
    if let Some(suite) = &comparison.suite
        && gate.fail_on.fails(comparison.suite_severity)
    {
        reasons.push((
            comparison.suite_severity,
            suite_reason(suite, comparison.suite_severity),
        ));
    }
    for finding in comparison.regressions() {
        if gate.fail_on.fails(finding.severity) {
            reasons.push((finding.severity, finding_reason(finding)));
        }
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.0));
    reasons.into_iter().map(|(_, r)| r).collect()
}

/// The paired cases' breakage, certain and beyond the noise together.
fn quality_reason(comparison: &Comparison) -> String {
    let q = &comparison.quality;
    format!(
        "{}: pass rate {:.1}% → {:.1}% on {} shared cases, {} newly failing; {:.0}% of the {} that passed on the baseline broke beyond main's noise{}",
        comparison.quality_severity.as_str(),
        100.0 * q.baseline_pass_rate.unwrap_or(0.0),
        100.0 * q.current_pass_rate.unwrap_or(0.0),
        q.shared_cases,
        q.newly_failing.len(),
        100.0 * q.worse,
        q.baseline_passing,
        first_reason(q)
    )
}

/// The breakage the pull request certainly caused, which fails at
/// `fail-on-certain` although the noisy signals' `fail-on` is higher.
fn certain_reason(comparison: &Comparison, gate: &Gate) -> String {
    let q = &comparison.quality;
    format!(
        "{}: {} of the {} cases that passed on the baseline newly fail because of this PR's changes ({:.0}%); breakage with a certain cause fails at {} ([compare] fail-on-certain){}",
        comparison.certain_severity.as_str(),
        q.certain_failing,
        q.baseline_passing,
        100.0 * q.certain_worse,
        gate.fail_on_certain.as_str(),
        first_reason(q)
    )
}

/// " (the first line of the explanation)", or nothing.
fn first_reason(quality: &QualityChange) -> String {
    quality
        .explanation
        .first()
        .map(|why| format!(" ({})", why.trim_end_matches('.')))
        .unwrap_or_default()
}

/// The whole suite's pass rate fell beyond chance.
fn suite_reason(suite: &SuiteRate, severity: Severity) -> String {
    let rate = |k: u64, n: u64| 100.0 * k as f64 / n.max(1) as f64;
    format!(
        "{}: the suite's pass rate fell from {:.1}% ({} of {} cases) to {:.1}% ({} of {}), at least {:.0}% worse beyond chance, counting every case whether or not it could be paired",
        severity.as_str(),
        rate(suite.baseline_passed, suite.baseline_cases),
        suite.baseline_passed,
        suite.baseline_cases,
        rate(suite.current_passed, suite.current_cases),
        suite.current_passed,
        suite.current_cases,
        100.0 * suite.worse
    )
}

/// Why a regressed finding fails the gate. A paired test's interval is of
/// the change; a run checked against the history has none, only the range
/// main's runs fall in, and the text must not present one as the other.
fn finding_reason(finding: &Finding) -> String {
    let (severity, name) = (finding.severity.as_str(), &finding.name);
    let way = if finding.higher_is_worse {
        "up"
    } else {
        "down"
    };
    let [magnitude, estimate, low, high] = [
        finding.magnitude,
        finding.change.estimate,
        finding.change.low,
        finding.change.high,
    ]
    .map(|x| 100.0 * x);
    if finding.p_value.is_none() {
        format!(
            "{severity}: {name} {way} {estimate:+.0}% on main's typical run, outside the {low:+.0}% to {high:+.0}% main's runs fall in"
        )
    } else {
        format!(
            "{severity}: {name} {way} by {magnitude:.0}% or more (estimate {estimate:+.0}%, interval {low:+.0}% to {high:+.0}%)"
        )
    }
}
