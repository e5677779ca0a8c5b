//! The command line: what each command and flag means, as `--help` shows it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cache;
use crate::run::OutputFormat;

/// Fast, rate-limit-aware LLM evaluations with a DuckDB history.
///
/// Run a suite's test cases through a model provider, score the outputs with
/// assertions, store every result and timing in a DuckDB file, and print a
/// report. Exit codes: 0 ok, 1 the suite failed its gate, 2 bad usage,
/// config or input, 3 a failure while running.
#[derive(Debug, Parser)]
#[command(name = "ai-evals", version, about, long_about)]
pub struct Cli {
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

    /// Inspect or trim the response cache.
    #[command(subcommand)]
    Cache(CacheCommand),
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
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// The cache folder.
    #[arg(long, default_value = crate::run::DEFAULT_CACHE_DIR, env = "AI_EVALS_CACHE_DIR")]
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

    /// Print the report here instead of posting it as a pull-request comment.
    #[arg(long)]
    pub no_comment: bool,

    /// How to print the report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Stop at the first malformed dataset row instead of skipping it.
    #[arg(long)]
    pub strict: bool,

    /// Cases read, run and stored together (overrides suite.batch-size).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,

    /// Cases in flight at once (overrides suite.concurrency and every provider's).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,

    /// Requests per minute each remote provider may spend (overrides the config).
    #[arg(long, value_name = "N")]
    pub rpm: Option<u32>,

    /// Tokens per minute each remote provider may spend (overrides the config).
    #[arg(long, value_name = "N")]
    pub tpm: Option<u32>,

    /// Runs of each case (overrides suite.repeat); each repeat is cached apart.
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,

    /// The response cache folder [default: [cache] dir, else .ai-evals-cache].
    #[arg(long, value_name = "DIR", env = "AI_EVALS_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// How to use the cache; read-only suits untrusted pull requests.
    #[arg(long, value_enum, value_name = "MODE", conflicts_with = "no_cache")]
    pub cache: Option<cache::Mode>,

    /// Do not use the cache (the same as --cache off).
    #[arg(long)]
    pub no_cache: bool,
}
