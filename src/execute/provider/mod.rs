//! Model providers: one request in, one response (output, latency, usage,
//! cost) out. One call is one attempt; budgets and retries are the
//! executor's.
//!
//! Providers are an enum rather than trait objects: the set is closed, a
//! `match` dispatches an async call without boxing, and each variant keeps
//! its own settings.

mod anthropic;
mod echo;
mod endpoint;
pub mod headers;
pub mod http;
mod openai;
mod replay;
mod wire;

use std::time::Duration;

pub use echo::Echo;
pub use headers::RateLimits;
pub use http::Http;
pub use openai::Embeddings;
pub use replay::Replay;
pub use wire::Api;

use crate::config::{ChatMessage, ProviderSpec};
use crate::error::Result;
use crate::execute::cache::{Key, key};
use crate::execute::pricing::Prices;
use crate::record::{AnswerSource, Usage};

/// What a case asks of a provider.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub case_id: &'a str,
    pub repeat: u32,
    /// The rendered prompt (a chat prompt's messages as JSON).
    pub prompt: &'a str,
    /// A chat prompt's messages, sent as they are instead of `prompt`.
    pub messages: Option<&'a [ChatMessage]>,
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub output: String,
    /// How long the call took; `None` when unknown (a logged output without timing).
    pub latency: Option<Duration>,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
    /// `stop`, `length`, `end_turn`, `refusal` …, as the provider said.
    pub finish_reason: Option<String>,
    /// What the response headers said about the provider's rate limits.
    pub limits: RateLimits,
}

/// A failed attempt, with the provider's own message (scrubbed of secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    pub message: String,
    /// The HTTP status, when there was an answer at all.
    pub status: Option<u16>,
    /// Whether another attempt may succeed (429, 5xx, timeouts, resets).
    pub retryable: bool,
    /// At most this many attempts for this kind of failure, when fewer than
    /// the lane allows: a malformed answer is asked for once more, not five
    /// times.
    pub max_attempts: Option<u32>,
    /// The case gets no answer in this run and is not stored (the next run
    /// asks again): the run stopped before the request went out, or gave
    /// up on it while it was under way.
    pub not_sent: bool,
    /// Boxed: errors travel through every `Result`, and most carry none.
    pub limits: Box<RateLimits>,
}

impl CallError {
    /// A failure no retry can fix.
    pub fn fatal(message: String) -> CallError {
        CallError {
            message,
            status: None,
            retryable: false,
            max_attempts: None,
            not_sent: false,
            limits: Box::default(),
        }
    }

    /// A request left unsent because the run was interrupted.
    pub fn not_sent() -> CallError {
        CallError {
            not_sent: true,
            ..CallError::fatal("not sent: the run was interrupted".into())
        }
    }

    /// A request under way that the run stopped waiting for.
    pub fn abandoned() -> CallError {
        CallError {
            not_sent: true,
            ..CallError::fatal("abandoned: the run stopped before the answer came".into())
        }
    }
}

/// A configured provider.
#[derive(Debug)]
pub enum Provider {
    Echo(Echo),
    Replay(Replay),
    Http(Http),
}

/// What building a provider needs from the run.
pub struct Setup<'a> {
    pub prices: &'a Prices,
    pub client: &'a reqwest::Client,
    /// Reads an environment variable (the API keys).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Provider {
    /// Builds the provider named `name` from its config.
    pub fn from_spec(name: &str, spec: &ProviderSpec, setup: &Setup<'_>) -> Result<Provider> {
        let http = |api, settings| {
            Http::from_spec(name, api, settings, setup.prices, setup.client, setup.env)
                .map(Provider::Http)
        };
        match spec {
            ProviderSpec::Echo {} => Ok(Provider::Echo(Echo)),
            ProviderSpec::Replay { file } => Ok(Provider::Replay(
                Replay::load(file).map_err(|e| e.context(format!("providers.{name}")))?,
            )),
            ProviderSpec::Openai(s) => http(Api::OpenAi, s),
            ProviderSpec::Anthropic(s) => http(Api::Anthropic, s),
            ProviderSpec::OpenaiCompatible(s) => http(Api::OpenAiCompatible, s),
            ProviderSpec::AzureOpenai(s) => http(Api::AzureOpenAi, s),
        }
    }

    /// The model name stored with each result.
    pub fn model(&self) -> &str {
        match self {
            Provider::Echo(_) => "echo",
            Provider::Replay(_) => "replay",
            Provider::Http(p) => p.model(),
        }
    }

    /// Whether a case must render a prompt for this provider.
    pub fn needs_prompt(&self) -> bool {
        !matches!(self, Provider::Replay(_))
    }

    /// The most bytes a cache entry of this provider's answers may hold:
    /// an entry is never read past it.
    pub fn cache_entry_limit(&self) -> u64 {
        let answer = match self {
            Provider::Http(p) => p.max_response_bytes(),
            Provider::Echo(_) | Provider::Replay(_) => crate::config::DEFAULT_MAX_RESPONSE_BYTES,
        };
        crate::execute::cache::entry_limit(answer)
    }

    /// Whether calls leave the process (and so need budgets and retries).
    pub fn is_remote(&self) -> bool {
        matches!(self, Provider::Http(_))
    }

    /// What identifies a request to this provider: for an HTTP provider its
    /// response-cache key (the API, the endpoint, the exact body and the
    /// repeat), for an offline one the input that decides its answer. Two
    /// runs that send the same fingerprint asked the same question.
    pub fn fingerprint(&self, request: Request<'_>) -> Key {
        match self {
            Provider::Http(p) => key::response(
                p.api().name(),
                p.url(),
                &p.request_body(request),
                request.repeat,
            ),
            Provider::Echo(_) => key::of(&serde_json::json!({
                "kind": "echo",
                "prompt": request.prompt,
            })),
            // A logged answer is looked up by case and repeat alone; a new
            // log is a new answer to the same question.
            Provider::Replay(_) => key::of(&serde_json::json!({
                "kind": "replay",
                "id": request.case_id,
                "repeat": request.repeat,
            })),
        }
    }

    /// Where this provider's answers come from, for attributing a changed
    /// outcome: a model samples, the others answer the same every time.
    pub fn answer_source(&self) -> AnswerSource {
        match self {
            Provider::Http(_) => AnswerSource::Model,
            Provider::Echo(_) => AnswerSource::Echo,
            Provider::Replay(_) => AnswerSource::Replay,
        }
    }

    /// The embedding-cache key of a text; `None` when the provider has no
    /// embeddings API.
    pub fn embedding_key(&self, text: &str, dimensions: Option<u32>) -> Option<Key> {
        match self {
            Provider::Http(p) => p
                .embeddings_url()
                .map(|url| key::embedding(p.api().name(), url, p.model(), dimensions, text)),
            Provider::Echo(_) | Provider::Replay(_) => None,
        }
    }

    /// The embeddings of `texts` (one attempt).
    pub async fn embed(
        &self,
        texts: &[&str],
        dimensions: Option<u32>,
    ) -> std::result::Result<Embeddings, CallError> {
        match self {
            Provider::Http(p) => p.embed(texts, dimensions).await,
            Provider::Echo(_) | Provider::Replay(_) => Err(CallError::fatal(format!(
                "the {} provider has no embeddings API",
                self.model()
            ))),
        }
    }

    /// The tokens of `prompt`, estimated before sending it.
    pub fn prompt_estimate(&self, prompt: &str) -> u32 {
        match self {
            Provider::Http(p) => p.prompt_estimate(prompt),
            Provider::Echo(_) | Provider::Replay(_) => 0,
        }
    }

    /// The most an answer may use, when the request says (`max-tokens`).
    pub fn max_output(&self) -> Option<u32> {
        match self {
            Provider::Http(p) => p.max_output(),
            Provider::Echo(_) | Provider::Replay(_) => Some(0),
        }
    }

    pub async fn complete(&self, request: Request<'_>) -> std::result::Result<Response, CallError> {
        match self {
            Provider::Echo(p) => Ok(p.complete(request)),
            Provider::Replay(p) => p.complete(request),
            Provider::Http(p) => p.complete(request).await,
        }
    }
}

/// A recorded answer in `fixtures/provider-responses/`: its status,
/// headers and body.
#[cfg(test)]
pub(crate) fn fixture(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/provider-responses")
            .join(name),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The body of a recorded answer in `fixtures/provider-responses/`.
#[cfg(test)]
pub(crate) fn fixture_body(name: &str) -> Vec<u8> {
    serde_json::to_vec(&fixture(name)["body"]).unwrap()
}
