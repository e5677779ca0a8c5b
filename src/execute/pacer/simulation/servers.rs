//! The simulated providers: each enforces a per-minute limit one way
//! it is enforced in practice (a sliding window, token buckets, a fixed
//! minute, a day beside a minute, Anthropic's split limits) and says so
//! in its own headers.

use super::*;

/// At most `per_window` units in any window of `window` seconds: requests,
/// or with `tokens` the tokens answers used, counted when each is done
/// (a gateway counting usage: a request is let in while its prompt fits).
/// The headers describe the window, the reset the time until it clears;
/// or with `minute_headers`, as the mock provider's minute scale, the
/// minute's limit, what the last minute left of it and when it clears.
/// With `stamped`, resets are Anthropic's timestamps, rounded up to the
/// second on a clock `stamped` seconds into one, read after the latency.
pub(super) struct Sliding {
    pub(super) per_window: usize,
    pub(super) window: f64,
    pub(super) tokens: bool,
    pub(super) minute_headers: bool,
    pub(super) stamped: Option<f64>,
    pub(super) log: VecDeque<(f64, f64)>,
    pub(super) counted: f64,
}

impl Sliding {
    pub(super) fn requests(per_window: usize, window: f64) -> Sliding {
        Sliding {
            per_window,
            window,
            tokens: false,
            minute_headers: false,
            stamped: None,
            log: VecDeque::new(),
            counted: 0.0,
        }
    }

    pub(super) fn usage(per_window: usize, window: f64, minute_headers: bool) -> Sliding {
        Sliding {
            tokens: true,
            minute_headers,
            ..Sliding::requests(per_window, window)
        }
    }

    /// What went in the last `span` seconds (forgetting what is older
    /// than both the window and a minute).
    pub(super) fn used(&mut self, now: f64, span: f64) -> f64 {
        let kept = self.window.max(60.0);
        while self.log.front().is_some_and(|(t, _)| t + kept <= now) {
            self.log.pop_front();
        }
        self.log
            .iter()
            .filter(|(t, _)| t + span > now)
            .map(|(_, u)| u)
            .sum()
    }

    pub(super) fn headers(&mut self, now: f64, read: f64) -> RateLimits {
        let (span, limit) = if self.minute_headers {
            (60.0, self.per_window as f64 * 60.0 / self.window)
        } else {
            (self.window, self.per_window as f64)
        };
        let used = self.used(now, span);
        let reset = self.log.back().map_or(0.0, |(t, _)| t + span - now);
        let mut q = quota(limit, limit - used, reset);
        if let Some(phase) = self.stamped {
            let end = (phase + now + reset).ceil() - phase;
            q.reset = Some(Duration::from_secs_f64((end - read).max(0.0)));
            q.reset_from_arrival = true;
            q.reset_resolution = Duration::from_secs(1);
        }
        if self.tokens {
            RateLimits {
                tokens: q,
                ..RateLimits::default()
            }
        } else {
            RateLimits {
                requests: q,
                ..RateLimits::default()
            }
        }
    }
}

impl Provider for Sliding {
    fn admit(&mut self, now: f64, request: &Request) -> Answer {
        let needed = if self.tokens {
            request.input as f64
        } else {
            1.0
        };
        let used = self.used(now, self.window);
        let limit = self.per_window as f64;
        if used + needed > limit {
            let mut freed = 0.0;
            let oldest = self
                .log
                .iter()
                .filter(|(t, _)| t + self.window > now)
                .find(|(_, u)| {
                    freed += u;
                    used - freed + needed <= limit
                })
                .map_or(now, |(t, _)| *t);
            let limits = self.headers(now, now);
            return Answer::of(limits, Err(oldest + self.window - now));
        }
        if !self.tokens {
            self.log.push_back((now, 1.0));
        }
        let read = now + if self.stamped.is_some() { LATENCY } else { 0.0 };
        let limits = self.headers(now, read);
        Answer::of(limits, Ok(()))
    }

    fn complete(&mut self, now: f64, request: &Request) -> Option<RateLimits> {
        if !self.tokens {
            return None;
        }
        self.log.push_back((now, request.used()));
        self.counted += request.used();
        Some(self.headers(now, now))
    }

    fn counted(&self) -> f64 {
        self.counted
    }
}

/// A bucket refilled continuously at `per_minute / 60` a second, up to
/// `capacity`; its headers state the per-minute figure with what the bucket
/// holds as `remaining` (the mock provider's minute scale), or, when
/// `relative`, hold the whole minute as real OpenAI and Groq buckets do.
#[derive(Clone)]
pub(super) struct Bucket {
    pub(super) per_minute: f64,
    pub(super) capacity: f64,
    pub(super) level: f64,
    pub(super) updated: f64,
}

impl Bucket {
    pub(super) fn new(per_minute: f64, capacity: f64) -> Bucket {
        Bucket {
            per_minute,
            capacity,
            level: capacity,
            updated: 0.0,
        }
    }

    pub(super) fn rate(&self) -> f64 {
        self.per_minute / 60.0
    }

    /// Seconds until `cost` fits at `now` (refilling first).
    pub(super) fn wait(&mut self, now: f64, cost: f64) -> f64 {
        self.level = (self.level + (now - self.updated) * self.rate()).min(self.capacity);
        self.updated = now;
        ((cost - self.level) / self.rate()).max(0.0)
    }

    pub(super) fn quota(&self, stated: f64) -> Quota {
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
/// requests limit, a tokens limit, or both. Tokens are charged at
/// admission, `max_tokens` in full. The figures are those at admission,
/// or with `at_answer` those when the answer is done (refilled since, and
/// less what was admitted meanwhile), as bench/other_provider.py states
/// them. With `refund`, the tokens an answer did not use are given back
/// when it is done, as Anthropic's output limit is "estimated based on
/// max_tokens at the beginning of each request and adjusted at the end".
pub(super) struct Buckets {
    pub(super) requests: Option<Bucket>,
    pub(super) tokens: Option<Bucket>,
    pub(super) counted: f64,
    pub(super) at_answer: bool,
    pub(super) refund: bool,
}

impl Buckets {
    pub(super) fn new(requests: Option<Bucket>, tokens: Option<Bucket>) -> Buckets {
        Buckets {
            requests,
            tokens,
            counted: 0.0,
            at_answer: false,
            refund: false,
        }
    }

    pub(super) fn limits(&self) -> RateLimits {
        RateLimits {
            requests: self
                .requests
                .as_ref()
                .map_or_else(Quota::default, |b| b.quota(b.per_minute)),
            tokens: self
                .tokens
                .as_ref()
                .map_or_else(Quota::default, |b| b.quota(b.per_minute)),
            ..RateLimits::default()
        }
    }
}

impl Provider for Buckets {
    fn admit(&mut self, now: f64, request: &Request) -> Answer {
        let tokens = request.reserved();
        let mut all: Vec<(&mut Bucket, f64)> = self
            .requests
            .iter_mut()
            .map(|b| (b, 1.0))
            .chain(self.tokens.iter_mut().map(|b| (b, tokens)))
            .collect();
        let outcome = charge(&mut all, now);
        if outcome.is_ok() {
            self.counted += tokens;
        }
        Answer::of(self.limits(), outcome)
    }

    fn complete(&mut self, now: f64, request: &Request) -> Option<RateLimits> {
        for bucket in self.requests.iter_mut().chain(self.tokens.iter_mut()) {
            bucket.wait(now, 0.0);
        }
        if let Some(tokens) = self.tokens.as_mut().filter(|_| self.refund) {
            let unused = request.reserved() - request.used();
            tokens.level = (tokens.level + unused).min(tokens.capacity);
            self.counted -= unused;
        }
        self.at_answer.then(|| self.limits())
    }

    fn counted(&self) -> f64 {
        self.counted
    }
}

/// The whole minute's limit given back at each wall-clock minute; the
/// clock starts `phase` seconds into a minute.
pub(super) struct Fixed {
    pub(super) limit: f64,
    pub(super) used: f64,
    pub(super) minute: f64,
    pub(super) phase: f64,
}

impl Provider for Fixed {
    fn admit(&mut self, now: f64, _: &Request) -> Answer {
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
pub(super) struct Daily {
    pub(super) requests: Bucket,
    pub(super) tokens: Bucket,
}

impl Provider for Daily {
    fn admit(&mut self, now: f64, request: &Request) -> Answer {
        let outcome = charge(
            &mut [
                (&mut self.requests, 1.0),
                (&mut self.tokens, request.reserved()),
            ],
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
/// the second (read when the answer arrives, `latency` later). Output is
/// charged `max_tokens` at admission.
pub(super) struct Anthropic {
    pub(super) requests: Bucket,
    pub(super) input: Bucket,
    pub(super) output: Bucket,
    pub(super) latency: f64,
}

impl Provider for Anthropic {
    fn admit(&mut self, now: f64, request: &Request) -> Answer {
        let outcome = charge(
            &mut [
                (&mut self.requests, 1.0),
                (&mut self.input, request.input as f64),
                (
                    &mut self.output,
                    request.max_output.unwrap_or(OUTPUT) as f64,
                ),
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
                reset_resolution: Duration::from_secs(1),
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
