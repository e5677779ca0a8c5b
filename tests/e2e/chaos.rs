//! 2,000 cases against a server whose answers are often hostile (chaos
//! mode): truncated JSON, wrong types, absurd rate-limit headers, a reset
//! mid-body, a stalled body, an HTML error page. The run never panics,
//! finishes, and every case either passed on a real answer, failed, or
//! carries its error.

use crate::support::{Suite, column, number};

const KEY_VAR: &str = "AI_EVALS_E2E_CHAOS_KEY";
const CASES: usize = 2000;

#[test]
fn a_hostile_server_cannot_crash_the_run_or_pass_garbage() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(mock_provider::start(mock_provider::Config {
            chaos: 0.2,
            seed: 7,
            ..mock_provider::Config::default()
        }))
        .unwrap();
    let suite = Suite::new(&format!(
        r#"[suite]
name = "chaos"
concurrency = 50
min-pass-rate = 0.0

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.proxy]
type = "openai-compatible"
model = "m"
base-url = "{}/v1"
api-key-env = "{KEY_VAR}"
timeout-secs = 2
max-retries = 2

[defaults]
assert = [{{ type = "equals", value = "Q: {{{{ q }}}}" }}]

[[datasets]]
path = "cases.jsonl"
"#,
        server.url()
    ));
    let rows: String = (0..CASES)
        .map(|i| format!("{{\"id\": \"c{i}\", \"q\": \"question {i}\"}}\n"))
        .collect();
    suite.write("cases.jsonl", rows);
    let run = suite.run_env(&["--no-cache"], &[(KEY_VAR, "sk-chaos")]);
    let code = run.code();
    assert!(code == 0 || code == 1, "exit {code}: {}", run.stderr());
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    assert_eq!(column(&suite.db(), "SELECT status FROM runs"), ["finished"]);
    assert_eq!(
        number(&suite.db(), "SELECT count(*) FROM case_results"),
        CASES as i64
    );
    // A pass is a real answer; anything else failed or says why.
    assert_eq!(
        number(
            &suite.db(),
            "SELECT count(*) FROM case_results
              WHERE passed AND (error IS NOT NULL OR output IS NULL OR NOT starts_with(output, 'Q: '))"
        ),
        0,
        "a hostile answer passed"
    );
    assert_eq!(
        number(
            &suite.db(),
            "SELECT count(*) FROM case_results WHERE NOT passed AND error IS NULL"
        ),
        0,
        "the mock's good answers all pass, so a failure must carry its error"
    );
    let stats = server.stats();
    for kind in [
        "truncated-json",
        "wrong-types",
        "huge-headers",
        "reset-mid-body",
        "stalled-body",
        "html-error",
    ] {
        assert!(
            stats.by_chaos.get(kind).copied().unwrap_or(0) > 0,
            "{kind}: {stats:?}"
        );
    }
    let errors = column(
        &suite.db(),
        "SELECT kind || ' ' || n FROM (
             SELECT CASE WHEN error LIKE '%unreadable answer%' THEN 'unreadable'
                         WHEN error LIKE '%no answer from%' THEN 'timeout'
                         ELSE 'transport' END AS kind, count(*) AS n
               FROM case_results WHERE error IS NOT NULL GROUP BY kind) ORDER BY 1",
    );
    eprintln!(
        "chaos: {CASES} cases, {} passed, errors by kind {errors:?}, hostile answers {:?}",
        number(
            &suite.db(),
            "SELECT count(*) FROM case_results WHERE passed"
        ),
        stats.by_chaos
    );
}
