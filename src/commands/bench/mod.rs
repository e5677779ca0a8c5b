//! `ai-evals bench`: named benchmarks of the pipeline's own components,
//! each run for a number of iterations after a warm-up, summarised, stored
//! in DuckDB and compared with the previous stored run of the same
//! benchmark (Welch's t-test on log times).

mod suite;

use std::path::Path;
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;

use crate::cli::{BenchArgs, OutputFormat};
use crate::commands::run::{Outcome, new_run_id};
use crate::compare::stats;
use crate::error::{Error, Result};
use crate::log;
use crate::publish::context::GitContext;
use crate::store::{RunInfo, Store};

use suite::{Benchmark, all};

/// Runs the chosen benchmarks, stores them and compares each with its
/// previous stored run.
pub async fn bench(args: BenchArgs) -> Result<Outcome> {
    let chosen = select(args.filter.as_deref())?;
    let store = if args.no_store && !args.db.exists() {
        None
    } else {
        Some(Store::open(&args.db)?)
    };
    let started = Utc::now();
    let bench_id = new_run_id(started);
    let mut results = Vec::new();
    for benchmark in &chosen {
        log::note(&format!(
            "bench {}: {} ({} iterations after {} warm-up)",
            benchmark.name, benchmark.what, args.iterations, args.warmup
        ));
        // Off the async runtime: a benchmark may run one of its own.
        let mut measured = std::thread::scope(|scope| {
            scope
                .spawn(|| measure(benchmark, args.iterations as usize, args.warmup as usize))
                .join()
        })
        .map_err(|_| Error::runtime(format!("benchmark {} panicked", benchmark.name)))??;
        if let Some(store) = &store
            && let Some((id, previous)) = store.previous_bench(benchmark.name, &bench_id).await?
        {
            measured.change = change(&previous, &measured.samples, &id);
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
                    config_path: None,
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
            let mut text = render(&results);
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
        failure: None,
    })
}

/// One benchmark's iterations, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub name: String,
    pub what: String,
    pub ops: u64,
    /// Each iteration's time, ms.
    #[serde(skip)]
    pub samples: Vec<f64>,
    pub mean_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub std_dev_ms: f64,
    /// Against the previous stored run of this benchmark, if any.
    pub change: Option<Change>,
}

/// A before/after verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub against: String,
    /// after / before, geometric means, with its 95 % interval.
    pub ratio: stats::Interval,
    pub p_value: f64,
    pub verdict: &'static str,
}

/// Changes smaller than this are "no change" even when significant: a
/// benchmark's own run-to-run drift on a shared runner.
const SMALLEST_CHANGE: f64 = 0.02;

/// Compares two sets of iterations: Welch's t-test on their logarithms.
pub fn change(before: &[f64], after: &[f64], against: &str) -> Option<Change> {
    let comparison = stats::compare_geometric_means(before, after, 0.95)?;
    let ratio = comparison.ratio;
    let verdict = if comparison.p_value < 0.05 && ratio.low > 1.0 + SMALLEST_CHANGE {
        "slower"
    } else if comparison.p_value < 0.05 && ratio.high < 1.0 - SMALLEST_CHANGE {
        "faster"
    } else {
        "no change"
    };
    Some(Change {
        against: against.to_string(),
        ratio,
        p_value: comparison.p_value,
        verdict,
    })
}

/// Runs one benchmark: `warmup` untimed iterations, then `iterations`
/// timed ones.
pub fn measure(benchmark: &Benchmark, iterations: usize, warmup: usize) -> Result<Measured> {
    let mut work = (benchmark.setup)(benchmark.ops)?;
    for _ in 0..warmup {
        work();
    }
    let samples: Vec<f64> = (0..iterations.max(1))
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let summary = stats::Summary::from_values(&samples)
        .ok_or_else(|| Error::runtime(format!("benchmark {} measured nothing", benchmark.name)))?;
    Ok(Measured {
        name: benchmark.name.into(),
        what: benchmark.what.into(),
        ops: benchmark.ops,
        mean_ms: summary.mean,
        min_ms: summary.min,
        max_ms: summary.max,
        p50_ms: summary.p50,
        p95_ms: summary.p95,
        p99_ms: summary.p99,
        std_dev_ms: summary.std_dev,
        samples,
        change: None,
    })
}

/// The benchmarks whose name contains `filter` (all without one); an
/// input error when none does.
pub fn select(filter: Option<&str>) -> Result<Vec<Benchmark>> {
    let chosen: Vec<Benchmark> = all()
        .into_iter()
        .filter(|b| filter.is_none_or(|f| b.name.contains(f)))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = all().iter().map(|b| b.name).collect();
        return Err(Error::input(format!(
            "no benchmark matches '{}'; the benchmarks are {}",
            filter.unwrap_or_default(),
            names.join(", ")
        )));
    }
    Ok(chosen)
}

/// The results as a table.
pub fn render(results: &[Measured]) -> String {
    let mut out = format!(
        "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}  {}\n",
        "benchmark", "mean", "min", "p50", "p95", "p99", "max", "std dev", "per op", "vs previous"
    );
    for m in results {
        let change = m.change.as_ref().map_or_else(
            || "(no previous run)".to_string(),
            |c| {
                format!(
                    "{} ({:+.1}%, 95% CI {:+.1}% to {:+.1}%, p={:.3})",
                    c.verdict,
                    100.0 * (c.ratio.estimate - 1.0),
                    100.0 * (c.ratio.low - 1.0),
                    100.0 * (c.ratio.high - 1.0),
                    c.p_value
                )
            },
        );
        out.push_str(&format!(
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}  {}\n",
            m.name,
            ms(m.mean_ms),
            ms(m.min_ms),
            ms(m.p50_ms),
            ms(m.p95_ms),
            ms(m.p99_ms),
            ms(m.max_ms),
            ms(m.std_dev_ms),
            per_op(m.mean_ms / m.ops as f64),
            change
        ));
    }
    out
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.3} ms")
    }
}

fn per_op(ms: f64) -> String {
    if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else if ms >= 0.001 {
        format!("{:.2} µs", ms * 1000.0)
    } else {
        format!("{:.0} ns", ms * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_benchmark_runs_and_is_summarised() {
        for benchmark in all() {
            let m = measure(&benchmark, 3, 1).unwrap();
            assert_eq!(m.samples.len(), 3, "{}", m.name);
            assert!(m.min_ms <= m.p50_ms && m.p50_ms <= m.max_ms, "{m:?}");
            assert!(m.min_ms > 0.0, "{m:?}");
        }
    }

    #[test]
    fn before_and_after_verdicts() {
        let before: Vec<f64> = (0..30).map(|i| 10.0 + (i % 5) as f64 * 0.1).collect();
        let slower: Vec<f64> = before.iter().map(|x| x * 1.5).collect();
        let same: Vec<f64> = before.iter().rev().copied().collect();
        assert_eq!(change(&before, &slower, "x").unwrap().verdict, "slower");
        assert_eq!(change(&slower, &before, "x").unwrap().verdict, "faster");
        assert_eq!(change(&before, &same, "x").unwrap().verdict, "no change");
    }

    #[test]
    fn an_unknown_filter_names_the_benchmarks() {
        let Err(e) = select(Some("nope")) else {
            panic!("no error");
        };
        assert!(e.message().contains("scoring/regex"), "{}", e.message());
        assert_eq!(select(Some("scoring/")).unwrap().len(), 6);
    }
}
