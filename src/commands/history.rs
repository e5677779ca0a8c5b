//! `ai-evals history`: the runs a history file holds, newest first; and
//! for CI, `history fetch` (a branch's history from its artifacts) and
//! `history info` (what a cache of the history must be keyed on, as JSON).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{FetchArgs, HistoryAction, HistoryArgs, HistoryCommand, InfoArgs, OutputFormat};
use crate::commands::run::Outcome;
use crate::compare::baseline;
use crate::config::{Config, DEFAULT_CACHE_DIR, check_branch};
use crate::error::{Error, Result};
use crate::log;
use crate::publish::Environment;
use crate::publish::github::api::{ApiError, split_repo};
use crate::publish::github::{actions, artifacts, event, keys};
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

/// Downloads the newest history artifact of the branch's finished
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
    let token = crate::publish::github_token(args.github_token.clone()).ok_or_else(|| {
        Error::input("no GitHub token: pass --github-token or set GITHUB_TOKEN (in the Action, the github-token input)")
    })?;
    let github = Environment::from_env()
        .github(&token)
        .map_err(|e| Error::runtime(e.message))?;
    let found = artifacts::newest_history(&github, &owner, &repo, &args.name, &branch)
        .await
        .map_err(|e| api_error(e, "actions: read"))?;
    let Some(found) = found else {
        return Ok(format!(
            "no artifact {} of a finished push, schedule or workflow_dispatch run on {branch}; nothing fetched\n",
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

/// What a cache of the suite's history must be keyed on, as JSON (and,
/// in Actions, as step outputs): the baseline branch (the flag, the pull
/// request's base, `[compare] baseline-branch`, the repository's default
/// branch, main), checked with git's rules; the storage version of the
/// files this build writes (another engine cannot read them); the paths a
/// run uses, also from the workspace root; the cache key prefixes; and
/// what this run saves.
fn info(args: InfoArgs) -> Result<String> {
    let config_path = args.config.clone().unwrap_or_else(|| "evals.toml".into());
    let config = args.config.as_deref().and_then(|path| {
        Config::load(path)
            .map_err(|e| {
                log::warn(&format!(
                    "{} (history info goes on without it)",
                    e.message()
                ))
            })
            .ok()
    });
    let event = event::payload();
    let request = baseline::Request {
        branch: args.baseline_branch,
        base: event.as_ref().and_then(event::base_of_event),
        default_branch: event.as_ref().and_then(event::default_branch),
        ..baseline::Request::default()
    };
    let compare = config
        .as_ref()
        .map(|c| c.compare.clone())
        .unwrap_or_default();
    let branch = request.branch(&compare).to_string();
    check_branch(&branch).map_err(|m| {
        Error::input(format!(
            "the baseline branch (from --baseline-branch, the event or [compare] baseline-branch): {m}"
        ))
    })?;
    let db = args.db.unwrap_or_else(|| "ai-evals.duckdb".into());
    let cache_dir = args
        .cache_dir
        .or_else(|| config.and_then(|c| c.cache.dir))
        .unwrap_or_else(|| DEFAULT_CACHE_DIR.into());
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let cwd = std::env::current_dir()
        .map_err(|e| Error::runtime(format!("cannot read the current folder: {e}")))?;
    let workspace = env("GITHUB_WORKSPACE").map_or_else(|| cwd.clone(), PathBuf::from);
    let in_workspace = |path: &Path| keys::from_workspace(&workspace, &cwd, path);
    let os = env("RUNNER_OS").unwrap_or_else(|| std::env::consts::OS.to_string());
    let config_key = in_workspace(&config_path);
    let scope = keys::Scope {
        os: &os,
        config: &config_key,
        id: &args.id,
        shard: args.shard.map(|s| format!("{}-of-{}", s.index, s.count)),
    };
    let trigger = keys::Trigger {
        event: env("GITHUB_EVENT_NAME").unwrap_or_default(),
        ref_type: env("GITHUB_REF_TYPE").unwrap_or_default(),
        ref_name: env("GITHUB_REF_NAME").unwrap_or_default(),
    };
    let storage = crate::store::storage_version();
    let saves = trigger.saves(&branch, args.shard.is_some());
    let info = Info {
        workspace_db: in_workspace(&db),
        workspace_cache_dir: in_workspace(&cache_dir),
        db: db.display().to_string(),
        cache_dir: cache_dir.display().to_string(),
        history_key_prefix: scope.history_prefix(&storage),
        responses_key_prefix: scope.responses_prefix(),
        baseline_branch: branch,
        storage_version: storage,
        save_history: saves.history,
        save_responses: saves.responses,
    };
    write_outputs(&info, env("GITHUB_OUTPUT"));
    Ok(serde_json::to_string_pretty(&info).expect("the info serializes to JSON") + "\n")
}

/// What `history info` prints.
#[derive(Debug, Serialize)]
struct Info {
    baseline_branch: String,
    storage_version: String,
    /// The paths as a run in this folder uses them.
    db: String,
    cache_dir: String,
    /// The same from the workspace root, as actions/cache reads them.
    workspace_db: String,
    workspace_cache_dir: String,
    /// None for a shard, which keeps no history.
    history_key_prefix: Option<String>,
    responses_key_prefix: String,
    save_history: bool,
    save_responses: bool,
}

/// The info as step outputs; failing to write them is a warning.
fn write_outputs(info: &Info, output: Option<String>) {
    let Some(path) = output else { return };
    let pairs = [
        ("baseline-branch", info.baseline_branch.clone()),
        ("storage-version", info.storage_version.clone()),
        ("db-path", info.workspace_db.clone()),
        ("cache-path", info.workspace_cache_dir.clone()),
        (
            "history-key-prefix",
            info.history_key_prefix.clone().unwrap_or_default(),
        ),
        ("responses-key-prefix", info.responses_key_prefix.clone()),
        ("save-history", info.save_history.to_string()),
        ("save-responses", info.save_responses.to_string()),
    ];
    if let Err(e) = actions::append(Path::new(&path), &actions::outputs(&pairs)) {
        log::warn(&format!("cannot write the step outputs {path}: {e}"));
    }
}
