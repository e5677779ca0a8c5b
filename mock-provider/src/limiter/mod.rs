//! Server-side rate limits: one meter per configured limit (requests,
//! tokens, input and output tokens, requests per day), each enforcing the
//! [`Enforcement`] semantics chosen, and the limit/remaining/reset figures
//! the APIs report, at the scale of the minute or of the enforcement window.
//!
//! Every function takes the current [`Instant`], and the wall clock is
//! derived from it through a [`Clock`], so tests drive time by hand.

mod bucket;
mod fixed;
mod sliding;

use std::fmt::Debug;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{Config, Enforcement};
use bucket::Bucket;
use fixed::Fixed;
use sliding::Sliding;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Requests,
    /// Input plus output tokens.
    Tokens,
    InputTokens,
    OutputTokens,
}

/// The period a limit is stated for, as the 429 messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    Minute,
    Day,
}

/// Which figures the headers describe: the stated limit (per minute, or per
/// day for a daily limit), or what the enforcement window holds (a bucket's
/// capacity, a sliding window's share of the minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    Minute,
    Window,
}

/// One limit as the rate-limit headers show it: `remaining` is what may be
/// spent now (or, for a sliding window at minute scale, what is left of the
/// last 60 seconds' allowance); `reset` is how long until the limit is
/// whole again, zero when nothing is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    pub(crate) limit: u64,
    pub(crate) remaining: u64,
    pub(crate) reset: Duration,
}

/// Every figure the headers of either API need. `tokens` is the combined
/// tokens limit, or when only input and output limits are set, the one of
/// those with less room, as Anthropic reports the most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) requests: Quota,
    pub(crate) tokens: Quota,
    pub(crate) input_tokens: Quota,
    pub(crate) output_tokens: Quota,
    /// The wall-clock time of the figures, which Anthropic's reset times
    /// count from.
    pub(crate) at: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denied {
    pub(crate) resource: Resource,
    pub(crate) period: Period,
    pub(crate) limit: u64,
    pub(crate) used: u64,
    pub(crate) requested: u64,
    /// The exact time until every limit has room for the request.
    pub(crate) retry_after: Duration,
    pub(crate) snapshot: Snapshot,
}

/// What a request is charged: one request, its input (prompt) tokens and
/// its output tokens (the `max_tokens` it asked for).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    requests: u64,
    input: u64,
    output: u64,
}

impl Cost {
    pub(crate) fn call(input: u64, output: u64) -> Self {
        Self {
            requests: 1,
            input,
            output,
        }
    }

    /// Its tokens, input and output together.
    pub(crate) fn tokens(self) -> u64 {
        self.input + self.output
    }

    fn of(self, resource: Resource) -> u64 {
        match resource {
            Resource::Requests => self.requests,
            Resource::Tokens => self.input + self.output,
            Resource::InputTokens => self.input,
            Resource::OutputTokens => self.output,
        }
    }
}

/// Reads wall-clock time off the monotonic clock: `wall_start` at `start`.
/// Fixed windows align to its minutes, and a test can pin it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    wall_start: Duration,
}

impl Clock {
    pub(crate) fn new(start: Instant, wall_start: SystemTime) -> Self {
        Self {
            start,
            wall_start: wall_start.duration_since(UNIX_EPOCH).unwrap_or_default(),
        }
    }

    fn moment(&self, at: Instant) -> Moment {
        Moment {
            at,
            wall: self.wall_start + at.saturating_duration_since(self.start),
        }
    }
}

/// The current time on both clocks; `wall` is since the Unix epoch.
#[derive(Debug, Clone, Copy)]
struct Moment {
    at: Instant,
    wall: Duration,
}

/// One enforced limit. `advance` brings the meter to `now` and must come
/// before the other calls with the same `now`.
trait Meter: Debug + Send {
    fn advance(&mut self, now: Moment);
    /// How long until `cost` fits; zero when it fits now.
    fn wait(&self, cost: u64, now: Moment) -> Duration;
    fn charge(&mut self, cost: u64, now: Moment);
    fn quota(&self, now: Moment, scale: Scale) -> Quota;
    /// The stated limit for the meter's period.
    fn limit(&self) -> u64;
}

#[derive(Debug)]
struct Limit {
    resource: Resource,
    period: Period,
    meter: Box<dyn Meter>,
}

/// What the headers claim when no limit is set: large, like a high usage
/// tier, and reported as a full bucket of a whole minute's capacity.
const UNLIMITED_REQUESTS: u64 = 10_000;
const UNLIMITED_TOKENS: u64 = 30_000_000;

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

fn unlimited(limit: u64, cost: u64) -> Quota {
    let cost = cost.min(limit);
    Quota {
        limit,
        remaining: limit - cost,
        reset: secs(cost as f64 * 60.0 / limit as f64),
    }
}

/// The meters a configuration asks for. A daily request limit comes first,
/// so that it is the one the requests headers describe.
fn limits(config: &Config, now: Instant) -> Vec<Limit> {
    let daily = config.rpd.map(|rpd| Limit {
        resource: Resource::Requests,
        period: Period::Day,
        meter: Box::new(Bucket::new(rpd, rpd, DAY, now)),
    });
    let per_minute = [
        (Resource::Requests, config.rpm, config.burst_requests),
        (Resource::Tokens, config.tpm, config.burst_tokens),
        (Resource::InputTokens, config.itpm, None),
        (Resource::OutputTokens, config.otpm, None),
    ];
    let minute = per_minute
        .into_iter()
        .filter_map(|(resource, limit, burst)| {
            limit.map(|limit| Limit {
                resource,
                period: Period::Minute,
                meter: minute_meter(config.enforcement, limit, burst, now),
            })
        });
    daily.into_iter().chain(minute).collect()
}

fn minute_meter(
    enforcement: Enforcement,
    limit: u64,
    burst: Option<u64>,
    now: Instant,
) -> Box<dyn Meter> {
    match enforcement {
        Enforcement::TokenBucket => {
            let capacity = burst.unwrap_or((limit / 60).max(1));
            Box::new(Bucket::new(limit, capacity, MINUTE, now))
        }
        Enforcement::SlidingWindow { secs } => {
            Box::new(Sliding::new(limit, Duration::from_secs(secs)))
        }
        Enforcement::FixedWindow => Box::new(Fixed::new(limit)),
        // Groq's minute limits hold a whole minute and refill continuously.
        Enforcement::Daily => Box::new(Bucket::new(limit, limit, MINUTE, now)),
    }
}

/// The figures after charging `cost` (nothing when the answer was not
/// charged).
fn snapshot(limits: &[Limit], now: Moment, scale: Scale, cost: Cost) -> Snapshot {
    let headline = |resource| {
        limits
            .iter()
            .find(|l| l.resource == resource)
            .map(|l| l.meter.quota(now, scale))
    };
    let or_unlimited =
        |resource, limit| headline(resource).unwrap_or_else(|| unlimited(limit, cost.of(resource)));
    let tokens = headline(Resource::Tokens)
        .or_else(|| {
            [Resource::InputTokens, Resource::OutputTokens]
                .into_iter()
                .filter_map(headline)
                .min_by_key(|q| q.remaining)
        })
        .unwrap_or_else(|| unlimited(UNLIMITED_TOKENS, cost.of(Resource::Tokens)));
    Snapshot {
        requests: or_unlimited(Resource::Requests, UNLIMITED_REQUESTS),
        tokens,
        input_tokens: or_unlimited(Resource::InputTokens, UNLIMITED_TOKENS),
        output_tokens: or_unlimited(Resource::OutputTokens, UNLIMITED_TOKENS),
        at: UNIX_EPOCH + now.wall,
    }
}

#[derive(Debug)]
pub(crate) struct Limiter {
    clock: Clock,
    limits: Mutex<Vec<Limit>>,
}

impl Limiter {
    pub(crate) fn new(config: &Config, clock: Clock) -> Self {
        Self {
            limits: Mutex::new(limits(config, clock.start)),
            clock,
        }
    }

    fn advanced(&self, now: Instant) -> (MutexGuard<'_, Vec<Limit>>, Moment) {
        let moment = self.clock.moment(now);
        let mut limits = self
            .limits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        limits.iter_mut().for_each(|l| l.meter.advance(moment));
        (limits, moment)
    }

    /// The current figures, for answers that are not charged.
    pub(crate) fn peek(&self, now: Instant, scale: Scale) -> Snapshot {
        let (limits, moment) = self.advanced(now);
        snapshot(&limits, moment, scale, Cost::default())
    }

    /// Charges `cost` to every limit, or charges nothing and says why not:
    /// a request is admitted only if every limit has room. The first limit
    /// without room is the one blamed; the retry-after waits for all.
    pub(crate) fn admit(
        &self,
        cost: Cost,
        now: Instant,
        scale: Scale,
    ) -> Result<Snapshot, Box<Denied>> {
        self.admit_needing(cost, cost, now, scale)
    }

    /// Admits a request whose tokens are counted when its answer is done
    /// ([`Limiter::settle`]): it is charged one request now, and every
    /// tokens limit must have room for its prompt.
    pub(crate) fn admit_prompt(
        &self,
        cost: Cost,
        now: Instant,
        scale: Scale,
    ) -> Result<Snapshot, Box<Denied>> {
        let need = Cost { output: 0, ..cost };
        let request = Cost {
            requests: cost.requests,
            ..Cost::default()
        };
        self.admit_needing(need, request, now, scale)
    }

    /// Counts the tokens an answer used, room or not, and returns the
    /// figures after them.
    pub(crate) fn settle(&self, input: u64, output: u64, now: Instant, scale: Scale) -> Snapshot {
        let (mut limits, moment) = self.advanced(now);
        let used = Cost {
            requests: 0,
            input,
            output,
        };
        for l in limits.iter_mut() {
            l.meter.charge(used.of(l.resource), moment);
        }
        snapshot(&limits, moment, scale, used)
    }

    /// Charges `cost` when every limit has room for `need`.
    fn admit_needing(
        &self,
        need: Cost,
        cost: Cost,
        now: Instant,
        scale: Scale,
    ) -> Result<Snapshot, Box<Denied>> {
        let (mut limits, moment) = self.advanced(now);
        let waits: Vec<Duration> = limits
            .iter()
            .map(|l| l.meter.wait(need.of(l.resource), moment))
            .collect();
        if let Some(blocked) = waits.iter().position(|w| !w.is_zero()) {
            let Limit {
                resource,
                period,
                meter,
            } = &limits[blocked];
            let limit = meter.limit();
            let remaining = meter.quota(moment, Scale::Minute).remaining;
            return Err(Box::new(Denied {
                resource: *resource,
                period: *period,
                limit,
                used: limit.saturating_sub(remaining),
                requested: need.of(*resource),
                retry_after: waits.iter().copied().max().unwrap_or_default(),
                snapshot: snapshot(&limits, moment, scale, Cost::default()),
            }));
        }
        for l in limits.iter_mut() {
            l.meter.charge(cost.of(l.resource), moment);
        }
        Ok(snapshot(&limits, moment, scale, cost))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// 2023-11-14T22:13:20Z, twenty seconds into a minute.
    pub(crate) const WALL_START: u64 = 1_700_000_000;

    /// A limiter whose clock starts at `WALL_START`, and its start instant.
    pub(crate) fn limiter(config: Config) -> (Limiter, Instant) {
        let t0 = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(WALL_START);
        (Limiter::new(&config, Clock::new(t0, wall)), t0)
    }

    pub(crate) fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// Charges one request and `input` tokens, figures at minute scale.
    pub(crate) fn admit(l: &Limiter, input: u64, now: Instant) -> Result<Snapshot, Box<Denied>> {
        l.admit(Cost::call(input, 0), now, Scale::Minute)
    }

    /// A quota as (limit, remaining, reset in milliseconds), the reset
    /// rounded to the millisecond so float noise in bucket arithmetic does
    /// not matter.
    pub(crate) fn q(quota: Quota) -> (u64, u64, u64) {
        let ms = (quota.reset.as_secs_f64() * 1000.0).round() as u64;
        (quota.limit, quota.remaining, ms)
    }

    #[test]
    fn denial_charges_nothing() {
        let (l, t0) = limiter(Config {
            rpm: Some(120),
            tpm: Some(60),
            burst_tokens: Some(5),
            ..Config::default()
        });
        assert!(admit(&l, 4, t0).is_ok());
        assert_eq!(admit(&l, 3, t0).unwrap_err().resource, Resource::Tokens);
        let snap = l.peek(t0, Scale::Minute);
        assert_eq!((snap.requests.remaining, snap.tokens.remaining), (1, 1));
    }

    #[test]
    fn no_limit_reports_large_values() {
        let (l, t0) = limiter(Config::default());
        let snap = admit(&l, 100, t0).unwrap();
        assert_eq!(
            snap.requests,
            Quota {
                limit: 10_000,
                remaining: 9_999,
                reset: Duration::from_millis(6)
            }
        );
        assert_eq!(snap.tokens.remaining, 30_000_000 - 100);
        assert_eq!(snap.at, UNIX_EPOCH + Duration::from_secs(WALL_START));
    }

    /// Input and output tokens are limited apart; with no combined limit
    /// the tokens figures are those of the tighter one.
    #[test]
    fn input_and_output_tokens_have_their_own_limits() {
        let (l, t0) = limiter(Config {
            itpm: Some(6_000),
            otpm: Some(1_200),
            ..Config::default()
        });
        let snap = l.admit(Cost::call(30, 15), t0, Scale::Minute).unwrap();
        assert_eq!(q(snap.input_tokens), (6_000, 70, 300));
        assert_eq!(q(snap.output_tokens), (1_200, 5, 750));
        assert_eq!(snap.tokens, snap.output_tokens);
        let denied = l.admit(Cost::call(10, 10), t0, Scale::Minute).unwrap_err();
        assert_eq!(
            (denied.resource, denied.limit, denied.requested),
            (Resource::OutputTokens, 1_200, 10)
        );
        assert_eq!(denied.retry_after, Duration::from_millis(250));
    }

    /// Counting usage: a request is let in while its prompt fits, and
    /// charged one request; its answer's tokens count when it is done,
    /// room or not.
    #[test]
    fn usage_is_counted_when_the_answer_is_done() {
        let (l, t0) = limiter(Config {
            rpm: Some(180),
            tpm: Some(600),
            burst_tokens: Some(100),
            ..Config::default()
        });
        let snap = l
            .admit_prompt(Cost::call(30, 64), t0, Scale::Minute)
            .unwrap();
        assert_eq!((snap.requests.remaining, snap.tokens.remaining), (2, 100));
        assert_eq!(l.settle(30, 50, t0, Scale::Minute).tokens.remaining, 20);
        let denied = l
            .admit_prompt(Cost::call(30, 64), t0, Scale::Minute)
            .unwrap_err();
        assert_eq!((denied.resource, denied.requested), (Resource::Tokens, 30));
        assert!(
            l.admit_prompt(Cost::call(20, 64), t0, Scale::Minute)
                .is_ok()
        );
        let over = l.settle(20, 64, t0, Scale::Minute);
        assert_eq!((over.requests.remaining, over.tokens.remaining), (1, 0));
        // 64 tokens in debt: room for a prompt of 10 in 7.4 s.
        let denied = l
            .admit_prompt(Cost::call(10, 0), t0, Scale::Minute)
            .unwrap_err();
        assert_eq!(denied.retry_after, Duration::from_millis(7_400));
    }

    /// The retry-after covers every limit short of room, not only the one
    /// blamed.
    #[test]
    fn retry_after_waits_for_every_limit() {
        let (l, t0) = limiter(Config {
            rpm: Some(60),
            tpm: Some(60),
            burst_tokens: Some(10),
            ..Config::default()
        });
        admit(&l, 10, t0).unwrap();
        let denied = admit(&l, 5, t0).unwrap_err();
        assert_eq!(denied.resource, Resource::Requests);
        assert_eq!(denied.retry_after, Duration::from_secs(5));
    }
}
