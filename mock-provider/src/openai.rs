//! OpenAI Chat Completions (`POST /v1/chat/completions`) and its Azure
//! twin (`POST /openai/deployments/{deployment}/chat/completions`): request
//! parsing, validation and the response body. Error bodies are in
//! [`crate::errors`], rate-limit headers in [`crate::headers`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::call::Call;
use crate::errors::Failure;
use crate::limiter::Cost;
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
    if let Err(failure) = check_azure(&state, &query, &headers) {
        return call.fail(failure);
    }
    complete(call, &body, Some(deployment)).await
}

/// What every Azure endpoint checks first: the key in `api-key`, then
/// the `api-version` query, answered as Azure answers a request without it.
pub(crate) fn check_azure(
    state: &ServerState,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(), Failure> {
    state.check_key(headers.get("api-key").and_then(|v| v.to_str().ok()))?;
    if query.contains_key("api-version") {
        Ok(())
    } else {
        Err(Failure::invalid_param(
            "The api-version query parameter (?api-version=) is required for all requests.",
            "api-version",
            "MissingApiVersionParameter",
        ))
    }
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
    let charge = Cost::call(
        prompt,
        valid.max_tokens.unwrap_or(DEFAULT_CHARGED_COMPLETION),
    );
    let scripted = match call.admit(&texts.join("\n"), charge).await {
        Ok(scripted) => scripted,
        Err(failure) => return call.fail(failure),
    };
    let reply = shape_reply(
        call.state
            .reply_text(scripted, echo.unwrap_or_default(), call.arrival),
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
    call.succeed_chat(body, prompt, completion)
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
