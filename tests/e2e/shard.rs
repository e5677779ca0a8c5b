//! Sharding a suite over a job matrix and merging the shards back: the
//! merged run has the same cases, results and verdict as one whole run.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{BIN, Suite, clean_env, column, number};

const CONFIG: &str = r#"[suite]
name = "sharded"
min-pass-rate = 0.5

[prompts]
ask = "Q: {{ q }}"

[providers.echo]
type = "echo"

[defaults]
assert = [{ type = "contains", value = "right" }]

[[datasets]]
path = "data.jsonl"
"#;

fn cases(suite: &Suite, failing_every: usize) {
    let rows: String = (0..100)
        .map(|i| {
            let answer = if failing_every > 0 && i % failing_every == 0 {
                "wrong"
            } else {
                "right"
            };
            format!("{{\"id\": \"c{i}\", \"q\": \"{answer}\"}}\n")
        })
        .collect();
    suite.write("data.jsonl", rows);
}

fn ai_evals_on(branch: &str, args: &[&str], dir: &Path) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    clean_env(&mut cmd);
    cmd.env("GITHUB_REF_NAME", branch);
    cmd.output().expect("run ai-evals")
}

fn ai_evals(args: &[&str], dir: &Path) -> std::process::Output {
    ai_evals_on("feature", args, dir)
}

fn results(db: &Path, run_filter: &str) -> Vec<String> {
    column(
        db,
        &format!(
            "SELECT case_id || ' ' || passed || ' ' || score FROM case_results
              WHERE run_id = (SELECT run_id FROM runs WHERE {run_filter} ORDER BY started_at DESC LIMIT 1)
              ORDER BY case_id"
        ),
    )
}

#[test]
fn four_shards_merged_equal_the_whole_run() {
    let suite = Suite::new(CONFIG);
    let dir = suite.dir.path();
    cases(&suite, 0);
    let main = ai_evals_on(
        "main",
        &["run", "--config", "evals.toml", "--db", "main.duckdb"],
        dir,
    );
    assert_eq!(main.status.code(), Some(0), "{main:?}");
    cases(&suite, 5);

    let whole = ai_evals(
        &[
            "run",
            "--config",
            "evals.toml",
            "--db",
            "whole.duckdb",
            "--baseline-db",
            "main.duckdb",
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
        dir,
    );
    assert_eq!(whole.status.code(), Some(0), "{whole:?}");
    let whole_report: Value = serde_json::from_slice(&whole.stdout).unwrap();

    let mut sizes = Vec::new();
    for i in 1..=4 {
        let db = format!("shard-{i}.duckdb");
        let shard = format!("{i}/4");
        let out = ai_evals(
            &[
                "run",
                "--config",
                "evals.toml",
                "--db",
                &db,
                "--shard",
                &shard,
                "--fail-on",
                "never",
            ],
            dir,
        );
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        sizes.push(number(&dir.join(&db), "SELECT count(*) FROM case_results"));
        assert_eq!(column(&dir.join(&db), "SELECT shard FROM runs"), [shard]);
    }
    assert_eq!(sizes.iter().sum::<i64>(), 100, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");

    let merged = ai_evals(
        &[
            "merge",
            "shard-1.duckdb",
            "shard-2.duckdb",
            "shard-3.duckdb",
            "shard-4.duckdb",
            "-o",
            "all.duckdb",
            "--config",
            "evals.toml",
            "--baseline-db",
            "main.duckdb",
        ],
        dir,
    );
    assert_eq!(merged.status.code(), Some(0), "{merged:?}");
    let all = dir.join("all.duckdb");
    assert_eq!(
        results(&all, "true"),
        results(&dir.join("whole.duckdb"), "true")
    );
    assert_eq!(column(&all, "SELECT shard FROM runs"), ["merged 4"]);
    assert_eq!(
        number(
            &all,
            "SELECT count(*) FROM timings WHERE component LIKE 'shard %'"
        ),
        4,
        "each shard's wall time is kept"
    );

    // `report` on the merged database gives the whole run's verdict.
    let report = ai_evals(
        &[
            "report",
            "--db",
            "all.duckdb",
            "--format",
            "json",
            "--no-comment",
        ],
        dir,
    );
    let merged_report: Value = serde_json::from_slice(&report.stdout).expect("JSON report");
    for pointer in [
        "/cases_total",
        "/cases_passed",
        "/comparison/comparison/worst",
        "/comparison/comparison/quality/newly_failing",
        "/comparison/comparison/quality_severity",
        "/comparison/baseline/run/run_id",
    ] {
        assert_eq!(
            merged_report.pointer(pointer),
            whole_report.pointer(pointer),
            "{pointer}"
        );
    }
    assert_eq!(merged_report["comparison"]["comparison"]["worst"], "minor");
    assert_eq!(
        report.status.code(),
        Some(0),
        "minor does not fail at critical"
    );
}

#[test]
fn mismatched_shards_are_refused() {
    let suite = Suite::new(CONFIG);
    let dir = suite.dir.path();
    cases(&suite, 0);
    for (db, shard) in [("a.duckdb", "1/2"), ("b.duckdb", "2/2")] {
        let out = ai_evals(
            &[
                "run",
                "--config",
                "evals.toml",
                "--db",
                db,
                "--shard",
                shard,
            ],
            dir,
        );
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    let twice = ai_evals(&["merge", "a.duckdb", "a.duckdb", "-o", "x.duckdb"], dir);
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("shard 1/2 again"),
        "{twice:?}"
    );

    // The same suite name but another config.
    suite.write(
        "evals.toml",
        CONFIG.replace("min-pass-rate = 0.5", "min-pass-rate = 0.6"),
    );
    let out = ai_evals(
        &[
            "run",
            "--config",
            "evals.toml",
            "--db",
            "c.duckdb",
            "--shard",
            "2/2",
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let other = ai_evals(&["merge", "a.duckdb", "c.duckdb", "-o", "y.duckdb"], dir);
    assert_eq!(other.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("ran another config"),
        "{other:?}"
    );

    let bad = ai_evals(&["run", "--config", "evals.toml", "--shard", "5/4"], dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("1 ≤ i ≤ n"));
}

/// Runs shard `shard` of the suite into `db`.
fn shard_run(dir: &Path, db: &str, shard: &str) {
    let out = ai_evals(
        &[
            "run",
            "--config",
            "evals.toml",
            "--db",
            db,
            "--shard",
            shard,
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn an_incomplete_set_is_refused_unless_partial_which_never_becomes_a_baseline() {
    let suite = Suite::new(CONFIG);
    let dir = suite.dir.path();
    cases(&suite, 0);
    for (db, shard) in [
        ("s1.duckdb", "1/3"),
        ("s3.duckdb", "3/3"),
        ("t2.duckdb", "2/4"),
    ] {
        shard_run(dir, db, shard);
    }
    let missing = ai_evals(&["merge", "s1.duckdb", "s3.duckdb", "-o", "m.duckdb"], dir);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("shard 2/3 of the run is missing"),
        "{stderr}"
    );
    assert_eq!(
        column(&dir.join("m.duckdb"), "SELECT count(*)::VARCHAR FROM runs"),
        ["0"],
        "a refused merge adds no run"
    );

    let mixed = ai_evals(&["merge", "s1.duckdb", "t2.duckdb", "-o", "m.duckdb"], dir);
    assert_eq!(mixed.status.code(), Some(2), "{mixed:?}");
    assert!(
        String::from_utf8_lossy(&mixed.stderr).contains("the others are of 3"),
        "{mixed:?}"
    );

    let partial = ai_evals_on(
        "main",
        &[
            "merge",
            "s1.duckdb",
            "s3.duckdb",
            "-o",
            "m.duckdb",
            "--allow-partial",
        ],
        dir,
    );
    assert_eq!(partial.status.code(), Some(0), "{partial:?}");
    assert_eq!(
        column(&dir.join("m.duckdb"), "SELECT status FROM runs"),
        ["partial"]
    );
    let report = ai_evals(&["report", "--db", "m.duckdb", "--no-comment"], dir);
    assert_eq!(
        report.status.code(),
        Some(1),
        "a partial run fails its gate"
    );
    assert!(
        String::from_utf8_lossy(&report.stdout).contains("shard 2/3 never merged"),
        "{report:?}"
    );

    // A whole run on main afterwards finds no baseline: the partial one
    // does not count.
    let whole = ai_evals_on(
        "main",
        &["run", "--config", "evals.toml", "--db", "m.duckdb"],
        dir,
    );
    assert!(
        String::from_utf8_lossy(&whole.stdout).contains("No comparison"),
        "{whole:?}"
    );
}
