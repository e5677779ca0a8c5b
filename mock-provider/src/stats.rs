//! Counters of what the server saw, served at `GET /stats`, and the exact
//! in-flight count that tests use to check a client's concurrency.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// A snapshot of the counters. The `/stats` endpoints do not count themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests received, counted on arrival.
    pub requests: u64,
    /// Answers by HTTP status code, e.g. `"200"`, `"429"`.
    pub by_status: BTreeMap<String, u64>,
    /// 429s given by the server's own rate limits (not by scripted rules).
    pub rate_limited: u64,
    /// Most requests ever being handled at once since the last reset.
    pub max_in_flight: u64,
    /// Requests being handled now.
    pub in_flight: u64,
    /// Prompt tokens of successful answers (not of hostile ones).
    pub prompt_tokens: u64,
    /// Completion tokens of successful answers (not of hostile ones).
    pub completion_tokens: u64,
    /// Tokens counted against the token limits: each admitted request's
    /// prompt and `max_tokens`, or with usage accounting the prompt and
    /// completion of each answer, when it was done.
    #[serde(default)]
    pub charged_tokens: u64,
    /// Requests received by URL path.
    pub by_path: BTreeMap<String, u64>,
    /// Well-formed successful answers whose whole body was handed to the
    /// connection: not hostile ones, and not those whose client hung up
    /// before the answer was written.
    #[serde(default)]
    pub answers_ok: u64,
    /// Hostile answers of chaos mode by kind, e.g. `"truncated-json"`.
    #[serde(default)]
    pub by_chaos: BTreeMap<String, u64>,
    /// Answers whose reply [`crate::Config::wrong_rate`] made
    /// [`crate::WRONG_REPLY`] (chaos mode may still have spoiled them).
    #[serde(default)]
    pub wrong_answers: u64,
}

/// One lock around all counters: every update is a few additions, and a
/// single lock keeps `in_flight` and `max_in_flight` consistent with each other.
#[derive(Debug, Default)]
pub(crate) struct StatsCollector(Mutex<Stats>);

impl StatsCollector {
    fn lock(&self) -> MutexGuard<'_, Stats> {
        // The counters stay meaningful even if a holder panicked mid-update.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn snapshot(&self) -> Stats {
        self.lock().clone()
    }

    /// Zeroes everything except what is in flight now: those requests will
    /// still finish and decrement, so they must stay counted.
    pub(crate) fn reset(&self) {
        let mut stats = self.lock();
        let in_flight = stats.in_flight;
        *stats = Stats {
            in_flight,
            max_in_flight: in_flight,
            ..Stats::default()
        };
    }

    /// Counts an arriving request; the guard decrements `in_flight` when
    /// dropped, also when the client hangs up and the handler is cancelled.
    pub(crate) fn arrive(self: &Arc<Self>, path: &str) -> InFlight {
        let mut stats = self.lock();
        stats.requests += 1;
        *stats.by_path.entry(path.to_owned()).or_default() += 1;
        stats.in_flight += 1;
        stats.max_in_flight = stats.max_in_flight.max(stats.in_flight);
        InFlight(Arc::clone(self))
    }

    pub(crate) fn answered(&self, status: u16) {
        *self.lock().by_status.entry(status.to_string()).or_default() += 1;
    }

    pub(crate) fn rate_limited(&self) {
        self.lock().rate_limited += 1;
    }

    pub(crate) fn answered_ok(&self) {
        self.lock().answers_ok += 1;
    }

    pub(crate) fn wrong_answer(&self) {
        self.lock().wrong_answers += 1;
    }

    pub(crate) fn chaos(&self, kind: &str) {
        *self.lock().by_chaos.entry(kind.to_owned()).or_default() += 1;
    }

    pub(crate) fn charged(&self, tokens: u64) {
        self.lock().charged_tokens += tokens;
    }

    pub(crate) fn tokens(&self, prompt: u64, completion: u64) {
        let mut stats = self.lock();
        stats.prompt_tokens += prompt;
        stats.completion_tokens += completion;
    }
}

pub(crate) struct InFlight(Arc<StatsCollector>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut stats = self.0.lock();
        stats.in_flight = stats.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_is_exact_and_survives_reset() {
        let stats = Arc::new(StatsCollector::default());
        let a = stats.arrive("/a");
        let b = stats.arrive("/a");
        drop(a);
        let c = stats.arrive("/b");
        assert_eq!(stats.snapshot().max_in_flight, 2);
        stats.reset();
        let snap = stats.snapshot();
        assert_eq!(
            (snap.requests, snap.in_flight, snap.max_in_flight),
            (0, 2, 2)
        );
        drop(b);
        drop(c);
        let snap = stats.snapshot();
        assert_eq!((snap.in_flight, snap.max_in_flight), (0, 2));
    }
}
