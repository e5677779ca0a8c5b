//! The gate a team can trust: every real breakage caught with its cause
//! named, and nothing that fails open (no cases, a dataset cut short, a
//! comparison that errored).

use mock_provider::{Config as MockConfig, MockServer};
use tokio::runtime::Runtime;

use crate::support::{Suite, column};

/// A 20-case suite scoring an application's logged answers (`replay`).
const REPLAYED: &str = r#"[suite]
name = "replayed"
min-pass-rate = 0.0

[providers.app]
type = "replay"
file = "outputs.jsonl"

[defaults]
assert = [{ type = "equals", value = "{{ expected }}" }]

[[datasets]]
path = "cases.jsonl"
"#;

/// The logged answers, the first `wrong` of them wrong now.
fn replayed(wrong: usize) -> Suite {
    let suite = Suite::new(REPLAYED);
    let cases: String = (0..20)
        .map(|i| format!("{{\"id\": \"c{i:02}\", \"expected\": \"answer {i}\"}}\n"))
        .collect();
    suite.write("cases.jsonl", cases);
    log_answers(&suite, wrong);
    suite
}

fn log_answers(suite: &Suite, wrong: usize) {
    let outputs: String = (0..20)
        .map(|i| {
            let answer = if i < wrong {
                "I don't know".to_string()
            } else {
                format!("answer {i}")
            };
            format!("{{\"id\": \"c{i:02}\", \"output\": \"{answer}\"}}\n")
        })
        .collect();
    suite.write("outputs.jsonl", outputs);
}

fn on<'a>(branch: &'a str, sha: &'a str) -> [(&'a str, &'a str); 2] {
    [("GITHUB_REF_NAME", branch), ("GITHUB_SHA", sha)]
}

#[test]
fn a_deterministic_suite_is_graded_by_the_bands_and_names_the_cause() {
    // A band's edge belongs to it: 5 of 20 (25 %) is major.
    for (wrong, fail_on, severity) in [
        (4, "minor", "MINOR"),
        (5, "major", "MAJOR"),
        (6, "major", "MAJOR"),
        (9, "major", "MAJOR"),
        (11, "critical", "CRITICAL"),
    ] {
        let suite = replayed(0);
        suite.run_env(&[], &on("main", "aaaaaaa1")).expect_code(0);
        log_answers(&suite, wrong);
        let reports = suite.path("reports");
        let pr = suite.run_env(
            &[
                "--fail-on",
                fail_on,
                "--report-dir",
                reports.to_str().unwrap(),
            ],
            &on("feature", "bbbbbbb2"),
        );
        pr.expect_code(1);
        let out = pr.stdout();
        assert!(
            out.contains(&format!("verdict: {severity} regression")),
            "{wrong}: {out}"
        );
        assert!(
            out.contains(&format!(
                "{wrong} cases newly failing: all {wrong} because the application's output changed"
            )),
            "{out}"
        );
        let comment = std::fs::read_to_string(reports.join("comment.md")).unwrap();
        assert!(
            comment.contains(&format!("**{wrong} newly failing** (output-changed)")),
            "{comment}"
        );
        assert!(comment.contains("because the application"), "{comment}");
        // report.json's verdict is the exit code's, whatever the pass rate.
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(reports.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(report["pass_rate_met"], true, "min-pass-rate 0");
        assert_eq!(report["gate_passed"], false, "{wrong}");
        // One band lower does not fail the gate.
        if fail_on != "minor" {
            let lower = if fail_on == "critical" {
                "never"
            } else {
                "critical"
            };
            // Certain breakage has its own threshold (major by default).
            suite
                .run_env(
                    &["--fail-on", lower, "--fail-on-certain", lower],
                    &on("feature", "bbbbbbb2"),
                )
                .expect_code(0);
        }
    }
}

#[test]
fn eleven_of_twenty_failing_fails_the_default_gate() {
    let suite = replayed(0);
    suite.run_env(&[], &on("main", "aaaaaaa1")).expect_code(0);
    log_answers(&suite, 11);
    let pr = suite.run_env(&[], &on("feature", "bbbbbbb2"));
    pr.expect_code(1);
    assert!(
        pr.stdout().contains("critical: pass rate 100.0% → 45.0%"),
        "{}",
        pr.stdout()
    );
}

#[test]
fn a_dataset_of_only_malformed_rows_fails_the_gate() {
    let suite = replayed(0);
    suite.write("cases.jsonl", "{not json\n[1, 2]\n\"text\"\n");
    let run = suite.run_env(&[], &on("main", "aaaaaaa1"));
    run.expect_code(1);
    assert!(
        run.stdout()
            .contains("no case was scored (3 malformed rows were skipped)"),
        "{}",
        run.stdout()
    );
}

#[test]
fn a_json_dataset_cut_short_fails_the_gate() {
    let suite = Suite::new(&REPLAYED.replace("cases.jsonl", "cases.json"));
    log_answers(&suite, 0);
    suite.write(
        "cases.json",
        "[{\"id\": \"c00\", \"expected\": \"answer 0\"},\n {\"id\": \"c01\", \"expected\": \"answer 1\"},\n {\"id\": \"c02\", \"expected\": \"answer 2},\n {\"id\": \"c03\", \"expected\": \"answer 3\"}]\n",
    );
    let run = suite.run_env(&[], &on("main", "aaaaaaa1"));
    run.expect_code(1);
    let out = run.stdout();
    assert!(out.contains("2 cases: 2 passed"), "{out}");
    assert!(out.contains("a dataset was cut short"), "{out}");
    assert!(out.contains("cases.json:3"), "{out}");
}

#[test]
fn a_comparison_that_errors_fails_the_gate() {
    let suite = replayed(0);
    let base = suite.path("main.duckdb");
    suite.run_env(&[], &on("main", "aaaaaaa1")).expect_code(0);
    std::fs::copy(suite.db(), &base).unwrap();
    // The baseline file opens, but one of its tables is gone: reading the
    // history fails after the run.
    duckdb::Connection::open(&base)
        .unwrap()
        .execute_batch("DROP TABLE timings")
        .unwrap();
    let pr = suite.run_env(
        &["--baseline-db", base.to_str().unwrap()],
        &on("feature", "bbbbbbb2"),
    );
    pr.expect_code(1);
    assert!(
        pr.stdout().contains(
            "the comparison with the baseline failed, so no regression could be ruled out"
        ),
        "{}",
        pr.stdout()
    );
}

#[test]
fn removed_cases_are_listed_and_can_fail_the_gate() {
    let suite = replayed(0);
    suite.run_env(&[], &on("main", "aaaaaaa1")).expect_code(0);
    let fewer: String = (2..20)
        .map(|i| format!("{{\"id\": \"c{i:02}\", \"expected\": \"answer {i}\"}}\n"))
        .collect();
    suite.write("cases.jsonl", fewer);
    let pr = suite.run_env(&[], &on("feature", "bbbbbbb2"));
    pr.expect_code(0);
    assert!(
        pr.stdout()
            .contains("removed from the baseline (2): c00 (passed), c01 (passed)"),
        "{}",
        pr.stdout()
    );
    suite.write(
        "evals.toml",
        format!("{REPLAYED}\n[compare]\nfail-on-removed = true\n"),
    );
    let strict = suite.run_env(&[], &on("feature", "ccccccc3"));
    strict.expect_code(1);
    assert!(
        strict
            .stdout()
            .contains("2 cases of the baseline are gone from this run"),
        "{}",
        strict.stdout()
    );
}

const KEY_VAR: &str = "AI_EVALS_E2E_GATE_KEY";

fn mock() -> (Runtime, MockServer) {
    let runtime = Runtime::new().expect("tokio runtime");
    let server = runtime
        .block_on(mock_provider::start(MockConfig::default()))
        .expect("start mock");
    (runtime, server)
}

/// Cases whose prompt is `{{ prefix }}{{ q }}`; the mock answers with the
/// prompt, and the assertion wants the `Q: ` prefix.
fn prompted(server: &MockServer) -> Suite {
    Suite::new(&format!(
        r#"[suite]
name = "prompted"
min-pass-rate = 0.0

[prompts]
ask = "{{{{ prefix }}}}{{{{ q }}}}"

[providers.gpt]
type = "openai-compatible"
model = "gpt-4o-mini"
base-url = "{}/v1"
api-key-env = "{KEY_VAR}"

[defaults]
assert = [{{ type = "starts-with", value = "Q: " }}]

[[datasets]]
path = "cases.jsonl"
"#,
        server.url()
    ))
}

fn prompts(suite: &Suite, changed: usize) {
    let rows: String = (0..20)
        .map(|i| {
            let prefix = if i < changed { "Question: " } else { "Q: " };
            format!("{{\"id\": \"p{i:02}\", \"prefix\": \"{prefix}\", \"q\": \"question {i}\"}}\n")
        })
        .collect();
    suite.write("cases.jsonl", rows);
}

#[test]
fn changed_prompts_are_attributed_to_the_request_with_the_rest_from_the_cache() {
    let (_runtime, server) = mock();
    let suite = prompted(&server);
    let cache = suite.path("cache");
    let args = ["--cache-dir", cache.to_str().unwrap(), "--fail-on", "minor"];
    let key = [(KEY_VAR, "sk-gate")];
    prompts(&suite, 0);
    suite
        .run_env(&args, &[on("main", "aaaaaaa1").as_slice(), &key].concat())
        .expect_code(0);
    prompts(&suite, 5);
    let pr = suite.run_env(
        &args,
        &[on("feature", "bbbbbbb2").as_slice(), &key].concat(),
    );
    pr.expect_code(1);
    let out = pr.stdout();
    assert!(
        out.contains(
            "5 cases newly failing: all 5 because this PR changed their request (prompt, model, parameters or vars)"
        ),
        "{out}"
    );
    assert_eq!(
        column(
            &suite.db(),
            "SELECT count(*) FILTER (WHERE cached)::VARCHAR FROM case_results
              WHERE run_id = (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1)"
        ),
        ["15"],
        "the unchanged cases came from the cache"
    );
    assert_eq!(
        server.stats().requests,
        25,
        "20 on main, 5 changed on the PR"
    );
}
