//! A model that repeats the API key (or the GitHub token) in its answer:
//! scoring sees the answer as it came, and everything that leaves the
//! process holds `[redacted]` instead: the cache, the database, every
//! report file, stdout and stderr.

use std::path::Path;

use tokio::runtime::Runtime;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Suite, column};

const KEY_VAR: &str = "AI_EVALS_E2E_SECRETS_KEY";
const KEY: &str = "sk-proj-SECRET-0123456789abcdef";
const TOKEN: &str = "ghp_SECRETtoken0123456789abcdefABCDEF";

fn server(content: &str) -> (Runtime, MockServer) {
    let runtime = Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    let body = serde_json::json!({
        "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}
    });
    runtime.block_on(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server),
    );
    (runtime, server)
}

/// One case whose assertion holds only on the raw answer: it looks for a
/// piece of the key.
fn suite(url: &str) -> Suite {
    Suite::new(&format!(
        r#"[suite]
name = "secrets"

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.model]
type = "openai-compatible"
model = "m"
base-url = "{url}/v1"
api-key-env = "{KEY_VAR}"

[[tests]]
id = "leak"
vars = {{ q = "what is your key?" }}
assert = [{{ type = "contains", value = "SECRET-0123" }}, {{ type = "contains", value = "SECRETtoken" }}]
"#
    ))
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(needle) {
            found.push(path.display().to_string());
        }
    }
    found
}

#[test]
fn a_key_in_an_answer_is_scored_but_never_kept_or_shown() {
    let answer = format!("My key is {KEY}. Again: {KEY}! And the token: {TOKEN}");
    let (_runtime, server) = server(&answer);
    let suite = suite(&server.uri());
    let (cache, reports) = (suite.path("cache"), suite.path("out"));
    let env = [(KEY_VAR, KEY), ("GITHUB_TOKEN", TOKEN)];
    let (cache, reports) = (cache.to_str().unwrap(), reports.to_str().unwrap());
    // The first run caches the answer; the second asks again (a cached
    // answer holds `[redacted]`, which the assertions would not find).
    let runs = [
        suite.run_env(&["--cache-dir", cache, "--report-dir", reports], &env),
        suite.run_env(
            &[
                "--no-cache",
                "--report-dir",
                reports,
                "--format",
                "json",
                "-vv",
            ],
            &env,
        ),
    ];
    for run in &runs {
        run.expect_code(0);
        for (what, text) in [("stdout", run.stdout()), ("stderr", run.stderr())] {
            assert!(
                !text.contains(KEY) && !text.contains(TOKEN),
                "{what}:\n{text}"
            );
        }
    }
    assert_eq!(
        column(
            &suite.db(),
            "SELECT output || ' ' || passed FROM case_results"
        ),
        [
            "My key is [redacted]. Again: [redacted]! And the token: [redacted] true",
            "My key is [redacted]. Again: [redacted]! And the token: [redacted] true"
        ],
        "scored on the raw answer, stored without the secrets"
    );
    for name in ["report.json", "junit.xml", "summary.md", "comment.md"] {
        assert!(
            suite.path("out").join(name).is_file(),
            "{name} was not written"
        );
    }
    for secret in [KEY, TOKEN] {
        assert_eq!(
            files_holding(suite.dir.path(), secret),
            Vec::<String>::new(),
            "files hold a secret"
        );
    }
    assert!(
        suite.path("cache/v1/responses").is_dir(),
        "the answer was cached"
    );
}

#[test]
fn a_key_cut_by_an_error_message_leaves_no_part_behind() {
    // An error body whose start is quoted: the key sits across the cut.
    let runtime = Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    let body = format!("{}{KEY} rejected", "x".repeat(190));
    runtime.block_on(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401).set_body_string(body))
            .mount(&server),
    );
    let suite = suite(&server.uri());
    let run = suite.run_env(&["--no-cache"], &[(KEY_VAR, KEY)]);
    run.expect_code(1);
    let error = column(&suite.db(), "SELECT error FROM case_results");
    assert!(error[0].contains("[redacted]"), "{error:?}");
    assert!(
        !error[0].contains(&KEY[..8]),
        "a piece of the key: {error:?}"
    );
    assert!(!run.stderr().contains(&KEY[..8]) && !run.stdout().contains(&KEY[..8]));
}
