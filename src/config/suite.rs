//! The `[suite]` section: the suite's name, its pass-rate gate, how a
//! run is batched, what templates do with a missing variable, and the
//! limits of the user's scripts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[suite]` section. Settings left at their defaults are not written
/// out (the importer writes suites with it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Suite {
    /// The suite's name: it keys the history, the cache and the comment.
    pub name: String,
    /// What the suite checks, for readers of the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The share of cases that must pass; below it the run exits with 1.
    #[serde(
        default = "default_min_pass_rate",
        skip_serializing_if = "is_default_min_pass_rate"
    )]
    pub min_pass_rate: f64,
    /// Cases read, run and stored together; a killed run keeps every stored batch.
    #[serde(
        default = "default_batch_size",
        skip_serializing_if = "is_default_batch_size"
    )]
    pub batch_size: usize,
    /// Every dataset row must carry an `id` (otherwise ids are derived from content).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_ids: bool,
    /// Malformed dataset rows are skipped without failing the gate. By
    /// default they fail it: the suite checked less than it says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_malformed: bool,
    /// Cases in flight at once.
    #[serde(
        default = "default_concurrency",
        skip_serializing_if = "is_default_concurrency"
    )]
    pub concurrency: usize,
    /// Runs of each case; each repeat is its own cache entry and result row.
    #[serde(default = "default_repeat", skip_serializing_if = "is_default_repeat")]
    pub repeat: u32,
    /// The longest dataset line (JSONL) or element (JSON array) read, like
    /// `8MiB`; a longer one is a malformed row at its `file:line`.
    #[serde(
        default = "default_max_line_size",
        deserialize_with = "size",
        skip_serializing_if = "is_default_max_line_size"
    )]
    pub max_line_size: u64,
    /// What a template does with a variable the test does not set.
    #[serde(default, skip_serializing_if = "Undefined::is_strict")]
    pub undefined: Undefined,
    /// The longest one call of a `javascript` or `python` assertion or a
    /// transform may run, like `10s`; past it the script is stopped and
    /// the call fails.
    #[serde(
        default = "default_script_timeout",
        deserialize_with = "duration",
        serialize_with = "seconds",
        skip_serializing_if = "is_default_script_timeout"
    )]
    pub script_timeout: Duration,
    /// The most memory one script call may take, like `512MiB` (the heap
    /// a JavaScript call adds; a Python process's address space).
    #[serde(
        default = "default_script_memory",
        deserialize_with = "size",
        skip_serializing_if = "is_default_script_memory"
    )]
    pub script_memory: u64,
}

/// What a template does with a variable the test does not set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Undefined {
    /// An error: the test is not run (a silently blank prompt would still
    /// get an answer, and measure the wrong thing).
    #[default]
    Strict,
    /// Empty text when printed, false when tested, and so are its
    /// attributes: promptfoo's (Nunjucks') way.
    Lenient,
}

impl Undefined {
    fn is_strict(&self) -> bool {
        *self == Undefined::Strict
    }
}

fn default_script_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_script_memory() -> u64 {
    512 << 20
}

fn is_default_script_timeout(d: &Duration) -> bool {
    *d == default_script_timeout()
}

fn is_default_script_memory(n: &u64) -> bool {
    *n == default_script_memory()
}

fn is_default_min_pass_rate(r: &f64) -> bool {
    *r == default_min_pass_rate()
}

fn is_default_batch_size(n: &usize) -> bool {
    *n == default_batch_size()
}

fn is_default_concurrency(n: &usize) -> bool {
    *n == default_concurrency()
}

fn is_default_repeat(n: &u32) -> bool {
    *n == default_repeat()
}

fn is_default_max_line_size(n: &u64) -> bool {
    *n == DEFAULT_MAX_LINE_SIZE
}

/// A duration written as text (`10s`, `2m`) or a number of seconds.
fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Seconds(f64),
        Text(String),
    }
    let parsed = match Written::deserialize(deserializer)? {
        Written::Seconds(s) => Duration::try_from_secs_f64(s).map_err(|e| e.to_string()),
        Written::Text(text) => crate::units::parse_duration(&text),
    };
    parsed.map_err(serde::de::Error::custom).and_then(|d| {
        if d.is_zero() {
            Err(serde::de::Error::custom("must be longer than 0 s"))
        } else {
            Ok(d)
        }
    })
}

/// A duration as the text it is read back from (`10s`).
fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{}s", duration.as_secs_f64()))
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
    /// A suite of this name with every other setting at its default.
    pub fn named(name: String) -> Suite {
        Suite {
            name,
            description: None,
            min_pass_rate: default_min_pass_rate(),
            batch_size: default_batch_size(),
            require_ids: false,
            allow_malformed: false,
            concurrency: default_concurrency(),
            repeat: default_repeat(),
            max_line_size: DEFAULT_MAX_LINE_SIZE,
            undefined: Undefined::Strict,
            script_timeout: default_script_timeout(),
            script_memory: default_script_memory(),
        }
    }

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
