//! Real HTTP providers against the mock provider server on 127.0.0.1:
//! wire formats, budgets, retries, errors and secrets. Every check counts
//! (requests, 429s, attempts, in-flight); none measures time.

use std::time::Duration;

use mock_provider::{Config as MockConfig, MockServer, Rule};
use tokio::runtime::Runtime;

use crate::support::{Suite, column, number};

/// The variable the suites name for their key; each run sets it.
const KEY_VAR: &str = "AI_EVALS_E2E_KEY";
const KEY: &str = "sk-e2e-SECRET-4242-never-print-me";

/// A mock server on its own runtime (which keeps serving while the test
/// blocks on the binary).
fn mock(config: MockConfig) -> (Runtime, MockServer) {
    let runtime = Runtime::new().expect("tokio runtime");
    let server = runtime
        .block_on(mock_provider::start(config))
        .expect("start mock");
    (runtime, server)
}

/// A suite of `n` inline-free dataset cases `case-0 … case-{n-1}` whose
/// prompt is `Q: case-i`, with `provider` as its only provider.
fn suite(provider: &str, n: usize, extra: &str) -> Suite {
    let suite = Suite::new(&format!(
        r#"[suite]
name = "p"
min-pass-rate = 0.5
{extra}

[prompts]
ask = "Q: {{{{ id }}}}"

[providers.model]
{provider}

[defaults]
assert = [{{ type = "equals", value = "Q: {{{{ id }}}}" }}]

[[datasets]]
path = "cases.jsonl"
"#
    ));
    let rows: String = (0..n)
        .map(|i| format!("{{\"id\": \"case-{i}\"}}\n"))
        .collect();
    suite.write("cases.jsonl", rows);
    suite
}

fn openai(server: &MockServer, extra: &str) -> String {
    format!(
        "type = \"openai\"\nmodel = \"gpt-4o-mini\"\nbase-url = \"{}/v1\"\napi-key-env = \"{KEY_VAR}\"\n{extra}",
        server.url()
    )
}

fn run_with_key(suite: &Suite, extra: &[&str]) -> crate::support::Run {
    suite.run_env(extra, &[(KEY_VAR, KEY)])
}

#[test]
fn openai_answers_are_scored_with_usage_and_cost() {
    let (_rt, server) = mock(MockConfig {
        api_key: Some(KEY.into()),
        ..MockConfig::default()
    });
    let suite = suite(&openai(&server, "max-tokens = 50\ntemperature = 0"), 12, "");
    let run = run_with_key(&suite, &[]);
    run.expect_code(0);
    assert!(
        run.stdout().contains("12 cases: 12 passed"),
        "{}",
        run.stdout()
    );
    let row = column(
        &suite.db(),
        "SELECT provider || ' ' || model || ' ' || output || ' ' || prompt_tokens || '+' || completion_tokens
                || '=' || total_tokens || ' ' || finish_reason || ' ' || attempts || ' ' || (cost_usd > 0) || ' ' || (latency_ms >= 0)
         FROM case_results WHERE case_id = 'case-3'",
    );
    // The mock counts a token per four characters, plus three per message.
    assert_eq!(row, ["model gpt-4o-mini Q: case-3 6+3=9 stop 1 true true"]);
    assert_eq!(server.stats().requests, 12);
    assert_eq!(server.stats().by_status.get("200"), Some(&12));
}

#[test]
fn anthropic_azure_and_compatible_speak_their_formats() {
    let (_rt, server) = mock(MockConfig {
        api_key: Some(KEY.into()),
        ..MockConfig::default()
    });
    let url = server.url();
    let providers = [
        format!(
            "type = \"anthropic\"\nmodel = \"claude-3-5-haiku-latest\"\nbase-url = \"{url}\"\napi-key-env = \"{KEY_VAR}\"\nsystem = \"Be brief.\""
        ),
        format!(
            "type = \"azure-openai\"\nendpoint = \"{url}\"\ndeployment = \"prod-4o\"\napi-key-env = \"{KEY_VAR}\""
        ),
        format!(
            "type = \"openai-compatible\"\nmodel = \"llama3.1\"\nbase-url = \"{url}/v1\"\napi-key-env = \"{KEY_VAR}\"\nmax-tokens = 20"
        ),
    ];
    for provider in providers {
        let suite = suite(&provider, 3, "");
        run_with_key(&suite, &[]).expect_code(0);
        assert_eq!(
            number(
                &suite.db(),
                "SELECT count(*) FROM case_results WHERE passed"
            ),
            3,
            "{provider}"
        );
    }
    let stats = server.stats();
    assert_eq!(stats.by_path.get("/v1/messages"), Some(&3));
    assert_eq!(
        stats
            .by_path
            .get("/openai/deployments/prod-4o/chat/completions"),
        Some(&3)
    );
    assert_eq!(stats.by_path.get("/v1/chat/completions"), Some(&3));
}

#[test]
fn anthropic_total_is_input_plus_output() {
    let (_rt, server) = mock(MockConfig::default());
    let suite = suite(
        &format!(
            "type = \"anthropic\"\nmodel = \"claude-3-5-haiku-latest\"\nbase-url = \"{}\"\napi-key-env = \"{KEY_VAR}\"",
            server.url()
        ),
        1,
        "",
    );
    run_with_key(&suite, &[]).expect_code(0);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT (prompt_tokens + completion_tokens = total_tokens)::VARCHAR || ' ' || finish_reason FROM case_results"
        ),
        ["true end_turn"]
    );
}

#[test]
fn a_429_with_retry_after_is_retried_until_it_succeeds() {
    let (_rt, server) = mock(MockConfig {
        rules: vec![Rule {
            contains: "case-2".into(),
            status: Some(429),
            headers: [("retry-after-ms".to_string(), "20".to_string())].into(),
            times: Some(2),
            ..Rule::default()
        }],
        ..MockConfig::default()
    });
    let suite = suite(&openai(&server, ""), 5, "");
    run_with_key(&suite, &[]).expect_code(0);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT case_id || ' ' || attempts || ' ' || passed FROM case_results WHERE attempts > 1"
        ),
        ["case-2 3 true"]
    );
    assert_eq!(server.stats().by_status.get("429"), Some(&2));
    assert_eq!(server.stats().requests, 7);
    assert_eq!(
        number(
            &suite.db(),
            "SELECT value::BIGINT FROM metrics WHERE name = 'rate_limited/model'"
        ),
        2
    );
}

#[test]
fn a_500_storm_ends_in_recorded_errors_and_the_run_goes_on() {
    let (_rt, server) = mock(MockConfig {
        rules: vec![Rule {
            contains: "case-1".into(),
            status: Some(500),
            reply: Some("The server had an error while processing your request.".into()),
            ..Rule::default()
        }],
        ..MockConfig::default()
    });
    // case-1, case-10 … case-19 all match the storm rule.
    let suite = suite(&openai(&server, "max-retries = 2"), 25, "");
    let run = run_with_key(&suite, &[]);
    run.expect_code(0);
    assert!(
        run.stdout()
            .contains("25 cases: 14 passed, 11 failed (11 errors)"),
        "{}",
        run.stdout()
    );
    let errors = column(
        &suite.db(),
        "SELECT DISTINCT error FROM case_results WHERE error IS NOT NULL",
    );
    assert_eq!(
        errors,
        [
            "500 Internal Server Error: The server had an error while processing your request. (after 3 attempts)"
        ]
    );
    assert_eq!(
        number(&suite.db(), "SELECT sum(attempts) FROM case_results"),
        14 + 11 * 3
    );
    assert_eq!(server.stats().by_status.get("500"), Some(&33));
}

#[test]
fn client_errors_are_not_retried() {
    let (_rt, server) = mock(MockConfig {
        rules: vec![Rule {
            contains: "case-0".into(),
            status: Some(400),
            reply: Some("Invalid 'messages': too long.".into()),
            ..Rule::default()
        }],
        ..MockConfig::default()
    });
    let suite = suite(&openai(&server, ""), 2, "");
    run_with_key(&suite, &[]).expect_code(0);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT attempts || ' ' || error FROM case_results WHERE error IS NOT NULL"
        ),
        ["1 400 Bad Request: Invalid 'messages': too long."]
    );
}

#[test]
fn in_flight_never_exceeds_the_concurrency() {
    let (_rt, server) = mock(MockConfig {
        latency: Duration::from_millis(30),
        ..MockConfig::default()
    });
    let suite = suite(&openai(&server, "concurrency = 4"), 40, "");
    run_with_key(&suite, &[]).expect_code(0);
    let stats = server.stats();
    assert_eq!(stats.requests, 40);
    assert!(
        stats.max_in_flight <= 4,
        "max in flight {}",
        stats.max_in_flight
    );
    // The command line overrides the config.
    server.reset_stats();
    run_with_key(&suite, &["--concurrency", "2"]).expect_code(0);
    assert!(server.stats().max_in_flight <= 2, "{:?}", server.stats());
}

#[test]
fn a_requests_budget_equal_to_the_server_limit_draws_no_429() {
    // The server admits 600 requests a minute. Its bucket holds 3 s of
    // requests (30), the client's 1 s (10): the rates are equal, and the
    // slack absorbs requests that a loaded machine delays and then
    // delivers together, which would otherwise look like a burst. Without
    // a budget, 10-way concurrency at zero latency overruns the bucket
    // within the first 60 requests.
    let (_rt, server) = mock(MockConfig {
        rpm: Some(600),
        burst_requests: Some(30),
        ..MockConfig::default()
    });
    let suite = suite(&openai(&server, "rpm = 600\nconcurrency = 10"), 60, "");
    run_with_key(&suite, &[]).expect_code(0);
    let stats = server.stats();
    assert_eq!(stats.requests, 60);
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert!(
        number(
            &suite.db(),
            "SELECT (value > 0)::INT FROM metrics WHERE name = 'throttle_wait_ms/model/requests'"
        ) == 1,
        "the budget made requests wait"
    );
}

#[test]
fn a_request_larger_than_the_tokens_budget_fails_at_once() {
    let (_rt, server) = mock(MockConfig::default());
    let suite = suite(&openai(&server, "tpm = 100\nmax-tokens = 500"), 2, "");
    let run = run_with_key(&suite, &[]);
    run.expect_code(1);
    assert_eq!(server.stats().requests, 0);
    let errors = column(&suite.db(), "SELECT DISTINCT error FROM case_results");
    assert_eq!(
        errors,
        [
            "a request of about 511 tokens (prompt and max-tokens) can never fit the tokens/min budget of 100; raise tpm or lower max-tokens"
        ]
    );
}

#[test]
fn a_missing_key_variable_is_a_config_error_naming_it() {
    let suite = suite(
        "type = \"openai\"\nmodel = \"gpt-4o-mini\"\napi-key-env = \"AI_EVALS_E2E_NO_SUCH_KEY\"",
        1,
        "",
    );
    let run = suite.run(&[]);
    run.expect_code(2);
    assert!(
        run.stderr().contains(
            "providers.model: the environment variable AI_EVALS_E2E_NO_SUCH_KEY is not set"
        ),
        "{}",
        run.stderr()
    );
    assert!(!suite.db().exists());
}

#[test]
fn the_key_appears_nowhere() {
    // The provider quotes the rejected key back, as OpenAI's 401 does.
    let (_rt, server) = mock(MockConfig {
        rules: vec![Rule {
            contains: "case-1".into(),
            status: Some(401),
            reply: Some(format!("Incorrect API key provided: {KEY}.")),
            ..Rule::default()
        }],
        ..MockConfig::default()
    });
    let suite = suite(&openai(&server, ""), 3, "");
    let run = run_with_key(&suite, &["-vv", "--format", "json"]);
    run.expect_code(0);
    assert!(!run.stdout().contains(KEY), "report leaks the key");
    assert!(!run.stderr().contains(KEY), "logs leak the key");
    let error = column(
        &suite.db(),
        "SELECT error FROM case_results WHERE error IS NOT NULL",
    );
    assert_eq!(
        error,
        ["401 Unauthorized: Incorrect API key provided: [redacted]."]
    );
    for table in ["runs", "case_results", "scores", "timings", "metrics"] {
        let leaks = number(
            &suite.db(),
            &format!("SELECT count(*) FROM {table} t WHERE contains(CAST(t AS VARCHAR), '{KEY}')"),
        );
        assert_eq!(leaks, 0, "{table} holds the key");
    }
    let mut pending = vec![suite.dir.path().to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
            "{} holds the key",
            path.display()
        );
    }
}
