//! The record of one finished case: what the executor measured and what the
//! scorers decided. It is what the store writes and the report summarises.

use serde::Serialize;

use crate::scoring::AssertionResult;

/// Token usage as the provider reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
    /// The provider call's latency; `None` when no call was made (a given output).
    pub latency_ms: Option<f64>,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    pub cached: bool,
    /// Why the case could not be scored (the provider failed); it then fails.
    pub error: Option<String>,
    pub assertions: Vec<AssertionResult>,
}
