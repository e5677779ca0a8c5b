//! The pacer's clock: the monotonic clock in a run, and in tests one that
//! moves only when a test moves it, so a schedule is checked in counts
//! and fake seconds, never wall time.

use std::time::{Duration, Instant};

/// Time since a clock's own start.
pub trait Clock {
    fn now(&self) -> Duration;
}

/// The process's monotonic clock.
#[derive(Debug)]
pub struct Monotonic(Instant);

impl Default for Monotonic {
    fn default() -> Monotonic {
        Monotonic(Instant::now())
    }
}

impl Clock for Monotonic {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock a test moves by hand; its clones share one time.
#[cfg(test)]
#[derive(Debug, Clone, Default)]
pub struct Manual(std::sync::Arc<std::sync::atomic::AtomicU64>);

#[cfg(test)]
impl Manual {
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
impl Clock for Manual {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}
