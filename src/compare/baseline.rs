//! Choosing the run a new run is compared with, and comparing them.
//!
//! In order: the run named with `--baseline-run`; on a pull request, the
//! newest run at the pull request's base commit (`pull_request.base.sha` in
//! `$GITHUB_EVENT_PATH`); else the newest finished run on the baseline
//! branch. `--baseline-db` reads all of that from another history file
//! (say, main's history artifact) instead of the run's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::compare::verdict::{self, Comparison};
use crate::config::CompareConfig;
use crate::error::Result;
use crate::store::read::{At, RunRef};
use crate::store::{Access, Store};
use crate::store::{HistoryRun, RunData};

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `--baseline-run`: a run id or unique prefix.
    pub run: Option<String>,
    /// `--baseline-db`: another history file to take the baseline from.
    pub db: Option<PathBuf>,
    /// `--baseline-branch`, overriding `[compare] baseline-branch`.
    pub branch: Option<String>,
    /// The pull request's base commit and branch, when there is one.
    pub base: Option<Base>,
    /// The repository's default branch, when the GitHub event names it.
    pub default_branch: Option<String>,
}

/// Where a pull request merges into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub sha: String,
    pub branch: Option<String>,
}

impl Request {
    /// The baseline branch: the flag, else the pull request's base branch,
    /// else the config's, else the repository's default branch, else main.
    pub fn branch<'a>(&'a self, config: &'a CompareConfig) -> &'a str {
        self.branch
            .as_deref()
            .or_else(|| self.base.as_ref().and_then(|b| b.branch.as_deref()))
            .or(config.baseline_branch.as_deref())
            .or(self.default_branch.as_deref())
            .unwrap_or("main")
    }
}

/// How the baseline was found, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chosen {
    pub run: RunRef,
    /// e.g. "the pull request's base commit 1a2b3c4".
    pub why: String,
}

/// Finds the baseline in `store` for a run of `suite` (excluding the run
/// itself). `Ok(None)` when there is none yet; an explicit run that does
/// not exist is an input error.
pub async fn choose(
    store: &Store,
    suite: &str,
    exclude: Option<&str>,
    request: &Request,
    config: &CompareConfig,
) -> Result<Option<Chosen>> {
    if let Some(id) = &request.run {
        let run = store.find_run(id).await?;
        return Ok(Some(Chosen {
            why: format!("run {} chosen with --baseline-run", short(&run.run_id)),
            run,
        }));
    }
    if let Some(base) = &request.base
        && let Some(run) = store
            .newest_finished(suite, At::Commit(base.sha.clone()), exclude)
            .await?
    {
        return Ok(Some(Chosen {
            why: format!("the pull request's base commit {}", short(&base.sha)),
            run,
        }));
    }
    let branch = request.branch(config);
    Ok(store
        .newest_finished(suite, At::Branch(branch.to_string()), exclude)
        .await?
        .map(|run| Chosen {
            why: format!(
                "the newest run on {branch}{}",
                run.git_sha
                    .as_deref()
                    .map(|s| format!(", commit {}", short(s)))
                    .unwrap_or_default()
            ),
            run,
        }))
}

/// A finished comparison and how its baseline was chosen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Compared {
    pub baseline: Chosen,
    pub comparison: Comparison,
    /// The baseline run's metrics and component timings, for side-by-side tables.
    pub baseline_metrics: BTreeMap<String, f64>,
    pub baseline_timings: BTreeMap<String, f64>,
    /// The baseline branch's recent runs, oldest first, for trend charts.
    pub trend: Vec<TrendPoint>,
}

/// One run's headline numbers in a trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub run_id: String,
    pub git_sha: Option<String>,
    pub pass_rate: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    pub total_ms: Option<f64>,
}

impl TrendPoint {
    fn of(run: &HistoryRun) -> TrendPoint {
        TrendPoint {
            run_id: run.run_id.clone(),
            git_sha: run.git_sha.clone(),
            pass_rate: run.metrics.get("pass_rate").copied(),
            latency_p50_ms: run.metrics.get("latency_p50_ms").copied(),
            cost_usd: run.metrics.get("cost_usd").copied(),
            total_ms: run.timings.get("total").copied(),
        }
    }
}

/// Compares run `current` of `suite` (in `store`) with its baseline, which
/// is looked up in `request.db` when given, else in `store`. `Ok(None)`
/// when there is no baseline yet; the current run's numbers are loaded
/// only when there is one.
pub async fn compare(
    store: &Store,
    suite: &str,
    current: &str,
    load_current: impl AsyncFnOnce() -> Result<Arc<RunData>>,
    request: &Request,
    config: &CompareConfig,
) -> Result<Option<Compared>> {
    let other;
    let source: &Store = match &request.db {
        Some(path) if !same_file(path, store.path()) => {
            other = Store::open_with(path, Access::ReadOnly)?;
            &other
        }
        _ => store,
    };
    let exclude = Some(current);
    let Some(chosen) = choose(source, suite, exclude, request, config).await? else {
        return Ok(None);
    };
    let branch = request.branch(config);
    let history = source
        .history(suite, branch, exclude, config.history_window)
        .await?;
    let baseline = source.run_data(&chosen.run).await?;
    let now = load_current().await?;
    let comparison = verdict::compare(
        &now,
        &baseline,
        &history,
        &verdict::Settings::from_config(config),
    );
    Ok(Some(Compared {
        baseline: chosen,
        comparison,
        baseline_metrics: baseline.metrics.clone(),
        baseline_timings: baseline.timings.clone(),
        trend: history.runs.iter().rev().map(TrendPoint::of).collect(),
    }))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The first 7 characters of a commit or run id.
pub fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}
