//! What a run records: each finished case (what the executor measured and
//! what the scorers decided), the components' timings and the run's
//! metrics. Plain values, owned below every stage that makes or reads
//! them: the store writes them and the report summarises them.

use serde::{Deserialize, Serialize};

use crate::assertion::AssertionResult;

/// Token usage as the provider reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// Where a case's output came from. A model samples: asked the same
/// question twice, it may answer differently. The others answer the same
/// every time, so a changed output from them is a change in the suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerSource {
    /// A provider's model (an HTTP API).
    #[default]
    Model,
    /// Logged answers (`replay`).
    Replay,
    /// The rendered prompt itself (`echo`).
    Echo,
    /// An output given in the test or dataset row.
    Given,
}

impl AnswerSource {
    /// The name stored in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerSource::Model => "model",
            AnswerSource::Replay => "replay",
            AnswerSource::Echo => "echo",
            AnswerSource::Given => "given",
        }
    }

    /// Reads a stored name; `None` for a run stored before sources were.
    pub fn parse(name: &str) -> Option<AnswerSource> {
        [
            AnswerSource::Model,
            AnswerSource::Replay,
            AnswerSource::Echo,
            AnswerSource::Given,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A short content hash for the history: 16 hex digits of blake3, plenty
/// to tell two requests or outputs of one case apart.
pub fn short_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..16].to_string()
}

/// How a case got its id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// Written in the test or the dataset row: it names the case in every run.
    Given,
    /// Derived from the test's content, so it changes when the row is edited.
    #[default]
    Derived,
}

/// What ties a case to the same test in another run besides its id: where
/// the test was read and what its inputs were. A row edited in place keeps
/// its position, a row whose expected value changed keeps its inputs, so a
/// comparison can pair either with the row it replaced although its derived
/// id is new.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RowIdentity {
    pub id: IdKind,
    /// `file:line`, the file relative to the config's folder, so the same
    /// row has the same position on every machine.
    pub row: String,
    /// A hash of the test's own variables.
    pub inputs_hash: String,
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
    /// What identifies the request this case made (see
    /// `Provider::fingerprint`), so a comparison can tell a changed request
    /// from a new answer to the same one.
    pub request_hash: String,
    /// A hash of the case's assertions and threshold: what decides its verdict.
    pub scoring_hash: String,
    /// A hash of the output; `None` when there was none (an error).
    pub output_hash: Option<String>,
    /// Where the output came from.
    pub answer_source: AnswerSource,
    /// `PROMPT @ PROVIDER` for one combination of a matrix test.
    pub variant: Option<String>,
    /// The prompt's name in `[prompts]`.
    pub prompt_name: Option<String>,
    /// What pairs the case with the same test in another run.
    pub identity: RowIdentity,
}

impl CaseRecord {
    /// Applies `f` to every text of the record that came from outside the
    /// suite's own names: the prompt, the output, the error, the finish
    /// reason, and each assertion's expected value and reason (which may
    /// quote the output). How secrets are taken out before it is stored.
    pub fn rewrite_texts(&mut self, f: impl Fn(&mut String)) {
        let optional = [
            &mut self.description,
            &mut self.prompt,
            &mut self.output,
            &mut self.error,
            &mut self.finish_reason,
        ];
        for text in optional.into_iter().flatten() {
            f(text);
        }
        for assertion in &mut self.assertions {
            f(&mut assertion.expected);
            f(&mut assertion.reason);
        }
    }
}

/// A component's time: `duration_ms` is the time the component was busy;
/// `calls` how many times it ran, where that means something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub component: String,
    pub parent: Option<String>,
    pub duration_ms: f64,
    pub calls: Option<u64>,
}

/// One named figure of a run (`latency_p95_ms`, `cache_hits` …).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: Option<String>,
}

/// The cache's counters for a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Answers found in the cache.
    pub hits: u64,
    /// Lookups that found nothing (and went to the provider).
    pub misses: u64,
    /// Misses answered by an identical request already in flight.
    pub shared: u64,
    /// Unreadable entries found (and removed).
    pub corrupt: u64,
    /// Answers stored.
    pub writes: u64,
    /// Answers that could not be stored.
    pub write_errors: u64,
    /// Tokens the hits and shared answers did not spend again.
    pub tokens_saved: u64,
    /// What those tokens would have cost.
    pub cost_saved_usd: f64,
}

impl CacheStats {
    /// Lookups that made no provider call (stored or shared answers).
    pub fn requests_saved(&self) -> u64 {
        self.hits + self.shared
    }

    /// The share of lookups that made no provider call.
    pub fn hit_rate(&self) -> Option<f64> {
        let lookups = self.hits + self.misses + self.shared;
        (lookups > 0).then(|| self.requests_saved() as f64 / lookups as f64)
    }
}
