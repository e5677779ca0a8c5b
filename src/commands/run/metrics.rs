//! The run's metrics: its throughput, its headline figures (computed in
//! the database), and the counters of the executor, the caches and the
//! scoring pool. They are stored with the run and feed the history's noise
//! model.

use super::pipeline::Executed;
use super::setup::Setup;
use crate::log;
use crate::record::{CacheStats, Metric};
use crate::report::monitor::{Monitor, millis};
use crate::report::performance;
use crate::score::PoolStats;
use crate::store::Store;

/// A metric with a unit.
fn metric(name: &str, value: f64, unit: Option<&str>) -> Metric {
    Metric {
        name: name.into(),
        value,
        unit: unit.map(str::to_string),
    }
}

/// Every metric of a finished pipeline; the caches are pruned on the way.
pub(super) async fn collect(
    setup: &Setup,
    executed: &Executed,
    store: &Store,
    run_id: &str,
    monitor: &Monitor,
) -> Vec<Metric> {
    let summary = &executed.summary;
    let elapsed = monitor.elapsed().as_secs_f64().max(1e-9);
    let mut metrics = vec![metric(
        "cases_per_second",
        summary.cases_total() as f64 / elapsed,
        Some("1/s"),
    )];
    metrics.extend(run_metrics(store, run_id, summary.pass_rate(), summary.mean_score()).await);
    metrics.extend(setup.executor.metrics());
    metrics.extend(pool_metrics(&setup.pool.stats()));
    metrics.push(metric(
        "judge_errors",
        setup.grader.judge_errors() as f64,
        None,
    ));
    metrics.extend(cache_metrics_and_prune(setup));
    if let Some(mb) = performance::peak_rss_mb() {
        metrics.push(metric("peak_rss_mb", mb, Some("MB")));
    }
    metrics
}

/// The caches' counters; each cache is pruned to its limits afterwards.
fn cache_metrics_and_prune(setup: &Setup) -> Vec<Metric> {
    let mut metrics = Vec::new();
    if let Some(embeddings) = setup.executor.embedding_cache() {
        let (hits, misses, corrupt) = embeddings.counts();
        for (name, value) in [
            ("embedding_cache_hits", hits),
            ("embedding_cache_misses", misses),
            ("embedding_cache_corrupt_entries", corrupt),
        ] {
            metrics.push(metric(name, value as f64, None));
        }
        if let Err(e) = embeddings.finish() {
            log::warn(&format!("could not prune the embedding cache: {e}"));
        }
    }
    if let Some(cache) = setup.executor.cache() {
        metrics.extend(cache_metrics(&cache.stats()));
        if let Err(e) = cache.finish() {
            log::warn(&format!(
                "could not prune the response cache in {}: {e}",
                cache.settings().dir.display()
            ));
        }
    }
    metrics
}

/// The run's headline figures as metrics, for the history's noise model:
/// latency percentiles, tokens and cost (computed in the database), pass
/// rate and mean score.
pub(crate) async fn run_metrics(
    store: &Store,
    run_id: &str,
    pass_rate: Option<f64>,
    mean_score: Option<f64>,
) -> Vec<Metric> {
    let mut metrics = Vec::new();
    match store.run_figures(run_id).await {
        Ok(figures) => metrics.extend(figures.into_iter().map(|(name, value)| {
            Metric {
                unit: Some(
                    if name.ends_with("_ms") {
                        "ms"
                    } else if name.ends_with("_usd") || name == "cost_usd" {
                        "USD"
                    } else {
                        "tokens"
                    }
                    .into(),
                ),
                name,
                value,
            }
        })),
        Err(e) => log::warn(&format!(
            "could not compute the run's figures: {}",
            e.message()
        )),
    }
    for (name, value) in [("pass_rate", pass_rate), ("mean_score", mean_score)] {
        if let Some(value) = value {
            metrics.push(Metric {
                name: name.into(),
                value,
                unit: Some("ratio".into()),
            });
        }
    }
    metrics
}

/// The scoring pool's work as run metrics.
fn pool_metrics(stats: &PoolStats) -> Vec<Metric> {
    vec![
        metric("pool_size", stats.size as f64, None),
        metric("pool_tasks", stats.tasks as f64, None),
        metric("pool_busy_ms", millis(stats.busy), Some("ms")),
        metric("pool_utilization", stats.utilization, Some("ratio")),
        metric("pool_max_active", stats.max_active as f64, None),
    ]
}

/// The cache's counters as run metrics.
fn cache_metrics(stats: &CacheStats) -> Vec<Metric> {
    let mut metrics = vec![
        metric("cache_hits", stats.hits as f64, None),
        metric("cache_misses", stats.misses as f64, None),
        metric("cache_shared", stats.shared as f64, None),
        metric("requests_saved", stats.requests_saved() as f64, None),
        metric("tokens_saved", stats.tokens_saved as f64, None),
        metric("cost_saved_usd", stats.cost_saved_usd, Some("USD")),
        metric("cache_corrupt_entries", stats.corrupt as f64, None),
        metric("cache_write_errors", stats.write_errors as f64, None),
    ];
    if let Some(rate) = stats.hit_rate() {
        metrics.push(metric("cache_hit_rate", rate, Some("ratio")));
    }
    metrics
}
