//! The `[cache]` section: where the response cache lives and how a run may
//! use it. Only what the suite chose; the command line and the cache's own
//! defaults fill in the rest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::units::{parse_duration, parse_size};

/// The cache folder when neither the command line nor the config names one.
pub const DEFAULT_CACHE_DIR: &str = ".ai-evals-cache";

/// How a run may use the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Replay stored answers and store new ones.
    ReadWrite,
    /// Replay stored answers, store nothing (for untrusted pull requests).
    ReadOnly,
    /// Neither.
    Off,
}

/// The `[cache]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct CacheSpec {
    dir: Option<PathBuf>,
    mode: Option<Mode>,
    ttl: Option<String>,
    max_size: Option<String>,
    #[serde(default)]
    keep_truncated: bool,
    embeddings_ttl: Option<String>,
    embeddings_max_size: Option<String>,
}

/// The `[cache]` section: each setting the suite chose.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheConfig {
    /// Resolved against the config's folder.
    pub dir: Option<PathBuf>,
    /// How the run may use the cache.
    pub mode: Option<Mode>,
    /// How long a stored answer stays valid.
    pub ttl: Option<Duration>,
    /// The answers' size cap; the least recently used go first.
    pub max_bytes: Option<u64>,
    /// Store answers cut off by max-tokens too.
    pub keep_truncated: bool,
    /// How long a stored embedding stays valid.
    pub embeddings_ttl: Option<Duration>,
    /// The embeddings' size cap.
    pub embeddings_max_bytes: Option<u64>,
}

impl CacheSpec {
    /// Parses the durations and sizes; an error names the key.
    pub(super) fn resolve(self, dir: &Path) -> Result<CacheConfig, (&'static str, String)> {
        let duration = |key, text: Option<String>| {
            text.as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|m| (key, m.to_string()))
        };
        let size = |key, text: Option<String>| {
            text.as_deref()
                .map(parse_size)
                .transpose()
                .map_err(|m| (key, m.to_string()))
        };
        Ok(CacheConfig {
            dir: self.dir.map(|d| dir.join(d)),
            mode: self.mode,
            ttl: duration("cache.ttl", self.ttl)?,
            max_bytes: size("cache.max-size", self.max_size)?,
            keep_truncated: self.keep_truncated,
            embeddings_ttl: duration("cache.embeddings-ttl", self.embeddings_ttl)?,
            embeddings_max_bytes: size("cache.embeddings-max-size", self.embeddings_max_size)?,
        })
    }
}
