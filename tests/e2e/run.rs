//! Whole runs: the demo suite, the gate, the JSON report, empty suites.

use std::path::Path;
use std::process::Command;

use crate::support::{BIN, Suite, clean_env, column, echo_config, number};

#[test]
fn demo_suite_runs_offline_and_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.duckdb");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/evals.toml");
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--no-comment", "--config"])
        .arg(&demo)
        .arg("--db")
        .arg(&db);
    clean_env(&mut cmd);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("55 cases: 51 passed, 4 failed (0 errors)"),
        "{stdout}"
    );
    assert!(stdout.contains("gate ≥ 90.0%: passed"), "{stdout}");
    assert!(stdout.contains("✗ cap-switzerland"), "{stdout}");

    let runs = column(
        &db,
        "SELECT status || ' ' || cases_total || ' ' || cases_passed || ' ' || suite FROM runs",
    );
    assert_eq!(runs, ["finished 55 51 demo"]);
    assert_eq!(number(&db, "SELECT count(*) FROM case_results"), 55);
    assert_eq!(
        number(&db, "SELECT count(DISTINCT case_id) FROM case_results"),
        55
    );
    let failed = column(
        &db,
        "SELECT case_id FROM case_results WHERE NOT passed ORDER BY case_id",
    );
    assert_eq!(
        failed,
        [
            "cap-switzerland",
            "extract-order-9",
            "faq-pet-policy",
            "faq-warranty"
        ]
    );
    // Every assertion type of the demo is stored with its result.
    let types = column(
        &db,
        "SELECT DISTINCT regexp_replace(assertion_type, '^not-', '') FROM scores ORDER BY 1",
    );
    assert_eq!(
        types,
        [
            "contains",
            "contains-all",
            "contains-any",
            "equals",
            "icontains",
            "is-json",
            "regex",
            "starts-with"
        ]
    );
    // The logged latency, tokens and cost of a replayed answer are kept.
    let row = column(
        &db,
        "SELECT provider || ' ' || model || ' ' || (latency_ms > 0) || ' ' || total_tokens || ' ' || (cost_usd > 0)
         FROM case_results WHERE case_id = 'faq-refund-window'",
    );
    assert_eq!(row.len(), 1);
    assert!(row[0].starts_with("logged replay true "), "{row:?}");
    // A weighted case: the capital row scores the regex at half weight.
    let score = column(
        &db,
        "SELECT round(score, 4)::VARCHAR FROM case_results WHERE case_id = 'cap-switzerland'",
    );
    // not-icontains (1) passes, icontains (1) fails, regex (0.5) passes: 1.5 / 2.5.
    assert_eq!(score, ["0.6"]);
    let timings = column(
        &db,
        "SELECT component FROM timings WHERE parent IS DISTINCT FROM 'scoring' ORDER BY component",
    );
    assert_eq!(
        timings,
        [
            "dataset_loading",
            "execution",
            "report",
            "scoring",
            "storing",
            "total"
        ]
    );
    // Each assertion type is timed on its own under scoring.
    let scorers = column(
        &db,
        "SELECT component || ' ' || calls FROM timings WHERE parent = 'scoring' ORDER BY component",
    );
    assert!(
        scorers.contains(&"scoring/regex 39".to_string()),
        "{scorers:?}"
    );
    assert!(
        scorers.contains(&"scoring/is-json 11".to_string()),
        "{scorers:?}"
    );
    assert_eq!(
        number(&db, "SELECT calls FROM timings WHERE component = 'scoring'"),
        55
    );
}

#[test]
fn gate_failure_exits_1_and_still_stores() {
    let suite = Suite::new(&echo_config(
        r#"
[[tests]]
id = "a"
vars = { q = "x" }
assert = [{ type = "contains", value = "x" }]

[[tests]]
id = "b"
vars = { q = "y" }
assert = [{ type = "contains", value = "not there" }]
"#,
    ));
    let run = suite.run(&[]);
    run.expect_code(1);
    assert!(
        run.stdout().contains("gate ≥ 100.0%: FAILED"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .contains("contains \"not there\": output does not contain \"not there\""),
        "{}",
        run.stdout()
    );
    assert_eq!(number(&suite.db(), "SELECT count(*) FROM case_results"), 2);
}

#[test]
fn json_format_is_machine_readable() {
    let suite = Suite::new(&echo_config(
        r#"
[[tests]]
id = "a"
vars = { q = "x" }
assert = [{ type = "equals", value = "Q: x" }, { type = "not-regex", value = "\\d" }]
"#,
    ));
    let run = suite.run(&["--format", "json"]);
    run.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["cases_total"], 1);
    assert_eq!(report["pass_rate"], 1.0);
    assert_eq!(report["by_type"][0]["name"], "equals");
    assert_eq!(report["by_type"][1]["name"], "not-regex");
}

#[test]
fn empty_dataset_is_a_finished_run_with_no_cases() {
    let suite = Suite::new(&echo_config("[[datasets]]\npath = \"empty.jsonl\"\n"));
    suite.write("empty.jsonl", "\n\n");
    let run = suite.run(&[]);
    // A suite that checked nothing cannot pass its gate.
    run.expect_code(1);
    assert!(
        run.stdout().contains("no case was scored"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains("0 cases: 0 passed"),
        "{}",
        run.stdout()
    );
    assert_eq!(
        column(&suite.db(), "SELECT status || ' ' || cases_total FROM runs"),
        ["finished 0"]
    );
}

#[test]
fn duplicate_ids_are_an_error() {
    let suite = Suite::new(&echo_config("[[datasets]]\npath = \"d.jsonl\"\n"));
    suite.write(
        "d.jsonl",
        "{\"id\": \"same\", \"q\": 1}\n{\"id\": \"other\", \"q\": 2}\n{\"id\": \"same\", \"q\": 3}\n",
    );
    let run = suite.run(&[]);
    run.expect_code(2);
    let expected = format!(
        "error: {}:3: duplicate case id 'same': ids must be unique across the suite",
        suite.path("d.jsonl").display()
    );
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
    assert_eq!(column(&suite.db(), "SELECT status FROM runs"), ["failed"]);
}

#[test]
fn derived_ids_are_stable_and_unique() {
    let suite = Suite::new(&echo_config("[[datasets]]\npath = \"d.jsonl\"\n"));
    suite.write("d.jsonl", "{\"q\": 1}\n{\"q\": 1}\n{\"q\": 2}\n");
    suite.run(&[]).expect_code(0);
    suite.write(
        "d.jsonl",
        "{\"q\": 0}\n{\"q\": 1}\n{\"q\": 1}\n{\"q\": 2}\n",
    );
    suite.run(&[]).expect_code(0);
    let per_run = column(
        &suite.db(),
        "SELECT string_agg(case_id, ',' ORDER BY ordinal) FROM case_results r
         JOIN runs USING (run_id) GROUP BY run_id, started_at ORDER BY started_at",
    );
    assert_eq!(per_run.len(), 2);
    let first: Vec<&str> = per_run[0].split(',').collect();
    let second: Vec<&str> = per_run[1].split(',').collect();
    assert_eq!(first.len(), 3);
    assert!(first[0].starts_with("d-"));
    assert_eq!(first[1], format!("{}-2", first[0]));
    assert_eq!(
        &second[1..],
        &first[..],
        "adding a row does not rename the others"
    );
}
