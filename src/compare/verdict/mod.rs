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

mod gate;
mod metrics;
mod noise;
mod pairing;
mod quality;
mod suite_rate;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::compare::stats::Interval;
use crate::config::{CompareConfig, TimingGate};
use crate::store::{CaseKey, CaseOutcome, History, RunData};

pub use gate::gate_reasons;
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
mod tests;
