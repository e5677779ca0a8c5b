//! The pacer against simulated providers, on a fake clock: a lane of
//! `concurrency` slots sends `cases` requests, each answered after a fixed
//! latency (a refusal at once), and every answer's headers go back into
//! the pacer. Each provider enforces one way a per-minute limit is
//! enforced in practice and reports it in its own dialect; the checks are
//! counts (refusals, answers) and the fake clock's times, never wall time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use governor::clock::FakeRelativeClock;

use super::{Cost, Decision, Pacer, Ticket};
use crate::execute::budget::tests::busiest;
use crate::execute::provider::headers::{Quota, RateLimits};

/// What a simulated provider charges one request: one request, and the
/// input and output tokens it counts (output is `max-tokens`).
const INPUT: u64 = 8;
const OUTPUT: u64 = 16;
/// What the lane estimates: its prompt estimate is 5 tokens high, which the
/// answers' reported input corrects.
const COST: Cost = Cost {
    input: 13,
    output: 16,
};

fn quota(limit: f64, remaining: f64, reset: f64) -> Quota {
    Quota {
        limit: Some(limit as u64),
        remaining: Some(remaining.max(0.0).floor() as u64),
        reset: Some(Duration::from_secs_f64(reset.max(0.0))),
        reset_from_arrival: false,
    }
}

/// An answer: the headers it carried and, for a refusal, the wait it
/// asked for.
struct Answer {
    limits: RateLimits,
    refused: Option<f64>,
}

impl Answer {
    fn of(limits: RateLimits, outcome: Result<(), f64>) -> Answer {
        Answer {
            limits,
            refused: outcome.err(),
        }
    }
}

trait Provider {
    /// Admits a request at `now` (seconds) or refuses it.
    fn admit(&mut self, now: f64) -> Answer;
}

/// At most `per_window` requests in any window of `window` seconds; the
/// headers describe the window, the reset is the time until it clears.
struct Sliding {
    per_window: usize,
    window: f64,
    log: VecDeque<f64>,
}

impl Provider for Sliding {
    fn admit(&mut self, now: f64) -> Answer {
        while self.log.front().is_some_and(|t| t + self.window <= now) {
            self.log.pop_front();
        }
        let limit = self.per_window as f64;
        if self.log.len() >= self.per_window {
            let oldest = self.log[0];
            let newest = self.log[self.log.len() - 1];
            let limits = RateLimits {
                requests: quota(limit, 0.0, newest + self.window - now),
                ..RateLimits::default()
            };
            return Answer::of(limits, Err(oldest + self.window - now));
        }
        self.log.push_back(now);
        let limits = RateLimits {
            requests: quota(limit, limit - self.log.len() as f64, self.window),
            ..RateLimits::default()
        };
        Answer::of(limits, Ok(()))
    }
}

/// A bucket refilled continuously at `per_minute / 60` a second, up to
/// `capacity`; its headers state the per-minute figure with what the bucket
/// holds as `remaining` (the mock provider's minute scale), or, when
/// `relative`, hold the whole minute as real OpenAI and Groq buckets do.
#[derive(Clone)]
struct Bucket {
    per_minute: f64,
    capacity: f64,
    level: f64,
    updated: f64,
}

impl Bucket {
    fn new(per_minute: f64, capacity: f64) -> Bucket {
        Bucket {
            per_minute,
            capacity,
            level: capacity,
            updated: 0.0,
        }
    }

    fn rate(&self) -> f64 {
        self.per_minute / 60.0
    }

    /// Seconds until `cost` fits at `now` (refilling first).
    fn wait(&mut self, now: f64, cost: f64) -> f64 {
        self.level = (self.level + (now - self.updated) * self.rate()).min(self.capacity);
        self.updated = now;
        ((cost - self.level) / self.rate()).max(0.0)
    }

    fn quota(&self, stated: f64) -> Quota {
        quota(
            stated,
            self.level,
            (self.capacity - self.level) / self.rate(),
        )
    }
}

/// Charges `cost` to every bucket that has room for it, or refuses with the
/// longest wait. `stated` is what the headers call each bucket's limit.
fn charge(buckets: &mut [(&mut Bucket, f64)], now: f64) -> Result<(), f64> {
    let wait = buckets
        .iter_mut()
        .map(|(b, cost)| b.wait(now, *cost))
        .fold(0.0, f64::max);
    if wait > 0.0 {
        return Err(wait);
    }
    for (b, cost) in buckets.iter_mut() {
        b.level -= *cost;
    }
    Ok(())
}

/// OpenAI-style buckets of a second's capacity, minute-scale headers: a
/// requests limit, a tokens limit, or both.
struct Buckets {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
}

impl Provider for Buckets {
    fn admit(&mut self, now: f64) -> Answer {
        let tokens = (INPUT + OUTPUT) as f64;
        let mut all: Vec<(&mut Bucket, f64)> = self
            .requests
            .iter_mut()
            .map(|b| (b, 1.0))
            .chain(self.tokens.iter_mut().map(|b| (b, tokens)))
            .collect();
        let outcome = charge(&mut all, now);
        let limits = RateLimits {
            requests: self
                .requests
                .as_ref()
                .map_or_else(Quota::default, |b| b.quota(b.per_minute)),
            tokens: self
                .tokens
                .as_ref()
                .map_or_else(Quota::default, |b| b.quota(b.per_minute)),
            ..RateLimits::default()
        };
        Answer::of(limits, outcome)
    }
}

/// The whole minute's limit given back at each wall-clock minute; the
/// clock starts `phase` seconds into a minute.
struct Fixed {
    limit: f64,
    used: f64,
    minute: f64,
    phase: f64,
}

impl Provider for Fixed {
    fn admit(&mut self, now: f64) -> Answer {
        let wall = self.phase + now;
        let minute = (wall / 60.0).floor();
        if minute != self.minute {
            (self.minute, self.used) = (minute, 0.0);
        }
        let reset = (minute + 1.0) * 60.0 - wall;
        let admitted = self.used < self.limit;
        self.used += f64::from(u8::from(admitted));
        let limits = RateLimits {
            requests: quota(self.limit, self.limit - self.used, reset),
            ..RateLimits::default()
        };
        Answer::of(limits, if admitted { Ok(()) } else { Err(reset) })
    }
}

/// Groq: requests limited per day by a bucket holding the day, the
/// headers describing the day; tokens by a bucket holding a whole minute.
struct Daily {
    requests: Bucket,
    tokens: Bucket,
}

impl Provider for Daily {
    fn admit(&mut self, now: f64) -> Answer {
        let tokens = (INPUT + OUTPUT) as f64;
        let outcome = charge(
            &mut [(&mut self.requests, 1.0), (&mut self.tokens, tokens)],
            now,
        );
        let day = &self.requests;
        let limits = RateLimits {
            requests: day.quota(day.capacity),
            tokens: self.tokens.quota(self.tokens.per_minute),
            ..RateLimits::default()
        };
        Answer::of(limits, outcome)
    }
}

/// Anthropic: requests, input and output tokens in buckets of a second's
/// capacity, reported per minute with resets as timestamps rounded up to
/// the second (read when the answer arrives, `latency` later).
struct Anthropic {
    requests: Bucket,
    input: Bucket,
    output: Bucket,
    latency: f64,
}

impl Provider for Anthropic {
    fn admit(&mut self, now: f64) -> Answer {
        let outcome = charge(
            &mut [
                (&mut self.requests, 1.0),
                (&mut self.input, INPUT as f64),
                (&mut self.output, OUTPUT as f64),
            ],
            now,
        );
        let read = now + if outcome.is_ok() { self.latency } else { 0.0 };
        let stamp = |b: &Bucket| {
            let q = b.quota(b.per_minute);
            let end = (now + q.reset.unwrap_or_default().as_secs_f64()).ceil();
            Quota {
                reset: Some(Duration::from_secs_f64((end - read).max(0.0))),
                reset_from_arrival: true,
                ..q
            }
        };
        let limits = RateLimits {
            requests: stamp(&self.requests),
            input_tokens: stamp(&self.input),
            output_tokens: stamp(&self.output),
            ..RateLimits::default()
        };
        Answer::of(limits, outcome.map_err(f64::ceil))
    }
}

/// What a simulated run did.
#[derive(Debug)]
struct Outcome {
    answered: usize,
    refused: usize,
    /// When the last request went out, on the fake clock.
    last_sent: f64,
    /// When each admitted request went out.
    admitted: Vec<f64>,
}

enum Event {
    Try,
    Answer(Ticket, Box<Answer>),
}

/// Events in time order (in order of scheduling at the same time).
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    events: Vec<Option<Event>>,
}

impl Queue {
    fn push(&mut self, at: u64, event: Event) {
        assert!(self.events.len() < 2_000_000, "the simulation does not end");
        self.heap.push(Reverse((at, self.events.len())));
        self.events.push(Some(event));
    }

    fn pop(&mut self) -> Option<(u64, Event)> {
        let Reverse((at, id)) = self.heap.pop()?;
        Some((at, self.events[id].take().expect("each event runs once")))
    }
}

const LATENCY: f64 = 0.1;
const CONCURRENCY: usize = 20;

fn ns(secs: f64) -> u64 {
    (secs * 1e9).round() as u64
}

/// Sends `cases` requests through `pacer` to `provider`, 20 at a time, each
/// answered after 100 ms.
fn simulate(
    provider: &mut dyn Provider,
    pacer: &Pacer<FakeRelativeClock>,
    clock: &FakeRelativeClock,
    cases: usize,
) -> Outcome {
    let mut queue = Queue::default();
    let (mut now, mut pending) = (0u64, cases);
    let mut outcome = Outcome {
        answered: 0,
        refused: 0,
        last_sent: 0.0,
        admitted: Vec::new(),
    };
    for _ in 0..CONCURRENCY {
        queue.push(0, Event::Try);
    }
    while let Some((at, event)) = queue.pop() {
        clock.advance(Duration::from_nanos(at - now));
        now = at;
        let t = now as f64 / 1e9;
        match event {
            Event::Try if pending == 0 => {}
            Event::Try => match pacer.decide(COST) {
                Decision::Wait(_, wait) => {
                    queue.push(now + (wait.as_nanos() as u64).max(1_000), Event::Try);
                }
                Decision::Go(ticket) => {
                    pending -= 1;
                    outcome.last_sent = t;
                    let answer = provider.admit(t);
                    let delay = if answer.refused.is_none() {
                        outcome.admitted.push(t);
                        LATENCY
                    } else {
                        0.001
                    };
                    queue.push(now + ns(delay), Event::Answer(ticket, Box::new(answer)));
                }
            },
            Event::Answer(ticket, answer) => match answer.refused {
                None => {
                    pacer.observe(&ticket, &answer.limits, Some(INPUT));
                    outcome.answered += 1;
                    queue.push(now, Event::Try);
                }
                Some(retry_after) => {
                    pacer.observe(&ticket, &answer.limits, None);
                    outcome.refused += 1;
                    pending += 1;
                    pacer.pause(Duration::from_secs_f64(retry_after));
                    queue.push(now + ns(retry_after), Event::Try);
                }
            },
        }
    }
    outcome
}

/// Runs 1,000 cases against `provider`, told `rpm`/`tpm` or not.
fn run(
    provider: &mut dyn Provider,
    rpm: Option<u32>,
    tpm: Option<u32>,
) -> (Outcome, Pacer<FakeRelativeClock>) {
    let clock = FakeRelativeClock::default();
    let pacer = Pacer::with_clock(rpm, tpm, clock.clone());
    let outcome = simulate(provider, &pacer, &clock, 1_000);
    assert_eq!(outcome.answered, 1_000, "{outcome:?}");
    (outcome, pacer)
}

/// 1,000 requests at 3,000 RPM take 20 s: the last goes out by then, less
/// the first, plus what the headroom and learning may cost.
fn within(outcome: &Outcome, ideal: f64, ratio: f64) {
    assert!(
        outcome.last_sent <= ideal * ratio,
        "last sent at {:.2} s, ideal {ideal} s",
        outcome.last_sent
    );
}

fn sliding() -> Sliding {
    Sliding {
        per_window: 50,
        window: 1.0,
        log: VecDeque::new(),
    }
}

#[test]
fn a_told_budget_never_overflows_a_sliding_window() {
    let (outcome, _) = run(&mut sliding(), Some(3_000), None);
    assert_eq!(outcome.refused, 0);
    for span in [1.0, 2.0, 10.0] {
        assert!(busiest(&outcome.admitted, span) <= (49.0 * span) as usize + 1);
    }
    within(&outcome, 20.0, 1.025);
}

#[test]
fn window_scaled_headers_are_learned_without_a_refusal() {
    let (outcome, pacer) = run(&mut sliding(), None, None);
    assert_eq!(outcome.refused, 0, "{outcome:?}");
    assert_eq!(pacer.learned()[0], Some(3_000.0));
    assert!(busiest(&outcome.admitted, 1.0) <= 50);
    within(&outcome, 20.0, 1.03);
}

#[test]
fn a_bucket_of_a_second_told_or_learned() {
    let bucket = || Buckets {
        requests: Some(Bucket::new(3_000.0, 50.0)),
        tokens: None,
    };
    let (told, _) = run(&mut bucket(), Some(3_000), None);
    assert_eq!(told.refused, 0);
    within(&told, 20.0, 1.025);
    let (learned, pacer) = run(&mut bucket(), None, None);
    assert_eq!(learned.refused, 0);
    assert_eq!(pacer.learned()[0], Some(3_000.0));
    within(&learned, 20.0, 1.03);
}

#[test]
fn a_fixed_minute_window_told_or_learned() {
    let fixed = || Fixed {
        limit: 3_000.0,
        used: 0.0,
        minute: 0.0,
        phase: 50.0,
    };
    let (told, _) = run(&mut fixed(), Some(3_000), None);
    assert_eq!(told.refused, 0);
    within(&told, 20.0, 1.025);
    let (learned, pacer) = run(&mut fixed(), None, None);
    assert_eq!(learned.refused, 0);
    assert_eq!(pacer.learned()[0], Some(3_000.0));
    within(&learned, 20.0, 1.03);
}

/// Groq: 14,400 requests a day, 72,000 tokens a minute (3,000 requests of
/// 24 tokens): the tokens set the pace, the day only caps.
#[test]
fn per_day_requests_beside_minute_tokens() {
    let daily = || Daily {
        requests: Bucket::new(14_400.0 / 1_440.0, 14_400.0),
        tokens: Bucket::new(72_000.0, 72_000.0),
    };
    let (told, _) = run(&mut daily(), None, Some(72_000));
    assert_eq!(told.refused, 0);
    within(&told, 20.0, 1.03);
    let (learned, pacer) = run(&mut daily(), None, None);
    assert_eq!(learned.refused, 0);
    assert_eq!(pacer.learned()[..2], [None, Some(72_000.0)]);
    within(&learned, 20.0, 1.03);
}

#[test]
fn anthropic_input_and_output_limits_are_each_paced() {
    let anthropic = || Anthropic {
        requests: Bucket::new(3_000.0, 50.0),
        input: Bucket::new(40_000.0, 40_000.0 / 60.0),
        output: Bucket::new(48_000.0, 800.0),
        latency: LATENCY,
    };
    let (told, _) = run(&mut anthropic(), Some(3_000), None);
    assert_eq!(told.refused, 0);
    within(&told, 20.0, 1.025);
    let (learned, pacer) = run(&mut anthropic(), None, None);
    assert_eq!(learned.refused, 0);
    assert_eq!(
        pacer.learned(),
        [Some(3_000.0), None, Some(40_000.0), Some(48_000.0)]
    );
    within(&learned, 20.0, 1.03);
}

/// Tokens, not requests, are scarce: 72,000 a minute in a bucket of a
/// second, 24 a request.
#[test]
fn a_tokens_bound_run_told_or_learned() {
    let tokens = || Buckets {
        requests: None,
        tokens: Some(Bucket::new(72_000.0, 1_200.0)),
    };
    let (told, _) = run(&mut tokens(), None, Some(72_000));
    assert_eq!(told.refused, 0);
    within(&told, 20.0, 1.03);
    let (learned, pacer) = run(&mut tokens(), None, None);
    assert_eq!(learned.refused, 0);
    assert_eq!(pacer.learned()[1], Some(72_000.0));
    within(&learned, 20.0, 1.03);
}

/// A budget told 20 % above what the provider allows: the provider's
/// headers hold the lane back (counted as the provider's wait), and the
/// refusals stay under one window's worth (50), as for a lane told nothing.
#[test]
fn a_budget_set_too_high_is_held_back_by_the_headers() {
    let (outcome, pacer) = run(&mut sliding(), Some(3_600), None);
    assert!(outcome.refused < 50, "{} refused", outcome.refused);
    assert_eq!(pacer.learned()[0], Some(3_000.0));
    within(&outcome, 20.0, 1.05);
}
