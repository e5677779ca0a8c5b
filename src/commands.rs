//! The commands besides `run`: `compare`, `history` and `bench`. Each reads
//! its arguments, does its work through the modules that own it, and hands
//! `main` a report and an exit code.

use std::path::Path;

use chrono::Utc;

use crate::baseline::{self, Request};
use crate::bench;
use crate::cli::{BaselineArgs, BenchArgs, CompareArgs, HistoryArgs, ReportArgs};
use crate::config::{CompareConfig, Config};
use crate::context::GitContext;
use crate::error::{Error, Result};
use crate::log;
use crate::report;
use crate::run::{Outcome, OutputFormat};
use crate::store::read::{RunFilter, RunRow};
use crate::store::{Access, RunInfo, Store};
use crate::verdict;

/// The baseline request the flags and the GitHub event make.
pub fn baseline_request(args: &BaselineArgs) -> Request {
    Request {
        run: args.baseline_run.clone(),
        db: args.baseline_db.clone(),
        branch: args.baseline_branch.clone(),
        base: baseline::base_from_env(),
    }
}

pub async fn compare(args: CompareArgs) -> Result<Outcome> {
    let config = match &args.config {
        Some(path) => Config::load(path)?.compare,
        None => CompareConfig::default(),
    };
    let fail_on = args.baseline.fail_on.unwrap_or(config.fail_on);
    let mut request = baseline_request(&args.baseline);
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let current = match args.runs.as_slice() {
        [] => {
            let newest = store
                .runs(RunFilter {
                    limit: 1,
                    ..RunFilter::default()
                })
                .await?;
            let Some(newest) = newest.into_iter().next() else {
                return Err(Error::input(format!(
                    "{} holds no runs yet; `ai-evals run` writes one",
                    args.db.display()
                )));
            };
            store.find_run(&newest.run_id).await?
        }
        [current] => store.find_run(current).await?,
        [base, current] => {
            request.run = Some(base.clone());
            store.find_run(current).await?
        }
        _ => unreachable!("clap allows at most two runs"),
    };
    let load = async || Ok((*store.run_data(&current).await?).clone());
    let Some(compared) = baseline::compare(
        &store,
        &current.suite,
        &current.run_id,
        load,
        &request,
        &config,
    )
    .await?
    else {
        return Err(Error::input(format!(
            "no baseline for run {} of suite {}: no finished run on {} in {}. Name one with --baseline-run, or point --baseline-db at main's history.",
            current.run_id,
            current.suite,
            request.branch(&config),
            request.db.as_deref().unwrap_or(&args.db).display()
        )));
    };
    let reasons = verdict::gate_reasons(&compared.comparison, fail_on);
    let text = match args.format {
        OutputFormat::Text => {
            report::Renderer::new(None)?.comparison(&compared, &reasons, fail_on_name(fail_on))?
        }
        OutputFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
            "current_run": current.run_id,
            "baseline": compared.baseline,
            "comparison": compared.comparison,
            "fail_on": fail_on,
            "gate_reasons": reasons,
        }))
        .expect("a comparison serializes to JSON"),
    };
    Ok(Outcome {
        exit_code: if reasons.is_empty() { 0 } else { 1 },
        report: text,
    })
}

pub fn fail_on_name(fail_on: verdict::FailOn) -> &'static str {
    match fail_on {
        verdict::FailOn::Critical => "critical",
        verdict::FailOn::Major => "major",
        verdict::FailOn::Minor => "minor",
        verdict::FailOn::Never => "never",
    }
}

pub async fn history(args: HistoryArgs) -> Result<Outcome> {
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let runs = store
        .runs(RunFilter {
            suite: args.suite,
            branch: args.branch,
            limit: args.limit,
        })
        .await?;
    let report = match args.format {
        OutputFormat::Text => render_history(&runs, &args.db),
        OutputFormat::Json => serde_json::to_string_pretty(&runs).expect("runs serialize to JSON"),
    };
    Ok(Outcome {
        exit_code: 0,
        report,
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

pub async fn bench(args: BenchArgs) -> Result<Outcome> {
    let chosen = bench::select(args.filter.as_deref())?;
    let store = if args.no_store && !args.db.exists() {
        None
    } else {
        Some(Store::open(&args.db)?)
    };
    let started = Utc::now();
    let bench_id = crate::run::new_run_id(started);
    let mut results = Vec::new();
    for benchmark in &chosen {
        log::note(&format!(
            "bench {}: {} ({} iterations after {} warm-up)",
            benchmark.name, benchmark.what, args.iterations, args.warmup
        ));
        let mut measured =
            bench::measure(benchmark, args.iterations as usize, args.warmup as usize)?;
        if let Some(store) = &store
            && let Some((id, previous)) = store.previous_bench(benchmark.name, &bench_id).await?
        {
            measured.change = bench::change(&previous, &measured.samples, &id);
        }
        results.push(measured);
    }
    if let Some(store) = &store
        && !args.no_store
    {
        let git = GitContext::detect(Path::new("."));
        store
            .write_bench(
                RunInfo {
                    run_id: bench_id.clone(),
                    suite: String::new(),
                    config_hash: String::new(),
                    git_sha: git.sha,
                    branch: git.branch,
                    pr_number: git.pr_number,
                    tool_version: env!("CARGO_PKG_VERSION").to_string(),
                    started_at: started.naive_utc(),
                },
                results
                    .iter()
                    .map(|m| (m.name.clone(), m.ops, m.samples.clone()))
                    .collect(),
            )
            .await?;
    }
    let report = match args.format {
        OutputFormat::Text => {
            let mut text = bench::render(&results);
            if store.is_some() && !args.no_store {
                text.push_str(&format!(
                    "\nstored as bench run {bench_id} in {}\n",
                    args.db.display()
                ));
            }
            text
        }
        OutputFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
            "bench_id": bench_id,
            "results": results,
        }))
        .expect("bench results serialize to JSON"),
    };
    Ok(Outcome {
        exit_code: 0,
        report,
    })
}

pub async fn report(args: ReportArgs) -> Result<Outcome> {
    let renderer = report::Renderer::new(args.templates.as_deref())?;
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let run = match &args.run {
        Some(id) => store.find_run(id).await?,
        None => {
            let newest = store
                .runs(RunFilter {
                    limit: 1,
                    ..RunFilter::default()
                })
                .await?;
            let Some(newest) = newest.into_iter().next() else {
                return Err(Error::input(format!(
                    "{} holds no runs yet; `ai-evals run` writes one",
                    args.db.display()
                )));
            };
            store.find_run(&newest.run_id).await?
        }
    };
    let Some(json) = store.report(&run.run_id).await? else {
        return Err(Error::input(format!(
            "run {} has no stored report (it was killed, or written by an older ai-evals); run the suite again",
            run.run_id
        )));
    };
    let stored: report::Report = serde_json::from_str(&json).map_err(|e| {
        Error::input(format!(
            "the stored report of run {} cannot be read by this ai-evals: {e}",
            run.run_id
        ))
    })?;
    let cases = if args.report_dir.is_some() {
        store.all_cases(&run.run_id).await?
    } else {
        Vec::new()
    };
    let mut text = match args.format {
        OutputFormat::Text => renderer.text(&stored)?,
        OutputFormat::Json => report::render_json(&stored),
    };
    let options = crate::publish::Options {
        comment: !args.no_comment,
        github_token: args.github_token,
        report_dir: args.report_dir,
    };
    let env = crate::publish::Environment::from_env();
    if let (Some(comment), OutputFormat::Text) = (
        crate::publish::publish(&stored, &cases, &renderer, &options, &env).await,
        args.format,
    ) {
        text.push_str("\n\nThe pull-request comment (not posted: --no-comment):\n\n");
        text.push_str(&comment);
    }
    Ok(Outcome {
        exit_code: if stored.passed() { 0 } else { 1 },
        report: text,
    })
}
