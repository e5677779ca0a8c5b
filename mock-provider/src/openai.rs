//! OpenAI Chat Completions (`POST /v1/chat/completions`) and its Azure
//! twin (`POST /openai/deployments/{deployment}/chat/completions`): request
//! parsing, the response and error bodies, and OpenAI's rate-limit headers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::call::{Call, Failure, put};
use crate::limiter::{Resource, Snapshot};
use crate::state::{Api, ServerState};
use crate::text::{Content, Stop, prompt_tokens, shape_reply};

/// Tokens charged against the limit for the reply when `max_tokens` is absent.
const DEFAULT_CHARGED_COMPLETION: u64 = 16;
const MAX_CHOICES: u64 = 128;

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<ChatMessage>>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    stream: Option<bool>,
    n: Option<u64>,
    stop: Option<StopParam>,
}

#[derive(Deserialize)]
struct ChatMessage {
    role: String,
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StopParam {
    One(String),
    Many(Vec<String>),
}

pub(crate) async fn chat(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call::new(&state, Api::OpenAi);
    match state.check_key(bearer(&headers)) {
        Ok(()) => complete(call, &body, None).await,
        Err(failure) => call.fail(failure),
    }
}

/// The key of `Authorization: Bearer KEY`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Azure names the model by deployment in the path, wants an `api-version`
/// query and takes its key in `api-key`; the bodies are OpenAI's.
pub(crate) async fn azure_chat(
    State(state): State<Arc<ServerState>>,
    Path(deployment): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call::new(&state, Api::OpenAi);
    let key = headers.get("api-key").and_then(|v| v.to_str().ok());
    if let Err(failure) = state.check_key(key) {
        return call.fail(failure);
    }
    if !query.contains_key("api-version") {
        let message =
            "The api-version query parameter (?api-version=) is required for all requests.";
        return call.fail(Failure::invalid_param(
            message,
            "api-version",
            "MissingApiVersionParameter",
        ));
    }
    complete(call, &body, Some(deployment)).await
}

/// A request that passed OpenAI's checks.
struct Valid {
    model: String,
    messages: Vec<ChatMessage>,
    max_tokens: Option<u64>,
    n: u64,
    stops: Vec<String>,
}

async fn complete(mut call: Call<'_>, body: &[u8], deployment: Option<String>) -> Response {
    let valid = match call
        .parse(body)
        .and_then(|request| validate(request, deployment))
    {
        Ok(valid) => valid,
        Err(failure) => return call.fail(failure),
    };
    let texts: Vec<String> = valid
        .messages
        .iter()
        .map(|m| m.content.as_ref().map(Content::text).unwrap_or_default())
        .collect();
    let prompt = prompt_tokens(texts.iter().map(String::as_str));
    let echo = valid
        .messages
        .iter()
        .zip(&texts)
        .rev()
        .find(|(m, _)| m.role == "user")
        .map(|(_, t)| t.clone());
    let charge = prompt + valid.max_tokens.unwrap_or(DEFAULT_CHARGED_COMPLETION);
    let scripted = match call.admit(&texts.join("\n"), charge).await {
        Ok(scripted) => scripted,
        Err(failure) => return call.fail(failure),
    };
    let reply = shape_reply(
        call.state.reply_text(scripted, echo.unwrap_or_default()),
        valid.max_tokens,
        &valid.stops,
    );
    let finish_reason = if reply.stop == Stop::MaxTokens {
        "length"
    } else {
        "stop"
    };
    let choices: Vec<Value> = (0..valid.n)
        .map(|index| {
            json!({
                "index": index,
                "message": {"role": "assistant", "content": reply.text, "refusal": null, "annotations": []},
                "finish_reason": finish_reason,
            })
        })
        .collect();
    let completion = reply.tokens * valid.n;
    let body = json!({
        "id": call.state.id("chatcmpl-", 29, false),
        "object": "chat.completion",
        "created": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "model": valid.model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": null,
    });
    call.succeed(body, prompt, completion)
}

/// The checks OpenAI makes before anything else, with its messages.
fn validate(request: ChatRequest, deployment: Option<String>) -> Result<Valid, Failure> {
    let model = request
        .model
        .or(deployment)
        .ok_or_else(|| Failure::invalid("you must provide a model parameter"))?;
    let messages = request.messages.ok_or_else(|| {
        Failure::invalid_param(
            "Missing required parameter: 'messages'.",
            "messages",
            "missing_required_parameter",
        )
    })?;
    if messages.is_empty() {
        let message = "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.";
        return Err(Failure::invalid_param(message, "messages", "empty_array"));
    }
    if request.stream == Some(true) {
        let message = "Unsupported value: 'stream' does not support true with mock-provider.";
        return Err(Failure::invalid_param(
            message,
            "stream",
            "unsupported_value",
        ));
    }
    for (param, value) in [
        ("max_tokens", request.max_tokens),
        ("max_completion_tokens", request.max_completion_tokens),
    ] {
        if value == Some(0) {
            let message = format!(
                "Invalid '{param}': integer below minimum value. Expected a value >= 1, but got 0 instead."
            );
            return Err(Failure::invalid_param(
                message,
                param,
                "integer_below_min_value",
            ));
        }
    }
    let n = request.n.unwrap_or(1);
    if !(1..=MAX_CHOICES).contains(&n) {
        let message = format!(
            "Invalid 'n': expected a value between 1 and {MAX_CHOICES}, but got {n} instead."
        );
        return Err(Failure::invalid_param(message, "n", "invalid_value"));
    }
    let stops = match request.stop {
        Some(StopParam::One(stop)) => vec![stop],
        Some(StopParam::Many(stops)) => stops,
        None => Vec::new(),
    };
    let max_tokens = request.max_completion_tokens.or(request.max_tokens);
    Ok(Valid {
        model,
        messages,
        max_tokens,
        n,
        stops,
    })
}

/// OpenAI's error body, `{"error": {"message", "type", "param", "code"}}`.
pub(crate) fn error_body(failure: &Failure) -> (StatusCode, Value) {
    let (status, message, kind, param, code) = match failure {
        Failure::Invalid { message, param, code } => {
            (StatusCode::BAD_REQUEST, message.clone(), "invalid_request_error", *param, *code)
        }
        Failure::Unauthorized { key_given: true } => (
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.".into(),
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        ),
        Failure::Unauthorized { key_given: false } => (
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".into(),
            "invalid_request_error",
            None,
            None,
        ),
        Failure::RateLimited(denied) => {
            let (name, short, kind) = match denied.resource {
                Resource::Requests => ("requests", "RPM", "requests"),
                Resource::Tokens => ("tokens", "TPM", "tokens"),
            };
            let message = format!(
                "Rate limit reached for {name} in organization org-mock on {name} per min ({short}): Limit {}, Used {}, Requested {}. Please try again in {}.",
                denied.limit,
                denied.used,
                denied.requested,
                format_duration(denied.retry_after),
            );
            (StatusCode::TOO_MANY_REQUESTS, message, kind, None, Some("rate_limit_exceeded"))
        }
        Failure::Status { status, message } => {
            let (kind, code, default) = by_status(*status);
            (*status, message.clone().unwrap_or_else(|| default.into()), kind, None, code)
        }
    };
    (
        status,
        json!({"error": {"message": message, "type": kind, "param": param, "code": code}}),
    )
}

/// Type, code and usual message of an error OpenAI answers with `status`.
fn by_status(status: StatusCode) -> (&'static str, Option<&'static str>, &'static str) {
    match status.as_u16() {
        401 => (
            "invalid_request_error",
            Some("invalid_api_key"),
            "Incorrect API key provided.",
        ),
        404 => (
            "invalid_request_error",
            Some("model_not_found"),
            "The model does not exist or you do not have access to it.",
        ),
        429 => (
            "requests",
            Some("rate_limit_exceeded"),
            "Rate limit reached for requests in organization org-mock.",
        ),
        503 => (
            "server_error",
            None,
            "The engine is currently overloaded, please try again later.",
        ),
        500.. => (
            "server_error",
            None,
            "The server had an error while processing your request. Sorry about that!",
        ),
        _ => (
            "invalid_request_error",
            None,
            status.canonical_reason().unwrap_or("Invalid request."),
        ),
    }
}

pub(crate) fn quota_headers(quota: &Snapshot, headers: &mut HeaderMap) {
    put(headers, "x-ratelimit-limit-requests", quota.requests.limit);
    put(headers, "x-ratelimit-limit-tokens", quota.tokens.limit);
    put(
        headers,
        "x-ratelimit-remaining-requests",
        quota.requests.remaining,
    );
    put(
        headers,
        "x-ratelimit-remaining-tokens",
        quota.tokens.remaining,
    );
    put(
        headers,
        "x-ratelimit-reset-requests",
        format_duration(quota.requests.reset),
    );
    put(
        headers,
        "x-ratelimit-reset-tokens",
        format_duration(quota.tokens.reset),
    );
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
}
