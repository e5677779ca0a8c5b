//! What the wire formats share: which API a provider speaks, the
//! parameters every call sends, what an answer holds, and the words for
//! an answer that cannot be read.

use serde_json::Value;

use crate::config::HttpKind;
use crate::record::Usage;
use crate::secret::redact;

/// Which wire format and authentication a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    OpenAiCompatible,
    AzureOpenAi,
    Anthropic,
}

impl Api {
    pub fn name(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::OpenAiCompatible => "openai-compatible",
            Api::AzureOpenAi => "azure-openai",
            Api::Anthropic => "anthropic",
        }
    }

    /// The config's name for the API, which knows its environment variables.
    pub(super) fn kind(self) -> HttpKind {
        match self {
            Api::OpenAi => HttpKind::Openai,
            Api::OpenAiCompatible => HttpKind::OpenaiCompatible,
            Api::AzureOpenAi => HttpKind::AzureOpenai,
            Api::Anthropic => HttpKind::Anthropic,
        }
    }
}

/// The sampling parameters sent with every call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<i64>,
    pub stop: Vec<String>,
    pub system: Option<String>,
    pub json: bool,
}

/// Why an answer could not be read, said as a case's error says it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

impl Unreadable {
    pub(super) fn new(message: &str) -> Unreadable {
        Unreadable(message.to_string())
    }

    /// A body that is not the JSON the API sends.
    pub(super) fn json(e: serde_json::Error) -> Unreadable {
        Unreadable(e.to_string())
    }
}

/// What a successful answer contained.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub output: String,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
}

/// Names a JSON value's type for errors.
pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The start of a body, for an error: at most 300 characters, on one line,
/// cut after secrets are taken out (a cut could leave part of a key).
pub(super) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = redact(&text);
    let mut excerpt: String = text.chars().take(300).collect();
    if text.chars().nth(300).is_some() {
        excerpt.push('…');
    }
    format!("{excerpt:?}")
}

/// The message of an error body in either API's format, else its start
/// (cut after secrets are taken out, so no part of a key is left at the cut).
pub fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(message) = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(Value::as_str)
    {
        return redact(message).into_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = redact(&text);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    let short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_in_both_formats() {
        assert_eq!(
            error_message(br#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
            "Rate limit reached"
        );
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded"
        );
        assert_eq!(
            error_message(b"<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
        assert_eq!(error_message(b""), "(empty body)");
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::execute::provider::{anthropic, openai};
    use proptest::prelude::*;
    use serde_json::json;

    /// Any JSON value, nested a few levels.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|x| json!(x)),
            "\\PC{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("choices".to_string()),
                        Just("message".to_string()),
                        Just("content".to_string()),
                        Just("refusal".to_string()),
                        Just("usage".to_string()),
                        Just("prompt_tokens".to_string()),
                        Just("completion_tokens".to_string()),
                        Just("total_tokens".to_string()),
                        Just("input_tokens".to_string()),
                        Just("output_tokens".to_string()),
                        Just("type".to_string()),
                        Just("text".to_string()),
                        Just("data".to_string()),
                        Just("index".to_string()),
                        Just("embedding".to_string()),
                        Just("error".to_string()),
                        "[a-z_]{1,8}",
                    ],
                    inner,
                    0..6,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Every parser answers any JSON with a value or an error, and a
        /// value always carries text.
        #[test]
        fn any_json_body_gives_a_typed_result(body in json()) {
            let bytes = serde_json::to_vec(&body).unwrap();
            if let Ok(parsed) = openai::parse(&bytes) {
                prop_assert!(parsed.finish_reason.as_deref() == Some("refusal") || body.pointer("/choices/0/message/content").is_some());
            }
            let _ = anthropic::parse(&bytes);
            let _ = openai::parse_embeddings(&bytes, 2);
            let _ = error_message(&bytes);
        }

        #[test]
        fn any_bytes_give_a_typed_result(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = openai::parse(&bytes);
            let _ = anthropic::parse(&bytes);
            let _ = openai::parse_embeddings(&bytes, 1);
            let _ = error_message(&bytes);
            let _ = body_excerpt(&bytes);
        }
    }

    #[test]
    fn answers_without_text_are_errors() {
        for body in [
            r#"{"choices":[{"message":{}}]}"#,
            r#"{"choices":[{"message":{"content":null}}]}"#,
            r#"{"choices":[{"message":{"content":42}}]}"#,
            r#"{"choices":[{"message":{"content":[{"type":"image_url"}]}}]}"#,
            r#"{"choices":[]}"#,
            r#"{}"#,
        ] {
            assert!(openai::parse(body.as_bytes()).is_err(), "{body}");
        }
        for body in [
            r#"{}"#,
            r#"{"content":[]}"#,
            r#"{"content":[{"type":"tool_use","id":"x"}]}"#,
            r#"{"content":"text"}"#,
        ] {
            assert!(anthropic::parse(body.as_bytes()).is_err(), "{body}");
        }
        let parts = br#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#;
        assert_eq!(openai::parse(parts).unwrap().output, "ab");
        let empty = br#"{"choices":[{"message":{"content":""}}]}"#;
        assert_eq!(
            openai::parse(empty).unwrap().output,
            "",
            "an empty answer is still an answer"
        );
    }
}
