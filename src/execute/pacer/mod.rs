//! Pacing one lane: when a request may go out, and what it spends.
//!
//! Four limits are tracked: requests, tokens (input and output together),
//! input tokens and output tokens. Each may have a budget the user told
//! (`rpm`, `tpm`) or one learned from the provider's headers
//! ([`crate::execute::learned`]); a told budget wins. Budgets are spent
//! smoothly ([`crate::execute::budget`]). Beside the budgets, each limit
//! keeps the provider's newest word on it, a gate: what remained when the
//! newest answered request went out, refilled at the provider's rate since,
//! less what this lane sent after it. A request that does not fit waits
//! for its shortfall to refill, never for the whole reset. A 429 pauses
//! everything for the wait it asked.
//!
//! Pure bookkeeping on an injectable clock (governor's clocks: quanta in a
//! run, `FakeRelativeClock` in tests); the lane does the waiting.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};

use crate::execute::budget::{Budget, request_burst};
use crate::execute::learned::{Learner, Period, Sample};
use crate::execute::provider::headers::{Counted, RateLimits};

/// What held a request back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    /// The requests/min budget, told or learned.
    Requests,
    /// A tokens/min budget, told or learned.
    Tokens,
    /// The provider: its headers said a limit was short, or a 429 paused
    /// the lane.
    Provider,
    /// Waiting before a retry (retry-after, or backoff).
    Retry,
}

impl Limiter {
    pub const ALL: [Limiter; 4] = [
        Limiter::Requests,
        Limiter::Tokens,
        Limiter::Provider,
        Limiter::Retry,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Limiter::Requests => "requests",
            Limiter::Tokens => "tokens",
            Limiter::Provider => "provider",
            Limiter::Retry => "retry",
        }
    }
}

/// The limits in the order the pacer keeps them.
pub const LIMITS: [Counted; 4] = [
    Counted::Requests,
    Counted::Tokens,
    Counted::InputTokens,
    Counted::OutputTokens,
];

fn index(counted: Counted) -> usize {
    match counted {
        Counted::Requests => 0,
        Counted::Tokens => 1,
        Counted::InputTokens => 2,
        Counted::OutputTokens => 3,
    }
}

/// What one request is estimated to cost in tokens: its input (the
/// prompt) and its output (`max-tokens`, which providers charge in full
/// when the request is admitted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub input: u32,
    pub output: u32,
}

/// A request let through: when it went, and how much of each limit this
/// lane had sent once it was counted, for reading its answer's headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticket {
    at: f64,
    through: [f64; 4],
    /// The input tokens estimated for it, corrected by its answer.
    input: u32,
}

/// Whether a request may go now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Go(Ticket),
    Wait(Limiter, Duration),
}

/// Sends this long ago are forgotten; a budget learned later counts the
/// sends of its own period, a minute at most.
const LOG_SPAN: f64 = 60.0;
/// At most this many sends remembered per limit.
const LOG_CAP: usize = 4096;

/// The provider's newest word on one limit.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Gate {
    /// When the answered request went out.
    at: f64,
    /// Units this lane had sent through that request.
    through: f64,
    remaining: f64,
    capacity: f64,
    refill: f64,
    /// When the limit is whole again.
    end: f64,
}

impl Gate {
    /// Seconds until `units` more fit, when `sent` units have gone in all.
    fn wait(&self, now: f64, sent: f64, units: f64) -> f64 {
        // Once the limit is whole again the newest answer is stale, and
        // the next one will say more.
        if now >= self.end || units <= 0.0 {
            return 0.0;
        }
        let refilled = (self.remaining + self.refill * (now - self.at)).min(self.capacity);
        let shortfall = units - (refilled - (sent - self.through));
        if shortfall <= 0.0 {
            0.0
        } else if self.refill > 0.0 {
            (shortfall / self.refill).min(self.end - now)
        } else {
            self.end - now
        }
    }
}

/// One limit's budgets, the provider's word on it and what was sent.
#[derive(Debug, Default)]
struct Limit {
    told: Option<Budget>,
    learned: Option<Budget>,
    learner: Learner,
    gate: Option<Gate>,
    sent: f64,
    /// Recent sends (time, units), replayed into a budget learned later so
    /// that what went before it counts.
    log: VecDeque<(f64, f64)>,
}

impl Limit {
    fn budget(&self) -> Option<&Budget> {
        self.told.as_ref().or(self.learned.as_ref())
    }

    /// Counts a send of `units` (none for a limit the request does not
    /// draw on: a zero spend would still move a budget's schedule).
    fn record(&mut self, now: f64, units: f64) {
        if units <= 0.0 {
            return;
        }
        self.sent += units;
        if let Some(budget) = &mut self.told {
            // A told budget is never learned, so its sends need no log.
            budget.spend(now, units);
            return;
        }
        if let Some(budget) = &mut self.learned {
            budget.spend(now, units);
        }
        while self
            .log
            .front()
            .is_some_and(|(t, _)| *t < now - LOG_SPAN || self.log.len() >= LOG_CAP)
        {
            self.log.pop_front();
        }
        self.log.push_back((now, units));
    }

    fn observe(&mut self, sample: Sample, through: f64, requests: bool) {
        self.learner.observe(sample);
        if self.gate.is_none_or(|g| g.at <= sample.at) {
            self.gate = Some(Gate {
                at: sample.at,
                through,
                remaining: sample.remaining.min(sample.limit) as f64,
                capacity: self.learner.capacity(&sample),
                refill: self.learner.refill_per_second(&sample),
                end: sample.at + sample.reset,
            });
        }
        if self.told.is_none() {
            self.relearn(requests);
        }
    }

    /// Follows the learned rate: a lower one from now on, a higher one
    /// replayed over the recent sends (so that sends made before a limit
    /// was known count, and a rate learned too low at first does not hold
    /// the lane back once corrected).
    fn relearn(&mut self, requests: bool) {
        let Some(rate) = self.learner.per_minute() else {
            self.learned = None;
            return;
        };
        let burst = if requests { request_burst(rate) } else { 1 };
        match &mut self.learned {
            Some(b) if (b.per_minute() - rate).abs() <= rate * 1e-3 => {}
            Some(b) if rate < b.per_minute() => b.set_rate(rate, burst),
            _ => {
                let span = match self.learner.period() {
                    Some(Period::Window(secs)) => secs,
                    _ => LOG_SPAN,
                };
                let newest = self.log.back().map_or(0.0, |(t, _)| *t);
                let mut budget = Budget::new(rate, burst);
                for &(t, units) in self.log.iter().filter(|(t, _)| *t > newest - span) {
                    budget.spend(t, units);
                }
                self.learned = Some(budget);
            }
        }
    }
}

#[derive(Debug, Default)]
struct State {
    limits: [Limit; 4],
    /// No request before this time (a 429 asked for a pause).
    paused_until: f64,
    /// Input tokens over-charged so far (estimate less what answers
    /// reported), taken off later charges; negative is a debt. Output
    /// tokens are charged at `max-tokens` and never credited: providers
    /// count the whole of it when they admit a request.
    balance: f64,
}

impl State {
    /// What a request of `cost` is charged on each limit, and the credit
    /// it uses.
    fn charges(&self, cost: Cost) -> ([f64; 4], f64) {
        let input = (f64::from(cost.input) - self.balance).max(0.0);
        let output = f64::from(cost.output);
        (
            [1.0, input + output, input, output],
            f64::from(cost.input) - input,
        )
    }
}

/// The pacing of one lane.
#[derive(Debug)]
pub struct Pacer<C: Clock = DefaultClock> {
    clock: C,
    origin: C::Instant,
    state: Mutex<State>,
}

impl Pacer<DefaultClock> {
    /// A pacer with the budgets the user told, if any.
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> Pacer {
        Pacer::with_clock(rpm, tpm, DefaultClock::default())
    }
}

impl<C: Clock> Pacer<C> {
    pub fn with_clock(rpm: Option<u32>, tpm: Option<u32>, clock: C) -> Pacer<C> {
        let mut state = State::default();
        if let Some(rpm) = rpm.filter(|r| *r > 0).map(f64::from) {
            state.limits[0].told = Some(Budget::new(rpm, request_burst(rpm)));
        }
        if let Some(tpm) = tpm.filter(|t| *t > 0).map(f64::from) {
            state.limits[1].told = Some(Budget::new(tpm, 1));
        }
        Pacer {
            origin: clock.now(),
            clock,
            state: Mutex::new(state),
        }
    }

    fn now(&self) -> f64 {
        Duration::from(self.clock.now().duration_since(self.origin)).as_secs_f64()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets a request of `cost` go now, spending its budgets, or says what
    /// it waits for and how long (the longest of the waits).
    pub fn decide(&self, cost: Cost) -> Decision {
        let now = self.now();
        let mut state = self.lock();
        if state.paused_until > now {
            return Decision::Wait(Limiter::Provider, secs(state.paused_until - now));
        }
        let (charged, credit) = state.charges(cost);
        let mut longest = (Limiter::Requests, 0.0);
        for (i, limit) in state.limits.iter().enumerate() {
            if charged[i] <= 0.0 {
                continue;
            }
            let budget = if i == 0 {
                Limiter::Requests
            } else {
                Limiter::Tokens
            };
            let waits = [
                (budget, limit.budget().map_or(0.0, |b| b.wait(now))),
                (
                    Limiter::Provider,
                    limit
                        .gate
                        .map_or(0.0, |g| g.wait(now, limit.sent, charged[i])),
                ),
            ];
            for (limiter, wait) in waits {
                if wait > longest.1 {
                    longest = (limiter, wait);
                }
            }
        }
        if longest.1 > 0.0 {
            return Decision::Wait(longest.0, secs(longest.1));
        }
        state.balance -= credit;
        let mut through = [0.0; 4];
        for (i, limit) in state.limits.iter_mut().enumerate() {
            limit.record(now, charged[i]);
            through[i] = limit.sent;
        }
        Decision::Go(Ticket {
            at: now,
            through,
            input: cost.input,
        })
    }

    /// Reads what the answer to `ticket` (an answer or a refusal) said
    /// about the provider's limits, and `input_tokens`, the input it
    /// counted, when the answer says.
    pub fn observe(&self, ticket: &Ticket, limits: &RateLimits, input_tokens: Option<u64>) {
        let now = self.now();
        let mut state = self.lock();
        if let Some(actual) = input_tokens {
            state.balance += f64::from(ticket.input) - actual as f64;
        }
        // Anthropic states its input and output limits beside a combined
        // one that is whichever of them is tighter: the two are paced on
        // their own, and the combined one, which changes meaning as they
        // do, is not learned from.
        let split = limits.input_tokens.limit.is_some() || limits.output_tokens.limit.is_some();
        for (quota, counted) in limits.quotas() {
            let (Some(limit), Some(remaining), Some(reset)) =
                (quota.limit, quota.remaining, quota.reset)
            else {
                continue;
            };
            if counted == Counted::Tokens && split {
                continue;
            }
            let late = if quota.reset_from_arrival {
                now - ticket.at
            } else {
                0.0
            };
            let i = index(counted);
            let limit_state = &mut state.limits[i];
            let sample = Sample {
                at: ticket.at,
                limit,
                remaining,
                reset: reset.as_secs_f64() + late,
                sent: limit_state.sent,
            };
            limit_state.observe(sample, ticket.through[i], i == 0);
        }
    }

    /// No request goes for `wait` from now (the provider refused one).
    pub fn pause(&self, wait: Duration) {
        let until = self.now() + wait.as_secs_f64();
        let mut state = self.lock();
        state.paused_until = state.paused_until.max(until);
    }

    /// The per-minute rate each limit was learned at, in [`LIMITS`] order.
    pub fn learned(&self) -> [Option<f64>; 4] {
        let state = self.lock();
        std::array::from_fn(|i| state.limits[i].learner.per_minute())
    }
}

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

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod simulation;

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;
    use crate::execute::provider::headers::Quota;

    /// One request answered with `limit`, `remaining` and `reset` for
    /// requests; what the pacer then says of the next one.
    fn after_headers(limit: u64, remaining: u64, reset: Duration) -> Decision {
        let pacer = Pacer::with_clock(None, None, FakeRelativeClock::default());
        let cost = Cost {
            input: 10,
            output: 10,
        };
        let Decision::Go(ticket) = pacer.decide(cost) else {
            panic!("the first request waits");
        };
        let limits = RateLimits {
            requests: Quota {
                limit: Some(limit),
                remaining: Some(remaining),
                reset: Some(reset),
                reset_from_arrival: false,
            },
            ..RateLimits::default()
        };
        pacer.observe(&ticket, &limits, Some(10));
        pacer.decide(cost)
    }

    #[test]
    fn a_day_long_reset_is_refused_not_slept() {
        let day = Duration::from_secs(86_400);
        let max = Duration::from_secs(300);
        let Decision::Wait(limiter, wait) = after_headers(1, 0, day) else {
            panic!("the spent limit let a request through");
        };
        let stalled = ceiling(limiter, wait, max).unwrap_err();
        assert!(stalled.wait > Duration::from_secs(86_000), "{stalled:?}");
        let message = stalled.to_string();
        assert!(
            message.contains("longer than [limits] max-wait (300 s (5.0 min))"),
            "{message}"
        );
        assert!(message.contains("(24.0 h)"), "{message}");
    }

    #[test]
    fn waits_within_the_ceiling_pass_and_endless_ones_read_plainly() {
        let max = Duration::from_secs(300);
        let minute = Duration::from_secs(60);
        assert_eq!(ceiling(Limiter::Requests, minute, max), Ok(minute));
        assert_eq!(ceiling(Limiter::Requests, max, max), Ok(max));
        let endless = ceiling(Limiter::Tokens, Duration::MAX, max).unwrap_err();
        assert!(endless.to_string().contains("for longer than anyone waits"));
    }
}
