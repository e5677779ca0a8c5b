//! Why a call fails and how each API says so: the [`Failure`] that the
//! gates and validators produce, and the JSON error body and status each
//! API answers it with. The APIs' modules and [`crate::call`] render failures
//! through here, so the error formats live in one place.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::headers::format_duration;
use crate::limiter::{Denied, Period, Resource};

/// Why a call is answered with an error; each API renders it in its own format.
#[derive(Debug)]
pub(crate) enum Failure {
    /// 400. `param` and `code` fill OpenAI's fields of the same names.
    Invalid {
        message: String,
        param: Option<&'static str>,
        code: Option<&'static str>,
    },
    /// 401, distinguishing a missing key from a wrong one as the APIs do.
    Unauthorized { key_given: bool },
    /// 429 from the server's own limits.
    RateLimited(Box<Denied>),
    /// A scripted or random error; `message` replaces the API's usual text.
    Status {
        status: StatusCode,
        message: Option<String>,
    },
}

impl Failure {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::Invalid {
            message: message.into(),
            param: None,
            code: None,
        }
    }

    pub(crate) fn invalid_param(
        message: impl Into<String>,
        param: &'static str,
        code: &'static str,
    ) -> Self {
        Failure::Invalid {
            message: message.into(),
            param: Some(param),
            code: Some(code),
        }
    }
}

/// OpenAI's error body, `{"error": {"message", "type", "param", "code"}}`.
pub(crate) fn openai_body(failure: &Failure) -> (StatusCode, Value) {
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
            let kind = match denied.resource {
                Resource::Requests => "requests",
                _ => "tokens",
            };
            (StatusCode::TOO_MANY_REQUESTS, openai_rate_limited(denied), kind, None, Some("rate_limit_exceeded"))
        }
        Failure::Status { status, message } => {
            let (kind, code, default) = openai_by_status(*status);
            (*status, message.clone().unwrap_or_else(|| default.into()), kind, None, code)
        }
    };
    (
        status,
        json!({"error": {"message": message, "type": kind, "param": param, "code": code}}),
    )
}

/// OpenAI's 429 message, which Groq shares and which names the limit's
/// period, e.g. "on requests per day (RPD)".
fn openai_rate_limited(denied: &Denied) -> String {
    let name = unit(denied.resource);
    let initials = match denied.resource {
        Resource::Requests => "R",
        Resource::Tokens => "T",
        Resource::InputTokens => "IT",
        Resource::OutputTokens => "OT",
    };
    let (period, p) = match denied.period {
        Period::Minute => ("min", "M"),
        Period::Day => ("day", "D"),
    };
    let short = format!("{initials}P{p}");
    format!(
        "Rate limit reached for {name} in organization org-mock on {name} per {period} ({short}): Limit {}, Used {}, Requested {}. Please try again in {}.",
        denied.limit,
        denied.used,
        denied.requested,
        format_duration(denied.retry_after),
    )
}

fn unit(resource: Resource) -> &'static str {
    match resource {
        Resource::Requests => "requests",
        Resource::Tokens => "tokens",
        Resource::InputTokens => "input tokens",
        Resource::OutputTokens => "output tokens",
    }
}

/// Type, code and usual message of an error OpenAI answers with `status`.
fn openai_by_status(status: StatusCode) -> (&'static str, Option<&'static str>, &'static str) {
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

/// Anthropic's error body, `{"type": "error", "error": {"type", "message"}}`.
pub(crate) fn anthropic_body(failure: &Failure) -> (StatusCode, Value) {
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
            let period = match denied.period {
                Period::Minute => "minute",
                Period::Day => "day",
            };
            let message = format!(
                "This request would exceed your organization's rate limit of {} {} per {period}. Please try again later.",
                denied.limit,
                unit(denied.resource),
            );
            (StatusCode::TOO_MANY_REQUESTS, message)
        }
        Failure::Status { status, message } => (
            *status,
            message
                .clone()
                .unwrap_or_else(|| anthropic_by_status(*status).1.into()),
        ),
    };
    let kind = anthropic_by_status(status).0;
    (
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

/// Error type and usual message of an error Anthropic answers with `status`.
fn anthropic_by_status(status: StatusCode) -> (&'static str, &'static str) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overloaded_is_529() {
        let status = StatusCode::from_u16(529).unwrap();
        let (_, body) = anthropic_body(&Failure::Status {
            status,
            message: None,
        });
        assert_eq!(body["error"]["type"], "overloaded_error");
    }
}
