//! The command line: what each command and flag means, as `--help` shows it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::FailOn;

/// Fast, rate-limit-aware LLM evaluations with a DuckDB history.
///
/// Run a suite's test cases through a model provider, score the outputs with
/// assertions, store every result and timing in a DuckDB file, and print a
/// report. Exit codes: 0 ok, 1 the suite failed its gate, 2 bad usage,
/// config or input, 3 a failure while running.
#[derive(Debug, Parser)]
#[command(name = "ai-evals", version, about, long_about)]
pub struct Cli {
    /// The subcommand and its arguments.
    #[command(subcommand)]
    pub command: Command,

    /// More detail on stderr (each stored batch, each run step).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a suite and print its report.
    ///
    /// Example: ai-evals run --config evals/evals.toml --db history.duckdb
    Run(RunArgs),

    /// Compare two runs and print the verdicts.
    ///
    /// With no run ids: the newest run in --db against its baseline (chosen
    /// as `run` chooses it, from --baseline-db when given). With one id: that
    /// run against its baseline. With two: BASELINE CURRENT.
    ///
    /// Example: ai-evals compare --db pr.duckdb --baseline-db main.duckdb
    Compare(CompareArgs),

    /// Render a stored run's report again (terminal, comment, files), and post its comment.
    ///
    /// Example: ai-evals report --db history.duckdb --no-comment --report-dir out/
    Report(ReportArgs),

    /// Merge the databases of a sharded run into one run, with its comparison and report.
    ///
    /// Example: ai-evals merge shard-*.duckdb -o all.duckdb --config evals.toml --baseline-db main.duckdb
    Merge(MergeArgs),

    /// List recent runs with their headline numbers; fetch a branch's history from CI.
    ///
    /// Example: ai-evals history --db history.duckdb --branch main --limit 10
    History(HistoryCommand),

    /// Benchmark the pipeline's own components and compare with the last stored benchmark run.
    ///
    /// Example: ai-evals bench --iterations 50 --filter scoring
    Bench(BenchArgs),

    /// Inspect or trim the response cache; delete superseded GitHub Actions cache entries.
    #[command(subcommand)]
    Cache(CacheCommand),

    /// Convert another tool's eval config into an ai-evals suite.
    ///
    /// Example: ai-evals import promptfoo promptfooconfig.yaml -o evals.toml
    #[command(subcommand)]
    Import(ImportCommand),
}

/// The tools `ai-evals import` reads.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A promptfoo config (`promptfooconfig.yaml`): prompts, providers,
    /// tests and assertions become an evals.toml (and converted dataset
    /// files beside it). Exit 0 when everything converted, 1 when some parts
    /// were skipped (each listed with its place), 2 when the file is not a
    /// promptfoo config.
    Promptfoo(ImportArgs),
}

/// The arguments of `ai-evals import promptfoo`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The promptfoo config.
    #[arg(default_value = "promptfooconfig.yaml", value_name = "FILE")]
    pub input: PathBuf,

    /// The suite to write; it must sit beside the promptfoo config, whose
    /// files it names by relative path (default: evals.toml there).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Overwrite the output and the converted dataset files if they exist.
    #[arg(long)]
    pub force: bool,
}

impl Cli {
    /// Whether the command prints JSON on stdout.
    pub fn prints_json(&self) -> bool {
        let format = match &self.command {
            Command::Run(a) => a.format,
            Command::Compare(a) => a.format,
            Command::Report(a) => a.format,
            Command::Merge(a) => a.format,
            Command::History(a) => a.list.format,
            Command::Bench(a) => a.format,
            Command::Cache(_) | Command::Import(_) => OutputFormat::Text,
        };
        format == OutputFormat::Json
    }

    /// The GitHub token the command was given, if any: a secret to keep
    /// out of everything it writes.
    pub fn github_token(&self) -> Option<&str> {
        match &self.command {
            Command::Run(a) => a.delivery.github_token.as_deref(),
            Command::Report(a) => a.delivery.github_token.as_deref(),
            Command::History(HistoryCommand {
                action: Some(HistoryAction::Fetch(a)),
                ..
            }) => a.github_token.as_deref(),
            Command::Cache(CacheCommand::Gc(a)) => a.github_token.as_deref(),
            _ => None,
        }
    }

    /// Whether the command decides itself what a first Ctrl-C or SIGTERM
    /// means (`run` finishes what it received); any other stops at once.
    pub fn handles_interrupts(&self) -> bool {
        matches!(self.command, Command::Run(_))
    }
}

/// Where a report goes besides stdout, and what renders it.
#[derive(Debug, Args)]
pub struct DeliveryArgs {
    /// Do not post the pull-request comment; on a pull request, print it after the report.
    #[arg(long)]
    pub no_comment: bool,

    /// Token for the pull-request comment (in Actions: secrets.GITHUB_TOKEN).
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub github_token: Option<String>,

    /// Also write comment.md, summary.md, report.json, junit.xml and report.html (the page with every case) here.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Use NAME.j2 files from this folder instead of the embedded templates
    /// (terminal.txt, dashboard.txt, comparison.txt, comment.md, summary.md, junit.xml, report.html).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// Tells this comment from others of the same suite on a pull request (a matrix leg): the marker becomes <!-- ai-evals:SUITE:ID -->.
    #[arg(long, value_name = "ID", default_value = "", value_parser = comment_id)]
    pub comment_id: String,
}

/// A comment id: what a suite name may hold, at most 64 characters, or
/// nothing. It goes into the comment's hidden marker, which `-->` would end.
fn comment_id(id: &str) -> Result<String, String> {
    let ok = id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(id.to_string())
    } else {
        Err("use at most 64 letters, digits, '.', '_' or '-'".into())
    }
}

/// A branch name git accepts (`git check-ref-format --branch`).
fn branch(name: &str) -> Result<String, String> {
    crate::config::check_branch(name).map(|()| name.to_string())
}

impl DeliveryArgs {
    /// The delivery the flags ask for.
    pub fn publish(&self) -> crate::publish::Options {
        crate::publish::Options {
            comment: !self.no_comment,
            github_token: crate::publish::github_token(self.github_token.clone()),
            report_dir: self.report_dir.clone(),
            comment_id: self.comment_id.clone(),
        }
    }
}

/// How a comparison chooses its baseline and grades its verdicts.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Compare with this run (id or unique prefix) instead of choosing one.
    #[arg(long, value_name = "ID")]
    pub baseline_run: Option<String>,

    /// Take the baseline and its history from this file (e.g. main's history artifact).
    #[arg(long, value_name = "FILE")]
    pub baseline_db: Option<PathBuf>,

    /// The branch whose newest run is the baseline [default: the pull request's base branch, else [compare] baseline-branch, else main].
    #[arg(long, value_name = "BRANCH", value_parser = branch)]
    pub baseline_branch: Option<String>,

    /// The regression severity that fails the job (exit 1) [default: [compare] fail-on, else critical].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// The severity at which breakage this change certainly caused (a changed request, scoring or deterministic output) fails the job [default: [compare] fail-on-certain, else major].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on_certain: Option<FailOn>,

    /// Fail the job (exit 1) when there is no baseline to compare with.
    #[arg(long)]
    pub require_baseline: bool,
}

impl BaselineArgs {
    /// What these flags say about the gate.
    pub fn gate_flags(&self) -> crate::config::GateFlags {
        crate::config::GateFlags {
            fail_on: self.fail_on,
            fail_on_certain: self.fail_on_certain,
            require_baseline: self.require_baseline,
        }
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run ids (or unique prefixes): [CURRENT] or BASELINE CURRENT.
    #[arg(value_name = "RUN", num_args = 0..=2)]
    pub runs: Vec<String>,

    /// The DuckDB history file holding the current run.
    #[arg(long, default_value = "ai-evals.duckdb", env = "AI_EVALS_DB")]
    pub db: PathBuf,

    /// A suite config whose [compare] section sets bands, window and gate.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub baseline: BaselineArgs,

    /// How to print the comparison.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run (id or unique prefix) [default: the newest run].
    #[arg(value_name = "RUN", conflicts_with = "from_json")]
    pub run: Option<String>,

    /// The DuckDB history file.
    #[arg(long, default_value = "ai-evals.duckdb", env = "AI_EVALS_DB")]
    pub db: PathBuf,

    /// Render this report.json (another job's, e.g. a fork's) instead of a stored run; it is checked against a schema and treated as untrusted, and its links are rebuilt from the workflow_run event.
    #[arg(long, value_name = "FILE")]
    pub from_json: Option<PathBuf>,

    /// Write the report page to FILE: one self-contained HTML file with every case, the baseline's and this run's answers side by side, filters and charts.
    #[arg(long, value_name = "FILE", conflicts_with = "from_json")]
    pub html: Option<PathBuf>,

    /// The history file holding the baseline run, when it is not --db (the page shows the baseline's answers from it).
    #[arg(long, value_name = "FILE", conflicts_with = "from_json")]
    pub baseline_db: Option<PathBuf>,

    /// How to print the report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' DuckDB files (the newest run of each is merged).
    #[arg(required = true, value_name = "SHARD")]
    pub inputs: Vec<PathBuf>,

    /// The database to add the merged run to (created if missing; main's history works).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// The suite's config, for the gate, the [compare] settings and the targets.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Merge even when shards of the set are missing: the run is recorded
    /// as `partial`, its gate fails, and it never becomes a baseline.
    #[arg(long)]
    pub allow_partial: bool,

    #[command(flatten)]
    pub baseline: BaselineArgs,

    /// How to print the merged run's report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `ai-evals history` lists runs; its subcommands serve CI.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryCommand {
    /// What to do instead of listing runs.
    #[command(subcommand)]
    pub action: Option<HistoryAction>,

    #[command(flatten)]
    pub list: HistoryArgs,
}

#[derive(Debug, Subcommand)]
pub enum HistoryAction {
    /// Download the newest history artifact that a finished run on a branch uploaded, its gate passed or failed (GitHub REST; needs actions: read).
    ///
    /// Writes FILE only when one is found; exits 0 either way.
    ///
    /// Example: ai-evals history fetch --name ai-evals-history-evals.toml --branch main -o ai-evals.duckdb
    Fetch(FetchArgs),

    /// Print, as JSON, what CI needs to keep a suite's history: the
    /// baseline branch, the storage version of history files, the paths a
    /// run uses, the Actions cache key prefixes and what this run saves.
    /// In GitHub Actions the same values are also step outputs.
    ///
    /// Example: ai-evals history info --config evals.toml --id gpt-4o
    Info(InfoArgs),
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The artifact's name.
    #[arg(long)]
    pub name: String,

    /// Where to write the history file.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// The branch whose runs count [default: the pull request's base branch, else the repository's default branch, else main].
    #[arg(long, value_name = "BRANCH", value_parser = branch)]
    pub branch: Option<String>,

    /// The repository (owner/name).
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub repo: String,

    /// A token that may read the repository's artifacts (actions: read) [default: the Action's AI_EVALS_GITHUB_TOKEN].
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub github_token: Option<String>,

    /// Refuse an artifact larger than this, packed or unpacked.
    #[arg(long, value_name = "SIZE", default_value = "2GiB")]
    pub max_size: String,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The suite's config, for [compare] baseline-branch and [cache] dir (one it cannot read is a warning: the run reports it).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The baseline branch, when given (wins over the config).
    #[arg(long, value_name = "BRANCH", value_parser = branch)]
    pub baseline_branch: Option<String>,

    /// Tells this use of the suite from others (a matrix leg): part of the cache keys.
    #[arg(long, value_name = "ID", default_value = "", value_parser = comment_id)]
    pub id: String,

    /// The shard a run does (I/N): its response cache is its own, and it keeps no history.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::ingest::shard::Shard>,

    /// The DuckDB history file the run uses [default: ai-evals.duckdb].
    #[arg(long, value_name = "FILE", env = "AI_EVALS_DB")]
    pub db: Option<PathBuf>,

    /// The response cache folder the run uses [default: [cache] dir, else .ai-evals-cache].
    #[arg(long, value_name = "DIR", env = "AI_EVALS_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The DuckDB history file.
    #[arg(long, default_value = "ai-evals.duckdb", env = "AI_EVALS_DB")]
    pub db: PathBuf,

    /// Only runs of this suite.
    #[arg(long)]
    pub suite: Option<String>,

    /// Only runs on this branch.
    #[arg(long)]
    pub branch: Option<String>,

    /// At most this many runs, newest first (at most 100,000).
    #[arg(long, default_value_t = 20, value_parser = count(100_000))]
    pub limit: usize,

    /// How to print the list.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where results are stored and previous ones read.
    #[arg(long, default_value = "ai-evals.duckdb", env = "AI_EVALS_DB")]
    pub db: PathBuf,

    /// Timed iterations per benchmark (2 to 10,000).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub iterations: u32,

    /// Untimed iterations first, to warm caches and allocators (at most 10,000).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub warmup: u32,

    /// Only benchmarks whose name contains this (e.g. scoring).
    #[arg(long)]
    pub filter: Option<String>,

    /// Measure and compare, but do not store this run.
    #[arg(long)]
    pub no_store: bool,

    /// How to print the results.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries, size, oldest and newest, and the last run's hit rate.
    Stats(CacheArgs),
    /// Remove entries past an age, then the least recently used beyond a size.
    Prune {
        #[command(flatten)]
        cache: CacheArgs,
        /// Remove entries written longer ago than this (e.g. 7d, 12h).
        #[arg(long, value_name = "AGE", default_value = "14d")]
        max_age: String,
        /// Keep at most this much per kind of entry (e.g. 500MB, 1GiB).
        #[arg(long, value_name = "SIZE", default_value = "1GiB")]
        max_size: String,
    },
    /// Remove every entry.
    Clear(CacheArgs),
    /// Delete this repository's GitHub Actions cache entries under a key prefix, all but the newest (REST; needs actions: write).
    ///
    /// Example: ai-evals cache gc --key-prefix ai-evals-history-Linux- --ref refs/heads/main
    Gc(GcArgs),
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Entries whose key starts with this are candidates.
    #[arg(long, value_name = "PREFIX")]
    pub key_prefix: String,

    /// Only entries of this ref (refs/heads/main, refs/pull/7/merge).
    #[arg(long = "ref", env = "GITHUB_REF", value_name = "REF")]
    pub git_ref: String,

    /// How many of the newest entries to keep.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub keep: usize,

    /// The repository (owner/name).
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub repo: String,

    /// A token that may delete the repository's caches (actions: write) [default: the Action's AI_EVALS_GITHUB_TOKEN].
    #[arg(
        long,
        env = "GITHUB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub github_token: Option<String>,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// The cache folder.
    #[arg(long, default_value = crate::config::DEFAULT_CACHE_DIR, env = "AI_EVALS_CACHE_DIR")]
    pub cache_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The suite's config file (TOML); relative paths in it resolve against its folder.
    #[arg(short, long, default_value = "evals.toml", env = "AI_EVALS_CONFIG")]
    pub config: PathBuf,

    /// The DuckDB history file; created if missing.
    #[arg(long, default_value = "ai-evals.duckdb", env = "AI_EVALS_DB")]
    pub db: PathBuf,

    /// How to print the report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Stop at the first malformed dataset row instead of skipping it.
    #[arg(long)]
    pub strict: bool,

    /// Skip malformed dataset rows without failing the gate (by default they fail it; also [suite] allow-malformed).
    #[arg(long, conflicts_with = "strict")]
    pub allow_malformed: bool,

    /// Cases read, run and stored together (overrides suite.batch-size; at most 10,000).
    #[arg(long, value_name = "N", value_parser = count(crate::config::MAX_BATCH_SIZE))]
    pub batch_size: Option<usize>,

    /// Cases in flight at once (overrides suite.concurrency and every provider's; at most 1,000).
    #[arg(long, value_name = "N", value_parser = count(crate::config::MAX_CONCURRENCY))]
    pub concurrency: Option<usize>,

    /// Requests per minute each remote provider may spend (overrides the config).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub rpm: Option<u32>,

    /// Tokens per minute each remote provider may spend (overrides the config).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub tpm: Option<u32>,

    /// Runs of each case (overrides suite.repeat; at most 1,000); each repeat is cached apart.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::config::MAX_REPEAT as i64))]
    pub repeat: Option<u32>,

    /// The response cache folder [default: [cache] dir, else .ai-evals-cache].
    #[arg(long, value_name = "DIR", env = "AI_EVALS_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// How to use the cache; read-only suits untrusted pull requests.
    #[arg(long, value_enum, value_name = "MODE", conflicts_with = "no_cache")]
    pub cache: Option<crate::config::Mode>,

    /// Do not use the cache (the same as --cache off).
    #[arg(long)]
    pub no_cache: bool,

    #[command(flatten)]
    pub baseline: BaselineArgs,

    #[command(flatten)]
    pub delivery: DeliveryArgs,

    /// On Ctrl-C or SIGTERM, how long the answers under way may take to be
    /// scored and stored before the run stops (like 10s or 1m); a second
    /// signal stops at once.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = grace)]
    pub grace: std::time::Duration,

    /// Run only shard I of N (cases split by a hash of their id); merge the shards' databases with `ai-evals merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::ingest::shard::Shard>,
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// For people: the terminal report.
    Text,
    /// For scripts: the report as JSON.
    Json,
}

fn grace(text: &str) -> Result<std::time::Duration, String> {
    crate::units::parse_duration(text)
}

/// A parser for a count from 1 to `max`, whose error names both ends.
fn count(max: usize) -> impl Fn(&str) -> Result<usize, String> + Clone {
    move |text| match text.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {max}")),
    }
}
