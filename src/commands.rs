//! The commands besides `run`: `compare`, `history` and `bench`. Each reads
//! its arguments, does its work through the modules that own it, and hands
//! `main` a report and an exit code.

use std::path::Path;

use chrono::Utc;

use crate::baseline::{self, Request};
use crate::bench;
use crate::cli::{BaselineArgs, BenchArgs, CompareArgs, HistoryArgs, MergeArgs, ReportArgs};
use crate::config::{CompareConfig, Config};
use crate::context::GitContext;
use crate::error::{Error, Result};
use crate::log;
use crate::report;
use crate::report::escape;
use crate::run::{Outcome, OutputFormat};
use crate::store::read::{RunFilter, RunRef, RunRow};
use crate::store::{Access, Metric, RunInfo, Store};
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
        [] => run_or_newest(&store, None).await?,
        [current] => store.find_run(current).await?,
        [base, current] => {
            request.run = Some(base.clone());
            store.find_run(current).await?
        }
        _ => unreachable!("clap allows at most two runs"),
    };
    let load = async || store.run_data(&current).await;
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
            report::Renderer::new(None)?.comparison(&compared, &reasons, fail_on.as_str())?
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

/// The run with this id (or unique prefix), else the newest run in `store`.
async fn run_or_newest(store: &Store, id: Option<&str>) -> Result<RunRef> {
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

pub async fn history(args: HistoryArgs) -> Result<Outcome> {
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
                    shard: None,
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
    let renderer = report::Renderer::new(args.delivery.templates.as_deref())?;
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let run = run_or_newest(&store, args.run.as_deref()).await?;
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
    let options = args.delivery.publish();
    let cases = if options.report_dir.is_some() {
        store.all_cases(&run.run_id).await?
    } else {
        Vec::new()
    };
    let mut text = match args.format {
        OutputFormat::Text => renderer.text(&stored)?,
        OutputFormat::Json => report::render_json(&stored),
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

pub async fn merge(args: MergeArgs) -> Result<Outcome> {
    let output = args
        .output
        .canonicalize()
        .unwrap_or_else(|_| args.output.clone());
    for input in &args.inputs {
        if !input.is_file() {
            return Err(Error::input(format!("{} does not exist", input.display())));
        }
        if input.canonicalize().is_ok_and(|p| p == output) {
            return Err(Error::input(format!(
                "{} is both a shard and the output; write the merged run to another file",
                input.display()
            )));
        }
    }
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let started = std::time::Instant::now();
    let store = Store::open(&args.output)?;
    let run_id = crate::run::new_run_id(Utc::now());
    let merged = store.merge(args.inputs.clone(), run_id.clone()).await?;
    let merge_ms = started.elapsed().as_secs_f64() * 1000.0;
    log::note(&format!(
        "merged {} shards ({} cases) into run {run_id} in {merge_ms:.0} ms",
        merged.shards, merged.cases
    ));

    let row = store
        .run_row(&run_id)
        .await?
        .ok_or_else(|| Error::runtime("the merged run vanished"))?;
    let mut metrics = crate::run::run_metrics(&store, &run_id, row.pass_rate, row.mean_score).await;
    let timings = store.timings(&run_id).await?;
    // The shards' cache counters were summed; the rate is taken again.
    let summed = store.metrics(&run_id).await?;
    let count = |name: &str| summed.get(name).copied().unwrap_or(0.0) as u64;
    let cache = crate::cache::Stats {
        hits: count("cache_hits"),
        misses: count("cache_misses"),
        shared: count("cache_shared"),
        ..crate::cache::Stats::default()
    };
    if let Some(rate) = cache.hit_rate() {
        metrics.push(Metric {
            name: "cache_hit_rate".into(),
            value: rate,
            unit: Some("ratio".into()),
        });
    }
    store.add_metrics(&run_id, metrics).await?;

    let (min_pass_rate, compare, targets) = match &config {
        Some(c) => (c.suite.min_pass_rate, c.compare.clone(), c.targets.clone()),
        None => (
            1.0,
            CompareConfig::default(),
            crate::config::Targets::default(),
        ),
    };
    let fail_on = args.baseline.fail_on.unwrap_or(compare.fail_on);
    let request = baseline_request(&args.baseline);
    let current = store.find_run(&run_id).await?;
    let load = async || store.run_data(&current).await;
    let compared =
        baseline::compare(&store, &current.suite, &run_id, load, &request, &compare).await?;

    let failures = store.first_failures(&run_id, 10).await?;
    let metric_values = store.metrics(&run_id).await?;
    let total = row.cases_total.unwrap_or(0).max(0) as u64;
    let passed = row.cases_passed.unwrap_or(0).max(0) as u64;
    let mut report = report::Report {
        suite: row.suite.clone(),
        run_id: run_id.clone(),
        db: args.output.display().to_string(),
        status: "finished".into(),
        cases_total: total,
        cases_passed: passed,
        cases_failed: total - passed,
        cases_errored: row.cases_errored.unwrap_or(0).max(0) as u64,
        pass_rate: row.pass_rate,
        mean_score: row.mean_score,
        min_pass_rate,
        gate_passed: row.pass_rate.is_none_or(|r| r >= min_pass_rate),
        rows_skipped: 0,
        row_errors: Vec::new(),
        by_type: store
            .type_counts(&run_id)
            .await?
            .into_iter()
            .map(|(name, passed, total)| report::TypeCount {
                name,
                passed,
                total,
            })
            .collect(),
        failures: failures
            .into_iter()
            .map(|f| report::Failure {
                case_id: f.case_id,
                source: f.source,
                error: f.error,
                failed: f.failed,
                output: f.output.map(|o| escape::shorten(&o, 200)),
            })
            .collect(),
        bottlenecks: crate::performance::identify_bottlenecks(
            &timings,
            &metric_values,
            targets.bottleneck_ms,
            targets.bottleneck_percent,
        ),
        targets: crate::performance::check_targets(&timings, &metric_values, &targets),
        timings,
        cache: None,
        throttled_ms: metric_values
            .iter()
            .filter(|(name, _)| name.starts_with("throttle_wait_ms/"))
            .map(|(_, v)| v)
            .sum(),
        comparison: None,
        no_comparison: None,
        fail_on: fail_on.as_str().to_string(),
        gate_reasons: Vec::new(),
        metrics: metric_values,
        flipped: Vec::new(),
        links: report::Links::from_env(None),
    };
    match compared {
        Some(c) => baseline::into_report(&mut report, &store, c, fail_on).await,
        None => {
            report.no_comparison = Some(format!(
                "no earlier finished run of suite {} on {} to compare with",
                row.suite,
                request.branch(&compare)
            ));
        }
    }
    store
        .save_report(&run_id, report::render_json(&report))
        .await?;
    let text = match args.format {
        OutputFormat::Text => format!(
            "{}\nmerged {} shards into run {run_id} in {}; `ai-evals report --db {}` posts the comment and applies the gate\n",
            report::Renderer::new(None)?.text(&report)?,
            merged.shards,
            args.output.display(),
            args.output.display()
        ),
        OutputFormat::Json => report::render_json(&report),
    };
    Ok(Outcome {
        exit_code: 0,
        report: text,
    })
}
