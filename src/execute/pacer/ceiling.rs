//! The longest a run sits through a wait: a longer one halts the run
//! with what held it back, instead of being slept.

use std::time::Duration;

use super::Limiter;

/// A wait longer than the run will sit through: a limit that headers
/// describe as spent for hours (`remaining: 0`, `reset: 24h`), a rate
/// learned from junk values, or a budget too small for the suite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stalled {
    pub limiter: Limiter,
    pub wait: Duration,
    pub max: Duration,
}

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.limiter {
            Limiter::Requests => "the requests/min budget (told, or learned from its headers)",
            Limiter::Tokens => "the tokens/min budget (told, or learned from its headers)",
            Limiter::Provider => "the provider's rate-limit headers (or a 429)",
            Limiter::Retry => "a retry",
        };
        write!(
            f,
            "{what} would hold the next request back for {}, longer than [limits] max-wait ({}); check the provider's limits and the suite's rpm/tpm, or raise max-wait",
            human(self.wait),
            human(self.max)
        )
    }
}

/// `wait` if the run may sit through it, else why not: waits longer than
/// `max` are refused, never slept.
pub fn ceiling(limiter: Limiter, wait: Duration, max: Duration) -> Result<Duration, Stalled> {
    if wait > max {
        Err(Stalled { limiter, wait, max })
    } else {
        Ok(wait)
    }
}

/// A wait as people read it: `86400 s (24.0 h)`.
fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1e9 {
        "longer than anyone waits".into()
    } else if s >= 3600.0 {
        format!("{s:.0} s ({:.1} h)", s / 3600.0)
    } else if s >= 60.0 {
        format!("{s:.0} s ({:.1} min)", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}
