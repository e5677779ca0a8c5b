//! Regression verdicts: what got worse (or better) than on the baseline, by
//! how much, why, and how sure we are.
//!
//! Pure: the current run, its baseline and the baseline branch's recent
//! history come in as values, findings go out. The arithmetic lives in
//! [`crate::compare::stats`]; this module decides which test fits which
//! metric, how much change is noise, and which severity band a change
//! falls in.
//!
//! - Which case is which ([`pairing`]): id, repeat, prompt and provider;
//!   for rows without an id, also their inputs or their position, so a
//!   pull request that edits rows or adds a prompt is still compared.
//! - Quality ([`quality`]): each newly failing case is attributed to its
//!   cause. Failures the pull request certainly caused (a changed request,
//!   changed scoring, a changed deterministic output) count in full;
//!   failures of a model's new answer to an unchanged request count only
//!   beyond what the branch's own flakiness explains ([`noise`]). Newly
//!   passing cases are improvements and never offset a failure.
//! - The whole suite ([`suite_rate`]): its pass rate over every case
//!   against the baseline's, so re-keyed, added or removed cases count.
//! - Numbers ([`metrics`]): per-case latency, tokens, cost and score are
//!   compared paired on the shared cases; component timings against a
//!   log-normal prediction interval over the history window, where fewer
//!   than `min_history` runs is "insufficient baseline", never an alarm.
//!   What the runner's speed decides (ai-evals' own stage timings, its
//!   memory) is advisory unless `gate-on-timings` names it.
//! - One family: only tests that can fire share the significance level
//!   (Bonferroni), so a suite with no history is not held to a level meant
//!   for fifteen tests, and each test's level is reported.

mod metrics;
mod noise;
mod pairing;
mod quality;
mod suite_rate;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::compare::stats::Interval;
use crate::config::{CompareConfig, FailOn, Gate, TimingGate};
use crate::store::{CaseKey, CaseOutcome, History, RunData};

#[cfg(test)]
pub use quality::RemovedCase;
pub use quality::{Cause, CauseCount, Flip, QualityChange};
pub use suite_rate::SuiteRate;

/// How bad a regression is; ordered from none to critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    None,
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

/// Which way a metric moved, once noise is set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Regression,
    Improvement,
    NoChange,
    /// Too little data to judge (for timings: too few history runs).
    Insufficient,
}

/// Whether a finding can fail the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    Gate,
    /// Shown with its verdict, never failing the gate: the runner's speed,
    /// not the pull request, decides it (see `[compare] gate-on-timings`).
    Advisory,
}

/// The change (as a fraction) at which a regression is minor, major or
/// critical.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bands {
    pub minor: f64,
    pub major: f64,
    pub critical: f64,
}

impl Default for Bands {
    fn default() -> Self {
        Bands {
            minor: 0.10,
            major: 0.25,
            critical: 0.50,
        }
    }
}

impl Bands {
    /// The band a change of `worse` (a fraction, 0.3 = 30 % worse) falls
    /// in; a band's own edge belongs to it (25 % worse is major).
    pub fn grade(&self, worse: f64) -> Severity {
        // A share like 5 of 20 must land on its edge exactly.
        let worse = worse + 1e-12;
        if worse >= self.critical {
            Severity::Critical
        } else if worse >= self.major {
            Severity::Major
        } else if worse >= self.minor {
            Severity::Minor
        } else {
            Severity::None
        }
    }
}

/// What the verdicts are tuned by.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bands: Bands,
    /// Family-wide confidence, shared by all tests of one comparison.
    pub confidence: f64,
    /// History runs needed before a timing can raise an alarm.
    pub min_history: usize,
    /// The least change a wall-clock timing must show to count.
    pub timing_floor: f64,
    /// The same in milliseconds: a change smaller than this is scheduling
    /// noise however large it is relative to a timing of a few ms.
    pub timing_floor_ms: f64,
    /// Bootstrap resamples for tail intervals.
    pub resamples: usize,
    pub seed: u64,
    /// The runner-bound measurements that can fail the gate.
    pub gate_on_timings: Vec<TimingGate>,
}

impl Settings {
    /// The settings a suite's `[compare]` section chooses.
    pub fn from_config(config: &CompareConfig) -> Settings {
        Settings {
            bands: Bands {
                minor: config.minor,
                major: config.major,
                critical: config.critical,
            },
            confidence: config.confidence,
            min_history: config.min_history,
            timing_floor: config.timing_floor,
            timing_floor_ms: config.timing_floor_ms,
            gate_on_timings: config.gate_on_timings.clone(),
            ..Settings::default()
        }
    }

    /// Whether findings of a runner-bound measurement can fail the gate.
    pub fn role(&self, gate: TimingGate) -> Role {
        if self.gate_on_timings.contains(&gate) {
            Role::Gate
        } else {
            Role::Advisory
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bands: Bands::default(),
            confidence: 0.95,
            min_history: 5,
            timing_floor: 0.10,
            timing_floor_ms: 20.0,
            resamples: 1000,
            seed: 0x5eed,
            gate_on_timings: vec![TimingGate::Latency],
        }
    }
}

/// One metric's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What was compared, e.g. `latency (typical case)` or `timing scoring/regex`.
    pub name: String,
    pub unit: String,
    #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
    pub baseline: f64,
    #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
    pub current: f64,
    /// The change as a fraction of the baseline (0.3 = 30 % higher), with
    /// its interval. For a timing, the interval is the history's prediction
    /// interval expressed as change from its typical value.
    pub change: Interval,
    pub p_value: Option<f64>,
    /// The level the test was decided at: the family's share of the
    /// significance level, or `None` for a test that could not fire (a
    /// timing without enough history, a metric that did not move).
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Change within this fraction is treated as noise.
    #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
    pub noise_floor: f64,
    /// Whether an increase is bad (latency) or good (score).
    pub higher_is_worse: bool,
    pub direction: Direction,
    pub severity: Severity,
    /// The size of the change, conservatively, as a fraction (for
    /// regressions and improvements; 0 otherwise).
    #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
    pub magnitude: f64,
    /// Whether it can fail the gate or is advisory.
    #[serde(default)]
    pub role: Role,
}

impl Finding {
    fn with_role(self, role: Role) -> Finding {
        Finding { role, ..self }
    }
}

/// Everything one comparison found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline_run: String,
    pub baseline_sha: Option<String>,
    pub history_runs: usize,
    pub quality: QualityChange,
    /// The severity of the paired cases' breakage, if there is one.
    pub quality_severity: Severity,
    /// The severity of the part of it the pull request certainly caused.
    #[serde(default = "no_severity")]
    pub certain_severity: Severity,
    /// The whole suite's pass rate against the baseline's.
    #[serde(default)]
    pub suite: Option<SuiteRate>,
    /// Its severity when it says more than the paired cases' verdict (the
    /// pairing covered only part of the suite, or the suite fell further).
    #[serde(default = "no_severity")]
    pub suite_severity: Severity,
    pub findings: Vec<Finding>,
    /// The worst severity of any regression that can fail the gate.
    pub worst: Severity,
    /// The tests that could fire, which share the significance level.
    #[serde(default)]
    pub family: Family,
}

/// The family of tests one comparison makes: only tests that can fire
/// count, and each is decided at `alpha` (Bonferroni: the significance
/// level 1 − confidence shared equally).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Family {
    pub tests: usize,
    pub alpha: f64,
}

fn no_severity() -> Severity {
    Severity::None
}

impl Comparison {
    /// The regressions that can fail the gate.
    pub fn regressions(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.direction == Direction::Regression && f.role == Role::Gate)
    }
}

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

/// Compares `current` with `baseline`, using `history` (the baseline
/// branch's recent runs, newest first, without the current run, and their
/// cases' answers) for noise floors, timing predictions and the noise model.
pub fn compare(
    current: &RunData,
    baseline: &RunData,
    history: &History,
    settings: &Settings,
) -> Comparison {
    let (pairs, coverage) = pairing::pair(current, baseline);
    let inputs = metrics::Inputs::new(current, baseline, &pairs, history);
    let tests = inputs.fireable(settings)
        + usize::from(quality::can_fire(&pairs))
        + usize::from(suite_rate::can_fire(current, baseline));
    let alpha = (1.0 - settings.confidence) / tests.max(1) as f64;
    let graded = quality::assess(
        current, baseline, &pairs, coverage, history, alpha, settings,
    );
    let (suite, suite_severity) = match suite_rate::assess(current, baseline, alpha, settings) {
        // With (nearly) every case paired, the paired verdict already says
        // what the suite's rate would; it speaks only when it says more.
        Some((suite, severity)) if coverage.is_full() && severity <= graded.severity => {
            (Some(suite), Severity::None)
        }
        Some((suite, severity)) => (Some(suite), severity),
        None => (None, Severity::None),
    };
    let findings = inputs.findings(alpha, settings);
    let worst = findings
        .iter()
        .filter(|f| f.direction == Direction::Regression && f.role == Role::Gate)
        .map(|f| f.severity)
        .chain([graded.severity, suite_severity])
        .max()
        .unwrap_or(Severity::None);
    Comparison {
        baseline_run: baseline.run_id.clone(),
        baseline_sha: baseline.git_sha.clone(),
        history_runs: history.runs.len(),
        quality: graded.quality,
        quality_severity: graded.severity,
        certain_severity: graded.certain,
        suite,
        suite_severity,
        findings,
        worst,
        family: Family { tests, alpha },
    }
}

/// One case of either run, with its partner in the other run when it has
/// one: the same case, as the comparison pairs them ([`pairing`]).
#[derive(Debug, Clone, Copy)]
pub struct Partners<'a> {
    /// This run's case; `None` for a baseline case this run no longer has.
    pub current: Option<&'a CaseOutcome>,
    /// Its baseline partner; `None` for a case new in this run.
    pub baseline: Option<&'a CaseOutcome>,
}

impl Partners<'_> {
    /// Why a shared case's outcome or score changed, as the quality
    /// verdict attributes it; `None` when neither changed or the case is
    /// not shared.
    pub fn cause(&self) -> Option<Cause> {
        let (b, c) = (self.baseline?, self.current?);
        (b.passed != c.passed || b.score != c.score).then(|| quality::cause(b, c))
    }

    /// The case's key: this run's, or the baseline's for a removed case.
    pub fn key(&self) -> &CaseKey {
        match (self.current, self.baseline) {
            (Some(c), _) => &c.key,
            (None, Some(b)) => &b.key,
            (None, None) => unreachable!("a partner has at least one side"),
        }
    }
}

/// Every case of both runs with its partner, paired by the same rules the
/// verdicts use, in key order: shared and new cases by this run's key,
/// removed cases by the baseline's.
pub fn partners<'a>(current: &'a RunData, baseline: &'a RunData) -> Vec<Partners<'a>> {
    let (pairs, _) = pairing::pair(current, baseline);
    let paired: HashSet<*const CaseOutcome> = pairs
        .iter()
        .flat_map(|(b, c)| [*b as *const _, *c as *const _])
        .collect();
    let alone = |c: &&CaseOutcome| !paired.contains(&(*c as *const _));
    let mut all: Vec<Partners> = pairs
        .iter()
        .map(|(b, c)| Partners {
            current: Some(c),
            baseline: Some(b),
        })
        .chain(current.cases.iter().filter(alone).map(|c| Partners {
            current: Some(c),
            baseline: None,
        }))
        .chain(baseline.cases.iter().filter(alone).map(|b| Partners {
            current: None,
            baseline: Some(b),
        }))
        .collect();
    all.sort_by(|a, b| a.key().cmp(b.key()));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::stats::SplitMix64;
    use crate::store::{CaseKey, CaseOutcome, HistoryRun};

    fn key(id: &str) -> CaseKey {
        CaseKey {
            id: id.into(),
            repeat: 0,
            variant: None,
        }
    }

    fn history_of(runs: Vec<HistoryRun>) -> History {
        History {
            runs,
            samples: Vec::new(),
        }
    }
    use std::collections::BTreeMap;

    /// A standard normal draw by Box–Muller.
    fn normal(rng: &mut SplitMix64) -> f64 {
        let radius = (-2.0 * (1.0 - rng.next_f64()).ln()).sqrt();
        radius * (2.0 * std::f64::consts::PI * rng.next_f64()).cos()
    }

    const COMPONENTS: &[(&str, f64)] = &[
        ("total", 4000.0),
        ("dataset_loading", 40.0),
        ("execution", 3500.0),
        ("scoring", 120.0),
        ("scoring/regex", 60.0),
        ("storing", 200.0),
    ];

    /// A synthetic run of `cases` cases: each case has its own typical
    /// latency and tokens, and every run adds its own noise on top, the way
    /// a provider and a CI runner vary from run to run.
    fn run(rng: &mut SplitMix64, id: &str, cases: usize, slow: impl Fn(usize) -> f64) -> RunData {
        let mut case_rng = SplitMix64::new(42);
        let run_factor = (0.05 * normal(rng)).exp();
        let cases = (0..cases)
            .map(|i| {
                let typical = 300.0 * (0.3 * normal(&mut case_rng)).exp();
                let tokens = 200.0 + (case_rng.next_f64() * 300.0).round();
                let passed = case_rng.next_f64() < 0.85;
                CaseOutcome {
                    key: key(&format!("case-{i}#0")),
                    passed,
                    score: if passed { 1.0 } else { 0.0 },
                    errored: false,
                    latency_ms: Some(typical * run_factor * (0.25 * normal(rng)).exp() * slow(i)),
                    tokens: Some(tokens),
                    cost_usd: Some(tokens * 1e-6),
                    ..CaseOutcome::default()
                }
            })
            .collect();
        RunData {
            run_id: id.into(),
            git_sha: None,
            cases,
            timings: timings(rng, ""),
            metrics: BTreeMap::new(),
        }
    }

    fn timings(rng: &mut SplitMix64, slow: &str) -> BTreeMap<String, f64> {
        COMPONENTS
            .iter()
            .map(|(name, ms)| {
                let factor = if *name == slow { 1.6 } else { 1.0 };
                (name.to_string(), ms * factor * (0.015 * normal(rng)).exp())
            })
            .collect()
    }

    fn history(rng: &mut SplitMix64, runs: usize) -> Vec<HistoryRun> {
        (0..runs)
            .map(|_| {
                let shift = (0.05 * normal(rng)).exp();
                HistoryRun {
                    timings: timings(rng, ""),
                    metrics: [
                        ("latency_p50_ms".to_string(), 300.0 * shift),
                        ("latency_p95_ms".to_string(), 580.0 * shift),
                        ("tokens_mean".to_string(), 350.0),
                    ]
                    .into(),
                    ..HistoryRun::default()
                }
            })
            .collect()
    }

    #[test]
    fn bands_and_gate() {
        let bands = Bands::default();
        assert_eq!(bands.grade(0.05), Severity::None);
        assert_eq!(bands.grade(0.11), Severity::Minor);
        assert_eq!(bands.grade(0.3), Severity::Major);
        assert_eq!(bands.grade(0.6), Severity::Critical);
        assert!(FailOn::Critical.fails(Severity::Critical));
        assert!(!FailOn::Critical.fails(Severity::Major));
        assert!(FailOn::Major.fails(Severity::Major));
        assert!(!FailOn::Major.fails(Severity::Minor));
        assert!(FailOn::Minor.fails(Severity::Minor));
        assert!(!FailOn::Minor.fails(Severity::None));
        assert!(!FailOn::Never.fails(Severity::Critical));
    }

    /// Pairs of runs drawn from one distribution must not look different:
    /// the false-alarm rate over many seeds stays under 5 %.
    #[test]
    fn same_distribution_rarely_alarms() {
        let trials = 200;
        let mut alarms = 0;
        for seed in 0..trials {
            let mut rng = SplitMix64::new(1000 + seed);
            let past = history(&mut rng, 30);
            let baseline = run(&mut rng, "base", 300, |_| 1.0);
            let current = run(&mut rng, "pr", 300, |_| 1.0);
            let settings = Settings {
                resamples: 300,
                ..Settings::default()
            };
            let comparison = compare(&current, &baseline, &history_of(past), &settings);
            if comparison.worst > Severity::None {
                alarms += 1;
            }
        }
        let rate = alarms as f64 / trials as f64;
        eprintln!("false-alarm rate: {alarms} of {trials} same-distribution pairs");
        assert!(
            rate <= 0.05,
            "false-alarm rate {rate} ({alarms} of {trials})"
        );
    }

    /// A 60 % slower component and 3× latency on a fifth of the cases are
    /// both found and graded critical, every time.
    #[test]
    fn injected_regressions_are_found_and_critical() {
        let trials = 50;
        for seed in 0..trials {
            let mut rng = SplitMix64::new(5000 + seed);
            let past = history(&mut rng, 30);
            let baseline = run(&mut rng, "base", 1000, |_| 1.0);
            let mut current = run(&mut rng, "pr", 1000, |i| if i % 5 == 0 { 3.0 } else { 1.0 });
            current.timings = timings(&mut rng, "scoring");
            let settings = Settings {
                resamples: 300,
                ..Settings::default()
            };
            let comparison = compare(&current, &baseline, &history_of(past), &settings);
            let find = |name: &str| {
                comparison
                    .findings
                    .iter()
                    .find(|f| f.name == name)
                    .unwrap_or_else(|| panic!("no finding {name}"))
            };
            let scoring = find("timing scoring");
            assert_eq!(scoring.direction, Direction::Regression, "{scoring:?}");
            assert_eq!(scoring.severity, Severity::Critical, "{scoring:?}");
            let tail = find("latency (p95)");
            assert_eq!(tail.direction, Direction::Regression, "{tail:?}");
            assert_eq!(tail.severity, Severity::Critical, "{tail:?}");
            assert_eq!(comparison.worst, Severity::Critical);
            assert_eq!(find("timing execution").direction, Direction::NoChange);
        }
        eprintln!("detected: {trials} of {trials} injected regressions, all critical");
    }

    /// Issue 21: nothing changed but the runner, which is 2–3× slower:
    /// every stage timing regresses, and none of them may fail the gate
    /// unless `gate-on-timings` names the stages.
    #[test]
    fn a_slower_runner_is_advisory_unless_stages_gate() {
        let mut rng = SplitMix64::new(21);
        let past = history(&mut rng, 30);
        let baseline = run(&mut rng, "base", 300, |_| 1.0);
        let mut current = run(&mut rng, "pr", 300, |_| 1.0);
        for (i, value) in current.timings.values_mut().enumerate() {
            *value *= 2.0 + (i % 3) as f64 / 2.0;
        }
        let settings = Settings {
            resamples: 300,
            ..Settings::default()
        };
        let comparison = compare(&current, &baseline, &history_of(past.clone()), &settings);
        let stages: Vec<&Finding> = comparison
            .findings
            .iter()
            .filter(|f| f.name.starts_with("timing "))
            .collect();
        assert!(!stages.is_empty());
        for f in &stages {
            assert_eq!(f.direction, Direction::Regression, "{f:?}");
            assert_eq!(f.role, Role::Advisory, "{f:?}");
        }
        assert_eq!(comparison.worst, Severity::None);
        assert_eq!(comparison.regressions().count(), 0);
        let gate = Gate::new(
            &CompareConfig::default(),
            crate::config::GateFlags::default(),
        );
        assert!(gate_reasons(&comparison, &gate).is_empty());
        let strict = Settings {
            gate_on_timings: vec![TimingGate::Latency, TimingGate::Stages],
            ..settings
        };
        let gated = compare(&current, &baseline, &history_of(past), &strict);
        assert_eq!(gated.worst, Severity::Critical);
        assert!(gated.family.tests > comparison.family.tests);
    }

    /// Five times slower at a millisecond (a replayed answer, a tiny
    /// stage) is a busy runner, not a regression; at `timing-floor-ms = 0`
    /// the same runs are one.
    #[test]
    fn changes_under_the_floor_in_ms_are_no_change() {
        let mut rng = SplitMix64::new(11);
        let mut past = history(&mut rng, 30);
        for run in &mut past {
            for (_, value) in run.metrics.iter_mut() {
                *value /= 300.0;
            }
            let tiny = 1.0 + 0.05 * normal(&mut rng);
            run.timings.insert("tiny".into(), tiny);
        }
        let scaled = |mut data: RunData, factor: f64| {
            for case in &mut data.cases {
                case.latency_ms = case.latency_ms.map(|l| l * factor / 300.0);
            }
            data.timings.insert("tiny".into(), factor);
            data
        };
        let baseline = scaled(run(&mut rng, "base", 300, |_| 1.0), 1.0);
        let current = scaled(run(&mut rng, "pr", 300, |_| 1.0), 5.0);
        let verdicts = |floor_ms: f64| {
            let settings = Settings {
                timing_floor_ms: floor_ms,
                resamples: 300,
                ..Settings::default()
            };
            let comparison = compare(&current, &baseline, &history_of(past.clone()), &settings);
            ["latency (typical case)", "latency (p95)", "timing tiny"].map(|name| {
                let finding = comparison.findings.iter().find(|f| f.name == name).unwrap();
                (finding.direction, finding.severity)
            })
        };
        assert_eq!(verdicts(20.0), [(Direction::NoChange, Severity::None); 3]);
        assert_eq!(
            verdicts(0.0),
            [(Direction::Regression, Severity::Critical); 3]
        );
    }

    #[test]
    fn short_history_is_insufficient_never_an_alarm() {
        let mut rng = SplitMix64::new(7);
        let past = history(&mut rng, 4);
        let baseline = run(&mut rng, "base", 50, |_| 1.0);
        let mut current = run(&mut rng, "pr", 50, |_| 1.0);
        current.timings.insert("scoring".into(), 10_000.0);
        let comparison = compare(
            &current,
            &baseline,
            &history_of(past.clone()),
            &Settings::default(),
        );
        let scoring = comparison
            .findings
            .iter()
            .find(|f| f.name == "timing scoring")
            .unwrap();
        assert_eq!(scoring.direction, Direction::Insufficient);
        assert_eq!(scoring.severity, Severity::None);
        assert_eq!(comparison.worst, Severity::None);
        // Latency three times higher is reported, but the history is too
        // short to tell it from a slow day of the provider.
        let mut slower = current.clone();
        for case in &mut slower.cases {
            case.latency_ms = case.latency_ms.map(|l| 3.0 * l);
        }
        let comparison = compare(&slower, &baseline, &history_of(past), &Settings::default());
        let typical = comparison
            .findings
            .iter()
            .find(|f| f.name == "latency (typical case)")
            .unwrap();
        assert_eq!(typical.direction, Direction::Insufficient);
        assert!(typical.change.estimate > 1.5, "{typical:?}");
        assert_eq!(comparison.worst, Severity::None);
    }

    #[test]
    fn flipped_cases_and_new_errors_are_listed() {
        let case = |key: &str, passed: bool, errored: bool| CaseOutcome {
            key: self::key(key),
            passed,
            score: if passed { 1.0 } else { 0.0 },
            errored,
            latency_ms: Some(100.0),
            tokens: Some(10.0),
            cost_usd: None,
            ..CaseOutcome::default()
        };
        let baseline = RunData {
            run_id: "base".into(),
            cases: vec![
                case("a#0", true, false),
                case("b#0", false, false),
                case("c#0", true, false),
                case("gone#0", true, false),
            ],
            ..RunData::default()
        };
        let current = RunData {
            run_id: "pr".into(),
            cases: vec![
                case("c#0", false, true),
                case("a#0", false, false),
                case("b#0", true, false),
                case("new#0", true, false),
            ],
            ..RunData::default()
        };
        let comparison = compare(
            &current,
            &baseline,
            &History::default(),
            &Settings::default(),
        );
        let q = &comparison.quality;
        assert_eq!(q.shared_cases, 3);
        assert_eq!(q.newly_failing, ["a#0", "c#0"]);
        assert_eq!(q.newly_passing, ["b#0"]);
        assert_eq!(q.new_errors, ["c#0"]);
        assert_eq!((q.added_cases, q.removed_cases), (1, 1));
        assert_eq!(q.baseline_pass_rate, Some(2.0 / 3.0));
        assert_eq!(q.current_pass_rate, Some(1.0 / 3.0));
    }

    #[test]
    fn a_broad_quality_drop_is_a_regression_and_a_rise_an_improvement() {
        let cases = |pass_every: usize| -> Vec<CaseOutcome> {
            (0..400)
                .map(|i| {
                    let passed = i % pass_every == 0;
                    CaseOutcome {
                        key: key(&format!("{i}#0")),
                        passed,
                        score: if passed { 1.0 } else { 0.2 },
                        errored: false,
                        latency_ms: None,
                        tokens: None,
                        cost_usd: None,
                        ..CaseOutcome::default()
                    }
                })
                .collect()
        };
        let good = RunData {
            cases: cases(1),
            ..RunData::default()
        };
        let bad = RunData {
            // Three in four cases newly fail: 75 % worse.
            cases: cases(4),
            ..RunData::default()
        };
        let worse = compare(&bad, &good, &History::default(), &Settings::default());
        assert_eq!(worse.worst, Severity::Critical, "{:?}", worse.quality);
        let score = worse.findings.iter().find(|f| f.name == "score").unwrap();
        assert_eq!(score.direction, Direction::Regression);
        let better = compare(&good, &bad, &History::default(), &Settings::default());
        assert_eq!(better.worst, Severity::None);
        let score = better.findings.iter().find(|f| f.name == "score").unwrap();
        assert_eq!(score.direction, Direction::Improvement);
    }

    #[test]
    fn unchanged_tokens_are_no_change_and_halved_tokens_an_improvement() {
        let mut rng = SplitMix64::new(3);
        let baseline = run(&mut rng, "base", 100, |_| 1.0);
        let mut current = baseline.clone();
        let same = compare(
            &current,
            &baseline,
            &History::default(),
            &Settings::default(),
        );
        assert!(
            same.findings
                .iter()
                .all(|f| f.direction != Direction::Regression)
        );
        for case in &mut current.cases {
            case.tokens = case.tokens.map(|t| t / 2.0);
        }
        let halved = compare(
            &current,
            &baseline,
            &History::default(),
            &Settings::default(),
        );
        let tokens = halved
            .findings
            .iter()
            .find(|f| f.name == "tokens per case")
            .unwrap();
        assert_eq!(tokens.direction, Direction::Improvement);
        assert!((tokens.magnitude - 0.5).abs() < 0.05, "{tokens:?}");
    }

    #[test]
    fn partners_pair_as_the_verdicts_do_and_keep_every_case() {
        let case = |id: &str, passed: bool, request: &str| CaseOutcome {
            key: key(id),
            passed,
            score: if passed { 1.0 } else { 0.0 },
            request_hash: Some(request.into()),
            scoring_hash: Some("s".into()),
            ..CaseOutcome::default()
        };
        let baseline = RunData {
            cases: vec![
                case("c", true, "r"),
                case("a", true, "r"),
                case("b", true, "r"),
            ],
            ..RunData::default()
        };
        let current = RunData {
            cases: vec![
                case("d", true, "r"),
                case("b", false, "changed"),
                case("a", true, "r"),
            ],
            ..RunData::default()
        };
        let all = partners(&current, &baseline);
        let seen: Vec<(&str, bool, bool, Option<Cause>)> = all
            .iter()
            .map(|p| {
                (
                    p.key().id.as_str(),
                    p.current.is_some(),
                    p.baseline.is_some(),
                    p.cause(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("a", true, true, None),
                ("b", true, true, Some(Cause::RequestChanged)),
                ("c", false, true, None),
                ("d", true, false, None),
            ]
        );
        let flips = compare(
            &current,
            &baseline,
            &History::default(),
            &Settings::default(),
        )
        .quality
        .flips;
        assert_eq!(flips.len(), 1);
        assert_eq!(
            (flips[0].key.id.as_str(), flips[0].cause),
            ("b", Cause::RequestChanged)
        );
    }
}
