//! A provider that answers with a redirect. The call follows none but a
//! 307 or 308 to the same origin (which repeats the POST with its body);
//! anything else is the case's error naming where it pointed, never an
//! answer, never cached, and no provider's key header (`Authorization`,
//! `x-api-key`, `api-key`) ever reaches the other host.

use tokio::runtime::Runtime;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Suite, column, number};

const KEY_VAR: &str = "AI_EVALS_E2E_REDIRECT_KEY";
const KEY: &str = "sk-redirect-SECRET-0123456789";

/// The three ways a key travels, each with where its chat calls go.
struct Api {
    /// The provider's lines in evals.toml, `{url}` standing for the server.
    config: &'static str,
    /// The chat path the provider posts to.
    path: &'static str,
    /// The header that carries the key, and its value.
    key_header: &'static str,
    key_value: String,
    /// A good answer in the API's format: `4`.
    answer: &'static str,
}

fn apis() -> Vec<Api> {
    const OPENAI: &str = r#"{"choices":[{"message":{"role":"assistant","content":"4"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;
    vec![
        Api {
            config: "type = \"openai\"\nmodel = \"gpt-4o-mini\"\nbase-url = \"{url}/v1\"",
            path: "/v1/chat/completions",
            key_header: "authorization",
            key_value: format!("Bearer {KEY}"),
            answer: OPENAI,
        },
        Api {
            config: "type = \"anthropic\"\nmodel = \"claude-3-5-haiku-latest\"\nbase-url = \"{url}\"",
            path: "/v1/messages",
            key_header: "x-api-key",
            key_value: KEY.to_string(),
            answer: r#"{"content":[{"type":"text","text":"4"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}"#,
        },
        Api {
            config: "type = \"azure-openai\"\nendpoint = \"{url}\"\ndeployment = \"prod\"",
            path: "/openai/deployments/prod/chat/completions",
            key_header: "api-key",
            key_value: KEY.to_string(),
            answer: OPENAI,
        },
    ]
}

fn suite(api: &Api, url: &str) -> Suite {
    Suite::new(&format!(
        r#"[suite]
name = "redirected"
min-pass-rate = 0.0

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.model]
{}
api-key-env = "{KEY_VAR}"

[defaults]
assert = [{{ type = "equals", value = "4" }}]

[[tests]]
id = "sum"
vars = {{ q = "2 + 2" }}
"#,
        api.config.replace("{url}", url)
    ))
}

fn run(suite: &Suite) -> crate::support::Run {
    let cache = suite.path("cache");
    suite.run_env(&["--cache-dir", cache.to_str().unwrap()], &[(KEY_VAR, KEY)])
}

fn cached_entries(suite: &Suite) -> usize {
    let root = suite.path("cache/v1/responses");
    let Ok(shards) = std::fs::read_dir(root) else {
        return 0;
    };
    shards
        .map(|s| std::fs::read_dir(s.unwrap().path()).unwrap().count())
        .sum()
}

fn answer(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// Whether any request `server` received carries the key anywhere in its
/// headers.
fn saw_the_key(requests: &[Request]) -> bool {
    requests.iter().any(|r| {
        r.headers
            .values()
            .any(|v| String::from_utf8_lossy(v.as_bytes()).contains(KEY))
    })
}

#[test]
fn a_redirect_to_another_host_is_an_error_and_the_key_stays_home() {
    let runtime = Runtime::new().unwrap();
    for api in apis() {
        for status in [301, 302, 303, 307, 308] {
            let (origin, elsewhere) =
                runtime.block_on(async { (MockServer::start().await, MockServer::start().await) });
            runtime.block_on(async {
                Mock::given(method("POST"))
                    .and(path(api.path))
                    .respond_with(
                        ResponseTemplate::new(status)
                            .insert_header("location", format!("{}{}", elsewhere.uri(), api.path)),
                    )
                    .mount(&origin)
                    .await;
                // Whatever reaches the other host would be taken for an answer.
                Mock::given(wiremock::matchers::any())
                    .respond_with(answer(api.answer))
                    .mount(&elsewhere)
                    .await;
            });
            let suite = suite(&api, &origin.uri());
            let what = format!("{} {status}", api.key_header);
            run(&suite).expect_code(0);
            let stored = column(
                &suite.db(),
                "SELECT coalesce(output, 'NULL') || ' | ' || passed || ' | ' || error FROM case_results",
            );
            let other = elsewhere.address().to_string();
            assert_eq!(stored.len(), 1, "{what}");
            assert!(
                stored[0].starts_with("NULL | false | "),
                "{what}: {stored:?}"
            );
            assert!(
                stored[0].contains(&format!("answered {status} "))
                    && stored[0].contains(&format!("a redirect to another host, http://{other}")),
                "{what}: {stored:?}"
            );
            let reached = runtime.block_on(elsewhere.received_requests()).unwrap();
            assert!(
                reached.is_empty(),
                "{what}: the other host was asked: {reached:?}"
            );
            let asked = runtime.block_on(origin.received_requests()).unwrap();
            assert_eq!(asked.len(), 1, "{what}: a redirect is not retried");
            assert!(saw_the_key(&asked), "{what}: the origin got its key");
            assert_eq!(cached_entries(&suite), 0, "{what}: a redirect was cached");
            // Nothing was cached, so the next run asks the origin again.
            run(&suite).expect_code(0);
            let asked = runtime.block_on(origin.received_requests()).unwrap();
            assert_eq!(asked.len(), 2, "{what}");
            let reached = runtime.block_on(elsewhere.received_requests()).unwrap();
            assert!(!saw_the_key(&reached) && reached.is_empty(), "{what}");
        }
    }
}

#[test]
fn a_same_host_307_or_308_is_followed_with_the_post_and_its_body() {
    let runtime = Runtime::new().unwrap();
    for api in apis() {
        for status in [307, 308] {
            let server = runtime.block_on(MockServer::start());
            let moved = format!("{}-moved", api.path);
            runtime.block_on(async {
                Mock::given(method("POST"))
                    .and(path(api.path))
                    .respond_with(
                        ResponseTemplate::new(status).insert_header("location", moved.as_str()),
                    )
                    .mount(&server)
                    .await;
                Mock::given(method("POST"))
                    .and(path(moved.as_str()))
                    .and(header(api.key_header, api.key_value.as_str()))
                    .and(body_string_contains("Q: 2 + 2"))
                    .respond_with(answer(api.answer))
                    .mount(&server)
                    .await;
            });
            let suite = suite(&api, &server.uri());
            run(&suite).expect_code(0);
            let what = format!("{} {status}", api.key_header);
            assert_eq!(
                column(
                    &suite.db(),
                    "SELECT output || ' ' || passed FROM case_results"
                ),
                ["4 true"],
                "{what}"
            );
            assert_eq!(cached_entries(&suite), 1, "{what}");
        }
    }
}

#[test]
fn a_same_host_redirect_that_would_drop_the_body_is_an_error() {
    let runtime = Runtime::new().unwrap();
    let api = &apis()[0];
    for status in [301, 302, 303] {
        let server = runtime.block_on(MockServer::start());
        runtime.block_on(async {
            Mock::given(method("POST"))
                .and(path(api.path))
                .respond_with(
                    ResponseTemplate::new(status).insert_header("location", "/v1/elsewhere"),
                )
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .respond_with(answer(api.answer))
                .mount(&server)
                .await;
        });
        let suite = suite(api, &server.uri());
        run(&suite).expect_code(0);
        let error = column(&suite.db(), "SELECT error FROM case_results");
        assert!(
            error[0].contains("a redirect to /v1/elsewhere on the same host"),
            "{status}: {error:?}"
        );
        let requests = runtime.block_on(server.received_requests()).unwrap();
        assert_eq!(requests.len(), 1, "{status}: no GET followed");
        assert_eq!(
            number(
                &suite.db(),
                "SELECT count(*) FROM case_results WHERE passed"
            ),
            0
        );
    }
}
