//! The composite action's own shell steps (`action/run.sh`) in a simulated
//! Actions environment: the real event payloads, temporary workflow files,
//! the mock provider and a stand-in GitHub API (REST and GraphQL).
//!
//! - A baseline on master, then a pull request that regresses and fails by
//!   the config's `[compare] fail-on`, which the action no longer overrides.
//! - A pull request whose cache restore missed: its history comes from the
//!   baseline branch's artifact.
//! - Two matrix legs: distinct artifacts, cache keys and comments.
//! - A GitHub App token (GraphQL `viewer`) whose comment was deleted (the
//!   PATCH answers 404, so it is created again).
//! - The fork-safe comment job with a hostile `report.json`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mock_provider::Config as MockConfig;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{BIN, Suite, clean_env};

const REPO: &str = "Codertocat/Hello-World";
const COMMENTS: &str = "/repos/Codertocat/Hello-World/issues/2/comments";
/// The pull request's base commit in `pull_request_opened.payload.json`.
const BASE_SHA: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";

pub(crate) fn event(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/github-events")
        .join(name)
}

/// One step of the action, as the runner would run it.
pub(crate) fn step(suite: &Suite, which: &str, env: &[(&str, &str)]) -> Output {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("action/run.sh"))
        .arg(which)
        .current_dir(suite.dir.path());
    clean_env(&mut cmd);
    cmd.env("PATH", path)
        .env("RUNNER_TEMP", suite.path("runner-temp"))
        .env("RUNNER_OS", "Linux")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_JOB", "evals")
        .env("GITHUB_OUTPUT", suite.path("github-output.txt"))
        .env("GITHUB_STEP_SUMMARY", suite.path("step-summary.md"))
        .env("INPUT_CONFIG", "evals.toml")
        .env("INPUT_COMMENT", "true")
        .env("AI_EVALS_MOCK_KEY", "sk-mock")
        .envs(env.iter().copied());
    std::fs::create_dir_all(suite.path("runner-temp")).unwrap();
    cmd.output().expect("run the action step")
}

/// The step outputs written so far, the last value of each name.
pub(crate) fn outputs(suite: &Suite) -> BTreeMap<String, String> {
    std::fs::read_to_string(suite.path("github-output.txt"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A suite against the mock provider whose gate fails on a major
/// regression (`[compare] fail-on`), with bands that make no drop critical.
pub(crate) fn suite(provider: &str) -> Suite {
    Suite::new(&format!(
        r#"[suite]
name = "action"
min-pass-rate = 0

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.mock]
type = "openai-compatible"
base-url = "{provider}/v1"
model = "gpt-4o-mini"
api-key-env = "AI_EVALS_MOCK_KEY"

[defaults]
provider = "mock"
prompt = "ask"
assert = [{{ type = "contains", value = "right" }}]

[compare]
fail-on = "major"
critical = 10.0

[[datasets]]
path = "data.jsonl"
"#
    ))
}

pub(crate) fn cases(suite: &Suite, failing: usize) {
    let rows: String = (0..40)
        .map(|i| {
            let answer = if i < failing { "wrong" } else { "right" };
            format!("{{\"id\": \"c{i}\", \"q\": \"{answer}\"}}\n")
        })
        .collect();
    suite.write("data.jsonl", rows);
}

pub(crate) fn push_env(push: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_EVENT_NAME", "push".into()),
        ("GITHUB_EVENT_PATH", push.display().to_string()),
        ("GITHUB_REF_NAME", "master".into()),
        ("GITHUB_REF", "refs/heads/master".into()),
        ("GITHUB_SHA", BASE_SHA.into()),
    ]
}

pub(crate) fn pr_env(pr: &Path, api: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GITHUB_EVENT_NAME", "pull_request".into()),
        ("GITHUB_EVENT_PATH", pr.display().to_string()),
        ("GITHUB_HEAD_REF", "changes".into()),
        ("GITHUB_REF", "refs/pull/2/merge".into()),
        ("GITHUB_API_URL", api.into()),
        // As action.yml hands it over: never as GITHUB_TOKEN.
        ("AI_EVALS_GITHUB_TOKEN", "ghs_action_test_token".into()),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_REPOSITORY", REPO.into()),
        ("GITHUB_RUN_ID", "7".into()),
    ]
}

pub(crate) fn refs<'a>(
    env: &'a [(&'static str, String)],
    more: &[(&'static str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    env.iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(more.iter().copied())
        .collect()
}

/// `paths` then `run`, as the action's steps run them; the outputs.
pub(crate) fn paths_and_run(
    suite: &Suite,
    env: &[(&str, &str)],
) -> (BTreeMap<String, String>, Output) {
    let paths = step(suite, "paths", env);
    assert!(paths.status.success(), "{paths:?}");
    let named = outputs(suite);
    let mut env = env.to_vec();
    env.push(("DB_PATH", &named["db-path"]));
    env.push(("CACHE_PATH", &named["cache-path"]));
    env.push(("BASELINE_BRANCH", &named["baseline-branch"]));
    env.push(("HISTORY_ARTIFACT", &named["history-artifact"]));
    let run = step(suite, "run", &env);
    assert!(
        run.status.success(),
        "the run step records the code: {run:?}"
    );
    (named.clone(), run)
}

fn comment(id: u64, login: &str, body: &str) -> Value {
    json!({
        "id": id, "body": body, "user": { "login": login },
        "html_url": format!("https://github.com/{REPO}/pull/2#issuecomment-{id}"),
    })
}

/// A GitHub whose GraphQL `viewer` is `login`, with `existing` comments on
/// pull request 2 and room for new ones.
pub(crate) async fn github(login: &str, existing: Vec<Value>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"viewer": {"login": login}}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(200).set_body_json(existing))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(COMMENTS))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment(99, login, "x")))
        .mount(&server)
        .await;
    server
}

/// The bodies sent with `verb` to paths ending in `suffix`.
pub(crate) fn sent(requests: &[Request], verb: &str, suffix: &str) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().ends_with(suffix))
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["body"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn baseline_on_master_then_a_pull_request_that_fails_by_the_configs_gate() {
    let rt = Runtime::new().unwrap();
    let provider = rt
        .block_on(mock_provider::start(MockConfig::default()))
        .unwrap();
    let gh = rt.block_on(github("github-actions[bot]", Vec::new()));
    let suite = suite(&provider.url());

    // The baseline: a push to master (the repository's default branch,
    // which the config does not name) at the pull request's base commit.
    cases(&suite, 0);
    let push = event("push_payload.json");
    let main_env = push_env(&push);
    let (named, run) = paths_and_run(&suite, &refs(&main_env, &[]));
    assert_eq!(named["baseline-branch"], "master");
    assert_eq!(named["save-history"], "true", "{named:?}");
    assert_eq!(named["save-responses"], "true");
    assert!(
        named["history-key-prefix"].starts_with("ai-evals-history;duckdb-"),
        "{named:?}"
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        !stdout.contains("--fail-on"),
        "fail-on is the config's: {stdout}"
    );
    assert!(!stdout.contains("--baseline-branch"), "{stdout}");
    assert_eq!(outputs(&suite)["exit-code"], "0");

    // The pull request: 30 of 40 cases now fail, a major regression.
    cases(&suite, 30);
    let pr = event("pull_request_opened.payload.json");
    let api = gh.uri();
    let env = pr_env(&pr, &api);
    let (named, run) = paths_and_run(&suite, &refs(&env, &[]));
    assert_eq!(named["save-history"], "false");
    assert_eq!(
        named["save-responses"], "true",
        "a pull request keeps its own"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with("::add-mask::ghs_action_test_token"),
        "{stderr}"
    );
    let out = outputs(&suite);
    assert_eq!(out["exit-code"], "1", "[compare] fail-on = major: {stderr}");
    assert_eq!(out["verdict"], "fail");
    assert_eq!(
        out["comment-url"],
        format!("https://github.com/{REPO}/pull/2#issuecomment-99"),
        "the comment-url output"
    );
    assert_eq!(out["major"], "2", "the pass rate and the mean score");
    assert_eq!(out["critical"], "0");
    // The report on stdout is fenced off from the runner's commands.
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("\n::stop-commands::"), "{stdout}");
    let finish = step(&suite, "exit", &[("EXIT_CODE", "1")]);
    assert_eq!(finish.status.code(), Some(1));

    let requests = rt.block_on(gh.received_requests()).unwrap();
    let posted = sent(&requests, "POST", "/comments");
    assert_eq!(posted.len(), 1);
    let body = &posted[0];
    assert!(body.starts_with("<!-- ai-evals:action -->"), "{body}");
    assert!(
        body.contains("gate failed") && body.contains("30 newly failing"),
        "{body}"
    );
    assert!(
        body.contains(&BASE_SHA[..7]),
        "the baseline is the base commit: {body}"
    );
}

/// The history database zipped as upload-artifact stores it.
fn zipped(db: &Path) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("ai-evals.duckdb", options).unwrap();
    zip.write_all(&std::fs::read(db).unwrap()).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

fn artifact(id: u64, run: u64, branch: &str, head_repo: u64, created: &str) -> Value {
    json!({
        "id": id, "name": "ai-evals-history-evals.toml", "size_in_bytes": 1000, "expired": false,
        "created_at": created,
        "workflow_run": {"id": run, "repository_id": 1, "head_repository_id": head_repo,
                         "head_branch": branch, "head_sha": BASE_SHA},
    })
}

fn workflow_run(id: u64, event: &str, status: &str, conclusion: Option<&str>) -> Value {
    json!({"id": id, "event": event, "status": status, "conclusion": conclusion,
           "head_branch": "master", "repository": {"id": 1}, "head_repository": {"id": 1}})
}

/// Artifacts of master's history: the newest from a fork's pull request
/// (whose branch is also called master), then a pull request's run, a
/// push that was cancelled, one still in progress, and the good one: a push
/// whose gate failed (the run's conclusion is failure, but the Action
/// uploads the history of every finished run), whose zip GitHub serves
/// from `blob`. The oldest, a successful push, is never reached.
async fn artifacts(server: &MockServer, blob: &MockServer, zip: Vec<u8>) {
    let listed = json!({"total_count": 6, "artifacts": [
        artifact(40, 400, "master", 666, "2026-11-27T12:00:00Z"),
        artifact(30, 300, "master", 1, "2026-11-26T12:00:00Z"),
        artifact(25, 250, "master", 1, "2026-11-25T18:00:00Z"),
        artifact(22, 220, "master", 1, "2026-11-25T15:00:00Z"),
        artifact(20, 200, "master", 1, "2026-11-25T12:00:00Z"),
        artifact(10, 100, "master", 1, "2026-11-24T12:00:00Z"),
    ]});
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/actions/artifacts")))
        .and(query_param("name", "ai-evals-history-evals.toml"))
        .respond_with(ResponseTemplate::new(200).set_body_json(listed))
        .mount(server)
        .await;
    for (run, event, status, conclusion) in [
        (300, "pull_request", "completed", Some("success")),
        (250, "push", "completed", Some("cancelled")),
        (220, "push", "in_progress", None),
        (200, "push", "completed", Some("failure")),
        (100, "push", "completed", Some("success")),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/{REPO}/actions/runs/{run}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(workflow_run(run, event, status, conclusion)),
            )
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/actions/artifacts/20/zip")))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/blob/history.zip?sig=1", blob.uri())),
        )
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/blob/history.zip"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(zip))
        .expect(1)
        .mount(blob)
        .await;
}

#[test]
fn a_pull_request_without_cached_history_fetches_the_baseline_artifact() {
    let rt = Runtime::new().unwrap();
    let provider = rt
        .block_on(mock_provider::start(MockConfig::default()))
        .unwrap();
    // master's run, on another runner: its history went into the artifact.
    let main = suite(&provider.url());
    cases(&main, 0);
    let push = event("push_payload.json");
    paths_and_run(&main, &refs(&push_env(&push), &[]));
    assert_eq!(outputs(&main)["exit-code"], "0");
    let zip = zipped(&main.path("ai-evals.duckdb"));

    let (gh, blob) = rt.block_on(async {
        let gh = github("github-actions[bot]", Vec::new()).await;
        let blob = MockServer::start().await;
        artifacts(&gh, &blob, zip).await;
        (gh, blob)
    });
    // The pull request's cache restore missed: no ai-evals.duckdb.
    let pr_suite = suite(&provider.url());
    cases(&pr_suite, 30);
    let pr = event("pull_request_opened.payload.json");
    let api = gh.uri();
    let (_, run) = paths_and_run(&pr_suite, &refs(&pr_env(&pr, &api), &[]));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("fetched the history of master from run 200"),
        "{stderr}"
    );
    assert_eq!(outputs(&pr_suite)["exit-code"], "1", "{stderr}");

    let requests = rt.block_on(gh.received_requests()).unwrap();
    let posted = sent(&requests, "POST", "/comments");
    assert!(posted[0].contains("30 newly failing"), "{}", posted[0]);
    let blob_requests = rt.block_on(blob.received_requests()).unwrap();
    assert!(
        blob_requests[0].headers.get("authorization").is_none(),
        "the token stays with GitHub"
    );

    // Without any history at all, the pull request says how to get one.
    let empty = rt.block_on(github("github-actions[bot]", Vec::new()));
    let bare = suite(&provider.url());
    cases(&bare, 0);
    let api = empty.uri();
    let (_, run) = paths_and_run(&bare, &refs(&pr_env(&pr, &api), &[]));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("::notice title=ai-evals::No history of master was found"),
        "{stdout}"
    );
}

#[test]
fn matrix_legs_get_their_own_artifacts_keys_and_comments() {
    let rt = Runtime::new().unwrap();
    let provider = rt
        .block_on(mock_provider::start(MockConfig::default()))
        .unwrap();
    let gh = rt.block_on(github("github-actions[bot]", Vec::new()));
    let pr = event("pull_request_opened.payload.json");
    let api = gh.uri();
    let env = pr_env(&pr, &api);
    let mut named = Vec::new();
    for leg in ["gpt-4o", "gpt-4o-mini"] {
        let suite = suite(&provider.url());
        cases(&suite, 0);
        let (out, _) = paths_and_run(&suite, &refs(&env, &[("INPUT_ID", leg)]));
        named.push(out);
    }
    for name in [
        "report-artifact",
        "history-artifact",
        "history-key-prefix",
        "responses-key-prefix",
    ] {
        assert_ne!(named[0][name], named[1][name], "{name}");
    }
    assert_eq!(
        named[0]["report-artifact"],
        "ai-evals-report-evals-evals.toml-gpt-4o"
    );
    let requests = rt.block_on(gh.received_requests()).unwrap();
    let posted = sent(&requests, "POST", "/comments");
    assert_eq!(posted.len(), 2);
    assert!(
        posted[0].starts_with("<!-- ai-evals:action:gpt-4o -->"),
        "{}",
        posted[0]
    );
    assert!(
        posted[1].starts_with("<!-- ai-evals:action:gpt-4o-mini -->"),
        "{}",
        posted[1]
    );

    // An id that could end the marker is refused before anything runs.
    let suite = suite(&provider.url());
    let check = step(&suite, "check", &[("INPUT_ID", "x -->")]);
    assert_eq!(check.status.code(), Some(2));
}

#[test]
fn an_app_token_updates_its_own_comment_and_recreates_a_deleted_one() {
    let rt = Runtime::new().unwrap();
    let provider = rt
        .block_on(mock_provider::start(MockConfig::default()))
        .unwrap();
    let gh = rt.block_on(async {
        let gh = github(
            "evals-app[bot]",
            vec![
                comment(
                    11,
                    "github-actions[bot]",
                    "<!-- ai-evals:action -->\nanother bot's",
                ),
                comment(
                    12,
                    "evals-app[bot]",
                    "<!-- ai-evals:action -->\nours, deleted since",
                ),
            ],
        )
        .await;
        Mock::given(method("PATCH"))
            .and(path(format!("/repos/{REPO}/issues/comments/12")))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
            .expect(1)
            .mount(&gh)
            .await;
        gh
    });
    let suite = suite(&provider.url());
    cases(&suite, 0);
    let pr = event("pull_request_opened.payload.json");
    let api = gh.uri();
    let (_, run) = paths_and_run(&suite, &refs(&pr_env(&pr, &api), &[]));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("commented: https://github.com/"),
        "{stderr}"
    );
    let requests = rt.block_on(gh.received_requests()).unwrap();
    assert_eq!(sent(&requests, "PATCH", "/comments/12").len(), 1);
    assert!(
        sent(&requests, "PATCH", "/comments/11").is_empty(),
        "not ours"
    );
    assert_eq!(sent(&requests, "POST", "/comments").len(), 1);
    assert!(
        requests.iter().all(|r| r.url.path() != "/user"),
        "GET /user answers 403 to an App token"
    );
}

/// A report.json as a fork's run could upload it: schema-valid, with a
/// forged marker, mentions, HTML and links in its strings.
fn hostile_report(real: &str) -> Value {
    let mut report: Value = serde_json::from_str(real).unwrap();
    let nasty =
        "<!-- ai-evals:action --> @org/team <img src=x> [click](https://evil.example) ::error::x";
    report["gate_reasons"] = json!([format!("critical: {nasty}")]);
    report["no_comparison"] = Value::from(nasty);
    report["links"] =
        json!({"run": "https://evil.example/run", "baseline_commit": "javascript:alert(1)"});
    report["failures"] = json!([{"case_id": nasty, "source": nasty, "error": nasty,
                                  "failed": [nasty], "output": nasty}]);
    report["gate_passed"] = Value::from(false);
    report
}

/// The base repository's GitHub as the comment job sees it: the fork's
/// open pull requests (2 is at the tested commit `head`), no comments yet.
async fn base_repository(head: &str) -> MockServer {
    let gh = github("github-actions[bot]", Vec::new()).await;
    Mock::given(method("GET"))
        .and(path("/repos/octo-org/octo-repo/pulls"))
        .and(query_param("head", "attacker:main"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"number": 3, "head": {"sha": "0000000000000000000000000000000000000000"}},
            {"number": 2, "head": {"sha": head}},
        ])))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo-org/octo-repo/issues/2/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&gh)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octo-org/octo-repo/issues/2/comments"))
        .respond_with(ResponseTemplate::new(201).set_body_json(comment(
            5,
            "github-actions[bot]",
            "x",
        )))
        .mount(&gh)
        .await;
    gh
}

/// The action with `report-json` in the workflow_run job of a fork's run;
/// its exit-code output and what it printed.
fn comment_job(job: &Suite, api: &str, report: &Value) -> (String, Output) {
    job.write("untrusted/report.json", report.to_string());
    let file = job.path("untrusted/report.json");
    let run_event = event("workflow_run_completed.from-fork.payload.json");
    let out = step(
        job,
        "report",
        &[
            ("INPUT_REPORT_JSON", file.to_str().unwrap()),
            ("GITHUB_EVENT_NAME", "workflow_run"),
            ("GITHUB_EVENT_PATH", run_event.to_str().unwrap()),
            ("GITHUB_API_URL", api),
            ("AI_EVALS_GITHUB_TOKEN", "ghs_comment_job_token"),
            ("GITHUB_REPOSITORY", "octo-org/octo-repo"),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    (outputs(job)["exit-code"].clone(), out)
}

#[test]
fn the_fork_comment_job_posts_a_hostile_report_harmlessly() {
    let rt = Runtime::new().unwrap();
    let provider = rt
        .block_on(mock_provider::start(MockConfig::default()))
        .unwrap();
    // The fork's run: comment false, its report.json is the artifact.
    let fork = suite(&provider.url());
    cases(&fork, 0);
    let pr = event("pull_request_opened.payload.json");
    let no_github = pr_env(&pr, "http://127.0.0.1:9");
    paths_and_run(&fork, &refs(&no_github, &[("INPUT_COMMENT", "false")]));
    let real = std::fs::read_to_string(outputs(&fork)["json-path"].clone()).unwrap();
    let gh = rt.block_on(base_repository("c0ffee0000000000000000000000000000000001"));
    let api = gh.uri();
    let job = suite(&provider.url());

    // Refused outright: a suite that would end the marker, an oversized id.
    let mut bad_suite = hostile_report(&real);
    bad_suite["suite"] = Value::from("action --> <b>");
    let mut oversized = hostile_report(&real);
    oversized["run_id"] = Value::from("r".repeat(100_000));
    for bad in [bad_suite, oversized] {
        let (code, out) = comment_job(&job, &api, &bad);
        assert_eq!(code, "2");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("is not a report.json that ai-evals accepts"),
            "{stderr}"
        );
        assert!(!stderr.contains("rrrrrrrrrr"), "the value is not echoed");
    }
    let posted = sent(
        &rt.block_on(gh.received_requests()).unwrap(),
        "POST",
        "/comments",
    );
    assert!(posted.is_empty(), "nothing posted for a refused file");

    // Accepted, and harmless: a failed gate is not the comment job's failure.
    let (code, _) = comment_job(&job, &api, &hostile_report(&real));
    assert_eq!(code, "0");
    let requests = rt.block_on(gh.received_requests()).unwrap();
    let posted = sent(&requests, "POST", "/issues/2/comments");
    assert_eq!(posted.len(), 1, "to the pull request at the tested commit");
    let body = &posted[0];
    assert!(body.starts_with("<!-- ai-evals:action -->\n"), "{body}");
    assert_eq!(body.matches("<!--").count(), 1, "{body}");
    assert!(!body.contains("<img") && !body.contains("@org"), "{body}");
    assert!(
        !body.contains("](https://evil") && !body.contains("javascript:"),
        "{body}"
    );
    assert!(
        body.contains("(https://github.com/octo-org/octo-repo/actions/runs/289782451)"),
        "the link comes from the event: {body}"
    );
    assert!(
        !body.lines().any(|l| l.trim_start().starts_with("::")),
        "{body}"
    );
}
