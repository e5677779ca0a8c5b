//! The `[suite]` section: the suite's name, its pass-rate gate and how a
//! run is batched.

use serde::{Deserialize, Serialize};

/// The `[suite]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Suite {
    /// The suite's name: it keys the history, the cache and the comment.
    pub name: String,
    /// What the suite checks, for readers of the config.
    #[serde(default)]
    pub description: Option<String>,
    /// The share of cases that must pass; below it the run exits with 1.
    #[serde(default = "default_min_pass_rate")]
    pub min_pass_rate: f64,
    /// Cases read, run and stored together; a killed run keeps every stored batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Every dataset row must carry an `id` (otherwise ids are derived from content).
    #[serde(default)]
    pub require_ids: bool,
    /// Cases in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Runs of each case; each repeat is its own cache entry and result row.
    #[serde(default = "default_repeat")]
    pub repeat: u32,
    /// The longest dataset line (JSONL) or element (JSON array) read, like
    /// `8MiB`; a longer one is a malformed row at its `file:line`.
    #[serde(default = "default_max_line_size", deserialize_with = "size")]
    pub max_line_size: u64,
}

/// 8 MiB: far above any test case, small enough that one line cannot take
/// the run's memory.
pub const DEFAULT_MAX_LINE_SIZE: u64 = 8 << 20;

/// The most cases in a batch: a batch is held in memory (several are in
/// flight at once, and up to 64 scored ones queue for the database), so a
/// larger one buys no speed and can take all memory.
pub const MAX_BATCH_SIZE: usize = 10_000;
/// The most requests in flight at once, for the suite or one provider:
/// each holds a connection (a file descriptor) and its answer in memory.
pub const MAX_CONCURRENCY: usize = 1_000;
/// The most runs of each case.
pub const MAX_REPEAT: u32 = 1_000;
/// The longest dataset line or element that may be read (1 GiB): held in
/// memory whole while it is parsed.
pub const MAX_LINE_SIZE: u64 = 1 << 30;

fn default_max_line_size() -> u64 {
    DEFAULT_MAX_LINE_SIZE
}

/// A size written as text (`8MiB`) or a number of bytes.
fn size<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(deserializer)? {
        Size::Bytes(n) => Ok(n),
        Size::Text(text) => crate::units::parse_size(&text).map_err(serde::de::Error::custom),
    }
    .and_then(|n| {
        if n == 0 {
            Err(serde::de::Error::custom("must be at least 1 byte"))
        } else {
            Ok(n)
        }
    })
}

fn default_repeat() -> u32 {
    1
}

fn default_min_pass_rate() -> f64 {
    1.0
}

fn default_batch_size() -> usize {
    50
}

fn default_concurrency() -> usize {
    8
}

impl Suite {
    /// The first setting that makes no sense, as (key, why).
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err((
                "suite.name",
                format!(
                    "'{}' is not a valid suite name; use letters, digits, '-', '_' and '.'",
                    self.name
                ),
            ));
        }
        if !(0.0..=1.0).contains(&self.min_pass_rate) {
            return Err((
                "suite.min-pass-rate",
                format!("{} is not between 0 and 1", self.min_pass_rate),
            ));
        }
        let counts = [
            (
                "suite.batch-size",
                self.batch_size as u64,
                MAX_BATCH_SIZE as u64,
            ),
            (
                "suite.concurrency",
                self.concurrency as u64,
                MAX_CONCURRENCY as u64,
            ),
            (
                "suite.repeat",
                u64::from(self.repeat),
                u64::from(MAX_REPEAT),
            ),
        ];
        for (key, value, max) in counts {
            if !(1..=max).contains(&value) {
                return Err((key, format!("{value} is not between 1 and {max}")));
            }
        }
        if self.max_line_size > MAX_LINE_SIZE {
            return Err((
                "suite.max-line-size",
                format!(
                    "{} bytes is more than the largest, {MAX_LINE_SIZE} (1GiB)",
                    self.max_line_size
                ),
            ));
        }
        Ok(())
    }
}
