//! ai-evals: LLM evaluations as a fast, rate-limit-aware CI gate.
//!
//! The pipeline, one folder per stage: `ingest` → `execute` → `score` →
//! `store` → `compare` → `report` → `publish`, with `config` and the plain
//! values every stage shares (`assertion`, `record`, `error`, `units`)
//! below them and `commands` above. docs/ARCHITECTURE.md is the map: what
//! each stage owns and what it may call. `main.rs` only parses arguments
//! and maps the outcome to an exit code.

#![warn(missing_docs)]

mod assertion;
mod cli;
mod commands;
mod compare;
mod config;
mod error;
mod execute;
mod import;
mod ingest;
mod log;
mod publish;
mod record;
mod report;
mod score;
mod script;
mod secret;
mod store;
mod units;

pub use cli::Cli;
pub use commands::run::Outcome;
pub use error::Error;

/// Takes the GitHub token the Action hands over under its private name
/// (`AI_EVALS_GITHUB_TOKEN`) out of the environment, so only publishing
/// sees it.
///
/// # Safety
/// Call it first in `main`, before any other thread starts: it changes the
/// process's environment.
pub unsafe fn take_github_token() {
    // SAFETY: passed on to the caller.
    unsafe { secret::take_github_token() }
}

/// Runs the command `cli` names, after setting the log level and, in
/// GitHub Actions, masking every secret-looking variable. The report is
/// returned ready for stdout (see `log::for_stdout`).
pub async fn execute(cli: Cli) -> Result<Outcome, Error> {
    log::set_level(if cli.quiet { 0 } else { 1 + cli.verbose });
    log::set_in_actions(std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true"));
    publish::mask_secrets();
    let json = cli.prints_json();
    let mut outcome = commands::dispatch(cli).await?;
    outcome.report = log::for_stdout(outcome.report, json);
    Ok(outcome)
}

/// Prints an error for the person running the tool, scrubbed of secrets.
pub fn report_error(error: &Error) {
    log::error(error.message());
}
