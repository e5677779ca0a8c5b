//! The DuckDB history: one file, written by one dedicated thread.
//!
//! A `duckdb::Connection` is not `Sync` and an `Appender` is not `Send`, so
//! the connection lives on its own thread and every use of it is a closure
//! sent over a bounded channel. The bound is back-pressure: when the
//! database falls behind, the pipeline waits instead of queueing results in
//! memory.

mod answers;
mod merge;
mod pool;
pub mod read;
mod run_data;
mod schema;
mod write;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use cached::{Cached, LruTtlCache};
use duckdb::Connection;
use tokio::sync::{mpsc, oneshot};

use self::pool::Db;
use crate::error::{Error, Result};

pub use answers::{Answer, AssertionResult, Cut};
pub use run_data::{CaseKey, CaseOutcome, CaseSamples, History, HistoryRun, RunData};
pub use write::{RunInfo, RunStatus, RunTotals};

use crate::record::{Metric, Timing};

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// A handle to the database thread.
pub struct Store {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    queries: Mutex<QueryCache>,
}

/// Answers to the history queries a comparison and a report repeat (the
/// baseline's cases, the history window), kept until the next write (and
/// at most a few minutes, in case another process writes the file) so a
/// reader never sees an answer older than the database.
struct QueryCache {
    runs: LruTtlCache<String, Arc<RunData>>,
    histories: LruTtlCache<HistoryKey, Arc<History>>,
    hits: u64,
    misses: u64,
}

/// A [`read::HistoryQuery`] as a cache key: suite, branch, the run left
/// out, the baseline, how many runs, and the error share's bits.
type HistoryKey = (String, String, Option<String>, Option<String>, usize, u64);

const QUERY_TTL: std::time::Duration = std::time::Duration::from_secs(300);

impl QueryCache {
    fn new() -> QueryCache {
        QueryCache {
            runs: LruTtlCache::new(8, QUERY_TTL),
            histories: LruTtlCache::new(8, QUERY_TTL),
            hits: 0,
            misses: 0,
        }
    }

    fn clear(&mut self) {
        self.runs.cache_clear();
        self.histories.cache_clear();
    }
}

/// How database access opens the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Creates the file if needed and brings its schema up to date.
    ReadWrite,
    /// Reads an existing history (a baseline file), changes nothing.
    ReadOnly,
}

impl Store {
    /// Opens (or creates) the database at `path` and brings its schema up to
    /// date. A file that is not a DuckDB database, or that another DuckDB
    /// storage version wrote, is an input error (exit 2).
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with(path, Access::ReadWrite)
    }

    /// Opens with the given access; a read-only open of a missing file is
    /// an input error.
    pub fn open_with(path: &Path, access: Access) -> Result<Store> {
        Store::open_attaching(path, access, Vec::new())
    }

    /// Opens `path` read-write with each of `shards` attached read-only as
    /// `shard0`, `shard1` … for [`Store::merge`]. They are attached while
    /// the connection is set up, because afterwards it may open no other
    /// file.
    pub fn open_merging(path: &Path, shards: &[PathBuf]) -> Result<Store> {
        Store::open_attaching(path, Access::ReadWrite, shards.to_vec())
    }

    fn open_attaching(path: &Path, access: Access, attach: Vec<PathBuf>) -> Result<Store> {
        if access == Access::ReadOnly && !path.is_file() {
            return Err(Error::input(format!(
                "{} does not exist; pass the path of an ai-evals history file",
                path.display()
            )));
        }
        check_header(path, access)?;
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let (jobs, mut queue) = mpsc::channel::<Job>(4);
        let db_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("ai-evals-duckdb".into())
            .spawn(move || {
                let mut db = match Db::open(&db_path, access, attach) {
                    Ok(db) => {
                        let _ = opened_tx.send(Ok(()));
                        db
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                while let Some(job) = queue.blocking_recv() {
                    job(&mut db);
                }
                // What is left in the log stays durable if this fails; the
                // next open replays it.
                if let Err(e) = db.checkpoint() {
                    crate::log::warn(&e.to_string());
                }
            })
            .map_err(|e| Error::runtime(format!("cannot start the database thread: {e}")))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(Store {
                path: path.to_path_buf(),
                jobs: Some(jobs),
                thread: Some(thread),
                queries: Mutex::new(QueryCache::new()),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::runtime(format!(
                    "the database thread for {} stopped while opening it",
                    path.display()
                )))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the database thread, again with a larger buffer pool
    /// while DuckDB runs out of memory (`pool.rs`); `failed` words its
    /// error. `f` must leave nothing behind when it fails: a read, or one
    /// transaction.
    async fn run<R, E, F>(&self, f: F, failed: fn(E) -> Error) -> Result<R>
    where
        F: Fn(&mut Connection) -> std::result::Result<R, E> + Send + 'static,
        E: std::fmt::Display + 'static,
        R: Send + 'static,
    {
        self.send(move |db| db.run(&f, failed, None)).await
    }

    /// [`Store::run`] for a write in one transaction: once committed it is
    /// never run again, even when the checkpoint after it failed.
    async fn write<E, F>(&self, f: F, failed: fn(E) -> Error) -> Result<()>
    where
        F: Fn(&mut Connection) -> std::result::Result<(), E> + Send + 'static,
        E: std::fmt::Display + 'static,
    {
        self.send(move |db| db.run(&f, failed, Some(()))).await
    }

    /// Sends `f` to the database thread and waits for what it returns.
    async fn send<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Db) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |db| {
            let _ = reply.send(f(db));
        });
        let stopped = || Error::runtime("the database thread stopped unexpectedly");
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Waits for queued work, then closes the database (which checkpoints it).
    pub fn close(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn queries(&self) -> std::sync::MutexGuard<'_, QueryCache> {
        self.queries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Query-cache hits and misses so far.
    #[cfg(test)]
    pub fn query_cache_counts(&self) -> (u64, u64) {
        let queries = self.queries();
        (queries.hits, queries.misses)
    }

    /// Runs a read query on the database thread.
    async fn read<R, F>(&self, f: F) -> Result<R>
    where
        F: Fn(&Connection) -> duckdb::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.run(move |conn| f(conn), read_error).await
    }

    pub async fn runs(&self, filter: read::RunFilter) -> Result<Vec<read::RunRow>> {
        self.read(move |conn| read::runs(conn, &filter)).await
    }

    /// The run with this id or id prefix; an input error if none or several
    /// match.
    pub async fn find_run(&self, id: &str) -> Result<read::RunRef> {
        let wanted = id.to_string();
        let mut found = self.read(move |conn| read::find_run(conn, &wanted)).await?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::input(format!(
                "no run {id} in {}; `ai-evals history --db {}` lists the runs",
                self.path.display(),
                self.path.display()
            ))),
            _ => Err(Error::input(format!(
                "more than one run in {} starts with {id}; give more of the id",
                self.path.display()
            ))),
        }
    }

    /// The newest runs of `suite` at a commit or on a branch, other than
    /// `exclude`, whatever their status, newest first.
    pub async fn candidates(
        &self,
        suite: &str,
        at: read::At,
        exclude: Option<&str>,
        limit: usize,
    ) -> Result<Vec<read::Candidate>> {
        let (suite, exclude) = (suite.to_string(), exclude.map(str::to_string));
        self.read(move |conn| read::candidates(conn, &suite, &at, exclude.as_deref(), limit))
            .await
    }

    /// The suite name the config file `config_path` last ran under, when
    /// that is not `suite`.
    pub async fn renamed_from(&self, config_path: &str, suite: &str) -> Result<Option<String>> {
        let (path, suite) = (config_path.to_string(), suite.to_string());
        self.read(move |conn| read::renamed_from(conn, &path, &suite))
            .await
    }

    /// The baseline branch's recent runs that can serve as a reference,
    /// newest first.
    pub async fn history(&self, query: read::HistoryQuery) -> Result<Arc<History>> {
        let key = (
            query.suite.clone(),
            query.branch.clone(),
            query.exclude.clone(),
            query.baseline.clone(),
            query.limit,
            query.max_errors.to_bits(),
        );
        let hit = self.queries().histories.cache_get(&key).cloned();
        if let Some(hit) = hit {
            self.queries().hits += 1;
            return Ok(hit);
        }
        let runs = Arc::new(self.read(move |conn| read::history(conn, &query)).await?);
        let mut queries = self.queries();
        queries.misses += 1;
        queries.histories.cache_set(key, Arc::clone(&runs));
        Ok(runs)
    }

    /// What the given cases of a run got and why they failed.
    pub async fn case_details(
        &self,
        run_id: &str,
        keys: Vec<CaseKey>,
    ) -> Result<Vec<read::CaseDetail>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::case_details(conn, &run_id, &keys))
            .await
    }

    /// Unites the newest run of each shard file into run `run_id` here; the
    /// store must have been opened with [`Store::open_merging`] on `inputs`.
    pub async fn merge(
        &self,
        inputs: Vec<PathBuf>,
        run_id: String,
        allow_partial: bool,
    ) -> Result<merge::Merged> {
        self.queries().clear();
        let merged = move |conn: &mut Connection| {
            let paths: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
            merge::merge(conn, &paths, &run_id, allow_partial)
        };
        self.run(merged, Error::input).await
    }

    /// Ends a merged run: its metrics, its report and its status in one
    /// transaction.
    pub async fn finish_merge(
        &self,
        run_id: &str,
        metrics: Vec<Metric>,
        report_json: String,
        status: &'static str,
    ) -> Result<()> {
        self.queries().clear();
        let run_id = run_id.to_string();
        self.write(
            move |conn| write::finish_merge(conn, &run_id, &metrics, &report_json, status),
            db_error,
        )
        .await
    }

    /// The 95th percentile of each provider's completion tokens in a run.
    pub async fn completion_p95(&self, run_id: &str) -> Result<Vec<(String, u32)>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::completion_p95(conn, &run_id))
            .await
    }

    /// A run's component timings, the total first.
    pub async fn timings(&self, run_id: &str) -> Result<Vec<Timing>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::timings(conn, &run_id)).await
    }

    /// A run's metrics by name.
    pub async fn metrics(&self, run_id: &str) -> Result<BTreeMap<String, f64>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::metrics(conn, &run_id)).await
    }

    /// A run's row with its headline numbers.
    pub async fn run_row(&self, run_id: &str) -> Result<Option<read::RunRow>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::run_row(conn, &run_id)).await
    }

    /// Assertion results by type: (type, passed, total).
    pub async fn type_counts(&self, run_id: &str) -> Result<Vec<(String, u64, u64)>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::type_counts(conn, &run_id))
            .await
    }

    /// The first failing cases in dataset order.
    pub async fn first_failures(
        &self,
        run_id: &str,
        limit: usize,
    ) -> Result<Vec<read::FailedCase>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::first_failures(conn, &run_id, limit))
            .await
    }

    /// Keeps the run's report model for `ai-evals report`.
    pub async fn save_report(&self, run_id: &str, json: String) -> Result<()> {
        let run_id = run_id.to_string();
        self.write(move |conn| write::report(conn, &run_id, &json), db_error)
            .await
    }

    /// A run's stored report model (JSON).
    pub async fn report(&self, run_id: &str) -> Result<Option<String>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::report(conn, &run_id)).await
    }

    /// A run's cases by prompt and provider.
    pub async fn columns(&self, run_id: &str) -> Result<Vec<read::ColumnRow>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::columns(conn, &run_id)).await
    }

    /// Every case of a run with why it failed, in dataset order.
    pub async fn all_cases(&self, run_id: &str) -> Result<Vec<read::CaseDetail>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::all_cases(conn, &run_id)).await
    }

    /// What the given cases of run `run_id` got (prompt, output, error,
    /// assertion results), in the order of `keys`, with texts cut to
    /// `max_chars`; `None` for a case the run does not have. Ask for a few
    /// hundred keys at a time.
    pub async fn answers(
        &self,
        run_id: &str,
        keys: Vec<CaseKey>,
        max_chars: usize,
    ) -> Result<Vec<Option<Answer>>> {
        let run_id = run_id.to_string();
        self.read(move |conn| answers::answers(conn, &run_id, &keys, max_chars))
            .await
    }

    /// One run's cases, timings and metrics.
    pub async fn run_data(&self, run: &read::RunRef) -> Result<Arc<RunData>> {
        let hit = self.queries().runs.cache_get(&run.run_id).cloned();
        if let Some(hit) = hit {
            self.queries().hits += 1;
            return Ok(hit);
        }
        let wanted = run.clone();
        let data = Arc::new(self.read(move |conn| read::run_data(conn, &wanted)).await?);
        let mut queries = self.queries();
        queries.misses += 1;
        queries
            .runs
            .cache_set(run.run_id.clone(), Arc::clone(&data));
        Ok(data)
    }

    /// Stores a bench run's samples: (benchmark, ops per iteration, times).
    pub async fn write_bench(
        &self,
        info: RunInfo,
        samples: Vec<(String, u64, Vec<f64>)>,
    ) -> Result<()> {
        self.queries().clear();
        self.write(move |conn| write::bench(conn, &info, &samples), db_error)
            .await
    }

    /// The newest other bench run's samples of benchmark `name`.
    pub async fn previous_bench(
        &self,
        name: &str,
        exclude: &str,
    ) -> Result<Option<(String, Vec<f64>)>> {
        let (name, exclude) = (name.to_string(), exclude.to_string());
        self.read(move |conn| read::previous_bench(conn, &name, &exclude))
            .await
    }

    /// Headline figures of a finished run computed in the database, so
    /// memory does not grow with the suite: latency percentiles and means
    /// of tokens and cost.
    pub async fn run_figures(&self, run_id: &str) -> Result<Vec<(String, f64)>> {
        let run_id = run_id.to_string();
        self.read(move |conn| read::run_figures(conn, &run_id))
            .await
    }

    pub async fn begin_run(&self, run: RunInfo) -> Result<()> {
        self.queries().clear();
        self.write(move |conn| write::begin_run(conn, &run), db_error)
            .await
    }

    /// Writes finished cases in one transaction: either all of them are kept
    /// or none.
    pub async fn write_batch(
        &self,
        run_id: String,
        batch: Vec<crate::record::CaseRecord>,
    ) -> Result<()> {
        self.queries().clear();
        self.write(move |conn| write::batch(conn, &run_id, &batch), db_error)
            .await
    }

    pub async fn finish_run(
        &self,
        run_id: String,
        totals: RunTotals,
        timings: Vec<Timing>,
        metrics: Vec<Metric>,
    ) -> Result<()> {
        self.queries().clear();
        self.write(
            move |conn| write::finish_run(conn, &run_id, &totals, &timings, &metrics),
            db_error,
        )
        .await
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn db_error(e: duckdb::Error) -> Error {
    Error::runtime(format!("database write failed: {e}"))
}

fn read_error(e: duckdb::Error) -> Error {
    let text = e.to_string();
    if text.contains("Permission Error") {
        // Only a view, macro or default in the file itself can ask for a
        // file or an extension: the file is hostile or not ours.
        return Error::input(format!(
            "the database tried to reach outside itself (a view or macro reading a file, or an extension), which ai-evals refuses: {text}. Use a history file that ai-evals wrote."
        ));
    }
    Error::runtime(format!("database read failed: {text}"))
}

/// DuckDB's file header carries the magic bytes `DUCK` at offset 8; checking
/// them first turns "not a database" (an empty file too) into a plain
/// message instead of an engine error.
fn check_header(path: &Path, access: Access) -> Result<()> {
    let Ok(mut file) = File::open(path) else {
        return Ok(());
    };
    let mut header = [0u8; 12];
    let mut filled = 0;
    while filled < header.len() {
        match file.read(&mut header[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => {
                return Err(Error::runtime(format!(
                    "cannot read database {}: {e}",
                    path.display()
                )));
            }
        }
    }
    if filled == 0 {
        let what = match access {
            Access::ReadOnly => "it holds no ai-evals history. Pass the history file you meant",
            Access::ReadWrite => {
                "DuckDB cannot open it. Delete it (a run creates its history file itself) or pass another --db path"
            }
        };
        return Err(Error::input(format!(
            "{} is empty (0 bytes): {what}.",
            path.display()
        )));
    }
    if filled < header.len() || &header[8..12] != b"DUCK" {
        return Err(Error::input(format!(
            "{} is not a DuckDB database. Pass --db a new path or an ai-evals history file.",
            path.display()
        )));
    }
    Ok(())
}

/// The settings every connection opens with. A database file is data, but
/// DuckDB runs what it holds (views, macros, defaults) with the reader's
/// rights, and history files cross trust boundaries (artifacts, caches,
/// shards). So: no extension is installed or loaded on demand, and (unless
/// files are still to be attached) no file but the database itself may be
/// read or written; [`harden`] then locks the configuration.
///
/// A history file is written by one thread in appends; DuckDB's default
/// buffer pool (80 % of RAM) and a thread per core would let a million-case
/// run hold its pages in memory. A small pool and one thread spill to the
/// file instead (measured: 1M cases in 115 MB, not 330). The pool must hold
/// what a checkpoint pins (16 MB fails at a few hundred thousand cases);
/// `pool_mb` starts at 24 MB, which runs 3M cases and 200,000 of 2 KB,
/// and grows for wider rows (`pool.rs`).
fn settings(access: Access, external_access: bool, pool_mb: u64) -> duckdb::Result<duckdb::Config> {
    let config = duckdb::Config::default()
        .with("autoinstall_known_extensions", "false")?
        .with("autoload_known_extensions", "false")?
        .enable_external_access(external_access)?
        .max_memory(&format!("{pool_mb}MB"))?
        .threads(1)?;
    match access {
        Access::ReadWrite => Ok(config),
        Access::ReadOnly => config.access_mode(duckdb::AccessMode::ReadOnly),
    }
}

/// Attaches `attach` read-only as `shard0`, `shard1` …, then shuts every
/// other file out and locks the configuration, so no `SET` in a later
/// statement can undo it. Runs before anything in the files is read.
fn harden(conn: &Connection, attach: &[PathBuf]) -> Result<()> {
    for (i, shard) in attach.iter().enumerate() {
        let quoted = format!("'{}'", shard.display().to_string().replace('\'', "''"));
        conn.execute_batch(&format!("ATTACH {quoted} AS shard{i} (READ_ONLY)"))
            .map_err(|e| {
                Error::input(format!(
                    "{}: cannot open it as a history: {}",
                    shard.display(),
                    one_line(&e.to_string())
                ))
            })?;
    }
    // Turning external access off keeps the attached files readable.
    let lock = if attach.is_empty() {
        "SET lock_configuration = true"
    } else {
        "SET enable_external_access = false; SET lock_configuration = true"
    };
    conn.execute_batch(lock)
        .map_err(|e| Error::runtime(format!("cannot lock the database settings: {e}")))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn open_connection(
    path: &Path,
    access: Access,
    attach: &[PathBuf],
    pool_mb: u64,
) -> Result<Connection> {
    let opened = settings(access, !attach.is_empty(), pool_mb)
        .and_then(|config| Connection::open_with_flags(path, config));
    let conn = opened.map_err(|e| {
        // DuckDB's messages span several lines; a log line should not.
        let text = one_line(&e.to_string());
        if text.contains("storage version") || text.contains("version number") {
            Error::input(format!(
                "{} was written by another DuckDB storage version than this ai-evals reads (DuckDB {}): {text} Use the ai-evals release that wrote it, or start a new history with another --db path.",
                path.display(),
                duckdb_version()
            ))
        } else if text.contains("Corrupt database file") {
            Error::input(format!(
                "{} is damaged: {text}. Restore it (for example from the history artifact) or start a new history with another --db path.",
                path.display()
            ))
        } else if text.contains("Could not set lock") || text.contains("Conflicting lock") {
            Error::runtime(format!(
                "{} is in use by another process: {text}. Wait for it to finish or use another --db path.",
                path.display()
            ))
        } else {
            Error::runtime(format!("cannot open database {}: {text}", path.display()))
        }
    })?;
    harden(&conn, attach)?;
    let migrated = match access {
        Access::ReadWrite => schema::migrate(&conn).map(|_| ()),
        Access::ReadOnly => schema::check(&conn),
    };
    migrated.map_err(|m| Error::input(format!("{}: {m}", path.display())))?;
    Ok(conn)
}

/// What decides whether another build can read the files this one
/// writes: the engine's major and minor version (`duckdb-v1.5`). DuckDB's
/// patch releases keep the storage format; a minor release may not. CI
/// keys its caches of history files on it, so a build never restores a
/// file it cannot open.
pub fn storage_version() -> String {
    let version = duckdb_version();
    let minor: Vec<&str> = version.splitn(3, '.').take(2).collect();
    format!("duckdb-{}", minor.join("."))
}

/// The DuckDB engine version this build links.
pub fn duckdb_version() -> String {
    Connection::open_in_memory()
        .and_then(|c| c.query_row("SELECT version()", [], |r| r.get::<_, String>(0)))
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests;
