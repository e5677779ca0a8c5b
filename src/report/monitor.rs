//! Component timings: how long each pipeline stage was busy.
//!
//! Stages run at the same time (reading overlaps execution, storing overlaps
//! both), so each component records its own busy time; the hot paths add to
//! atomics, never take a lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::record::Timing;

/// The pipeline's components, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    DatasetLoading,
    Execution,
    Scoring,
    Storing,
    Report,
}

impl Component {
    pub const ALL: [Component; 5] = [
        Component::DatasetLoading,
        Component::Execution,
        Component::Scoring,
        Component::Storing,
        Component::Report,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Component::DatasetLoading => "dataset_loading",
            Component::Execution => "execution",
            Component::Scoring => "scoring",
            Component::Storing => "storing",
            Component::Report => "report",
        }
    }
}

#[derive(Default)]
struct Counter {
    nanos: AtomicU64,
    calls: AtomicU64,
}

/// Busy time and call counts per component, plus the run's wall clock.
pub struct Monitor {
    started: Instant,
    counters: [Counter; 5],
    /// Parts of the scoring component, one per assertion type
    /// (`scoring/regex`, `scoring/llm-judge` …): (busy, calls).
    scorers: Mutex<BTreeMap<String, (Duration, u64)>>,
    /// The run's total, once it is taken: the figure the comparison reads
    /// and the history keeps must be the same one.
    total: OnceLock<Duration>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new()
    }
}

impl Monitor {
    pub fn new() -> Monitor {
        Monitor {
            started: Instant::now(),
            counters: Default::default(),
            scorers: Mutex::new(BTreeMap::new()),
            total: OnceLock::new(),
        }
    }

    /// Adds time spent by one scorer (an assertion type), also counted in
    /// the scoring component.
    pub fn add_scorer(&self, name: &str, busy: Duration, calls: u64) {
        self.add(Component::Scoring, busy, 0);
        let mut scorers = self.scorers.lock().unwrap_or_else(|e| e.into_inner());
        let entry = scorers.entry(name.to_string()).or_default();
        entry.0 += busy;
        entry.1 += calls;
    }

    /// Adds `busy` time over `calls` calls to a component.
    pub fn add(&self, component: Component, busy: Duration, calls: u64) {
        let counter = &self.counters[component as usize];
        counter
            .nanos
            .fetch_add(busy.as_nanos() as u64, Ordering::Relaxed);
        counter.calls.fetch_add(calls, Ordering::Relaxed);
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Takes the run's total now; later calls keep the first figure. A run
    /// takes it when its work is done, before the report, so every run's
    /// `total` means the same span.
    pub fn stop_total(&self) -> Duration {
        *self.total.get_or_init(|| self.started.elapsed())
    }

    /// The timings to store: the run's total wall time, then each component.
    pub fn timings(&self) -> Vec<Timing> {
        let mut timings = vec![Timing {
            component: "total".into(),
            parent: None,
            duration_ms: millis(self.total.get().copied().unwrap_or_else(|| self.elapsed())),
            calls: None,
        }];
        for component in Component::ALL {
            let counter = &self.counters[component as usize];
            timings.push(Timing {
                component: component.name().into(),
                parent: Some("total".into()),
                duration_ms: counter.nanos.load(Ordering::Relaxed) as f64 / 1e6,
                calls: Some(counter.calls.load(Ordering::Relaxed)),
            });
        }
        let scorers = self.scorers.lock().unwrap_or_else(|e| e.into_inner());
        for (name, (busy, calls)) in scorers.iter() {
            timings.push(Timing {
                component: format!("{}/{name}", Component::Scoring.name()),
                parent: Some(Component::Scoring.name().into()),
                duration_ms: millis(*busy),
                calls: Some(*calls),
            });
        }
        timings
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
