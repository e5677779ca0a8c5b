//! Servers we do not control: answers without text, huge or nonsensical
//! rate-limit headers, oversized bodies. Nothing panics, nothing garbage
//! passes, nothing broken is cached.

use tokio::runtime::Runtime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Suite, column};

const KEY_VAR: &str = "AI_EVALS_E2E_HOSTILE_KEY";

fn server() -> (Runtime, MockServer) {
    let runtime = Runtime::new().expect("tokio runtime");
    let server = runtime.block_on(MockServer::start());
    (runtime, server)
}

/// One case asking an OpenAI-compatible server at `url`.
fn suite(url: &str, provider_extra: &str) -> Suite {
    Suite::new(&format!(
        r#"[suite]
name = "hostile"
min-pass-rate = 0.0

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.proxy]
type = "openai-compatible"
model = "m"
base-url = "{url}/v1"
api-key-env = "{KEY_VAR}"
max-retries = 3
{provider_extra}

[defaults]
assert = [{{ type = "contains", value = "4" }}]

[[tests]]
id = "sum"
vars = {{ q = "2 + 2" }}
"#
    ))
}

fn run(suite: &Suite) -> crate::support::Run {
    let cache = suite.path("cache");
    suite.run_env(
        &["--cache-dir", cache.to_str().unwrap()],
        &[(KEY_VAR, "sk-hostile"), ("GITHUB_REF_NAME", "main")],
    )
}

const GOOD: &str = r#"{"choices":[{"message":{"role":"assistant","content":"4"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;

fn answer(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

#[test]
fn an_answer_without_text_is_an_error_retried_once_and_never_cached() {
    for body in [
        r#"{"choices":[{"message":{}}]}"#,
        r#"{"choices":[{"message":{"content":null}}]}"#,
        r#"{"choices":[]}"#,
        r#"{"choices":[{"message":{"content":42}}]}"#,
        r#"{}"#,
        "<html><body>502 Bad Gateway</body></html>",
        r#"{"choices":[{"message":{"content":"4"#,
    ] {
        let (runtime, server) = server();
        runtime.block_on(
            Mock::given(method("POST"))
                .and(path("/v1/chat/completions"))
                .respond_with(answer(body))
                .mount(&server),
        );
        let suite = suite(&server.uri(), "");
        // The case fails with its error; the suite's gate (min-pass-rate 0) holds.
        run(&suite).expect_code(0);
        let stored = column(
            &suite.db(),
            "SELECT attempts || ' ' || passed || ' ' || error FROM case_results",
        );
        assert_eq!(stored.len(), 1);
        assert!(
            stored[0].starts_with("2 false unreadable answer from"),
            "{body}: {stored:?}"
        );
        assert!(stored[0].contains("the body began"), "{stored:?}");
        let requests = runtime.block_on(server.received_requests()).unwrap();
        assert_eq!(requests.len(), 2, "{body}: asked once more, not five times");
        assert!(
            !suite.path("cache/v1/responses").exists()
                || std::fs::read_dir(suite.path("cache/v1/responses"))
                    .unwrap()
                    .count()
                    == 0,
            "{body}: a broken answer was cached"
        );
    }
}

#[test]
fn a_broken_answer_then_a_good_one_passes() {
    let (runtime, server) = server();
    runtime.block_on(async {
        Mock::given(method("POST"))
            .respond_with(answer(r#"{"choices":[{"message":{}}]}"#))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(answer(GOOD))
            .mount(&server)
            .await;
    });
    let suite = suite(&server.uri(), "");
    run(&suite).expect_code(0);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT attempts || ' ' || passed FROM case_results"
        ),
        ["2 true"]
    );
}

#[test]
fn nonsensical_rate_limit_headers_do_not_crash_the_run() {
    for (name, value) in [
        ("x-ratelimit-reset-requests", "99999999999999999999s"),
        ("retry-after-ms", "1e23"),
        ("retry-after", "1e308"),
        ("x-ratelimit-remaining-requests", "99999999999999999999999"),
        ("x-ratelimit-remaining-tokens", "-5"),
        ("x-ratelimit-limit-requests", "NaN"),
        ("x-ratelimit-reset-tokens", "abc"),
        ("anthropic-ratelimit-requests-reset", "not a date"),
    ] {
        let (runtime, server) = server();
        runtime.block_on(
            Mock::given(method("POST"))
                .respond_with(answer(GOOD).insert_header(name, value))
                .mount(&server),
        );
        let suite = suite(&server.uri(), "rpm = 600");
        let run = run(&suite);
        run.expect_code(0);
        assert_eq!(
            column(&suite.db(), "SELECT status FROM runs"),
            ["finished"],
            "{name}: {value}"
        );
    }
}

#[test]
fn an_oversized_answer_is_refused_with_the_setting_to_change() {
    let (runtime, server) = server();
    let huge = format!(
        r#"{{"choices":[{{"message":{{"content":"{}"}}}}]}}"#,
        "4".repeat(64 * 1024)
    );
    runtime.block_on(
        Mock::given(method("POST"))
            .respond_with(answer(&huge))
            .mount(&server),
    );
    let suite = suite(&server.uri(), "max-response-size = \"16KiB\"");
    run(&suite).expect_code(0);
    let error = column(&suite.db(), "SELECT error FROM case_results");
    assert!(
        error[0].contains("larger than 16384 bytes; raise the provider's max-response-size"),
        "{error:?}"
    );
}

/// Three cases asked one at a time, so the second goes out only after the
/// first's headers were read.
fn three_cases(url: &str) -> Suite {
    Suite::new(&format!(
        r#"[suite]
name = "stalled"
min-pass-rate = 0.0
concurrency = 1

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.proxy]
type = "openai-compatible"
model = "m"
base-url = "{url}/v1"
api-key-env = "{KEY_VAR}"

[defaults]
assert = [{{ type = "contains", value = "4" }}]

[[tests]]
id = "one"
vars = {{ q = "1" }}

[[tests]]
id = "two"
vars = {{ q = "2" }}

[[tests]]
id = "three"
vars = {{ q = "3" }}
"#
    ))
}

#[test]
fn headers_that_ask_for_a_day_long_wait_fail_the_run_at_once_and_lose_nothing() {
    for (limit, remaining, reset) in [
        ("1", "0", "24h"),
        ("1", "0", "86400s"),
        // Junk: a reset past any clock (read as the most a reset can be, a day).
        ("1", "0", "99999999999999999999s"),
    ] {
        let (runtime, server) = server();
        runtime.block_on(
            Mock::given(method("POST"))
                .respond_with(
                    answer(GOOD)
                        .insert_header("x-ratelimit-limit-requests", limit)
                        .insert_header("x-ratelimit-remaining-requests", remaining)
                        .insert_header("x-ratelimit-reset-requests", reset),
                )
                .mount(&server),
        );
        let suite = three_cases(&server.uri());
        let run = suite.run_env(
            &["--no-cache"],
            &[(KEY_VAR, "sk-hostile"), ("GITHUB_ACTIONS", "true")],
        );
        let what = format!("{limit}/{remaining}/{reset}");
        run.expect_code(3);
        let stderr = run.stderr();
        assert!(
            stderr.contains("warning: proxy: the ")
                && stderr.contains("would hold the next request back for")
                && stderr.contains("longer than [limits] max-wait (300 s (5.0 min))"),
            "{what}: {stderr}"
        );
        assert!(
            stderr.contains("error: the run stopped: proxy: ")
                && stderr.contains("The 1 cases answered are stored"),
            "{what}: {stderr}"
        );
        let requests = runtime.block_on(server.received_requests()).unwrap();
        assert_eq!(
            requests.len(),
            1,
            "{what}: nothing was sent after the stall"
        );
        assert_eq!(
            column(
                &suite.db(),
                "SELECT case_id || ' ' || passed FROM case_results"
            ),
            ["one true"],
            "{what}"
        );
        assert_eq!(column(&suite.db(), "SELECT status FROM runs"), ["failed"]);
        // A failed run prints its report through the same fence as any.
        assert!(
            run.stdout().starts_with("::stop-commands::"),
            "{what}: {}",
            run.stdout()
        );
    }
}
