//! Pacing one lane: when a request may go out, and what it spends.
//!
//! Four limits are tracked: requests, tokens (input and output together),
//! input tokens and output tokens. Each may have a budget the user told
//! (`rpm`, `tpm`) or one learned from the provider's headers
//! ([`learned`]); a told budget wins. Budgets are spent
//! smoothly ([`budget`]). Beside the budgets, each limit
//! keeps the provider's newest word on it, a gate: what remained when the
//! newest answer was counted, refilled at the provider's rate since, less
//! what this lane sent that the provider had not counted yet. A request
//! that does not fit waits for its shortfall to refill, never for the
//! whole reset. A 429 pauses everything for the wait it asked, and gives
//! the refused request's tokens back to the budgets (the provider counted
//! none of them).
//!
//! A request is charged its estimated input and its output reservation:
//! `max-tokens`, or without one a high percentile of the answers seen
//! ([`completions`]). Whether the provider counts that reservation or the
//! tokens the answer used is read off its headers ([`accounting`], with
//! [`tally`] for what went close together); a provider that counts usage
//! is charged what the answers need (the percentile, at most
//! `max-tokens`) and gets the unused part back as each answer arrives, on
//! the budgets and on the gate alike.
//!
//! Pure bookkeeping on an injectable clock (`clock.rs`: the monotonic
//! clock in a run, a hand-moved one in tests); the lane does the waiting.

mod accounting;
mod budget;
mod ceiling;
mod clock;
mod completions;
mod gate;
mod learned;
mod tally;

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use self::accounting::Accounting;
use self::accounting::{Evidence, Prediction};
use self::completions::Completions;
use self::gate::Gate;
use self::tally::Tally;
use crate::execute::provider::headers::{Counted, Quota, RateLimits};
use budget::{Budget, request_burst};
pub use ceiling::ceiling;
use clock::{Clock, Monotonic};
use learned::{Learner, Period, Sample};

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

/// Where `counted` is in [`LIMITS`].
pub fn index(counted: Counted) -> usize {
    match counted {
        Counted::Requests => 0,
        Counted::Tokens => 1,
        Counted::InputTokens => 2,
        Counted::OutputTokens => 3,
    }
}

/// What one request is estimated to cost in tokens: its input (the
/// prompt) and the most its answer may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub input: u32,
    /// `max-tokens`, which a provider that charges at admission counts in
    /// full; `None` when the request sets none, and the pacer reserves
    /// what the answers so far have needed.
    pub output: Option<u32>,
}

/// The tokens an answer says it used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Used {
    pub input: u64,
    pub output: u64,
}

impl Used {
    /// Units of each limit, in [`LIMITS`] order.
    fn units(self) -> [f64; 4] {
        let (input, output) = (self.input as f64, self.output as f64);
        [1.0, input + output, input, output]
    }
}

/// A request let through: when it went, and how much of each limit this
/// lane had sent once it was counted, for reading its answer's headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ticket {
    at: f64,
    through: [f64; 4],
    /// What it was charged on each limit.
    charged: [f64; 4],
    /// What it is expected to use of each limit (its output at most what
    /// the answers seen used on average).
    expected: [f64; 4],
    /// The input tokens estimated for it, corrected by its answer.
    input: u32,
    /// The output tokens reserved for it on each limit.
    reserved: [f64; 4],
}

/// Whether a request may go now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Go(Ticket),
    Wait(Limiter, Duration),
}

/// A lane told no budget starts slowly: it sends one request and waits
/// for its answer, the provider's first word on its limits, and then keeps
/// at most twice as many requests in flight as answers came back, until
/// the headers show how long a limit's period is (or this long after the
/// first request): a burst of `concurrency` requests into limits not yet
/// known could overflow a small window, and a limit stated per minute
/// with nothing yet spent says nothing about the bucket behind it.
const FIRST_ANSWER_WAIT: f64 = 2.0;

/// A credit the budget's schedule cannot take back at once is taken off
/// the next charges, up to this many requests' charges: enough for the
/// answers that come between two sends, too little for a burst.
const CREDIT_CARRIED: f64 = 2.0;

/// Sends this long ago are forgotten; a budget learned later counts the
/// sends of its own period, a minute at most.
const LOG_SPAN: f64 = 60.0;
/// At most this many sends remembered per limit.
const LOG_CAP: usize = 4096;

/// One answer's figures for a limit, and what the lane learned of it.
#[derive(Debug, Clone, Copy)]
struct Figures {
    remaining: f64,
    /// Seconds until the limit is whole again.
    reset: f64,
    capacity: f64,
}

/// An answered request as one limit counted it.
#[derive(Debug, Clone, Copy)]
struct Answered {
    /// When it went.
    sent: f64,
    /// What the lane had sent through it (its own input as counted).
    through: f64,
    /// What it was charged, and what its answer used.
    charged: f64,
    used: f64,
    /// How much more input it was charged than its answer counted.
    overcharged: f64,
}

/// One limit's budgets, the provider's word on it and what was sent.
#[derive(Debug, Default)]
struct Limit {
    told: Option<Budget>,
    learned: Option<Budget>,
    learner: Learner,
    /// The newest figures, read as a provider counting at admission does.
    gate: Option<Gate>,
    /// The same figures, read as a provider counting at admission that
    /// states them as it answers.
    answer_gate: Option<Gate>,
    /// The same figures, read as a provider counting usage does.
    usage_gate: Option<Gate>,
    /// Units charged when sent, reservations in full.
    sent: f64,
    /// Units the answers so far used.
    settled: f64,
    /// `sent` and `settled` over time, for the units sent or answered
    /// close to a moment.
    sends: Tally,
    answers: Tally,
    /// Units the requests in flight are expected to use.
    in_flight: f64,
    /// Output tokens credited back that the budget's schedule could not
    /// take back (it was not that far ahead): taken off the next charges.
    credit: f64,
    /// When the first unit went: a limit at rest before it.
    first_sent: Option<f64>,
    evidence: Evidence,
    /// Recent sends (time, units; a credit is negative), replayed into a
    /// budget learned later so that what went before it counts.
    log: VecDeque<(f64, f64)>,
}

impl Limit {
    fn budget(&self) -> Option<&Budget> {
        self.told.as_ref().or(self.learned.as_ref())
    }

    fn accounting(&self) -> Accounting {
        self.evidence.accounting()
    }

    /// Seconds until a request charged `charged` units, expected to use
    /// `expected`, fits the provider's newest figures, read the way it
    /// counts: the charge at admission, or what answers use on completion.
    fn gate_wait(&self, now: f64, charged: f64, expected: f64) -> f64 {
        match self.accounting() {
            Accounting::Admission => self
                .gate
                .map_or(0.0, |g| g.wait(now, self.sent - g.through, charged)),
            Accounting::Usage => self.usage_gate.map_or(0.0, |g| {
                g.wait(now, self.settled - g.through + self.in_flight, expected)
            }),
        }
    }

    /// Counts a send of `units` (none for a limit the request does not
    /// draw on: a zero spend would still move a budget's schedule), less
    /// the credit it can use.
    fn record(&mut self, now: f64, units: f64, expected: f64) {
        if units <= 0.0 {
            return;
        }
        self.sent += units;
        self.sends.add(now, self.sent);
        self.in_flight += expected;
        self.first_sent.get_or_insert(now);
        let from_credit = self.credit.min(units);
        self.credit -= from_credit;
        self.spend(now, units - from_credit);
    }

    /// Gives back `units` an answer did not use (spends them when
    /// negative): the budget's schedule moves back as far as it is ahead
    /// of now, and the rest is taken off the next charges, at most `most`
    /// of it (a larger credit would let a burst through at once). Before
    /// any budget, the log a budget learned later replays takes it.
    fn credit(&mut self, now: f64, units: f64, most: f64) {
        if units <= 0.0 {
            self.spend(now, -units);
            return;
        }
        let Some(budget) = self.told.as_mut().or(self.learned.as_mut()) else {
            // No budget yet: one learned later replays the log, where the
            // credit takes back what was spent before it.
            self.log_spend(now, -units);
            return;
        };
        let back = budget.refund(now, units);
        if back > 0.0 && self.told.is_none() {
            self.log_spend(now, -back);
        }
        self.credit = (self.credit + units - back).min(most);
    }

    /// Spends `units` on the budget (a refund when negative), keeping the
    /// log a budget learned later replays.
    fn spend(&mut self, now: f64, units: f64) {
        if let Some(budget) = &mut self.told {
            // A told budget is never learned, so its sends need no log.
            budget.spend(now, units);
            return;
        }
        if let Some(budget) = &mut self.learned {
            budget.spend(now, units);
        }
        self.log_spend(now, units);
    }

    /// Keeps a spend in the log a budget learned later replays.
    fn log_spend(&mut self, now: f64, units: f64) {
        while self
            .log
            .front()
            .is_some_and(|(t, _)| *t < now - LOG_SPAN || self.log.len() >= LOG_CAP)
        {
            self.log.pop_front();
        }
        self.log.push_back((now, units));
    }

    /// The answer to `ticket` came at `now`, with `used` units when it
    /// says so (none for a refusal or a failure).
    fn settle(&mut self, now: f64, expected: f64, used: Option<f64>) {
        self.in_flight = (self.in_flight - expected).max(0.0);
        if let Some(used) = used {
            self.settled += used;
            self.answers.add(now, self.settled);
        }
    }

    /// Reads one answer's figures: learns from them, weighs how the
    /// provider counts (when the answer says what it used, and the limit
    /// counts output), and keeps them as the newest word, read both ways.
    fn observe(&mut self, sample: Sample, now: f64, ticket: &Ticket, i: usize, used: Option<Used>) {
        self.learner.observe(sample);
        let capacity = self.learner.capacity(&sample);
        let refill = self.learner.refill_per_second(&sample);
        let remaining = sample.remaining.min(sample.limit) as f64;
        let output = i == index(Counted::Tokens) || i == index(Counted::OutputTokens);
        let answer = used.map_or(0.0, |u| u.units()[i]);
        if let Some(used) = used.filter(|_| output && remaining > 0.0) {
            // Its own input as the answer counted it, not as estimated.
            let input = if i == index(Counted::Tokens) {
                ticket.charged[2] - used.input as f64
            } else {
                0.0
            };
            let figures = Figures {
                remaining,
                reset: sample.reset,
                capacity,
            };
            let answered = Answered {
                sent: ticket.at,
                through: ticket.through[i] - input,
                charged: ticket.charged[i],
                used: answer,
                overcharged: input,
            };
            self.weigh(figures, now, answered);
        }
        let newest = |at: f64, through: f64, own: f64, ahead: f64| Gate {
            at,
            through,
            own,
            remaining,
            capacity,
            refill,
            ahead,
            end: sample.at + sample.reset,
        };
        if self.gate.is_none_or(|g| g.at <= ticket.at) {
            self.gate = Some(newest(ticket.at, ticket.through[i], ticket.charged[i], 0.0));
        }
        self.answer_gate = Some(newest(now, self.sent, 0.0, 0.0));
        // The requests in flight went out over the last latency, so they
        // settle over the next one: on average half of it from now.
        self.usage_gate = Some(newest(now, self.settled, answer, (now - ticket.at) / 2.0));
        if self.told.is_none() {
            self.relearn(LIMITS[i]);
        }
    }

    /// One answer's vote on how the provider counts: its figures against
    /// what each way predicts from the previous answer's (or from a limit
    /// at rest before the first), for the request `answered`, whose answer
    /// came at `now`.
    fn weigh(&mut self, figures: Figures, now: f64, answered: Answered) {
        let Figures {
            remaining,
            reset,
            capacity,
        } = figures;
        let Answered {
            sent,
            through,
            charged,
            used,
            ..
        } = answered;
        if let Some(Period::Window(window)) = self.learner.period()
            && let Some((admission, usage)) = self.in_window(window, capacity, now, answered)
        {
            self.evidence.weigh(remaining, &admission, usage);
            return;
        }
        // Before its first answer a limit was whole. What refilled since
        // the first send is at most what was counted, and no faster than
        // the reset says the rest comes back (a limit already whole again
        // says nothing of how fast).
        let elapsed = now - self.first_sent.unwrap_or(now);
        let at_rest = |counted: f64, (below, above): (f64, f64)| {
            let refill = if reset > 0.0 && remaining < capacity {
                ((capacity - remaining) * elapsed / reset).min(counted)
            } else {
                counted
            };
            Prediction {
                expected: capacity - counted,
                below,
                above: above + refill,
            }
        };
        let mut admission = Vec::with_capacity(2);
        match self.gate {
            Some(g) if g.at <= sent => {
                let order = order(&self.sends, Some((g.at, g.own)), (sent, charged));
                admission.push(g.predict(sent, through - g.through, order));
            }
            // An answer overtaken by a later request's says nothing new.
            Some(_) => {}
            None => admission.push(at_rest(through, order(&self.sends, None, (sent, charged)))),
        }
        admission.push(match self.answer_gate {
            Some(g) => {
                let order = order(&self.sends, Some((g.at, 0.0)), (now, 0.0));
                g.predict(now, self.sent - g.through, order)
            }
            None => at_rest(self.sent, order(&self.sends, None, (now, 0.0))),
        });
        let usage = match self.usage_gate {
            Some(g) => {
                let order = order(&self.answers, Some((g.at, g.own)), (now, used));
                g.predict(now, self.settled - g.through, order)
            }
            None => at_rest(self.settled, order(&self.answers, None, (now, used))),
        };
        self.evidence.weigh(remaining, &admission, usage);
    }

    /// A limit stated per window holds what went in the last `window`
    /// seconds, nothing older: each way of counting predicts `remaining`
    /// from the units it counts in the window before the figures, with no
    /// refill to assume, only the order of what went close to either end.
    /// `None` when the lane no longer remembers the whole window.
    fn in_window(
        &self,
        window: f64,
        capacity: f64,
        now: f64,
        answered: Answered,
    ) -> Option<([Prediction; 2], Prediction)> {
        let predict = |tally: &Tally, at: f64, own: f64| {
            let counted = tally.within(at, window)?;
            let (below, above) = order(tally, Some((at - window, 0.0)), (at, own));
            Some(Prediction {
                expected: capacity - counted,
                below,
                above,
            })
        };
        let mut at_send = predict(&self.sends, answered.sent, answered.charged)?;
        // Its own input as the answer counted it, not as estimated.
        at_send.expected += answered.overcharged;
        Some((
            [at_send, predict(&self.sends, now, 0.0)?],
            predict(&self.answers, now, answered.used)?,
        ))
    }

    /// Follows the learned rate: a lower one from now on, a higher one
    /// replayed over the recent sends (so that sends made before a limit
    /// was known count, and a rate learned too low at first does not hold
    /// the lane back once corrected).
    fn relearn(&mut self, counted: Counted) {
        let Some(rate) = self.learner.per_minute() else {
            self.learned = None;
            return;
        };
        let burst = if counted == Counted::Requests {
            request_burst(rate)
        } else {
            1
        };
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
    /// reported), taken off later charges; negative is a debt.
    balance: f64,
    completions: Completions,
    /// Output tokens credited back so far, on each limit.
    credited: [f64; 4],
    /// When the first request went, how many answers came back since, and
    /// how many requests are in flight.
    first_sent: Option<f64>,
    answers: u64,
    in_flight: u64,
}

impl State {
    /// What a request of `cost` is charged on each limit, what it is
    /// expected to use, its output reservation, and the input credit it
    /// uses.
    fn charges(&self, cost: Cost) -> Charges {
        let input = (f64::from(cost.input) - self.balance).max(0.0);
        let needed = f64::from(self.completions.reserve());
        // A provider counting usage counts what answers use, whatever
        // `max-tokens` allows: what they have needed is reserved there.
        let reserve =
            |counted: Counted| match (cost.output, self.limits[index(counted)].accounting()) {
                (Some(max), Accounting::Usage) => f64::from(max).min(needed),
                (Some(max), Accounting::Admission) => f64::from(max),
                (None, _) => needed,
            };
        let (tokens, output) = (reserve(Counted::Tokens), reserve(Counted::OutputTokens));
        let mean = f64::from(self.completions.mean());
        Charges {
            charged: [1.0, input + tokens, input, output],
            expected: [1.0, input + tokens.min(mean), input, output.min(mean)],
            reserved: [0.0, tokens, 0.0, output],
            credit: f64::from(cost.input) - input,
        }
    }

    /// While a lane told no budget starts (see [`FIRST_ANSWER_WAIT`]) and
    /// may not send another request at `now`: until when it waits, unless
    /// an answer comes first.
    fn starting(&self, now: f64) -> Option<f64> {
        let until = self.start_ends(now)?;
        let room = (2 * self.answers).max(1);
        (self.in_flight >= room).then_some(until)
    }

    /// When the start of a lane told no budget ends, while it lasts.
    fn start_ends(&self, now: f64) -> Option<f64> {
        let until = self.first_sent? + FIRST_ANSWER_WAIT;
        let told = self.limits.iter().any(|l| l.told.is_some());
        let known = self.limits.iter().any(|l| l.learner.period().is_some());
        (!told && !known && now < until).then_some(until)
    }
}

/// What one request is charged: see [`State::charges`].
struct Charges {
    charged: [f64; 4],
    expected: [f64; 4],
    reserved: [f64; 4],
    credit: f64,
}

/// The pacing of one lane.
#[derive(Debug)]
pub struct Pacer<C: Clock = Monotonic> {
    clock: C,
    origin: Duration,
    state: Mutex<State>,
}

impl Pacer<Monotonic> {
    /// A pacer with the budgets the user told, if any.
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> Pacer {
        Pacer::with_clock(rpm, tpm, Monotonic::default())
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
        self.clock.now().saturating_sub(self.origin).as_secs_f64()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the suite's answers needed on main (the 95th percentile of
    /// their completion tokens): reserved for a request without
    /// `max-tokens` until this run's own answers say.
    pub fn expect_completions(&self, p95: u32) {
        self.lock().completions.set_prior(p95);
    }

    /// Lets a request of `cost` go now, spending its budgets, or says what
    /// it waits for and how long (the longest of the waits).
    pub fn decide(&self, cost: Cost) -> Decision {
        let now = self.now();
        let mut state = self.lock();
        if state.paused_until > now {
            return Decision::Wait(Limiter::Provider, secs(state.paused_until - now));
        }
        if let Some(until) = state.starting(now) {
            return Decision::Wait(Limiter::Requests, secs(until - now));
        }
        let charges = state.charges(cost);
        let mut longest = (Limiter::Requests, 0.0);
        for (i, limit) in state.limits.iter().enumerate() {
            if charges.charged[i] <= 0.0 {
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
                    limit.gate_wait(now, charges.charged[i], charges.expected[i]),
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
        state.balance -= charges.credit;
        state.first_sent.get_or_insert(now);
        state.in_flight += 1;
        let mut through = [0.0; 4];
        for (i, limit) in state.limits.iter_mut().enumerate() {
            limit.record(now, charges.charged[i], charges.expected[i]);
            through[i] = limit.sent;
        }
        Decision::Go(Ticket {
            at: now,
            through,
            charged: charges.charged,
            expected: charges.expected,
            input: cost.input,
            reserved: charges.reserved,
        })
    }

    /// Reads what the answer to `ticket` (an answer, a refusal or a
    /// failure) said about the provider's limits, and `used`, the tokens
    /// it counted, when the answer says. Returns whether requests waiting
    /// may go sooner: the lane is starting (see [`FIRST_ANSWER_WAIT`]), or
    /// tokens were credited back.
    pub fn observe(&self, ticket: &Ticket, limits: &RateLimits, used: Option<Used>) -> bool {
        let now = self.now();
        let mut guard = self.lock();
        let state = &mut *guard;
        // While the lane starts, every answer lets more go.
        let first = state.start_ends(now).is_some();
        state.answers += 1;
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some(used) = used {
            state.balance += f64::from(ticket.input) - used.input as f64;
            state.completions.observe(used.output);
        }
        let units = used.map(Used::units);
        for (i, limit) in state.limits.iter_mut().enumerate() {
            if ticket.charged[i] > 0.0 {
                limit.settle(now, ticket.expected[i], units.map(|u| u[i]));
            }
        }
        // Anthropic states its input and output limits beside a combined
        // one that is whichever of them is tighter: the two are paced on
        // their own, and the combined one, which changes meaning as they
        // do, is not learned from.
        let split = limits.input_tokens.limit.is_some() || limits.output_tokens.limit.is_some();
        for (quota, counted) in limits.quotas() {
            if counted == Counted::Tokens && split {
                continue;
            }
            let i = index(counted);
            let Some(sample) = sample(quota, ticket, now, &state.limits[i]) else {
                continue;
            };
            state.limits[i].observe(sample, now, ticket, i, used);
        }
        let Some(used) = used else {
            return first;
        };
        let mut credited = first;
        for i in [index(Counted::Tokens), index(Counted::OutputTokens)] {
            let limit = &mut state.limits[i];
            if ticket.charged[i] <= 0.0 || limit.accounting() != Accounting::Usage {
                continue;
            }
            // The unused reservation back; an answer longer than it was
            // reserved for is a debt, spent now.
            let credit = ticket.reserved[i] - used.output as f64;
            limit.credit(now, credit, CREDIT_CARRIED * ticket.charged[i]);
            state.credited[i] += credit;
            credited |= credit > 0.0;
        }
        credited
    }

    /// The provider refused the request of `ticket` (a 429): it counted
    /// none of its tokens, so the token budgets get them back, and the
    /// retry is not charged twice. Its request still counts.
    pub fn refused(&self, ticket: &Ticket) {
        let now = self.now();
        let mut state = self.lock();
        for i in [
            index(Counted::Tokens),
            index(Counted::InputTokens),
            index(Counted::OutputTokens),
        ] {
            let units = ticket.charged[i];
            if units > 0.0 {
                state.limits[i].credit(now, units, CREDIT_CARRIED * units);
            }
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

    /// How the provider was found to count each limit, in [`LIMITS`] order.
    #[cfg(test)]
    pub fn accounting(&self) -> [Accounting; 4] {
        let state = self.lock();
        std::array::from_fn(|i| state.limits[i].accounting())
    }

    /// Output tokens credited back on each limit, in [`LIMITS`] order
    /// (negative for answers longer than reserved).
    pub fn credited(&self) -> [f64; 4] {
        self.lock().credited
    }
}

/// One quota of an answer as a learner's sample, on the lane's clock: the
/// figures count from when the request went out, or for a limit read as
/// counting usage, from when the answer came.
fn sample(quota: &Quota, ticket: &Ticket, now: f64, limit: &Limit) -> Option<Sample> {
    let (Some(limit_units), Some(remaining), Some(reset)) =
        (quota.limit, quota.remaining, quota.reset)
    else {
        return None;
    };
    let counted_at = if limit.accounting() == Accounting::Usage {
        now
    } else {
        ticket.at
    };
    let late = if quota.reset_from_arrival {
        now - counted_at
    } else {
        0.0
    };
    Some(Sample {
        at: counted_at,
        limit: limit_units,
        remaining,
        reset: reset.as_secs_f64() + late,
        sent: limit.sent,
        resolution: quota.reset_resolution.as_secs_f64(),
    })
}

/// How many fewer (below) and more (above) units of `tally` the server
/// may have counted between two moments than this lane did: those that
/// went close to either, each `(time, own)` where `own` is what the moment
/// itself added. `from` is `None` for a limit at rest before.
fn order(tally: &Tally, from: Option<(f64, f64)>, to: (f64, f64)) -> (f64, f64) {
    // Just before the end: counted here, perhaps not yet by the server.
    let (mut below, mut above) = (tally.after(to.0), tally.before(to.0, to.1));
    if let Some((at, own)) = from {
        // Just before the start: perhaps counted by the server only after
        // it, so inside; just after it: perhaps counted already.
        below += tally.before(at, own);
        above += tally.after(at);
    }
    (below, above)
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod simulation;

#[cfg(test)]
mod tests;
