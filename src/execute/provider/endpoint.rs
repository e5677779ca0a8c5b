//! Where an HTTP provider's calls go and with which key: the API's
//! default URL, the provider's `base-url` (or Azure's endpoint and
//! deployment), the variables the official SDKs read, and the API key.

use super::wire::Api;
use crate::config::HttpSpec;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// The Azure OpenAI API version used when the config names none.
const AZURE_API_VERSION: &str = "2024-10-21";

/// Where a provider's calls go.
pub(super) struct Endpoint {
    /// Chat completions or messages.
    pub url: String,
    /// Where embeddings are asked for; `None` for an API without them.
    pub embeddings_url: Option<String>,
    pub model: String,
}

/// `providers.NAME.KEY: message`.
fn key_error(name: &str, key: &str, message: impl Into<String>) -> Error {
    Error::input(format!("providers.{name}.{key}: {}", message.into()))
}

/// The chat URL, the embeddings URL (if the API has one) and the model
/// name, from the API's defaults and the provider's settings.
pub(super) fn endpoint(
    name: &str,
    api: Api,
    spec: &HttpSpec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint> {
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
        let version = spec.api_version.as_deref().unwrap_or(AZURE_API_VERSION);
        let root = format!("{}/openai/deployments/{deployment}", trim(&endpoint));
        return Ok(Endpoint {
            url: format!("{root}/chat/completions?api-version={version}"),
            embeddings_url: Some(format!("{root}/embeddings?api-version={version}")),
            model: spec.model.clone().unwrap_or_else(|| deployment.to_string()),
        });
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
        Endpoint {
            url: format!("{base}/v1/messages"),
            embeddings_url: None,
            model,
        }
    } else {
        Endpoint {
            url: format!("{base}/chat/completions"),
            embeddings_url: Some(format!("{base}/embeddings")),
            model,
        }
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

/// The API key from the environment variable the provider names (or its
/// API's default); a variable that is named but not set is an error.
pub(super) fn api_key(
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
}
