//! The subcommands, one file each. Each reads its arguments, does its work
//! through the stages that own it, and hands `main` a report and an exit
//! code. The helpers here are the steps several commands share.

pub mod bench;
pub mod cache;
pub mod compare;
pub mod history;
pub mod import;
pub mod merge;
pub mod report;
pub mod run;

use crate::cli::{BaselineArgs, Cli, Command};
use crate::compare::baseline::{self, Request};
use crate::config::Gate;
use crate::error::{Error, Result};
use crate::log;
use crate::store::Store;
use crate::store::read::{RunFilter, RunRef};

/// Runs the command the command line names.
pub async fn dispatch(cli: Cli) -> Result<run::Outcome> {
    match cli.command {
        Command::Run(args) => run::run(&run::Options::from_args(args, cli.quiet)).await,
        Command::Compare(args) => compare::compare(args).await,
        Command::History(args) => history::history(args).await,
        Command::Report(args) => report::report(args).await,
        Command::Merge(args) => merge::merge(args).await,
        Command::Bench(args) => bench::bench(args).await,
        Command::Cache(command) => cache::cache(command).await.map(|report| run::Outcome {
            exit_code: 0,
            report,
            failure: None,
        }),
        Command::Import(command) => import::import(command),
    }
}

/// The baseline request the flags and the GitHub event make.
pub fn baseline_request(args: &BaselineArgs) -> Request {
    let event = crate::publish::github::event::payload();
    Request {
        run: args.baseline_run.clone(),
        db: args.baseline_db.clone(),
        branch: args.baseline_branch.clone(),
        base: event
            .as_ref()
            .and_then(crate::publish::github::event::base_of_event),
        default_branch: event
            .as_ref()
            .and_then(crate::publish::github::event::default_branch),
    }
}

/// Puts a comparison into a report, with what the first newly failing
/// cases got (read from `store`).
pub(crate) async fn add_comparison(
    report: &mut crate::report::Report,
    store: &Store,
    compared: baseline::Compared,
    gate: &Gate,
) {
    let failing = compared
        .comparison
        .quality
        .flips
        .iter()
        .filter(|f| f.newly_failing)
        .take(20)
        .map(|f| f.key.clone())
        .collect();
    let flipped = store
        .case_details(&report.run_id, failing)
        .await
        .unwrap_or_else(|e| {
            log::warn(&format!("cannot read the flipped cases: {}", e.message()));
            Vec::new()
        });
    report.add_comparison(compared, gate, flipped);
}

/// The report page's file name in a report folder.
pub(crate) const PAGE: &str = "report.html";

/// Writes run `report`'s page to `path` and says so on stderr: how many
/// cases, how many with their answers, its size and how long it took.
pub(crate) async fn write_page(
    report: &crate::report::Report,
    store: &Store,
    baseline_db: Option<&std::path::Path>,
    renderer: &crate::report::Renderer,
    path: &std::path::Path,
) -> Result<std::path::PathBuf> {
    let started = std::time::Instant::now();
    let written = crate::report::html::write(report, store, baseline_db, renderer, path).await?;
    log::note(&format!(
        "wrote {}: {} cases, {} with their answers, {:.1} MB in {} ms",
        written.path.display(),
        written.cases,
        written.in_full,
        written.bytes as f64 / 1e6,
        started.elapsed().as_millis()
    ));
    Ok(written.path)
}

/// Says in a report why there is no comparison, and fails the gate for it
/// when the gate requires a baseline.
pub(crate) fn no_baseline(
    report: &mut crate::report::Report,
    search: &baseline::Search,
    branch: &str,
    gate: &Gate,
) {
    let why = search.why_none(&report.suite, branch);
    if gate.require_baseline {
        report.gate_reasons.push(format!(
            "there is no baseline to compare with and a baseline is required (--require-baseline): {why}"
        ));
    }
    report.no_comparison = Some(why);
}

/// The run with this id (or unique prefix), else the newest run in `store`.
pub(crate) async fn run_or_newest(store: &Store, id: Option<&str>) -> Result<RunRef> {
    if let Some(id) = id {
        return store.find_run(id).await;
    }
    let filter = RunFilter {
        limit: 1,
        ..RunFilter::default()
    };
    let Some(newest) = store.runs(filter).await?.into_iter().next() else {
        return Err(Error::input(format!(
            "{} holds no runs yet; `ai-evals run` writes one",
            store.path().display()
        )));
    };
    store.find_run(&newest.run_id).await
}
