//! The `ai-evals` binary: parses arguments, runs the command, maps the
//! outcome to an exit code.

use std::process::ExitCode;

use ai_evals::cache::{self, command};
use ai_evals::cli::{CacheCommand, Cli, Command};
use ai_evals::error::Error;
use ai_evals::executor::Overrides;
use ai_evals::{commands, log, run};
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
        for line in
            ai_evals::github::actions::masks(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
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
        Command::Run(args) => {
            let options = run::Options {
                config: args.config,
                db: args.db,
                format: args.format,
                strict: args.strict,
                batch_size: args.batch_size,
                overrides: Overrides {
                    concurrency: args.concurrency,
                    rpm: args.rpm,
                    tpm: args.tpm,
                },
                quiet: cli.quiet,
                cache_dir: args.cache_dir,
                cache_mode: if args.no_cache {
                    Some(cache::Mode::Off)
                } else {
                    args.cache
                },
                repeat: args.repeat,
                baseline: commands::baseline_request(&args.baseline),
                fail_on: args.baseline.fail_on,
                publish: args.delivery.publish(),
                templates: args.delivery.templates,
                shard: args.shard,
            };
            runtime.block_on(run::run(&options))
        }
        Command::Compare(args) => runtime.block_on(commands::compare(args)),
        Command::History(args) => runtime.block_on(commands::history(args)),
        Command::Report(args) => runtime.block_on(commands::report(args)),
        Command::Merge(args) => runtime.block_on(commands::merge(args)),
        Command::Bench(args) => runtime.block_on(commands::bench(args)),
        Command::Cache(command) => cache_command(command).map(|report| run::Outcome {
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

fn cache_command(command: CacheCommand) -> Result<String, Error> {
    let settings = |args: ai_evals::cli::CacheArgs| cache::Settings::new(args.cache_dir);
    match command {
        CacheCommand::Stats(args) => command::stats(&settings(args)),
        CacheCommand::Clear(args) => command::clear(&settings(args)),
        CacheCommand::Prune {
            cache,
            max_age,
            max_size,
        } => {
            let age = cache::parse_duration(&max_age)
                .map_err(|m| Error::input(format!("--max-age: {m}")))?;
            let size = cache::parse_size(&max_size)
                .map_err(|m| Error::input(format!("--max-size: {m}")))?;
            command::prune(&settings(cache), age, size)
        }
    }
}
