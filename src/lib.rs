//! ai-evals: LLM evaluations as a fast, rate-limit-aware CI gate.
//!
//! The pipeline, one folder per stage: `ingest` → `execute` → `score` →
//! `store` → `compare` → `report` → `publish`, with `config` and the plain
//! values every stage shares (`assertion`, `record`, `error`, `units`)
//! below them and `commands` above. docs/ARCHITECTURE.md is the map: what
//! each stage owns and what it may call. `main.rs` parses arguments,
//! prints the [`Exit`] a command leaves and returns its code.

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
pub mod interrupt;
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

/// What a command leaves for `main` to do: the text for stdout (fenced in
/// GitHub Actions and scrubbed of secrets, see `log::for_stdout`), the
/// error to tell on stderr after it, and the exit code.
#[derive(Debug)]
pub struct Exit {
    /// The report, ready to print; `None` when the command made none.
    pub stdout: Option<String>,
    /// Why the command failed, told after the report.
    pub error: Option<Error>,
    /// 0 ok, 1 gate failed, 2 bad input, 3 run-time failure.
    pub code: u8,
}

impl Exit {
    /// Tells the error, if any, on stderr, scrubbed of secrets.
    pub fn report_error(&self) {
        if let Some(error) = &self.error {
            log::error(error.message());
        }
    }
}

/// Runs the command `cli` names, after setting the log level and, in
/// GitHub Actions, masking every secret-looking variable. A signal ends
/// any command but `run` at once (exit 3); `run` stops sending on the
/// first and finishes what it received, and the second ends it at once.
pub async fn execute(cli: Cli) -> Exit {
    log::set_level(if cli.quiet { 0 } else { 1 + cli.verbose });
    log::set_in_actions(std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true"));
    publish::mask_secrets();
    if let Some(token) = cli.github_token() {
        secret::register(token);
    }
    let json = cli.prints_json();
    let signals = if cli.handles_interrupts() { 2 } else { 1 };
    let result = tokio::select! {
        biased;
        () = interrupt::received(signals) => Err(Error::runtime(if signals == 1 {
            "interrupted"
        } else {
            "interrupted again: stopped at once; every batch stored so far is kept"
        })),
        result = commands::dispatch(cli) => result,
    };
    match result {
        Ok(outcome) => Exit {
            stdout: Some(log::for_stdout(&outcome.report, json)),
            code: exit_code(outcome.exit_code),
            error: outcome.failure,
        },
        Err(error) => Exit {
            stdout: None,
            code: exit_code(error.exit_code()),
            error: Some(error),
        },
    }
}

/// An exit code as the process returns it.
fn exit_code(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(3)
}
