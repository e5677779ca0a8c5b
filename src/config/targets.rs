//! The `[targets]` section: the performance a run is graded against.

use serde::{Deserialize, Serialize};

/// The `[targets]` section: the performance a run is graded against, and
/// when a component counts as a bottleneck.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Targets {
    /// Reading and parsing every dataset, in all.
    pub dataset_loading_ms: f64,
    /// One provider call.
    pub execution_ms_per_case: f64,
    /// One exact-match assertion (equals, contains, regex …).
    pub exact_match_ms: f64,
    /// One `similar` assertion.
    pub semantic_ms: f64,
    /// One `llm-judge` assertion.
    pub judge_ms: f64,
    /// Rendering the report.
    pub report_ms: f64,
    /// Share of provider calls answered from the cache.
    pub cache_hit_rate: f64,
    /// Peak resident memory.
    pub memory_mb: f64,
    /// A component busy longer than this is a critical bottleneck …
    pub bottleneck_ms: f64,
    /// … as is one taking more than this share of the run, in percent.
    pub bottleneck_percent: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            dataset_loading_ms: 500.0,
            execution_ms_per_case: 2000.0,
            exact_match_ms: 10.0,
            semantic_ms: 100.0,
            judge_ms: 5000.0,
            report_ms: 1000.0,
            cache_hit_rate: 0.70,
            memory_mb: 500.0,
            bottleneck_ms: 30_000.0,
            bottleneck_percent: 50.0,
        }
    }
}
