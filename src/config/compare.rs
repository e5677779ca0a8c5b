//! The `[compare]` section: how a run is compared with its baseline, and
//! the severity that fails the gate.

use serde::{Deserialize, Serialize};

/// The most recent runs a comparison reads: each is a query and a set of
/// figures in memory.
pub const MAX_HISTORY_WINDOW: usize = 1_000;

/// The `[compare]` section: how a run is compared with its baseline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CompareConfig {
    /// The branch whose runs are the baseline and the history; unset, the
    /// repository's default branch in Actions, else main (see
    /// `compare::baseline::Request::branch`).
    pub baseline_branch: Option<String>,
    /// How many of the baseline branch's recent runs feed the noise model.
    pub history_window: usize,
    /// History runs needed before a timing can raise an alarm.
    pub min_history: usize,
    /// Confidence shared by all of a comparison's tests.
    pub confidence: f64,
    /// The regression severity that fails the gate.
    pub fail_on: FailOn,
    /// Worse by more than this fraction is minor, major, critical.
    pub minor: f64,
    /// See `minor`.
    pub major: f64,
    /// See `minor`.
    pub critical: f64,
    /// The least change a wall-clock timing must show to count.
    pub timing_floor: f64,
    /// The least change in milliseconds a latency or timing must show to
    /// count, whatever its relative size.
    pub timing_floor_ms: f64,
    /// Cases the baseline had and the pull request removed fail the gate.
    pub fail_on_removed: bool,
    /// The severity at which breakage the pull request certainly caused
    /// (a changed request, changed scoring, a changed deterministic output)
    /// fails the gate: such failures are facts, not noise.
    pub fail_on_certain: FailOn,
    /// A run with a larger share of errored cases is never a baseline nor
    /// part of the history (an outage says nothing about the suite).
    pub max_baseline_errors: f64,
    /// Which runner-bound measurements can fail the gate; the others are
    /// shown as advisory. A slower CI runner is not the pull request.
    pub gate_on_timings: Vec<TimingGate>,
    /// No baseline fails the gate instead of passing with a note.
    pub require_baseline: bool,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            baseline_branch: None,
            history_window: 30,
            min_history: 5,
            confidence: 0.95,
            fail_on: FailOn::Critical,
            minor: 0.10,
            major: 0.25,
            critical: 0.50,
            timing_floor: 0.10,
            timing_floor_ms: 20.0,
            fail_on_removed: false,
            fail_on_certain: FailOn::Major,
            max_baseline_errors: 0.2,
            gate_on_timings: vec![TimingGate::Latency],
            require_baseline: false,
        }
    }
}

impl CompareConfig {
    pub(super) fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if let Some(branch) = &self.baseline_branch {
            super::refs::check_branch(branch).map_err(|m| ("compare.baseline-branch", m))?;
        }
        if !(self.minor > 0.0 && self.minor < self.major && self.major < self.critical) {
            return Err((
                "compare.minor",
                format!(
                    "the bands must grow: 0 < minor ({}) < major ({}) < critical ({})",
                    self.minor, self.major, self.critical
                ),
            ));
        }
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err((
                "compare.confidence",
                format!("{} is not between 0.5 and 1", self.confidence),
            ));
        }
        if !(1..=MAX_HISTORY_WINDOW).contains(&self.history_window) {
            return Err((
                "compare.history-window",
                format!(
                    "{} is not between 1 and {MAX_HISTORY_WINDOW}",
                    self.history_window
                ),
            ));
        }
        if !(2..=self.history_window).contains(&self.min_history) {
            return Err((
                "compare.min-history",
                format!(
                    "{} is not between 2 and history-window ({}): fewer runs than that are never read",
                    self.min_history, self.history_window
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.timing_floor) {
            return Err((
                "compare.timing-floor",
                format!("{} is not a fraction between 0 and 1", self.timing_floor),
            ));
        }
        if !(self.timing_floor_ms.is_finite() && self.timing_floor_ms >= 0.0) {
            return Err((
                "compare.timing-floor-ms",
                format!(
                    "{} is not a number of milliseconds, 0 or more",
                    self.timing_floor_ms
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.max_baseline_errors) {
            return Err((
                "compare.max-baseline-errors",
                format!(
                    "{} is not a fraction between 0 and 1",
                    self.max_baseline_errors
                ),
            ));
        }
        Ok(())
    }
}

/// A measurement that depends on the machine the run happened on, and
/// whether it may fail the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimingGate {
    /// The provider's latency per case, judged against main's spread.
    Latency,
    /// ai-evals' own stage timings (`timing total`, `timing scoring` …).
    Stages,
    /// The run's peak memory.
    Memory,
}

/// What fails the gate, from `[compare]` and the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// Regressions of any kind at or above this severity.
    pub fail_on: FailOn,
    /// Breakage the pull request certainly caused at or above this one.
    pub fail_on_certain: FailOn,
    /// Cases the baseline had and this run lacks.
    pub fail_on_removed: bool,
    /// No baseline to compare with.
    pub require_baseline: bool,
}

/// What the command line says about the gate, over `[compare]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateFlags {
    pub fail_on: Option<FailOn>,
    pub fail_on_certain: Option<FailOn>,
    pub require_baseline: bool,
}

impl Gate {
    /// The gate a suite's `[compare]` section sets, with the flags'
    /// overrides. `never` turns the whole regression gate off; otherwise
    /// certain breakage fails at the stricter of the two severities.
    pub fn new(config: &CompareConfig, flags: GateFlags) -> Gate {
        let fail_on = flags.fail_on.unwrap_or(config.fail_on);
        let certain = flags.fail_on_certain.unwrap_or(config.fail_on_certain);
        let fail_on_certain = match fail_on {
            FailOn::Never => FailOn::Never,
            _ => fail_on.stricter(certain),
        };
        Gate {
            fail_on,
            fail_on_certain,
            fail_on_removed: config.fail_on_removed,
            require_baseline: flags.require_baseline || config.require_baseline,
        }
    }
}

/// The regression severity at which the gate fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Only critical regressions fail the gate.
    Critical,
    /// Major and critical ones.
    Major,
    /// Any regression.
    Minor,
    /// The regression gate is off.
    Never,
}

impl FailOn {
    /// The name as written in the config and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Critical => "critical",
            FailOn::Major => "major",
            FailOn::Minor => "minor",
            FailOn::Never => "never",
        }
    }

    /// The stricter of two settings: the one that fails at the lower
    /// severity (`never` is the least strict).
    pub fn stricter(self, other: FailOn) -> FailOn {
        let rank = |f: FailOn| match f {
            FailOn::Minor => 0,
            FailOn::Major => 1,
            FailOn::Critical => 2,
            FailOn::Never => 3,
        };
        if rank(other) < rank(self) {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certain_breakage_fails_at_the_stricter_severity_and_never_means_never() {
        let config = CompareConfig::default();
        let gate = |fail_on| {
            Gate::new(
                &config,
                GateFlags {
                    fail_on,
                    ..GateFlags::default()
                },
            )
        };
        let default = gate(None);
        assert_eq!(
            (default.fail_on, default.fail_on_certain),
            (FailOn::Critical, FailOn::Major)
        );
        assert_eq!(gate(Some(FailOn::Minor)).fail_on_certain, FailOn::Minor);
        assert_eq!(gate(Some(FailOn::Never)).fail_on_certain, FailOn::Never);
        let lenient = CompareConfig {
            fail_on_certain: FailOn::Critical,
            ..CompareConfig::default()
        };
        let lenient = Gate::new(&lenient, GateFlags::default());
        assert_eq!(lenient.fail_on_certain, FailOn::Critical);
        assert!(!default.require_baseline);
        let flags = GateFlags {
            require_baseline: true,
            ..GateFlags::default()
        };
        assert!(Gate::new(&config, flags).require_baseline);
    }
}
