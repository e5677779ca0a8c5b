//! What a mock server does: the [`Config`] given to [`crate::start`] and the
//! scripted [`Rule`]s, which can also be read from a JSON file.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

/// Everything that shapes the server's answers. `Config::default()` answers
/// every request at once, echoing the last user message, without limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// Fixed delay before every answer that gets past the gates (auth,
    /// validation, rate limits), like a model's generation time.
    pub latency: Duration,
    /// Uniform extra delay in `[0, jitter]`, drawn from the seeded generator.
    pub jitter: Duration,
    /// Seeds jitter, random errors and response ids, so runs repeat.
    pub seed: u64,
    /// Requests per minute, shared by all endpoints; `None` for no limit.
    pub rpm: Option<u64>,
    /// Tokens per minute (prompt plus requested `max_tokens`, 16 when
    /// absent), shared by all endpoints; `None` for no limit.
    pub tpm: Option<u64>,
    /// Capacity of the request bucket; defaults to one second's worth, `rpm / 60`, at least 1.
    pub burst_requests: Option<u64>,
    /// Capacity of the token bucket; defaults to one second's worth, `tpm / 60`, at least 1.
    pub burst_tokens: Option<u64>,
    /// Share of admitted requests, in `[0, 1]`, answered with a server error.
    pub error_rate: f64,
    /// When set, requests must present this key in the API's own auth header.
    pub api_key: Option<String>,
    /// Scripted answers, tried in order before the normal reply.
    pub rules: Vec<Rule>,
    /// A fixed reply; `None` echoes the last user message.
    pub reply_text: Option<String>,
    /// Embedding length when the request gives no `dimensions`.
    pub dimensions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            seed: 0,
            rpm: None,
            tpm: None,
            burst_requests: None,
            burst_tokens: None,
            error_rate: 0.0,
            api_key: None,
            rules: Vec::new(),
            reply_text: None,
            dimensions: 256,
        }
    }
}

impl Config {
    /// Rejects settings that would make the server misbehave silently
    /// (a zero limit would admit one request and then none ever again).
    pub(crate) fn validate(&self) -> io::Result<()> {
        let invalid = |msg: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned()));
        let zero = |v: Option<u64>| v == Some(0);
        if !(0.0..=1.0).contains(&self.error_rate) {
            return invalid("error_rate must be between 0 and 1");
        }
        if zero(self.rpm) || zero(self.tpm) || zero(self.burst_requests) || zero(self.burst_tokens)
        {
            return invalid("rate limits and bursts must be at least 1");
        }
        if self.dimensions == 0 {
            return invalid("dimensions must be at least 1");
        }
        for rule in &self.rules {
            if rule.status.is_some_and(|s| !(200..=599).contains(&s)) {
                return invalid("a rule's status must be between 200 and 599");
            }
            let bad_header = |(name, value): (&String, &String)| {
                HeaderName::try_from(name.as_str()).is_err()
                    || HeaderValue::try_from(value.as_str()).is_err()
            };
            if rule.headers.iter().any(bad_header) {
                return invalid("a rule has an invalid header name or value");
            }
        }
        Ok(())
    }
}

/// A scripted answer for requests whose text contains `contains`.
///
/// With a `status` of 400 or more the server answers that error in the
/// format of the API called, with `reply` as its message. Otherwise the
/// request goes on as usual but `reply` (when given) replaces the reply
/// text. `headers` are added to the answer either way.
///
/// In a rules file: `[{"contains": "flaky", "status": 429, "headers":
/// {"retry-after": "1"}, "times": 1}]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Substring of the request's messages (or embedding inputs) joined by
    /// newlines; empty matches every request.
    #[serde(default)]
    pub contains: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// How many matching requests the rule answers before it falls through;
    /// `None` for all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

impl Rule {
    /// Reads a JSON array of rules.
    pub fn load_file(path: &Path) -> io::Result<Vec<Rule>> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_from_json_with_defaults() {
        let rules: Vec<Rule> = serde_json::from_str(
            r#"[{"contains": "x", "status": 429, "headers": {"retry-after": "1"}, "times": 1},
                {"reply": "fixed"}]"#,
        )
        .unwrap();
        assert_eq!(rules[0].status, Some(429));
        assert_eq!(rules[0].headers["retry-after"], "1");
        assert_eq!(
            rules[1],
            Rule {
                reply: Some("fixed".into()),
                ..Rule::default()
            }
        );
        assert!(serde_json::from_str::<Vec<Rule>>(r#"[{"contain": "typo"}]"#).is_err());
    }

    #[test]
    fn validation_rejects_nonsense() {
        assert!(Config::default().validate().is_ok());
        assert!(
            Config {
                error_rate: 1.5,
                ..Config::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                rpm: Some(0),
                ..Config::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                dimensions: 0,
                ..Config::default()
            }
            .validate()
            .is_err()
        );
        let rule = |status, header: &str| Rule {
            status: Some(status),
            headers: [(header.to_owned(), "1".to_owned())].into(),
            ..Rule::default()
        };
        assert!(
            Config {
                rules: vec![rule(429, "retry-after")],
                ..Config::default()
            }
            .validate()
            .is_ok()
        );
        assert!(
            Config {
                rules: vec![rule(99, "retry-after")],
                ..Config::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                rules: vec![rule(429, "bad header")],
                ..Config::default()
            }
            .validate()
            .is_err()
        );
    }
}
