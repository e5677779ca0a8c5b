//! One provider's lane: a concurrency limit, a pacer
//! ([`crate::execute::pacer`]: request and token budgets, told or learned
//! from the provider's headers, spent smoothly *before* a request goes
//! out, and the headers' word on what remains), and retries with backoff
//! for what the provider still refuses (429, 5xx, overload, timeouts,
//! resets). Every wait is counted per limiter, so the report can say what
//! throttled the run and whether the provider pushed back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};

use super::limits::Limits;
use crate::config::DEFAULT_MAX_WAIT;
pub use crate::execute::pacer::Limiter;
use crate::execute::pacer::{self, Cost, Decision, LIMITS, Pacer, Ticket, Used};
use crate::execute::provider::headers::Counted;
use crate::execute::provider::{CallError, Embeddings, Provider, RateLimits, Request, Response};
use crate::log;
use crate::record::Metric;

/// A lane's counters.
#[derive(Default)]
struct Counters {
    waits_ns: [AtomicU64; 4],
    attempts: AtomicU64,
    rate_limited: AtomicU64,
    /// Answers whose headers said a limit had nothing left.
    exhausted: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
}

/// How far the run has gone towards its end, as every lane sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    Running,
    /// No request is sent any more; those under way are waited for.
    Stopping,
    /// Requests under way are given up too: their cases get no answer.
    Abandoning,
}

/// What the executor and its lanes share: the run's phase, and why the
/// run had to stop when a lane could not go on.
pub(super) struct Shared {
    phase: watch::Sender<Phase>,
    pub(super) halted: Mutex<Option<String>>,
    /// The longest wait for a budget or the provider's limits that the run
    /// sits through; a longer one halts the run.
    max_wait: Duration,
}

impl Shared {
    pub(super) fn new(max_wait: Duration) -> Shared {
        Shared {
            phase: watch::Sender::new(Phase::Running),
            halted: Mutex::new(None),
            max_wait,
        }
    }

    pub(super) fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Moves the run on to `phase` (never back).
    pub(super) fn advance(&self, phase: Phase) {
        self.phase.send_if_modified(|p| {
            let later = phase > *p;
            if later {
                *p = phase;
            }
            later
        });
    }

    /// Resolves once the run has reached `phase`.
    pub(super) async fn reached(&self, phase: Phase) {
        let mut phases = self.phase.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = phases.wait_for(|p| *p >= phase).await;
    }

    /// Stops the run because of `why`; only the first reason is kept, and
    /// `true` says this was it.
    pub(super) fn halt(&self, why: String) -> bool {
        let mut halted = self.halted.lock().unwrap_or_else(|e| e.into_inner());
        let first = halted.is_none();
        if first {
            *halted = Some(why);
        }
        self.advance(Phase::Stopping);
        first
    }
}

/// One provider's lane.
pub struct Lane {
    pub name: String,
    pub provider: Provider,
    pub(super) limits: Limits,
    slots: Semaphore,
    pacer: Pacer,
    /// Wakes the requests waiting when an answer lets them go sooner: the
    /// first answer, or tokens credited back.
    sooner: Notify,
    counters: Counters,
    /// Shared with the executor: once the run stops, no request is sent.
    pub(super) shared: Arc<Shared>,
}

/// What a successful call tells its lane: the tokens the provider
/// counted (to correct the estimates) and its rate-limit headers.
pub trait Reported {
    fn used(&self) -> Option<Used>;
    fn limits(&self) -> &RateLimits;
}

impl Reported for Response {
    fn used(&self) -> Option<Used> {
        self.usage.map(|u| Used {
            input: u.prompt_tokens,
            output: u.completion_tokens,
        })
    }

    fn limits(&self) -> &RateLimits {
        &self.limits
    }
}

impl Reported for Embeddings {
    fn used(&self) -> Option<Used> {
        self.tokens.map(|input| Used { input, output: 0 })
    }

    fn limits(&self) -> &RateLimits {
        &self.limits
    }
}

/// An answer and how it was obtained.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer; for a cached one, its latency is the one first measured.
    pub response: Response,
    /// Provider calls made for it (0 when it came from the cache or from an
    /// identical request already in flight).
    pub attempts: u32,
    pub cached: bool,
}

/// A final failure and how many attempts were made.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: CallError,
    pub attempts: u32,
}

/// Backoff before retry n is about 0.5 s × 2ⁿ, at most 8 s (the schedule the
/// official OpenAI and Anthropic clients use), less up to 25 % jitter.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest a provider's retry-after is honoured for one wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

impl Lane {
    pub fn new(name: String, provider: Provider, limits: Limits) -> Lane {
        Lane {
            name,
            provider,
            slots: Semaphore::new(limits.concurrency),
            pacer: Pacer::new(limits.rpm, limits.tpm),
            sooner: Notify::new(),
            limits,
            counters: Counters::default(),
            shared: Arc::new(Shared::new(DEFAULT_MAX_WAIT)),
        }
    }

    /// What this suite's answers needed on main (the 95th percentile of
    /// their completion tokens), for requests without `max-tokens`.
    pub fn expect_completions(&self, p95: u32) {
        self.pacer.expect_completions(p95);
    }

    fn stopping(&self) -> bool {
        self.shared.phase() >= Phase::Stopping
    }

    /// Sends `request`, spending budgets first and retrying what may succeed
    /// on another attempt.
    pub async fn call(&self, request: Request<'_>) -> std::result::Result<Answer, Failure> {
        let cost = Cost {
            input: self.provider.prompt_estimate(request.prompt),
            output: self.provider.max_output(),
        };
        let (response, attempts) = self
            .attempt(cost, || self.provider.complete(request))
            .await?;
        Ok(Answer {
            response,
            attempts,
            cached: false,
        })
    }

    /// Embeds one batch of texts (at most the API's limit per request).
    pub async fn embed_batch(
        &self,
        texts: &[&str],
        dimensions: Option<u32>,
    ) -> std::result::Result<Embeddings, Failure> {
        let estimate: u32 = texts
            .iter()
            .map(|t| u32::try_from(t.chars().count().div_ceil(4)).unwrap_or(u32::MAX))
            .fold(0u32, |a, b| a.saturating_add(b).saturating_add(1));
        let cost = Cost {
            input: estimate,
            output: Some(0),
        };
        self.attempt(cost, || self.provider.embed(texts, dimensions))
            .await
            .map(|(embeddings, _)| embeddings)
    }

    /// Runs `call` within the lane's concurrency and budgets, retrying what
    /// may succeed on another attempt; returns the answer and the attempts.
    async fn attempt<T, F, Fut>(
        &self,
        cost: Cost,
        call: F,
    ) -> std::result::Result<(T, u32), Failure>
    where
        T: Reported,
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, CallError>>,
    {
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("lane semaphores are never closed");
        let mut attempts = 0;
        loop {
            let ticket = match self.admit(cost).await {
                Ok(ticket) => ticket,
                Err(error) => {
                    if !error.not_sent {
                        self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    }
                    return Err(Failure { error, attempts });
                }
            };
            attempts += 1;
            self.counters.attempts.fetch_add(1, Ordering::Relaxed);
            let Some(answered) = self.unless_abandoned(call()).await else {
                return Err(Failure {
                    error: CallError::abandoned(),
                    attempts,
                });
            };
            match answered {
                Ok(answer) => {
                    self.answered(&ticket, &answer);
                    return Ok((answer, attempts));
                }
                Err(error) => {
                    if self.pacer.observe(&ticket, &error.limits, None) {
                        self.sooner.notify_waiters();
                    }
                    if error.status == Some(429) {
                        self.pacer.refused(&ticket);
                        self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                    }
                    let limit = error
                        .max_attempts
                        .unwrap_or(u32::MAX)
                        .min(self.limits.max_retries.saturating_add(1));
                    if !error.retryable || attempts >= limit {
                        self.counters.failures.fetch_add(1, Ordering::Relaxed);
                        let error = CallError {
                            message: if attempts > 1 {
                                format!("{} (after {attempts} attempts)", error.message)
                            } else {
                                error.message
                            },
                            ..error
                        };
                        return Err(Failure { error, attempts });
                    }
                    let wait = backoff(attempts - 1, &error);
                    if error.status == Some(429) {
                        // The whole lane is over the limit, not just this request.
                        self.pacer.pause(wait);
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    log::debug(&format!(
                        "{}: attempt {attempts} failed ({}); retrying in {} ms",
                        self.name,
                        error.message,
                        wait.as_millis()
                    ));
                    self.wait(Limiter::Retry, wait).await;
                }
            }
        }
    }

    /// Reads an answer's headers and usage into the pacer, waking the
    /// requests waiting when they may go sooner, and counts a limit the
    /// headers say is spent.
    fn answered(&self, ticket: &Ticket, answer: &impl Reported) {
        if self.pacer.observe(ticket, answer.limits(), answer.used()) {
            self.sooner.notify_waiters();
        }
        if answer.limits().exhausted_reset().is_some() {
            self.counters.exhausted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `call`'s answer, or `None` once the run gives up on requests under way.
    async fn unless_abandoned<T>(&self, call: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            () = self.shared.reached(Phase::Abandoning) => None,
            answered = call => Some(answered),
        }
    }

    /// Waits until the pacer lets a request of `cost` go: the provider's
    /// pause, the budgets and the provider's word on what remains. A wait
    /// ends early when an answer lets requests go sooner. Once the run
    /// stops, what was not sent is never sent (a budget wait may outlast
    /// the run); a wait longer than the run sits through halts it.
    async fn admit(&self, cost: Cost) -> std::result::Result<Ticket, CallError> {
        let tokens = cost.input.saturating_add(cost.output.unwrap_or(0));
        if let Some(tpm) = self.limits.tpm.filter(|tpm| tokens > *tpm) {
            return Err(CallError::fatal(format!(
                "a request of about {tokens} tokens (prompt and max-tokens) can never fit the tokens/min budget of {tpm}; raise tpm or lower max-tokens"
            )));
        }
        loop {
            if self.stopping() {
                return Err(CallError::not_sent());
            }
            // Made before deciding, so that an answer in between still wakes it.
            let sooner = self.sooner.notified();
            match self.pacer.decide(cost) {
                Decision::Go(ticket) => return Ok(ticket),
                Decision::Wait(limiter, wait) => {
                    if let Err(stalled) = pacer::ceiling(limiter, wait, self.shared.max_wait) {
                        let why = format!("{}: {stalled}", self.name);
                        if self.shared.halt(why.clone()) {
                            log::warn(&format!(
                                "{why}; no more requests are sent, and what was answered is stored"
                            ));
                        }
                        return Err(CallError::not_sent());
                    }
                    tokio::select! {
                        () = self.wait(limiter, wait) => {}
                        () = sooner => {}
                    }
                }
            }
        }
    }

    /// Waits `wait`, or until the run stops, counting it against `limiter`
    /// (as much of it as was waited, when it is cut short).
    async fn wait(&self, limiter: Limiter, wait: Duration) {
        log::debug(&format!(
            "throttle: {} waits {} ms ({})",
            self.name,
            wait.as_millis(),
            limiter.name()
        ));
        let waited = Waited {
            ns: &self.counters.waits_ns[limiter as usize],
            since: tokio::time::Instant::now(),
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = self.shared.reached(Phase::Stopping) => {}
        }
        drop(waited);
    }

    /// Total time requests of this lane waited, all limiters together.
    pub fn throttled(&self) -> Duration {
        Duration::from_nanos(
            self.counters
                .waits_ns
                .iter()
                .map(|w| w.load(Ordering::Relaxed))
                .sum(),
        )
    }

    /// The lane's counters as run metrics (`throttle_wait_ms/<lane>/<limiter>`,
    /// `rate_limited/<lane>`, `exhausted/<lane>` …), the output tokens
    /// credited back (`credited_tokens/<lane>`), the budgets it was told
    /// (`budget_rpm/<lane>`, `budget_tpm/<lane>`) and the limits it learned
    /// from the provider's headers
    /// (`learned_rpm/<lane>`, `learned_tpm/<lane>`, and Anthropic's
    /// `learned_input_tpm/<lane>` and `learned_output_tpm/<lane>`).
    pub fn metrics(&self) -> Vec<Metric> {
        let c = &self.counters;
        let mut metrics: Vec<Metric> = Limiter::ALL
            .iter()
            .map(|l| Metric {
                name: format!("throttle_wait_ms/{}/{}", self.name, l.name()),
                value: c.waits_ns[*l as usize].load(Ordering::Relaxed) as f64 / 1e6,
                unit: Some("ms".into()),
            })
            .collect();
        for (name, value) in [
            ("attempts", &c.attempts),
            ("rate_limited", &c.rate_limited),
            ("exhausted", &c.exhausted),
            ("retries", &c.retries),
            ("failed_calls", &c.failures),
        ] {
            metrics.push(Metric {
                name: format!("{name}/{}", self.name),
                value: value.load(Ordering::Relaxed) as f64,
                unit: None,
            });
        }
        let credited = self.pacer.credited();
        let output = [Counted::Tokens, Counted::OutputTokens].map(|c| credited[pacer::index(c)]);
        if output.iter().any(|c| *c != 0.0) {
            // Both count the same answers' output: the larger is all of it.
            metrics.push(Metric {
                name: format!("credited_tokens/{}", self.name),
                value: output[0].max(output[1]).round(),
                unit: None,
            });
        }
        let told = [
            ("budget_rpm", self.limits.rpm),
            ("budget_tpm", self.limits.tpm),
        ];
        let learned = LIMITS
            .iter()
            .zip(self.pacer.learned())
            .map(|(counted, rate)| {
                let name = match counted {
                    Counted::Requests => "learned_rpm",
                    Counted::Tokens => "learned_tpm",
                    Counted::InputTokens => "learned_input_tpm",
                    Counted::OutputTokens => "learned_output_tpm",
                };
                (name, rate)
            });
        let rates = told
            .into_iter()
            .map(|(name, v)| (name, v.map(f64::from)))
            .chain(learned);
        for (name, value) in rates {
            if let Some(value) = value {
                metrics.push(Metric {
                    name: format!("{name}/{}", self.name),
                    value: value.round(),
                    unit: Some("1/min".into()),
                });
            }
        }
        metrics
    }
}

/// Adds the time since `since` to a wait counter when dropped, so that a
/// wait cut short counts what was waited.
struct Waited<'a> {
    ns: &'a AtomicU64,
    since: tokio::time::Instant,
}

impl Drop for Waited<'_> {
    fn drop(&mut self) {
        let waited = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.ns.fetch_add(waited, Ordering::Relaxed);
    }
}

/// How long to wait before retry number `retry` (0-based) after `error`:
/// what the provider asked for, else the reset of an exhausted limit on a
/// 429, else exponential backoff with jitter.
pub fn backoff(retry: u32, error: &CallError) -> Duration {
    if let Some(after) = error.limits.retry_after {
        return after.min(MAX_RETRY_AFTER);
    }
    if error.status == Some(429)
        && let Some(reset) = error.limits.exhausted_reset()
    {
        return reset.min(MAX_RETRY_AFTER);
    }
    let exponential = INITIAL_BACKOFF
        .saturating_mul(1u32 << retry.min(16))
        .min(MAX_BACKOFF);
    exponential.mul_f64(1.0 - 0.25 * fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: Option<u16>, limits: RateLimits) -> CallError {
        CallError {
            max_attempts: None,
            not_sent: false,
            message: "x".into(),
            status,
            retryable: true,
            limits: Box::new(limits),
        }
    }

    #[test]
    fn backoff_prefers_what_the_provider_said() {
        let asked = RateLimits {
            retry_after: Some(Duration::from_millis(1500)),
            ..RateLimits::default()
        };
        assert_eq!(
            backoff(0, &error(Some(429), asked)),
            Duration::from_millis(1500)
        );
        let exhausted = RateLimits {
            requests: crate::execute::provider::headers::Quota {
                remaining: Some(0),
                reset: Some(Duration::from_secs(3)),
                ..Default::default()
            },
            ..RateLimits::default()
        };
        assert_eq!(
            backoff(2, &error(Some(429), exhausted.clone())),
            Duration::from_secs(3)
        );
        // A 500 does not read rate-limit resets.
        assert!(backoff(0, &error(Some(500), exhausted)) <= INITIAL_BACKOFF);
    }
    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        for retry in 0..10u32 {
            let wait = backoff(retry, &error(Some(503), RateLimits::default()));
            let full = INITIAL_BACKOFF.saturating_mul(1 << retry).min(MAX_BACKOFF);
            assert!(
                wait <= full && wait >= full.mul_f64(0.75),
                "{retry}: {wait:?}"
            );
        }
    }
}
