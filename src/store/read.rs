//! Reading the history back: runs to list, the baseline to compare with,
//! the baseline branch's recent runs, and one run's numbers.
//!
//! Plain queries on a connection; [`super::Store`] runs them on its thread
//! and keeps their answers in a small query cache until the next write.

use std::collections::BTreeMap;

use duckdb::{Connection, OptionalExt, params};
use serde::{Deserialize, Serialize};

use crate::record::{AnswerSource, IdKind, RowIdentity};
use crate::store::schema;
use crate::store::{CaseKey, CaseOutcome, CaseSamples, History, HistoryRun, RunData};

/// A run as `ai-evals history` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub run_id: String,
    pub suite: String,
    pub git_sha: Option<String>,
    pub branch: Option<String>,
    pub pr_number: Option<i64>,
    pub started_at: String,
    pub status: String,
    pub cases_total: Option<i64>,
    pub cases_passed: Option<i64>,
    pub cases_errored: Option<i64>,
    pub pass_rate: Option<f64>,
    pub mean_score: Option<f64>,
    pub total_ms: Option<f64>,
    pub cost_usd: Option<f64>,
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RunFilter {
    pub suite: Option<String>,
    pub branch: Option<String>,
    /// Only this run.
    pub run_id: Option<String>,
    pub limit: usize,
}

pub fn runs(conn: &Connection, filter: &RunFilter) -> duckdb::Result<Vec<RunRow>> {
    let mut statement = conn.prepare(
        "SELECT r.run_id, r.suite, r.git_sha, r.branch, r.pr_number,
                strftime(r.started_at, '%Y-%m-%d %H:%M:%S'), r.status,
                r.cases_total, r.cases_passed, r.cases_errored, r.pass_rate, r.mean_score,
                (SELECT duration_ms FROM timings t
                  WHERE t.run_id = r.run_id AND t.component = 'total'),
                (SELECT value FROM metrics m
                  WHERE m.run_id = r.run_id AND m.name = 'cost_usd')
           FROM runs r
          WHERE (?1 IS NULL OR r.suite = ?1) AND (?2 IS NULL OR r.branch = ?2)
            AND (?4 IS NULL OR r.run_id = ?4)
          ORDER BY r.started_at DESC, r.run_id DESC
          LIMIT ?3",
    )?;
    let rows = statement.query_map(
        params![
            filter.suite,
            filter.branch,
            filter.limit as i64,
            filter.run_id
        ],
        |row| {
            Ok(RunRow {
                run_id: row.get(0)?,
                suite: row.get(1)?,
                git_sha: row.get(2)?,
                branch: row.get(3)?,
                pr_number: row.get(4)?,
                started_at: row.get(5)?,
                status: row.get(6)?,
                cases_total: row.get(7)?,
                cases_passed: row.get(8)?,
                cases_errored: row.get(9)?,
                pass_rate: row.get(10)?,
                mean_score: row.get(11)?,
                total_ms: row.get(12)?,
                cost_usd: row.get(13)?,
            })
        },
    )?;
    rows.collect()
}

/// A run's id and commit, as a baseline candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub run_id: String,
    pub suite: String,
    pub git_sha: Option<String>,
    pub branch: Option<String>,
}

fn run_ref(row: &duckdb::Row<'_>) -> duckdb::Result<RunRef> {
    Ok(RunRef {
        run_id: row.get(0)?,
        suite: row.get(1)?,
        git_sha: row.get(2)?,
        branch: row.get(3)?,
    })
}

/// The run with this id, or the only run whose id starts with it.
pub fn find_run(conn: &Connection, id: &str) -> duckdb::Result<Vec<RunRef>> {
    let mut statement = conn.prepare(
        "SELECT run_id, suite, git_sha, branch FROM runs
          WHERE run_id = ?1 OR (starts_with(run_id, ?1)
                AND NOT EXISTS (SELECT 1 FROM runs WHERE run_id = ?1))
          ORDER BY started_at DESC LIMIT 2",
    )?;
    let rows = statement.query_map(params![id], run_ref)?;
    rows.collect()
}

/// Where a baseline run is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// A commit (the pull request's base).
    Commit(String),
    /// A branch (its newest run).
    Branch(String),
}

/// A run that might serve as a baseline, with what tells whether it can.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub run: RunRef,
    /// `finished`, `failed`, `interrupted`, `partial` or `running`.
    pub status: String,
    pub cases_total: u64,
    pub cases_errored: u64,
    /// Why the run itself said it cannot serve as a baseline (schema 7).
    pub unfit: Option<String>,
}

/// The newest runs of `suite` at a commit or on a branch, other than
/// `exclude`, whatever their status, newest first, at most `limit`.
pub fn candidates(
    conn: &Connection,
    suite: &str,
    at: &At,
    exclude: Option<&str>,
    limit: usize,
) -> duckdb::Result<Vec<Candidate>> {
    let (column, value) = match at {
        At::Commit(sha) => ("git_sha", sha),
        At::Branch(branch) => ("branch", branch),
    };
    let unfit = column_since(schema::version(conn)?, schema::IDENTITIES, "unfit");
    let mut statement = conn.prepare(&format!(
        "SELECT run_id, suite, git_sha, branch, status, coalesce(cases_total, 0),
                coalesce(cases_errored, 0), {unfit}
           FROM runs
          WHERE suite = ? AND {column} = ? AND run_id IS DISTINCT FROM ?
          ORDER BY started_at DESC LIMIT ?"
    ))?;
    let rows = statement.query_map(params![suite, value, exclude, limit as i64], |row| {
        Ok(Candidate {
            run: run_ref(row)?,
            status: row.get(4)?,
            cases_total: row.get::<_, i64>(5)?.max(0) as u64,
            cases_errored: row.get::<_, i64>(6)?.max(0) as u64,
            unfit: row.get(7)?,
        })
    })?;
    rows.collect()
}

/// The suite a run of the config file `config_path` was last stored
/// under, when that is not `suite`: the suite was renamed since.
pub fn renamed_from(
    conn: &Connection,
    config_path: &str,
    suite: &str,
) -> duckdb::Result<Option<String>> {
    if schema::version(conn)? < schema::IDENTITIES {
        return Ok(None);
    }
    conn.query_row(
        "SELECT suite FROM runs
          WHERE config_path = ? AND suite <> ? AND status = 'finished'
          ORDER BY started_at DESC LIMIT 1",
        params![config_path, suite],
        |row| row.get(0),
    )
    .optional()
}

/// Which runs make a suite's history: the baseline branch's recent
/// finished runs that can serve as a reference.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    pub suite: String,
    pub branch: String,
    /// The run being compared: never part of its own history.
    pub exclude: Option<String>,
    /// The baseline run. Its cases' answers are what the noise model
    /// conditions on, so they do not also count toward the cases' rates.
    pub baseline: Option<String>,
    pub limit: usize,
    /// Runs with a larger share of errored cases are left out (an outage
    /// says nothing about how the suite behaves).
    pub max_errors: f64,
}

/// The history `query` asks for, newest first: each run's timings and
/// metrics, and how their cases answered.
pub fn history(conn: &Connection, query: &HistoryQuery) -> duckdb::Result<History> {
    let runs = history_runs(conn, query)?;
    let ids: Vec<&str> = runs
        .iter()
        .map(|r| r.run_id.as_str())
        .filter(|id| Some(*id) != query.baseline.as_deref())
        .collect();
    let samples = case_samples(conn, &ids)?;
    Ok(History { runs, samples })
}

/// `'a', 'b'`: run ids quoted for an `IN` list.
fn quoted_list(ids: &[&str]) -> String {
    ids.iter()
        .map(|id| format!("'{}'", id.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per case and request, the fresh model answers the runs got and how
/// many passed; a failed call is no answer. Empty for histories written
/// before fingerprints.
fn case_samples(conn: &Connection, ids: &[&str]) -> duckdb::Result<Vec<CaseSamples>> {
    let version = schema::version(conn)?;
    if ids.is_empty() || version < schema::FINGERPRINTS {
        return Ok(Vec::new());
    }
    let variant = column_since(version, schema::VARIANTS, "variant");
    let mut statement = conn.prepare(&format!(
        "SELECT case_id, repeat_index, {variant}, request_hash, count(*),
                count(*) FILTER (WHERE passed)
           FROM case_results
          WHERE run_id IN ({}) AND request_hash IS NOT NULL
            AND answer_source = 'model' AND NOT cached AND error IS NULL
          GROUP BY ALL",
        quoted_list(ids)
    ))?;
    let rows = statement.query_map([], |row| {
        Ok(CaseSamples {
            key: CaseKey {
                id: row.get(0)?,
                repeat: row.get(1)?,
                variant: row.get(2)?,
            },
            request_hash: row.get(3)?,
            samples: row.get::<_, i64>(4)? as u32,
            passes: row.get::<_, i64>(5)? as u32,
        })
    })?;
    rows.collect()
}

/// `column`, or NULL in a history written before schema `since` added it.
pub(super) fn column_since(version: i64, since: i64, column: &'static str) -> &'static str {
    if version >= since {
        column
    } else {
        "NULL::VARCHAR"
    }
}

fn history_runs(conn: &Connection, query: &HistoryQuery) -> duckdb::Result<Vec<HistoryRun>> {
    let unfit = column_since(schema::version(conn)?, schema::IDENTITIES, "unfit");
    let found: Vec<(String, Option<String>)> = {
        let mut statement = conn.prepare(&format!(
            "SELECT run_id, git_sha FROM runs
              WHERE suite = ? AND branch = ? AND status = 'finished' AND run_id IS DISTINCT FROM ?
                AND {unfit} IS NULL
                AND coalesce(cases_errored, 0) <= ? * coalesce(cases_total, 0)
              ORDER BY started_at DESC LIMIT ?"
        ))?;
        let params = params![
            query.suite,
            query.branch,
            query.exclude,
            query.max_errors,
            query.limit as i64
        ];
        let rows = statement.query_map(params, |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<duckdb::Result<_>>()?
    };
    let ids: Vec<String> = found.iter().map(|(id, _)| id.clone()).collect();
    let mut runs: BTreeMap<String, HistoryRun> = found
        .into_iter()
        .map(|(id, git_sha)| {
            (
                id.clone(),
                HistoryRun {
                    run_id: id,
                    git_sha,
                    ..HistoryRun::default()
                },
            )
        })
        .collect();
    let list = quoted_list(&ids.iter().map(String::as_str).collect::<Vec<_>>());
    if !ids.is_empty() {
        let mut statement = conn.prepare(&format!(
            "SELECT run_id, component, duration_ms FROM timings WHERE run_id IN ({list})"
        ))?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, f64>(2)?,
            ))
        })?;
        for row in rows {
            let (id, name, value) = row?;
            if let Some(run) = runs.get_mut(&id) {
                run.timings.insert(name, value);
            }
        }
        let mut statement = conn.prepare(&format!(
            "SELECT run_id, name, value FROM metrics WHERE run_id IN ({list})"
        ))?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, f64>(2)?,
            ))
        })?;
        for row in rows {
            let (id, name, value) = row?;
            if let Some(run) = runs.get_mut(&id) {
                run.metrics.insert(name, value);
            }
        }
    }
    Ok(ids.iter().filter_map(|id| runs.remove(id)).collect())
}

/// One run's cases, timings and metrics, for a comparison.
pub fn run_data(conn: &Connection, run: &RunRef) -> duckdb::Result<RunData> {
    // Histories written before schema 5 have no fingerprints: read NULLs.
    let version = schema::version(conn)?;
    let fingerprints = if version >= schema::FINGERPRINTS {
        "request_hash, scoring_hash, output_hash, answer_source"
    } else {
        // Typed: the duckdb crate cannot read an untyped NULL column.
        "NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR"
    };
    let variant = column_since(version, schema::VARIANTS, "variant");
    let prompt_name = column_since(version, schema::VARIANTS, "prompt_name");
    let identity = if version >= schema::IDENTITIES {
        "row_key, inputs_hash, id_given"
    } else {
        "NULL::VARCHAR, NULL::VARCHAR, NULL::BOOLEAN"
    };
    let mut statement = conn.prepare(&format!(
        "SELECT case_id, repeat_index, passed, score, error IS NOT NULL,
                original_latency_ms, total_tokens, cost_usd, cached, {fingerprints}, {variant},
                provider, {prompt_name}, {identity}
           FROM case_results WHERE run_id = ?"
    ))?;
    let cases = statement
        .query_map(params![run.run_id], |row| {
            Ok(CaseOutcome {
                provider: row.get(14)?,
                prompt: row.get(15)?,
                identity: row_identity(row.get(16)?, row.get(17)?, row.get(18)?),
                key: CaseKey {
                    id: row.get(0)?,
                    repeat: row.get(1)?,
                    variant: row.get(13)?,
                },
                passed: row.get(2)?,
                score: row.get(3)?,
                errored: row.get(4)?,
                latency_ms: row.get(5)?,
                tokens: row.get::<_, Option<i64>>(6)?.map(|t| t as f64),
                cost_usd: row.get(7)?,
                cached: row.get(8)?,
                request_hash: row.get(9)?,
                scoring_hash: row.get(10)?,
                output_hash: row.get(11)?,
                source: row
                    .get::<_, Option<String>>(12)?
                    .as_deref()
                    .and_then(AnswerSource::parse),
            })
        })?
        .collect::<duckdb::Result<Vec<_>>>()?;
    let mut timings = BTreeMap::new();
    let mut statement =
        conn.prepare("SELECT component, duration_ms FROM timings WHERE run_id = ?")?;
    for row in statement.query_map(params![run.run_id], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, f64>(1)?))
    })? {
        let (name, value) = row?;
        timings.insert(name, value);
    }
    let metrics = metrics(conn, &run.run_id)?;
    Ok(RunData {
        run_id: run.run_id.clone(),
        git_sha: run.git_sha.clone(),
        cases,
        timings,
        metrics,
    })
}

/// A case's row identity as stored; `None` before schema 7 or when a
/// column is missing.
fn row_identity(
    row: Option<String>,
    inputs_hash: Option<String>,
    id_given: Option<bool>,
) -> Option<RowIdentity> {
    Some(RowIdentity {
        id: if id_given? {
            IdKind::Given
        } else {
            IdKind::Derived
        },
        row: row?,
        inputs_hash: inputs_hash?,
    })
}

/// The newest stored bench run (other than `exclude`) that measured
/// `name`: its id and its iterations' times.
pub fn previous_bench(
    conn: &Connection,
    name: &str,
    exclude: &str,
) -> duckdb::Result<Option<(String, Vec<f64>)>> {
    let id: Option<String> = conn
        .query_row(
            "SELECT r.bench_id FROM bench_runs r
              WHERE r.bench_id <> ? AND EXISTS
                    (SELECT 1 FROM bench_samples s WHERE s.bench_id = r.bench_id AND s.name = ?)
              ORDER BY r.started_at DESC LIMIT 1",
            params![exclude, name],
            |row| row.get(0),
        )
        .optional()?;
    let Some(id) = id else {
        return Ok(None);
    };
    let mut statement = conn.prepare(
        "SELECT duration_ms FROM bench_samples WHERE bench_id = ? AND name = ? ORDER BY iteration",
    )?;
    let samples = statement
        .query_map(params![id, name], |row| row.get(0))?
        .collect::<duckdb::Result<Vec<f64>>>()?;
    Ok(Some((id, samples)))
}

/// The 95th percentile of each provider's completion tokens in a run, over
/// the answers that report them.
pub fn completion_p95(conn: &Connection, run_id: &str) -> duckdb::Result<Vec<(String, u32)>> {
    let mut stmt = conn.prepare(
        "SELECT provider, CAST(ceil(quantile_cont(completion_tokens, 0.95)) AS BIGINT)
           FROM case_results
          WHERE run_id = ? AND completion_tokens IS NOT NULL AND error IS NULL
          GROUP BY provider ORDER BY provider",
    )?;
    let rows = stmt.query_map(params![run_id], |row| {
        let tokens: i64 = row.get(1)?;
        Ok((
            row.get(0)?,
            u32::try_from(tokens.max(0)).unwrap_or(u32::MAX),
        ))
    })?;
    rows.collect()
}

/// A run's latency percentiles (provider calls as first measured), mean
/// latency, and mean tokens and cost per case, where the run has them.
pub fn run_figures(conn: &Connection, run_id: &str) -> duckdb::Result<Vec<(String, f64)>> {
    let row: [Option<f64>; 6] = conn.query_row(
        "SELECT quantile_cont(original_latency_ms, 0.5), quantile_cont(original_latency_ms, 0.95),
                avg(original_latency_ms), avg(total_tokens), avg(cost_usd), sum(cost_usd)
           FROM case_results WHERE run_id = ?",
        params![run_id],
        |row| {
            Ok([
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ])
        },
    )?;
    let names = [
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_mean_ms",
        "tokens_mean",
        "cost_mean_usd",
        "cost_usd",
    ];
    Ok(names
        .iter()
        .zip(row)
        .filter_map(|(name, value)| Some((name.to_string(), value?)))
        .collect())
}

/// A failing case as a report shows it: what it got and why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseDetail {
    pub key: String,
    pub description: Option<String>,
    pub passed: bool,
    /// This run's time to the answer.
    pub latency_ms: Option<f64>,
    pub output: Option<String>,
    pub error: Option<String>,
    /// The first failing assertion's expected value and reason.
    pub expected: Option<String>,
    pub reason: Option<String>,
}

/// Details of the given cases of a run, in the order given.
pub fn case_details(
    conn: &Connection,
    run_id: &str,
    keys: &[CaseKey],
) -> duckdb::Result<Vec<CaseDetail>> {
    let mut statement = conn.prepare(
        "SELECT c.output, c.error, s.expected, s.reason, c.passed, c.latency_ms, c.description
           FROM case_results c
           LEFT JOIN (SELECT case_id, repeat_index, variant, expected, reason,
                             row_number() OVER (PARTITION BY case_id, repeat_index, variant
                                                ORDER BY assertion_index) AS n
                        FROM scores WHERE run_id = ?1 AND NOT passed) s
             ON s.case_id = c.case_id AND s.repeat_index = c.repeat_index
                AND s.variant IS NOT DISTINCT FROM c.variant AND s.n = 1
          WHERE c.run_id = ?1 AND c.case_id = ?2 AND c.repeat_index = ?3
            AND c.variant IS NOT DISTINCT FROM ?4",
    )?;
    let mut details = Vec::with_capacity(keys.len());
    for key in keys {
        let found = statement
            .query_row(params![run_id, key.id, key.repeat, key.variant], |row| {
                Ok(CaseDetail {
                    key: key.to_string(),
                    description: row.get(6)?,
                    passed: row.get(4)?,
                    latency_ms: row.get(5)?,
                    output: row.get(0)?,
                    error: row.get(1)?,
                    expected: row.get(2)?,
                    reason: row.get(3)?,
                })
            })
            .optional()?;
        details.extend(found);
    }
    Ok(details)
}

/// Every case of a run, in dataset order, with the first failing
/// assertion of each, for JUnit XML.
pub fn all_cases(conn: &Connection, run_id: &str) -> duckdb::Result<Vec<CaseDetail>> {
    let mut statement = conn.prepare(
        "SELECT CASE WHEN c.repeat_index = 0 THEN c.case_id
                     ELSE c.case_id || '#' || c.repeat_index END
                  || coalesce(' [' || c.variant || ']', ''),
                c.passed, c.latency_ms, c.output, c.error, s.expected, s.reason, c.description
           FROM case_results c
           LEFT JOIN (SELECT case_id, repeat_index, variant, expected, reason,
                             row_number() OVER (PARTITION BY case_id, repeat_index, variant
                                                ORDER BY assertion_index) AS n
                        FROM scores WHERE run_id = ?1 AND NOT passed) s
             ON s.case_id = c.case_id AND s.repeat_index = c.repeat_index
                AND s.variant IS NOT DISTINCT FROM c.variant AND s.n = 1
          WHERE c.run_id = ?1
          ORDER BY c.ordinal, c.repeat_index",
    )?;
    let rows = statement.query_map(params![run_id], |row| {
        Ok(CaseDetail {
            key: row.get(0)?,
            description: row.get(7)?,
            passed: row.get(1)?,
            latency_ms: row.get(2)?,
            output: row.get(3)?,
            error: row.get(4)?,
            expected: row.get(5)?,
            reason: row.get(6)?,
        })
    })?;
    rows.collect()
}

/// One (prompt, provider) column of a run's cases.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRow {
    pub prompt: Option<String>,
    pub provider: String,
    pub cases: u64,
    pub passed: u64,
    pub mean_latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
}

/// A run's cases by prompt and provider.
pub fn columns(conn: &Connection, run_id: &str) -> duckdb::Result<Vec<ColumnRow>> {
    let prompt = column_since(schema::version(conn)?, schema::VARIANTS, "prompt_name");
    let mut statement = conn.prepare(&format!(
        "SELECT {prompt} AS p, provider, count(*), count(*) FILTER (WHERE passed),
                avg(original_latency_ms), sum(cost_usd)
           FROM case_results WHERE run_id = ? GROUP BY p, provider ORDER BY p, provider"
    ))?;
    let rows = statement.query_map(params![run_id], |row| {
        Ok(ColumnRow {
            prompt: row.get(0)?,
            provider: row.get(1)?,
            cases: row.get::<_, i64>(2)? as u64,
            passed: row.get::<_, i64>(3)? as u64,
            mean_latency_ms: row.get(4)?,
            cost_usd: row.get(5)?,
        })
    })?;
    rows.collect()
}

/// A run's stored report model (JSON), if it has one.
pub fn report(conn: &Connection, run_id: &str) -> duckdb::Result<Option<String>> {
    conn.query_row(
        "SELECT report FROM reports WHERE run_id = ?",
        params![run_id],
        |row| row.get(0),
    )
    .optional()
}

/// Assertion results of a run by type: (type, passed, total).
pub fn type_counts(conn: &Connection, run_id: &str) -> duckdb::Result<Vec<(String, u64, u64)>> {
    let mut statement = conn.prepare(
        "SELECT assertion_type, count(*) FILTER (WHERE passed), count(*)
           FROM scores WHERE run_id = ? GROUP BY assertion_type ORDER BY assertion_type",
    )?;
    let rows = statement.query_map(params![run_id], |row| {
        Ok((
            row.get(0)?,
            row.get::<_, i64>(1)? as u64,
            row.get::<_, i64>(2)? as u64,
        ))
    })?;
    rows.collect()
}

/// A failing case as the report lists it: where it came from, its failed
/// assertions (`type expected: reason`), error and output.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedCase {
    pub case_id: String,
    pub source: String,
    pub error: Option<String>,
    pub failed: Vec<String>,
    pub output: Option<String>,
}

/// The first `limit` failing cases of a run in dataset order.
pub fn first_failures(
    conn: &Connection,
    run_id: &str,
    limit: usize,
) -> duckdb::Result<Vec<FailedCase>> {
    let mut statement = conn.prepare(
        "SELECT c.case_id || coalesce(' [' || c.variant || ']', ''), c.source, c.error, c.output,
                list(CASE WHEN coalesce(s.expected, '') = '' THEN s.assertion_type || ': ' || s.reason
                          ELSE s.assertion_type || ' ' || s.expected || ': ' || s.reason END
                     ORDER BY s.assertion_index) FILTER (WHERE s.case_id IS NOT NULL)
           FROM case_results c
           LEFT JOIN scores s ON s.run_id = c.run_id AND s.case_id = c.case_id
                AND s.repeat_index = c.repeat_index
                AND s.variant IS NOT DISTINCT FROM c.variant AND NOT s.passed
          WHERE c.run_id = ? AND NOT c.passed
          GROUP BY c.case_id, c.repeat_index, c.variant, c.ordinal, c.source, c.error, c.output
          ORDER BY c.ordinal, c.repeat_index
          LIMIT ?",
    )?;
    let rows = statement.query_map(params![run_id, limit as i64], |row| {
        let failed: Option<Vec<String>> =
            row.get::<_, Option<duckdb::types::Value>>(4)?
                .map(|v| match v {
                    duckdb::types::Value::List(items) => items
                        .into_iter()
                        .filter_map(|item| match item {
                            duckdb::types::Value::Text(t) => Some(t),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                });
        Ok(FailedCase {
            case_id: row.get(0)?,
            source: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
            error: row.get(2)?,
            output: row.get(3)?,
            failed: failed.unwrap_or_default(),
        })
    })?;
    rows.collect()
}

/// A run's component timings, the total first.
pub fn timings(conn: &Connection, run_id: &str) -> duckdb::Result<Vec<crate::record::Timing>> {
    let mut statement = conn.prepare(
        "SELECT component, parent, duration_ms, calls FROM timings WHERE run_id = ?
          ORDER BY component <> 'total', parent NULLS FIRST, component",
    )?;
    let rows = statement.query_map(params![run_id], |row| {
        Ok(crate::record::Timing {
            component: row.get(0)?,
            parent: row.get(1)?,
            duration_ms: row.get(2)?,
            calls: row.get::<_, Option<i64>>(3)?.map(|c| c as u64),
        })
    })?;
    rows.collect()
}

/// A run's row as `history` shows it.
pub fn run_row(conn: &Connection, run_id: &str) -> duckdb::Result<Option<RunRow>> {
    let filter = RunFilter {
        run_id: Some(run_id.to_string()),
        limit: 1,
        ..RunFilter::default()
    };
    Ok(runs(conn, &filter)?.pop())
}

/// A run's metrics by name.
pub fn metrics(conn: &Connection, run_id: &str) -> duckdb::Result<BTreeMap<String, f64>> {
    let mut statement = conn.prepare("SELECT name, value FROM metrics WHERE run_id = ?")?;
    let rows = statement.query_map(params![run_id], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, f64>(1)?))
    })?;
    rows.collect()
}
