//! Anthropic Messages (`POST /v1/messages`): request parsing, the response
//! and error bodies, and Anthropic's rate-limit headers.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::call::{Call, Failure, put};
use crate::limiter::{Quota, Resource, Snapshot};
use crate::state::{Api, ServerState};
use crate::text::{Content, Stop, prompt_tokens, shape_reply};

#[derive(Deserialize)]
struct MessagesRequest {
    model: Option<String>,
    max_tokens: Option<u64>,
    system: Option<Content>,
    messages: Option<Vec<Message>>,
    stop_sequences: Option<Vec<String>>,
    stream: Option<bool>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: Content,
}

/// A request that passed Anthropic's checks.
struct Valid {
    model: String,
    max_tokens: u64,
    system: Option<String>,
    messages: Vec<Message>,
    stops: Vec<String>,
}

pub(crate) async fn messages(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut call = Call::new(&state, Api::Anthropic);
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if let Err(failure) = state.check_key(key) {
        return call.fail(failure);
    }
    if !headers.contains_key("anthropic-version") {
        return call.fail(Failure::invalid("anthropic-version: header is required"));
    }
    let valid = match call.parse(&body).and_then(validate) {
        Ok(valid) => valid,
        Err(failure) => return call.fail(failure),
    };
    let texts: Vec<String> = valid.messages.iter().map(|m| m.content.text()).collect();
    let all: Vec<&str> = valid
        .system
        .iter()
        .chain(&texts)
        .map(String::as_str)
        .collect();
    let prompt = prompt_tokens(all.iter().copied());
    let echo = valid
        .messages
        .iter()
        .zip(&texts)
        .rev()
        .find(|(m, _)| m.role == "user")
        .map(|(_, t)| t.clone());
    let scripted = match call.admit(&all.join("\n"), prompt + valid.max_tokens).await {
        Ok(scripted) => scripted,
        Err(failure) => return call.fail(failure),
    };
    let reply = shape_reply(
        state.reply_text(scripted, echo.unwrap_or_default()),
        Some(valid.max_tokens),
        &valid.stops,
    );
    let (stop_reason, stop_sequence) = match reply.stop {
        Stop::End => ("end_turn", None),
        Stop::MaxTokens => ("max_tokens", None),
        Stop::Sequence(sequence) => ("stop_sequence", Some(sequence)),
    };
    let body = json!({
        "id": state.id("msg_01", 22, false),
        "type": "message",
        "role": "assistant",
        "model": valid.model,
        "content": [{"type": "text", "text": reply.text}],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {"input_tokens": prompt, "output_tokens": reply.tokens},
    });
    call.succeed(body, prompt, reply.tokens)
}

/// The checks Anthropic makes before anything else, with its messages.
fn validate(request: MessagesRequest) -> Result<Valid, Failure> {
    let model = request
        .model
        .ok_or_else(|| Failure::invalid("model: Field required"))?;
    let max_tokens = request
        .max_tokens
        .ok_or_else(|| Failure::invalid("max_tokens: Field required"))?;
    if max_tokens == 0 {
        return Err(Failure::invalid(
            "max_tokens: Input should be greater than or equal to 1",
        ));
    }
    let messages = request
        .messages
        .ok_or_else(|| Failure::invalid("messages: Field required"))?;
    if messages.is_empty() {
        return Err(Failure::invalid(
            "messages: at least one message is required",
        ));
    }
    if request.stream == Some(true) {
        return Err(Failure::invalid(
            "stream: streaming is not supported by mock-provider",
        ));
    }
    Ok(Valid {
        model,
        max_tokens,
        system: request.system.as_ref().map(Content::text),
        messages,
        stops: request.stop_sequences.unwrap_or_default(),
    })
}

/// Anthropic's error body, `{"type": "error", "error": {"type", "message"}}`.
pub(crate) fn error_body(failure: &Failure) -> (StatusCode, Value) {
    let (status, message) = match failure {
        Failure::Invalid { message, .. } => (StatusCode::BAD_REQUEST, message.clone()),
        Failure::Unauthorized { key_given: true } => {
            (StatusCode::UNAUTHORIZED, "invalid x-api-key".into())
        }
        Failure::Unauthorized { key_given: false } => (
            StatusCode::UNAUTHORIZED,
            "x-api-key header is required".into(),
        ),
        Failure::RateLimited(denied) => {
            let unit = match denied.resource {
                Resource::Requests => "requests",
                Resource::Tokens => "tokens",
            };
            let message = format!(
                "This request would exceed your organization's rate limit of {} {unit} per minute. Please try again later.",
                denied.limit
            );
            (StatusCode::TOO_MANY_REQUESTS, message)
        }
        Failure::Status { status, message } => (
            *status,
            message
                .clone()
                .unwrap_or_else(|| by_status(*status).1.into()),
        ),
    };
    let kind = by_status(status).0;
    (
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

/// Error type and usual message of an error Anthropic answers with `status`.
fn by_status(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        401 => ("authentication_error", "invalid x-api-key"),
        402 => (
            "billing_error",
            "Your credit balance is too low to access the Anthropic API.",
        ),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => (
            "not_found_error",
            "The requested resource could not be found.",
        ),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        429 => (
            "rate_limit_error",
            "Number of requests has exceeded your rate limit.",
        ),
        504 => ("timeout_error", "Request timed out."),
        529 => ("overloaded_error", "Overloaded"),
        500.. => ("api_error", "Internal server error"),
        _ => ("invalid_request_error", "Invalid request."),
    }
}

pub(crate) fn quota_headers(quota: &Snapshot, headers: &mut HeaderMap) {
    let now = SystemTime::now();
    for (name, q) in [("requests", &quota.requests), ("tokens", &quota.tokens)] {
        put(
            headers,
            &format!("anthropic-ratelimit-{name}-limit"),
            q.limit,
        );
        put(
            headers,
            &format!("anthropic-ratelimit-{name}-remaining"),
            q.remaining,
        );
        put(
            headers,
            &format!("anthropic-ratelimit-{name}-reset"),
            reset_time(now, q),
        );
    }
}

/// When the bucket is full again, as RFC 3339 UTC rounded up to the second.
fn reset_time(now: SystemTime, quota: &Quota) -> String {
    let at = DateTime::<Utc>::from(now + quota.reset);
    let whole = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
    DateTime::from_timestamp(whole, 0)
        .unwrap_or(at)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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

    #[test]
    fn overloaded_is_529() {
        let status = StatusCode::from_u16(529).unwrap();
        let (_, body) = error_body(&Failure::Status {
            status,
            message: None,
        });
        assert_eq!(body["error"]["type"], "overloaded_error");
    }
}
