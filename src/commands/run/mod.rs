//! The `run` command: config → cases → provider → scores → DuckDB →
//! report, one named step each.
//!
//! [`setup`] prepares everything that can fail on bad input before the
//! database is touched; [`pipeline`] streams the cases through the
//! providers and scorers into the store; [`metrics`] gathers the run's
//! figures; [`finish`] compares with the baseline, stores the totals and
//! delivers the report.

mod finish;
mod metrics;
mod pipeline;
mod setup;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::cli::OutputFormat;
use crate::commands::Outcome;
use crate::compare::baseline;
use crate::config::GateFlags;
use crate::error::{Error, Result};
use crate::execute::Overrides;
use crate::interrupt;
use crate::log;
use crate::publish;
use crate::publish::GitContext;
use crate::record::new_run_id;
use crate::report::monitor::Monitor;
use crate::store::read::RunRef;
use crate::store::{Access, RunInfo, Store};

pub(crate) use metrics::run_metrics;

/// The options of `ai-evals run`.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub db: PathBuf,
    pub format: OutputFormat,
    pub strict: bool,
    /// Malformed rows do not fail the gate (also `[suite] allow-malformed`).
    pub allow_malformed: bool,
    pub batch_size: Option<usize>,
    /// Overrides of every remote provider's limits (and of the suite's concurrency).
    pub overrides: Overrides,
    /// No progress display.
    pub quiet: bool,
    /// The response cache's folder (overrides `[cache] dir`).
    pub cache_dir: Option<PathBuf>,
    /// How the cache may be used (overrides `[cache] mode`).
    pub cache_mode: Option<crate::config::Mode>,
    /// Runs of each case (overrides `suite.repeat`).
    pub repeat: Option<u32>,
    /// How to find the baseline to compare with.
    pub baseline: baseline::Request,
    /// The gate's flags, over `[compare]`.
    pub gate: GateFlags,
    /// Where the report goes besides stdout.
    pub publish: publish::Options,
    /// Templates that replace the embedded ones.
    pub templates: Option<PathBuf>,
    /// Run only this shard of the cases.
    pub shard: Option<crate::ingest::Shard>,
    /// How long an interrupted run may finish what is under way.
    pub grace: Duration,
}

impl Options {
    /// The options `ai-evals run`'s flags ask for.
    pub fn from_args(args: crate::cli::RunArgs, quiet: bool) -> Options {
        Options {
            config: args.config,
            db: args.db,
            format: args.format,
            strict: args.strict,
            allow_malformed: args.allow_malformed,
            batch_size: args.batch_size,
            overrides: Overrides {
                concurrency: args.concurrency,
                rpm: args.rpm,
                tpm: args.tpm,
            },
            quiet,
            cache_dir: args.cache_dir,
            cache_mode: if args.no_cache {
                Some(crate::config::Mode::Off)
            } else {
                args.cache
            },
            repeat: args.repeat,
            baseline: super::baseline_request(&args.baseline),
            gate: args.baseline.gate_flags(),
            publish: args.delivery.publish(),
            templates: args.delivery.templates,
            shard: args.shard,
            grace: args.grace,
        }
    }
}

/// Runs the suite, stores every result and the report, and delivers it.
pub async fn run(options: &Options) -> Result<Outcome> {
    let monitor = Arc::new(Monitor::new());
    let setup = setup::Setup::new(options)?;
    check_baseline_request(&options.baseline, &options.db).await?;
    // From here on a signal is answered by an `interrupted` run in the
    // history; before, there is nothing to keep.
    if interrupt::count() > 0 {
        return Err(Error::runtime(
            "interrupted before the run began: nothing was sent or stored",
        ));
    }
    let store = Arc::new(Store::open(&options.db)?);
    let run = begin(&setup, options, &store).await?;
    expect_completions(&setup, options, &store, &run).await;
    let executed = pipeline::execute(&setup, options, &store, &run.run_id, &monitor).await?;
    let metrics = metrics::collect(&setup, &executed, &store, &run.run_id, &monitor).await;
    monitor.stop_total();
    let reported =
        finish::report(&setup, options, &store, &run, &executed, &metrics, &monitor).await?;
    let recorded =
        finish::record(&store, &run.run_id, &executed, &reported, metrics, &monitor).await;
    let (status, _) = executed.status();
    let cases = finish::junit_cases(&store, &run.run_id, options, status).await;
    let page = if executed.interrupted {
        None
    } else {
        finish::page(&store, &setup, options, &reported).await
    };
    match Arc::try_unwrap(store) {
        Ok(store) => store.close(),
        Err(_) => log::warn("the database is still in use; it will be closed at exit"),
    }
    let pipeline::Executed {
        summary,
        interrupted,
        read,
        stored,
        halted,
    } = executed;
    if interrupted {
        let failure = recorded.err().unwrap_or_else(|| {
            Error::runtime(format!(
                "interrupted; the {} cases finished so far are stored in {} (run {})",
                summary.cases_total(),
                options.db.display(),
                run.run_id
            ))
        });
        return Ok(Outcome {
            exit_code: failure.exit_code(),
            report: reported.rendered,
            failure: Some(failure),
        });
    }
    // A run that failed still says so in every report form before it exits
    // with its error's code.
    let folder = publish::Folder {
        cases: &cases,
        page: page.as_deref(),
    };
    let mut outcome = finish::deliver(&setup, options, reported, folder).await;
    if let Err(e) = read.and(stored).and(halted).and(recorded) {
        outcome.exit_code = e.exit_code();
        outcome.failure = Some(e);
    }
    Ok(outcome)
}

/// Records the run's start: its id, suite, config and where it ran.
async fn begin(setup: &setup::Setup, options: &Options, store: &Store) -> Result<RunRef> {
    let config = &setup.config;
    let git = GitContext::detect(&config.dir);
    let started_at = Utc::now();
    let run = RunRef {
        run_id: new_run_id(started_at),
        suite: config.suite.name.clone(),
        git_sha: git.sha.clone(),
        branch: git.branch.clone(),
    };
    store
        .begin_run(RunInfo {
            run_id: run.run_id.clone(),
            suite: config.suite.name.clone(),
            config_hash: config.hash.clone(),
            git_sha: git.sha,
            branch: git.branch,
            pr_number: git.pr_number,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: started_at.naive_utc(),
            shard: options.shard.map(|s| s.to_string()),
            config_path: Some(config.stored_path()),
        })
        .await?;
    log::debug(&format!("run {} started", run.run_id));
    Ok(run)
}

/// Tells each lane what the suite's answers needed in the baseline (the
/// 95th percentile of their completion tokens), so that a request without
/// `max-tokens` reserves that from the start. Without a baseline in this
/// history there is nothing to tell.
async fn expect_completions(setup: &setup::Setup, options: &Options, store: &Store, run: &RunRef) {
    let config = &setup.config;
    let config_path = config.stored_path();
    let search = baseline::choose(
        store,
        &config.suite.name,
        Some(&config_path),
        Some(&run.run_id),
        &options.baseline,
        &config.compare,
    )
    .await;
    let needed = match search.map(|s| s.chosen) {
        Ok(Some(chosen)) => store.completion_p95(&chosen.run.run_id).await,
        Ok(None) => return,
        Err(e) => Err(e),
    };
    let needed = match needed {
        Ok(needed) => needed,
        Err(e) => {
            log::debug(&format!("no completion history: {}", e.message()));
            return;
        }
    };
    for lane in setup.executor.lanes() {
        if let Some((_, p95)) = needed.iter().find(|(name, _)| *name == lane.name) {
            log::debug(&format!(
                "{}: a request without max-tokens reserves {p95} completion tokens (the baseline's 95th percentile) until this run's answers say",
                lane.name
            ));
            lane.expect_completions(*p95);
        }
    }
}

/// Fails early, before anything runs, on a baseline that cannot be read:
/// a `--baseline-db` that is missing or not a history, a `--baseline-run`
/// that is not there.
async fn check_baseline_request(request: &baseline::Request, db: &std::path::Path) -> Result<()> {
    let Some(id) = &request.run else {
        if let Some(path) = &request.db {
            Store::open_with(path, Access::ReadOnly)?.close();
        }
        return Ok(());
    };
    let path = request.db.as_deref().unwrap_or(db);
    if !path.is_file() {
        return Err(Error::input(format!(
            "--baseline-run {id}: {} does not exist yet",
            path.display()
        )));
    }
    let source = Store::open_with(path, Access::ReadOnly)?;
    source.find_run(id).await?;
    source.close();
    Ok(())
}
