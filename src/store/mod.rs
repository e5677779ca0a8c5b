//! The DuckDB history: one file, written by one dedicated thread.
//!
//! A `duckdb::Connection` is not `Sync` and an `Appender` is not `Send`, so
//! the connection lives on its own thread and every use of it is a closure
//! sent over a bounded channel. The bound is back-pressure: when the
//! database falls behind, the pipeline waits instead of queueing results in
//! memory.

mod schema;
mod write;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use duckdb::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

pub use schema::CURRENT as SCHEMA_VERSION;
pub use write::{Metric, RunInfo, RunStatus, RunTotals, Timing};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the database thread.
pub struct Store {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Store {
    /// Opens (or creates) the database at `path` and brings its schema up to
    /// date. A file that is not a DuckDB database, or that another DuckDB
    /// storage version wrote, is an input error (exit 2).
    pub fn open(path: &Path) -> Result<Store> {
        check_header(path)?;
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let (jobs, mut queue) = mpsc::channel::<Job>(4);
        let db_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("ai-evals-duckdb".into())
            .spawn(move || {
                let mut conn = match open_connection(&db_path) {
                    Ok(conn) => {
                        let _ = opened_tx.send(Ok(()));
                        conn
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                while let Some(job) = queue.blocking_recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| Error::runtime(format!("cannot start the database thread: {e}")))?;
        match opened_rx.recv() {
            Ok(Ok(())) => Ok(Store {
                path: path.to_path_buf(),
                jobs: Some(jobs),
                thread: Some(thread),
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

    /// Runs `f` on the database thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(f(conn));
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

    pub async fn begin_run(&self, run: RunInfo) -> Result<()> {
        self.call(move |conn| write::begin_run(conn, &run).map_err(db_error))
            .await
    }

    /// Writes finished cases in one transaction: either all of them are kept
    /// or none.
    pub async fn write_batch(
        &self,
        run_id: String,
        batch: Vec<crate::record::CaseRecord>,
    ) -> Result<()> {
        self.call(move |conn| write::batch(conn, &run_id, &batch).map_err(db_error))
            .await
    }

    pub async fn finish_run(
        &self,
        run_id: String,
        totals: RunTotals,
        timings: Vec<Timing>,
        metrics: Vec<Metric>,
    ) -> Result<()> {
        self.call(move |conn| {
            write::finish_run(conn, &run_id, &totals, &timings, &metrics).map_err(db_error)
        })
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

/// DuckDB's file header carries the magic bytes `DUCK` at offset 8; checking
/// them first turns "not a database" into a plain message instead of an
/// engine error.
fn check_header(path: &Path) -> Result<()> {
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
        return Ok(());
    }
    if filled < header.len() || &header[8..12] != b"DUCK" {
        return Err(Error::input(format!(
            "{} is not a DuckDB database. Pass --db a new path or an ai-evals history file.",
            path.display()
        )));
    }
    Ok(())
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(|e| {
        // DuckDB's messages span several lines; a log line should not.
        let text = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
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
    schema::migrate(&conn).map_err(|m| Error::input(format!("{}: {m}", path.display())))?;
    Ok(conn)
}

/// The DuckDB engine version this build links.
pub fn duckdb_version() -> String {
    Connection::open_in_memory()
        .and_then(|c| c.query_row("SELECT version()", [], |r| r.get::<_, String>(0)))
        .unwrap_or_else(|_| "unknown".into())
}
