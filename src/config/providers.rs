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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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

impl ProviderSpec {
    /// The HTTP settings, for the types that have them.
    fn http_settings(&self) -> Option<&HttpSpec> {
        match self {
            ProviderSpec::Echo {} | ProviderSpec::Replay { .. } => None,
            ProviderSpec::Openai(h)
            | ProviderSpec::Anthropic(h)
            | ProviderSpec::OpenaiCompatible(h)
            | ProviderSpec::AzureOpenai(h) => Some(h),
        }
    }
}

/// The HTTP APIs a provider can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpKind {
    Openai,
    OpenaiCompatible,
    AzureOpenai,
    Anthropic,
}

/// An environment variable that names an API root: a URL as it is, or a
/// host name served over HTTPS (with the API's path after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlVar {
    Url(&'static str),
    Host {
        name: &'static str,
        path: &'static str,
    },
}

impl UrlVar {
    pub fn name(self) -> &'static str {
        match self {
            UrlVar::Url(name) | UrlVar::Host { name, .. } => name,
        }
    }

    /// The API root a value of this variable names. A host given with
    /// its scheme is taken as the host it names.
    pub fn url(self, value: &str) -> String {
        match self {
            UrlVar::Url(_) => value.to_string(),
            UrlVar::Host { path, .. } => {
                let host = value
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/');
                format!("https://{host}{path}")
            }
        }
    }
}

/// Names no provider key may come from. A suite's config comes with the
/// pull request under test, and `base-url` can point anywhere: a key read
/// from one of these would hand GitHub's token (or the runner's own) to
/// whatever server the config names. GitHub reserves `GITHUB_*` for its
/// own variables, among them `GITHUB_TOKEN`.
const REFUSED_PREFIXES: [&str; 3] = ["GITHUB_", "ACTIONS_", "RUNNER_"];
const REFUSED_NAMES: [&str; 6] = [
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GH_PAT",
    "GITHUB_PAT",
    "AI_EVALS_GITHUB_TOKEN",
];

/// Refuses a key variable that holds GitHub's token or the runner's.
/// Names are compared in upper case: Windows does not tell case apart.
fn check_key_env(var: &str) -> Result<(), String> {
    let upper = var.to_ascii_uppercase();
    let refused = REFUSED_NAMES.contains(&upper.as_str())
        || REFUSED_PREFIXES.iter().any(|p| upper.starts_with(p));
    if refused {
        Err(format!(
            "{var:?} is refused: it holds a GitHub token or a runner's variable (GITHUB_*, ACTIONS_*, RUNNER_*, GH_TOKEN and the like), which must never go to a model provider. Put the provider's key in a variable of its own and name that"
        ))
    } else {
        Ok(())
    }
}

// The one place that knows which environment variables each API reads:
// the official SDKs' and promptfoo's, in the order they read them.
const OPENAI_URLS: &[UrlVar] = &[
    UrlVar::Host {
        name: "OPENAI_API_HOST",
        path: "/v1",
    },
    UrlVar::Url("OPENAI_API_BASE_URL"),
    UrlVar::Url("OPENAI_BASE_URL"),
];
const AZURE_URLS: &[UrlVar] = &[
    UrlVar::Url("AZURE_API_BASE_URL"),
    UrlVar::Url("AZURE_OPENAI_API_BASE_URL"),
    UrlVar::Url("AZURE_OPENAI_BASE_URL"),
    UrlVar::Host {
        name: "AZURE_API_HOST",
        path: "",
    },
    UrlVar::Host {
        name: "AZURE_OPENAI_API_HOST",
        path: "",
    },
];
const ANTHROPIC_URLS: &[UrlVar] = &[
    UrlVar::Url("ANTHROPIC_API_BASE_URL"),
    UrlVar::Url("ANTHROPIC_BASE_URL"),
];

impl HttpKind {
    /// The variables that name the API root when the config names none,
    /// the first one set winning.
    pub fn url_vars(self) -> &'static [UrlVar] {
        match self {
            HttpKind::Openai | HttpKind::OpenaiCompatible => OPENAI_URLS,
            HttpKind::AzureOpenai => AZURE_URLS,
            HttpKind::Anthropic => ANTHROPIC_URLS,
        }
    }

    /// The variables that hold the API key when the config names none,
    /// the first one set winning.
    pub fn key_vars(self) -> &'static [&'static str] {
        match self {
            HttpKind::Openai => &["OPENAI_API_KEY"],
            HttpKind::AzureOpenai => &["AZURE_API_KEY", "AZURE_OPENAI_API_KEY"],
            HttpKind::Anthropic => &["ANTHROPIC_API_KEY"],
            HttpKind::OpenaiCompatible => &[],
        }
    }

    /// The API root the environment names (`get` reads a variable, unset
    /// and blank alike `None`), with the variable it came from.
    pub fn url_from_env(
        self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Option<(String, &'static str)> {
        self.url_vars()
            .iter()
            .find_map(|var| get(var.name()).map(|value| (var.url(&value), var.name())))
    }
}

impl ProviderSpec {
    /// An HTTP provider's API and settings.
    pub fn http(kind: HttpKind, spec: HttpSpec) -> ProviderSpec {
        match kind {
            HttpKind::Openai => ProviderSpec::Openai(spec),
            HttpKind::OpenaiCompatible => ProviderSpec::OpenaiCompatible(spec),
            HttpKind::AzureOpenai => ProviderSpec::AzureOpenai(spec),
            HttpKind::Anthropic => ProviderSpec::Anthropic(spec),
        }
    }
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
/// missing file is an error naming the key, and so is an `api-key-env`
/// that names a GitHub token or a runner's variable.
pub(super) fn resolve(
    mut providers: BTreeMap<String, ProviderSpec>,
    dir: &Path,
) -> Result<BTreeMap<String, ProviderSpec>, (String, String)> {
    for (name, spec) in providers.iter_mut() {
        if let Some(var) = spec.http_settings().and_then(|h| h.api_key_env.as_deref()) {
            check_key_env(var).map_err(|m| (format!("providers.{name}.api-key-env"), m))?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_and_runner_variables_are_refused_as_keys() {
        for var in [
            "GITHUB_TOKEN",
            "github_token",
            "GITHUB_API_URL",
            "GH_TOKEN",
            "gh_token",
            "GH_ENTERPRISE_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "ACTIONS_RUNTIME_TOKEN",
            "RUNNER_TEMP",
            "AI_EVALS_GITHUB_TOKEN",
        ] {
            let error = check_key_env(var).unwrap_err();
            assert!(error.contains(var), "{error}");
        }
        for var in [
            "OPENAI_API_KEY",
            "MY_GITHUB_MODELS_KEY",
            "ANTHROPIC_API_KEY",
        ] {
            assert_eq!(check_key_env(var), Ok(()), "{var}");
        }
    }
}
