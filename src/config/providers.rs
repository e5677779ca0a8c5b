//! The `[providers.NAME]` tables: which model each provider reaches and
//! how, and the `[prices]` table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::Usage;

/// A model provider, by its `type`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ProviderSpec {
    /// Returns the rendered prompt: checks a suite's plumbing with no model.
    Echo {},
    /// Returns outputs an application already logged, keyed by case id.
    Replay { file: PathBuf },
    /// OpenAI Chat Completions.
    Openai(HttpSpec),
    /// Anthropic Messages.
    Anthropic(HttpSpec),
    /// Any server with OpenAI's Chat Completions API (Ollama, vLLM, Groq, …).
    OpenaiCompatible(HttpSpec),
    /// An Azure OpenAI deployment.
    AzureOpenai(HttpSpec),
}

/// The settings of an HTTP provider. Which keys apply depends on the type;
/// the provider module checks the combination.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HttpSpec {
    pub model: Option<String>,
    /// The API root, e.g. `http://localhost:11434/v1` (OpenAI-style) or
    /// `https://api.anthropic.com`; each type has a default but `openai-compatible`.
    pub base_url: Option<String>,
    /// The environment variable holding the API key (a default per type).
    pub api_key_env: Option<String>,
    /// Azure: `https://NAME.openai.azure.com`, the deployment and the API version.
    pub endpoint: Option<String>,
    pub deployment: Option<String>,
    pub api_version: Option<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<i64>,
    #[serde(default)]
    pub stop: Vec<String>,
    /// The system prompt.
    pub system: Option<String>,
    pub response_format: Option<ResponseFormat>,
    /// A rate-limit preset: `openai-tier1`, `openai-tier2`, `anthropic-tier1`, `anthropic-tier2`.
    pub tier: Option<String>,
    /// Requests per minute this suite may spend (overrides the tier).
    pub rpm: Option<u32>,
    /// Tokens per minute this suite may spend (overrides the tier).
    pub tpm: Option<u32>,
    /// Requests in flight at once (overrides the tier).
    pub concurrency: Option<usize>,
    /// Seconds before a call is abandoned (and retried).
    pub timeout_secs: Option<f64>,
    /// Retries after the first attempt, for 408, 409, 429, 5xx, timeouts and resets.
    pub max_retries: Option<u32>,
    /// The largest answer body read (`16MiB` by default); a larger one is an error.
    pub max_response_size: Option<String>,
    /// USD per million input and output tokens (overrides `[prices]`).
    pub price: Option<Price>,
}

/// What the model is asked to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseFormat {
    Text,
    Json,
}

/// USD per million input and output tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per million prompt tokens.
    pub input: f64,
    /// USD per million completion tokens.
    pub output: f64,
}

impl Price {
    /// What `usage` costs at this price, in USD.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.prompt_tokens as f64 * self.input + usage.completion_tokens as f64 * self.output)
            / 1_000_000.0
    }
}

/// Resolves each `replay` provider's file against the config's folder; a
/// missing file is an error naming the key.
pub(super) fn resolve(
    mut providers: BTreeMap<String, ProviderSpec>,
    dir: &Path,
) -> Result<BTreeMap<String, ProviderSpec>, (String, String)> {
    for (name, spec) in providers.iter_mut() {
        if let ProviderSpec::Replay { file } = spec {
            let full = dir.join(&*file);
            if !full.is_file() {
                return Err((
                    format!("providers.{name}.file"),
                    format!("{} does not exist", full.display()),
                ));
            }
            *file = full;
        }
    }
    Ok(providers)
}
