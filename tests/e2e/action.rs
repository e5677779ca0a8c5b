//! The composite action's own shell steps (`action/run.sh`) in a simulated
//! Actions environment: the real event payloads, temporary workflow files,
//! the mock provider and a stand-in GitHub API. A baseline run on main,
//! then a pull request with a critical regression that comments and fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mock_provider::Config as MockConfig;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{BIN, Suite, clean_env};

fn action_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("action/run.sh")
}

fn event(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/github-events")
        .join(name)
}

/// One step of the action, as the runner would run it.
fn step(suite: &Suite, which: &str, env: &[(&str, &str)]) -> Output {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(action_script())
        .arg(which)
        .current_dir(suite.dir.path());
    clean_env(&mut cmd);
    cmd.env("PATH", path)
        .env("RUNNER_TEMP", suite.path("runner-temp"))
        .env("RUNNER_OS", "Linux")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", suite.path("github-output.txt"))
        .env("GITHUB_STEP_SUMMARY", suite.path("step-summary.md"))
        .env("INPUT_CONFIG", "evals.toml")
        .env("INPUT_DB_PATH", "ai-evals.duckdb")
        .env("INPUT_CACHE_PATH", ".ai-evals-cache")
        .env("INPUT_FAIL_ON", "critical")
        .env("INPUT_COMMENT", "true")
        .env("INPUT_BASELINE_BRANCH", "master")
        .env("AI_EVALS_MOCK_KEY", "sk-mock")
        .envs(env.iter().copied());
    std::fs::create_dir_all(suite.path("runner-temp")).unwrap();
    cmd.output().expect("run the action step")
}

/// The step outputs written so far, the last value of each name.
fn outputs(suite: &Suite) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(suite.path("github-output.txt"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cases(suite: &Suite, failing: usize) {
    let rows: String = (0..40)
        .map(|i| {
            let answer = if i < failing { "wrong" } else { "right" };
            format!("{{\"id\": \"c{i}\", \"q\": \"{answer}\"}}\n")
        })
        .collect();
    suite.write("data.jsonl", rows);
}

#[test]
fn baseline_on_main_then_a_pull_request_that_regresses() {
    let rt = Runtime::new().unwrap();
    let provider = rt
        .block_on(mock_provider::start(MockConfig::default()))
        .expect("mock provider");
    let github = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/repos/Codertocat/Hello-World/issues/2/comments"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/repos/Codertocat/Hello-World/issues/2/comments"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "id": 5, "body": "x", "html_url": "https://github.com/Codertocat/Hello-World/pull/2#issuecomment-5",
                "user": {"login": "github-actions[bot]"}
            })))
            .expect(1)
            .mount(&server)
            .await;
        server
    });
    let suite = Suite::new(&format!(
        r#"[suite]
name = "action"
min-pass-rate = 0

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.mock]
type = "openai-compatible"
base-url = "{}/v1"
model = "gpt-4o-mini"
api-key-env = "AI_EVALS_MOCK_KEY"

[defaults]
provider = "mock"
prompt = "ask"
assert = [{{ type = "contains", value = "right" }}]

[[datasets]]
path = "data.jsonl"
"#,
        provider.url()
    ));

    // The baseline: a push to master at the pull request's base commit.
    cases(&suite, 0);
    let push = event("push_payload.json");
    let main_env = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", push.to_str().unwrap()),
        ("GITHUB_REF_NAME", "master"),
        ("GITHUB_SHA", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"),
    ];
    let paths = step(&suite, "paths", &main_env);
    assert!(paths.status.success(), "{paths:?}");
    assert_eq!(outputs(&suite)["db-path"], "ai-evals.duckdb");
    let run = step(&suite, "run", &main_env);
    assert!(run.status.success(), "{run:?}");
    assert_eq!(outputs(&suite)["exit-code"], "0");
    assert_eq!(outputs(&suite)["verdict"], "pass");

    // The pull request: 30 of 40 cases now fail, a critical regression.
    cases(&suite, 30);
    let pr = event("pull_request_opened.payload.json");
    let api = github.uri();
    let pr_env = [
        ("GITHUB_EVENT_NAME", "pull_request"),
        ("GITHUB_EVENT_PATH", pr.to_str().unwrap()),
        ("GITHUB_HEAD_REF", "changes"),
        ("GITHUB_API_URL", api.as_str()),
        ("GITHUB_TOKEN", "ghs_action_test_token"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "Codertocat/Hello-World"),
        ("GITHUB_RUN_ID", "7"),
    ];
    let run = step(&suite, "run", &pr_env);
    assert!(
        run.status.success(),
        "the run step records the code: {run:?}"
    );
    // Workflow commands go to stderr, so stdout stays the report.
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with("::add-mask::ghs_action_test_token"),
        "{stderr}"
    );
    assert!(
        stderr.contains("::error title=ai-evals action%3A critical regression::"),
        "{stderr}"
    );
    let out = outputs(&suite);
    assert_eq!(out["exit-code"], "1");
    assert_eq!(out["verdict"], "fail");
    assert_eq!(out["critical"], "2", "the pass rate and the mean score");
    assert!(Path::new(&out["comment-path"]).is_file());

    let finish = step(&suite, "exit", &[("EXIT_CODE", "1")]);
    assert_eq!(finish.status.code(), Some(1));

    let requests = rt.block_on(github.received_requests()).unwrap();
    let posted: Vec<Value> = requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(posted.len(), 1);
    let body = posted[0]["body"].as_str().unwrap();
    assert!(body.starts_with("<!-- ai-evals:action -->"), "{body}");
    assert!(body.contains("gate failed"), "{body}");
    assert!(body.contains("30 newly failing"), "{body}");
    assert!(
        body.contains("f95f852"),
        "the baseline is the base commit: {body}"
    );
    let summary = std::fs::read_to_string(suite.path("step-summary.md")).unwrap();
    assert!(summary.contains("Critical regressions"), "{summary}");
}
