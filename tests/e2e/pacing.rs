//! Pacing against the mock provider in each way it can enforce a limit:
//! told the limit, a run draws no 429; not told, it learns the limit from
//! the headers with at most a window's worth of 429s; no case is lost
//! either way. Checks are counts (requests, 429s, errors) and the learned
//! limits the run records, never time.

use std::time::Duration;

use mock_provider::{Config as MockConfig, Enforcement, MockServer, TokenAccounting};
use tokio::runtime::Runtime;

use crate::support::{self, Suite, column, number};

const KEY_VAR: &str = "AI_EVALS_E2E_KEY";
/// Small and fast: 200 cases at 6,000 a minute take about two seconds.
const CASES: usize = 200;
const RPM: u64 = 6_000;

/// The mock provider answering after 20 ms, so that requests overlap.
fn mock(config: MockConfig) -> (Runtime, MockServer) {
    support::mock(MockConfig {
        latency: Duration::from_millis(20),
        ..config
    })
}

/// A suite of [`CASES`] cases on one provider, `api` ("openai" or
/// "anthropic"), `max-tokens = 16`, with `budget` (say `rpm = 6000`, or
/// nothing) in its keys.
fn suite(server: &MockServer, api: &str, budget: &str) -> Suite {
    suite_with(server, api, &format!("max-tokens = 16\n{budget}"))
}

/// The same with `keys` as the provider's keys, `max-tokens` among them
/// or not.
fn suite_with(server: &MockServer, api: &str, keys: &str) -> Suite {
    let base = match api {
        "anthropic" => server.url(),
        _ => format!("{}/v1", server.url()),
    };
    let suite = Suite::new(&format!(
        r#"[suite]
name = "pace"
min-pass-rate = 0

[prompts]
ask = "Q: {{{{ id }}}}"

[providers.model]
type = "{api}"
model = "m"
base-url = "{base}"
api-key-env = "{KEY_VAR}"
concurrency = 10
{keys}

[defaults]
assert = [{{ type = "equals", value = "Q: {{{{ id }}}}" }}]

[[datasets]]
path = "cases.jsonl"
"#
    ));
    let rows: String = (0..CASES)
        .map(|i| format!("{{\"id\": \"case-{i}\"}}\n"))
        .collect();
    suite.write("cases.jsonl", rows);
    suite
}

/// Runs the suite and checks that every case was answered: none lost,
/// none errored, each request made once unless a 429 asked again.
fn run(server: &MockServer, suite: &Suite) -> u64 {
    let run = suite.run_env(&[], &[(KEY_VAR, "sk-test")]);
    run.expect_code(0);
    let stats = server.stats();
    let errors = number(
        &suite.db(),
        "SELECT count(*) FROM case_results WHERE error IS NOT NULL",
    );
    assert_eq!(errors, 0, "{}", run.stdout());
    assert_eq!(stats.answers_ok, CASES as u64, "{stats:?}");
    assert_eq!(stats.requests, CASES as u64 + stats.rate_limited);
    stats.rate_limited
}

/// The learned limits the run recorded, as `name value` lines.
fn learned(suite: &Suite) -> Vec<String> {
    column(
        &suite.db(),
        "SELECT split_part(name, '/', 1) || ' ' || value::BIGINT FROM metrics
         WHERE name LIKE 'learned_%' ORDER BY name",
    )
}

/// Told, then not told, each against a fresh server of `config`. (A limit
/// the mock does not enforce it states as 10,000 rpm or 30,000,000 tpm,
/// and those are learned too.)
fn told_and_learned(config: &MockConfig, api: &str, told: &str) -> (u64, Vec<String>) {
    let (_rt, server) = mock(config.clone());
    assert_eq!(run(&server, &suite(&server, api, told)), 0, "told: {told}");
    let (_rt, server) = mock(config.clone());
    let suite = suite(&server, api, "");
    let rate_limited = run(&server, &suite);
    (rate_limited, learned(&suite))
}

/// OpenAI-style: a bucket of a second's requests, minute-scale headers
/// whose `remaining` is what the bucket holds.
#[test]
fn a_token_bucket() {
    let config = MockConfig {
        rpm: Some(RPM),
        ..MockConfig::default()
    };
    let (rate_limited, learned) = told_and_learned(&config, "openai", "rpm = 6000");
    assert_eq!(rate_limited, 0);
    assert_eq!(learned, ["learned_rpm 6000", "learned_tpm 30000000"]);
}

/// 100 requests in any second, headers scaled to the window (limit 100,
/// reset the time until it clears). Told 5 % under the limit: on a loaded
/// test machine requests can arrive bunched by more than the budget's
/// headroom; the exact limit is simulated in the pacer's own tests.
#[test]
fn a_sliding_window_of_a_second_with_window_scaled_headers() {
    let config = MockConfig {
        rpm: Some(RPM),
        enforcement: Enforcement::SlidingWindow { secs: 1 },
        headers_window: true,
        ..MockConfig::default()
    };
    let (rate_limited, learned) = told_and_learned(&config, "openai", "rpm = 5700");
    assert!(rate_limited <= RPM / 60, "{rate_limited} 429s");
    assert_eq!(learned, ["learned_rpm 6000", "learned_tpm 30000000"]);
}

#[test]
fn a_fixed_window_turning_at_the_minute() {
    let config = MockConfig {
        rpm: Some(RPM),
        enforcement: Enforcement::FixedWindow,
        ..MockConfig::default()
    };
    let (rate_limited, learned) = told_and_learned(&config, "openai", "rpm = 6000");
    assert_eq!(rate_limited, 0);
    assert_eq!(learned, ["learned_rpm 6000", "learned_tpm 30000000"]);
}

/// Groq-style: 14,400 requests a day (the requests headers describe the
/// day), tokens per minute the scarce limit. The day caps the run but
/// sets no pace: no requests limit is learned from it.
#[test]
fn per_day_requests_beside_per_minute_tokens() {
    let config = MockConfig {
        enforcement: Enforcement::Daily,
        rpd: Some(14_400),
        tpm: Some(120_000),
        ..MockConfig::default()
    };
    let (rate_limited, learned) = told_and_learned(&config, "openai", "tpm = 120000");
    assert_eq!(rate_limited, 0);
    assert_eq!(learned, ["learned_tpm 120000"]);
}

/// Anthropic: requests, input tokens and output tokens each limited, the
/// resets RFC 3339 timestamps.
#[test]
fn anthropic_input_and_output_token_limits() {
    let config = MockConfig {
        rpm: Some(RPM),
        itpm: Some(80_000),
        otpm: Some(96_000),
        ..MockConfig::default()
    };
    let (rate_limited, learned) = told_and_learned(&config, "anthropic", "rpm = 6000");
    assert_eq!(rate_limited, 0);
    assert_eq!(
        learned,
        [
            "learned_input_tpm 80000",
            "learned_output_tpm 96000",
            "learned_rpm 6000"
        ]
    );
}

/// Told 50 % more than the provider allows: its headers hold the lane
/// back, and the report says which setting to lower, and to what.
#[test]
fn a_budget_above_the_provider_is_named_in_the_report() {
    // A bucket of 10 requests, not a second's 100, so that the budget's
    // excess shows within the run.
    let (_rt, server) = mock(MockConfig {
        rpm: Some(RPM),
        burst_requests: Some(10),
        ..MockConfig::default()
    });
    let suite = suite(&server, "openai", "rpm = 9000");
    let out = suite.run_env(&[], &[(KEY_VAR, "sk-test")]);
    out.expect_code(0);
    assert_eq!(server.stats().answers_ok, CASES as u64);
    assert!(
        out.stdout().contains(
            "→ model: the provider allows 6,000 rpm: lower providers.model.rpm (or --rpm) to 6000"
        ),
        "{}",
        out.stdout()
    );
    assert!(
        number(
            &suite.db(),
            "SELECT value::BIGINT FROM metrics WHERE name = 'throttle_wait_ms/model/provider'"
        ) > 0,
        "the provider's headers held requests back"
    );
}

/// The value of metric `name/model`, if the run recorded it.
fn metric(suite: &Suite, name: &str) -> Option<i64> {
    column(
        &suite.db(),
        &format!("SELECT value::BIGINT::VARCHAR FROM metrics WHERE name = '{name}/model'"),
    )
    .first()
    .and_then(|v| v.parse().ok())
}

/// A server that counts the tokens each answer used, when it is done, in
/// a sliding window of a second (30,000 tokens a minute, 500 a second):
/// told the limit or not, with `max-tokens` or without, every case is
/// answered, refusals stay under a dozen (a window's worth would be 62:
/// 500 tokens of at least 8), and the unused reservations are credited
/// back, but never `max-tokens` a request once the accounting is known.
#[test]
fn a_server_counting_usage_gets_the_reservations_back() {
    let config = MockConfig {
        tpm: Some(30_000),
        enforcement: Enforcement::SlidingWindow { secs: 1 },
        headers_window: true,
        token_accounting: TokenAccounting::Usage,
        ..MockConfig::default()
    };
    for keys in [
        "max-tokens = 64\ntpm = 30000",
        "tpm = 30000",
        "max-tokens = 64",
        "",
    ] {
        let (_rt, server) = mock(config.clone());
        let suite = suite_with(&server, "openai", keys);
        let rate_limited = run(&server, &suite);
        assert!(rate_limited <= 12, "{keys:?}: {rate_limited} 429s");
        let credited = metric(&suite, "credited_tokens").unwrap_or(0);
        assert!(credited > 0, "{keys:?}: nothing credited back");
        if keys.contains("max-tokens") {
            // Once the server is known to count usage, a request reserves
            // what the answers needed (they echo a few tokens), not 64:
            // far less than 64 a case comes back.
            assert!(
                credited < CASES as i64 * 40,
                "{keys:?}: {credited} credited"
            );
        }
    }
}

/// A server that counts `max_tokens` at admission keeps every reservation:
/// nothing credited back, no refusal.
#[test]
fn a_server_counting_max_tokens_keeps_its_reservations() {
    let config = MockConfig {
        tpm: Some(60_000),
        ..MockConfig::default()
    };
    for keys in ["max-tokens = 64\ntpm = 60000", "max-tokens = 64"] {
        let (_rt, server) = mock(config.clone());
        let suite = suite_with(&server, "openai", keys);
        assert_eq!(run(&server, &suite), 0, "{keys:?}");
        assert_eq!(metric(&suite, "credited_tokens"), None, "{keys:?}");
    }
}

/// Anthropic-style headers stating the window's limit: 6,000 RPM as 100
/// in any second, limit 100, resets timestamps about a second ahead. It
/// is learned as 6,000 a minute, and a budget of 6,000 is not advised
/// lower.
#[test]
fn anthropic_window_headers_are_the_windows_limit() {
    let config = MockConfig {
        rpm: Some(RPM),
        enforcement: Enforcement::SlidingWindow { secs: 1 },
        headers_window: true,
        ..MockConfig::default()
    };
    let (_rt, server) = mock(config.clone());
    let told = suite(&server, "anthropic", "rpm = 5700");
    let out = told.run_env(&[], &[(KEY_VAR, "sk-test")]);
    out.expect_code(0);
    assert!(
        !out.stdout().contains("lower providers"),
        "{}",
        out.stdout()
    );
    assert!(learned(&told).contains(&"learned_rpm 6000".to_string()));
    let (_rt, server) = mock(config);
    let suite = suite(&server, "anthropic", "");
    assert!(run(&server, &suite) <= RPM / 60);
    assert!(learned(&suite).contains(&"learned_rpm 6000".to_string()));
}

/// Without `max-tokens`, a run on main reserves from the start what the
/// answers of main's previous run needed (their 95th percentile), not the
/// first guess; the first run has no history to go by.
#[test]
fn a_request_without_max_tokens_reserves_what_mains_answers_needed() {
    let (_rt, server) = mock(MockConfig::default());
    let suite = suite_with(&server, "openai", "");
    let env = [(KEY_VAR, "sk-test"), ("GITHUB_REF_NAME", "main")];
    let first = suite.run_env(&["-vv"], &env);
    first.expect_code(0);
    assert!(!first.stderr().contains("reserves"), "{}", first.stderr());
    let p95 = number(
        &suite.db(),
        "SELECT CAST(ceil(quantile_cont(completion_tokens, 0.95)) AS BIGINT) FROM case_results",
    );
    let second = suite.run_env(&["-vv"], &env);
    second.expect_code(0);
    let said = format!("model: a request without max-tokens reserves {p95} completion tokens");
    assert!(second.stderr().contains(&said), "{}", second.stderr());
}
