//! The streaming pipeline: dataset rows → cases → provider → scores →
//! DuckDB.
//!
//! Three stages run at once, joined by bounded channels so that memory stays
//! flat however large the suite: a blocking reader thread turns dataset rows
//! into batches of cases; the executor runs cases concurrently and scores
//! them; a storer task writes each finished batch in one transaction. A
//! killed run therefore keeps every batch already stored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;

use super::Options;
use super::setup::Setup;
use crate::assertion::{Assertion, AssertionResult, Context};
use crate::config::Config;
use crate::error::{Error, Kind, Result};
use crate::execute::cache::{Key, key};
use crate::execute::executor::Executor;
use crate::execute::provider::Request;
use crate::execute::{Answer, Failure, Lane};
use crate::ingest::{
    Builder, Case, Location, Origin, Prompts, Rejection, Row, count_rows, read_dataset,
};
use crate::interrupt;
use crate::log;
use crate::record::{AnswerSource, Answered, CaseRecord, CaseScore, short_hash};
use crate::report::Summary;
use crate::report::monitor::{Component, Monitor, millis};
use crate::report::progress::Progress;
use crate::score;
use crate::score::{Checked, Grader, Outputs, Pool, TransformFailed};
use crate::script::{Input, Scripts, Transformed};
use crate::secret;
use crate::store::{RunStatus, Store};

/// At most this many skipped rows are printed as warnings; all are counted.
const WARNED_ROWS: u64 = 20;

/// What the pipeline did: a summary of every scored case, whether it was
/// interrupted, and how the reader and the storer ended.
pub(super) struct Executed {
    pub(super) summary: Summary,
    pub(super) interrupted: bool,
    /// `Err` when a dataset could not be read; the reader stopping because
    /// the run stopped taking cases is not an error of its own.
    pub(super) read: Result<()>,
    /// `Err` when a batch could not be stored.
    pub(super) stored: Result<()>,
    /// `Err` when a provider's limits held requests back longer than the
    /// run waits (`[limits] max-wait`), which stopped it.
    pub(super) halted: Result<()>,
}

impl Executed {
    /// The run's status, and the error that failed it.
    pub(super) fn status(&self) -> (RunStatus, Option<&Error>) {
        match (&self.read, &self.stored, &self.halted) {
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => (RunStatus::Failed, Some(e)),
            _ if self.interrupted => (RunStatus::Interrupted, None),
            _ => (RunStatus::Finished, None),
        }
    }
}

/// Runs every case of the suite (this shard's) and stores each scored
/// batch under `run_id`; stops early on Ctrl-C or SIGTERM.
pub(super) async fn execute(
    setup: &Setup,
    options: &Options,
    store: &Arc<Store>,
    run_id: &str,
    monitor: &Arc<Monitor>,
) -> Result<Executed> {
    let (case_tx, mut case_rx) = mpsc::channel::<Vec<Case>>(2);
    let reader = spawn_reader(setup, options.strict, case_tx);
    let progress = Arc::new(Progress::new(options.quiet));
    {
        let (config, progress) = (setup.config.clone(), progress.clone());
        let shards = options.shard.map_or(1, |s| u64::from(s.count));
        tokio::task::spawn_blocking(move || progress.set_total(count_cases(&config) / shards));
    }
    // Room for batches to queue while a write runs: the storer writes what
    // queued in one transaction.
    let (record_tx, record_rx) = mpsc::channel::<Vec<CaseRecord>>(64);
    let storer = tokio::spawn(store_batches(
        store.clone(),
        run_id.to_string(),
        record_rx,
        monitor.clone(),
    ));
    let mut summary = Summary::default();
    let execution = run_cases(
        setup,
        options,
        &mut case_rx,
        &record_tx,
        &mut summary,
        &progress,
        monitor,
    );
    let interrupted = finish_or_stop(execution, setup, options.grace).await;
    drop(record_tx);
    drop(case_rx);
    progress.finish();
    let stored = storer
        .await
        .map_err(|e| Error::runtime(format!("the storer task failed: {e}")))?;
    let read = match reader
        .await
        .map_err(|e| Error::runtime(format!("the dataset reader failed: {e}")))?
    {
        Ok((busy, skipped)) => {
            monitor.add(Component::DatasetLoading, busy, 0);
            summary.add_skipped(skipped.count, &skipped.messages, &skipped.locations);
            summary.add_cut_short(skipped.cut_short);
            Ok(())
        }
        Err(e) if interrupted || e.kind() == Kind::Stopped => Ok(()),
        Err(e) => Err(e),
    };
    let halted = match setup.executor.halted() {
        Some(why) => Err(Error::runtime(format!(
            "the run stopped: {why}. The {} cases answered are stored; the next run asks only for the rest",
            summary.cases_total()
        ))),
        None => Ok(()),
    };
    Ok(Executed {
        summary,
        interrupted,
        read,
        stored,
        halted,
    })
}

/// The reader thread: rows in, batches of cases out; its busy time and
/// skipped rows when it is done.
fn spawn_reader(
    setup: &Setup,
    strict: bool,
    out: mpsc::Sender<Vec<Case>>,
) -> tokio::task::JoinHandle<Result<(Duration, Skipped)>> {
    let (config, prompts, providers, scripts) = (
        setup.config.clone(),
        setup.prompts.clone(),
        setup.providers.clone(),
        setup.scripts.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let mut feeder = Feeder::new(&config, &prompts, &providers, &scripts, strict, out)?;
        let result = feeder.read_all();
        let (busy, skipped) = feeder.finish();
        result.map(|()| (busy, skipped))
    })
}

/// Runs each case's repeats as they arrive, scores them a batch at a time
/// and hands each scored batch to the storer.
async fn run_cases(
    setup: &Setup,
    options: &Options,
    case_rx: &mut mpsc::Receiver<Vec<Case>>,
    record_tx: &mpsc::Sender<Vec<CaseRecord>>,
    summary: &mut Summary,
    progress: &Progress,
    monitor: &Arc<Monitor>,
) {
    let started = Instant::now();
    let (executor, grader) = (&setup.executor, &setup.grader);
    let shaper = Shaper {
        scripts: &setup.scripts,
        pool: &setup.pool,
        monitor,
    };
    let repeat = setup.config.suite.repeat;
    let shard = options.shard;
    let cases = futures::stream::poll_fn(|cx| case_rx.poll_recv(cx))
        .flat_map(futures::stream::iter)
        .filter(move |case| std::future::ready(shard.is_none_or(|s| s.includes(&case.id))))
        .flat_map(|case| {
            let case = Arc::new(case);
            futures::stream::iter((0..repeat).map(move |r| (Arc::clone(&case), r)))
        })
        // Once the run stops, no new case starts; those under way finish.
        .take_while(|_| std::future::ready(!executor.is_stopping()));
    // Deterministic scoring runs on the worker pool a batch at a time,
    // overlapping with the next batch's requests.
    let mut records = cases
        .map(|(case, r)| run_case(case, r, executor, grader, &shaper, monitor))
        .buffer_unordered(executor.width())
        .filter_map(std::future::ready)
        .chunks(setup.config.suite.batch_size)
        .map(|batch| {
            let (monitor, scripts) = (monitor.clone(), setup.scripts.clone());
            setup
                .pool
                .run(move || score_batch(batch, &scripts, &monitor))
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
}

/// The number of cases the suite will have, as far as it can be counted
/// cheaply (a JSON array counts as unknown, so the total is a lower bound).
fn count_cases(config: &Config) -> u64 {
    let rows: u64 = config
        .datasets
        .iter()
        .flat_map(|d| d.files.iter())
        .filter_map(|(file, format)| count_rows(file, *format))
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
    /// The run stopped before the request went out.
    not_sent: bool,
}

/// What reshapes an output before it is checked: the case's transform,
/// run on the scoring pool.
struct Shaper<'a> {
    scripts: &'a Arc<Scripts>,
    pool: &'a Pool,
    monitor: &'a Arc<Monitor>,
}

impl Shaper<'_> {
    /// The output reshaped by the case's transform (with the JSON of a
    /// value that is not text); a transform that fails makes the case's
    /// error, as a provider failure would.
    async fn shape(&self, case: &Arc<Case>, obtained: &mut Obtained) -> Option<String> {
        let (Some(transform), Some(output), None) =
            (&case.transform, &obtained.output, &obtained.error)
        else {
            return None;
        };
        let context = serde_json::json!({
            "vars": &*case.vars,
            "prompt": { "raw": case.prompt, "label": case.prompt_name },
        })
        .to_string();
        let (scripts, transform, output) = (
            Arc::clone(self.scripts),
            Arc::clone(transform),
            output.clone(),
        );
        let (shaped, took) = self
            .pool
            .run(move || {
                let started = Instant::now();
                let shaped = scripts.transform_output(&transform, Input::Text(&output), &context);
                (shaped, started.elapsed())
            })
            .await;
        self.monitor.add_scorer("transform", took, 1);
        match shaped {
            Ok(Transformed { text, json }) => {
                obtained.output = Some(text);
                json
            }
            Err(e) => {
                obtained.error = Some(format!("the output transform failed: {e}"));
                None
            }
        }
    }
}

impl Shaper<'_> {
    /// The outputs the model-graded assertions with their own transform
    /// grade, by assertion index (or why the transform failed).
    async fn graded_outputs(
        &self,
        case: &Arc<Case>,
        output: &str,
        output_json: &Option<String>,
    ) -> Vec<(usize, std::result::Result<String, TransformFailed>)> {
        if !case
            .assertions
            .iter()
            .any(|a| a.is_graded() && a.transform.is_some())
        {
            return Vec::new();
        }
        let (scripts, case, output, output_json) = (
            Arc::clone(self.scripts),
            Arc::clone(case),
            output.to_string(),
            output_json.clone(),
        );
        self.pool
            .run(move || {
                let input = match &output_json {
                    Some(json) => Input::Json(json),
                    None => Input::Text(&output),
                };
                case.assertions
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.is_graded())
                    .filter_map(|(i, a)| {
                        let own = score::assertion_output(&scripts, a, &case, input);
                        own.transpose().map(|own| (i, own.map(|t| t.text)))
                    })
                    .collect()
            })
            .await
    }
}

/// Runs one repeat of a case on its provider (unless the case carries its
/// output), reshapes the output with the case's transform, and grades its
/// model-graded assertions. `None` when the run stopped before the case
/// could be asked or graded: it is not stored, and the next run asks again
/// (answers already received are in the cache).
async fn run_case(
    case: Arc<Case>,
    repeat: u32,
    executor: &Executor,
    grader: &Grader,
    shaper: &Shaper<'_>,
    monitor: &Monitor,
) -> Option<Pending> {
    let lane = executor.lane(case.provider);
    let request = Request {
        case_id: &case.id,
        repeat,
        prompt: case.prompt.as_deref().unwrap_or_default(),
        messages: case.messages.as_deref().map(Vec::as_slice),
    };
    let (request_hash, answer_source) = match &case.output {
        Some(_) => (given_fingerprint(&case, lane), AnswerSource::Given),
        None => (
            lane.provider.fingerprint(request),
            lane.provider.answer_source(),
        ),
    };
    let mut obtained = obtain(&case, request, request_hash, executor).await;
    if obtained.not_sent {
        return None;
    }
    let output_json = shaper.shape(&case, &mut obtained).await;
    let graded = match (&obtained.output, &obtained.error) {
        (Some(output), None) if case.assertions.iter().any(|a| a.is_graded()) => {
            let own = shaper.graded_outputs(&case, output, &output_json).await;
            grader
                .grade(
                    executor,
                    &case,
                    repeat,
                    Outputs { output, own: &own },
                    |a, took| monitor.add_scorer(a.kind.name(), took, 1),
                )
                .await?
        }
        _ => Vec::new(),
    };
    let record = unscored_record(&case, repeat, lane, obtained, request_hash, answer_source);
    Some(Pending {
        record,
        case,
        graded,
        output_json,
    })
}

/// The case's record before scoring: what was asked, what came back and
/// how.
fn unscored_record(
    case: &Case,
    repeat: u32,
    lane: &Lane,
    obtained: Obtained,
    request_hash: Key,
    answer_source: AnswerSource,
) -> Answered {
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
        not_sent: _,
    } = obtained;
    // Hashed as it is stored (and cached): without secrets.
    let output_hash = output
        .as_deref()
        .filter(|_| error.is_none())
        .map(|o| short_hash(secret::redact(o).as_bytes()));
    Answered {
        case_id: case.id.clone(),
        repeat,
        ordinal: case.ordinal,
        source: case.source.clone(),
        description: case.description.clone(),
        provider: lane.name.clone(),
        model: lane.provider.model().to_string(),
        prompt: case.prompt.clone(),
        output,
        threshold: case.threshold,
        latency_ms,
        original_latency_ms,
        usage,
        cost_usd,
        cached,
        finish_reason,
        attempts,
        error,
        request_hash: request_hash.hex()[..16].to_string(),
        output_hash,
        scoring_hash: case.scoring_hash.clone(),
        answer_source,
        variant: case.variant.clone(),
        prompt_name: case.prompt_name.clone(),
        identity: case.identity.clone(),
    }
}

/// What identifies a case whose output is given: its prompt and its
/// provider's name, since no provider is asked.
fn given_fingerprint(case: &Case, lane: &Lane) -> Key {
    key::of(&serde_json::json!({
        "kind": "given",
        "provider": lane.name,
        "prompt": case.prompt,
    }))
}

/// The case's output: given, or asked of its provider through the executor.
async fn obtain(
    case: &Case,
    request: Request<'_>,
    fingerprint: Key,
    executor: &Executor,
) -> Obtained {
    if let Some(output) = &case.output {
        return Obtained {
            output: Some(output.clone()),
            ..Obtained::default()
        };
    }
    let started = Instant::now();
    match executor
        .call_fingerprinted(case.provider, request, fingerprint)
        .await
    {
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
                not_sent: false,
            }
        }
        Err(Failure { error, attempts }) => Obtained {
            attempts,
            not_sent: error.not_sent,
            error: Some(error.message),
            ..Obtained::default()
        },
    }
}

/// A case with its output and its model-graded results, waiting for the
/// deterministic assertions to be scored.
struct Pending {
    record: Answered,
    case: Arc<Case>,
    graded: Vec<(usize, AssertionResult)>,
    /// The output as the JSON of the value the transform returned, when
    /// that was not text.
    output_json: Option<String>,
}

/// Scores a batch on a pool worker: each deterministic and scripted
/// assertion (timed by type), the graded results, then each case's score
/// and verdict.
fn score_batch(batch: Vec<Pending>, scripts: &Scripts, monitor: &Monitor) -> Vec<CaseRecord> {
    let mut timings: BTreeMap<&'static str, (Duration, u64)> = BTreeMap::new();
    let records = batch
        .into_iter()
        .map(|pending| {
            let Pending {
                record,
                case,
                mut graded,
                output_json,
            } = pending;
            let Some(output) = record.output.as_deref().filter(|_| record.error.is_none()) else {
                return record.scored(CaseScore::unanswered());
            };
            if case.assertions.iter().any(|a| needs_scripts(a)) {
                let context = score::script_context(&case, &record);
                let checked = Checked {
                    output: match &output_json {
                        Some(json) => Input::Json(json),
                        None => Input::Text(output),
                    },
                    latency_ms: record.original_latency_ms,
                    cost_usd: record.cost_usd,
                    context: &context,
                };
                graded.extend(score::run_scripts(scripts, &case, &checked, |a, took| {
                    let entry = timings.entry(a.kind.name()).or_default();
                    entry.0 += took;
                    entry.1 += 1;
                }));
            }
            let ctx = Context {
                output,
                latency_ms: record.original_latency_ms,
                cost_usd: record.cost_usd,
            };
            // Graded assertions were timed while they were graded.
            let scored = score::score(
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
            record.scored(scored)
        })
        // Scored on the raw text; kept, counted and reported without secrets.
        .map(|mut record| {
            record.rewrite_texts(secret::redact_in_place);
            record
        })
        .collect::<Vec<_>>();
    for (name, (busy, calls)) in timings {
        monitor.add_scorer(name, busy, calls);
    }
    monitor.add(Component::Scoring, Duration::ZERO, records.len() as u64);
    records
}

/// Whether an assertion is scored through the scripts: it is code, or
/// has its own transform (a model-graded one's is run before grading).
fn needs_scripts(a: &Assertion) -> bool {
    !a.is_graded() && (a.is_scripted() || a.transform.is_some())
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
    /// Where the first few bad rows are (`file:line`).
    locations: Vec<String>,
    /// The files a bad row ended early, with why: the run did not see all
    /// of its cases.
    cut_short: Vec<String>,
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

impl<'a> Feeder<'a> {
    fn new(
        config: &'a Config,
        prompts: &'a Prompts,
        providers: &'a [(String, bool)],
        scripts: &'a Scripts,
        strict: bool,
        out: mpsc::Sender<Vec<Case>>,
    ) -> Result<Feeder<'a>> {
        Ok(Feeder {
            config,
            builder: Builder::new(config, prompts, providers, scripts)?,
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
                let max_row = config.suite.max_line_size;
                read_dataset(file, *format, max_row, &mut |row| {
                    self.push(row, Origin::Dataset(n))
                })?;
            }
        }
        self.send()
    }

    fn push(&mut self, row: Row, origin: Origin) -> Result<()> {
        let (at, test) = match row {
            Ok(row) => row,
            Err(bad) => {
                if bad.cuts_file_short {
                    self.skipped.cut_short.push(bad.to_string());
                }
                return self.skip(&bad.at, bad.to_string());
            }
        };
        match self.builder.build(test, &at, origin) {
            Ok(cases) => {
                self.batch.extend(cases);
                if self.batch.len() >= self.config.suite.batch_size {
                    self.send()?;
                }
                Ok(())
            }
            Err(Rejection::Row(message)) => self.skip(&at, format!("{at}: {message}")),
            Err(Rejection::Fatal(e)) => Err(e),
        }
    }

    fn skip(&mut self, at: &Location, message: String) -> Result<()> {
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
            self.skipped.locations.push(at.to_string());
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
        sent.map_err(|_| Error::stopped("the pipeline stopped taking cases"))
    }

    /// The time spent loading (not waiting), and the skipped rows.
    fn finish(self) -> (Duration, Skipped) {
        (
            self.started.elapsed().saturating_sub(self.waiting),
            self.skipped,
        )
    }
}

/// Runs `execution` to its end, or, on Ctrl-C or SIGTERM (a cancelled CI
/// job, counted since the process started), stops sending and lets what
/// is under way finish, score and store for at most `grace`; then gives up
/// on the answers still under way, and the cases already answered are
/// scored and stored, the unfilled batch too. (A second signal ends the
/// process at once, see `ai_evals::execute`.) Whether the run was
/// interrupted.
async fn finish_or_stop(
    execution: impl Future<Output = ()>,
    setup: &Setup,
    grace: Duration,
) -> bool {
    tokio::pin!(execution);
    tokio::select! {
        // A signal that came before the run began is seen before any
        // request goes out.
        biased;
        () = interrupt::received(1) => {}
        () = &mut execution => return false,
    }
    setup.executor.stop();
    log::warn(&format!(
        "interrupted: no more requests are sent; the answers under way are scored and stored (up to {:.1} s; interrupt again to stop at once)",
        grace.as_secs_f64()
    ));
    if tokio::time::timeout(grace, &mut execution).await.is_err() {
        log::warn(
            "the grace period ended: requests still under way are given up; what was answered is stored",
        );
        setup.executor.abandon();
        execution.await;
    }
    true
}
