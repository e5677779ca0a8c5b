//! The `[prompts]` table: prompt templates, inline or read from files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A prompt as written: its text, or a file holding it.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum PromptSpec {
    Inline(String),
    File { file: PathBuf },
}

impl PromptSpec {
    /// The template's source; a file is read relative to `dir`, and an
    /// unreadable one is an error naming `key`.
    pub(super) fn read(self, key: &str, dir: &Path) -> Result<String, (String, String)> {
        match self {
            PromptSpec::Inline(text) => Ok(text),
            PromptSpec::File { file } => {
                let full = dir.join(&file);
                std::fs::read_to_string(&full).map_err(|e| {
                    (
                        format!("{key}.file"),
                        format!("cannot read {}: {e}", full.display()),
                    )
                })
            }
        }
    }
}

/// Every prompt's source by name.
pub(super) fn resolve(
    specs: BTreeMap<String, PromptSpec>,
    dir: &Path,
) -> Result<BTreeMap<String, String>, (String, String)> {
    specs
        .into_iter()
        .map(|(name, spec)| {
            let source = spec.read(&format!("prompts.{name}"), dir)?;
            Ok((name, source))
        })
        .collect()
}
