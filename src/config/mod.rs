//! The suite configuration (`evals.toml`): parsing, validation and path
//! resolution.
//!
//! Everything a user can get wrong in the config is caught here, before a
//! single case runs, and reported with the file and the key (and the line,
//! where the TOML parser knows it). Unknown keys are errors: a typo must not
//! silently turn an assertion off.
//!
//! The config is data: each section's raw form (as serde reads it) is
//! resolved into the values the other stages use (paths joined to the
//! config's folder, durations parsed, names checked), the way ripgrep turns
//! its low-level arguments into high-level ones. Nothing here calls a later
//! stage.

mod cache;
mod cases;
mod compare;
mod grading;
mod limits;
mod names;
mod prompts;
mod providers;
mod refs;
mod suite;
mod targets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};

pub use cache::{CacheConfig, DEFAULT_CACHE_DIR, Mode};
pub use cases::{Choices, Dataset, DatasetSpec, Defaults, Format, TestSpec, transform_script};
pub use compare::{CompareConfig, FailOn, Gate, GateFlags, TimingGate};
pub use grading::{Grading, GradingSpec};
pub use limits::{DEFAULT_MAX_WAIT, Limits};
pub use prompts::{ChatMessage, Prompt, PromptSpec, Role};
pub use providers::{HttpKind, HttpSpec, Price, ProviderSpec, ResponseFormat, UrlVar};
pub use refs::check_branch;
pub use suite::{
    DEFAULT_MAX_LINE_SIZE, MAX_BATCH_SIZE, MAX_CONCURRENCY, MAX_REPEAT, Suite, Undefined,
};
pub use targets::Targets;

use cache::CacheSpec;
use limits::LimitsSpec;
use names::Names;

/// A loaded, validated suite configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, as given on the command line.
    pub path: PathBuf,
    /// The directory relative paths are resolved against.
    pub dir: PathBuf,
    /// The `[suite]` section.
    pub suite: Suite,
    /// Prompt templates by name, with their source text.
    pub prompts: BTreeMap<String, Prompt>,
    /// The providers by name.
    pub providers: BTreeMap<String, ProviderSpec>,
    /// Price overrides by model name, USD per million tokens.
    pub prices: BTreeMap<String, Price>,
    /// The `[cache]` section, resolved.
    pub cache: CacheConfig,
    /// The `[grading]` section: who grades model-graded assertions.
    pub grading: Grading,
    /// The `[compare]` section: baseline, history window, severity bands.
    pub compare: CompareConfig,
    /// The `[limits]` section: the longest wait a run sits through.
    pub limits: Limits,
    /// The `[targets]` section: what the performance report grades against.
    pub targets: Targets,
    /// The `[defaults]` section, applied to every test.
    pub defaults: Defaults,
    /// Inline tests, with the config line each starts on.
    pub tests: Vec<(TestSpec, u64)>,
    /// The `[[datasets]]`, their globs expanded.
    pub datasets: Vec<Dataset>,
    /// A hash of the parsed configuration, so runs of different configs are
    /// never mistaken for each other (and shards of different configs never merged).
    pub hash: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    suite: Suite,
    #[serde(default)]
    prompts: BTreeMap<String, PromptSpec>,
    #[serde(default)]
    providers: BTreeMap<String, ProviderSpec>,
    #[serde(default)]
    prices: BTreeMap<String, Price>,
    #[serde(default)]
    cache: CacheSpec,
    #[serde(default)]
    grading: GradingSpec,
    #[serde(default)]
    compare: CompareConfig,
    #[serde(default)]
    limits: LimitsSpec,
    #[serde(default)]
    targets: Targets,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    tests: Vec<Spanned<TestSpec>>,
    #[serde(default)]
    datasets: Vec<DatasetSpec>,
}

/// The parts of the config that define what a run means, hashed into
/// `Config::hash`.
#[derive(Serialize)]
struct Hashed<'a> {
    suite: &'a Suite,
    prompts: &'a BTreeMap<String, Prompt>,
    providers: &'a BTreeMap<String, ProviderSpec>,
    prices: &'a BTreeMap<String, Price>,
    grading: &'a Grading,
    defaults: &'a Defaults,
    tests: Vec<&'a TestSpec>,
    datasets: &'a [Dataset],
}

/// `path` relative to `cwd` when it lies inside it, without `.` parts,
/// with `/` between parts.
fn stored_path(path: &Path, cwd: Option<&Path>) -> String {
    use std::path::Component;
    let relative = match cwd {
        Some(cwd) if path.is_absolute() => path.strip_prefix(cwd).unwrap_or(path),
        _ => path,
    };
    let mut out = String::new();
    for part in relative.components() {
        match part {
            Component::CurDir => {}
            Component::RootDir => out.push('/'),
            Component::Prefix(prefix) => out.push_str(&prefix.as_os_str().to_string_lossy()),
            other => {
                if !out.is_empty() && !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(&other.as_os_str().to_string_lossy());
            }
        }
    }
    out
}

/// The config file, for errors that name it.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// `evals.toml: key: message`.
    fn error(&self, (key, message): (impl AsRef<str>, String)) -> Error {
        Error::input(format!(
            "{}: {}: {message}",
            self.path.display(),
            key.as_ref()
        ))
    }

    /// `evals.toml:LINE: message`.
    fn error_at(&self, offset: usize, message: impl std::fmt::Display) -> Error {
        Error::at(self.path, line_of(self.text, offset), message)
    }
}

impl Config {
    /// The config file as the history keeps it: relative to the working
    /// folder when inside it (a checkout's root in CI), with `/` between
    /// parts, so every machine and checkout names it the same way.
    pub fn stored_path(&self) -> String {
        stored_path(&self.path, std::env::current_dir().ok().as_deref())
    }

    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(format!(
                "cannot read config {}: {e}. Pass the suite's evals.toml with --config.",
                path.display()
            ))
        })?;
        Config::parse(path, &text)
    }

    /// Parses config text; `path` names it in errors and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let source = Source { path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            source.error_at(
                e.span().map_or(0, |span| span.start),
                e.message().trim_end(),
            )
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        raw.suite.check().map_err(|e| source.error(e))?;
        raw.compare.check().map_err(|e| source.error(e))?;
        let cache = raw.cache.resolve(&dir).map_err(|e| source.error(e))?;
        let limits = raw.limits.resolve().map_err(|e| source.error(e))?;
        let prompts = prompts::resolve(raw.prompts, &dir).map_err(|e| source.error(e))?;
        let providers = providers::resolve(raw.providers, &dir).map_err(|e| source.error(e))?;
        let grading = raw
            .grading
            .resolve(&dir, &providers)
            .map_err(|e| source.error(e))?;
        let names = Names {
            prompts: &prompts,
            providers: &providers,
            grading: &grading,
        };
        cases::check_defaults(&raw.defaults, &names).map_err(|e| source.error(e))?;
        let tests = inline_tests(raw.tests, &names, &source)?;
        let datasets = raw
            .datasets
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                spec.resolve(i, &dir, &names)
                    .map_err(|(key, m)| source.error((format!("datasets[{i}].{key}"), m)))
            })
            .collect::<Result<Vec<_>>>()?;
        if providers.is_empty() {
            return Err(source.error((
                "providers",
                "no provider is configured; add one, e.g. [providers.echo] type = \"echo\"".into(),
            )));
        }
        if tests.is_empty() && datasets.is_empty() {
            return Err(source.error((
                "tests",
                "the suite has no tests: add [[tests]] or [[datasets]]".into(),
            )));
        }
        let mut config = Config {
            path: path.to_path_buf(),
            dir,
            suite: raw.suite,
            prompts,
            providers,
            prices: raw.prices,
            cache,
            grading,
            compare: raw.compare,
            limits,
            targets: raw.targets,
            defaults: raw.defaults,
            tests,
            datasets,
            hash: String::new(),
        };
        config.hash = config.meaning_hash();
        Ok(config)
    }

    /// A hash of what the config means (not how it is formatted).
    fn meaning_hash(&self) -> String {
        let hashed = Hashed {
            suite: &self.suite,
            prompts: &self.prompts,
            providers: &self.providers,
            prices: &self.prices,
            grading: &self.grading,
            defaults: &self.defaults,
            tests: self.tests.iter().map(|(t, _)| t).collect(),
            datasets: &self.datasets,
        };
        let json = serde_json::to_vec(&hashed).expect("config serializes to JSON");
        blake3::hash(&json).to_hex()[..16].to_string()
    }
}

/// "unknown provider 'x'; defined: a, b".
fn unknown<'a>(what: &str, name: &str, known: impl Iterator<Item = &'a String>) -> String {
    let known: Vec<&str> = known.map(String::as_str).collect();
    if known.is_empty() {
        format!("unknown {what} '{name}': none is defined")
    } else {
        format!("unknown {what} '{name}'; defined: {}", known.join(", "))
    }
}

/// The inline tests, each checked and paired with the line it starts on.
fn inline_tests(
    specs: Vec<Spanned<TestSpec>>,
    names: &Names,
    source: &Source,
) -> Result<Vec<(TestSpec, u64)>> {
    specs
        .into_iter()
        .enumerate()
        .map(|(i, spanned)| {
            let start = spanned.span().start;
            let test = spanned.into_inner();
            cases::check_test(&test, names)
                .map_err(|(key, m)| source.error_at(start, format!("tests[{i}].{key}: {m}")))?;
            Ok((test, line_of(source.text, start)))
        })
        .collect()
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> u64 {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("evals.toml"), text)
    }

    const MINIMAL: &str = r#"
[suite]
name = "demo"

[providers.echo]
type = "echo"

[prompts]
ask = "Q: {{ question }}"

[[tests]]
vars = { question = "hi" }
assert = [{ type = "contains", value = "hi" }]
"#;

    #[test]
    fn the_stored_config_path_is_the_same_on_every_checkout() {
        let cwd = Path::new("/home/runner/work/app/app");
        let at = |p: &str| stored_path(Path::new(p), Some(cwd));
        assert_eq!(
            at("/home/runner/work/app/app/evals/evals.toml"),
            "evals/evals.toml"
        );
        assert_eq!(at("./evals/evals.toml"), "evals/evals.toml");
        assert_eq!(at("evals.toml"), "evals.toml");
        assert_eq!(at("/elsewhere/evals.toml"), "/elsewhere/evals.toml");
        assert_eq!(stored_path(Path::new("a/./b.toml"), None), "a/b.toml");
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.suite.batch_size, 50);
        assert_eq!(config.suite.min_pass_rate, 1.0);
        assert_eq!(config.tests.len(), 1);
        assert_eq!(config.tests[0].1, 11, "the line of its [[tests]] header");
        assert_eq!(config.hash.len(), 16);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = MINIMAL.replace("name = \"demo\"", "name = \"demo\"\nbatchsize = 3");
        let err = parse(&text).unwrap_err();
        assert!(
            err.message()
                .starts_with("evals.toml:4: unknown field `batchsize`"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn unknown_assertion_type_names_key() {
        let text = MINIMAL.replace("\"contains\"", "\"containz\"");
        let err = parse(&text).unwrap_err();
        assert!(
            err.message().contains("evals.toml:11: tests[0].assert[0]"),
            "{err}"
        );
        assert!(err.message().contains("containz"), "{err}");
    }

    #[test]
    fn unknown_default_prompt_is_named() {
        let text = format!("{MINIMAL}\n[defaults]\nprompt = \"nope\"\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.message(),
            "evals.toml: defaults.prompt: unknown prompt 'nope'; defined: ask"
        );
    }

    #[test]
    fn missing_dataset_file_is_named() {
        let text = format!("{MINIMAL}\n[[datasets]]\npath = \"missing.jsonl\"\n");
        let err = parse(&text).unwrap_err();
        assert_eq!(
            err.message(),
            "evals.toml: datasets[0].path: ./missing.jsonl does not exist"
        );
    }

    #[test]
    fn hash_changes_with_meaning_not_with_formatting() {
        let a = parse(MINIMAL).unwrap().hash;
        let b = parse(&MINIMAL.replace("name = \"demo\"", "name   =   \"demo\"  # same"))
            .unwrap()
            .hash;
        let c = parse(&MINIMAL.replace("Q: ", "Question: ")).unwrap().hash;
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
