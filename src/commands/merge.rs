//! `ai-evals merge`: the databases of a sharded run united into one run,
//! with its metrics recomputed, its comparison with the baseline and its
//! stored report.

use std::path::PathBuf;

use chrono::Utc;

use super::{add_comparison, baseline_request, no_baseline};
use crate::cli::{MergeArgs, OutputFormat};
use crate::commands::run::{Outcome, new_run_id, run_metrics};
use crate::compare::baseline;
use crate::config::{CompareConfig, Config, Gate, Targets};
use crate::error::{Error, Result};
use crate::log;
use crate::record::{CacheStats, Metric};
use crate::report::{self, escape, performance};
use crate::secret::redact;
use crate::store::Store;
use crate::store::read::{ColumnRow, RunRow};

/// Merges the shards, compares and stores the report; exits 0 whatever
/// the verdict (`ai-evals report` applies the gate).
pub async fn merge(args: MergeArgs) -> Result<Outcome> {
    check_inputs(&args.inputs, &args.output)?;
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let started = std::time::Instant::now();
    let store = Store::open_merging(&args.output, &args.inputs)?;
    let run_id = new_run_id(Utc::now());
    let merged = store
        .merge(args.inputs.clone(), run_id.clone(), args.allow_partial)
        .await?;
    log::note(&format!(
        "merged {} shards ({} cases) into run {run_id} in {:.0} ms",
        merged.shards,
        merged.cases,
        started.elapsed().as_secs_f64() * 1000.0
    ));
    let row = store
        .run_row(&run_id)
        .await?
        .ok_or_else(|| Error::runtime("the merged run vanished"))?;
    let metrics = merged_metrics(&store, &run_id, &row).await?;
    let status = if merged.missing.is_empty() {
        "finished"
    } else {
        "partial"
    };
    let mut report = merged_report(&args, config.as_ref(), &store, &row, &metrics).await?;
    report.status = status.to_string();
    if !merged.missing.is_empty() {
        report.gate_reasons.push(format!(
            "a partial run: shard {} never merged, so its cases were not checked",
            merged.missing.join(", ")
        ));
    }
    store
        .finish_merge(
            &run_id,
            metrics,
            redact(&report::render_json(&report)).into_owned(),
            status,
        )
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
        failure: None,
    })
}

/// Every input must exist and none may be the output itself.
fn check_inputs(inputs: &[PathBuf], output: &std::path::Path) -> Result<()> {
    let output = output
        .canonicalize()
        .unwrap_or_else(|_| output.to_path_buf());
    for input in inputs {
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
    Ok(())
}

/// The figures the merged cases give again (latencies, tokens, cost, pass
/// rate) and the cache hit rate of the summed counters.
async fn merged_metrics(store: &Store, run_id: &str, row: &RunRow) -> Result<Vec<Metric>> {
    let mut metrics = run_metrics(store, run_id, row.pass_rate, row.mean_score).await;
    let summed = store.metrics(run_id).await?;
    let count = |name: &str| summed.get(name).copied().unwrap_or(0.0) as u64;
    let cache = CacheStats {
        hits: count("cache_hits"),
        misses: count("cache_misses"),
        shared: count("cache_shared"),
        ..CacheStats::default()
    };
    if let Some(rate) = cache.hit_rate() {
        metrics.push(Metric {
            name: "cache_hit_rate".into(),
            value: rate,
            unit: Some("ratio".into()),
        });
    }
    Ok(metrics)
}

/// The merged run's report, compared with its baseline.
async fn merged_report(
    args: &MergeArgs,
    config: Option<&Config>,
    store: &Store,
    row: &RunRow,
    metrics: &[Metric],
) -> Result<report::Report> {
    let (min_pass_rate, compare, targets) = match config {
        Some(c) => (c.suite.min_pass_rate, c.compare.clone(), c.targets.clone()),
        None => (1.0, CompareConfig::default(), Targets::default()),
    };
    let gate = Gate::new(&compare, args.baseline.gate_flags());
    let mut report = stored_run_report(store, row, min_pass_rate, &targets, metrics).await?;
    report.db = args.output.display().to_string();
    report.set_gate(&gate);
    let request = baseline_request(&args.baseline);
    let current = store.find_run(&row.run_id).await?;
    let load = async || {
        let mut data = (*store.run_data(&current).await?).clone();
        data.metrics
            .extend(metrics.iter().map(|m| (m.name.clone(), m.value)));
        Ok(std::sync::Arc::new(data))
    };
    let config_path = config.map(Config::stored_path);
    let this = baseline::Current {
        suite: &current.suite,
        config_path: config_path.as_deref(),
        run_id: &row.run_id,
    };
    match baseline::compare(store, this, load, &request, &compare).await? {
        baseline::Outcome::Compared(c) => add_comparison(&mut report, store, *c, &gate).await,
        baseline::Outcome::NoBaseline(search) => {
            no_baseline(&mut report, &search, request.branch(&compare), &gate);
        }
    }
    Ok(report)
}

/// The matrix's columns, when the run has more than one.
fn matrix(columns: Vec<ColumnRow>) -> Vec<report::MatrixColumn> {
    if columns.len() < 2 {
        return Vec::new();
    }
    columns
        .into_iter()
        .map(|c| report::MatrixColumn {
            pass_rate: c.passed as f64 / c.cases.max(1) as f64,
            prompt: c.prompt,
            provider: c.provider,
            cases: c.cases,
            passed: c.passed,
            mean_latency_ms: c.mean_latency_ms,
            cost_usd: c.cost_usd,
        })
        .collect()
}

/// A report of a run read back from the store (its counts, failures,
/// timings, summed metrics, bottlenecks and targets) with the `computed`
/// metrics that are not stored yet.
async fn stored_run_report(
    store: &Store,
    row: &RunRow,
    min_pass_rate: f64,
    targets: &Targets,
    computed: &[Metric],
) -> Result<report::Report> {
    let run_id = &row.run_id;
    let timings = store.timings(run_id).await?;
    let mut metrics = store.metrics(run_id).await?;
    metrics.extend(computed.iter().map(|m| (m.name.clone(), m.value)));
    let total = row.cases_total.unwrap_or(0).max(0) as u64;
    let passed = row.cases_passed.unwrap_or(0).max(0) as u64;
    let by_type = store.type_counts(run_id).await?;
    let failures = store.first_failures(run_id, 10).await?;
    let throttle = report::throttle::from_metrics(&metrics);
    Ok(report::Report {
        suite: row.suite.clone(),
        run_id: run_id.clone(),
        db: String::new(),
        status: row.status.clone(),
        cases_total: total,
        cases_passed: passed,
        cases_failed: total - passed,
        cases_errored: row.cases_errored.unwrap_or(0).max(0) as u64,
        pass_rate: row.pass_rate,
        mean_score: row.mean_score,
        min_pass_rate,
        rows_skipped: 0,
        row_errors: Vec::new(),
        skipped_at: Vec::new(),
        cut_short: Vec::new(),
        matrix: matrix(store.columns(run_id).await?),
        named_metrics: Vec::new(),
        by_type: by_type
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
        bottlenecks: performance::identify_bottlenecks(
            &timings,
            &metrics,
            targets.bottleneck_ms,
            targets.bottleneck_percent,
        ),
        targets: performance::check_targets(&timings, &metrics, targets),
        timings,
        cache: None,
        throttled_ms: throttle.total_ms(),
        throttle,
        comparison: None,
        no_comparison: None,
        fail_on: String::new(),
        fail_on_certain: String::new(),
        gate_reasons: Vec::new(),
        metrics,
        flipped: Vec::new(),
        links: report::Links::from_env(None),
    })
}
