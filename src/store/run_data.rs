//! A run's numbers as a comparison reads them back: per-case outcomes with
//! what identifies their requests and outputs, component timings, run
//! metrics, and the baseline branch's recent runs. Plain values, so the
//! comparison's statistics never touch the database.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::record::{AnswerSource, RowIdentity};

/// Which case a result is, across runs: its id and its repeat. A tuple,
/// not a joined string, so an id containing `#` never collides with
/// another case's repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CaseKey {
    /// The case id.
    pub id: String,
    /// The repeat index, 0 for the first run of the case.
    pub repeat: u32,
    /// `PROMPT @ PROVIDER` for one combination of a matrix test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl fmt::Display for CaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if self.repeat > 0 {
            write!(f, "#{}", self.repeat)?;
        }
        if let Some(variant) = &self.variant {
            write!(f, " [{variant}]")?;
        }
        Ok(())
    }
}

/// One case (one repeat of it) as the comparison sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseOutcome {
    pub key: CaseKey,
    pub passed: bool,
    pub score: f64,
    pub errored: bool,
    /// The provider call's latency when the answer was first obtained.
    pub latency_ms: Option<f64>,
    pub tokens: Option<f64>,
    pub cost_usd: Option<f64>,
    /// What identifies the request the case made; `None` for a run stored
    /// before ai-evals recorded it (schema 4 and older).
    pub request_hash: Option<String>,
    /// A hash of the case's assertions and threshold.
    pub scoring_hash: Option<String>,
    /// A hash of the output; `None` when there was none.
    pub output_hash: Option<String>,
    /// Where the output came from; `None` for an older run.
    pub source: Option<AnswerSource>,
    /// Whether the answer came from the response cache.
    pub cached: bool,
    /// The provider's name and the prompt's: with the id and the repeat,
    /// they tell a matrix's cases apart.
    pub provider: Option<String>,
    pub prompt: Option<String>,
    /// Where the case's test was read and a hash of its inputs; `None` for
    /// a run stored before schema 7.
    pub identity: Option<RowIdentity>,
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

/// How one case answered the same request on the baseline branch's recent
/// runs: fresh model answers only (a cached answer is the same sample
/// again, and says nothing about how often the model changes its mind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSamples {
    pub key: CaseKey,
    pub request_hash: String,
    /// Fresh answers to that request.
    pub samples: u32,
    /// How many of them passed.
    pub passes: u32,
}

/// The baseline branch's recent runs and its cases' samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Newest first.
    pub runs: Vec<HistoryRun>,
    pub samples: Vec<CaseSamples>,
}
