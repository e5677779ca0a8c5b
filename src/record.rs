//! The record of one finished case: what the executor measured and what the
//! scorers decided. It is what the store writes and the report summarises.

use serde::{Deserialize, Serialize};

use crate::scoring::AssertionResult;

/// Token usage as the provider reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// One case run once (one repeat), scored.
#[derive(Debug, Clone, Serialize)]
pub struct CaseRecord {
    pub case_id: String,
    pub repeat: u32,
    /// Position in the dataset order, so stored results can be read back in order.
    pub ordinal: u64,
    /// `file:line` the case was read from.
    pub source: String,
    pub description: Option<String>,
    pub provider: String,
    pub model: String,
    pub prompt: Option<String>,
    pub output: Option<String>,
    pub passed: bool,
    pub score: f64,
    pub threshold: Option<f64>,
    /// How long this run took to get the answer: the provider call, or the
    /// cache lookup; `None` when the output was given.
    pub latency_ms: Option<f64>,
    /// The provider call's latency when the answer was first obtained (the
    /// same as `latency_ms` unless it came from the cache).
    pub original_latency_ms: Option<f64>,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    pub cached: bool,
    pub finish_reason: Option<String>,
    /// Provider calls made for this case, retries included (0 for a given output).
    pub attempts: u32,
    /// Why the case could not be scored (the provider failed); it then fails.
    pub error: Option<String>,
    pub assertions: Vec<AssertionResult>,
}
