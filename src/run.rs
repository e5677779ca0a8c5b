//! The `run` command: config → cases → provider → scores → DuckDB → report,
//! wired as a streaming pipeline.
//!
//! Three stages run at once, joined by bounded channels so that memory stays
//! flat however large the suite: a blocking reader thread turns dataset rows
//! into batches of cases; the executor runs cases concurrently and scores
//! them; a storer task writes each finished batch in one transaction. A
//! killed run therefore keeps every batch already stored.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::baseline;
use crate::cache::{self, EmbeddingCache, ResponseCache};
use crate::cases::{Builder, Case, Origin, Rejection};
use crate::config::{Config, ProviderSpec};
use crate::context::GitContext;
use crate::dataset::{self, Location, Row};
use crate::error::{Error, Result};
use crate::executor::{Answer, Executor, Failure, Lane, Limits, Overrides};
use crate::grading::Grader;
use crate::log;
use crate::monitor::{Component, Monitor, millis};
use crate::performance;
use crate::pool::{Pool, PoolStats};
use crate::pricing::Prices;
use crate::progress::Progress;
use crate::prompt::Prompts;
use crate::provider::{Provider, Request, Setup};
use crate::publish;
use crate::record::CaseRecord;
use crate::report::{self, Summary};
use crate::scoring::{self, AssertionResult, Context};
use crate::store::read::RunRef;
use crate::store::{Access, Metric, RunInfo, RunStatus, RunTotals, Store};
use crate::verdict::FailOn;

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The options of `ai-evals run`.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub db: PathBuf,
    pub format: OutputFormat,
    pub strict: bool,
    pub batch_size: Option<usize>,
    /// Overrides of every remote provider's limits (and of the suite's concurrency).
    pub overrides: Overrides,
    /// No progress display.
    pub quiet: bool,
    /// The response cache's folder (overrides `[cache] dir`).
    pub cache_dir: Option<PathBuf>,
    /// How the cache may be used (overrides `[cache] mode`).
    pub cache_mode: Option<cache::Mode>,
    /// Runs of each case (overrides `suite.repeat`).
    pub repeat: Option<u32>,
    /// How to find the baseline to compare with.
    pub baseline: baseline::Request,
    /// The regression severity that fails the gate (overrides `[compare] fail-on`).
    pub fail_on: Option<FailOn>,
    /// Where the report goes besides stdout.
    pub publish: publish::Options,
    /// Templates that replace the embedded ones.
    pub templates: Option<PathBuf>,
    /// Run only this shard of the cases.
    pub shard: Option<crate::shard::Shard>,
}

/// The cache folder when neither the command line nor the config names one.
pub const DEFAULT_CACHE_DIR: &str = ".ai-evals-cache";

/// The cache settings: command line, then `[cache]`, then the defaults.
pub fn cache_settings(
    config: &Config,
    cache_dir: Option<PathBuf>,
    mode: Option<cache::Mode>,
) -> cache::Settings {
    let c = &config.cache;
    let dir = cache_dir
        .or_else(|| c.dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR));
    let defaults = cache::Settings::new(dir);
    cache::Settings {
        mode: mode.or(c.mode).unwrap_or(defaults.mode),
        ttl: c.ttl.unwrap_or(defaults.ttl),
        max_bytes: c.max_bytes.unwrap_or(defaults.max_bytes),
        keep_truncated: c.keep_truncated,
        embeddings_ttl: c.embeddings_ttl.unwrap_or(defaults.embeddings_ttl),
        embeddings_max_bytes: c
            .embeddings_max_bytes
            .unwrap_or(defaults.embeddings_max_bytes),
        ..defaults
    }
}

/// What a finished run hands back to `main`.
#[derive(Debug)]
pub struct Outcome {
    /// 0 when the gate passed, 1 when it failed.
    pub exit_code: i32,
    pub report: String,
}

/// At most this many skipped rows are printed as warnings; all are counted.
const WARNED_ROWS: u64 = 20;

pub async fn run(options: &Options) -> Result<Outcome> {
    let monitor = Arc::new(Monitor::new());
    let mut config = Config::load(&options.config)?;
    if let Some(n) = options.batch_size {
        config.suite.batch_size = n.max(1);
    }
    if let Some(n) = options.overrides.concurrency {
        config.suite.concurrency = n.max(1);
    }
    if let Some(n) = options.repeat {
        config.suite.repeat = n.max(1);
    }
    let config = Arc::new(config);
    let prompts = Arc::new(Prompts::new(&config.prompts, &config.path)?);
    let settings = cache_settings(&config, options.cache_dir.clone(), options.cache_mode);
    let embeddings = (settings.mode != cache::Mode::Off).then(|| EmbeddingCache::new(&settings));
    let cache = (settings.mode != cache::Mode::Off).then(|| ResponseCache::new(settings));
    let executor = Arc::new(executor(&config, options.overrides, cache, embeddings)?);
    let lane_names: Vec<String> = executor.lanes().iter().map(|l| l.name.clone()).collect();
    let grader = Grader::new(&config, &lane_names)?;
    let pool = Pool::new(Pool::default_size());
    let providers: Arc<Vec<(String, bool)>> = Arc::new(
        executor
            .lanes()
            .iter()
            .map(|l| (l.name.clone(), l.provider.needs_prompt()))
            .collect(),
    );
    // Check the defaults against the providers before the database is touched.
    Builder::new(&config, &prompts, &providers)?;

    let renderer = report::Renderer::new(options.templates.as_deref())?;
    check_baseline_request(&options.baseline, &options.db).await?;
    let store = Arc::new(Store::open(&options.db)?);
    let git = GitContext::detect(&config.dir);
    let current_ref = RunRef {
        run_id: String::new(),
        suite: config.suite.name.clone(),
        git_sha: git.sha.clone(),
        branch: git.branch.clone(),
    };
    let started_at = Utc::now();
    let run_id = new_run_id(started_at);
    store
        .begin_run(RunInfo {
            run_id: run_id.clone(),
            suite: config.suite.name.clone(),
            config_hash: config.hash.clone(),
            git_sha: git.sha,
            branch: git.branch,
            pr_number: git.pr_number,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: started_at.naive_utc(),
            shard: options.shard.map(|s| s.to_string()),
        })
        .await?;
    log::debug(&format!("run {run_id} started"));

    let (case_tx, mut case_rx) = mpsc::channel::<Vec<Case>>(2);
    let reader = {
        let (config, prompts, providers) = (config.clone(), prompts.clone(), providers.clone());
        let strict = options.strict;
        tokio::task::spawn_blocking(move || {
            let mut feeder = Feeder::new(&config, &prompts, &providers, strict, case_tx)?;
            let result = feeder.read_all();
            let (busy, skipped) = feeder.finish();
            result.map(|()| (busy, skipped))
        })
    };

    let progress = Arc::new(Progress::new(options.quiet));
    {
        let (config, progress) = (config.clone(), progress.clone());
        let shards = options.shard.map_or(1, |s| u64::from(s.count));
        tokio::task::spawn_blocking(move || progress.set_total(count_cases(&config) / shards));
    }

    // Room for batches to queue while a write runs: the storer writes what
    // queued in one transaction.
    let (record_tx, record_rx) = mpsc::channel::<Vec<CaseRecord>>(64);
    let storer = tokio::spawn(store_batches(
        store.clone(),
        run_id.clone(),
        record_rx,
        monitor.clone(),
    ));

    let mut summary = Summary::default();
    let execution = async {
        let started = Instant::now();
        let repeat = config.suite.repeat;
        let shard = options.shard;
        let cases = futures::stream::poll_fn(|cx| case_rx.poll_recv(cx))
            .flat_map(futures::stream::iter)
            .filter(move |case| std::future::ready(shard.is_none_or(|s| s.includes(&case.id))))
            .flat_map(|case| {
                let case = Arc::new(case);
                futures::stream::iter((0..repeat).map(move |r| (Arc::clone(&case), r)))
            });
        // Deterministic scoring runs on the worker pool a batch at a time,
        // overlapping with the next batch's requests.
        let mut records = cases
            .map(|(case, r)| run_case(case, r, &executor, &grader, &monitor))
            .buffer_unordered(executor.width())
            .chunks(config.suite.batch_size)
            .map(|batch| {
                let monitor = monitor.clone();
                pool.run(move || score_batch(batch, &monitor))
            })
            .buffered(2);
        while let Some(batch) = records.next().await {
            for record in &batch {
                summary.add(record);
            }
            progress.advance(batch.len() as u64, executor.throttled());
            if record_tx.send(batch).await.is_err() {
                break;
            }
        }
        monitor.add(Component::Execution, started.elapsed(), 0);
    };
    let interrupted = tokio::select! {
        () = execution => false,
        () = shutdown_signal() => true,
    };
    drop(record_tx);
    drop(case_rx);
    progress.finish();

    let stored = storer
        .await
        .map_err(|e| Error::runtime(format!("the storer task failed: {e}")))?;
    let read = reader
        .await
        .map_err(|e| Error::runtime(format!("the dataset reader failed: {e}")))?;
    let (status, failure) = match (&read, &stored) {
        (Err(e), _) if !interrupted && !is_stop(e) => (RunStatus::Failed, Some(e)),
        (_, Err(e)) => (RunStatus::Failed, Some(e)),
        _ if interrupted => (RunStatus::Interrupted, None),
        _ => (RunStatus::Finished, None),
    };
    if let Ok((busy, skipped)) = &read {
        monitor.add(Component::DatasetLoading, *busy, 0);
        summary.add_skipped(skipped.count, &skipped.messages);
    }

    let mut metrics = vec![Metric {
        name: "cases_per_second".into(),
        value: summary.cases_total() as f64 / monitor.elapsed().as_secs_f64().max(1e-9),
        unit: Some("1/s".into()),
    }];
    metrics.extend(run_metrics(&store, &run_id, summary.pass_rate(), summary.mean_score()).await);
    metrics.extend(executor.metrics());
    metrics.extend(pool_metrics(&pool.stats()));
    metrics.push(Metric {
        name: "judge_errors".into(),
        value: grader.judge_errors() as f64,
        unit: None,
    });
    if let Some(embeddings) = executor.embedding_cache() {
        let (hits, misses, corrupt) = embeddings.counts();
        for (name, value) in [
            ("embedding_cache_hits", hits),
            ("embedding_cache_misses", misses),
            ("embedding_cache_corrupt_entries", corrupt),
        ] {
            metrics.push(Metric {
                name: name.into(),
                value: value as f64,
                unit: None,
            });
        }
        if let Err(e) = embeddings.finish() {
            log::warn(&format!("could not prune the embedding cache: {e}"));
        }
    }
    if let Some(cache) = executor.cache() {
        metrics.extend(cache_metrics(&cache.stats()));
        if let Err(e) = cache.finish() {
            log::warn(&format!(
                "could not prune the response cache in {}: {e}",
                cache.settings().dir.display()
            ));
        }
    }
    if let Some(mb) = performance::peak_rss_mb() {
        metrics.push(Metric {
            name: "peak_rss_mb".into(),
            value: mb,
            unit: Some("MB".into()),
        });
    }
    let metric_values: BTreeMap<String, f64> =
        metrics.iter().map(|m| (m.name.clone(), m.value)).collect();

    let report_started = Instant::now();
    // The report cannot time its own rendering; the database gets that figure.
    let mut shown_timings = monitor.timings();
    shown_timings.retain(|t| t.component != Component::Report.name());
    let fail_on = options.fail_on.unwrap_or(config.compare.fail_on);
    let compared = if status == RunStatus::Finished {
        let current = RunRef {
            run_id: run_id.clone(),
            ..current_ref
        };
        compare_with_baseline(
            &store,
            &current,
            &shown_timings,
            &metric_values,
            options,
            &config,
        )
        .await
    } else {
        Ok(None)
    };
    let mut report_model = summary.report(
        &config.suite.name,
        &run_id,
        &options.db.display().to_string(),
        status.as_str(),
        config.suite.min_pass_rate,
        shown_timings,
    );
    report_model.cache = executor.cache().map(ResponseCache::stats);
    report_model.throttled_ms = millis(executor.throttled());
    report_model.bottlenecks = performance::identify_bottlenecks(
        &report_model.timings,
        &metric_values,
        config.targets.bottleneck_ms,
        config.targets.bottleneck_percent,
    );
    report_model.targets =
        performance::check_targets(&report_model.timings, &metric_values, &config.targets);
    report_model.fail_on = fail_on.as_str().to_string();
    report_model.metrics = metric_values.clone();
    report_model.links = report::Links::from_env(None);
    match &compared {
        Ok(Some(c)) => {
            baseline::into_report(&mut report_model, &store, c.clone(), fail_on).await;
        }
        Ok(None) if status == RunStatus::Finished => {
            report_model.no_comparison = Some(format!(
                "no earlier finished run of suite {} on {} to compare with; the first one becomes the baseline",
                config.suite.name,
                options.baseline.branch(&config.compare)
            ));
        }
        Ok(None) => {}
        Err(e) => report_model.no_comparison = Some(e.message().to_string()),
    }
    let mut rendered = match options.format {
        OutputFormat::Text => renderer.text(&report_model)?,
        OutputFormat::Json => report::render_json(&report_model),
    };
    monitor.add(Component::Report, report_started.elapsed(), 1);

    let totals = RunTotals {
        status,
        error: failure.map(|e| e.message().to_string()),
        finished_at: Utc::now().naive_utc(),
        cases_total: summary.cases_total(),
        cases_passed: summary.cases_passed(),
        cases_errored: summary.cases_errored(),
        rows_skipped: summary.rows_skipped(),
        pass_rate: summary.pass_rate(),
        mean_score: summary.mean_score(),
    };
    if let Err(e) = store
        .save_report(&run_id, report::render_json(&report_model))
        .await
    {
        log::warn(&format!(
            "cannot keep the report for `ai-evals report`: {}",
            e.message()
        ));
    }
    let finish = store
        .finish_run(run_id.clone(), totals, monitor.timings(), metrics)
        .await;
    // JUnit XML lists every case, so they are read back only when asked for.
    let cases = match &options.publish.report_dir {
        Some(_) if status == RunStatus::Finished => {
            store.all_cases(&run_id).await.unwrap_or_else(|e| {
                log::warn(&format!(
                    "cannot read the cases back for JUnit: {}",
                    e.message()
                ));
                Vec::new()
            })
        }
        _ => Vec::new(),
    };
    match Arc::try_unwrap(store) {
        Ok(store) => store.close(),
        Err(_) => log::warn("the database is still in use; it will be closed at exit"),
    }

    if let Some(e) = read.err().filter(|e| !interrupted && !is_stop(e)) {
        return Err(e);
    }
    stored?;
    finish?;
    if interrupted {
        println!("{rendered}");
        return Err(Error::runtime(format!(
            "interrupted; the {} cases finished so far are stored in {} (run {run_id})",
            summary.cases_total(),
            options.db.display()
        )));
    }
    if let Err(e) = compared {
        log::warn(&format!(
            "the comparison with the baseline failed: {}",
            e.message()
        ));
    }
    for reason in &report_model.gate_reasons {
        log::error(&format!("regression gate: {reason}"));
    }
    let delivered = publish::publish(
        &report_model,
        &cases,
        &renderer,
        &options.publish,
        &publish::Environment::from_env(),
    )
    .await;
    if let (Some(comment), OutputFormat::Text) = (delivered, options.format) {
        rendered.push_str("\n\nThe pull-request comment (not posted: --no-comment):\n\n");
        rendered.push_str(&comment);
    }
    let exit_code = if summary.gate_passed(config.suite.min_pass_rate)
        && report_model.gate_reasons.is_empty()
    {
        0
    } else {
        1
    };
    Ok(Outcome {
        exit_code,
        report: rendered,
    })
}

/// Fails early, before anything runs, on a baseline that cannot be read:
/// a `--baseline-db` that is missing or not a history, a `--baseline-run`
/// that is not there.
async fn check_baseline_request(request: &baseline::Request, db: &std::path::Path) -> Result<()> {
    let Some(id) = &request.run else {
        if let Some(path) = &request.db {
            Store::open_with(path, Access::ReadOnly)?.close();
        }
        return Ok(());
    };
    let path = request.db.as_deref().unwrap_or(db);
    if !path.is_file() {
        return Err(Error::input(format!(
            "--baseline-run {id}: {} does not exist yet",
            path.display()
        )));
    }
    let source = Store::open_with(path, Access::ReadOnly)?;
    source.find_run(id).await?;
    source.close();
    Ok(())
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

/// Compares the finished run with its baseline. The run's own timings and
/// metrics are not stored yet, so they come from memory.
async fn compare_with_baseline(
    store: &Store,
    current: &RunRef,
    timings: &[crate::store::Timing],
    metrics: &BTreeMap<String, f64>,
    options: &Options,
    config: &Config,
) -> Result<Option<baseline::Compared>> {
    let load = async || {
        let mut now = (*store.run_data(current).await?).clone();
        now.timings = timings
            .iter()
            .map(|t| (t.component.clone(), t.duration_ms))
            .collect();
        now.metrics = metrics.clone();
        Ok(Arc::new(now))
    };
    baseline::compare(
        store,
        &current.suite,
        &current.run_id,
        load,
        &options.baseline,
        &config.compare,
    )
    .await
}

/// The scoring pool's work as run metrics.
fn pool_metrics(stats: &PoolStats) -> Vec<Metric> {
    let metric = |name: &str, value: f64, unit: Option<&str>| Metric {
        name: name.into(),
        value,
        unit: unit.map(str::to_string),
    };
    vec![
        metric("pool_size", stats.size as f64, None),
        metric("pool_tasks", stats.tasks as f64, None),
        metric("pool_busy_ms", millis(stats.busy), Some("ms")),
        metric("pool_utilization", stats.utilization, Some("ratio")),
        metric("pool_max_active", stats.max_active as f64, None),
    ]
}

/// The cache's counters as run metrics.
fn cache_metrics(stats: &cache::Stats) -> Vec<Metric> {
    let metric = |name: &str, value: f64, unit: Option<&str>| Metric {
        name: name.into(),
        value,
        unit: unit.map(str::to_string),
    };
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

/// The run's lanes, one per provider in config order, with their limits.
fn executor(
    config: &Config,
    overrides: Overrides,
    cache: Option<ResponseCache>,
    embeddings: Option<EmbeddingCache>,
) -> Result<Executor> {
    let prices = Prices::new(&config.prices);
    let client = crate::provider::http::client()?;
    let env = |var: &str| std::env::var(var).ok();
    let setup = Setup {
        prices: &prices,
        client: &client,
        env: &env,
    };
    let mut lanes = Vec::with_capacity(config.providers.len());
    for (name, spec) in &config.providers {
        let provider = Provider::from_spec(name, spec, &setup)
            .map_err(|e| e.context(config.path.display()))?;
        let limits = match spec {
            ProviderSpec::Openai(http)
            | ProviderSpec::Anthropic(http)
            | ProviderSpec::OpenaiCompatible(http)
            | ProviderSpec::AzureOpenai(http) => {
                Limits::for_http(name, http, config.suite.concurrency, overrides)
                    .map_err(|e| e.context(config.path.display()))?
            }
            ProviderSpec::Echo {} | ProviderSpec::Replay { .. } => {
                Limits::offline(config.suite.concurrency)
            }
        };
        lanes.push(Lane::new(name.clone(), provider, limits));
    }
    Ok(Executor::new(lanes, cache, embeddings))
}

/// The number of cases the suite will have, as far as it can be counted
/// cheaply (a JSON array counts as unknown, so the total is a lower bound).
fn count_cases(config: &Config) -> u64 {
    let rows: u64 = config
        .datasets
        .iter()
        .flat_map(|d| d.files.iter())
        .filter_map(|(file, format)| dataset::count_rows(file, *format))
        .sum();
    config.tests.len() as u64 + rows
}

/// What getting a case's output produced.
#[derive(Default)]
struct Obtained {
    output: Option<String>,
    latency_ms: Option<f64>,
    original_latency_ms: Option<f64>,
    usage: Option<crate::record::Usage>,
    cost_usd: Option<f64>,
    finish_reason: Option<String>,
    attempts: u32,
    cached: bool,
    error: Option<String>,
}

/// Runs one repeat of a case on its provider (unless the case carries its
/// output) and grades its model-graded assertions.
async fn run_case(
    case: Arc<Case>,
    repeat: u32,
    executor: &Executor,
    grader: &Grader,
    monitor: &Monitor,
) -> Pending {
    let lane = executor.lane(case.provider);
    let obtained = match &case.output {
        Some(output) => Obtained {
            output: Some(output.clone()),
            ..Obtained::default()
        },
        None => {
            let request = Request {
                case_id: &case.id,
                repeat,
                prompt: case.prompt.as_deref().unwrap_or_default(),
            };
            let started = Instant::now();
            match executor.call(case.provider, request).await {
                Ok(Answer {
                    response: r,
                    attempts,
                    cached,
                }) => {
                    let original = r.latency.map(millis);
                    Obtained {
                        output: Some(r.output),
                        // A cached answer took only the lookup this time.
                        latency_ms: if cached {
                            Some(millis(started.elapsed()))
                        } else {
                            original
                        },
                        original_latency_ms: original,
                        usage: r.usage,
                        cost_usd: r.cost_usd,
                        finish_reason: r.finish_reason,
                        attempts,
                        cached,
                        error: None,
                    }
                }
                Err(Failure { error, attempts }) => Obtained {
                    attempts,
                    error: Some(error.message),
                    ..Obtained::default()
                },
            }
        }
    };
    let Obtained {
        output,
        latency_ms,
        original_latency_ms,
        usage,
        cost_usd,
        finish_reason,
        attempts,
        cached,
        error,
    } = obtained;
    let graded = match (&output, &error) {
        (Some(output), None) if case.assertions.iter().any(|a| a.is_graded()) => {
            grader.grade(executor, &case, repeat, output, monitor).await
        }
        _ => Vec::new(),
    };
    let record = CaseRecord {
        case_id: case.id.clone(),
        repeat,
        ordinal: case.ordinal,
        source: case.source.clone(),
        description: case.description.clone(),
        provider: lane.name.clone(),
        model: lane.provider.model().to_string(),
        prompt: case.prompt.clone(),
        output,
        passed: false,
        score: 0.0,
        threshold: case.threshold,
        latency_ms,
        original_latency_ms,
        usage,
        cost_usd,
        cached,
        finish_reason,
        attempts,
        error,
        assertions: Vec::new(),
    };
    Pending {
        record,
        case,
        graded,
    }
}

/// A case with its output and its model-graded results, waiting for the
/// deterministic assertions to be scored.
struct Pending {
    record: CaseRecord,
    case: Arc<Case>,
    graded: Vec<(usize, AssertionResult)>,
}

/// Scores a batch on a pool worker: each deterministic assertion (timed by
/// type), the graded results, then each case's score and verdict.
fn score_batch(batch: Vec<Pending>, monitor: &Monitor) -> Vec<CaseRecord> {
    let mut timings: BTreeMap<&'static str, (Duration, u64)> = BTreeMap::new();
    let records = batch
        .into_iter()
        .map(|pending| {
            let Pending {
                mut record,
                case,
                graded,
            } = pending;
            let Some(output) = record.output.as_deref().filter(|_| record.error.is_none()) else {
                return record;
            };
            let ctx = Context {
                output,
                latency_ms: record.original_latency_ms,
                cost_usd: record.cost_usd,
            };
            // Graded assertions were timed while they were graded.
            let scored = scoring::score(
                &case.assertions,
                case.threshold,
                &ctx,
                &graded,
                |a, took| {
                    let entry = timings.entry(a.kind.name()).or_default();
                    entry.0 += took;
                    entry.1 += 1;
                },
            );
            record.passed = scored.passed;
            record.score = scored.score;
            record.assertions = scored.assertions;
            record
        })
        .collect::<Vec<_>>();
    for (name, (busy, calls)) in timings {
        monitor.add_scorer(name, busy, calls);
    }
    monitor.add(Component::Scoring, Duration::ZERO, records.len() as u64);
    records
}

/// Writes batches as they come; the first failure stops it.
/// The most rows the storer puts in one transaction.
const MAX_GROUP_ROWS: usize = 5_000;

async fn store_batches(
    store: Arc<Store>,
    run_id: String,
    mut batches: mpsc::Receiver<Vec<CaseRecord>>,
    monitor: Arc<Monitor>,
) -> Result<()> {
    let mut stored = 0usize;
    let mut count = 0u64;
    while let Some(mut group) = batches.recv().await {
        // A write costs a commit more than rows: the batches that queued
        // while the last one was written go together, in one transaction.
        let mut in_group = 1;
        while group.len() < MAX_GROUP_ROWS {
            match batches.try_recv() {
                Ok(batch) => {
                    group.extend(batch);
                    in_group += 1;
                }
                Err(_) => break,
            }
        }
        let n = group.len();
        let started = Instant::now();
        store.write_batch(run_id.clone(), group).await?;
        monitor.add(Component::Storing, started.elapsed(), 1);
        stored += n;
        count += in_group;
        log::debug(&format!("stored batch {count}: {stored} cases in all"));
    }
    Ok(())
}

/// Skipped rows: all counted, the first few kept for the report.
#[derive(Debug, Default)]
struct Skipped {
    count: u64,
    messages: Vec<String>,
}

/// The reader side: rows in, batches of cases out.
struct Feeder<'a> {
    config: &'a Config,
    builder: Builder<'a>,
    strict: bool,
    batch: Vec<Case>,
    out: mpsc::Sender<Vec<Case>>,
    skipped: Skipped,
    started: Instant,
    /// Time spent blocked on a full channel: waiting, not loading.
    waiting: Duration,
}

/// The message of the error a reader returns when the pipeline stopped
/// taking cases (interrupted, or the store failed).
const STOPPED: &str = "the pipeline stopped taking cases";

fn is_stop(e: &Error) -> bool {
    e.message() == STOPPED
}

impl<'a> Feeder<'a> {
    fn new(
        config: &'a Config,
        prompts: &'a Prompts,
        providers: &'a [(String, bool)],
        strict: bool,
        out: mpsc::Sender<Vec<Case>>,
    ) -> Result<Feeder<'a>> {
        Ok(Feeder {
            config,
            builder: Builder::new(config, prompts, providers)?,
            strict,
            batch: Vec::with_capacity(config.suite.batch_size),
            out,
            skipped: Skipped::default(),
            started: Instant::now(),
            waiting: Duration::ZERO,
        })
    }

    fn read_all(&mut self) -> Result<()> {
        let config = self.config;
        let config_file = Arc::new(config.path.clone());
        for (test, line) in &config.tests {
            let at = Location {
                file: config_file.clone(),
                line: *line,
            };
            self.push(Ok((at, test.clone())), Origin::Inline)?;
        }
        for (n, dataset) in config.datasets.iter().enumerate() {
            for (file, format) in &dataset.files {
                dataset::read(file, *format, &mut |row| self.push(row, Origin::Dataset(n)))?;
            }
        }
        self.send()
    }

    fn push(&mut self, row: Row, origin: Origin) -> Result<()> {
        let (at, test) = match row {
            Ok(row) => row,
            Err(bad) => return self.skip(bad.to_string()),
        };
        match self.builder.build(test, &at, origin) {
            Ok(case) => {
                self.batch.push(case);
                if self.batch.len() >= self.config.suite.batch_size {
                    self.send()?;
                }
                Ok(())
            }
            Err(Rejection::Row(message)) => self.skip(format!("{at}: {message}")),
            Err(Rejection::Fatal(e)) => Err(e),
        }
    }

    fn skip(&mut self, message: String) -> Result<()> {
        if self.strict {
            return Err(Error::input(format!(
                "{message} (--strict stops at the first bad row)"
            )));
        }
        self.skipped.count += 1;
        if self.skipped.count <= WARNED_ROWS {
            log::warn(&format!("{message}; row skipped"));
        } else if self.skipped.count == WARNED_ROWS + 1 {
            log::warn("more rows are skipped; the report counts them all");
        }
        if self.skipped.messages.len() < 10 {
            self.skipped.messages.push(message);
        }
        Ok(())
    }

    fn send(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(
            &mut self.batch,
            Vec::with_capacity(self.config.suite.batch_size),
        );
        let started = Instant::now();
        let sent = self.out.blocking_send(batch);
        self.waiting += started.elapsed();
        sent.map_err(|_| Error::runtime(STOPPED))
    }

    /// The time spent loading (not waiting), and the skipped rows.
    fn finish(self) -> (Duration, Skipped) {
        (
            self.started.elapsed().saturating_sub(self.waiting),
            self.skipped,
        )
    }
}

/// Resolves on Ctrl-C or SIGTERM (what CI sends when a job is cancelled).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A run id that sorts by time and is unique across machines and shards.
pub fn new_run_id(started: chrono::DateTime<Utc>) -> String {
    let seed = format!(
        "{:?}-{}-{:?}",
        started.timestamp_nanos_opt(),
        std::process::id(),
        Instant::now()
    );
    format!(
        "{}-{}",
        started.format("%Y%m%dT%H%M%SZ"),
        &blake3::hash(seed.as_bytes()).to_hex()[..6]
    )
}
