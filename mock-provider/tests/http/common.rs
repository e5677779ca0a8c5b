//! Helpers shared by the HTTP tests: a client that returns status, headers
//! and JSON together, and the recorded provider responses to compare with.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

/// An HTTP client. In a workspace build reqwest is compiled with rustls but
/// no crypto backend of its own (the root crate picks ring), so one must be
/// installed before a client is built; in this crate alone it is harmless.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no header {name}"))
    }
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Answer {
    let mut request = client.post(url).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request failed");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.expect("body is not JSON");
    Answer {
        status,
        headers,
        body,
    }
}

pub fn chat_body(text: &str) -> Value {
    json!({"model": "gpt-test", "messages": [{"role": "user", "content": text}]})
}

pub fn anthropic_body(text: &str) -> Value {
    json!({"model": "claude-test", "max_tokens": 100, "messages": [{"role": "user", "content": text}]})
}

pub const ANTHROPIC_HEADERS: &[(&str, &str)] = &[("anthropic-version", "2023-06-01")];

/// A recorded response from `tests/fixtures`.
pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The structure of a JSON value: its keys all the way down, the first
/// element standing for each array, and the kind of each leaf.
pub fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// Asserts that the answer has the recorded response's status, body shape
/// and header names.
pub fn assert_like_fixture(answer: &Answer, name: &str) {
    let recorded = fixture(name);
    assert_eq!(
        u64::from(answer.status),
        recorded["status"].as_u64().unwrap()
    );
    assert_eq!(
        shape(&answer.body),
        shape(&recorded["body"]),
        "body shape differs from {name}"
    );
    for header in recorded["headers"].as_object().unwrap().keys() {
        assert!(
            answer.headers.contains_key(header.as_str()),
            "missing header {header}"
        );
    }
}

/// A Go-style duration as OpenAI sends it ("12ms", "6m0s", "1m26.4s",
/// "2h0m0s"); `None` for anything else.
pub fn go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut secs = 0.0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..digits].parse().ok()?;
        let unit_end = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .map_or(rest.len(), |i| digits + i);
        secs += value
            * match &rest[digits..unit_end] {
                "h" => 3600.0,
                "m" => 60.0,
                "s" => 1.0,
                "ms" => 0.001,
                _ => return None,
            };
        rest = &rest[unit_end..];
    }
    (!text.is_empty()).then(|| Duration::from_secs_f64(secs))
}

/// The six `x-ratelimit-*` headers, as (limit, remaining, reset) for
/// requests then tokens; panics unless the numbers are whole and the
/// resets Go-style durations.
pub fn openai_limits(answer: &Answer) -> [(u64, u64, Duration); 2] {
    ["requests", "tokens"].map(|name| {
        let number = |header: String| -> u64 {
            let text = answer.header(&header);
            text.parse().unwrap_or_else(|_| panic!("{header}: {text}"))
        };
        let reset = answer.header(&format!("x-ratelimit-reset-{name}"));
        (
            number(format!("x-ratelimit-limit-{name}")),
            number(format!("x-ratelimit-remaining-{name}")),
            go_duration(reset).unwrap_or_else(|| panic!("reset-{name}: {reset}")),
        )
    })
}

/// The `anthropic-ratelimit-*` trios for requests, tokens, input tokens
/// and output tokens, as (limit, remaining, reset time); panics unless the
/// resets are RFC 3339 UTC timestamps in whole seconds.
pub fn anthropic_limits(answer: &Answer) -> [(u64, u64, DateTime<Utc>); 4] {
    ["requests", "tokens", "input-tokens", "output-tokens"].map(|name| {
        let prefix = format!("anthropic-ratelimit-{name}");
        let number = |suffix: &str| -> u64 {
            answer
                .header(&format!("{prefix}-{suffix}"))
                .parse()
                .unwrap()
        };
        let reset = answer.header(&format!("{prefix}-reset"));
        assert!(
            reset.len() == 20 && reset.ends_with('Z'),
            "{prefix}-reset: {reset}"
        );
        let at = DateTime::parse_from_rfc3339(reset)
            .unwrap_or_else(|e| panic!("{prefix}-reset: {reset}: {e}"))
            .with_timezone(&Utc);
        (number("limit"), number("remaining"), at)
    })
}
