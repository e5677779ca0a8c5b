//! Text handling shared by the APIs: message content in either wire shape,
//! the deterministic token estimate, and cutting a reply at a stop sequence
//! or at `max_tokens`.

use serde::Deserialize;

/// Message content as both APIs accept it: a string, or an array of blocks
/// of which only `{"type": "text", "text": …}` carry text for the mock.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

impl Content {
    /// The text blocks joined by newlines; images, tool calls and the like
    /// contribute nothing.
    pub(crate) fn text(&self) -> String {
        match self {
            Content::Text(text) => text.clone(),
            Content::Blocks(blocks) => blocks
                .iter()
                .filter(|b| b.kind == "text")
                .filter_map(|b| b.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// About four characters per token, rounded up, like the usual rule of thumb.
pub(crate) fn estimate_tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(4) as u64
}

/// Prompt tokens of a conversation: each message's text plus 3 for its framing.
pub(crate) fn prompt_tokens<'a>(messages: impl IntoIterator<Item = &'a str>) -> u64 {
    messages.into_iter().map(|m| estimate_tokens(m) + 3).sum()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    End,
    MaxTokens,
    Sequence(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) text: String,
    pub(crate) tokens: u64,
    pub(crate) stop: Stop,
}

/// Cuts `text` before the earliest stop sequence, then to `max_tokens`
/// (four characters each), the order a real model would meet them in.
pub(crate) fn shape_reply(mut text: String, max_tokens: Option<u64>, stops: &[String]) -> Reply {
    let mut stop = Stop::End;
    let earliest = stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()).map(|at| (at, s)))
        .min_by_key(|(at, _)| *at);
    if let Some((at, sequence)) = earliest {
        text.truncate(at);
        stop = Stop::Sequence(sequence.clone());
    }
    let mut tokens = estimate_tokens(&text);
    if let Some(max) = max_tokens.filter(|&max| max < tokens) {
        let chars = usize::try_from(max.saturating_mul(4)).unwrap_or(usize::MAX);
        text = text.chars().take(chars).collect();
        tokens = max;
        stop = Stop::MaxTokens;
    }
    Reply { text, tokens, stop }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_up_by_characters() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("ééé"), 1);
        assert_eq!(prompt_tokens(["abcd", "abcde"]), 9);
    }

    #[test]
    fn blocks_join_text_only() {
        let c: Content = serde_json::from_str(
            r#"[{"type":"text","text":"a"},{"type":"image_url","image_url":{}},{"type":"text","text":"b"}]"#,
        )
        .unwrap();
        assert_eq!(c.text(), "a\nb");
    }

    #[test]
    fn replies_stop_at_sequences_then_max_tokens() {
        let full = shape_reply("Hello there, world".into(), None, &[]);
        assert_eq!((full.tokens, full.stop), (5, Stop::End));
        let cut = shape_reply("Hello there, world".into(), Some(2), &[]);
        assert_eq!(
            (cut.text.as_str(), cut.tokens, cut.stop),
            ("Hello th", 2, Stop::MaxTokens)
        );
        let stops = ["world".to_owned(), ",".to_owned()];
        let stopped = shape_reply("Hello there, world".into(), Some(10), &stops);
        assert_eq!(stopped.text, "Hello there");
        assert_eq!(stopped.stop, Stop::Sequence(",".into()));
    }
}
