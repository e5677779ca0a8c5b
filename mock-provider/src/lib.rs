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
//! message (or [`Config::reply_text`]), cut at a stop sequence or at
//! `max_tokens`; tokens are estimated as one per four characters, plus
//! three per prompt message. Streaming is not supported.
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
mod config;
mod embeddings;
mod errors;
mod headers;
mod limiter;
mod openai;
mod random;
mod server;
mod state;
mod stats;
mod text;

pub use config::{Config, Rule};
pub use embeddings::embed;
pub use server::{MockServer, start, start_on};
pub use stats::Stats;
