//! The `ai-evals` binary: parses arguments, runs the command, maps the
//! outcome to an exit code.

use std::process::ExitCode;

use ai_evals::cli::{Cli, Command};
use ai_evals::commands::{bench, cache, compare, history, merge, report, run};
use ai_evals::log;
use clap::Parser;

fn main() -> ExitCode {
    // glibc gives each thread that allocates its own arena; with the async
    // runtime, the scoring pool and the database thread that multiplies
    // resident memory for no speed. Two arenas keep a million-case run flat.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    log::set_level(if cli.quiet { 0 } else { 1 + cli.verbose });
    // In Actions, hide every secret-looking variable before printing
    // anything. Workflow commands go to stderr, which the runner reads too,
    // so stdout stays the report (JSON with --format json).
    if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        for line in ai_evals::publish::github::actions::masks(
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ) {
            eprintln!("{line}");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            log::error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(3);
        }
    };
    let result = match cli.command {
        Command::Run(args) => runtime.block_on(run::run(&run::Options::from_args(args, cli.quiet))),
        Command::Compare(args) => runtime.block_on(compare::compare(args)),
        Command::History(args) => runtime.block_on(history::history(args)),
        Command::Report(args) => runtime.block_on(report::report(args)),
        Command::Merge(args) => runtime.block_on(merge::merge(args)),
        Command::Bench(args) => runtime.block_on(bench::bench(args)),
        Command::Cache(command) => cache::cache(command).map(|report| run::Outcome {
            exit_code: 0,
            report,
        }),
    };
    match result {
        Ok(outcome) => {
            print!("{}", outcome.report);
            if !outcome.report.ends_with('\n') {
                println!();
            }
            ExitCode::from(outcome.exit_code as u8)
        }
        Err(e) => {
            log::error(e.message());
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
