//! Uniting shard databases into one run: each shard file (attached
//! read-only when the store was opened, see `Store::open_merging`) is
//! checked (one suite, one config, no case twice), and its results copied
//! under a new run id in one transaction.

use duckdb::{Connection, OptionalExt, Transaction, params};
use std::path::Path;

/// One shard's newest run, as found in its file.
#[derive(Debug, Clone)]
struct ShardRun {
    run_id: String,
    suite: String,
    config_hash: String,
    status: String,
    shard: Option<String>,
}

/// What the merge made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub run_id: String,
    pub suite: String,
    pub shards: usize,
    pub cases: i64,
    /// The shards of the set that were not merged (`3/8` …); empty for a
    /// whole run.
    pub missing: Vec<String>,
}

/// Why a merge was refused: the message names the file and the problem.
pub type Refusal = String;

/// Merges the newest run of each of `inputs` into `conn` as run `run_id`,
/// with status `merging`: it turns `finished` (or `partial`) with its
/// metrics and report, in one transaction (`write::finish_merge`), so a
/// merge killed halfway never leaves a run that could become a baseline.
/// An incomplete set of shards is refused unless `allow_partial`.
pub fn merge(
    conn: &mut Connection,
    inputs: &[&Path],
    run_id: &str,
    allow_partial: bool,
) -> Result<Merged, Refusal> {
    let runs = inputs
        .iter()
        .enumerate()
        .map(|(i, path)| newest_run(conn, i, path))
        .collect::<Result<Vec<_>, _>>()?;
    check_shards(&runs, inputs)?;
    let missing = missing_shards(&runs, inputs)?;
    if !missing.is_empty() && !allow_partial {
        return Err(format!(
            "shard {} of the run {} missing: merge every shard of one sharded run, or pass --allow-partial to record a partial run (it never becomes a baseline)",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        ));
    }
    let tx = conn.transaction().map_err(db)?;
    let union = |table: &str, columns: &str| union(&runs, table, columns);
    copy_runs_and_cases(&tx, &runs, run_id, &union)?;
    combine_timings(&tx, &runs, run_id, &union)?;
    combine_metrics(&tx, run_id, &union)?;
    let total = count_cases(&tx, run_id)?;
    tx.commit().map_err(db)?;
    for i in 0..runs.len() {
        let _ = conn.execute_batch(&format!("DETACH shard{i}"));
    }
    Ok(Merged {
        run_id: run_id.to_string(),
        suite: runs[0].suite.clone(),
        shards: runs.len(),
        cases: total,
        missing,
    })
}

/// The shards of the set the runs belong to that are not among them. Every
/// run must be a shard (`--shard I/N`), all of one N.
fn missing_shards(runs: &[ShardRun], inputs: &[&Path]) -> Result<Vec<String>, Refusal> {
    let mut count = None;
    let mut present = std::collections::BTreeSet::new();
    for (run, path) in runs.iter().zip(inputs) {
        let parsed = run.shard.as_deref().and_then(|s| {
            let (i, n) = s.split_once('/')?;
            Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?))
        });
        let Some((index, of)) = parsed else {
            return Err(format!(
                "{} holds run {}, which is not a shard (run it with --shard I/N)",
                path.display(),
                run.run_id
            ));
        };
        if *count.get_or_insert(of) != of {
            return Err(format!(
                "{} is shard {index}/{of}, but the others are of {}: merge the shards of one sharded run",
                path.display(),
                count.unwrap_or(of)
            ));
        }
        present.insert(index);
    }
    let of = count.unwrap_or(0);
    Ok((1..=of)
        .filter(|i| !present.contains(i))
        .map(|i| format!("{i}/{of}"))
        .collect())
}

fn db(e: duckdb::Error) -> Refusal {
    e.to_string()
}

/// The newest run of shard file `path` (attached as `shard{i}`), which
/// must have finished.
fn newest_run(conn: &Connection, i: usize, path: &Path) -> Result<ShardRun, Refusal> {
    let found = conn
        .query_row(
            &format!(
                "SELECT run_id, suite, config_hash, status, shard FROM shard{i}.runs
                  ORDER BY started_at DESC LIMIT 1"
            ),
            [],
            |row| {
                Ok(ShardRun {
                    run_id: row.get(0)?,
                    suite: row.get(1)?,
                    config_hash: row.get(2)?,
                    status: row.get(3)?,
                    shard: row.get(4)?,
                })
            },
        )
        .optional()
        .map_err(db)?;
    let Some(run) = found else {
        return Err(format!("{} holds no run", path.display()));
    };
    if run.status != "finished" {
        return Err(format!(
            "{}: run {} is {}, not finished; run that shard again",
            path.display(),
            run.run_id,
            run.status
        ));
    }
    Ok(run)
}

/// The shards must be runs of one suite and one config, each shard once.
fn check_shards(runs: &[ShardRun], inputs: &[&Path]) -> Result<(), Refusal> {
    let first = &runs[0];
    for (run, path) in runs.iter().zip(inputs).skip(1) {
        if run.suite != first.suite {
            return Err(format!(
                "{} is a run of suite {}, {} of suite {}: only shards of one suite merge",
                path.display(),
                run.suite,
                inputs[0].display(),
                first.suite
            ));
        }
        if run.config_hash != first.config_hash {
            return Err(format!(
                "{} ran another config than {} (config hash {} vs {}): shards must run the same evals.toml",
                path.display(),
                inputs[0].display(),
                &run.config_hash[..12.min(run.config_hash.len())],
                &first.config_hash[..12.min(first.config_hash.len())]
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (run, path) in runs.iter().zip(inputs) {
        if let Some(shard) = &run.shard
            && !seen.insert(shard.clone())
        {
            return Err(format!(
                "{} is shard {shard} again: each shard must be merged once",
                path.display()
            ));
        }
    }
    Ok(())
}

/// `SELECT columns FROM` each shard's `table`, rows of its run only.
fn union(runs: &[ShardRun], table: &str, columns: &str) -> String {
    runs.iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "SELECT {columns} FROM shard{i}.{table} WHERE run_id = '{}'",
                r.run_id.replace('\'', "''")
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The merged run's row, and every shard's cases and scores under its id;
/// no case may come from two shards.
fn copy_runs_and_cases(
    tx: &Transaction,
    runs: &[ShardRun],
    run_id: &str,
    union: &dyn Fn(&str, &str) -> String,
) -> Result<(), Refusal> {
    tx.execute(
        &format!(
            "INSERT INTO runs (run_id, suite, config_hash, git_sha, branch, pr_number, tool_version,
                               started_at, finished_at, status, rows_skipped, shard,
                               config_path, unfit)
             SELECT ?, any_value(suite), any_value(config_hash), any_value(git_sha),
                    any_value(branch), any_value(pr_number), any_value(tool_version),
                    min(started_at), max(finished_at), 'merging', sum(rows_skipped), ?,
                    any_value(config_path), string_agg(unfit, '; ')
               FROM ({})",
            union(
                "runs",
                "suite, config_hash, git_sha, branch, pr_number, tool_version, started_at, finished_at, rows_skipped, config_path, unfit"
            )
        ),
        params![run_id, format!("merged {}", runs.len())],
    )
    .map_err(db)?;
    for table in ["case_results", "scores"] {
        tx.execute(
            &format!(
                "INSERT INTO {table} SELECT ?, * EXCLUDE (run_id) FROM ({})",
                union(table, "*")
            ),
            params![run_id],
        )
        .map_err(db)?;
    }
    let twice: i64 = tx
        .query_row(
            "SELECT count(*) - count(DISTINCT (case_id, repeat_index, variant)) FROM case_results WHERE run_id = ?",
            params![run_id],
            |row| row.get(0),
        )
        .map_err(db)?;
    if twice > 0 {
        return Err(format!(
            "{twice} cases appear in more than one shard: merge the shards of one sharded run (--shard i/n with one n), each once"
        ));
    }
    Ok(())
}

/// The shards ran side by side: the merged run took as long as the
/// slowest shard, and each component's busy time adds up; each shard's
/// own total is kept as `shard I/N`.
fn combine_timings(
    tx: &Transaction,
    runs: &[ShardRun],
    run_id: &str,
    union: &dyn Fn(&str, &str) -> String,
) -> Result<(), Refusal> {
    tx.execute(
        &format!(
            "INSERT INTO timings
             SELECT ?, component, any_value(parent),
                    CASE WHEN component = 'total' THEN max(duration_ms) ELSE sum(duration_ms) END,
                    sum(calls)
               FROM ({}) GROUP BY component",
            union("timings", "component, parent, duration_ms, calls")
        ),
        params![run_id],
    )
    .map_err(db)?;
    for (i, run) in runs.iter().enumerate() {
        tx.execute(
            &format!(
                "INSERT INTO timings
                 SELECT ?, 'shard ' || coalesce(?, '{n}'), 'total', duration_ms, NULL
                   FROM shard{i}.timings WHERE run_id = ? AND component = 'total'",
                n = i + 1
            ),
            params![run_id, run.shard, run.run_id],
        )
        .map_err(db)?;
    }
    Ok(())
}

/// Counts add up; a peak is the largest; figures over cases are computed
/// again from the merged cases by the caller.
fn combine_metrics(
    tx: &Transaction,
    run_id: &str,
    union: &dyn Fn(&str, &str) -> String,
) -> Result<(), Refusal> {
    tx.execute(
        &format!(
            "INSERT INTO metrics
             SELECT ?, name,
                    CASE WHEN name IN ('peak_rss_mb', 'pool_size', 'pool_max_active') THEN max(value)
                         WHEN name = 'pool_utilization' THEN avg(value)
                         ELSE sum(value) END,
                    any_value(unit)
               FROM ({})
              WHERE name NOT IN ('latency_p50_ms', 'latency_p95_ms', 'latency_mean_ms', 'tokens_mean',
                                 'cost_mean_usd', 'cost_usd', 'pass_rate', 'mean_score',
                                 'cache_hit_rate', 'cases_per_second')
              GROUP BY name",
            union("metrics", "name, value, unit")
        ),
        params![run_id],
    )
    .map_err(db)?;
    Ok(())
}

/// Counts the merged cases into the run's row; returns how many there are.
fn count_cases(tx: &Transaction, run_id: &str) -> Result<i64, Refusal> {
    let (total, passed, errored, mean_score): (i64, i64, i64, Option<f64>) = tx
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE passed), count(*) FILTER (WHERE error IS NOT NULL),
                    avg(score)
               FROM case_results WHERE run_id = ?",
            params![run_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .map_err(db)?;
    let pass_rate = (total > 0).then(|| passed as f64 / total as f64);
    tx.execute(
        "UPDATE runs SET cases_total = ?, cases_passed = ?, cases_errored = ?, pass_rate = ?,
                mean_score = ? WHERE run_id = ?",
        params![total, passed, errored, pass_rate, mean_score, run_id],
    )
    .map_err(db)?;
    Ok(total)
}
