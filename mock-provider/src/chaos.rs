//! Chaos mode: which otherwise-successful chat answers turn hostile
//! ([`crate::Config::chaos`]), which of the six kinds each becomes, and the
//! hostile responses themselves, in the API's own shapes.
//!
//! The draw for a request depends only on the seed and the request's
//! arrival number, so a run repeats whatever order answers finish in.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::headers::put;
use crate::random::SplitMix64;
use crate::state::Api;

/// Salts the seed, so chaos draws are independent of other seeded choices.
const SALT: u64 = 0x4348_414F_5300_0000;

/// How long a stalled body stalls before the connection is dropped: far
/// beyond any sane client timeout.
const STALL: Duration = Duration::from_secs(120);

/// A gateway's error page, as a proxy in front of an API serves it.
const GATEWAY_PAGE: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// The kinds of hostile answer, each counted in
/// [`crate::Stats::by_chaos`] under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    TruncatedJson,
    WrongTypes,
    HugeHeaders,
    ResetMidBody,
    StalledBody,
    HtmlError,
}

const KINDS: [Kind; 6] = [
    Kind::TruncatedJson,
    Kind::WrongTypes,
    Kind::HugeHeaders,
    Kind::ResetMidBody,
    Kind::StalledBody,
    Kind::HtmlError,
];

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::TruncatedJson => "truncated-json",
            Kind::WrongTypes => "wrong-types",
            Kind::HugeHeaders => "huge-headers",
            Kind::ResetMidBody => "reset-mid-body",
            Kind::StalledBody => "stalled-body",
            Kind::HtmlError => "html-error",
        }
    }
}

/// A hostile answer to give: its kind, and a number that picks among the
/// kind's variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chaos {
    pub(crate) kind: Kind,
    variant: u64,
}

/// Whether the answer to the `arrival`-th request turns hostile, at `rate`.
pub(crate) fn draw(seed: u64, rate: f64, arrival: u64) -> Option<Chaos> {
    if rate <= 0.0 {
        return None;
    }
    let mut rng = SplitMix64::for_index(seed, SALT, arrival);
    (rng.next_f64() < rate).then(|| Chaos {
        kind: KINDS[(rng.next_u64() % KINDS.len() as u64) as usize],
        variant: rng.next_u64(),
    })
}

/// The hostile answer in place of `body`, all claiming status 200. The API
/// headers are added by the caller; [`spoil_headers`] comes after those.
pub(crate) fn response(chaos: Chaos, api: Api, body: Value) -> Response {
    let text = Bytes::from(body.to_string());
    let half = text.slice(..text.len() / 2);
    match chaos.kind {
        Kind::TruncatedJson => json_response(Body::from(half), None),
        Kind::WrongTypes => {
            let wrong = wrong_types(api, body, chaos.variant);
            json_response(Body::from(wrong.to_string()), None)
        }
        Kind::HugeHeaders => json_response(Body::from(text), None),
        Kind::ResetMidBody => json_response(cut_off(half, Duration::ZERO), Some(text.len())),
        Kind::StalledBody => json_response(cut_off(half, STALL), Some(text.len())),
        Kind::HtmlError => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            GATEWAY_PAGE,
        )
            .into_response(),
    }
}

/// A 200 JSON answer; `length` announces more bytes than `body` will send.
fn json_response(body: Body, length: Option<usize>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// Sends `part`, waits `pause`, then fails, which makes the server drop the
/// connection mid-body. The failure waits for at least one turn of the
/// runtime, so the server flushes the headers and `part` before it.
fn cut_off(part: Bytes, pause: Duration) -> Body {
    let failure = stream::once(async move {
        tokio::task::yield_now().await;
        tokio::time::sleep(pause).await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "chaos: cut off",
        ))
    });
    Body::from_stream(stream::iter([Ok(part)]).chain(failure))
}

/// Valid JSON that a careless client misreads: wrong types where numbers,
/// arrays and strings belong, or the reply's text missing altogether.
fn wrong_types(api: Api, mut body: Value, variant: u64) -> Value {
    match (api, variant % 4) {
        (Api::OpenAi, 0) => body["choices"] = json!("x"),
        (Api::OpenAi, 1) => body["choices"][0]["message"]["content"] = json!(42),
        (Api::OpenAi, 2) => body["usage"]["prompt_tokens"] = json!("lots"),
        (Api::OpenAi, _) => body["choices"] = json!([{"message": {}}]),
        (Api::Anthropic, 0) => body = json!({}),
        (Api::Anthropic, 1) => body["content"] = json!([]),
        (Api::Anthropic, 2) => {
            body["content"] =
                json!([{"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {}}]);
        }
        (Api::Anthropic, _) => body["usage"]["input_tokens"] = json!("lots"),
    }
    body
}

/// Replaces the rate-limit headers with values no careful client accepts:
/// numbers too large for any integer type, negative, NaN or not numbers,
/// and reset times that are no RFC 3339 timestamps.
pub(crate) fn spoil_headers(api: Api, headers: &mut HeaderMap) {
    let spoiled: &[(&str, &str)] = match api {
        Api::OpenAi => &[
            ("x-ratelimit-limit-requests", "NaN"),
            ("x-ratelimit-remaining-requests", "-5"),
            ("x-ratelimit-reset-requests", "99999999999999999999s"),
            ("x-ratelimit-limit-tokens", "abc"),
            ("x-ratelimit-remaining-tokens", "1e23"),
            ("x-ratelimit-reset-tokens", "-1s"),
            ("retry-after", "99999999999999999999"),
            ("retry-after-ms", "1e23"),
        ],
        Api::Anthropic => &[
            ("anthropic-ratelimit-requests-limit", "NaN"),
            ("anthropic-ratelimit-requests-remaining", "-5"),
            ("anthropic-ratelimit-requests-reset", "2024-13-45T25:61:00Z"),
            ("anthropic-ratelimit-tokens-remaining", "abc"),
            ("anthropic-ratelimit-tokens-reset", "soon"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "99999-01-01T00:00:00Z",
            ),
            ("retry-after", "1e23"),
        ],
    };
    for (name, value) in spoiled {
        put(headers, name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_repeat_per_arrival_and_cover_every_kind() {
        let draws: Vec<_> = (0..600).map(|n| draw(7, 0.5, n)).collect();
        assert_eq!(draws, (0..600).map(|n| draw(7, 0.5, n)).collect::<Vec<_>>());
        let hostile = draws.iter().flatten().count();
        assert!((250..350).contains(&hostile), "{hostile}");
        for kind in KINDS {
            assert!(draws.iter().flatten().any(|c| c.kind == kind), "{kind:?}");
        }
        assert!((0..100).all(|n| draw(7, 0.0, n).is_none()));
        assert!((0..100).all(|n| draw(7, 1.0, n).is_some()));
    }

    #[test]
    fn wrong_types_leave_no_text_where_a_client_looks() {
        let openai =
            json!({"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": 1}});
        let texts: Vec<Value> = (0..4)
            .map(|v| wrong_types(Api::OpenAi, openai.clone(), v))
            .collect();
        assert_eq!(texts[0]["choices"], "x");
        assert_eq!(texts[1]["choices"][0]["message"]["content"], 42);
        assert_eq!(texts[2]["usage"]["prompt_tokens"], "lots");
        assert_eq!(texts[3]["choices"], json!([{"message": {}}]));
        let anthropic =
            json!({"content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": 1}});
        let wrong = |v| wrong_types(Api::Anthropic, anthropic.clone(), v);
        assert_eq!(wrong(0), json!({}));
        assert_eq!(wrong(1)["content"], json!([]));
        assert_eq!(wrong(2)["content"][0]["type"], "tool_use");
        assert_eq!(wrong(3)["usage"]["input_tokens"], "lots");
    }
}
