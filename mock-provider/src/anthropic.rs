//! Anthropic Messages (`POST /v1/messages`): request parsing, validation
//! and the response body. Error bodies are in [`crate::errors`], rate-limit
//! headers in [`crate::headers`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::call::Call;
use crate::errors::Failure;
use crate::limiter::Cost;
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
    let charge = Cost::call(prompt, valid.max_tokens);
    let scripted = match call.admit(&all.join("\n"), charge).await {
        Ok(scripted) => scripted,
        Err(failure) => return call.fail(failure),
    };
    let reply = shape_reply(
        state.reply_text(scripted, echo.unwrap_or_default(), call.arrival),
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
    call.succeed_chat(body, prompt, reply.tokens)
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
