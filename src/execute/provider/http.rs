//! The HTTP providers: OpenAI Chat Completions (also Azure OpenAI
//! deployments and OpenAI-compatible servers) and Anthropic Messages.
//!
//! One call is one HTTP attempt; budgets and retries belong to the executor.
//! The request body and the response parsing are plain functions, tested on
//! the recorded responses in `fixtures/provider-responses/`.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::headers::RateLimits;
use super::{CallError, Request, Response};
use crate::config::{ChatMessage, Price, Role};
use crate::config::{HttpKind, HttpSpec, ResponseFormat};
use crate::error::{Error, Result};
use crate::execute::pricing::Prices;
use crate::record::Usage;
use crate::secret::{Secret, redact};
use crate::units::parse_size;

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
    fn kind(self) -> HttpKind {
        match self {
            Api::OpenAi => HttpKind::Openai,
            Api::OpenAiCompatible => HttpKind::OpenaiCompatible,
            Api::AzureOpenAi => HttpKind::AzureOpenai,
            Api::Anthropic => HttpKind::Anthropic,
        }
    }
}

/// Anthropic's API version header; the Messages API's stable version.
const ANTHROPIC_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; this is used when the config sets none.
const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 1024;
const AZURE_DEFAULT_API_VERSION: &str = "2024-10-21";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest answer read by default: far above any model's reply, small
/// enough that a misbehaving server cannot exhaust memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// The largest `max-response-size`: an answer is held in memory whole.
const MAX_RESPONSE_BYTES: u64 = 1 << 30;
/// A call that takes longer than an hour is a mistake in the config.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

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
        let (url, embeddings_url, model) = endpoints(name, api, spec, env)?;
        let timeout = check_settings(name, api, spec)?;
        let max_response_bytes = match &spec.max_response_size {
            None => DEFAULT_MAX_RESPONSE_BYTES,
            Some(text) => parse_size(text)
                .ok()
                .filter(|n| (1..=MAX_RESPONSE_BYTES).contains(n))
                .ok_or_else(|| {
                    key_error(
                        name,
                        "max-response-size",
                        format!("'{text}' is not a size from 1 byte to 1GiB, like 16MiB or 64MB"),
                    )
                })?,
        };
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
            timeout,
            max_response_bytes,
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
                    .unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS),
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

    /// The JSON body for a conversation. Anthropic takes system messages
    /// apart from the turns, so they join the provider's own `system`.
    fn chat_body(&self, messages: &[ChatMessage]) -> Value {
        let p = &self.params;
        if self.api == Api::Anthropic {
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
                "model": self.model,
                "max_tokens": p.max_tokens.unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS),
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
            return body;
        }
        let mut turns = Vec::with_capacity(messages.len() + 1);
        if let Some(system) = &p.system {
            turns.push(json!({"role": "system", "content": system}));
        }
        turns.extend(
            messages
                .iter()
                .map(|m| json!({"role": m.role.as_str(), "content": m.content})),
        );
        let mut body = json!({"model": self.model, "messages": turns});
        if let Some(t) = p.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(t) = p.top_p {
            body["top_p"] = json!(t);
        }
        if let Some(n) = p.max_tokens {
            // OpenAI's newer models reject `max_tokens`; compatible servers
            // (vLLM, Ollama, llama.cpp) only know it.
            let field = if self.api == Api::OpenAiCompatible {
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
                HeaderValue::from_static(ANTHROPIC_VERSION),
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
            Api::Anthropic => parse_anthropic(&bytes),
            _ => parse_openai(&bytes),
        }
        .map_err(|message| self.unreadable(&self.url, message, &bytes, limits.clone()))?;
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
        let mut body = json!({"model": self.model, "input": texts});
        if let Some(d) = dimensions {
            body["dimensions"] = json!(d);
        }
        let (bytes, limits, _) = self.post(url, &body).await?;
        let (vectors, tokens) = parse_embeddings(&bytes, texts.len())
            .map_err(|m| self.unreadable(url, m, &bytes, limits.clone()))?;
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
) -> std::result::Result<(Vec<Vec<f32>>, Option<u64>), String> {
    let mut answer: EmbeddingAnswer = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    answer.data.sort_by_key(|d| d.index);
    if answer.data.len() != expected || answer.data.iter().enumerate().any(|(i, d)| d.index != i) {
        return Err(format!(
            "expected {expected} embeddings indexed 0..{expected}, got {}",
            answer.data.len()
        ));
    }
    Ok((
        answer.data.into_iter().map(|d| d.embedding).collect(),
        answer.usage.map(|u| u.prompt_tokens),
    ))
}

/// What a successful answer contained.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub output: String,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
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
pub fn parse_openai(body: &[u8]) -> std::result::Result<Parsed, String> {
    let answer: OpenAiAnswer = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let choice = answer
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| "the answer has no choices".to_string())?;
    let (output, finish_reason) = match (choice.message.content, choice.message.refusal) {
        (_, Some(refusal)) => (refusal, Some("refusal".to_string())),
        (Some(content), None) => (openai_text(content)?, choice.finish_reason),
        (None, None) => return Err("the answer has no text: its message has no content".into()),
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
fn openai_text(content: Value) -> std::result::Result<String, String> {
    match content {
        Value::String(text) => Ok(text),
        Value::Null => Err("the answer has no text: its content is null".into()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            if texts.is_empty() {
                Err("the answer has no text: its content parts hold none".into())
            } else {
                Ok(texts.concat())
            }
        }
        other => Err(format!(
            "the answer has no text: its content is {}",
            json_kind(&other)
        )),
    }
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
pub fn parse_anthropic(body: &[u8]) -> std::result::Result<Parsed, String> {
    let answer: AnthropicAnswer = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let texts: Vec<String> = answer
        .content
        .into_iter()
        .filter(|b| b.kind == "text")
        .filter_map(|b| b.text)
        .collect();
    if texts.is_empty() {
        return Err("the answer has no text: its content holds no text block".into());
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

/// Names a JSON value's type for errors.
fn json_kind(value: &Value) -> &'static str {
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
fn body_excerpt(body: &[u8]) -> String {
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

/// `providers.NAME.KEY: message`.
fn key_error(name: &str, key: &str, message: impl Into<String>) -> Error {
    Error::input(format!("providers.{name}.{key}: {}", message.into()))
}

/// The chat URL, the embeddings URL (if the API has one) and the model
/// name, from the API's defaults and the provider's settings.
fn endpoints(
    name: &str,
    api: Api,
    spec: &HttpSpec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Option<String>, String)> {
    let trim = |s: &str| s.trim_end_matches('/').to_string();
    if api == Api::AzureOpenAi {
        let endpoint = spec
            .endpoint
            .clone()
            .or_else(|| env_base_url(api, env))
            .ok_or_else(|| {
                let vars: Vec<&str> = api.kind().url_vars().iter().map(|v| v.name()).collect();
                key_error(
                    name,
                    "endpoint",
                    format!(
                        "required for azure-openai (https://NAME.openai.azure.com), or set one of {}",
                        vars.join(", ")
                    ),
                )
            })?;
        let deployment = spec
            .deployment
            .as_deref()
            .ok_or_else(|| key_error(name, "deployment", "required for azure-openai"))?;
        let version = spec
            .api_version
            .as_deref()
            .unwrap_or(AZURE_DEFAULT_API_VERSION);
        let root = format!("{}/openai/deployments/{deployment}", trim(&endpoint));
        return Ok((
            format!("{root}/chat/completions?api-version={version}"),
            Some(format!("{root}/embeddings?api-version={version}")),
            spec.model.clone().unwrap_or_else(|| deployment.to_string()),
        ));
    }
    let model = spec
        .model
        .clone()
        .ok_or_else(|| key_error(name, "model", format!("required for {}", api.name())))?;
    let base = match (
        api,
        spec.base_url.clone().or_else(|| env_base_url(api, env)),
    ) {
        (_, Some(base)) => trim(&base),
        (Api::OpenAi, None) => "https://api.openai.com/v1".into(),
        (Api::Anthropic, None) => "https://api.anthropic.com".into(),
        _ => {
            return Err(key_error(
                name,
                "base-url",
                "required for openai-compatible, e.g. http://localhost:11434/v1",
            ));
        }
    };
    Ok(if api == Api::Anthropic {
        (format!("{base}/v1/messages"), None, model)
    } else {
        (
            format!("{base}/chat/completions"),
            Some(format!("{base}/embeddings")),
            model,
        )
    })
}

/// The API root the environment names when the config names none, read
/// from the variables the official SDKs (and promptfoo) honour, so a suite
/// points at a proxy or a local server the way the rest of a team's tools
/// do. A `..._HOST` is a host name, served over HTTPS.
fn env_base_url(api: Api, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    api.kind()
        .url_from_env(|name| env_value(env, name))
        .map(|(url, _)| url)
}

/// A variable's value, trimmed; unset and blank are the same.
fn env_value(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Refuses settings the API does not have or values out of range; returns
/// the call timeout.
fn check_settings(name: &str, api: Api, spec: &HttpSpec) -> Result<Duration> {
    if api != Api::AzureOpenAi {
        for (key, set) in [
            ("endpoint", spec.endpoint.is_some()),
            ("deployment", spec.deployment.is_some()),
            ("api-version", spec.api_version.is_some()),
        ] {
            if set {
                return Err(key_error(name, key, "applies to azure-openai only"));
            }
        }
    }
    if api == Api::Anthropic {
        if spec.seed.is_some() {
            return Err(key_error(
                name,
                "seed",
                "Anthropic's Messages API has no seed",
            ));
        }
        if spec.response_format == Some(ResponseFormat::Json) {
            return Err(key_error(
                name,
                "response-format",
                "Anthropic's Messages API has no JSON mode; ask for JSON in the prompt",
            ));
        }
    }
    if let Some(t) = spec.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(key_error(
            name,
            "temperature",
            format!("{t} is not between 0 and 2"),
        ));
    }
    if let Some(p) = spec.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(key_error(name, "top-p", format!("{p} is not in (0, 1]")));
    }
    if spec.max_tokens == Some(0) {
        return Err(key_error(name, "max-tokens", "must be at least 1"));
    }
    match spec.timeout_secs {
        None => Ok(DEFAULT_TIMEOUT),
        Some(s) => Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero() && *d <= MAX_TIMEOUT)
            .ok_or_else(|| {
                key_error(
                    name,
                    "timeout-secs",
                    format!(
                        "{s} is not a number of seconds between 0 and {}",
                        MAX_TIMEOUT.as_secs()
                    ),
                )
            }),
    }
}

/// The API key from the environment variable the provider names (or its
/// API's default); a variable that is named but not set is an error.
fn api_key(
    name: &str,
    api: Api,
    spec: &HttpSpec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>> {
    let named = spec.api_key_env.as_deref().map(|v| vec![v]);
    let vars = named.unwrap_or_else(|| api.kind().key_vars().to_vec());
    if vars.is_empty() {
        return Ok(None);
    }
    let key = vars.iter().find_map(|var| env_value(env, var));
    match key {
        Some(value) => Ok(Some(Secret::new(value))),
        None => Err(Error::input(format!(
            "providers.{name}: the environment variable {} is not set. Export the API key in it, or name another variable with api-key-env.",
            vars.join(" (or ") + &")".repeat(vars.len() - 1)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_variable_with_or_without_its_scheme_names_one_endpoint() {
        for host in ["x.openai.azure.com", "https://x.openai.azure.com/"] {
            let env = |name: &str| (name == "AZURE_OPENAI_API_HOST").then(|| host.to_string());
            assert_eq!(
                env_base_url(Api::AzureOpenAi, &env).as_deref(),
                Some("https://x.openai.azure.com")
            );
            let env = |name: &str| (name == "OPENAI_API_HOST").then(|| host.to_string());
            assert_eq!(
                env_base_url(Api::OpenAi, &env).as_deref(),
                Some("https://x.openai.azure.com/v1")
            );
        }
    }

    fn fixture_body(name: &str) -> Vec<u8> {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/provider-responses")
                .join(name),
        )
        .unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        serde_json::to_vec(&json["body"]).unwrap()
    }

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
    fn openai_fixture_parses() {
        let parsed = parse_openai(&fixture_body("openai_chat_completion.json")).unwrap();
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
    fn anthropic_fixture_parses_with_total_as_sum() {
        let parsed = parse_anthropic(&fixture_body("anthropic_message.json")).unwrap();
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

    #[test]
    fn refusals_and_empty_answers() {
        let refusal = br#"{"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}"#;
        let parsed = parse_openai(refusal).unwrap();
        assert_eq!(parsed.output, "I can't help with that.");
        assert_eq!(parsed.finish_reason.as_deref(), Some("refusal"));
        assert_eq!(
            parse_openai(br#"{"choices":[]}"#).unwrap_err(),
            "the answer has no choices"
        );
    }

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
    fn settings_errors_name_the_key() {
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
                Api::Anthropic,
                HttpSpec {
                    seed: Some(1),
                    ..spec("claude")
                }
            ),
            "providers.p.seed: Anthropic's Messages API has no seed"
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
                    temperature: Some(3.0),
                    ..spec("m")
                }
            ),
            "providers.p.temperature: 3 is not between 0 and 2"
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

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

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
            if let Ok(parsed) = parse_openai(&bytes) {
                prop_assert!(parsed.finish_reason.as_deref() == Some("refusal") || body.pointer("/choices/0/message/content").is_some());
            }
            let _ = parse_anthropic(&bytes);
            let _ = parse_embeddings(&bytes, 2);
            let _ = error_message(&bytes);
        }

        #[test]
        fn any_bytes_give_a_typed_result(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_openai(&bytes);
            let _ = parse_anthropic(&bytes);
            let _ = parse_embeddings(&bytes, 1);
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
            assert!(parse_openai(body.as_bytes()).is_err(), "{body}");
        }
        for body in [
            r#"{}"#,
            r#"{"content":[]}"#,
            r#"{"content":[{"type":"tool_use","id":"x"}]}"#,
            r#"{"content":"text"}"#,
        ] {
            assert!(parse_anthropic(body.as_bytes()).is_err(), "{body}");
        }
        let parts = br#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#;
        assert_eq!(parse_openai(parts).unwrap().output, "ab");
        let empty = br#"{"choices":[{"message":{"content":""}}]}"#;
        assert_eq!(
            parse_openai(empty).unwrap().output,
            "",
            "an empty answer is still an answer"
        );
    }
}
