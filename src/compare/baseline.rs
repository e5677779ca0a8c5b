//! Choosing the run a new run is compared with, and comparing them.
//!
//! In order: the run named with `--baseline-run`; on a pull request, the
//! newest run at the pull request's base commit (`pull_request.base.sha` in
//! `$GITHUB_EVENT_PATH`); else the newest run on the baseline branch.
//! `--baseline-db` reads all of that from another history file (say,
//! main's history artifact) instead of the run's own.
//!
//! Only a healthy run is a reference: one that finished, ran its whole
//! dataset, and whose cases mostly got answers. A run of an outage, cut
//! short or interrupted is skipped, and the report names it and why. A
//! suite renamed since its last run is found by its config file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::compare::verdict::{self, Comparison};
use crate::config::CompareConfig;
use crate::error::Result;
use crate::store::read::{At, Candidate, HistoryQuery, RunRef};
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
    /// Newer runs passed over because they cannot serve as a reference.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// The suite's name on the baseline, when the suite was renamed since.
    #[serde(default)]
    pub renamed_from: Option<String>,
}

/// A run that was not taken as the baseline, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub run_id: String,
    pub git_sha: Option<String>,
    pub why: String,
}

/// How far back the search for a healthy baseline looks past unhealthy runs.
const SEARCH_DEPTH: usize = 50;

/// Why a run cannot serve as a baseline, or `None` when it can: it did not
/// finish (interrupted, failed, a partial merge, killed), it said so itself
/// (a dataset cut short, malformed rows, no case scored), or more than
/// `max_errors` of its cases errored.
pub fn unfit(candidate: &Candidate, max_errors: f64) -> Option<String> {
    if candidate.status != "finished" {
        return Some(format!("it did not finish ({})", candidate.status));
    }
    if let Some(why) = &candidate.unfit {
        return Some(why.clone());
    }
    let (errored, total) = (candidate.cases_errored, candidate.cases_total);
    if total > 0 && errored as f64 > max_errors * total as f64 {
        return Some(format!(
            "{errored} of its {total} cases errored ({:.0}%, above [compare] max-baseline-errors {:.0}%)",
            100.0 * errored as f64 / total as f64,
            100.0 * max_errors
        ));
    }
    None
}

/// The newest healthy candidate, and the unhealthy ones newer than it.
fn first_fit(candidates: Vec<Candidate>, max_errors: f64) -> (Option<RunRef>, Vec<Skipped>) {
    let mut skipped = Vec::new();
    for candidate in candidates {
        match unfit(&candidate, max_errors) {
            None => return (Some(candidate.run), skipped),
            // A run still under way (or killed outright) is no news.
            Some(_) if candidate.status == "running" => {}
            Some(why) => skipped.push(Skipped {
                run_id: candidate.run.run_id,
                git_sha: candidate.run.git_sha,
                why,
            }),
        }
    }
    (None, skipped)
}

/// What the search for a baseline found: the run, if a healthy one
/// exists, and the newer runs it passed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub chosen: Option<Chosen>,
    pub skipped: Vec<Skipped>,
    /// The suite's earlier name, when its runs were found by config file.
    pub renamed_from: Option<String>,
}

impl Search {
    /// Why there is no baseline, for the report: which runs were passed
    /// over and why, if any were.
    pub fn why_none(&self, suite: &str, branch: &str) -> String {
        let mut text = format!(
            "no earlier finished run of suite {suite} on {branch} to compare with; the first one becomes the baseline"
        );
        if !self.skipped.is_empty() {
            text = format!(
                "no healthy run of suite {suite} on {branch} to compare with: {}",
                skipped_text(&self.skipped)
            );
        }
        text
    }
}

/// "run 1a2b3c4 (commit 9f8e7d6): why; …".
pub fn skipped_text(skipped: &[Skipped]) -> String {
    skipped
        .iter()
        .map(|s| {
            format!(
                "skipped run {}{}: {}",
                short(&s.run_id),
                s.git_sha
                    .as_deref()
                    .map(|sha| format!(" (commit {})", short(sha)))
                    .unwrap_or_default(),
                s.why
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Finds the baseline in `store` for a run of `suite` (excluding the run
/// itself), looking the suite up by `config_path` when it has no run
/// under its name. An explicit run that does not exist is an input error.
pub async fn choose(
    store: &Store,
    suite: &str,
    config_path: Option<&str>,
    exclude: Option<&str>,
    request: &Request,
    config: &CompareConfig,
) -> Result<Search> {
    if let Some(id) = &request.run {
        let run = store.find_run(id).await?;
        return Ok(Search {
            chosen: Some(Chosen {
                why: format!("run {} chosen with --baseline-run", short(&run.run_id)),
                run,
                skipped: Vec::new(),
                renamed_from: None,
            }),
            ..Search::default()
        });
    }
    let search = choose_for(store, suite, exclude, request, config).await?;
    if search.chosen.is_some() || !search.skipped.is_empty() {
        return Ok(search);
    }
    let Some(old) = (match config_path {
        Some(path) => store.renamed_from(path, suite).await?,
        None => None,
    }) else {
        return Ok(search);
    };
    let mut search = choose_for(store, &old, exclude, request, config).await?;
    if let Some(chosen) = &mut search.chosen {
        chosen.renamed_from = Some(old.clone());
    }
    search.renamed_from = Some(old);
    Ok(search)
}

/// The baseline among `suite`'s runs: the newest healthy one at the pull
/// request's base commit, else on the baseline branch.
async fn choose_for(
    store: &Store,
    suite: &str,
    exclude: Option<&str>,
    request: &Request,
    config: &CompareConfig,
) -> Result<Search> {
    let max_errors = config.max_baseline_errors;
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut places = Vec::new();
    if let Some(base) = &request.base {
        let why = format!("the pull request's base commit {}", short(&base.sha));
        places.push((At::Commit(base.sha.clone()), why));
    }
    let branch = request.branch(config);
    places.push((At::Branch(branch.to_string()), String::new()));
    for (at, why) in places {
        let found = store.candidates(suite, at, exclude, SEARCH_DEPTH).await?;
        let (run, passed_over) = first_fit(found, max_errors);
        for s in passed_over {
            if !skipped.iter().any(|k| k.run_id == s.run_id) {
                skipped.push(s);
            }
        }
        let Some(run) = run else { continue };
        let why = if why.is_empty() {
            newest_on(branch, &run, !skipped.is_empty())
        } else {
            why
        };
        return Ok(Search {
            chosen: Some(Chosen {
                why,
                run,
                skipped: skipped.clone(),
                renamed_from: None,
            }),
            skipped,
            renamed_from: None,
        });
    }
    Ok(Search {
        skipped,
        ..Search::default()
    })
}

/// "the newest (healthy) run on main, commit 1a2b3c4".
fn newest_on(branch: &str, run: &RunRef, after_skipping: bool) -> String {
    format!(
        "the newest {}run on {branch}{}",
        if after_skipping { "healthy " } else { "" },
        run.git_sha
            .as_deref()
            .map(|s| format!(", commit {}", short(s)))
            .unwrap_or_default()
    )
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

/// What a comparison came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Compared(Box<Compared>),
    /// No healthy baseline: what the search found instead.
    NoBaseline(Box<Search>),
}

/// The run being compared: its suite, its config file and its id.
#[derive(Debug, Clone, Copy)]
pub struct Current<'a> {
    pub suite: &'a str,
    pub config_path: Option<&'a str>,
    pub run_id: &'a str,
}

/// Compares run `current` (in `store`) with its baseline, which is looked
/// up in `request.db` when given, else in `store`. The current run's
/// numbers are loaded only when there is a baseline.
pub async fn compare(
    store: &Store,
    current: Current<'_>,
    load_current: impl AsyncFnOnce() -> Result<Arc<RunData>>,
    request: &Request,
    config: &CompareConfig,
) -> Result<Outcome> {
    let other;
    let source: &Store = match &request.db {
        Some(path) if !same_file(path, store.path()) => {
            other = Store::open_with(path, Access::ReadOnly)?;
            &other
        }
        _ => store,
    };
    let exclude = Some(current.run_id);
    let search = choose(
        source,
        current.suite,
        current.config_path,
        exclude,
        request,
        config,
    )
    .await?;
    let Some(chosen) = search.chosen.clone() else {
        return Ok(Outcome::NoBaseline(Box::new(search)));
    };
    let history = source
        .history(HistoryQuery {
            suite: chosen.run.suite.clone(),
            branch: request.branch(config).to_string(),
            exclude: exclude.map(str::to_string),
            baseline: Some(chosen.run.run_id.clone()),
            limit: config.history_window,
            max_errors: config.max_baseline_errors,
        })
        .await?;
    let baseline = source.run_data(&chosen.run).await?;
    let now = load_current().await?;
    let comparison = verdict::compare(
        &now,
        &baseline,
        &history,
        &verdict::Settings::from_config(config),
    );
    Ok(Outcome::Compared(Box::new(Compared {
        baseline: chosen,
        comparison,
        baseline_metrics: baseline.metrics.clone(),
        baseline_timings: baseline.timings.clone(),
        trend: history.runs.iter().rev().map(TrendPoint::of).collect(),
    })))
}

/// Whether two paths name one file (the baseline's history may be the
/// run's own).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The first 7 characters of a commit or run id.
pub fn short(id: &str) -> &str {
    id.get(..7).unwrap_or(id)
}
