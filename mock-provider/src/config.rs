//! What a mock server does: the [`Config`] given to [`crate::start`], how
//! it enforces rate limits ([`Enforcement`]), and the scripted [`Rule`]s,
//! which can also be read from a JSON file.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

/// The reply of the answers that [`Config::wrong_rate`] makes wrong.
pub const WRONG_REPLY: &str = "I am not sure.";

/// Everything that shapes the server's answers. `Config::default()` answers
/// every request at once, echoing the last user message, without limits.
#[derive(Debug, Clone)]
pub struct Config {
    /// Fixed delay before every answer that gets past the gates (auth,
    /// validation, rate limits), like a model's generation time.
    pub latency: Duration,
    /// Uniform extra delay in `[0, jitter]`, drawn from the seeded generator.
    pub jitter: Duration,
    /// Seeds jitter, random errors, chaos, wrong answers and response ids,
    /// so runs repeat.
    pub seed: u64,
    /// Requests per minute, shared by all endpoints; `None` for no limit.
    pub rpm: Option<u64>,
    /// Tokens per minute (prompt plus requested `max_tokens`, 16 when
    /// absent, or what the answer used: see [`Config::token_accounting`]),
    /// shared by all endpoints; `None` for no limit.
    pub tpm: Option<u64>,
    /// Capacity of the request bucket; defaults to one second's worth, `rpm / 60`, at least 1.
    /// Only with [`Enforcement::TokenBucket`].
    pub burst_requests: Option<u64>,
    /// Capacity of the token bucket; defaults to one second's worth, `tpm / 60`, at least 1.
    /// Only with [`Enforcement::TokenBucket`].
    pub burst_tokens: Option<u64>,
    /// How the per-minute limits are enforced.
    pub enforcement: Enforcement,
    /// Requests per day, only with [`Enforcement::Daily`]; `None` for no
    /// daily limit.
    pub rpd: Option<u64>,
    /// Input tokens (the prompt estimate) per minute, shared by all
    /// endpoints; `None` for no limit.
    pub itpm: Option<u64>,
    /// Output tokens per minute, shared by all endpoints; `None` for no
    /// limit. A request is charged the `max_tokens` it asks for (16 when
    /// absent, 0 for embeddings) when it is admitted, and nothing is given
    /// back for a shorter reply: the real APIs settle the difference later,
    /// which only makes a client's wait shorter than the mock's.
    pub otpm: Option<u64>,
    /// What the token limits count, and when: `max_tokens` in full at
    /// admission, or the tokens each answer used once it is done.
    pub token_accounting: TokenAccounting,
    /// The headers describe the enforcement window (a bucket's capacity,
    /// a sliding window's share of the minute) instead of the whole
    /// minute, in either API's dialect (Anthropic's: limit 10 with a reset
    /// about a second ahead for 600 RPM in a 1-second window).
    pub headers_window: bool,
    /// The wall-clock time the server's clock reads when it starts; `None`
    /// for the system clock. Fixed windows turn at this clock's minutes and
    /// Anthropic's reset times are read from it, so tests can pin both.
    pub start_time: Option<SystemTime>,
    /// Share of admitted requests, in `[0, 1]`, answered with a server error.
    pub error_rate: f64,
    /// Share of otherwise-successful chat answers, in `[0, 1]`, made hostile,
    /// each of one kind drawn uniformly: `truncated-json` (a 200 whose JSON
    /// stops halfway), `wrong-types` (valid JSON of the wrong shape),
    /// `huge-headers` (rate-limit headers huge, negative or not numbers),
    /// `reset-mid-body` (the connection dropped halfway through the body),
    /// `stalled-body` (half the body, then nothing for two minutes) and
    /// `html-error` (a 200 with a gateway's HTML error page). Drawn from
    /// `seed` and the request's arrival number; answers scripted by a rule
    /// and embeddings are left alone.
    pub chaos: f64,
    /// Share of successful chat answers, in `[0, 1]`, whose reply is
    /// [`WRONG_REPLY`] instead of the echo (or [`Config::reply_text`]).
    /// Each request draws on its own from `seed` and its arrival number, so
    /// the same prompt sent twice can be answered differently, and a run
    /// repeats. Answers scripted by a rule are left alone.
    pub wrong_rate: f64,
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
            enforcement: Enforcement::default(),
            rpd: None,
            itpm: None,
            otpm: None,
            token_accounting: TokenAccounting::default(),
            headers_window: false,
            start_time: None,
            error_rate: 0.0,
            chaos: 0.0,
            wrong_rate: 0.0,
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
        if !(0.0..=1.0).contains(&self.chaos) {
            return invalid("chaos must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.wrong_rate) {
            return invalid("wrong_rate must be between 0 and 1");
        }
        let limits = [self.rpm, self.tpm, self.itpm, self.otpm, self.rpd];
        let bursts = [self.burst_requests, self.burst_tokens];
        if limits.iter().chain(&bursts).any(|&v| zero(v)) {
            return invalid("rate limits and bursts must be at least 1");
        }
        self.validate_enforcement()?;
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

    /// Rejects limits that the chosen enforcement would silently ignore.
    fn validate_enforcement(&self) -> io::Result<()> {
        let invalid = |msg: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned()));
        let bursts = self.burst_requests.is_some() || self.burst_tokens.is_some();
        if bursts && self.enforcement != Enforcement::TokenBucket {
            return invalid("bursts apply only to token-bucket enforcement");
        }
        if self.rpd.is_some() && self.enforcement != Enforcement::Daily {
            return invalid("rpd applies only to daily enforcement");
        }
        if let Enforcement::SlidingWindow { secs } = self.enforcement {
            let per_minute = [self.rpm, self.tpm, self.itpm, self.otpm];
            let smallest = per_minute.into_iter().flatten().min().unwrap_or(u64::MAX);
            if secs == 0 || u128::from(smallest) * u128::from(secs) < 60 {
                return invalid(
                    "a sliding window must hold at least 1 of every limit (limit * secs / 60 >= 1)",
                );
            }
        }
        Ok(())
    }
}

/// How a server enforces a per-minute limit. Real providers state one
/// per-minute figure and enforce it in different ways, and a client has to
/// cope with all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Enforcement {
    /// A bucket that refills continuously at `limit / 60` per second up to
    /// a burst capacity (OpenAI-like). The headers report the stated limit
    /// and what the bucket holds.
    #[default]
    TokenBucket,
    /// At most `limit * secs / 60` in any window of `secs` seconds, e.g. 50
    /// requests in any second for 3,000 RPM and `secs: 1`.
    SlidingWindow { secs: u64 },
    /// The whole minute's limit, given back at each wall-clock minute
    /// boundary.
    FixedWindow,
    /// Groq-style: requests limited per day ([`Config::rpd`]) by a bucket
    /// holding a day's worth and refilling over the day; the per-minute
    /// limits are buckets holding a whole minute's worth. The requests
    /// headers report the day.
    Daily,
}

/// What a server's token limits count, and when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenAccounting {
    /// A request's prompt and its `max_tokens` (16 when absent), in full
    /// when it is admitted, as OpenAI and Azure count; a shorter answer
    /// gives nothing back.
    #[default]
    MaxTokens,
    /// The prompt and the completion an answer used, counted when it is
    /// done, as a gateway counting usage does. A request is admitted while
    /// every tokens limit has room for its prompt; the answers may then
    /// take a limit past its figure, and the headers say 0 remaining until
    /// it has room again.
    Usage,
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

    #[test]
    fn validation_rejects_limits_the_enforcement_ignores() {
        let check = |config: Config| config.validate().is_ok();
        let sliding = |secs| Enforcement::SlidingWindow { secs };
        assert!(check(Config {
            enforcement: Enforcement::Daily,
            rpd: Some(14_400),
            ..Config::default()
        }));
        assert!(!check(Config {
            rpd: Some(14_400),
            ..Config::default()
        }));
        assert!(!check(Config {
            enforcement: Enforcement::FixedWindow,
            burst_requests: Some(3),
            ..Config::default()
        }));
        assert!(check(Config {
            enforcement: sliding(1),
            rpm: Some(60),
            ..Config::default()
        }));
        assert!(!check(Config {
            enforcement: sliding(1),
            rpm: Some(59),
            ..Config::default()
        }));
        assert!(!check(Config {
            enforcement: sliding(0),
            ..Config::default()
        }));
        assert!(!check(Config {
            itpm: Some(0),
            ..Config::default()
        }));
    }
}
