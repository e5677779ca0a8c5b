//! The `[grading]` section: which providers grade the model-graded
//! assertions (`llm-judge`, `similar`), and with which judge prompt.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::prompts::{Prompt, PromptSpec};
use super::providers::ProviderSpec;
use super::unknown;

/// The `[grading]` section as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GradingSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge_prompt: Option<PromptSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

impl GradingSpec {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.judge.is_none()
            && self.judge_prompt.is_none()
            && self.embeddings.is_none()
            && self.dimensions.is_none()
    }
}

/// The providers that grade `llm-judge` and `similar` assertions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Grading {
    /// The default judge provider.
    pub judge: Option<String>,
    /// The judge prompt template's source, replacing the built-in one.
    pub judge_prompt: Option<String>,
    /// The default embeddings provider.
    pub embeddings: Option<String>,
    /// Embedding dimensions to ask for (models that support shortening).
    pub dimensions: Option<u32>,
}

impl GradingSpec {
    /// Reads the judge prompt and checks that each grader names a provider
    /// that can do the job.
    pub(super) fn resolve(
        self,
        dir: &Path,
        providers: &BTreeMap<String, ProviderSpec>,
    ) -> Result<Grading, (String, String)> {
        let grading = Grading {
            judge: self.judge,
            judge_prompt: self
                .judge_prompt
                .map(|p| match p.read("grading.judge-prompt", dir)? {
                    Prompt::Text(text) => Ok(text),
                    Prompt::Chat(_) => Err((
                        "grading.judge-prompt".to_string(),
                        "the judge prompt is one text, not a list of messages".to_string(),
                    )),
                })
                .transpose()?,
            embeddings: self.embeddings,
            dimensions: self.dimensions,
        };
        for (key, name) in [
            ("grading.judge", &grading.judge),
            ("grading.embeddings", &grading.embeddings),
        ] {
            if let Some(name) = name
                && !providers.contains_key(name)
            {
                return Err((key.into(), unknown("provider", name, providers.keys())));
            }
        }
        if let Some(name) = &grading.embeddings
            && !matches!(
                providers[name],
                ProviderSpec::Openai(_)
                    | ProviderSpec::OpenaiCompatible(_)
                    | ProviderSpec::AzureOpenai(_)
            )
        {
            return Err((
                "grading.embeddings".into(),
                format!(
                    "provider '{name}' has no embeddings API; use an openai, openai-compatible or azure-openai provider"
                ),
            ));
        }
        Ok(grading)
    }
}
