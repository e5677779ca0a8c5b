//! The `[prompts]` table: prompt templates, inline or read from files, as
//! one text (sent as the user's message) or a conversation of messages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who speaks a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The user's turn.
    User,
    /// A model's earlier turn, given as part of the conversation.
    Assistant,
}

impl Role {
    /// The name the APIs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One chat message: a template in the config, its text once rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// A prompt template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Prompt {
    /// One text, sent as the user's message.
    Text(String),
    /// A conversation: system, user and assistant turns, in order.
    Chat(Vec<ChatMessage>),
}

/// A prompt as written: its text, a file holding it, or its messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PromptSpec {
    Inline(String),
    File { file: PathBuf },
    Messages { messages: Vec<ChatMessage> },
}

impl PromptSpec {
    /// The template; a file is read relative to `dir` (a `.json` file
    /// holding a list of `{role, content}` is a conversation; one that is
    /// a template, JSON only once rendered, is a text whose rendering is
    /// sent as messages), and an unreadable one is an error naming `key`.
    pub(super) fn read(self, key: &str, dir: &Path) -> Result<Prompt, (String, String)> {
        match self {
            PromptSpec::Inline(text) => Ok(Prompt::Text(text)),
            PromptSpec::Messages { messages } => chat(messages).map_err(|m| (key.into(), m)),
            PromptSpec::File { file } => {
                let full = dir.join(&file);
                let text = std::fs::read_to_string(&full).map_err(|e| {
                    (
                        format!("{key}.file"),
                        format!("cannot read {}: {e}", full.display()),
                    )
                })?;
                let is_json = full
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"));
                if !is_json {
                    return Ok(Prompt::Text(text));
                }
                let templated = serde_json::from_str::<serde_json::Value>(&text).is_err()
                    && (text.contains("{{") || text.contains("{%"));
                if templated {
                    return Ok(Prompt::Text(text));
                }
                let messages: Vec<ChatMessage> = serde_json::from_str(&text).map_err(|e| {
                    (
                        format!("{key}.file"),
                        format!(
                            "{} is not a list of {{role, content}} messages: {e}",
                            full.display()
                        ),
                    )
                })?;
                chat(messages).map_err(|m| (format!("{key}.file"), m))
            }
        }
    }
}

/// A conversation must give the model a turn to answer: at least one
/// message, ending with the user's.
fn chat(messages: Vec<ChatMessage>) -> Result<Prompt, String> {
    match messages.last() {
        None => Err("a chat prompt needs at least one message".into()),
        Some(last) if last.role != Role::User => Err(format!(
            "a chat prompt must end with a user message, not {}",
            last.role.as_str()
        )),
        Some(_) => Ok(Prompt::Chat(messages)),
    }
}

/// Every prompt by name.
pub(super) fn resolve(
    specs: BTreeMap<String, PromptSpec>,
    dir: &Path,
) -> Result<BTreeMap<String, Prompt>, (String, String)> {
    specs
        .into_iter()
        .map(|(name, spec)| {
            let prompt = spec.read(&format!("prompts.{name}"), dir)?;
            Ok((name, prompt))
        })
        .collect()
}
