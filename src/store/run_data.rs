//! A run's numbers as a comparison reads them back: per-case outcomes,
//! component timings and run metrics. Plain values, so the comparison's
//! statistics never touch the database.

use std::collections::BTreeMap;

/// One case (one repeat of it) as the comparison sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseOutcome {
    /// The case id, with `#repeat` for repeats after the first; unique
    /// within a run.
    pub key: String,
    pub passed: bool,
    pub score: f64,
    pub errored: bool,
    /// The provider call's latency when the answer was first obtained.
    pub latency_ms: Option<f64>,
    pub tokens: Option<f64>,
    pub cost_usd: Option<f64>,
}

/// A run's numbers: its cases (any order), component timings in ms and run
/// metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunData {
    pub run_id: String,
    pub git_sha: Option<String>,
    pub cases: Vec<CaseOutcome>,
    pub timings: BTreeMap<String, f64>,
    pub metrics: BTreeMap<String, f64>,
}

/// A baseline branch run's headline numbers, for noise floors and
/// prediction intervals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryRun {
    pub run_id: String,
    pub git_sha: Option<String>,
    pub timings: BTreeMap<String, f64>,
    pub metrics: BTreeMap<String, f64>,
}
