//! The rate-limit headers of each API's dialect, read off a limiter
//! [`Snapshot`]: OpenAI's `x-ratelimit-*` with Go-style durations and
//! Anthropic's `anthropic-ratelimit-*` with RFC 3339 reset times; the
//! `retry-after` of a 429; and [`put`], which every header goes through.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::limiter::{Quota, Snapshot};

/// OpenAI's trios, `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`,
/// the resets as durations. Groq sends the same names, with the requests
/// trio describing its daily limit.
pub(crate) fn openai_quota(quota: &Snapshot, headers: &mut HeaderMap) {
    for (name, q) in [("requests", &quota.requests), ("tokens", &quota.tokens)] {
        put(headers, &format!("x-ratelimit-limit-{name}"), q.limit);
        put(
            headers,
            &format!("x-ratelimit-remaining-{name}"),
            q.remaining,
        );
        put(
            headers,
            &format!("x-ratelimit-reset-{name}"),
            format_duration(q.reset),
        );
    }
}

/// The wait a 429 asks for, rounded up so a client that waits it is never
/// early: whole seconds in `retry-after` for both APIs, and for OpenAI
/// also milliseconds in `retry-after-ms`, as OpenAI-compatible servers send.
pub(crate) fn retry_after(with_ms: bool, wait: Duration, headers: &mut HeaderMap) {
    let ms = wait.as_nanos().div_ceil(1_000_000);
    put(headers, "retry-after", ms.div_ceil(1000));
    if with_ms {
        put(headers, "retry-after-ms", ms);
    }
}

/// OpenAI's duration format, which is Go's: "12ms", "1s", "1m26.4s",
/// "2h0m0s". Rounded up to the millisecond so a client that waits the
/// stated time is never early.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_nanos().div_ceil(1_000_000);
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (hours, minutes, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms % 60_000);
    let seconds = if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{}.{:03}", ms / 1000, ms % 1000)
            .trim_end_matches('0')
            .to_owned()
    };
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// Anthropic's trios, `anthropic-ratelimit-{requests,tokens,input-tokens,
/// output-tokens}-{limit,remaining,reset}`, the resets as timestamps.
pub(crate) fn anthropic_quota(quota: &Snapshot, headers: &mut HeaderMap) {
    let trios = [
        ("requests", &quota.requests),
        ("tokens", &quota.tokens),
        ("input-tokens", &quota.input_tokens),
        ("output-tokens", &quota.output_tokens),
    ];
    for (name, q) in trios {
        let prefix = format!("anthropic-ratelimit-{name}");
        put(headers, &format!("{prefix}-limit"), q.limit);
        put(headers, &format!("{prefix}-remaining"), q.remaining);
        put(headers, &format!("{prefix}-reset"), reset_time(quota.at, q));
    }
}

/// When the limit is whole again, as RFC 3339 UTC rounded up to the second.
fn reset_time(now: SystemTime, quota: &Quota) -> String {
    let at = DateTime::<Utc>::from(now + quota.reset);
    let whole = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
    DateTime::from_timestamp(whole, 0)
        .unwrap_or(at)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sets a header; names and values come from this crate or from rules
/// checked when the server started, so an invalid one cannot occur.
pub(crate) fn put(headers: &mut HeaderMap, name: &str, value: impl ToString) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::try_from(name),
        HeaderValue::try_from(value.to_string()),
    ) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_openai_headers() {
        let ms = Duration::from_millis;
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_micros(300)), "1ms");
        assert_eq!(format_duration(ms(12)), "12ms");
        assert_eq!(format_duration(ms(999)), "999ms");
        assert_eq!(format_duration(ms(1000)), "1s");
        assert_eq!(format_duration(ms(1500)), "1.5s");
        assert_eq!(format_duration(ms(1_020)), "1.02s");
        assert_eq!(format_duration(ms(360_000)), "6m0s");
        assert_eq!(format_duration(ms(86_400)), "1m26.4s");
        assert_eq!(format_duration(ms(7_200_000)), "2h0m0s");
        assert_eq!(format_duration(ms(3_723_004)), "1h2m3.004s");
    }

    #[test]
    fn reset_is_rfc3339_rounded_up() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_728_985_703);
        let quota = |reset| Quota {
            limit: 50,
            remaining: 49,
            reset,
        };
        assert_eq!(
            reset_time(now, &quota(Duration::ZERO)),
            "2024-10-15T09:48:23Z"
        );
        assert_eq!(
            reset_time(now, &quota(Duration::from_millis(46_100))),
            "2024-10-15T09:49:10Z"
        );
    }
}
