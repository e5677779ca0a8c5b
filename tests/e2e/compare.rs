//! Comparing a run with its baseline: which run is chosen, what the verdict
//! says, and what `--fail-on` makes of it; the `compare`, `history` and
//! `bench` commands.

use std::path::Path;
use std::process::Command;

use crate::support::{BIN, Suite, clean_env, column};

const CONFIG: &str = r#"[suite]
name = "gate"
min-pass-rate = 0.1

[prompts]
ask = "Q: {{ q }}"

[providers.echo]
type = "echo"

[defaults]
assert = [{ type = "contains", value = "right" }]

[[datasets]]
path = "data.jsonl"
"#;

/// `n` cases with the same ids every time; the first `failing` fail.
fn cases(suite: &Suite, n: usize, failing: usize) {
    let rows: String = (0..n)
        .map(|i| {
            let answer = if i < failing { "wrong" } else { "right" };
            format!("{{\"id\": \"c{i}\", \"q\": \"{answer}\"}}\n")
        })
        .collect();
    suite.write("data.jsonl", rows);
}

fn on<'a>(branch: &'a str, sha: &'a str) -> [(&'a str, &'a str); 2] {
    [("GITHUB_REF_NAME", branch), ("GITHUB_SHA", sha)]
}

fn run_ids(suite: &Suite) -> Vec<String> {
    column(&suite.db(), "SELECT run_id FROM runs ORDER BY started_at")
}

fn command(args: &[&str], db: &Path) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("--db").arg(db);
    clean_env(&mut cmd);
    cmd.output().expect("run ai-evals")
}

#[test]
fn fail_on_decides_the_exit_code() {
    let suite = Suite::new(CONFIG);
    cases(&suite, 200, 0);
    let first = suite.run_env(&[], &on("main", "aaaaaaa1"));
    first.expect_code(0);
    assert!(
        first.stdout().contains("No comparison"),
        "{}",
        first.stdout()
    );

    // 40 of 200 cases newly fail: pass rate 100 % → 80 %, a minor regression.
    cases(&suite, 200, 40);
    for (fail_on, code) in [("never", 0), ("critical", 0), ("major", 0), ("minor", 1)] {
        let pr = suite.run_env(&["--fail-on", fail_on], &on("feature", "bbbbbbb2"));
        pr.expect_code(code);
        let out = pr.stdout();
        assert!(out.contains("verdict: MINOR regression"), "{out}");
        assert!(out.contains("newly failing (40): c0, c1, c10"), "{out}");
        assert!(out.contains("insufficient baseline"), "{out}");
        if code == 1 {
            assert!(out.contains("Gate failed (--fail-on minor)"), "{out}");
            assert!(
                pr.stderr().contains("regression gate: minor"),
                "{}",
                pr.stderr()
            );
        }
    }

    // 150 of 200 newly fail: critical, and the default gate fails.
    cases(&suite, 200, 150);
    let pr = suite.run_env(&[], &on("feature", "ccccccc3"));
    pr.expect_code(1);
    assert!(
        pr.stdout().contains("verdict: CRITICAL regression"),
        "{}",
        pr.stdout()
    );
    suite
        .run_env(&["--fail-on", "never"], &on("feature", "ccccccc3"))
        .expect_code(0);

    // `compare` of the first run with the last gives the same verdict.
    let ids = run_ids(&suite);
    let (first_id, last_id) = (&ids[0], &ids[ids.len() - 1]);
    let compared = command(&["compare", first_id, last_id], &suite.db());
    assert_eq!(compared.status.code(), Some(1), "{compared:?}");
    let text = String::from_utf8_lossy(&compared.stdout);
    assert!(text.contains("CRITICAL regression"), "{text}");
    assert!(text.contains("newly failing (150)"), "{text}");

    let history = command(&["history", "--limit", "3"], &suite.db());
    assert_eq!(history.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&history.stdout);
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert!(
        listed.lines().nth(1).unwrap().starts_with(last_id.as_str()),
        "{listed}"
    );

    let unknown = command(&["compare", "nope", last_id], &suite.db());
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no run nope"));
}

#[test]
fn the_pull_requests_base_commit_is_the_baseline() {
    let event = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/github-events/pull_request_opened.payload.json");
    let base = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
    let suite = Suite::new(CONFIG);
    cases(&suite, 30, 0);
    suite.run_env(&[], &on("master", base)).expect_code(0);
    // A newer run on the base branch that the pull request did not start from.
    cases(&suite, 30, 10);
    suite
        .run_env(
            &[],
            &on("master", "1111111111111111111111111111111111111111"),
        )
        .expect_code(0);

    cases(&suite, 30, 0);
    let pr = suite.run_env(
        &["--format", "json"],
        &[
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_HEAD_REF", "changes"),
        ],
    );
    pr.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&pr.stdout()).expect("JSON report");
    let ids = run_ids(&suite);
    let compared = &report["comparison"];
    assert_eq!(
        compared["baseline"]["run"]["run_id"],
        ids[0].as_str(),
        "{compared}"
    );
    assert_eq!(compared["baseline"]["run"]["git_sha"], base);
    assert!(
        compared["baseline"]["why"]
            .as_str()
            .unwrap()
            .contains("base commit f95f852"),
        "{compared}"
    );
    // Both master runs are history for the noise model.
    assert_eq!(compared["comparison"]["history_runs"], 2);
    assert_eq!(compared["comparison"]["quality"]["shared_cases"], 30);

    // An explicit baseline wins over the event.
    let explicit = suite.run_env(
        &["--format", "json", "--baseline-run", &ids[1]],
        &[("GITHUB_EVENT_PATH", event.to_str().unwrap())],
    );
    explicit.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&explicit.stdout()).unwrap();
    assert_eq!(
        report["comparison"]["baseline"]["run"]["run_id"],
        ids[1].as_str()
    );
    assert_eq!(
        report["comparison"]["comparison"]["quality"]["newly_passing"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[test]
fn a_baseline_from_another_history_file() {
    let main = Suite::new(CONFIG);
    cases(&main, 50, 0);
    main.run_env(&[], &on("main", "aaaa")).expect_code(0);

    let pr = Suite::new(CONFIG);
    cases(&pr, 50, 40);
    let out = pr.run_env(
        &["--baseline-db", main.db().to_str().unwrap()],
        &on("feature", "bbbb"),
    );
    out.expect_code(1);
    assert!(
        out.stdout().contains("newly failing (40)"),
        "{}",
        out.stdout()
    );

    let missing = pr.run_env(&["--baseline-db", "no-such.duckdb"], &on("feature", "bbbb"));
    missing.expect_code(2);
    assert!(
        missing.stderr().contains("no-such.duckdb does not exist"),
        "{}",
        missing.stderr()
    );
}

#[test]
fn bench_stores_and_compares_with_the_previous_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.duckdb");
    let args = [
        "bench",
        "--iterations",
        "3",
        "--warmup",
        "0",
        "--filter",
        "scoring/equals",
    ];
    let first = command(&args, &db);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(text.contains("scoring/equals"), "{text}");
    assert!(text.contains("(no previous run)"), "{text}");
    let second = command(&args, &db);
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        ["slower", "faster", "no change"]
            .iter()
            .any(|v| text.contains(&format!(" {v} ("))),
        "{text}"
    );
    assert_eq!(
        column(&db, "SELECT count(*)::VARCHAR FROM bench_samples"),
        ["6"]
    );
}
