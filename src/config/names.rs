//! What tests, datasets and the defaults may name: a prompt, a provider,
//! and (through their assertions) a grader. Each name is checked when the
//! config loads, so a typo never reaches a run.

use std::collections::BTreeMap;

use super::Problem;
use super::grading::Grading;
use super::prompts::Prompt;
use super::providers::ProviderSpec;
use crate::assertion::{AssertionSpec, Type};

/// The names a config defines.
pub(super) struct Names<'a> {
    pub(super) prompts: &'a BTreeMap<String, Prompt>,
    pub(super) providers: &'a BTreeMap<String, ProviderSpec>,
    pub(super) grading: &'a Grading,
}

impl Names<'_> {
    pub(super) fn provider(&self, name: &str) -> Result<(), Problem> {
        if self.providers.contains_key(name) {
            Ok(())
        } else {
            Err(Problem::unknown("provider", name, self.providers.keys()))
        }
    }

    pub(super) fn prompt(&self, name: &str) -> Result<(), Problem> {
        if self.prompts.contains_key(name) {
            Ok(())
        } else {
            Err(Problem::unknown("prompt", name, self.prompts.keys()))
        }
    }

    /// Checks an assertion: its type and value, and that a model-graded
    /// one finds the provider that grades it.
    pub(super) fn assertion(&self, spec: &AssertionSpec) -> Result<(), Problem> {
        spec.validate()?;
        let Ok(kind) = spec.base_type() else {
            return Ok(());
        };
        if !kind.is_graded() {
            return Ok(());
        }
        let (default, section) = match kind {
            Type::LlmJudge => (&self.grading.judge, "judge"),
            _ => (&self.grading.embeddings, "embeddings"),
        };
        match spec.provider.as_ref().or(default.as_ref()) {
            Some(name) => self.provider(name),
            None => Err(Problem::NoGrader {
                kind: spec.kind.clone(),
                section,
            }),
        }
    }

    /// Checks a list of assertions; the error names the first bad one's
    /// index, as `assert[i]`.
    pub(super) fn assertions(&self, specs: &[AssertionSpec]) -> Result<(), (String, String)> {
        specs.iter().enumerate().try_for_each(|(i, spec)| {
            self.assertion(spec)
                .map_err(|problem| (format!("assert[{i}]"), problem.to_string()))
        })
    }
}
