//! What a provider's response headers say about its rate limits and about
//! retrying: OpenAI's `x-ratelimit-*` (resets as durations such as `12ms`,
//! `6m0s`, `1m26.4s`; Groq sends the same names, its requests trio per
//! day), Anthropic's `anthropic-ratelimit-*` for requests, tokens, input
//! tokens and output tokens (resets as RFC 3339 timestamps), `retry-after`
//! (seconds or an HTTP date), `retry-after-ms` and `x-should-retry`.
//!
//! Pure parsing: a header map and the current time in, values out. Every
//! value is bounded, since a server we do not control may send anything:
//! a wait is capped at [`MAX_WAIT`], a reset at [`MAX_RESET`], a count
//! saturates, and what does not parse is ignored.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

/// The longest a provider can make us wait in one go (`retry-after`).
pub const MAX_WAIT: Duration = Duration::from_secs(120);
/// The longest reset a header can report: a day, the longest window a
/// provider states (per-day request limits).
pub const MAX_RESET: Duration = Duration::from_secs(86_400);

/// One limit as a response stated it: its size, what is left of it and
/// how long until it is whole again.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quota {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset: Option<Duration>,
    /// The reset was a timestamp (Anthropic's), so it counts from when the
    /// answer was read; a duration (OpenAI's) counts from when the server
    /// answered, about when the request went out.
    pub reset_from_arrival: bool,
    /// How coarse the reset is: a timestamp in whole seconds is rounded up
    /// to the second, so the limit may be whole again up to this much
    /// sooner. Zero for an exact reset.
    pub reset_resolution: Duration,
}

/// The rate-limit state a response reported, as far as it said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimits {
    pub requests: Quota,
    /// Input and output tokens together (for Anthropic, the most
    /// restrictive of its token limits).
    pub tokens: Quota,
    /// Anthropic's input-token limit (`anthropic-ratelimit-input-tokens-*`).
    pub input_tokens: Quota,
    /// Anthropic's output-token limit (`anthropic-ratelimit-output-tokens-*`).
    pub output_tokens: Quota,
    /// How long the provider asked us to wait (`retry-after-ms`, else `retry-after`).
    pub retry_after: Option<Duration>,
    /// The provider's own verdict on retrying (`x-should-retry`), when given.
    pub should_retry: Option<bool>,
}

/// OpenAI's limit, remaining and reset header names for one resource,
/// spelled out at compile time: they are read on every answer.
macro_rules! openai {
    ($resource:literal) => {
        [
            concat!("x-ratelimit-limit-", $resource),
            concat!("x-ratelimit-remaining-", $resource),
            concat!("x-ratelimit-reset-", $resource),
        ]
    };
}

/// Anthropic's limit, remaining and reset header names for one resource.
macro_rules! anthropic {
    ($resource:literal) => {
        [
            concat!("anthropic-ratelimit-", $resource, "-limit"),
            concat!("anthropic-ratelimit-", $resource, "-remaining"),
            concat!("anthropic-ratelimit-", $resource, "-reset"),
        ]
    };
}

impl RateLimits {
    /// Reads every header we understand; unknown or malformed values are
    /// ignored, because a bad header must never fail a good answer.
    pub fn from_headers(headers: &HeaderMap, now: DateTime<Utc>) -> RateLimits {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let number = |name: &str| text(name).and_then(parse_count);
        let quota = |openai: Option<[&str; 3]>, anthropic: [&str; 3]| {
            let [limit, remaining, reset] = anthropic;
            let openai_reset = openai
                .and_then(|[.., reset]| text(reset))
                .and_then(parse_duration);
            // A duration counts from when the server answered; Anthropic's
            // timestamp is read only when there is no duration.
            let (reset, reset_from_arrival, reset_resolution) = match openai_reset {
                Some(d) => (Some(d), false, Duration::ZERO),
                None => match text(reset).and_then(|v| until_timestamp(v, now)) {
                    Some((at, resolution)) => (Some(at), true, resolution),
                    None => (None, false, Duration::ZERO),
                },
            };
            Quota {
                limit: openai
                    .and_then(|[limit, ..]| number(limit))
                    .or_else(|| number(limit)),
                remaining: openai
                    .and_then(|[_, remaining, _]| number(remaining))
                    .or_else(|| number(remaining)),
                reset_from_arrival,
                reset_resolution,
                reset: reset.map(|d| d.min(MAX_RESET)),
            }
        };
        RateLimits {
            requests: quota(Some(openai!("requests")), anthropic!("requests")),
            tokens: quota(Some(openai!("tokens")), anthropic!("tokens")),
            input_tokens: quota(None, anthropic!("input-tokens")),
            output_tokens: quota(None, anthropic!("output-tokens")),
            retry_after: text("retry-after-ms")
                .and_then(|v| v.parse::<f64>().ok())
                .and_then(|ms| seconds(ms / 1000.0))
                .or_else(|| text("retry-after").and_then(|v| parse_retry_after(v, now)))
                .map(|d| d.min(MAX_WAIT)),
            should_retry: match text("x-should-retry") {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            },
        }
    }

    /// Every limit the response stated, with what it counts.
    pub fn quotas(&self) -> [(&Quota, Counted); 4] {
        [
            (&self.requests, Counted::Requests),
            (&self.tokens, Counted::Tokens),
            (&self.input_tokens, Counted::InputTokens),
            (&self.output_tokens, Counted::OutputTokens),
        ]
    }

    /// The longest reset among the limits that are exhausted, if any: how
    /// long a 429 caused by them will last.
    pub fn exhausted_reset(&self) -> Option<Duration> {
        self.quotas()
            .into_iter()
            .filter(|(q, _)| q.remaining == Some(0))
            .filter_map(|(q, _)| q.reset)
            .max()
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Requests,
    /// Input and output tokens together.
    Tokens,
    InputTokens,
    OutputTokens,
}

/// A count as a header writes it: digits (saturating at `u64::MAX` when
/// there are too many) or a non-negative number (its whole part).
pub fn parse_count(text: &str) -> Option<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(text.parse::<u64>().unwrap_or(u64::MAX));
    }
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| value.min(u64::MAX as f64) as u64)
}

/// A number of seconds as a duration; `None` when negative or not finite,
/// and at most a century, so no header can overflow a `Duration`.
fn seconds(value: f64) -> Option<Duration> {
    const CENTURY: f64 = 100.0 * 365.25 * 86_400.0;
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value.min(CENTURY)))
}

/// Parses OpenAI's reset durations: `12ms`, `1s`, `6m0s`, `1m26.4s`, `2h0m0s`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (scale, unit_len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else if rest.starts_with("us") || rest.starts_with("µs") {
            (0.000_001, rest.chars().take(2).map(char::len_utf8).sum())
        } else if rest.starts_with("ns") {
            (0.000_000_001, 2)
        } else if rest.starts_with('h') {
            (3600.0, 1)
        } else if rest.starts_with('m') {
            (60.0, 1)
        } else if rest.starts_with('s') {
            (1.0, 1)
        } else {
            return None;
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    seconds(total)
}

/// `retry-after`: delay-seconds (possibly fractional) or an HTTP date.
pub fn parse_retry_after(text: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(value) = text.parse::<f64>() {
        return seconds(value);
    }
    let date = DateTime::parse_from_rfc2822(text).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Anthropic's resets: an RFC 3339 timestamp; a time already past is zero.
/// With it, its resolution: a second when it has no fraction of one (the
/// server rounded it up to the second), else none.
fn until_timestamp(text: &str, now: DateTime<Utc>) -> Option<(Duration, Duration)> {
    let at = DateTime::parse_from_rfc3339(text).ok()?;
    let resolution = if at.timestamp_subsec_nanos() == 0 {
        Duration::from_secs(1)
    } else {
        Duration::ZERO
    };
    let until = (at.with_timezone(&Utc) - now)
        .to_std()
        .unwrap_or(Duration::ZERO);
    Some((until, resolution))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn quota(limit: u64, remaining: u64, reset: Duration) -> Quota {
        Quota {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(reset),
            reset_from_arrival: false,
            reset_resolution: Duration::ZERO,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The headers of a recorded response in ../shared/fixtures/provider-responses/.
    fn fixture_headers(name: &str) -> HeaderMap {
        let json = crate::execute::provider::fixture(name);
        let mut headers = HeaderMap::new();
        for (k, v) in json["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn openai_durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("12ms"), Some(ms(12)));
        assert_eq!(parse_duration("1ms"), Some(ms(1)));
        assert_eq!(parse_duration("1s"), Some(ms(1000)));
        assert_eq!(parse_duration("6m0s"), Some(ms(360_000)));
        assert_eq!(parse_duration("1m26.4s"), Some(ms(86_400)));
        assert_eq!(parse_duration("2h0m0s"), Some(ms(7_200_000)));
        assert_eq!(parse_duration("0.5s"), Some(ms(500)));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn retry_after_seconds_or_date() {
        let now = at("2024-10-15T09:48:23Z");
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("0.25", now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after("Tue, 15 Oct 2024 09:48:33 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Tue, 15 Oct 2024 09:48:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("later", now), None);
    }

    #[test]
    fn openai_fixture_headers() {
        let limits =
            RateLimits::from_headers(&fixture_headers("openai_chat_completion.json"), Utc::now());
        assert_eq!(
            limits,
            RateLimits {
                requests: quota(5000, 4999, Duration::from_millis(12)),
                tokens: quota(800_000, 799_986, Duration::from_millis(1)),
                ..RateLimits::default()
            }
        );
    }

    #[test]
    fn anthropic_fixture_headers() {
        let limits = RateLimits::from_headers(
            &fixture_headers("anthropic_message.json"),
            at("2024-10-15T09:48:23Z"),
        );
        let from_arrival = |q: Quota| Quota {
            reset_from_arrival: true,
            reset_resolution: Duration::from_secs(1),
            ..q
        };
        assert_eq!(
            limits.requests,
            from_arrival(quota(50, 49, Duration::from_secs(47)))
        );
        assert_eq!(
            limits.tokens,
            from_arrival(quota(40_000, 40_000, Duration::ZERO))
        );
        assert_eq!(limits.input_tokens, Quota::default());
    }

    /// Anthropic's separate input and output limits, as the mock provider
    /// sends them beside the requests and combined tokens ones.
    #[test]
    fn anthropic_input_and_output_token_limits() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("anthropic-ratelimit-input-tokens-limit", "40000"),
            ("anthropic-ratelimit-input-tokens-remaining", "39500"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2024-10-15T09:48:24Z",
            ),
            ("anthropic-ratelimit-output-tokens-limit", "8000"),
            ("anthropic-ratelimit-output-tokens-remaining", "0"),
            (
                "anthropic-ratelimit-output-tokens-reset",
                "2024-10-15T09:48:29Z",
            ),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let limits = RateLimits::from_headers(&headers, at("2024-10-15T09:48:23.500Z"));
        assert_eq!(limits.input_tokens.limit, Some(40_000));
        assert_eq!(limits.input_tokens.remaining, Some(39_500));
        assert_eq!(limits.input_tokens.reset, Some(Duration::from_millis(500)));
        assert!(limits.input_tokens.reset_from_arrival);
        assert_eq!(limits.input_tokens.reset_resolution, Duration::from_secs(1));
        assert_eq!(
            (limits.output_tokens.limit, limits.output_tokens.remaining),
            (Some(8_000), Some(0))
        );
        assert_eq!(limits.exhausted_reset(), Some(Duration::from_millis(5_500)));
        assert_eq!(limits.tokens, Quota::default());
    }

    /// Groq: the requests trio describes the day, its reset minutes long.
    #[test]
    fn groq_daily_requests_and_minute_tokens() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-ratelimit-limit-requests", "14400"),
            ("x-ratelimit-remaining-requests", "14370"),
            ("x-ratelimit-reset-requests", "2m59.56s"),
            ("x-ratelimit-limit-tokens", "6000"),
            ("x-ratelimit-remaining-tokens", "5997"),
            ("x-ratelimit-reset-tokens", "30ms"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let limits = RateLimits::from_headers(&headers, Utc::now());
        assert_eq!(
            limits.requests,
            quota(14_400, 14_370, Duration::from_millis(179_560))
        );
        assert_eq!(
            limits.tokens,
            quota(6_000, 5_997, Duration::from_millis(30))
        );
        assert!(!limits.requests.reset_from_arrival);
    }

    /// Azure's Responses API answers `-1` for limits it does not state: no
    /// limit and nothing remaining to learn from, and no spent limit to
    /// wait on.
    #[test]
    fn azure_minus_one_says_nothing() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-ratelimit-limit-tokens", "-1"),
            ("x-ratelimit-remaining-tokens", "-1"),
            ("x-ratelimit-reset-tokens", "0"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let limits = RateLimits::from_headers(&headers, Utc::now());
        assert_eq!((limits.tokens.limit, limits.tokens.remaining), (None, None));
        assert_eq!(limits.exhausted_reset(), None);
    }

    #[test]
    fn retry_after_ms_wins_and_should_retry_is_read() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        headers.insert("x-should-retry", HeaderValue::from_static("false"));
        let limits = RateLimits::from_headers(&headers, Utc::now());
        assert_eq!(limits.retry_after, Some(Duration::from_millis(1500)));
        assert_eq!(limits.should_retry, Some(false));
    }

    #[test]
    fn exhausted_reset_uses_the_empty_limits() {
        let limits = RateLimits {
            requests: quota(50, 0, Duration::from_secs(2)),
            tokens: quota(1000, 10, Duration::from_secs(9)),
            ..RateLimits::default()
        };
        assert_eq!(limits.exhausted_reset(), Some(Duration::from_secs(2)));
        assert_eq!(RateLimits::default().exhausted_reset(), None);
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use reqwest::header::{HeaderName, HeaderValue};

    const NAMES: &[&str] = &[
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-output-tokens-limit",
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
    ];

    /// Header values a server might send: numbers of any size and sign,
    /// durations, dates, and anything printable.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<f64>().prop_map(|x| x.to_string()),
            any::<i128>().prop_map(|x| x.to_string()),
            "[0-9]{1,40}(\\.[0-9]{0,10})?(ns|us|ms|s|m|h)?",
            "([0-9]{1,25}(h|m|s|ms))+",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z",
            "[ -~]{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_header_values_give_bounded_limits(
            values in proptest::collection::vec((0..NAMES.len(), value()), 0..12)
        ) {
            let mut headers = HeaderMap::new();
            for (i, v) in &values {
                if let Ok(v) = HeaderValue::from_str(v) {
                    headers.insert(HeaderName::from_static(NAMES[*i]), v);
                }
            }
            let limits = RateLimits::from_headers(&headers, Utc::now());
            prop_assert!(limits.retry_after.is_none_or(|d| d <= MAX_WAIT));
            for (quota, _) in limits.quotas() {
                prop_assert!(quota.reset.is_none_or(|d| d <= MAX_RESET));
            }
            let _ = limits.exhausted_reset();
        }

        #[test]
        fn any_text_parses_as_a_duration_or_not_at_all(text in "\\PC{0,60}") {
            let _ = parse_duration(&text);
            let _ = parse_retry_after(&text, Utc::now());
            let _ = parse_count(&text);
        }
    }

    #[test]
    fn hostile_values_saturate_or_are_ignored() {
        assert_eq!(parse_count("99999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_count("-5"), None);
        assert_eq!(parse_count("NaN"), None);
        assert_eq!(parse_count("50.0"), Some(50));
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-ratelimit-reset-requests", "99999999999999999999s"),
            ("retry-after-ms", "1e23"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let limits = RateLimits::from_headers(&headers, Utc::now());
        assert_eq!(limits.retry_after, Some(MAX_WAIT));
        assert_eq!(limits.requests.reset, Some(MAX_RESET));
    }
}
