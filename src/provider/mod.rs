//! Model providers: one request in, one response (output, latency, usage,
//! cost) out.
//!
//! Providers are an enum rather than trait objects: the set is closed, a
//! `match` dispatches an async call without boxing, and each variant keeps
//! its own settings.

mod echo;
mod replay;

use std::time::Duration;

pub use echo::Echo;
pub use replay::Replay;

use crate::config::ProviderSpec;
use crate::error::Result;
use crate::record::Usage;

/// What a case asks of a provider.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub case_id: &'a str,
    pub repeat: u32,
    pub prompt: &'a str,
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub output: String,
    /// How long the call took; `None` when unknown (a logged output without timing).
    pub latency: Option<Duration>,
    pub usage: Option<Usage>,
    pub cost_usd: Option<f64>,
}

/// A failed call, with the provider's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub message: String,
}

/// A configured provider.
#[derive(Debug)]
pub enum Provider {
    Echo(Echo),
    Replay(Replay),
}

impl Provider {
    /// Builds the provider named `name` from its config.
    pub fn from_spec(name: &str, spec: &ProviderSpec) -> Result<Provider> {
        Ok(match spec {
            ProviderSpec::Echo {} => Provider::Echo(Echo),
            ProviderSpec::Replay { file } => Provider::Replay(
                Replay::load(file).map_err(|e| e.context(format!("providers.{name}")))?,
            ),
        })
    }

    /// The model name stored with each result.
    pub fn model(&self) -> &str {
        match self {
            Provider::Echo(_) => "echo",
            Provider::Replay(_) => "replay",
        }
    }

    /// Whether a case must render a prompt for this provider.
    pub fn needs_prompt(&self) -> bool {
        match self {
            Provider::Echo(_) => true,
            Provider::Replay(_) => false,
        }
    }

    pub async fn complete(&self, request: Request<'_>) -> std::result::Result<Response, CallError> {
        match self {
            Provider::Echo(p) => Ok(p.complete(request)),
            Provider::Replay(p) => p.complete(request),
        }
    }
}
