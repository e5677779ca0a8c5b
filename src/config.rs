//! The suite configuration (`evals.toml`): parsing, validation and path
//! resolution.
//!
//! Everything a user can get wrong in the config is caught here, before a
//! single case runs, and reported with the file and the key (and the line,
//! where the TOML parser knows it). Unknown keys are errors: a typo must not
//! silently turn an assertion off.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::cache;
use crate::error::{Error, Result};
use crate::pricing::Price;
use crate::scoring::AssertionSpec;

/// A loaded, validated suite configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, as given on the command line.
    pub path: PathBuf,
    /// The directory relative paths are resolved against.
    pub dir: PathBuf,
    pub suite: Suite,
    /// Prompt templates by name, with their source text.
    pub prompts: BTreeMap<String, String>,
    pub providers: BTreeMap<String, ProviderSpec>,
    /// Price overrides by model name, USD per million tokens.
    pub prices: BTreeMap<String, Price>,
    /// The `[cache]` section, resolved.
    pub cache: CacheConfig,
    /// The `[grading]` section: who grades model-graded assertions.
    pub grading: Grading,
    /// The `[compare]` section: baseline, history window, severity bands.
    pub compare: CompareConfig,
    /// The `[targets]` section: what the performance report grades against.
    pub targets: Targets,
    pub defaults: Defaults,
    /// Inline tests, with the config line each starts on.
    pub tests: Vec<(TestSpec, u64)>,
    pub datasets: Vec<Dataset>,
    /// A hash of the parsed configuration, so runs of different configs are
    /// never mistaken for each other (and shards of different configs never merged).
    pub hash: String,
}

/// The `[suite]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Suite {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The share of cases that must pass; below it the run exits with 1.
    #[serde(default = "default_min_pass_rate")]
    pub min_pass_rate: f64,
    /// Cases read, run and stored together; a killed run keeps every stored batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Every dataset row must carry an `id` (otherwise ids are derived from content).
    #[serde(default)]
    pub require_ids: bool,
    /// Cases in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Runs of each case; each repeat is its own cache entry and result row.
    #[serde(default = "default_repeat")]
    pub repeat: u32,
}

fn default_repeat() -> u32 {
    1
}

fn default_min_pass_rate() -> f64 {
    1.0
}

fn default_batch_size() -> usize {
    50
}

fn default_concurrency() -> usize {
    8
}

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

/// The `[defaults]` section, applied to every test.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub provider: Option<String>,
    pub prompt: Option<String>,
    pub threshold: Option<f64>,
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub assert: Vec<AssertionSpec>,
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
    pub assert: Vec<AssertionSpec>,
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
    targets: Targets,
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    tests: Vec<Spanned<TestSpec>>,
    #[serde(default)]
    datasets: Vec<DatasetSpec>,
}

/// The `[compare]` section: how a run is compared with its baseline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct CompareConfig {
    /// The branch whose runs are the baseline and the history.
    pub baseline_branch: String,
    /// How many of the baseline branch's recent runs feed the noise model.
    pub history_window: usize,
    /// History runs needed before a timing can raise an alarm.
    pub min_history: usize,
    /// Confidence shared by all of a comparison's tests.
    pub confidence: f64,
    /// The regression severity that fails the gate.
    pub fail_on: crate::verdict::FailOn,
    /// Worse by more than this fraction is minor, major, critical.
    pub minor: f64,
    pub major: f64,
    pub critical: f64,
    /// The least change a wall-clock timing must show to count.
    pub timing_floor: f64,
}

impl Default for CompareConfig {
    fn default() -> Self {
        let bands = crate::verdict::Bands::default();
        CompareConfig {
            baseline_branch: "main".into(),
            history_window: 30,
            min_history: 5,
            confidence: 0.95,
            fail_on: crate::verdict::FailOn::Critical,
            minor: bands.minor,
            major: bands.major,
            critical: bands.critical,
            timing_floor: 0.10,
        }
    }
}

impl CompareConfig {
    fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        if !(self.minor > 0.0 && self.minor < self.major && self.major < self.critical) {
            return Err((
                "compare.minor",
                format!(
                    "the bands must grow: 0 < minor ({}) < major ({}) < critical ({})",
                    self.minor, self.major, self.critical
                ),
            ));
        }
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err((
                "compare.confidence",
                format!("{} is not between 0.5 and 1", self.confidence),
            ));
        }
        if self.history_window == 0 {
            return Err(("compare.history-window", "must be at least 1".into()));
        }
        if self.min_history < 2 {
            return Err(("compare.min-history", "must be at least 2".into()));
        }
        if !(0.0..1.0).contains(&self.timing_floor) {
            return Err((
                "compare.timing-floor",
                format!("{} is not a fraction between 0 and 1", self.timing_floor),
            ));
        }
        Ok(())
    }

    /// The verdict settings these choices make.
    pub fn settings(&self) -> crate::verdict::Settings {
        crate::verdict::Settings {
            bands: crate::verdict::Bands {
                minor: self.minor,
                major: self.major,
                critical: self.critical,
            },
            confidence: self.confidence,
            min_history: self.min_history,
            timing_floor: self.timing_floor,
            ..crate::verdict::Settings::default()
        }
    }
}

/// The `[targets]` section: the performance a run is graded against, and
/// when a component counts as a bottleneck.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Targets {
    /// Reading and parsing every dataset, in all.
    pub dataset_loading_ms: f64,
    /// One provider call.
    pub execution_ms_per_case: f64,
    /// One exact-match assertion (equals, contains, regex …).
    pub exact_match_ms: f64,
    /// One `similar` assertion.
    pub semantic_ms: f64,
    /// One `llm-judge` assertion.
    pub judge_ms: f64,
    /// Rendering the report.
    pub report_ms: f64,
    /// Share of provider calls answered from the cache.
    pub cache_hit_rate: f64,
    /// Peak resident memory.
    pub memory_mb: f64,
    /// A component busy longer than this is a critical bottleneck …
    pub bottleneck_ms: f64,
    /// … as is one taking more than this share of the run, in percent.
    pub bottleneck_percent: f64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            dataset_loading_ms: 500.0,
            execution_ms_per_case: 2000.0,
            exact_match_ms: 10.0,
            semantic_ms: 100.0,
            judge_ms: 5000.0,
            report_ms: 1000.0,
            cache_hit_rate: 0.70,
            memory_mb: 500.0,
            bottleneck_ms: 30_000.0,
            bottleneck_percent: 50.0,
        }
    }
}

/// The `[grading]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct GradingSpec {
    judge: Option<String>,
    judge_prompt: Option<PromptSpec>,
    embeddings: Option<String>,
    dimensions: Option<u32>,
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

/// The `[cache]` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CacheSpec {
    dir: Option<PathBuf>,
    mode: Option<cache::Mode>,
    ttl: Option<String>,
    max_size: Option<String>,
    #[serde(default)]
    keep_truncated: bool,
    embeddings_ttl: Option<String>,
    embeddings_max_size: Option<String>,
}

/// The `[cache]` section: each setting the suite chose (the command line
/// and the defaults fill in the rest).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheConfig {
    /// Resolved against the config's folder.
    pub dir: Option<PathBuf>,
    pub mode: Option<cache::Mode>,
    pub ttl: Option<Duration>,
    pub max_bytes: Option<u64>,
    pub keep_truncated: bool,
    pub embeddings_ttl: Option<Duration>,
    pub embeddings_max_bytes: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PromptSpec {
    Inline(String),
    File { file: PathBuf },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetSpec {
    path: String,
    format: Option<Format>,
    prompt: Option<String>,
    provider: Option<String>,
    #[serde(default)]
    assert: Vec<AssertionSpec>,
}

/// The parts of the config that define what a run means, hashed into
/// `Config::hash`.
#[derive(Serialize)]
struct Hashed<'a> {
    suite: &'a Suite,
    prompts: &'a BTreeMap<String, String>,
    providers: &'a BTreeMap<String, ProviderSpec>,
    prices: &'a BTreeMap<String, Price>,
    grading: &'a Grading,
    defaults: &'a Defaults,
    tests: Vec<&'a TestSpec>,
    datasets: &'a [Dataset],
}

impl Config {
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
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start)).unwrap_or(1);
            Error::at(path, line, e.message().trim_end())
        })?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let in_config = |key: &str, message: String| {
            Error::input(format!("{}: {key}: {message}", path.display()))
        };

        let suite = raw.suite;
        if suite.name.is_empty()
            || !suite
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(in_config(
                "suite.name",
                format!(
                    "'{}' is not a valid suite name; use letters, digits, '-', '_' and '.'",
                    suite.name
                ),
            ));
        }
        if !(0.0..=1.0).contains(&suite.min_pass_rate) {
            return Err(in_config(
                "suite.min-pass-rate",
                format!("{} is not between 0 and 1", suite.min_pass_rate),
            ));
        }
        if suite.batch_size == 0 {
            return Err(in_config("suite.batch-size", "must be at least 1".into()));
        }
        if suite.concurrency == 0 {
            return Err(in_config("suite.concurrency", "must be at least 1".into()));
        }
        if suite.repeat == 0 {
            return Err(in_config("suite.repeat", "must be at least 1".into()));
        }
        let compare = raw.compare;
        compare.check().map_err(|(key, m)| in_config(key, m))?;
        let targets = raw.targets;
        let raw_cache = raw.cache;
        let duration = |key: &str, text: &Option<String>| {
            text.as_deref()
                .map(cache::parse_duration)
                .transpose()
                .map_err(|m| in_config(key, m))
        };
        let size = |key: &str, text: &Option<String>| {
            text.as_deref()
                .map(cache::parse_size)
                .transpose()
                .map_err(|m| in_config(key, m))
        };
        let cache = CacheConfig {
            dir: raw_cache.dir.map(|d| dir.join(d)),
            mode: raw_cache.mode,
            ttl: duration("cache.ttl", &raw_cache.ttl)?,
            max_bytes: size("cache.max-size", &raw_cache.max_size)?,
            keep_truncated: raw_cache.keep_truncated,
            embeddings_ttl: duration("cache.embeddings-ttl", &raw_cache.embeddings_ttl)?,
            embeddings_max_bytes: size(
                "cache.embeddings-max-size",
                &raw_cache.embeddings_max_size,
            )?,
        };

        let read_prompt = |key: &str, spec: PromptSpec| match spec {
            PromptSpec::Inline(text) => Ok(text),
            PromptSpec::File { file } => {
                let full = dir.join(&file);
                std::fs::read_to_string(&full).map_err(|e| {
                    in_config(
                        &format!("{key}.file"),
                        format!("cannot read {}: {e}", full.display()),
                    )
                })
            }
        };
        let mut prompts = BTreeMap::new();
        for (name, spec) in raw.prompts {
            let source = read_prompt(&format!("prompts.{name}"), spec)?;
            prompts.insert(name, source);
        }

        let raw_prices = raw.prices;
        let mut providers = raw.providers;
        for (name, spec) in providers.iter_mut() {
            match spec {
                ProviderSpec::Echo {}
                | ProviderSpec::Openai(_)
                | ProviderSpec::Anthropic(_)
                | ProviderSpec::OpenaiCompatible(_)
                | ProviderSpec::AzureOpenai(_) => {}
                ProviderSpec::Replay { file } => {
                    let full = dir.join(&*file);
                    if !full.is_file() {
                        return Err(in_config(
                            &format!("providers.{name}.file"),
                            format!("{} does not exist", full.display()),
                        ));
                    }
                    *file = full;
                }
            }
        }

        let raw_grading = raw.grading;
        let grading = Grading {
            judge: raw_grading.judge,
            judge_prompt: raw_grading
                .judge_prompt
                .map(|p| read_prompt("grading.judge-prompt", p))
                .transpose()?,
            embeddings: raw_grading.embeddings,
            dimensions: raw_grading.dimensions,
        };
        for (key, name) in [
            ("grading.judge", &grading.judge),
            ("grading.embeddings", &grading.embeddings),
        ] {
            if let Some(name) = name
                && !providers.contains_key(name)
            {
                return Err(in_config(key, unknown("provider", name, providers.keys())));
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
            return Err(in_config(
                "grading.embeddings",
                format!(
                    "provider '{name}' has no embeddings API; use an openai, openai-compatible or azure-openai provider"
                ),
            ));
        }
        // Every assertion that needs a grader must find one.
        let check_grader = |spec: &AssertionSpec| -> std::result::Result<(), String> {
            let Ok(kind) = spec.base_type() else {
                return Ok(());
            };
            if !kind.is_graded() {
                return Ok(());
            }
            let (default, section) = match kind {
                crate::scoring::Type::LlmJudge => (&grading.judge, "judge"),
                _ => (&grading.embeddings, "embeddings"),
            };
            match spec.provider.as_ref().or(default.as_ref()) {
                Some(name) if providers.contains_key(name) => Ok(()),
                Some(name) => Err(unknown("provider", name, providers.keys())),
                None => Err(format!(
                    "'{}' needs a provider: set [grading] {section} or the assertion's provider",
                    spec.kind
                )),
            }
        };

        let defaults = raw.defaults;
        if let Some(provider) = &defaults.provider
            && !providers.contains_key(provider)
        {
            return Err(in_config(
                "defaults.provider",
                unknown("provider", provider, providers.keys()),
            ));
        }
        if let Some(prompt) = &defaults.prompt
            && !prompts.contains_key(prompt)
        {
            return Err(in_config(
                "defaults.prompt",
                unknown("prompt", prompt, prompts.keys()),
            ));
        }
        check_threshold(defaults.threshold).map_err(|m| in_config("defaults.threshold", m))?;
        for (i, spec) in defaults.assert.iter().enumerate() {
            spec.validate()
                .and_then(|()| check_grader(spec))
                .map_err(|m| in_config(&format!("defaults.assert[{i}]"), m))?;
        }

        let mut tests = Vec::with_capacity(raw.tests.len());
        for (i, spanned) in raw.tests.into_iter().enumerate() {
            let line = line_of(text, spanned.span().start);
            let test = spanned.into_inner();
            let at = |key: &str, message: String| {
                Error::at(path, line, format!("tests[{i}].{key}: {message}"))
            };
            if let Some(provider) = &test.provider
                && !providers.contains_key(provider)
            {
                return Err(at(
                    "provider",
                    unknown("provider", provider, providers.keys()),
                ));
            }
            if let Some(prompt) = &test.prompt
                && !prompts.contains_key(prompt)
            {
                return Err(at("prompt", unknown("prompt", prompt, prompts.keys())));
            }
            check_threshold(test.threshold).map_err(|m| at("threshold", m))?;
            for (j, spec) in test.assert.iter().enumerate() {
                spec.validate()
                    .and_then(|()| check_grader(spec))
                    .map_err(|m| at(&format!("assert[{j}]"), m))?;
            }
            tests.push((test, line));
        }

        let mut datasets = Vec::with_capacity(raw.datasets.len());
        for (i, spec) in raw.datasets.into_iter().enumerate() {
            let at = |key: &str| format!("datasets[{i}].{key}");
            if let Some(provider) = &spec.provider
                && !providers.contains_key(provider)
            {
                return Err(in_config(
                    &at("provider"),
                    unknown("provider", provider, providers.keys()),
                ));
            }
            if let Some(prompt) = &spec.prompt
                && !prompts.contains_key(prompt)
            {
                return Err(in_config(
                    &at("prompt"),
                    unknown("prompt", prompt, prompts.keys()),
                ));
            }
            for (j, a) in spec.assert.iter().enumerate() {
                a.validate()
                    .and_then(|()| check_grader(a))
                    .map_err(|m| in_config(&at(&format!("assert[{j}]")), m))?;
            }
            let key = at("path");
            let files = expand(&dir, &spec.path).map_err(|m| in_config(&key, m))?;
            let mut typed = Vec::with_capacity(files.len());
            for file in files {
                let format = match spec.format.or_else(|| Format::from_path(&file)) {
                    Some(format) => format,
                    None => {
                        return Err(in_config(
                            &key,
                            format!(
                                "cannot tell the format of {}; name it .jsonl, .csv or .json, or set datasets[{i}].format",
                                file.display()
                            ),
                        ));
                    }
                };
                typed.push((file, format));
            }
            datasets.push(Dataset {
                pattern: spec.path,
                files: typed,
                prompt: spec.prompt,
                provider: spec.provider,
                assert: spec.assert,
            });
        }

        if providers.is_empty() {
            return Err(in_config(
                "providers",
                "no provider is configured; add one, e.g. [providers.echo] type = \"echo\"".into(),
            ));
        }
        if tests.is_empty() && datasets.is_empty() {
            return Err(in_config(
                "tests",
                "the suite has no tests: add [[tests]] or [[datasets]]".into(),
            ));
        }

        let hash = {
            let hashed = Hashed {
                suite: &suite,
                prompts: &prompts,
                providers: &providers,
                prices: &raw_prices,
                grading: &grading,
                defaults: &defaults,
                tests: tests.iter().map(|(t, _)| t).collect(),
                datasets: &datasets,
            };
            let json = serde_json::to_vec(&hashed).expect("config serializes to JSON");
            blake3::hash(&json).to_hex()[..16].to_string()
        };

        Ok(Config {
            path: path.to_path_buf(),
            dir,
            suite,
            prompts,
            providers,
            prices: raw_prices,
            cache,
            grading,
            compare,
            targets,
            defaults,
            tests,
            datasets,
            hash,
        })
    }
}

fn check_threshold(threshold: Option<f64>) -> std::result::Result<(), String> {
    match threshold {
        Some(t) if !(0.0..=1.0).contains(&t) => Err(format!("{t} is not between 0 and 1")),
        _ => Ok(()),
    }
}

fn unknown<'a>(what: &str, name: &str, known: impl Iterator<Item = &'a String>) -> String {
    let known: Vec<&str> = known.map(String::as_str).collect();
    if known.is_empty() {
        format!("unknown {what} '{name}': none is defined")
    } else {
        format!("unknown {what} '{name}'; defined: {}", known.join(", "))
    }
}

/// Expands a dataset path or glob relative to the config directory; no match
/// is an error, because a suite that silently runs no cases passes.
fn expand(dir: &Path, pattern: &str) -> std::result::Result<Vec<PathBuf>, String> {
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
