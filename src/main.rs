//! The `ai-evals` binary: counts signals from its first instruction,
//! parses arguments, runs the command, and is the one writer of stdout
//! and of the exit code.

use std::io::Write;
use std::process::ExitCode;

use ai_evals::Cli;
use clap::Parser;

fn main() -> ExitCode {
    // Before anything else: a SIGTERM that comes while the history file is
    // being created must be counted and acted on, not kill the process.
    if let Err(e) = ai_evals::interrupt::install() {
        let _ = writeln!(
            std::io::stderr(),
            "error: cannot handle Ctrl-C and SIGTERM: {e}"
        );
        return ExitCode::from(3);
    }
    // glibc gives each thread that allocates its own arena; with the async
    // runtime, the scoring pool and the database thread that multiplies
    // resident memory for no speed. Two arenas keep a million-case run flat.
    // And glibc raises its mmap threshold each time a large block is freed,
    // after which the database's 256 KB blocks come from the heap and stay
    // resident when freed: a fixed threshold of 128 KB gives them back
    // (measured, 1M cases: 105 MB peak without it, 97 MB with it).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
    // SAFETY: no other thread has started yet.
    unsafe { ai_evals::take_github_token() };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {e}"
            );
            return ExitCode::from(3);
        }
    };
    let exit = runtime.block_on(ai_evals::execute(cli));
    if let Some(text) = &exit.stdout {
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            // The reader has gone (`| head -1`): nothing is left to say to
            // it, and that is no failure of the command (as ripgrep does).
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: cannot write the report to stdout: {e}"
                );
                return ExitCode::from(3);
            }
        }
    }
    exit.report_error();
    ExitCode::from(exit.code)
}
