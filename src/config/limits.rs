//! The `[limits]` section: how long a run sits through a wait for a
//! budget or for the provider's limits before it stops instead.

use std::time::Duration;

use serde::Deserialize;

use crate::units::parse_duration;

/// `max-wait` when the config sets none: five minutes, far above any wait
/// a per-minute limit asks for, far below a day-long reset.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(300);

/// The `[limits]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct LimitsSpec {
    max_wait: Option<String>,
}

/// The `[limits]` section, resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The longest single wait a request sits through for a budget or the
    /// provider's limits; a longer one stops the run (exit 3) at once.
    pub max_wait: Duration,
}

impl LimitsSpec {
    /// Parses `max-wait`; an error names the key.
    pub(super) fn resolve(self) -> Result<Limits, (&'static str, String)> {
        let max_wait = match self.max_wait.as_deref() {
            None => DEFAULT_MAX_WAIT,
            Some(text) => parse_duration(text)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    (
                        "limits.max-wait",
                        format!("'{text}' is not a duration above zero like 5m or 30s"),
                    )
                })?,
        };
        Ok(Limits { max_wait })
    }
}
