//! A local stand-in for LLM provider APIs, for tests, benchmarks and dry
//! runs. It speaks the wire formats of OpenAI Chat Completions (and Azure
//! OpenAI's variant), OpenAI Embeddings and Anthropic Messages, and makes
//! latency, rate limits, errors and replies predictable.
//!
//! | endpoint | API |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI Chat Completions (`Authorization: Bearer`) |
//! | `POST /openai/deployments/{d}/chat/completions?api-version=…` | Azure OpenAI (`api-key`) |
//! | `POST /v1/embeddings` | OpenAI Embeddings, see [`embed`] |
//! | `POST /v1/messages` | Anthropic Messages (`x-api-key`, `anthropic-version`) |
//! | `GET /stats`, `POST /stats/reset` | the [`Stats`] counters |
//!
//! A request is judged in this order: API key, the API's own validation,
//! the first matching [`Rule`], the rate limits, the random error rate,
//! then the latency, then the reply. The reply echoes the last user
//! message (or [`Config::reply_text`]; for a seeded [`Config::wrong_rate`]
//! share of requests, [`WRONG_REPLY`]), cut at a stop sequence or at
//! `max_tokens`; tokens are estimated as one per four characters, plus
//! three per prompt message. Streaming is not supported.
//!
//! ## Rate limits
//!
//! `rpm`, `tpm`, `itpm` (input tokens: the prompt estimate) and `otpm`
//! (output tokens: the requested `max_tokens`) are per-minute limits
//! shared by all endpoints, enforced as [`Config::enforcement`] says:
//! a token bucket (the default), a sliding window of N seconds, a fixed
//! window turning at each wall-clock minute, or Groq's daily request limit
//! (`rpd`) beside minute buckets. Every answer that got past validation
//! carries the figures in the API's dialect:
//!
//! | dialect | headers | reset |
//! |---|---|---|
//! | OpenAI (and Azure, Groq) | `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` | Go duration: `20ms`, `6m0s`, `1m26.4s` |
//! | Anthropic | `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}` | RFC 3339: `2023-11-14T22:14:00Z` |
//!
//! The figures describe the minute, or with [`Config::headers_window`] the
//! enforcement window (limit 50 for 3,000 RPM in a 1-second window).
//! Tokens are counted as OpenAI counts them, `max_tokens` in full at
//! admission, or with [`TokenAccounting::Usage`] as the answers used them,
//! when each is done (its headers then show its own usage).
//! A reset is the time until the limit is whole again. A 429 from the
//! limits carries `retry-after` in whole seconds, and for OpenAI also
//! `retry-after-ms`, both the exact wait rounded up.
//!
//! ## Chaos
//!
//! With [`Config::chaos`] a seeded share of otherwise-successful chat
//! answers turns hostile, all with status 200: `truncated-json`,
//! `wrong-types`, `huge-headers`, `reset-mid-body`, `stalled-body` or
//! `html-error` (see the field for what each does). [`Stats::by_chaos`]
//! counts them by kind, and [`Stats::answers_ok`] counts the well-formed
//! answers whose body was handed to the connection, so a client's stored
//! results can be compared with what it was really served. A request whose
//! client hangs up before its answer is written is not served.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = mock_provider::start(mock_provider::Config::default()).await?;
//! // Point a client at `server.url()`; the reply echoes the last user message.
//! assert_eq!(server.stats().requests, 0);
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod anthropic;
mod call;
mod chaos;
mod config;
mod embeddings;
mod errors;
mod headers;
mod limiter;
mod openai;
mod random;
mod served;
mod server;
mod state;
mod stats;
mod text;

pub use config::{Config, Enforcement, Rule, TokenAccounting, WRONG_REPLY};
pub use embeddings::embed;
pub use server::{MockServer, start, start_on};
pub use stats::Stats;
