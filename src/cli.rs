//! The command line: what each command and flag means, as `--help` shows it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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

    /// Cases in flight at once (overrides suite.concurrency).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
}
