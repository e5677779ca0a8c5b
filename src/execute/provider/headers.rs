//! What a provider's response headers say about its rate limits and about
//! retrying: OpenAI's `x-ratelimit-*` (resets as durations such as `12ms`,
//! `6m0s`, `1m26.4s`), Anthropic's `anthropic-ratelimit-*` (resets as RFC 3339
//! timestamps), `retry-after` (seconds or an HTTP date), `retry-after-ms` and
//! `x-should-retry`.
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

/// The rate-limit state a response reported, as far as it said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimits {
    pub requests_limit: Option<u64>,
    pub requests_remaining: Option<u64>,
    pub requests_reset: Option<Duration>,
    pub tokens_limit: Option<u64>,
    pub tokens_remaining: Option<u64>,
    pub tokens_reset: Option<Duration>,
    /// How long the provider asked us to wait (`retry-after-ms`, else `retry-after`).
    pub retry_after: Option<Duration>,
    /// The provider's own verdict on retrying (`x-should-retry`), when given.
    pub should_retry: Option<bool>,
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
        let reset = |openai: &str, anthropic: &str| {
            text(openai)
                .and_then(parse_duration)
                .or_else(|| text(anthropic).and_then(|v| until_timestamp(v, now)))
                .map(|d| d.min(MAX_RESET))
        };
        RateLimits {
            requests_limit: number("x-ratelimit-limit-requests")
                .or_else(|| number("anthropic-ratelimit-requests-limit")),
            requests_remaining: number("x-ratelimit-remaining-requests")
                .or_else(|| number("anthropic-ratelimit-requests-remaining")),
            requests_reset: reset(
                "x-ratelimit-reset-requests",
                "anthropic-ratelimit-requests-reset",
            ),
            tokens_limit: number("x-ratelimit-limit-tokens")
                .or_else(|| number("anthropic-ratelimit-tokens-limit")),
            tokens_remaining: number("x-ratelimit-remaining-tokens")
                .or_else(|| number("anthropic-ratelimit-tokens-remaining")),
            tokens_reset: reset(
                "x-ratelimit-reset-tokens",
                "anthropic-ratelimit-tokens-reset",
            ),
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

    /// The longest reset among the limits that are exhausted, if any: how
    /// long a 429 caused by them will last.
    pub fn exhausted_reset(&self) -> Option<Duration> {
        let requests = (self.requests_remaining == Some(0))
            .then_some(self.requests_reset)
            .flatten();
        let tokens = (self.tokens_remaining == Some(0))
            .then_some(self.tokens_reset)
            .flatten();
        requests.max(tokens)
    }
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
fn until_timestamp(text: &str, now: DateTime<Utc>) -> Option<Duration> {
    let at = DateTime::parse_from_rfc3339(text).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The headers of a recorded response in ../shared/fixtures/provider-responses/.
    fn fixture_headers(name: &str) -> HeaderMap {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/provider-responses")
                .join(name),
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
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
                requests_limit: Some(5000),
                requests_remaining: Some(4999),
                requests_reset: Some(Duration::from_millis(12)),
                tokens_limit: Some(800_000),
                tokens_remaining: Some(799_986),
                tokens_reset: Some(Duration::from_millis(1)),
                retry_after: None,
                should_retry: None,
            }
        );
    }

    #[test]
    fn anthropic_fixture_headers() {
        let limits = RateLimits::from_headers(
            &fixture_headers("anthropic_message.json"),
            at("2024-10-15T09:48:23Z"),
        );
        assert_eq!(limits.requests_limit, Some(50));
        assert_eq!(limits.requests_remaining, Some(49));
        assert_eq!(limits.requests_reset, Some(Duration::from_secs(47)));
        assert_eq!(limits.tokens_limit, Some(40_000));
        assert_eq!(limits.tokens_remaining, Some(40_000));
        assert_eq!(limits.tokens_reset, Some(Duration::ZERO));
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
            requests_remaining: Some(0),
            requests_reset: Some(Duration::from_secs(2)),
            tokens_remaining: Some(10),
            tokens_reset: Some(Duration::from_secs(9)),
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
            prop_assert!(limits.requests_reset.is_none_or(|d| d <= MAX_RESET));
            prop_assert!(limits.tokens_reset.is_none_or(|d| d <= MAX_RESET));
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
        assert_eq!(limits.requests_reset, Some(MAX_RESET));
    }
}
