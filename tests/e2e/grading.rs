//! Model-graded assertions end to end: `similar` on the mock server's
//! deterministic embeddings, and `llm-judge` verdicts scripted by its rules.

use mock_provider::{Config as MockConfig, MockServer, Rule};

use crate::support::{Suite, column, mock, number};

const KEY_VAR: &str = "AI_EVALS_E2E_GRADING_KEY";

fn suite(server: &MockServer, tests: &str) -> Suite {
    let url = server.url();
    Suite::new(&format!(
        r#"[suite]
name = "g"
min-pass-rate = 0

[providers.judge]
type = "openai"
model = "gpt-4o-mini"
base-url = "{url}/v1"
api-key-env = "{KEY_VAR}"

[providers.emb]
type = "openai"
model = "text-embedding-3-small"
base-url = "{url}/v1"
api-key-env = "{KEY_VAR}"

[grading]
judge = "judge"
embeddings = "emb"

[defaults]
provider = "judge"

{tests}
"#
    ))
}

fn run(suite: &Suite) -> crate::support::Run {
    let cache = suite.path("cache");
    suite.run_env(
        &["--cache-dir", cache.to_str().unwrap()],
        &[(KEY_VAR, "sk-grading-test")],
    )
}

fn score_row(suite: &Suite, case: &str, kind: &str) -> String {
    column(
        &suite.db(),
        &format!(
            "SELECT passed || ' ' || round(score, 2) || ' ' || reason FROM scores
             WHERE case_id = '{case}' AND assertion_type = '{kind}'"
        ),
    )
    .into_iter()
    .next()
    .unwrap_or_else(|| panic!("no {kind} score for {case}"))
}

#[test]
fn similar_scores_meaning_with_cached_embeddings() {
    let (_rt, server) = mock(MockConfig::default());
    let suite = suite(
        &server,
        r#"
[[tests]]
id = "same"
output = "The cat sat on the mat."
assert = [{ type = "similar", value = "The cat sat on the mat." }]

[[tests]]
id = "best-reference-counts"
output = "The cat sat on the mat."
assert = [{ type = "similar", value = ["Stock prices fell sharply.", "A cat sat on the mat."], threshold = 0.6 }]

[[tests]]
id = "unrelated"
output = "The cat sat on the mat."
assert = [
  { type = "similar", value = "Quarterly revenue grew by twelve percent." },
  { type = "not-similar", value = "Quarterly revenue grew by twelve percent." },
]
"#,
    );
    run(&suite).expect_code(0);
    assert_eq!(
        score_row(&suite, "same", "similar"),
        "true 1.0 similarity 1.000 (at least 0.8 wanted)"
    );
    assert!(score_row(&suite, "best-reference-counts", "similar").starts_with("true "));
    let unrelated = score_row(&suite, "unrelated", "similar");
    assert!(unrelated.starts_with("false "), "{unrelated}");
    let low: f64 = unrelated.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(low < 0.3, "unrelated texts scored {low}");
    assert!(score_row(&suite, "unrelated", "not-similar").starts_with("true "));
    let embedding_requests = server
        .stats()
        .by_path
        .get("/v1/embeddings")
        .copied()
        .unwrap_or(0);
    assert_eq!(embedding_requests, 3, "one request per case");
    assert_eq!(
        number(
            &suite.db(),
            "SELECT calls FROM timings WHERE component = 'scoring/similar'"
        ),
        4,
        "not-similar is timed as similar"
    );

    // The same texts again: every embedding comes from the cache.
    server.reset_stats();
    run(&suite).expect_code(0);
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn judge_verdicts_plain_fenced_retried_and_malformed() {
    let verdict = |contains: &str, reply: &str, times: Option<u64>| Rule {
        contains: contains.into(),
        reply: Some(reply.into()),
        times,
        ..Rule::default()
    };
    let (_rt, server) = mock(MockConfig {
        rules: vec![
            verdict(
                "RUBRIC-A",
                r#"{"score": 0.9, "pass": true, "reason": "Polite."}"#,
                None,
            ),
            verdict(
                "RUBRIC-B",
                "Sure, here is my grading:\n```json\n{\"score\": 0.2, \"pass\": false, \"reason\": \"Rude.\"}\n```",
                None,
            ),
            verdict("RUBRIC-C", "I think it is rather good.", None),
            verdict("RUBRIC-D", "Hmm, let me think.", Some(1)),
            verdict(
                "RUBRIC-D",
                r#"{"score": 1, "pass": true, "reason": "Fine on reflection."}"#,
                None,
            ),
        ],
        ..MockConfig::default()
    });
    let suite = suite(
        &server,
        r#"
[[tests]]
id = "plain"
output = "Thank you for asking!"
assert = [{ type = "llm-judge", value = "RUBRIC-A: is polite" }]

[[tests]]
id = "fenced"
output = "Go away."
assert = [{ type = "llm-judge", value = "RUBRIC-B: is polite" }, { type = "not-llm-judge", value = "RUBRIC-B: is polite" }]

[[tests]]
id = "malformed"
output = "Hello."
assert = [{ type = "llm-judge", value = "RUBRIC-C: is polite" }]

[[tests]]
id = "retried"
output = "Hello."
assert = [{ type = "llm-judge", value = "RUBRIC-D: is polite" }]
"#,
    );
    run(&suite).expect_code(0);
    assert_eq!(
        score_row(&suite, "plain", "llm-judge"),
        "true 0.9 judge score 0.90: Polite."
    );
    assert_eq!(
        score_row(&suite, "fenced", "llm-judge"),
        "false 0.2 judge score 0.20: Rude."
    );
    assert_eq!(
        score_row(&suite, "fenced", "not-llm-judge"),
        "true 0.8 judge score 0.20: Rude."
    );
    assert_eq!(
        score_row(&suite, "malformed", "llm-judge"),
        "false 0.0 the judge's answer is no verdict (the answer holds no JSON object), also after a retry: \"I think it is rather good.\""
    );
    assert_eq!(
        score_row(&suite, "retried", "llm-judge"),
        "true 1.0 judge score 1.00: Fine on reflection."
    );
    // plain, fenced (twice, one request shared by the cache), malformed (2), retried (2).
    assert_eq!(server.stats().by_path.get("/v1/chat/completions"), Some(&6));
    assert_eq!(
        number(
            &suite.db(),
            "SELECT value::BIGINT FROM metrics WHERE name = 'judge_errors'"
        ),
        1
    );
    assert!(
        number(
            &suite.db(),
            "SELECT calls FROM timings WHERE component = 'scoring/llm-judge'"
        ) >= 5
    );
    // Judge calls are cached like any other call.
    server.reset_stats();
    run(&suite).expect_code(0);
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn schema_and_new_assertions_report_why() {
    let (_rt, server) = mock(MockConfig::default());
    let suite = suite(
        &server,
        r#"
[[tests]]
id = "schema-ok"
output = '{"order_id": 7, "items": ["chair"]}'
assert = [{ type = "is-json", value = { type = "object", required = ["order_id"], properties = { order_id = { type = "integer" } } } }]

[[tests]]
id = "schema-bad"
output = '{"order_id": "seven"}'
assert = [{ type = "is-json", value = { type = "object", properties = { order_id = { type = "integer" } } } }]

[[tests]]
id = "words"
output = "one two three four"
assert = [
  { type = "word-count", value = { min = 2, max = 5 } },
  { type = "levenshtein", value = "one two three fuor", threshold = 2 },
  { type = "not-word-count", value = 4 },
  { type = "latency", threshold = 1000 },
]
"#,
    );
    run(&suite).expect_code(0);
    assert!(
        score_row(&suite, "schema-ok", "is-json")
            .starts_with("true 1.0 output is JSON matching the schema")
    );
    let bad = score_row(&suite, "schema-bad", "is-json");
    assert!(
        bad.starts_with("false 0.0 output does not match the schema at /order_id: "),
        "{bad}"
    );
    assert_eq!(
        score_row(&suite, "words", "word-count"),
        "true 1.0 output has 4 words (between 2 and 5 wanted)"
    );
    assert_eq!(
        score_row(&suite, "words", "levenshtein"),
        "true 1.0 output is 2 edits from \"one two three fuor\" (at most 2)"
    );
    assert_eq!(
        score_row(&suite, "words", "not-word-count"),
        "false 0.0 output has 4 words (exactly 4 wanted)"
    );
    assert_eq!(
        score_row(&suite, "words", "latency"),
        "false 0.0 no call latency was measured (the output was given)"
    );
    assert!(
        number(
            &suite.db(),
            "SELECT value::BIGINT FROM metrics WHERE name = 'pool_tasks'"
        ) >= 1
    );
}

#[test]
fn a_graded_assertion_without_a_grader_is_a_config_error() {
    let suite = Suite::new(
        r#"[suite]
name = "g"

[providers.echo]
type = "echo"

[prompts]
p = "x"

[[tests]]
assert = [{ type = "llm-judge", value = "is polite" }]
"#,
    );
    let run = suite.run(&[]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("tests[0].assert[0]: 'llm-judge' needs a provider: set [grading] judge or the assertion's provider"),
        "{}",
        run.stderr()
    );
}
