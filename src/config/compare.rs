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
        }
    }
}

impl CompareConfig {
    pub(super) fn check(&self) -> std::result::Result<(), (&'static str, String)> {
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
        Ok(())
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
}
