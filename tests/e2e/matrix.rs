//! Prompt × provider matrices and chat prompts: every combination is its
//! own case, paired across runs by (id, prompt, provider), grouped in the
//! report; a chat prompt's messages reach each API in its own shape.

use tokio::runtime::Runtime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Suite, column, number};

const MATRIX: &str = r#"[suite]
name = "matrix"
min-pass-rate = 0.0

[prompts]
short = "Q: {{ q }}"
long = "Question: {{ q }}"

[providers.a]
type = "echo"

[providers.b]
type = "echo"

[defaults]
prompts = ["short", "long"]
providers = ["a", "b"]
assert = [{ type = "starts-with", value = "Q: ", metric = "style" }]

[[tests]]
id = "one"
vars = { q = "1" }

[[tests]]
id = "two"
vars = { q = "2" }

[[tests]]
id = "only-long-on-a"
prompt = "long"
provider = "a"
vars = { q = "3" }
"#;

fn on<'a>(branch: &'a str, sha: &'a str) -> [(&'a str, &'a str); 2] {
    [("GITHUB_REF_NAME", branch), ("GITHUB_SHA", sha)]
}

#[test]
fn each_prompt_and_provider_is_its_own_case_paired_across_runs() {
    let suite = Suite::new(MATRIX);
    let first = suite.run_env(&[], &on("main", "aaaaaaa1"));
    first.expect_code(0);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT case_id || ' ' || coalesce(variant, '-') || ' ' || prompt_name || ' ' || provider || ' ' || passed
               FROM case_results ORDER BY ordinal"
        ),
        [
            "one short @ a short a true",
            "one short @ b short b true",
            "one long @ a long a false",
            "one long @ b long b false",
            "two short @ a short a true",
            "two short @ b short b true",
            "two long @ a long a false",
            "two long @ b long b false",
            "only-long-on-a - long a false",
        ]
    );
    let out = first.stdout();
    assert!(out.contains("Prompts × providers"), "{out}");
    assert!(out.contains("Named metrics"), "{out}");
    assert!(
        out.contains("✗ one [long @ a]"),
        "failures name the combination: {out}"
    );
    // One combination of one test fails now: the pairing finds exactly it.
    suite.write(
        "evals.toml",
        MATRIX.replace(
            "vars = { q = \"2\" }",
            "vars = { q = \"2\" }\nassert = [{ type = \"contains\", value = \"nope\" }]",
        ),
    );
    let second = suite.run_env(&["--fail-on", "never"], &on("feature", "bbbbbbb2"));
    second.expect_code(0);
    let out = second.stdout();
    assert!(out.contains("9 shared cases"), "{out}");
    assert!(
        out.contains("newly failing (2): two [short @ a], two [short @ b]"),
        "{out}"
    );
}

const KEY_VAR: &str = "AI_EVALS_E2E_CHAT_KEY";

/// A chat prompt sent to a server at `url` with the API `kind`.
fn chat_suite(url: &str, kind: &str, model: &str) -> Suite {
    Suite::new(&format!(
        r#"[suite]
name = "chat"
min-pass-rate = 0.0

[prompts.translate]
messages = [
  {{ role = "system", content = "Translate into {{{{ language }}}}." }},
  {{ role = "user", content = "Hello" }},
  {{ role = "assistant", content = "Bonjour" }},
  {{ role = "user", content = "{{{{ text }}}}" }},
]

[providers.model]
type = "{kind}"
model = "{model}"
base-url = "{url}"
api-key-env = "{KEY_VAR}"
system = "Be brief."

[[tests]]
id = "t"
vars = {{ language = "French", text = "Good night" }}
assert = [{{ type = "contains", value = "nuit" }}]
"#
    ))
}

#[test]
fn a_chat_prompt_keeps_its_turns_and_anthropic_gets_the_system_apart() {
    let runtime = Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    runtime.block_on(async {
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ResponseTemplate::new(200).set_body_string(
                r#"{"choices":[{"message":{"content":"Bonne nuit"},"finish_reason":"stop"}]}"#,
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/messages"))
            .respond_with(ResponseTemplate::new(200).set_body_string(
                r#"{"content":[{"type":"text","text":"Bonne nuit"}],"stop_reason":"end_turn"}"#,
            ))
            .mount(&server)
            .await;
    });
    let openai = chat_suite(&format!("{}/v1", server.uri()), "openai-compatible", "m");
    openai
        .run_env(&["--no-cache"], &[(KEY_VAR, "sk")])
        .expect_code(0);
    let anthropic = chat_suite(&server.uri(), "anthropic", "claude");
    anthropic
        .run_env(&["--no-cache"], &[(KEY_VAR, "sk")])
        .expect_code(0);
    let requests = runtime.block_on(server.received_requests()).unwrap();
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let roles = |body: &serde_json::Value| -> Vec<String> {
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}: {}",
                    m["role"].as_str().unwrap(),
                    m["content"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        roles(&bodies[0]),
        [
            "system: Be brief.",
            "system: Translate into French.",
            "user: Hello",
            "assistant: Bonjour",
            "user: Good night"
        ]
    );
    assert_eq!(bodies[1]["system"], "Be brief.\n\nTranslate into French.");
    assert_eq!(
        roles(&bodies[1]),
        ["user: Hello", "assistant: Bonjour", "user: Good night"]
    );
    assert_eq!(
        number(
            &openai.db(),
            "SELECT count(*) FROM case_results WHERE passed"
        ),
        1
    );
    assert_eq!(
        column(&openai.db(), "SELECT prompt FROM case_results")[0],
        r#"[{"role":"system","content":"Translate into French."},{"role":"user","content":"Hello"},{"role":"assistant","content":"Bonjour"},{"role":"user","content":"Good night"}]"#
    );
}
