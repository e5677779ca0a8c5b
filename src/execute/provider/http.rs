//! An HTTP provider's calls: the client, the request and its headers, the
//! answer read within its size limit, and every way a call fails. The
//! wire formats are `openai.rs` and `anthropic.rs`; where a call goes and
//! with which key, `endpoint.rs`.
//!
//! One call is one HTTP attempt; budgets and retries belong to the executor.
//! The request body and the response parsing are plain functions, tested on
//! the recorded responses in `fixtures/provider-responses/`.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::endpoint::{self, Endpoint, api_key};
use super::headers::RateLimits;
use super::openai::{self, Embeddings};
use super::wire::{Api, Params, body_excerpt, error_message};
use super::{CallError, Request, Response, anthropic};
use crate::config::{ChatMessage, Price, Role};
use crate::config::{HttpSpec, ResponseFormat};
use crate::error::{Error, Result};
use crate::execute::pricing::Prices;
use crate::secret::{Secret, redact};

/// One HTTP client for a run, so connections are pooled across cases.
pub fn client() -> Result<reqwest::Client> {
    // reqwest is built without a crypto backend of its own; ring is the one
    // backend in this binary (octocrab uses it too). Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("ai-evals/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect_policy())
        .build()
        .map_err(|e| Error::runtime(format!("cannot set up the HTTP client: {e}")))
}

/// The most same-origin redirects followed for one call.
const MAX_REDIRECTS: usize = 3;

/// Which redirects a provider call follows: only a 307 or 308 to the same
/// origin (scheme, host and port) as the URL configured, which repeat the
/// POST with its body and its key. Anything else comes back as the
/// redirect itself, which [`Http::post`] turns into an error: a key sent
/// with the provider's own header (`x-api-key`, `api-key`, or any other)
/// must never reach another host, and a 301, 302 or 303 would turn the
/// POST into a GET whose reply is no answer.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        let keeps_method = matches!(attempt.status().as_u16(), 307 | 308);
        if same_origin && keeps_method && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// A configured HTTP provider.
#[derive(Debug)]
pub struct Http {
    api: Api,
    url: String,
    /// Where embeddings are asked for; `None` for an API without them.
    embeddings_url: Option<String>,
    key: Option<Secret>,
    model: String,
    params: Params,
    price: Option<Price>,
    timeout: Duration,
    /// The largest answer body read; more is an error.
    max_response_bytes: u64,
    client: reqwest::Client,
}

impl Http {
    /// Checks the settings for this API and reads the key with `env` (the
    /// process environment, in the binary); every problem names the
    /// provider's config key.
    pub fn from_spec(
        name: &str,
        api: Api,
        spec: &HttpSpec,
        prices: &Prices,
        client: &reqwest::Client,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Http> {
        let Endpoint {
            url,
            embeddings_url,
            model,
        } = endpoint::endpoint(name, api, spec, env)?;
        let key = api_key(name, api, spec, env)?;
        Ok(Http {
            api,
            url,
            embeddings_url,
            price: spec.price.or_else(|| prices.lookup(&model)),
            model,
            key,
            params: Params {
                temperature: spec.temperature,
                top_p: spec.top_p,
                max_tokens: spec.max_tokens,
                seed: spec.seed,
                stop: spec.stop.clone(),
                system: spec.system.clone(),
                json: spec.response_format == Some(ResponseFormat::Json),
            },
            timeout: spec.timeout(),
            max_response_bytes: spec.max_response_bytes(),
            client: client.clone(),
        })
    }

    pub fn api(&self) -> Api {
        self.api
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The largest answer body read.
    pub fn max_response_bytes(&self) -> u64 {
        self.max_response_bytes
    }

    /// The prompt's tokens, estimated before sending: four characters a
    /// token (the usual rule for English) for the prompt and system prompt,
    /// plus 8 for the message framing.
    pub fn prompt_estimate(&self, prompt: &str) -> u32 {
        let chars = prompt.chars().count()
            + self
                .params
                .system
                .as_deref()
                .map_or(0, |s| s.chars().count());
        let prompt_tokens = u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX);
        prompt_tokens.saturating_add(8)
    }

    /// The most an answer may use, as the request says it (`max_tokens`;
    /// Anthropic's requests always carry one); `None` when it says none.
    pub fn max_output(&self) -> Option<u32> {
        match self.api {
            Api::Anthropic => Some(
                self.params
                    .max_tokens
                    .unwrap_or(anthropic::DEFAULT_MAX_TOKENS),
            ),
            _ => self.params.max_tokens,
        }
    }

    /// The JSON body for one user message, `prompt`.
    pub fn body(&self, prompt: &str) -> Value {
        self.chat_body(&[ChatMessage {
            role: Role::User,
            content: prompt.to_string(),
        }])
    }

    /// The JSON body for a request: its chat messages, or its prompt.
    pub fn request_body(&self, request: Request<'_>) -> Value {
        match request.messages {
            Some(messages) => self.chat_body(messages),
            None => self.body(request.prompt),
        }
    }

    /// The JSON body for a conversation, in this API's format.
    fn chat_body(&self, messages: &[ChatMessage]) -> Value {
        match self.api {
            Api::Anthropic => anthropic::body(&self.model, &self.params, messages),
            api => openai::body(api, &self.model, &self.params, messages),
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let secret = |value: String| {
            let mut v =
                HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""));
            v.set_sensitive(true);
            v
        };
        if self.api == Api::Anthropic {
            headers.insert(
                "anthropic-version",
                HeaderValue::from_static(anthropic::VERSION),
            );
        }
        if let Some(key) = &self.key {
            match self.api {
                Api::Anthropic => {
                    headers.insert("x-api-key", secret(key.expose().to_string()));
                }
                Api::AzureOpenAi => {
                    headers.insert("api-key", secret(key.expose().to_string()));
                }
                Api::OpenAi | Api::OpenAiCompatible => {
                    headers.insert(
                        reqwest::header::AUTHORIZATION,
                        secret(format!("Bearer {}", key.expose())),
                    );
                }
            }
        }
        headers
    }

    /// Posts `body` to `url` and returns the successful answer's bytes,
    /// rate limits and latency, or the failure as a [`CallError`].
    async fn post(
        &self,
        url: &str,
        body: &Value,
    ) -> std::result::Result<(Vec<u8>, RateLimits, Duration), CallError> {
        let started = Instant::now();
        let sent = self
            .client
            .post(url)
            .headers(self.headers())
            .timeout(self.timeout)
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(url, &e)),
        };
        let status = response.status();
        let limits = RateLimits::from_headers(response.headers(), chrono::Utc::now());
        if status.is_redirection() {
            return Err(redirected(url, &response, limits));
        }
        let bytes = self.read_body(url, response, &limits).await?;
        if !status.is_success() {
            let code = status.as_u16();
            let retryable = limits
                .should_retry
                .unwrap_or(matches!(code, 408 | 409 | 429) || code >= 500);
            return Err(CallError {
                max_attempts: None,
                not_sent: false,
                message: redact(&format!(
                    "{} {}: {}",
                    code,
                    status.canonical_reason().unwrap_or("error"),
                    error_message(&bytes)
                ))
                .into_owned(),
                status: Some(code),
                retryable,
                limits: Box::new(limits),
            });
        }
        Ok((bytes, limits, started.elapsed()))
    }

    /// A 200 whose body is not an answer (broken JSON, wrong types, no
    /// text): recorded with the start of the raw body, asked for once more
    /// (a gateway's hiccup), and never cached.
    /// The whole body, at most `max_response_bytes` of it: a server that
    /// sends more (or says it will) gets an error, not our memory.
    async fn read_body(
        &self,
        url: &str,
        mut response: reqwest::Response,
        limits: &RateLimits,
    ) -> std::result::Result<Vec<u8>, CallError> {
        let cap = self.max_response_bytes;
        let too_large = || CallError {
            message: format!(
                "the answer from {url} is larger than {cap} bytes; raise the provider's max-response-size if that is expected"
            ),
            status: None,
            retryable: false,
            max_attempts: None,
            not_sent: false,
            limits: Box::new(limits.clone()),
        };
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > cap {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(self.transport_error(url, &e)),
            }
        }
    }

    fn unreadable(&self, url: &str, message: String, body: &[u8], limits: RateLimits) -> CallError {
        CallError {
            message: redact(&format!(
                "unreadable answer from {url}: {message}; the body began: {}",
                body_excerpt(body)
            ))
            .into_owned(),
            status: None,
            retryable: true,
            max_attempts: Some(2),
            not_sent: false,
            limits: Box::new(limits),
        }
    }

    /// One attempt: send, wait for the whole answer, parse it.
    pub async fn complete(&self, request: Request<'_>) -> std::result::Result<Response, CallError> {
        let (bytes, limits, latency) = self.post(&self.url, &self.request_body(request)).await?;
        let parsed = match self.api {
            Api::Anthropic => anthropic::parse(&bytes),
            _ => openai::parse(&bytes),
        }
        .map_err(|e| self.unreadable(&self.url, e.0, &bytes, limits.clone()))?;
        Ok(Response {
            cost_usd: match (self.price, parsed.usage) {
                (Some(price), Some(usage)) => Some(price.cost(&usage)),
                _ => None,
            },
            output: parsed.output,
            latency: Some(latency),
            usage: parsed.usage,
            finish_reason: parsed.finish_reason,
            limits,
        })
    }

    /// The embeddings of `texts`, in order (one attempt).
    pub async fn embed(
        &self,
        texts: &[&str],
        dimensions: Option<u32>,
    ) -> std::result::Result<Embeddings, CallError> {
        let Some(url) = &self.embeddings_url else {
            return Err(CallError::fatal(format!(
                "{} has no embeddings API",
                self.api.name()
            )));
        };
        let body = openai::embeddings_body(&self.model, texts, dimensions);
        let (bytes, limits, _) = self.post(url, &body).await?;
        let (vectors, tokens) = openai::parse_embeddings(&bytes, texts.len())
            .map_err(|e| self.unreadable(url, e.0, &bytes, limits.clone()))?;
        Ok(Embeddings {
            vectors,
            tokens,
            limits,
        })
    }

    /// The URL embeddings go to, if this API has them.
    pub fn embeddings_url(&self) -> Option<&str> {
        self.embeddings_url.as_deref()
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> CallError {
        let what = if e.is_timeout() {
            format!("no answer from {url} within {:?}", self.timeout)
        } else if e.is_connect() {
            format!("cannot connect to {url}: {}", source_chain(e))
        } else {
            format!("request to {url} failed: {}", source_chain(e))
        };
        CallError {
            message: redact(&what).into_owned(),
            status: None,
            // Timeouts, refused connections and resets are worth another try.
            retryable: true,
            max_attempts: None,
            not_sent: false,
            limits: Box::default(),
        }
    }
}

/// A redirect the client did not follow (see [`redirect_policy`]): the
/// case's error, naming where it pointed, never an answer. Not retried:
/// the provider will send it there again.
fn redirected(url: &str, response: &reqwest::Response, limits: RateLimits) -> CallError {
    let status = response.status();
    let location = response.headers().get(reqwest::header::LOCATION);
    let to = location.map(|l| l.to_str().ok().and_then(|l| response.url().join(l).ok()));
    let target = match to {
        Some(Some(to)) if to.origin() == response.url().origin() => {
            let path: String = to.path().chars().take(200).collect();
            format!("to {path} on the same host")
        }
        // The origin names the host without the path and query, which
        // may carry a token of the other side's own.
        Some(Some(to)) => format!("to another host, {}", to.origin().ascii_serialization()),
        Some(None) => "to an address that is not a URL".to_string(),
        None => "with no Location".to_string(),
    };
    CallError {
        message: redact(&format!(
            "{url} answered {} {}, a redirect {target}; provider calls follow no redirect but a 307 or 308 on the same host (the API key must not go elsewhere): set the provider's base-url (or endpoint) to the address that answers",
            status.as_u16(),
            status.canonical_reason().unwrap_or("redirect"),
        ))
        .into_owned(),
        status: Some(status.as_u16()),
        retryable: false,
        max_attempts: None,
        not_sent: false,
        limits: Box::new(limits),
    }
}

/// An error with its causes, which hold the useful part ("connection reset").
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider(api: Api, spec: HttpSpec) -> Result<Http> {
        let env =
            |var: &str| (var == "AI_EVALS_UNIT_TEST_KEY").then(|| "sk-unit-body-test".to_string());
        Http::from_spec(
            "p",
            api,
            &spec,
            &Prices::new(&Default::default()),
            &client().unwrap(),
            &env,
        )
    }

    fn spec(model: &str) -> HttpSpec {
        HttpSpec {
            model: Some(model.into()),
            api_key_env: Some("AI_EVALS_UNIT_TEST_KEY".into()),
            ..HttpSpec::default()
        }
    }

    #[test]
    fn bodies_carry_every_parameter() {
        let mut s = spec("gpt-4o-mini");
        s.temperature = Some(0.0);
        s.top_p = Some(0.9);
        s.max_tokens = Some(64);
        s.seed = Some(7);
        s.stop = vec!["\n\n".into()];
        s.system = Some("Be brief.".into());
        s.response_format = Some(ResponseFormat::Json);
        let openai = provider(Api::OpenAi, s.clone()).unwrap();
        assert_eq!(openai.url(), "https://api.openai.com/v1/chat/completions");
        assert_eq!(
            openai.body("Hi"),
            json!({
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"}
                ],
                "temperature": 0.0,
                "top_p": 0.9,
                "max_completion_tokens": 64,
                "seed": 7,
                "stop": ["\n\n"],
                "response_format": {"type": "json_object"}
            })
        );
        assert_eq!(
            openai.price,
            Some(Price {
                input: 0.15,
                output: 0.60
            })
        );

        s.seed = None;
        s.response_format = None;
        let anthropic = provider(
            Api::Anthropic,
            HttpSpec {
                model: Some("claude-3-5-haiku-latest".into()),
                ..s.clone()
            },
        )
        .unwrap();
        assert_eq!(anthropic.url(), "https://api.anthropic.com/v1/messages");
        assert_eq!(
            anthropic.body("Hi"),
            json!({
                "model": "claude-3-5-haiku-latest",
                "max_tokens": 64,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": "Hi"}],
                "temperature": 0.0,
                "top_p": 0.9,
                "stop_sequences": ["\n\n"]
            })
        );
        let headers = anthropic.headers();
        assert_eq!(headers["anthropic-version"], "2023-06-01");
        assert!(headers["x-api-key"].is_sensitive());

        let compatible = provider(
            Api::OpenAiCompatible,
            HttpSpec {
                base_url: Some("http://localhost:11434/v1/".into()),
                ..s.clone()
            },
        )
        .unwrap();
        assert_eq!(
            compatible.url(),
            "http://localhost:11434/v1/chat/completions"
        );
        assert_eq!(compatible.body("Hi")["max_tokens"], 64);

        let azure = provider(
            Api::AzureOpenAi,
            HttpSpec {
                model: None,
                endpoint: Some("https://acme.openai.azure.com".into()),
                deployment: Some("prod-4o".into()),
                ..s
            },
        )
        .unwrap();
        assert_eq!(
            azure.url(),
            "https://acme.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(azure.model(), "prod-4o");
        assert!(azure.headers()["api-key"].is_sensitive());
    }

    #[test]
    fn endpoint_and_key_errors_name_the_key() {
        let err = |api, s| provider(api, s).unwrap_err().to_string();
        assert_eq!(
            err(Api::OpenAi, HttpSpec::default()),
            "providers.p.model: required for openai"
        );
        assert_eq!(
            err(Api::OpenAiCompatible, spec("llama3")),
            "providers.p.base-url: required for openai-compatible, e.g. http://localhost:11434/v1"
        );
        assert_eq!(
            err(
                Api::AzureOpenAi,
                HttpSpec {
                    endpoint: Some("https://x".into()),
                    ..spec("m")
                }
            ),
            "providers.p.deployment: required for azure-openai"
        );
        assert_eq!(
            err(
                Api::OpenAi,
                HttpSpec {
                    api_key_env: Some("AI_EVALS_UNIT_TEST_UNSET".into()),
                    ..spec("m")
                }
            ),
            "providers.p: the environment variable AI_EVALS_UNIT_TEST_UNSET is not set. Export the API key in it, or name another variable with api-key-env."
        );
    }

    #[test]
    fn token_estimate_counts_prompt_and_answer_room() {
        let p = provider(
            Api::OpenAi,
            HttpSpec {
                max_tokens: Some(100),
                ..spec("m")
            },
        )
        .unwrap();
        assert_eq!(p.prompt_estimate(&"x".repeat(40)), 10 + 8);
        assert_eq!(p.max_output(), Some(100));
        assert_eq!(provider(Api::OpenAi, spec("m")).unwrap().max_output(), None);
        let a = provider(Api::Anthropic, spec("claude")).unwrap();
        assert_eq!((a.prompt_estimate(""), a.max_output()), (8, Some(1024)));
    }
}
