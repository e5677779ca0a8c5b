//! Issue 21: the gate when a pull request changes the suite itself. Each
//! test is one row of the issue's table: main's history is made by real
//! runs on master, and the pull request runs as the Action runs it, on the
//! same history with a `pull_request` event whose base is main's last run.

use std::path::{Path, PathBuf};

use mock_provider::{Config as MockConfig, MockServer};
use tokio::runtime::Runtime;

use crate::support::{Run, Suite, column};

/// `pull_request.base.sha` of the event fixture; its base branch is master.
const BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";

fn event() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/github-events/pull_request_opened.payload.json")
}

/// A run on master at commit `sha`.
fn on_main(suite: &Suite, sha: &str, extra: &[&str]) -> Run {
    suite.run_env(extra, &[("GITHUB_REF_NAME", "master"), ("GITHUB_SHA", sha)])
}

/// The pull request's run, with its report files in `reports/`.
fn pull_request(suite: &Suite, extra: &[&str]) -> Run {
    let reports = suite.path("reports");
    let mut args = vec!["--report-dir", reports.to_str().unwrap()];
    args.extend_from_slice(extra);
    let event = event();
    suite.run_env(
        &args,
        &[
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_HEAD_REF", "changes"),
        ],
    )
}

fn comment(suite: &Suite) -> String {
    std::fs::read_to_string(suite.path("reports/comment.md")).expect("comment.md")
}

fn report(suite: &Suite) -> serde_json::Value {
    let text = std::fs::read_to_string(suite.path("reports/report.json")).expect("report.json");
    serde_json::from_str(&text).expect("report.json is JSON")
}

/// An echo suite: the answer is the prompt `Q: {{ q }}`, and a case passes
/// when it contains `{{ expected }}`.
fn echo_suite(name: &str, dataset: &str) -> String {
    format!(
        r#"[suite]
name = "{name}"
min-pass-rate = 0.0

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.app]
type = "echo"

[defaults]
assert = [{{ type = "contains", value = "{{{{ expected }}}}" }}]

[[datasets]]
path = "{dataset}"
"#
    )
}

/// JSONL rows `c00`…: row `i` passes unless `broken(i)`.
fn rows(n: usize, broken: impl Fn(usize) -> bool) -> String {
    (0..n)
        .map(|i| {
            let q = if broken(i) {
                format!("nothing about {i}")
            } else {
                format!("answer {i}")
            };
            format!("{{\"id\": \"c{i:02}\", \"q\": \"{q}\", \"expected\": \"answer {i}\"}}\n")
        })
        .collect()
}

/// CSV rows without ids: row `i` passes unless `broken(i)`.
fn csv_rows(n: usize, broken: impl Fn(usize) -> bool) -> Vec<String> {
    (0..n)
        .map(|i| {
            let q = if broken(i) {
                format!("nothing about {i}")
            } else {
                format!("answer {i}")
            };
            format!("{q},answer {i}")
        })
        .collect()
}

fn csv(lines: &[String]) -> String {
    format!("q,expected\n{}\n", lines.join("\n"))
}

#[test]
fn fixes_are_improvements_and_never_cancel_breakages() {
    let suite = Suite::new(&echo_suite("fixes", "cases.jsonl"));
    suite.write("cases.jsonl", rows(40, |i| i < 10));
    on_main(&suite, BASE, &[]).expect_code(0);
    // The pull request fixes the 10 failing cases and breaks 10 others.
    suite.write("cases.jsonl", rows(40, |i| (10..20).contains(&i)));
    let pr = pull_request(&suite, &["--fail-on", "major"]);
    pr.expect_code(1);
    let out = pr.stdout();
    assert!(out.contains("verdict: MAJOR regression"), "{out}");
    assert!(out.contains("pass rate 75.0% → 75.0%"), "{out}");
    assert!(out.contains("newly passing (10)"), "{out}");
    assert!(
        out.contains("33% of the 30 that passed on the baseline broke"),
        "{out}"
    );
    assert!(
        out.contains("improvements, which never offset a failure"),
        "{out}"
    );
    assert!(comment(&suite).contains("## ❌ ai-evals · `fixes`: gate failed"));
}

#[test]
fn rows_edited_in_place_without_ids_are_paired_by_position() {
    let suite = Suite::new(&echo_suite("no-ids", "cases.csv"));
    suite.write("cases.csv", csv(&csv_rows(40, |_| false)));
    on_main(&suite, BASE, &[]).expect_code(0);
    suite.write("cases.csv", csv(&csv_rows(40, |i| i % 3 == 0 && i < 36)));
    for fail_on in ["critical", "minor"] {
        let pr = pull_request(&suite, &["--fail-on", fail_on]);
        pr.expect_code(1);
        let out = pr.stdout();
        assert!(
            out.contains("40 shared cases (12 edited rows paired with the rows they replaced: 0 by their inputs, 12 by their position)"),
            "{out}"
        );
        assert!(
            out.contains("12 cases newly failing: all 12 because this PR changed their request"),
            "{out}"
        );
        assert!(out.contains("verdict: MAJOR regression"), "{out}");
    }
}

#[test]
fn rows_that_cannot_be_paired_are_judged_by_the_whole_suites_pass_rate() {
    let suite = Suite::new(&echo_suite("re-keyed", "cases.csv"));
    let good = csv_rows(40, |_| false);
    suite.write("cases.csv", csv(&good));
    on_main(&suite, BASE, &[]).expect_code(0);
    // 12 rows edited so that they fail, and moved to the end of the file:
    // neither their inputs nor their position match any more.
    let broken = csv_rows(40, |i| i < 12);
    let mut moved: Vec<String> = good[12..].to_vec();
    moved.extend(broken[..12].iter().cloned());
    suite.write("cases.csv", csv(&moved));
    let pr = pull_request(&suite, &[]);
    pr.expect_code(0);
    let out = pr.stdout();
    assert!(out.contains("28 shared cases, 12 new, 12 removed"), "{out}");
    assert!(
        out.contains("compared only 28 of the baseline's 40 cases case by case"),
        "{out}"
    );
    assert!(
        out.contains("suite pass rate 100.0% (40 cases) → 70.0% (40 cases) MINOR"),
        "{out}"
    );
    let comment = comment(&suite);
    assert!(
        comment.contains("## ⚠️ ai-evals · `re-keyed`: regressions found"),
        "{comment}"
    );
    assert!(
        comment.contains("**Only 28 of the baseline's 40 cases were compared case by case.**"),
        "{comment}"
    );
    assert!(
        comment.contains("- **suite pass rate** 100.0%"),
        "{comment}"
    );
    let strict = pull_request(&suite, &["--fail-on", "minor"]);
    strict.expect_code(1);
    assert!(
        strict.stdout().contains(
            "minor: the suite's pass rate fell from 100.0% (40 of 40 cases) to 70.0% (28 of 40)"
        ),
        "{}",
        strict.stdout()
    );
}

#[test]
fn adding_a_prompt_keeps_the_old_prompts_cases_paired() {
    let config = echo_suite("prompts", "cases.jsonl");
    let suite = Suite::new(&config);
    suite.write("cases.jsonl", rows(40, |_| false));
    on_main(&suite, BASE, &[]).expect_code(0);
    // A second prompt, and the first one broken.
    let changed = config
        .replace(
            "ask = \"Q: {{ q }}\"",
            "ask = \"Q: I cannot say\"\nterse = \"{{ q }}\"",
        )
        .replace(
            "[defaults]\n",
            "[defaults]\nprompts = [\"ask\", \"terse\"]\n",
        );
    suite.write("evals.toml", changed);
    let pr = pull_request(&suite, &[]);
    pr.expect_code(1);
    let out = pr.stdout();
    assert!(out.contains("40 shared cases, 40 new"), "{out}");
    assert!(!out.contains("removed"), "{out}");
    assert!(
        out.contains("40 cases newly failing: all 40 because this PR changed their request"),
        "{out}"
    );
    assert!(out.contains("verdict: CRITICAL regression"), "{out}");
}

const KEY_VAR: &str = "AI_EVALS_E2E_SUITE_CHANGE_KEY";

fn mock(config: MockConfig) -> (Runtime, MockServer) {
    let runtime = Runtime::new().expect("tokio runtime");
    let server = runtime
        .block_on(mock_provider::start(config))
        .expect("start mock");
    (runtime, server)
}

/// A suite answered by a model at `url`; the mock answers with the
/// prompt, so a case passes while its prompt starts with `Q: `.
fn model_suite(url: &str) -> String {
    format!(
        r#"[suite]
name = "model"
min-pass-rate = 0.0

[prompts]
ask = "{{{{ prefix }}}}{{{{ q }}}}"

[providers.gpt]
type = "openai-compatible"
model = "gpt-4o-mini"
base-url = "{url}/v1"
api-key-env = "{KEY_VAR}"
max-retries = 0

[defaults]
assert = [{{ type = "starts-with", value = "Q: " }}]

[[datasets]]
path = "cases.jsonl"
"#
    )
}

fn prefixed(n: usize, broken: impl Fn(usize) -> bool) -> String {
    (0..n)
        .map(|i| {
            let prefix = if broken(i) { "A: " } else { "Q: " };
            format!("{{\"id\": \"m{i:02}\", \"prefix\": \"{prefix}\", \"q\": \"question {i}\"}}\n")
        })
        .collect()
}

#[test]
fn an_outage_on_main_is_never_the_baseline() {
    let (_healthy_rt, healthy) = mock(MockConfig::default());
    let (_outage_rt, outage) = mock(MockConfig {
        error_rate: 1.0,
        ..MockConfig::default()
    });
    let suite = Suite::new(&model_suite(&healthy.url()));
    suite.write("cases.jsonl", prefixed(40, |_| false));
    let key = (KEY_VAR, "sk-suite-change");
    let old = "1111111111111111111111111111111111111111";
    let main_env = |sha: &'static str| [("GITHUB_REF_NAME", "master"), ("GITHUB_SHA", sha), key];
    suite
        .run_env(&["--no-cache"], &main_env(old))
        .expect_code(0);
    // main's newest run, at the pull request's base, hit an outage.
    suite.write("evals.toml", model_suite(&outage.url()));
    let down = suite.run_env(&["--no-cache"], &main_env(BASE));
    assert_eq!(
        column(
            &suite.db(),
            "SELECT cases_errored::VARCHAR FROM runs ORDER BY started_at DESC LIMIT 1"
        ),
        ["40"],
        "{}",
        down.stdout()
    );
    // The pull request breaks 14 of 40 cases (35 %).
    suite.write("evals.toml", model_suite(&healthy.url()));
    suite.write("cases.jsonl", prefixed(40, |i| i < 14));
    let reports = suite.path("reports");
    let event = event();
    let pr = suite.run_env(
        &["--no-cache", "--report-dir", reports.to_str().unwrap()],
        &[
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_HEAD_REF", "changes"),
            key,
        ],
    );
    pr.expect_code(1);
    let out = pr.stdout();
    assert!(
        out.contains("skipped run") && out.contains("(commit f95f852) as a baseline: 40 of its 40 cases errored (100%, above [compare] max-baseline-errors 20%)"),
        "{out}"
    );
    assert!(
        out.contains("the newest healthy run on master, commit 1111111"),
        "{out}"
    );
    assert!(
        out.contains("14 cases newly failing: all 14 because this PR changed their request"),
        "{out}"
    );
    assert!(out.contains("verdict: MAJOR regression"), "{out}");
    assert!(comment(&suite).contains("as a baseline: 40 of its 40 cases errored"));
}

#[test]
fn malformed_rows_fail_the_gate_unless_allowed() {
    let suite = Suite::new(&echo_suite("malformed", "cases.csv"));
    suite.write("cases.csv", csv(&csv_rows(40, |_| false)));
    on_main(&suite, BASE, &[]).expect_code(0);
    // 10 rows lose their closing quote or gain a column.
    let mut lines = csv_rows(40, |_| false);
    for line in lines.iter_mut().step_by(4) {
        line.push_str(",extra");
    }
    suite.write("cases.csv", csv(&lines));
    let pr = pull_request(&suite, &[]);
    pr.expect_code(1);
    let out = pr.stdout();
    assert!(
        out.contains("the dataset was cut short: 10 rows unreadable at ")
            && out.contains("cases.csv:2, "),
        "{out}"
    );
    assert!(out.contains("--allow-malformed"), "{out}");
    let allowed = pull_request(&suite, &["--allow-malformed"]);
    allowed.expect_code(0);
    assert!(
        allowed.stdout().contains("30 shared cases, 10 removed"),
        "{}",
        allowed.stdout()
    );
    // The same through the config.
    suite.write(
        "evals.toml",
        echo_suite("malformed", "cases.csv").replace(
            "min-pass-rate = 0.0",
            "min-pass-rate = 0.0\nallow-malformed = true",
        ),
    );
    pull_request(&suite, &[]).expect_code(0);
    // A main run with malformed rows it did not allow never becomes a
    // baseline.
    let main_config = echo_suite("malformed", "cases.csv");
    suite.write("evals.toml", &main_config);
    on_main(&suite, BASE, &[]).expect_code(1);
    suite.write("cases.csv", csv(&csv_rows(40, |_| false)));
    let pr = pull_request(&suite, &[]);
    pr.expect_code(0);
    assert!(
        pr.stdout()
            .contains("10 malformed dataset rows were skipped"),
        "{}",
        pr.stdout()
    );
}

#[test]
fn a_renamed_suite_finds_its_runs_by_config_file() {
    let suite = Suite::new(&echo_suite("support-bot", "cases.jsonl"));
    suite.write("cases.jsonl", rows(40, |_| false));
    on_main(&suite, BASE, &[]).expect_code(0);
    suite.write("evals.toml", echo_suite("support-bot-v2", "cases.jsonl"));
    suite.write("cases.jsonl", rows(40, |i| i % 2 == 0));
    let pr = pull_request(&suite, &[]);
    pr.expect_code(1);
    let out = pr.stdout();
    assert!(
        out.contains("the suite was renamed: its earlier runs are named support-bot"),
        "{out}"
    );
    assert!(out.contains("verdict: CRITICAL regression"), "{out}");
    assert!(
        comment(&suite).contains("The suite was renamed: its earlier runs are named `support-bot`")
    );

    // With no earlier run at all, --require-baseline fails the gate.
    let fresh = Suite::new(&echo_suite("fresh", "cases.jsonl"));
    fresh.write("cases.jsonl", rows(10, |_| false));
    pull_request(&fresh, &[]).expect_code(0);
    assert!(
        comment(&fresh).contains("## ⚪ ai-evals · `fresh`: no baseline"),
        "{}",
        comment(&fresh)
    );
    let required = pull_request(&fresh, &["--require-baseline"]);
    required.expect_code(1);
    assert!(
        required
            .stdout()
            .contains("there is no baseline to compare with and a baseline is required"),
        "{}",
        required.stdout()
    );
}

#[test]
fn deterministic_breakage_blocks_at_major_by_default() {
    for (broken, verdict) in [(10, "MAJOR"), (20, "CRITICAL")] {
        let suite = Suite::new(&echo_suite("certain", "cases.jsonl"));
        suite.write("cases.jsonl", rows(40, |_| false));
        on_main(&suite, BASE, &[]).expect_code(0);
        suite.write("cases.jsonl", rows(40, |i| i < broken));
        let pr = pull_request(&suite, &[]);
        pr.expect_code(1);
        let out = pr.stdout();
        assert!(
            out.contains(&format!("verdict: {verdict} regression")),
            "{out}"
        );
        if broken == 10 {
            assert!(
                out.contains("major: 10 of the 40 cases that passed on the baseline newly fail because of this PR's changes (25%); breakage with a certain cause fails at major ([compare] fail-on-certain)"),
                "{out}"
            );
        }
        assert_eq!(report(&suite)["fail_on_certain"], "major");
    }
    // Below the band the default gate passes; a stricter config blocks.
    let suite = Suite::new(&echo_suite("certain", "cases.jsonl"));
    suite.write("cases.jsonl", rows(40, |_| false));
    on_main(&suite, BASE, &[]).expect_code(0);
    suite.write("cases.jsonl", rows(40, |i| i < 9));
    pull_request(&suite, &[]).expect_code(0);
    pull_request(&suite, &["--fail-on-certain", "minor"]).expect_code(1);
}

#[test]
fn the_headline_says_when_a_comparison_covered_only_part_of_the_suite() {
    let suite = Suite::new(&echo_suite("partial", "cases.jsonl"));
    suite.write("cases.jsonl", rows(40, |_| false));
    pull_request(&suite, &[]).expect_code(0);
    assert!(comment(&suite).contains("## ⚪ ai-evals · `partial`: no baseline"));
    assert_eq!(report(&suite)["headline"], "no_baseline");
    on_main(&suite, BASE, &[]).expect_code(0);
    pull_request(&suite, &[]).expect_code(0);
    assert!(comment(&suite).contains("## ✅ ai-evals · `partial`: pass"));
    // 12 cases get new ids: the comparison covers 28 of the 40.
    let renamed: String = rows(40, |_| false)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i < 12 {
                format!("{}\n", line.replace("\"c", "\"renamed-c"))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    suite.write("cases.jsonl", renamed);
    pull_request(&suite, &[]).expect_code(0);
    let comment = comment(&suite);
    assert!(
        comment.contains("## ⚠️ ai-evals · `partial`: compared 28 of 40 cases"),
        "{comment}"
    );
    assert_eq!(report(&suite)["headline"], "partial");
}

/// main's runs as if they had run on a runner far faster than this one:
/// every stage timing tiny, with a little spread from run to run.
fn main_ran_on_a_faster_runner(db: &Path) {
    let conn = duckdb::Connection::open(db).expect("open history");
    let ids: Vec<String> = conn
        .prepare("SELECT run_id FROM runs WHERE branch = 'master' ORDER BY started_at")
        .and_then(|mut s| {
            s.query_map([], |row| row.get(0))?
                .collect::<duckdb::Result<Vec<String>>>()
        })
        .expect("main's runs");
    for (k, id) in ids.iter().enumerate() {
        conn.execute(
            "UPDATE timings SET duration_ms = ? WHERE run_id = ?",
            duckdb::params![0.1 * (1.0 + 0.01 * k as f64), id],
        )
        .expect("rewrite main's timings");
    }
}

#[test]
fn a_slower_runner_is_advisory_and_provider_latency_still_gates() {
    let config = echo_suite("runner", "cases.jsonl").replace(
        "[[datasets]]",
        "[compare]\ntiming-floor-ms = 0\n\n[[datasets]]",
    );
    let suite = Suite::new(&config);
    suite.write("cases.jsonl", rows(40, |_| false));
    for i in 0..6 {
        let sha = if i == 5 {
            BASE.to_string()
        } else {
            format!("{i}{}", &BASE[1..])
        };
        on_main(&suite, &sha, &[]).expect_code(0);
    }
    main_ran_on_a_faster_runner(&suite.db());
    // Nothing changed but the runner.
    let pr = pull_request(&suite, &[]);
    pr.expect_code(0);
    let out = pr.stdout();
    assert!(out.contains("verdict: no regression"), "{out}");
    assert!(
        out.contains("timing total") && out.contains("(advisory: runner speed, not gated)"),
        "{out}"
    );
    let comment = comment(&suite);
    assert!(
        comment.contains("### Advisory: this runner's speed"),
        "{comment}"
    );
    assert!(
        comment.contains("## ✅ ai-evals · `runner`: pass"),
        "{comment}"
    );
    // Opting in makes the same timings gate.
    suite.write(
        "evals.toml",
        config.replace(
            "timing-floor-ms = 0",
            "timing-floor-ms = 0\ngate-on-timings = [\"latency\", \"stages\"]",
        ),
    );
    let gated = pull_request(&suite, &[]);
    gated.expect_code(1);
    assert!(
        gated.stdout().contains("critical: timing total up"),
        "{}",
        gated.stdout()
    );
}

#[test]
fn provider_latency_gates_against_mains_spread() {
    let (_fast_rt, fast) = mock(MockConfig {
        latency: std::time::Duration::from_millis(5),
        ..MockConfig::default()
    });
    let (_slow_rt, slow) = mock(MockConfig {
        latency: std::time::Duration::from_millis(400),
        ..MockConfig::default()
    });
    let suite = Suite::new(&model_suite(&fast.url()));
    suite.write("cases.jsonl", prefixed(40, |_| false));
    let key = (KEY_VAR, "sk-suite-change");
    for i in 0..6 {
        let sha = if i == 5 {
            BASE.to_string()
        } else {
            format!("{i}{}", &BASE[1..])
        };
        suite
            .run_env(
                &["--no-cache"],
                &[("GITHUB_REF_NAME", "master"), ("GITHUB_SHA", &sha), key],
            )
            .expect_code(0);
    }
    suite.write("evals.toml", model_suite(&slow.url()));
    let event = event();
    let pr = suite.run_env(
        &["--no-cache", "--concurrency", "40"],
        &[
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_HEAD_REF", "changes"),
            key,
        ],
    );
    pr.expect_code(1);
    assert!(
        pr.stdout().contains("critical: latency (typical case) up"),
        "{}",
        pr.stdout()
    );
}

/// A history written before schema 7 (the previous release) has no row
/// identities: ids still pair, and rows whose derived ids changed fall to
/// the whole suite's pass rate instead of being lost.
#[test]
fn a_history_from_the_previous_release_still_pairs_and_judges_the_suite() {
    let suite = Suite::new(&echo_suite("older", "cases.csv"));
    suite.write("cases.csv", csv(&csv_rows(40, |_| false)));
    on_main(&suite, BASE, &[]).expect_code(0);
    let old = suite.path("main-v6.duckdb");
    std::fs::copy(suite.db(), &old).unwrap();
    duckdb::Connection::open(&old)
        .unwrap()
        .execute_batch(
            "ALTER TABLE case_results DROP COLUMN row_key;
             ALTER TABLE case_results DROP COLUMN inputs_hash;
             ALTER TABLE case_results DROP COLUMN id_given;
             DROP INDEX runs_by_suite_branch;
             DROP INDEX runs_by_sha;
             ALTER TABLE runs DROP COLUMN config_path;
             ALTER TABLE runs DROP COLUMN unfit;
             CREATE INDEX runs_by_suite_branch ON runs (suite, branch, started_at);
             CREATE INDEX runs_by_sha ON runs (git_sha);
             DELETE FROM schema_version WHERE version = 7;",
        )
        .unwrap();
    suite.write("cases.csv", csv(&csv_rows(40, |i| i < 12)));
    let pr = pull_request(
        &suite,
        &["--baseline-db", old.to_str().unwrap(), "--fail-on", "minor"],
    );
    pr.expect_code(1);
    let out = pr.stdout();
    assert!(out.contains("28 shared cases, 12 new, 12 removed"), "{out}");
    assert!(
        out.contains(
            "minor: the suite's pass rate fell from 100.0% (40 of 40 cases) to 70.0% (28 of 40)"
        ),
        "{out}"
    );
    // Opened read-write, the old file is upgraded in place and read alike.
    std::fs::copy(&old, suite.db()).unwrap();
    let run = pull_request(&suite, &["--fail-on", "minor"]);
    run.expect_code(1);
    assert!(
        run.stdout().contains("28 shared cases, 12 new, 12 removed"),
        "{}",
        run.stdout()
    );
}
