//! The pacer against simulated providers, on a fake clock: a lane of
//! `concurrency` slots sends `cases` requests, each answered after a fixed
//! latency (a refusal at once), and every answer's headers go back into
//! the pacer; an answer that credits tokens back wakes the requests
//! waiting. Each provider enforces one way a per-minute limit is enforced
//! in practice, counts tokens at admission or on completion, and reports
//! it in its own dialect; the checks are counts (refusals, answers,
//! credited tokens) and the fake clock's times, never wall time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use super::clock::Manual;

use super::budget::tests::busiest;
use super::{Accounting, Cost, Decision, Pacer, Ticket, Used};
use crate::execute::provider::headers::{Quota, RateLimits};

mod servers;

use servers::{Anthropic, Bucket, Buckets, Daily, Fixed, Sliding};

/// What a simulated provider counts of one request's prompt (the lane
/// estimates 13, 5 high, which the answers' reported input corrects), and
/// the `max-tokens` of the requests that set one.
const INPUT: u64 = 8;
const OUTPUT: u64 = 16;
const COST: Cost = Cost {
    input: 13,
    output: Some(16),
};

/// The tokens case `k`'s answer uses: 4 to 16, varied.
fn output(k: usize) -> u64 {
    4 + (k as u64 * 7) % 13
}

fn quota(limit: f64, remaining: f64, reset: f64) -> Quota {
    Quota {
        limit: Some(limit as u64),
        remaining: Some(remaining.max(0.0).floor() as u64),
        reset: Some(Duration::from_secs_f64(reset.max(0.0))),
        ..Quota::default()
    }
}

/// One request as the provider sees it.
#[derive(Debug, Clone, Copy)]
struct Request {
    input: u64,
    /// `max_tokens`, when the request sets it.
    max_output: Option<u64>,
    /// What its answer will use.
    output: u64,
}

impl Request {
    /// What a provider charging at admission counts: the prompt and
    /// `max_tokens` (16 when the request sets none).
    fn reserved(&self) -> f64 {
        (self.input + self.max_output.unwrap_or(OUTPUT)) as f64
    }

    fn used(&self) -> f64 {
        (self.input + self.output) as f64
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
    /// Admits `request` at `now` (seconds) or refuses it.
    fn admit(&mut self, now: f64, request: &Request) -> Answer;

    /// The answer to an admitted `request` is done at `now`: a provider
    /// counting usage counts it, and its headers say so then.
    fn complete(&mut self, _now: f64, _request: &Request) -> Option<RateLimits> {
        None
    }

    /// The tokens it counted in all.
    fn counted(&self) -> f64 {
        0.0
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
    /// Slot `.0` tries to send, unless woken since (`.1` is its wake count).
    Try(usize, u64),
    Answer(Ticket, Request, Box<Answer>),
}

/// Events in time order (in order of scheduling at the same time).
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    events: Vec<Option<Event>>,
}

impl Queue {
    fn push(&mut self, at: u64, event: Event) {
        assert!(self.events.len() < 4_000_000, "the simulation does not end");
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

/// The requests a run sends: `cases` of them, each of `cost` to the lane.
#[derive(Debug, Clone, Copy)]
struct Workload {
    cases: usize,
    cost: Cost,
}

impl Workload {
    fn request(&self, k: usize) -> Request {
        Request {
            input: INPUT,
            max_output: self.cost.output.map(u64::from),
            output: output(k),
        }
    }
}

/// The slots of the lane: each waiting slot's wake count, so that a slot
/// woken early (an answer credited tokens back) tries once, not twice.
struct Slots {
    wakes: Vec<u64>,
    waiting: Vec<bool>,
}

impl Slots {
    fn wake_all(&mut self, queue: &mut Queue, now: u64) {
        for slot in 0..self.wakes.len() {
            if self.waiting[slot] {
                self.waiting[slot] = false;
                self.wakes[slot] += 1;
                queue.push(now, Event::Try(slot, self.wakes[slot]));
            }
        }
    }
}

/// Sends `work` through `pacer` to `provider`, 20 at a time, each
/// answered after 100 ms.
fn simulate(
    provider: &mut dyn Provider,
    pacer: &Pacer<Manual>,
    clock: &Manual,
    work: Workload,
) -> Outcome {
    let mut queue = Queue::default();
    let (mut now, mut sent, mut retries) = (0u64, 0, Vec::new());
    let mut outcome = Outcome {
        answered: 0,
        refused: 0,
        last_sent: 0.0,
        admitted: Vec::new(),
    };
    let mut slots = Slots {
        wakes: vec![0; CONCURRENCY],
        waiting: vec![false; CONCURRENCY],
    };
    for slot in 0..CONCURRENCY {
        queue.push(0, Event::Try(slot, 0));
    }
    while let Some((at, event)) = queue.pop() {
        clock.advance(Duration::from_nanos(at - now));
        now = at;
        let t = now as f64 / 1e9;
        match event {
            Event::Try(slot, wake) if wake != slots.wakes[slot] => {}
            Event::Try(_, _) if sent == work.cases && retries.is_empty() => {}
            Event::Try(slot, _) => match pacer.decide(work.cost) {
                Decision::Wait(_, wait) => {
                    slots.waiting[slot] = true;
                    let at = now + (wait.as_nanos() as u64).max(1_000);
                    queue.push(at, Event::Try(slot, slots.wakes[slot]));
                }
                Decision::Go(ticket) => {
                    slots.waiting[slot] = false;
                    let request = retries.pop().unwrap_or_else(|| {
                        sent += 1;
                        work.request(sent - 1)
                    });
                    outcome.last_sent = t;
                    let answer = provider.admit(t, &request);
                    let delay = if answer.refused.is_none() {
                        outcome.admitted.push(t);
                        LATENCY
                    } else {
                        0.001
                    };
                    let answer = Event::Answer(ticket, request, Box::new(answer));
                    queue.push(now + ns(delay), answer);
                    queue.push(now + ns(delay), Event::Try(slot, slots.wakes[slot]));
                }
            },
            Event::Answer(ticket, request, answer) => match answer.refused {
                None => {
                    let limits = provider.complete(t, &request).unwrap_or(answer.limits);
                    let used = Used {
                        input: request.input,
                        output: request.output,
                    };
                    if pacer.observe(&ticket, &limits, Some(used)) {
                        slots.wake_all(&mut queue, now);
                    }
                    outcome.answered += 1;
                }
                Some(retry_after) => {
                    pacer.observe(&ticket, &answer.limits, None);
                    outcome.refused += 1;
                    retries.push(request);
                    pacer.pause(Duration::from_secs_f64(retry_after));
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
) -> (Outcome, Pacer<Manual>) {
    run_work(
        provider,
        rpm,
        tpm,
        Workload {
            cases: 1_000,
            cost: COST,
        },
    )
}

fn run_work(
    provider: &mut dyn Provider,
    rpm: Option<u32>,
    tpm: Option<u32>,
    work: Workload,
) -> (Outcome, Pacer<Manual>) {
    let clock = Manual::default();
    let pacer = Pacer::with_clock(rpm, tpm, clock.clone());
    let outcome = simulate(provider, &pacer, &clock, work);
    assert_eq!(outcome.answered, work.cases, "{outcome:?}");
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
    Sliding::requests(50, 1.0)
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
    let bucket = || Buckets::new(Some(Bucket::new(3_000.0, 50.0)), None);
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
    let (told, pacer) = run(&mut daily(), None, Some(72_000));
    assert_eq!(told.refused, 0);
    assert_eq!(pacer.accounting()[1], Accounting::Admission);
    within(&told, 20.0, 1.03);
    let (learned, pacer) = run(&mut daily(), None, None);
    assert_eq!(learned.refused, 0);
    assert_eq!(pacer.learned()[..2], [None, Some(72_000.0)]);
    // A bucket of a whole minute, nearly full all along, never reads as
    // counting usage.
    assert_eq!(pacer.accounting()[1], Accounting::Admission);
    assert_eq!(pacer.credited()[1], 0.0);
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
    assert_eq!(pacer.credited(), [0.0; 4]);
    within(&learned, 20.0, 1.03);
}

/// Tokens, not requests, are scarce: 72,000 a minute in a bucket of a
/// second, 24 a request (`max_tokens` counted in full at admission, the
/// answers using 4 to 16): nothing is credited back.
#[test]
fn a_tokens_bound_run_told_or_learned() {
    let tokens = || Buckets::new(None, Some(Bucket::new(72_000.0, 1_200.0)));
    let (told, pacer) = run(&mut tokens(), None, Some(72_000));
    assert_eq!(told.refused, 0);
    assert_eq!(pacer.accounting()[1], Accounting::Admission);
    assert_eq!(pacer.credited()[1], 0.0);
    within(&told, 20.0, 1.03);
    let (learned, pacer) = run(&mut tokens(), None, None);
    assert_eq!(learned.refused, 0);
    assert_eq!(pacer.learned()[1], Some(72_000.0));
    assert_eq!(pacer.accounting()[1], Accounting::Admission);
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

/// Issue 26's first server: 60,000 tokens a minute as 1,000 in any
/// second, counting the tokens each answer used when it is done; 400 cases
/// at 100 ms, concurrency 20. The ideal is the tokens it counted at its
/// rate. Told or not, with `max-tokens = 64` or none, the lane finds that
/// it counts usage, reserves what the answers need, gets each unused
/// reservation back, and ends within
/// 1.15 × the ideal with at most a window's worth of refusals (1,000
/// tokens of 8 to 24: 41 requests).
#[test]
fn a_server_counting_usage_gets_the_reservations_back() {
    for minute_headers in [false, true] {
        for max_output in [Some(64), None] {
            for tpm in [Some(60_000), None] {
                let work = Workload {
                    cases: 400,
                    cost: Cost {
                        input: 13,
                        output: max_output,
                    },
                };
                let mut server = Sliding::usage(1_000, 1.0, minute_headers);
                let (outcome, pacer) = run_work(&mut server, None, tpm, work);
                let case = format!(
                    "minute headers {minute_headers}, max-tokens {max_output:?}, tpm {tpm:?}"
                );
                let ideal = server.counted() / 1_000.0 + LATENCY;
                assert_eq!(pacer.accounting()[1], Accounting::Usage, "{case}");
                assert!(outcome.refused <= 41, "{case}: {} refused", outcome.refused);
                within(&outcome, ideal, 1.15);
                // Unused reservations came back; with max-tokens, once the
                // accounting was known, a request reserved what the
                // answers needed (at most 16), not 64: far less came back
                // than 64 less each answer.
                let used: u64 = (0..400).map(output).sum();
                let credited = pacer.credited()[1];
                assert!(credited > 0.0, "{case}: {credited}");
                if max_output.is_some() {
                    let most = 400.0 * 64.0 - used as f64;
                    assert!(credited < 0.25 * most, "{case}: {credited} of {most}");
                }
            }
        }
    }
}

/// The same run against a server that counts `max_tokens` at admission,
/// stating its figures as it admits a request or as it answers it: nothing
/// credited, no refusal, within 1.05 × its ideal.
#[test]
fn a_server_counting_max_tokens_keeps_its_reservations() {
    for tpm in [Some(60_000), None] {
        let work = Workload {
            cases: 400,
            cost: Cost {
                input: 13,
                output: Some(64),
            },
        };
        for at_answer in [false, true] {
            let mut server = Buckets {
                at_answer,
                ..Buckets::new(None, Some(Bucket::new(60_000.0, 1_000.0)))
            };
            let (outcome, pacer) = run_work(&mut server, None, tpm, work);
            let ideal = server.counted() / 1_000.0 + LATENCY;
            let case = format!("tpm {tpm:?}, figures at the answer {at_answer}");
            assert_eq!(outcome.refused, 0, "{case}");
            assert_eq!(pacer.accounting()[1], Accounting::Admission, "{case}");
            assert_eq!(pacer.credited()[1], 0.0, "{case}");
            within(&outcome, ideal, 1.05);
        }
    }
}

/// A server charging `max_tokens` at admission and giving back what the
/// answer did not use when it is done (Anthropic's output tokens), its
/// figures stated with each answer: neither way of counting explains its
/// figures, so the lane counts at admission, which is never too fast: no
/// refusal, nothing credited, told or not, with `max-tokens` or without.
/// (Not yet as fast as it could be: docs/providers.md.)
#[test]
fn a_server_refunding_unused_tokens_is_never_overrun() {
    for tpm in [Some(60_000), None] {
        for max_output in [Some(64), None] {
            let work = Workload {
                cases: 400,
                cost: Cost {
                    input: 13,
                    output: max_output,
                },
            };
            let mut server = Buckets {
                at_answer: true,
                refund: true,
                ..Buckets::new(None, Some(Bucket::new(60_000.0, 1_000.0)))
            };
            let (outcome, pacer) = run_work(&mut server, None, tpm, work);
            let case = format!("tpm {tpm:?}, max-tokens {max_output:?}");
            assert_eq!(outcome.refused, 0, "{case}");
            assert_eq!(pacer.accounting()[1], Accounting::Admission, "{case}");
            assert_eq!(pacer.credited()[1], 0.0, "{case}");
        }
    }
}

/// Issue 26's second server: 600 RPM as 10 in any second, Anthropic-style
/// headers stating the window's 10 with a reset about a second ahead,
/// rounded up to the second. Learned as 600 rpm, told or not: no refusal,
/// 200 cases within 1.05 × 20 s.
#[test]
fn anthropic_style_window_headers_are_600_rpm() {
    for rpm in [Some(600), None] {
        let mut server = Sliding {
            stamped: Some(0.45),
            ..Sliding::requests(10, 1.0)
        };
        let work = Workload {
            cases: 200,
            cost: COST,
        };
        let (outcome, pacer) = run_work(&mut server, rpm, None, work);
        assert_eq!(outcome.refused, 0, "rpm {rpm:?}");
        assert_eq!(pacer.learned()[0], Some(600.0), "rpm {rpm:?}");
        within(&outcome, 20.0, 1.05);
    }
}

/// Without `max-tokens`, a request reserves what the suite's answers
/// needed on main until this run's own answers are enough, then their
/// 95th percentile; with it, `max-tokens`.
#[test]
fn a_request_without_max_tokens_reserves_what_the_answers_needed() {
    let clock = Manual::default();
    let pacer = Pacer::with_clock(None, Some(6_000_000), clock.clone());
    let unbounded = Cost {
        input: 10,
        output: None,
    };
    // A second apart, the budget never holds one back.
    let go = |cost: Cost| {
        clock.advance(Duration::from_secs(1));
        match pacer.decide(cost) {
            Decision::Go(ticket) => ticket,
            Decision::Wait(..) => panic!("a budget of 100,000 tokens a second waits"),
        }
    };
    let reserved = |ticket: Ticket| ticket.reserved[1];
    assert_eq!(reserved(go(unbounded)), 512.0);
    pacer.expect_completions(40);
    assert_eq!(reserved(go(unbounded)), 40.0);
    for k in 0..20 {
        let ticket = go(unbounded);
        let used = Used {
            input: 10,
            output: output(k),
        };
        pacer.observe(&ticket, &RateLimits::default(), Some(used));
    }
    // 4 to 16 tokens: 19 of the 20 fit in 15.
    assert_eq!(reserved(go(unbounded)), 15.0);
    assert_eq!(reserved(go(COST)), 16.0);
    let long = Cost {
        input: 10,
        output: Some(64),
    };
    assert_eq!(reserved(go(long)), 64.0);
}
