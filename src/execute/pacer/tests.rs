//! The pacer on a fake clock: told and learned budgets, the headers'
//! word, credits and waits.

use super::clock::Manual;

use super::*;
use crate::execute::provider::headers::Quota;

/// One request answered with `limit`, `remaining` and `reset` for
/// requests; what the pacer then says of the next one.
fn after_headers(limit: u64, remaining: u64, reset: Duration) -> Decision {
    let pacer = Pacer::with_clock(None, None, Manual::default());
    let cost = Cost {
        input: 10,
        output: Some(10),
    };
    let Decision::Go(ticket) = pacer.decide(cost) else {
        panic!("the first request waits");
    };
    let limits = RateLimits {
        requests: Quota {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(reset),
            ..Quota::default()
        },
        ..RateLimits::default()
    };
    let used = Used {
        input: 10,
        output: 10,
    };
    pacer.observe(&ticket, &limits, Some(used));
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

const COST: Cost = Cost {
    input: 10,
    output: Some(10),
};

fn go(pacer: &Pacer<Manual>) -> Ticket {
    match pacer.decide(COST) {
        Decision::Go(ticket) => ticket,
        Decision::Wait(limiter, wait) => panic!("waits {wait:?} for {limiter:?}"),
    }
}

#[test]
fn a_refused_request_gives_its_tokens_back() {
    let clock = Manual::default();
    // 1,200 tokens a minute: 20 a second, one request a second.
    let pacer = Pacer::with_clock(None, Some(1_200), clock.clone());
    let ticket = go(&pacer);
    assert!(matches!(
        pacer.decide(COST),
        Decision::Wait(Limiter::Tokens, _)
    ));
    pacer.observe(&ticket, &RateLimits::default(), None);
    pacer.refused(&ticket);
    go(&pacer);
}

#[test]
fn a_lane_told_nothing_starts_slowly_until_a_period_is_known() {
    let clock = Manual::default();
    let pacer = Pacer::with_clock(None, None, clock.clone());
    let used = Some(Used {
        input: 10,
        output: 10,
    });
    let first = go(&pacer);
    assert!(matches!(pacer.decide(COST), Decision::Wait(..)));
    clock.advance(Duration::from_millis(100));
    // Each answer lets twice as many be in flight as answers came;
    // these say nothing of any limit.
    let silent = RateLimits::default();
    assert!(pacer.observe(&first, &silent, used));
    let (a, b) = (go(&pacer), go(&pacer));
    assert!(matches!(pacer.decide(COST), Decision::Wait(..)));
    clock.advance(Duration::from_millis(100));
    pacer.observe(&a, &silent, used);
    let more: Vec<Ticket> = (0..3).map(|_| go(&pacer)).collect();
    assert!(matches!(pacer.decide(COST), Decision::Wait(..)));
    // Answers whose figures show a minute's refill: the period is
    // known and the start is over.
    let spent = RateLimits {
        tokens: Quota {
            limit: Some(60_000),
            remaining: Some(59_960),
            reset: Some(Duration::from_millis(40)),
            ..Quota::default()
        },
        ..RateLimits::default()
    };
    pacer.observe(&b, &spent, used);
    pacer.observe(&more[0], &spent, used);
    // Paced by the budget learned (1,000 tokens a second, 20 each),
    // no longer by the answers: 10 in flight after 4 answers.
    for _ in 0..8 {
        clock.advance(Duration::from_millis(100));
        go(&pacer);
    }
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

#[test]
fn a_credit_before_any_budget_is_replayed_with_the_sends() {
    // A first request reserved 512 tokens, its answer used 12: the 500
    // credited back before any budget was learned must not count
    // against the budget learned afterwards.
    let mut limit = Limit::default();
    limit.record(0.0, 512.0, 12.0);
    limit.credit(0.1, 500.0, 24.0);
    assert_eq!(limit.log.iter().map(|(_, u)| u).sum::<f64>(), 12.0);

    let mut without_credit = Budget::new(1_200.0, 1);
    without_credit.spend(0.0, 512.0);
    let mut budget = Budget::new(1_200.0, 1);
    for &(t, units) in &limit.log {
        budget.spend(t, units);
    }
    assert!(budget.wait(0.2) < without_credit.wait(0.2));
    assert_eq!(budget.wait(1.0), 0.0);
}
