//! The `ai-evals` binary: parses arguments, runs the command, maps the
//! outcome to an exit code.

use std::process::ExitCode;

use ai_evals::cli::{Cli, Command};
use ai_evals::{log, run};
use clap::Parser;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    log::set_level(if cli.quiet { 0 } else { 1 + cli.verbose });
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
        Command::Run(args) => {
            let options = run::Options {
                config: args.config,
                db: args.db,
                format: args.format,
                strict: args.strict,
                batch_size: args.batch_size,
                concurrency: args.concurrency,
            };
            runtime.block_on(run::run(&options))
        }
    };
    match result {
        Ok(outcome) => {
            println!("{}", outcome.report);
            ExitCode::from(outcome.exit_code as u8)
        }
        Err(e) => {
            log::error(e.message());
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
