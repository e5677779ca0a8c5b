//! The cases: `[defaults]`, inline `[[tests]]` and `[[datasets]]` files,
//! each checked against the prompts, providers and graders it names.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::names::Names;
use crate::assertion::{AssertionSpec, Language, Script};

/// The `[defaults]` section, applied to every test.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Several prompts: every test runs once per prompt (and provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Vec<String>>,
    /// Several providers: every test runs once per provider (and prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assert: Vec<AssertionSpec>,
    /// JavaScript (or a `file://` script) that reshapes every output
    /// before it is checked, unless the test has its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    /// A script that returns variables to lay over each test's own before
    /// its prompt is rendered, unless the test has its own.
    #[serde(
        default,
        rename = "transform-vars",
        skip_serializing_if = "Option::is_none"
    )]
    pub transform_vars: Option<String>,
}

impl Defaults {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.provider.is_none()
            && self.prompt.is_none()
            && self.prompts.is_none()
            && self.providers.is_none()
            && self.threshold.is_none()
            && self.vars.is_empty()
            && self.assert.is_empty()
            && self.transform.is_none()
            && self.transform_vars.is_none()
    }
}

/// One test case as written inline in the config or as a structured dataset
/// row (`{"id": …, "vars": {…}, "assert": […]}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub id: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub assert: Vec<AssertionSpec>,
    /// An output already produced: scored as it is, no provider is called.
    pub output: Option<String>,
    pub threshold: Option<f64>,
    pub prompt: Option<String>,
    pub provider: Option<String>,
    /// Run this test once per prompt of the list (overriding the defaults').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Vec<String>>,
    /// Run this test once per provider of the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    /// JavaScript (or a `file://` script) that reshapes the output before
    /// it is checked (instead of the defaults').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    /// A script that returns variables to lay over this test's own before
    /// its prompt is rendered (instead of the defaults').
    #[serde(
        default,
        rename = "transform-vars",
        skip_serializing_if = "Option::is_none"
    )]
    pub transform_vars: Option<String>,
}

/// What a level of the config chose for a test's prompt and provider:
/// the test, its dataset, or the defaults. The most specific level that
/// says anything wins.
pub trait Choices {
    /// The prompts this level names: one, several, or none.
    fn prompt_choice(&self) -> Option<Vec<String>>;
    /// The providers this level names.
    fn provider_choice(&self) -> Option<Vec<String>>;
}

fn choice(one: &Option<String>, many: &Option<Vec<String>>) -> Option<Vec<String>> {
    many.clone().or_else(|| one.clone().map(|name| vec![name]))
}

impl Choices for TestSpec {
    fn prompt_choice(&self) -> Option<Vec<String>> {
        choice(&self.prompt, &self.prompts)
    }
    fn provider_choice(&self) -> Option<Vec<String>> {
        choice(&self.provider, &self.providers)
    }
}

impl Choices for Defaults {
    fn prompt_choice(&self) -> Option<Vec<String>> {
        choice(&self.prompt, &self.prompts)
    }
    fn provider_choice(&self) -> Option<Vec<String>> {
        choice(&self.provider, &self.providers)
    }
}

impl Choices for Dataset {
    fn prompt_choice(&self) -> Option<Vec<String>> {
        choice(&self.prompt, &self.prompts)
    }
    fn provider_choice(&self) -> Option<Vec<String>> {
        choice(&self.provider, &self.providers)
    }
}

/// Checks a level's prompt and provider keys: known names, a list that is
/// not empty, and not both the one and the many.
fn check_choices(
    names: &Names,
    prompt: (&Option<String>, &Option<Vec<String>>),
    provider: (&Option<String>, &Option<Vec<String>>),
) -> Result<(), (String, String)> {
    for (key, one, many, check) in [
        (
            "prompt",
            prompt.0,
            prompt.1,
            &(|n: &str| names.prompt(n)) as &dyn Fn(&str) -> Result<(), String>,
        ),
        ("provider", provider.0, provider.1, &|n: &str| {
            names.provider(n)
        }),
    ] {
        let plural = format!("{key}s");
        if one.is_some() && many.is_some() {
            return Err((plural, format!("set {key} or {key}s, not both")));
        }
        if let Some(one) = one {
            check(one).map_err(|m| (key.to_string(), m))?;
        }
        if let Some(many) = many {
            if many.is_empty() {
                return Err((plural, "needs at least one name".into()));
            }
            for (i, name) in many.iter().enumerate() {
                check(name).map_err(|m| (format!("{plural}[{i}]"), m))?;
            }
        }
    }
    Ok(())
}

/// Dataset file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jsonl,
    Csv,
    Json,
}

impl Format {
    /// The format a file's extension implies.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Json => "json",
        })
    }
}

/// A `[[datasets]]` entry with its glob expanded.
#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub pattern: String,
    /// The matching files, sorted, each with its format.
    #[serde(skip)]
    pub files: Vec<(PathBuf, Format)>,
    /// Applied to this dataset's rows, between `[defaults]` and the row's own.
    pub prompt: Option<String>,
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    pub assert: Vec<AssertionSpec>,
}

/// A `[[datasets]]` entry as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assert: Vec<AssertionSpec>,
}

/// Checks what the defaults name; the error is (key, why).
pub(super) fn check_defaults(defaults: &Defaults, names: &Names) -> Result<(), (String, String)> {
    let key = |k: &str| format!("defaults.{k}");
    check_choices(
        names,
        (&defaults.prompt, &defaults.prompts),
        (&defaults.provider, &defaults.providers),
    )
    .map_err(|(k, m)| (key(&k), m))?;
    check_threshold(defaults.threshold).map_err(|m| (key("threshold"), m))?;
    check_transforms(&defaults.transform, &defaults.transform_vars)
        .map_err(|(k, m)| (key(k), m))?;
    names
        .assertions(&defaults.assert)
        .map_err(|(k, m)| (key(&k), m))
}

/// A transform's script, which is JavaScript unless it names a `.py` file.
pub fn transform_script(text: &str) -> Result<Script, String> {
    Script::parse(text, Language::JavaScript)
}

/// Checks that `transform` and `transform-vars` name usable scripts.
fn check_transforms(
    transform: &Option<String>,
    transform_vars: &Option<String>,
) -> Result<(), (&'static str, String)> {
    for (key, text) in [("transform", transform), ("transform-vars", transform_vars)] {
        if let Some(text) = text {
            transform_script(text).map_err(|m| (key, m))?;
        }
    }
    Ok(())
}

/// Checks what an inline test names; the error is (key within the test, why).
pub(super) fn check_test(test: &TestSpec, names: &Names) -> Result<(), (String, String)> {
    check_choices(
        names,
        (&test.prompt, &test.prompts),
        (&test.provider, &test.providers),
    )?;
    check_threshold(test.threshold).map_err(|m| ("threshold".into(), m))?;
    check_transforms(&test.transform, &test.transform_vars).map_err(|(k, m)| (k.into(), m))?;
    names.assertions(&test.assert)
}

impl DatasetSpec {
    /// Checks what the dataset names and expands its path into files with
    /// their formats; the error is (key within the dataset, why).
    pub(super) fn resolve(
        self,
        index: usize,
        dir: &Path,
        names: &Names,
    ) -> Result<Dataset, (String, String)> {
        check_choices(
            names,
            (&self.prompt, &self.prompts),
            (&self.provider, &self.providers),
        )?;
        names.assertions(&self.assert)?;
        let files = expand(dir, &self.path).map_err(|m| ("path".into(), m))?;
        let files = files
            .into_iter()
            .map(|file| match self.format.or_else(|| Format::from_path(&file)) {
                Some(format) => Ok((file, format)),
                None => Err(("path".into(), format!(
                    "cannot tell the format of {}; name it .jsonl, .csv or .json, or set datasets[{index}].format",
                    file.display()
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Dataset {
            pattern: self.path,
            files,
            prompt: self.prompt,
            provider: self.provider,
            prompts: self.prompts,
            providers: self.providers,
            assert: self.assert,
        })
    }
}

fn check_threshold(threshold: Option<f64>) -> Result<(), String> {
    match threshold {
        Some(t) if !(0.0..=1.0).contains(&t) => Err(format!("{t} is not between 0 and 1")),
        _ => Ok(()),
    }
}

/// Expands a dataset path or glob relative to the config directory; no match
/// is an error, because a suite that silently runs no cases passes.
fn expand(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = dir.join(pattern);
    let full_str = full
        .to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", full.display()))?;
    let is_glob = pattern.contains(['*', '?', '[']);
    if !is_glob {
        return if full.exists() {
            Ok(vec![full])
        } else {
            Err(format!("{} does not exist", full.display()))
        };
    }
    let mut files: Vec<PathBuf> = glob::glob(full_str)
        .map_err(|e| format!("'{pattern}' is not a valid glob: {e}"))?
        .filter_map(|entry| entry.ok())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no file matches {}", full.display()));
    }
    Ok(files)
}
