//! `ai-evals history`: the runs a history file holds, newest first; and
//! for CI, `history fetch` (a branch's history from its artifacts) and
//! `history info` (what a cache of the history must be keyed on).

use std::path::Path;

use crate::cli::{FetchArgs, HistoryAction, HistoryArgs, HistoryCommand, InfoArgs, OutputFormat};
use crate::commands::run::Outcome;
use crate::compare::baseline;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::log;
use crate::publish::Environment;
use crate::publish::github::api::{ApiError, split_repo};
use crate::publish::github::{artifacts, event};
use crate::store::read::{RunFilter, RunRow};
use crate::store::{Access, Store};
use crate::units::parse_size;

/// Runs `history` or one of its subcommands.
pub async fn history(command: HistoryCommand) -> Result<Outcome> {
    let report = match command.action {
        None => return list(command.list).await,
        Some(HistoryAction::Fetch(args)) => fetch(args).await?,
        Some(HistoryAction::Info(args)) => info(args)?,
    };
    Ok(Outcome {
        exit_code: 0,
        report,
        failure: None,
    })
}

/// Lists the runs, as a table or as JSON.
async fn list(args: HistoryArgs) -> Result<Outcome> {
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let runs = store
        .runs(RunFilter {
            suite: args.suite,
            branch: args.branch,
            limit: args.limit,
            ..RunFilter::default()
        })
        .await?;
    let report = match args.format {
        OutputFormat::Text => render_history(&runs, &args.db),
        OutputFormat::Json => serde_json::to_string_pretty(&runs).expect("runs serialize to JSON"),
    };
    Ok(Outcome {
        exit_code: 0,
        report,
        failure: None,
    })
}

fn render_history(runs: &[RunRow], db: &Path) -> String {
    if runs.is_empty() {
        return format!("no runs in {}\n", db.display());
    }
    let mut out = format!(
        "{:<24} {:<16} {:<8} {:<14} {:<19} {:<11} {:>7} {:>8} {:>7} {:>10} {:>10}\n",
        "run",
        "suite",
        "commit",
        "branch",
        "started (UTC)",
        "status",
        "cases",
        "pass",
        "errors",
        "time",
        "cost"
    );
    for r in runs {
        let optional = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<24} {:<16} {:<8} {:<14} {:<19} {:<11} {:>7} {:>8} {:>7} {:>10} {:>10}\n",
            r.run_id,
            truncate(&r.suite, 16),
            optional(r.git_sha.as_deref().map(|s| baseline::short(s).to_string())),
            truncate(r.branch.as_deref().unwrap_or("-"), 14),
            r.started_at,
            r.status,
            optional(r.cases_total.map(|n| n.to_string())),
            optional(r.pass_rate.map(|p| format!("{:.1}%", 100.0 * p))),
            optional(r.cases_errored.map(|n| n.to_string())),
            optional(r.total_ms.map(|ms| format!("{:.1} s", ms / 1000.0))),
            optional(r.cost_usd.map(|c| format!("${c:.4}"))),
        ));
    }
    out
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

/// Downloads the newest history artifact of the branch's successful
/// baseline runs into `args.output`, checked to be a history this build
/// reads; finding none is not an error.
async fn fetch(args: FetchArgs) -> Result<String> {
    let (owner, repo) = split_repo(&args.repo)
        .ok_or_else(|| Error::input(format!("--repo must be OWNER/NAME (got: {})", args.repo)))?;
    let max = parse_size(&args.max_size).map_err(|m| Error::input(format!("--max-size: {m}")))?;
    if args.output.exists() {
        return Err(Error::input(format!(
            "{} exists already; fetch into a new path",
            args.output.display()
        )));
    }
    let event = event::payload();
    let branch = args
        .branch
        .clone()
        .or_else(|| event.as_ref().and_then(event::base_of_event)?.branch)
        .or_else(|| event.as_ref().and_then(event::default_branch))
        .unwrap_or_else(|| "main".into());
    let github = Environment::from_env()
        .github(&args.github_token)
        .map_err(|e| Error::runtime(e.message))?;
    let found = artifacts::newest_history(&github, &owner, &repo, &args.name, &branch)
        .await
        .map_err(|e| api_error(e, "actions: read"))?;
    let Some(found) = found else {
        return Ok(format!(
            "no artifact {} of a successful push, schedule or workflow_dispatch run on {branch}; nothing fetched\n",
            args.name
        ));
    };
    artifacts::download(&github, &owner, &repo, &found, &args.output, max)
        .await
        .map_err(Error::runtime)?;
    // A history from elsewhere is opened as every database is (hardened),
    // and must be one this build reads.
    if let Err(e) = Store::open_with(&args.output, Access::ReadOnly).map(Store::close) {
        let _ = std::fs::remove_file(&args.output);
        return Err(e.context(format!("artifact {} is not a usable history", args.name)));
    }
    log::note(&format!(
        "fetched the history of {branch} from run {} (commit {})",
        found.run_id,
        baseline::short(&found.head_sha)
    ));
    Ok(format!("{}\n", args.output.display()))
}

/// A REST failure as the user's error: a 403 or 404 is the workflow's
/// permissions (`needs`), anything else a failure while running.
pub(crate) fn api_error(e: ApiError, needs: &str) -> Error {
    match e.status {
        Some(403) => Error::input(format!(
            "{}: the token may not do this; give the job `permissions: {needs}`",
            e.message
        )),
        Some(404) => Error::input(format!(
            "{}: the repository is not there for this token; check --repo and that the token may read it",
            e.message
        )),
        _ => Error::runtime(e.message),
    }
}

/// `key=value` lines: the baseline branch (the flag, the pull request's
/// base, `[compare] baseline-branch`, the repository's default branch,
/// main), and the storage version of the files this build writes, which a
/// cache of them must be keyed on (another engine cannot read them).
fn info(args: InfoArgs) -> Result<String> {
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let event = event::payload();
    let request = baseline::Request {
        branch: args.baseline_branch,
        base: event.as_ref().and_then(event::base_of_event),
        default_branch: event.as_ref().and_then(event::default_branch),
        ..baseline::Request::default()
    };
    let compare = config.map(|c| c.compare).unwrap_or_default();
    Ok(format!(
        "baseline-branch={}\nstorage-version={}\n",
        request.branch(&compare),
        crate::store::storage_version()
    ))
}
