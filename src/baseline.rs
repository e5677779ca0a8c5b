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

use crate::config::CompareConfig;
use crate::error::Result;
use crate::store::read::{At, RunRef};
use crate::store::{Access, Store};
use crate::verdict::{self, Comparison, HistoryRun, RunData};

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
}

/// Where a pull request merges into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub sha: String,
    pub branch: Option<String>,
}

/// The pull request's base from a GitHub event payload: a `pull_request`
/// event, or a `workflow_run` event for a pull request (the way a comment
/// is posted for a fork).
pub fn base_of_event(event: &serde_json::Value) -> Option<Base> {
    let base = event
        .pointer("/pull_request/base")
        .or_else(|| event.pointer("/workflow_run/pull_requests/0/base"))?;
    let sha = base.get("sha")?.as_str().filter(|s| !s.is_empty())?;
    Some(Base {
        sha: sha.to_string(),
        branch: base.get("ref").and_then(|r| r.as_str()).map(str::to_string),
    })
}

/// The base of the pull request this job runs for, if any.
pub fn base_from_env() -> Option<Base> {
    base_of_event(&crate::github::event::payload()?)
}

impl Request {
    /// The baseline branch: the flag, else the pull request's base branch,
    /// else the config's.
    pub fn branch<'a>(&'a self, config: &'a CompareConfig) -> &'a str {
        self.branch
            .as_deref()
            .or_else(|| self.base.as_ref().and_then(|b| b.branch.as_deref()))
            .unwrap_or(&config.baseline_branch)
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
    let comparison = verdict::compare(&now, &baseline, &history, &config.settings());
    Ok(Some(Compared {
        baseline: chosen,
        comparison,
        baseline_metrics: baseline.metrics.clone(),
        baseline_timings: baseline.timings.clone(),
        trend: history.iter().rev().map(TrendPoint::of).collect(),
    }))
}

/// Puts a comparison into a report: the gate's reasons at `fail_on`, what
/// the first newly failing cases got, and the link to the baseline commit.
pub async fn into_report(
    report: &mut crate::report::Report,
    store: &Store,
    compared: Compared,
    fail_on: verdict::FailOn,
) {
    report.gate_reasons = verdict::gate_reasons(&compared.comparison, fail_on);
    report.links = crate::report::Links::from_env(compared.baseline.run.git_sha.as_deref());
    let failing = compared
        .comparison
        .quality
        .newly_failing
        .iter()
        .take(20)
        .cloned()
        .collect();
    match store.case_details(&report.run_id, failing).await {
        Ok(details) => report.flipped = details,
        Err(e) => crate::log::warn(&format!("cannot read the flipped cases: {}", e.message())),
    }
    report.comparison = Some(compared);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/github-events")
            .join(name);
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    #[test]
    fn base_comes_from_the_pull_request_payload() {
        let base = base_of_event(&fixture("pull_request_opened.payload.json")).unwrap();
        assert_eq!(base.sha, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
        assert_eq!(base.branch.as_deref(), Some("master"));
        let request = Request {
            base: Some(base),
            ..Request::default()
        };
        assert_eq!(request.branch(&CompareConfig::default()), "master");
    }

    #[test]
    fn a_workflow_run_for_a_pull_request_has_its_base() {
        let event = fixture("workflow_run_completed.with-pull-requests.payload.json");
        let base = base_of_event(&event).unwrap();
        assert_eq!(base.sha, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
    }

    #[test]
    fn a_push_has_no_base_and_the_config_branch_applies() {
        assert_eq!(base_of_event(&fixture("push_payload.json")), None);
        let request = Request::default();
        assert_eq!(request.branch(&CompareConfig::default()), "main");
        let flagged = Request {
            branch: Some("develop".into()),
            ..Request::default()
        };
        assert_eq!(flagged.branch(&CompareConfig::default()), "develop");
    }
}
