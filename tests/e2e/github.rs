//! The sticky comment against a local stand-in for the GitHub REST API
//! (wiremock), with the real pull-request event payloads.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokio::runtime::Runtime;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Run, Suite, echo_config};

const COMMENTS: &str = "/repos/Codertocat/Hello-World/issues/2/comments";

fn event() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/github-events/pull_request_opened.payload.json")
}

fn suite() -> Suite {
    Suite::new(&echo_config(
        "[[tests]]\nid = \"a\"\nvars = { q = \"1\" }\nassert = [{ type = \"contains\", value = \"1\" }]\n",
    ))
}

/// Runs the suite as a pull-request job would, against `api`.
fn run_on_pr(suite: &Suite, api: &str, extra: &[&str]) -> Run {
    let summary = suite.path("step-summary.md");
    let output = suite.path("github-output.txt");
    let event = event();
    suite.run_env(
        extra,
        &[
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
            ("GITHUB_API_URL", api),
            ("GITHUB_TOKEN", "ghs_test_token_1234"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "Codertocat/Hello-World"),
            ("GITHUB_RUN_ID", "42"),
        ],
    )
}

fn comment(id: u64, login: &str, body: &str) -> Value {
    json!({
        "id": id,
        "body": body,
        "html_url": format!("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-{id}"),
        "user": { "login": login, "type": "Bot" },
    })
}

/// The Actions token: GraphQL's `viewer` says who it is (`GET /user`
/// would answer 403).
async fn actions_token(server: &MockServer) {
    viewer(server, "/graphql", "github-actions[bot]").await;
}

async fn viewer(server: &MockServer, at: &str, login: &str) {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"viewer": {"login": login}}})),
        )
        .mount(server)
        .await;
}

fn posted_bodies(requests: &[Request], verb: &str) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().contains("/comments"))
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["body"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn creates_the_comment_when_there_is_none() {
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        actions_token(&server).await;
        Mock::given(method("GET"))
            .and(path(COMMENTS))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                comment(1, "octocat", "LGTM @someone"),
                comment(2, "other-bot[bot]", "<!-- ai-evals:t -->\nnot ours"),
            ])))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(COMMENTS))
            .respond_with(ResponseTemplate::new(201).set_body_json(comment(
                99,
                "github-actions[bot]",
                "x",
            )))
            .expect(1)
            .mount(&server)
            .await;
        server
    });
    let suite = suite();
    let run = run_on_pr(&suite, &server.uri(), &[]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("commented: https://github.com/"),
        "{}",
        run.stderr()
    );
    // Secrets are masked before anything else is printed.
    assert!(
        run.stderr().starts_with("::add-mask::ghs_test_token_1234"),
        "{}",
        run.stderr()
    );
    let requests = rt.block_on(server.received_requests()).unwrap();
    let bodies = posted_bodies(&requests, "POST");
    assert_eq!(bodies.len(), 1);
    assert!(
        bodies[0].starts_with("<!-- ai-evals:t -->\n"),
        "{}",
        bodies[0]
    );
    // The first run has no baseline: its headline says so, not "pass".
    assert!(
        bodies[0].contains("## ⚪ ai-evals · `t`: no baseline"),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("https://github.com/Codertocat/Hello-World/actions/runs/42"));
    assert!(
        posted_bodies(&requests, "PATCH").is_empty(),
        "other users' comments are left alone"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("authorization").is_some())
    );

    let outputs = std::fs::read_to_string(suite.path("github-output.txt")).unwrap();
    assert!(outputs.contains("verdict=pass\n"), "{outputs}");
    assert!(outputs.contains("pass-rate=1.0000\n"), "{outputs}");
    let summary = std::fs::read_to_string(suite.path("step-summary.md")).unwrap();
    assert!(summary.contains("### Assertions"), "{summary}");
}

#[test]
fn updates_our_comment_found_on_the_second_page() {
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        actions_token(&server).await;
        let first: Vec<Value> = (1..=100)
            .map(|i| comment(i, "octocat", "a review comment"))
            .collect();
        Mock::given(method("GET"))
            .and(path(COMMENTS))
            .and(query_param("page", "1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(first))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(COMMENTS))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                comment(150, "octocat", "<!-- ai-evals:t -->\nquoted by a human"),
                comment(
                    151,
                    "github-actions[bot]",
                    "<!-- ai-evals:other-suite -->\nanother suite"
                ),
                comment(
                    152,
                    "github-actions[bot]",
                    "<!-- ai-evals:t -->\nold report"
                ),
            ])))
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path("/repos/Codertocat/Hello-World/issues/comments/152"))
            .and(body_string_contains("ai-evals:t"))
            .respond_with(ResponseTemplate::new(200).set_body_json(comment(
                152,
                "github-actions[bot]",
                "x",
            )))
            .expect(1)
            .mount(&server)
            .await;
        server
    });
    let suite = suite();
    let run = run_on_pr(&suite, &server.uri(), &[]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("updated the comment"),
        "{}",
        run.stderr()
    );
    let requests = rt.block_on(server.received_requests()).unwrap();
    assert!(
        posted_bodies(&requests, "POST").is_empty(),
        "no second comment"
    );
    assert_eq!(posted_bodies(&requests, "PATCH").len(), 1);
}

#[test]
fn a_read_only_token_warns_and_the_run_still_passes() {
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        actions_token(&server).await;
        Mock::given(method("GET"))
            .and(path(COMMENTS))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(COMMENTS))
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_json(json!({"message": "Resource not accessible by integration"})),
            )
            .mount(&server)
            .await;
        server
    });
    let suite = suite();
    let run = run_on_pr(&suite, &server.uri(), &[]);
    run.expect_code(0);
    assert!(run.stderr().contains("403"), "{}", run.stderr());
    assert!(run.stderr().contains("workflow_run"), "{}", run.stderr());
    assert_eq!(
        run.stderr().matches("warning").count(),
        1,
        "{}",
        run.stderr()
    );
    assert!(suite.path("step-summary.md").is_file());
}

#[test]
fn github_enterprise_uses_its_own_api_root() {
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = MockServer::start().await;
        // Enterprise's GraphQL root is /api/graphql, beside /api/v3.
        viewer(&server, "/api/graphql", "ci-bot").await;
        Mock::given(method("GET"))
            .and(path(format!("/api/v3{COMMENTS}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([comment(
                7,
                "ci-bot",
                "<!-- ai-evals:t -->\nold"
            ),])))
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path(
                "/api/v3/repos/Codertocat/Hello-World/issues/comments/7",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(comment(7, "ci-bot", "x")))
            .expect(1)
            .mount(&server)
            .await;
        server
    });
    let suite = suite();
    let run = run_on_pr(&suite, &format!("{}/api/v3", server.uri()), &[]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("updated the comment"),
        "{}",
        run.stderr()
    );
}

#[test]
fn no_comment_prints_it_and_writes_the_report_files() {
    let suite = suite();
    let dir = suite.path("report");
    // No server at all: nothing may be sent.
    let run = run_on_pr(
        &suite,
        "http://127.0.0.1:9",
        &["--no-comment", "--report-dir", dir.to_str().unwrap()],
    );
    run.expect_code(0);
    assert!(
        run.stdout()
            .contains("The pull-request comment (not posted"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("<!-- ai-evals:t -->"));
    for file in ["comment.md", "summary.md", "report.json", "junit.xml"] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 1, "{junit}");
    let outputs = std::fs::read_to_string(suite.path("github-output.txt")).unwrap();
    assert!(outputs.contains("junit-path="), "{outputs}");

    // `ai-evals report` renders the stored run again, files and all.
    let again = suite.path("again");
    let mut cmd = std::process::Command::new(crate::support::BIN);
    cmd.args(["report", "--no-comment", "--db"])
        .arg(suite.db())
        .arg("--report-dir")
        .arg(&again);
    crate::support::clean_env(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ai-evals · suite t"));
    assert_eq!(
        std::fs::read_to_string(again.join("comment.md")).unwrap(),
        std::fs::read_to_string(dir.join("comment.md")).unwrap()
    );
    let junit = std::fs::read_to_string(again.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 1, "{junit}");
}
