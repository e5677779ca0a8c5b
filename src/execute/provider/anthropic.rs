//! Anthropic's Messages API: the request body and the answer.

use serde::Deserialize;
use serde_json::{Value, json};

use super::wire::{Params, Parsed, Unreadable};
use crate::config::{ChatMessage, Role};
use crate::record::Usage;

/// Anthropic's API version header; the Messages API's stable version.
pub(super) const VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; this is used when the config sets none.
pub(super) const DEFAULT_MAX_TOKENS: u32 = 1024;

/// The JSON body for a conversation. Anthropic takes system messages
/// apart from the turns, so they join the provider's own `system`.
pub(super) fn body(model: &str, p: &Params, messages: &[ChatMessage]) -> Value {
    let system: Vec<&str> = p
        .system
        .iter()
        .map(String::as_str)
        .chain(
            messages
                .iter()
                .filter(|m| m.role == Role::System)
                .map(|m| m.content.as_str()),
        )
        .collect();
    let turns: Vec<Value> = messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": p.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": turns,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if let Some(t) = p.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(t) = p.top_p {
        body["top_p"] = json!(t);
    }
    if !p.stop.is_empty() {
        body["stop_sequences"] = json!(p.stop);
    }
    body
}

#[derive(Deserialize)]
struct AnthropicAnswer {
    #[serde(default)]
    content: Vec<AnthropicBlock>,
    stop_reason: Option<String>,
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicBlock {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct AnthropicUsage {
    input_tokens: u64,
    output_tokens: u64,
}

/// Parses a Messages answer: the text blocks joined, the stop reason, and
/// the usage with total = input + output.
pub fn parse(body: &[u8]) -> Result<Parsed, Unreadable> {
    let answer: AnthropicAnswer = serde_json::from_slice(body).map_err(Unreadable::json)?;
    let texts: Vec<String> = answer
        .content
        .into_iter()
        .filter(|b| b.kind == "text")
        .filter_map(|b| b.text)
        .collect();
    if texts.is_empty() {
        return Err(Unreadable::new(
            "the answer has no text: its content holds no text block",
        ));
    }
    Ok(Parsed {
        output: texts.concat(),
        finish_reason: answer.stop_reason,
        usage: answer.usage.map(|u| Usage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: u.input_tokens.saturating_add(u.output_tokens),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::provider::fixture_body;

    #[test]
    fn anthropic_fixture_parses_with_total_as_sum() {
        let parsed = parse(&fixture_body("anthropic_message.json")).unwrap();
        assert!(parsed.output.starts_with("Hello! It's nice to meet you."));
        assert_eq!(parsed.finish_reason.as_deref(), Some("end_turn"));
        assert_eq!(
            parsed.usage,
            Some(Usage {
                prompt_tokens: 16,
                completion_tokens: 35,
                total_tokens: 51
            })
        );
    }
}
