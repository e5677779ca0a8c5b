//! OpenAI's Chat Completions and Embeddings APIs, which Azure OpenAI
//! deployments and OpenAI-compatible servers (vLLM, Ollama, Groq …) speak
//! too: the request bodies and the answers.

use serde::Deserialize;
use serde_json::{Value, json};

use super::headers::RateLimits;
use super::wire::{Api, Params, Parsed, Unreadable, json_kind};
use crate::config::ChatMessage;
use crate::record::Usage;

/// The JSON body for a conversation, the provider's `system` first.
pub(super) fn body(api: Api, model: &str, p: &Params, messages: &[ChatMessage]) -> Value {
    let mut turns = Vec::with_capacity(messages.len() + 1);
    if let Some(system) = &p.system {
        turns.push(json!({"role": "system", "content": system}));
    }
    turns.extend(
        messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content})),
    );
    let mut body = json!({"model": model, "messages": turns});
    if let Some(t) = p.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(t) = p.top_p {
        body["top_p"] = json!(t);
    }
    if let Some(n) = p.max_tokens {
        // OpenAI's newer models reject `max_tokens`; compatible servers
        // (vLLM, Ollama, llama.cpp) only know it.
        let field = if api == Api::OpenAiCompatible {
            "max_tokens"
        } else {
            "max_completion_tokens"
        };
        body[field] = json!(n);
    }
    if let Some(seed) = p.seed {
        body["seed"] = json!(seed);
    }
    if !p.stop.is_empty() {
        body["stop"] = json!(p.stop);
    }
    if p.json {
        body["response_format"] = json!({"type": "json_object"});
    }
    body
}

/// The JSON body asking for the embeddings of `texts`.
pub(super) fn embeddings_body(model: &str, texts: &[&str], dimensions: Option<u32>) -> Value {
    let mut body = json!({"model": model, "input": texts});
    if let Some(d) = dimensions {
        body["dimensions"] = json!(d);
    }
    body
}

#[derive(Deserialize)]
struct OpenAiAnswer {
    #[serde(default)]
    choices: Vec<OpenAiChoice>,
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct OpenAiChoice {
    message: OpenAiMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct OpenAiMessage {
    /// Text, or (some compatible servers) a list of parts.
    content: Option<Value>,
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct OpenAiUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: Option<u64>,
}

/// Parses a Chat Completions answer: the first choice's text (or its
/// refusal, reported with finish reason `refusal`) and the usage.
pub fn parse(body: &[u8]) -> Result<Parsed, Unreadable> {
    let answer: OpenAiAnswer = serde_json::from_slice(body).map_err(Unreadable::json)?;
    let choice = answer
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| Unreadable::new("the answer has no choices"))?;
    let (output, finish_reason) = match (choice.message.content, choice.message.refusal) {
        (_, Some(refusal)) => (refusal, Some("refusal".to_string())),
        (Some(content), None) => (text(content)?, choice.finish_reason),
        (None, None) => {
            return Err(Unreadable::new(
                "the answer has no text: its message has no content",
            ));
        }
    };
    Ok(Parsed {
        output,
        finish_reason,
        usage: answer.usage.map(|u| Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u
                .total_tokens
                .unwrap_or(u.prompt_tokens.saturating_add(u.completion_tokens)),
        }),
    })
}

/// A message's text: a string, or the text parts of a list of parts.
fn text(content: Value) -> Result<String, Unreadable> {
    match content {
        Value::String(text) => Ok(text),
        Value::Null => Err(Unreadable::new(
            "the answer has no text: its content is null",
        )),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            if texts.is_empty() {
                Err(Unreadable::new(
                    "the answer has no text: its content parts hold none",
                ))
            } else {
                Ok(texts.concat())
            }
        }
        other => Err(Unreadable(format!(
            "the answer has no text: its content is {}",
            json_kind(&other)
        ))),
    }
}

/// The embeddings of a batch of texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// Tokens the request used, as reported.
    pub tokens: Option<u64>,
    pub limits: RateLimits,
}

#[derive(Deserialize)]
struct EmbeddingAnswer {
    data: Vec<EmbeddingItem>,
    usage: Option<EmbeddingUsage>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
}

/// Parses an embeddings answer for `expected` inputs, ordered by `index`
/// (the API does not promise the order of `data`).
pub fn parse_embeddings(
    body: &[u8],
    expected: usize,
) -> Result<(Vec<Vec<f32>>, Option<u64>), Unreadable> {
    let mut answer: EmbeddingAnswer = serde_json::from_slice(body).map_err(Unreadable::json)?;
    answer.data.sort_by_key(|d| d.index);
    if answer.data.len() != expected || answer.data.iter().enumerate().any(|(i, d)| d.index != i) {
        return Err(Unreadable(format!(
            "expected {expected} embeddings indexed 0..{expected}, got {}",
            answer.data.len()
        )));
    }
    Ok((
        answer.data.into_iter().map(|d| d.embedding).collect(),
        answer.usage.map(|u| u.prompt_tokens),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::provider::fixture_body;

    #[test]
    fn openai_fixture_parses() {
        let parsed = parse(&fixture_body("openai_chat_completion.json")).unwrap();
        assert_eq!(parsed.output, "Hello! How can I help you today?");
        assert_eq!(parsed.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            parsed.usage,
            Some(Usage {
                prompt_tokens: 20,
                completion_tokens: 18,
                total_tokens: 38
            })
        );
    }

    #[test]
    fn refusals_and_empty_answers() {
        let refusal = br#"{"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}"#;
        let parsed = parse(refusal).unwrap();
        assert_eq!(parsed.output, "I can't help with that.");
        assert_eq!(parsed.finish_reason.as_deref(), Some("refusal"));
        assert_eq!(
            parse(br#"{"choices":[]}"#).unwrap_err().to_string(),
            "the answer has no choices"
        );
    }
}
