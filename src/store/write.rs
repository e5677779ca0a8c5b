//! Writing a run: its row, its results (with the Appender, one transaction
//! per batch) and, at the end, its totals, timings and metrics.

use chrono::NaiveDateTime;
use duckdb::{Connection, params};

use crate::record::{CaseRecord, IdKind, Metric, Timing};

/// What is known about a run when it starts.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub suite: String,
    pub config_hash: String,
    pub git_sha: Option<String>,
    pub branch: Option<String>,
    pub pr_number: Option<i64>,
    pub tool_version: String,
    pub started_at: NaiveDateTime,
    /// `i/n` when the run covers one shard of the suite.
    pub shard: Option<String>,
    /// The config file as the run was given it, relative to the working
    /// folder when inside it: a renamed suite's earlier runs share it.
    pub config_path: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Finished,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// A run's totals, written when it ends.
#[derive(Debug, Clone)]
pub struct RunTotals {
    pub status: RunStatus,
    pub error: Option<String>,
    pub finished_at: NaiveDateTime,
    pub cases_total: u64,
    pub cases_passed: u64,
    pub cases_errored: u64,
    pub rows_skipped: u64,
    pub pass_rate: Option<f64>,
    pub mean_score: Option<f64>,
    /// Why the run cannot serve as a baseline, when it cannot.
    pub unfit: Option<String>,
}

pub fn begin_run(conn: &Connection, run: &RunInfo) -> duckdb::Result<()> {
    conn.execute(
        "INSERT INTO runs (run_id, suite, config_hash, git_sha, branch, pr_number,
                           tool_version, started_at, status, shard, config_path)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
        params![
            run.run_id,
            run.suite,
            run.config_hash,
            run.git_sha,
            run.branch,
            run.pr_number,
            run.tool_version,
            run.started_at,
            run.shard,
            run.config_path,
        ],
    )?;
    Ok(())
}

pub fn batch(conn: &mut Connection, run_id: &str, records: &[CaseRecord]) -> duckdb::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut results = tx.appender("case_results")?;
        for r in records {
            let usage = r.usage;
            results.append_row(params![
                run_id,
                r.case_id,
                r.repeat,
                r.ordinal as i64,
                r.source,
                r.description,
                r.provider,
                r.model,
                r.prompt,
                r.output,
                r.passed,
                r.score,
                r.threshold,
                r.latency_ms,
                r.original_latency_ms,
                usage.map(|u| u.prompt_tokens as i64),
                usage.map(|u| u.completion_tokens as i64),
                usage.map(|u| u.total_tokens as i64),
                r.cost_usd,
                r.cached,
                r.finish_reason,
                r.attempts,
                r.error,
                r.request_hash,
                r.scoring_hash,
                r.output_hash,
                r.answer_source.as_str(),
                r.variant,
                r.prompt_name,
                r.identity.row,
                r.identity.inputs_hash,
                r.identity.id == IdKind::Given,
            ])?;
        }
        // Appender errors on drop are swallowed; flush to see them.
        results.flush()?;
        let mut scores = tx.appender("scores")?;
        for r in records {
            for (i, a) in r.assertions.iter().enumerate() {
                scores.append_row(params![
                    run_id,
                    r.case_id,
                    r.repeat,
                    i as i32,
                    a.type_name(),
                    a.passed,
                    a.score,
                    a.weight,
                    a.expected,
                    a.reason,
                    r.variant,
                ])?;
            }
        }
        scores.flush()?;
    }
    tx.commit()
}

pub fn finish_run(
    conn: &mut Connection,
    run_id: &str,
    totals: &RunTotals,
    timings: &[Timing],
    metrics: &[Metric],
) -> duckdb::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE runs SET finished_at = ?, status = ?, error = ?, cases_total = ?,
                cases_passed = ?, cases_errored = ?, rows_skipped = ?, pass_rate = ?,
                mean_score = ?, unfit = ?
         WHERE run_id = ?",
        params![
            totals.finished_at,
            totals.status.as_str(),
            totals.error,
            totals.cases_total as i64,
            totals.cases_passed as i64,
            totals.cases_errored as i64,
            totals.rows_skipped as i64,
            totals.pass_rate,
            totals.mean_score,
            totals.unfit,
            run_id,
        ],
    )?;
    {
        let mut app = tx.appender("timings")?;
        for t in timings {
            app.append_row(params![
                run_id,
                t.component,
                t.parent,
                t.duration_ms,
                t.calls.map(|c| c as i64),
            ])?;
        }
        app.flush()?;
        let mut app = tx.appender("metrics")?;
        for m in metrics {
            app.append_row(params![run_id, m.name, m.value, m.unit])?;
        }
        app.flush()?;
    }
    tx.commit()
}

/// One `ai-evals bench` run's samples, in one transaction.
pub fn bench(
    conn: &mut Connection,
    info: &RunInfo,
    samples: &[(String, u64, Vec<f64>)],
) -> duckdb::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO bench_runs (bench_id, started_at, git_sha, branch, tool_version)
         VALUES (?, ?, ?, ?, ?)",
        params![
            info.run_id,
            info.started_at,
            info.git_sha,
            info.branch,
            info.tool_version
        ],
    )?;
    {
        let mut appender = tx.appender("bench_samples")?;
        for (name, ops, durations) in samples {
            for (i, duration) in durations.iter().enumerate() {
                appender.append_row(params![info.run_id, name, i as i32, duration, *ops as i64])?;
            }
        }
    }
    tx.commit()
}

/// Keeps a run's rendered report model (JSON), replacing an earlier one.
pub fn report(conn: &Connection, run_id: &str, json: &str) -> duckdb::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO reports (run_id, report) VALUES (?, ?)",
        params![run_id, json],
    )?;
    Ok(())
}

/// Ends a merged run: its figures, its report and its status, together.
pub fn finish_merge(
    conn: &mut Connection,
    run_id: &str,
    metrics: &[Metric],
    report_json: &str,
    status: &str,
) -> duckdb::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut app = tx.appender("metrics")?;
        for m in metrics {
            app.append_row(params![run_id, m.name, m.value, m.unit])?;
        }
        app.flush()?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO reports (run_id, report) VALUES (?, ?)",
        params![run_id, report_json],
    )?;
    tx.execute(
        "UPDATE runs SET status = ? WHERE run_id = ?",
        params![status, run_id],
    )?;
    tx.commit()
}
