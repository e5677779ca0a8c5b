// Conversion tests: every vendored promptfoo example (snapshotted), and each
// prompt, provider, test-source and assertion form on small configs.
// `UPDATE_SNAPSHOTS=1 cargo test` rewrites the snapshots.

use std::path::{Path, PathBuf};

use super::{Conversion, convert};

fn no_env(_: &str) -> Option<String> {
    None
}

/// A fresh folder with `files`, and the conversion of `config` in it.
fn run_with(
    config: &str,
    files: &[(&str, &str)],
    env: &dyn Fn(&str) -> Option<String>,
) -> Conversion {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pf-import-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let path = dir.join("promptfooconfig.yaml");
    std::fs::write(&path, config).unwrap();
    let c = convert(config, &path, env).expect("a promptfoo config");
    check_toml(&c);
    c
}

fn run(config: &str, files: &[(&str, &str)]) -> Conversion {
    run_with(config, files, &no_env)
}

/// The suite parses as TOML and every generated row as JSON.
fn check_toml(c: &Conversion) -> toml::Table {
    let t: toml::Table = toml::from_str(&c.toml).unwrap_or_else(|e| panic!("{e}\n{}", c.toml));
    for (_, contents) in &c.files {
        for line in contents.lines() {
            let _: serde_json::Value = serde_json::from_str(line).unwrap();
        }
    }
    t
}

fn suite(c: &Conversion) -> toml::Table {
    check_toml(c)
}

fn skipped_text(c: &Conversion) -> String {
    c.skipped
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn tests_of(c: &Conversion) -> Vec<toml::Value> {
    suite(c)
        .get("tests")
        .and_then(|t| t.as_array())
        .cloned()
        .unwrap_or_default()
}

fn first_assert(c: &Conversion) -> toml::Value {
    tests_of(c)[0]["assert"][0].clone()
}

// ---------- vendored examples ----------

fn fixture(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/promptfoo")
        .join(name);
    let path = dir.join("promptfooconfig.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let c = convert(&text, &path, &no_env).unwrap();
    check_toml(&c);
    let mut snap = c.toml.clone();
    for (p, contents) in &c.files {
        snap.push_str(&format!("\n===== {} =====\n{}", p.display(), contents));
    }
    snap.push_str(&format!("\n===== exit code {} =====\n", c.exit_code()));
    for s in &c.skipped {
        snap.push_str(&format!("skipped: {s}\n"));
    }
    for w in &c.warnings {
        snap.push_str(&format!("differs: {w}\n"));
    }
    let file: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/import/promptfoo/snapshots")
        .join(format!("{name}.snap"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() || !file.exists() {
        std::fs::write(&file, &snap).unwrap();
    }
    let expected = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        snap, expected,
        "snapshot {name} changed; rerun with UPDATE_SNAPSHOTS=1 to accept"
    );
}

#[test]
fn example_getting_started() {
    fixture("getting-started");
}

#[test]
fn example_simple_csv() {
    fixture("simple-csv");
}

#[test]
fn example_eval_customer_support_rubric() {
    fixture("eval-customer-support-rubric");
}

#[test]
fn example_azure_openai() {
    fixture("azure-openai");
}

#[test]
fn example_anthropic_basic() {
    fixture("anthropic-basic");
}

#[test]
fn example_openai_chat_history() {
    fixture("openai-chat-history");
}

#[test]
fn example_eval_javascript_assert_params() {
    fixture("eval-javascript-assert-params");
}

#[test]
fn example_config_transform_file() {
    fixture("config-transform-file");
}

#[test]
fn example_python_assert() {
    fixture("python-assert");
}

// ---------- not a promptfoo config ----------

#[test]
fn not_promptfoo() {
    let p = Path::new("x.yaml");
    for text in [
        "a: [1, 2",
        "- just\n- a list\n",
        "name: x\nsteps: []\n",
        "[suite]\nname = 'x'\n",
    ] {
        let e = convert(text, p, &no_env).unwrap_err();
        assert!(!e.reason.is_empty(), "{text}: {e}");
    }
}

// ---------- prompts ----------

#[test]
fn prompt_forms() {
    let c = run(
        r#"
prompts:
  - 'Inline {{q}}'
  - file://many.txt
  - id: file://chat.json
    label: Chat one
  - raw: 'Raw {{q}}'
    label: labelled
  - file://sys.yaml
  - '[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "{{q}}"}]'
  - file://script.py
  - label: messages form
    messages:
      - role: system
        content: file://system.txt
      - role: user
        content: '{{q}}'
providers: [echo]
tests:
  - vars: { q: hi }
"#,
        &[
            ("many.txt", "First {{q}}\n---\n\n  Second {{q}}  \n"),
            (
                "chat.json",
                r#"[{"role": "system", "content": "S"}, {"role": "user", "content": "U {{q}}"}]"#,
            ),
            ("sys.yaml", "- role: user\n  content: 'From YAML {{ q }}'\n"),
            ("script.py", "def f(): pass\n"),
            ("system.txt", "System text"),
        ],
    );
    let t = suite(&c);
    let prompts = t["prompts"].as_table().unwrap();
    assert_eq!(prompts["prompt-1"].as_str(), Some("Inline {{q}}"));
    assert_eq!(prompts["many-1"].as_str(), Some("First {{q}}"));
    assert_eq!(
        prompts["many-2"].as_str(),
        Some("Second {{q}}"),
        "trimmed like promptfoo"
    );
    let chat = prompts["Chat-one"]["messages"].as_array().unwrap();
    assert_eq!(chat[0]["role"].as_str(), Some("system"));
    assert_eq!(chat[1]["content"].as_str(), Some("U {{q}}"));
    assert_eq!(prompts["labelled"].as_str(), Some("Raw {{q}}"));
    assert_eq!(
        prompts["sys"]["messages"][0]["content"].as_str(),
        Some("From YAML {{ q }}")
    );
    let inline_chat = prompts
        .values()
        .filter(|v| v.get("messages").is_some())
        .count();
    assert_eq!(inline_chat, 4);
    assert_eq!(
        prompts["messages-form"]["messages"][0]["content"].as_str(),
        Some("System text")
    );
    assert_eq!(
        t["defaults"]["prompts"].as_array().unwrap().len(),
        prompts.len()
    );
    let s = skipped_text(&c);
    assert!(s.contains("script.py"), "{s}");
    assert_eq!(c.skipped.len(), 1, "{s}");
    assert_eq!(c.exit_code(), 1);
}

#[test]
fn prompt_legacy_map_and_glob() {
    let c = run(
        "prompts:\n  p/a.txt: first\nproviders: [echo]\ntests: [{vars: {}}]\n",
        &[("p/a.txt", "A")],
    );
    assert_eq!(suite(&c)["prompts"]["first"].as_str(), Some("A"));
    let c = run(
        "prompts: ['file://p/*.txt']\nproviders: [echo]\ntests: [{vars: {}}]\n",
        &[("p/a.txt", "A"), ("p/b.txt", "B")],
    );
    let t = suite(&c);
    assert_eq!(t["prompts"].as_table().unwrap().len(), 2);
}

#[test]
fn prompt_templates_translated_or_skipped() {
    let c = run(
        "prompts:\n  - '{{ items | dump }}'\n  - '{{ env.SECRET }}'\n  - '{{ name.toUpperCase() }}'\nproviders: [echo]\ntests: [{vars: {items: [1], name: a}}]\n",
        &[],
    );
    let t = suite(&c);
    assert_eq!(
        t["prompts"]["prompt-1"].as_str(),
        Some("{{ items | tojson }}")
    );
    assert_eq!(c.skipped.len(), 2, "{}", skipped_text(&c));
    assert!(c.warnings.iter().any(|n| n.why.contains("tojson")));
}

// ---------- providers ----------

#[test]
fn provider_forms_and_config() {
    let c = run(
        r#"
prompts: ['{{q}}']
providers:
  - openai:gpt-4o-mini
  - openai:chat:gpt-4o
  - id: anthropic:messages:claude-3-5-haiku-latest
    label: Haiku
    config: { temperature: 0, max_tokens: 200, top_p: 0.9, stop_sequences: ['END'] }
  - id: openai:chat:llama3.1
    label: local
    config: { apiBaseUrl: 'http://localhost:11434', apiKeyEnvar: LOCAL_KEY, seed: 7, stop: 'X', response_format: { type: json_object }, frequency_penalty: 1, apiKey: sk-secret }
  - azureopenai:chat:my-deploy
  - azure:chat:with-host:
      config: { apiHost: 'res.openai.azure.com', apiVersion: '2024-06-01' }
  - replicate:meta/llama
  - openai:completion:davinci-002
  - echo
tests: [{vars: {q: hi}}]
"#,
        &[],
    );
    let t = suite(&c);
    let p = t["providers"].as_table().unwrap();
    assert_eq!(p["openai-gpt-4o-mini"]["type"].as_str(), Some("openai"));
    assert_eq!(p["openai-chat-gpt-4o"]["model"].as_str(), Some("gpt-4o"));
    let h = &p["Haiku"];
    assert_eq!(h["type"].as_str(), Some("anthropic"));
    assert_eq!(h["max-tokens"].as_integer(), Some(200));
    assert_eq!(h["stop"][0].as_str(), Some("END"));
    let l = &p["local"];
    assert_eq!(l["type"].as_str(), Some("openai-compatible"));
    assert_eq!(l["base-url"].as_str(), Some("http://localhost:11434/v1"));
    assert_eq!(l["api-key-env"].as_str(), Some("LOCAL_KEY"));
    assert_eq!(l["seed"].as_integer(), Some(7));
    assert_eq!(l["response-format"].as_str(), Some("json"));
    assert!(
        !c.toml.contains("sk-secret"),
        "literal keys are never copied"
    );
    assert_eq!(
        p["azure-chat-with-host"]["endpoint"].as_str(),
        Some("https://res.openai.azure.com")
    );
    assert_eq!(
        p["azure-chat-with-host"]["api-version"].as_str(),
        Some("2024-06-01")
    );
    assert!(p.get("echo").is_some());
    let s = skipped_text(&c);
    for needle in ["frequency_penalty", "apiKey", "replicate", "davinci"] {
        assert!(s.contains(needle), "{needle} not in:\n{s}");
    }
    // An Azure deployment with no endpoint in the config gets it from the
    // environment at run time, as in promptfoo.
    assert!(p.get("azureopenai-chat-my-deploy").is_some(), "{}", c.toml);
    assert!(
        c.notes
            .iter()
            .any(|n| n.to_string().contains("azureopenai:chat:my-deploy")
                && n.why.contains("at run time")),
        "{:?}",
        c.notes
    );
    assert_eq!(
        t["defaults"]["providers"].as_array().unwrap().len(),
        p.len()
    );
}

#[test]
fn provider_env_base_urls() {
    let env = |name: &str| match name {
        "OPENAI_BASE_URL" => Some("http://gateway.local/v1".to_string()),
        "ANTHROPIC_BASE_URL" => Some("http://claude.local".to_string()),
        "AZURE_OPENAI_API_HOST" => Some("env-res.openai.azure.com".to_string()),
        "AZURE_API_KEY" => Some("x".to_string()),
        _ => None,
    };
    let c = run_with(
        "prompts: ['{{q}}']\nproviders: [openai:gpt-4o, anthropic:messages:claude-x, azure:chat:dep]\ntests: [{vars: {q: a}}]\n",
        &[],
        &env,
    );
    let t = suite(&c);
    let p = t["providers"].as_table().unwrap();
    assert_eq!(
        p["openai-gpt-4o"]["base-url"].as_str(),
        Some("http://gateway.local/v1")
    );
    assert_eq!(
        p["openai-gpt-4o"]["type"].as_str(),
        Some("openai-compatible")
    );
    assert_eq!(
        p["openai-gpt-4o"]["api-key-env"].as_str(),
        Some("OPENAI_API_KEY")
    );
    assert_eq!(
        p["anthropic-messages-claude-x"]["base-url"].as_str(),
        Some("http://claude.local")
    );
    assert_eq!(
        p["azure-chat-dep"]["endpoint"].as_str(),
        Some("https://env-res.openai.azure.com")
    );
    assert_eq!(
        p["azure-chat-dep"]["api-key-env"].as_str(),
        Some("AZURE_API_KEY")
    );
    assert!(c.toml.contains("base-url from $OPENAI_BASE_URL"));
    // OPENAI_API_HOST wins over OPENAI_BASE_URL; the config's own env: block wins over the process.
    let c = run_with(
        "env: { OPENAI_API_HOST: proxy.example }\nprompts: ['{{q}}']\nproviders: [openai:gpt-4o]\ntests: [{vars: {q: a}}]\n",
        &[],
        &env,
    );
    assert_eq!(
        suite(&c)["providers"]["openai-gpt-4o"]["base-url"].as_str(),
        Some("https://proxy.example/v1")
    );
    // For Azure, promptfoo ranks the base-URL variables above config.apiHost.
    let azure = "prompts: ['{{q}}']\nproviders: [{id: 'azure:chat:dep', config: {apiHost: res.openai.azure.com}}]\ntests: [{vars: {q: a}}]\n";
    let c = run_with(
        &format!("env: {{ AZURE_API_BASE_URL: 'http://proxy.local/' }}\n{azure}"),
        &[],
        &env,
    );
    assert_eq!(
        suite(&c)["providers"]["azure-chat-dep"]["endpoint"].as_str(),
        Some("http://proxy.local")
    );
    let c = run_with(azure, &[], &env);
    assert_eq!(
        suite(&c)["providers"]["azure-chat-dep"]["endpoint"].as_str(),
        Some("https://res.openai.azure.com")
    );
    assert!(
        note_text(&c).contains("ai-evals does not"),
        "the override promptfoo allows is noted: {}",
        note_text(&c)
    );
}

// ---------- tests and defaultTest ----------

#[test]
fn default_test_merging() {
    let c = run(
        r#"
prompts: ['{{greeting}} {{name}}']
providers: [echo]
defaultTest:
  vars: { greeting: Hello }
  threshold: 0.5
  assert:
    - type: not-icontains
      value: sorry
  options:
    provider: openai:gpt-4.1-mini
tests:
  - description: one
    vars: { name: Ann }
    assert:
      - { type: llm-rubric, value: is friendly }
  - vars: { name: [Bo, Cy] }
    threshold: 1
"#,
        &[],
    );
    let t = suite(&c);
    let d = &t["defaults"];
    assert_eq!(d["vars"]["greeting"].as_str(), Some("Hello"));
    assert_eq!(d["threshold"].as_float(), Some(0.5));
    assert_eq!(d["assert"][0]["type"].as_str(), Some("not-icontains"));
    assert_eq!(t["grading"]["judge"].as_str(), Some("openai-gpt-4.1-mini"));
    let tests = tests_of(&c);
    assert_eq!(tests.len(), 3, "the array var expands into two tests");
    assert_eq!(tests[0]["description"].as_str(), Some("one"));
    assert_eq!(tests[0]["assert"][0]["type"].as_str(), Some("llm-judge"));
    assert_eq!(tests[1]["vars"]["name"].as_str(), Some("Bo"));
    assert_eq!(tests[2]["vars"]["name"].as_str(), Some("Cy"));
    assert_eq!(tests[2]["threshold"].as_float(), Some(1.0));
    assert_eq!(c.exit_code(), 0, "{}", skipped_text(&c));
    // The grader is a provider, but not one of the matrix.
    assert_eq!(d["provider"].as_str(), Some("echo"));
}

#[test]
fn vars_files_newlines_and_var_in_var() {
    let c = run(
        r#"
prompts: ['{{doc}} {{q}}']
providers: [echo]
tests:
  - vars:
      doc: file://doc.txt
      q: "About {{ topic }}\n"
      topic: cats
      data: file://data.yaml
"#,
        &[
            ("doc.txt", "  Document text  \n\n"),
            ("data.yaml", "a: 1\nb: [x]\n"),
        ],
    );
    let tests = tests_of(&c);
    let v = &tests[0]["vars"];
    assert_eq!(v["doc"].as_str(), Some("Document text"));
    assert_eq!(
        v["q"].as_str(),
        Some("About cats"),
        "var-in-var resolved, trailing newline removed"
    );
    assert_eq!(v["data"].as_str(), Some(r#"{"a":1,"b":["x"]}"#));
}

/// A config whose tests come from a CSV file, YAML files by glob, JSONL,
/// JSON and a script.
fn test_sources() -> Conversion {
    run(
        r#"
prompts: ['{{q}}']
providers: [echo]
tests:
  - file://cases.csv
  - file://more/*.yaml
  - file://rows.jsonl
  - file://list.json
  - file://gen.py
"#,
        &[
            (
                "cases.csv",
                "q,__expected,__expected2,__description,__threshold,__metric,__config:__expected2:threshold\n\
                 hello,contains:ell,similar:hi there,first,0.5,m,0.9\n\
                 x,not-regex:\\d+,Paris,,,,0.8\n\
                 y,fn:output.length > 2,,,,,0.8\n",
            ),
            (
                "more/a.yaml",
                "- vars: { q: a }\n  assert:\n    - type: equals\n      value: a\n",
            ),
            ("more/b.yaml", "- vars: { q: b }\n"),
            (
                "rows.jsonl",
                "{\"vars\": {\"q\": \"j\"}, \"assert\": [{\"type\": \"starts-with\", \"value\": \"j\"}]}\n",
            ),
            ("list.json", "[{\"vars\": {\"q\": \"k\"}}]"),
            ("gen.py", ""),
        ],
    )
}

#[test]
fn test_sources_csv_yaml_json_jsonl_glob() {
    let c = test_sources();
    let t = suite(&c);
    let datasets: Vec<String> = t["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        datasets,
        [
            "cases.converted.jsonl",
            "more/a.converted.jsonl",
            "more/b.converted.jsonl",
            "rows.converted.jsonl",
            "list.converted.jsonl"
        ]
    );
    let csv = &c
        .files
        .iter()
        .find(|(p, _)| p.to_str() == Some("cases.converted.jsonl"))
        .unwrap()
        .1;
    let rows: Vec<serde_json::Value> = csv
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["description"], "first");
    assert_eq!(rows[0]["threshold"], 0.5);
    assert_eq!(
        rows[0]["assert"][0],
        serde_json::json!({"type": "contains", "value": "ell", "metric": "m"})
    );
    assert_eq!(rows[0]["assert"][1]["threshold"], 0.9, "__config threshold");
    assert_eq!(rows[0]["assert"][1]["type"], "similar");
    assert_eq!(
        rows[1]["assert"][0],
        serde_json::json!({"type": "not-regex", "value": "[0-9]+"})
    );
    assert_eq!(
        rows[1]["assert"][1],
        serde_json::json!({"type": "equals", "value": "Paris"})
    );
    assert_eq!(rows[1]["description"], "Row #2");
    assert_eq!(
        rows[2]["assert"][0],
        serde_json::json!({"type": "javascript", "value": "output.length > 2"}),
        "a CSV `fn:` is a javascript assertion"
    );
    assert_eq!(
        t["grading"]["embeddings"].as_str(),
        Some("promptfoo-default-embeddings")
    );
    let s = skipped_text(&c);
    assert!(s.contains("gen.py"), "{s}");
    assert_eq!(c.skipped.len(), 1, "{s}");
}

#[test]
fn unsupported_top_level_items_are_listed_with_lines() {
    let c = run(
        "description: d\nprompts: ['{{q}}']\nproviders: [echo]\nredteam: {plugins: [harmful]}\nscenarios: []\nextensions: [file://hook.js]\ntests:\n  - vars: {q: a}\n    assert:\n      - type: ruby\n        value: output.length > 1\n      - type: moderation\n      - type: webhook\n        value: https://x\n",
        &[],
    );
    let s = skipped_text(&c);
    assert!(s.contains("promptfooconfig.yaml:4 redteam"), "{s}");
    assert!(s.contains("promptfooconfig.yaml:5 scenarios"), "{s}");
    assert!(s.contains("promptfooconfig.yaml:6 extensions"), "{s}");
    assert!(
        s.contains("promptfooconfig.yaml:10 tests[0].assert[0]"),
        "{s}"
    );
    assert!(
        s.contains("promptfooconfig.yaml:12 tests[0].assert[1]"),
        "{s}"
    );
    assert!(s.contains("runs Ruby"), "{s}");
    assert!(
        s.contains("promptfooconfig.yaml:13 tests[0].assert[2]"),
        "{s}"
    );
    assert_eq!(c.skipped.len(), 6);
    assert_eq!(c.exit_code(), 1);
    assert!(c.toml.contains("6 item(s) were NOT converted"));
}

// ---------- assertions ----------

fn one_assert(yaml: &str) -> Conversion {
    run(
        &format!(
            "prompts: ['{{{{q}}}}']\nproviders: [echo]\ntests:\n  - vars: {{ q: a, expected: b }}\n    assert:\n      - {yaml}\n"
        ),
        &[
            ("schema.json", r#"{"type": "object"}"#),
            ("check.js", "module.exports.strict = () => true;\n"),
        ],
    )
}

fn converts_to(yaml: &str, expected: &str) {
    let c = one_assert(yaml);
    assert!(c.skipped.is_empty(), "{yaml}: {}", skipped_text(&c));
    let got = first_assert(&c);
    let want: toml::Value =
        toml::from_str::<toml::Table>(&format!("a = {expected}")).unwrap()["a"].clone();
    assert_eq!(got, want, "{yaml}");
}

fn skipped(yaml: &str, why: &str) {
    let c = one_assert(yaml);
    let s = skipped_text(&c);
    assert!(
        s.contains(why),
        "{yaml}: expected skip containing {why:?}, got:\n{s}"
    );
}

#[test]
fn text_assertions_and_their_negations() {
    for neg in ["", "not-"] {
        converts_to(
            &format!("{{ type: {neg}equals, value: Paris }}"),
            &format!(r#"{{ type = "{neg}equals", value = "Paris" }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}equals, value: 42 }}"),
            &format!(r#"{{ type = "{neg}equals", value = "42" }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}contains, value: x }}"),
            &format!(r#"{{ type = "{neg}contains", value = "x" }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}icontains, value: X }}"),
            &format!(r#"{{ type = "{neg}icontains", value = "X" }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}starts-with, value: A }}"),
            &format!(r#"{{ type = "{neg}starts-with", value = "A" }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}contains-any, value: [a, 1] }}"),
            &format!(r#"{{ type = "{neg}contains-any", value = ["a", "1"] }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}contains-all, value: 'a, \"b, c\"' }}"),
            &format!(r#"{{ type = "{neg}contains-all", value = ["a", "b, c"] }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}regex, value: '^\\d+\\b' }}"),
            &format!(r#"{{ type = "{neg}regex", value = '^[0-9]+(?-u:\b)' }}"#),
        );
    }
}

#[test]
fn measured_and_graded_assertions_and_their_negations() {
    for neg in ["", "not-"] {
        converts_to(
            &format!("{{ type: {neg}is-json }}"),
            &format!(r#"{{ type = "{neg}is-json" }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}is-json, value: {{ type: object, required: [a] }} }}"),
            &format!(
                r#"{{ type = "{neg}is-json", value = {{ "$schema" = "http://json-schema.org/draft-07/schema#", type = "object", required = ["a"] }} }}"#
            ),
        );
        converts_to(
            &format!("{{ type: {neg}is-json, value: 'type: array' }}"),
            &format!(
                r#"{{ type = "{neg}is-json", value = {{ "$schema" = "http://json-schema.org/draft-07/schema#", type = "array" }} }}"#
            ),
        );
        converts_to(
            &format!("{{ type: {neg}is-json, value: file://schema.json }}"),
            &format!(
                r#"{{ type = "{neg}is-json", value = {{ "$schema" = "http://json-schema.org/draft-07/schema#", type = "object" }} }}"#
            ),
        );
        converts_to(
            &format!("{{ type: {neg}word-count, value: {{ min: 2 }} }}"),
            &format!(r#"{{ type = "{neg}word-count", value = {{ min = 2 }} }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}cost, threshold: 0.01 }}"),
            &format!(r#"{{ type = "{neg}cost", threshold = 0.01 }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}llm-rubric, value: polite, threshold: 0.7 }}"),
            &format!(r#"{{ type = "{neg}llm-judge", value = "polite", threshold = 0.7 }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}similar, value: hello }}"),
            &format!(r#"{{ type = "{neg}similar", value = "hello", threshold = 0.75 }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}levenshtein, value: '{{{{expected}}}}' }}"),
            &format!(
                r#"{{ type = "{neg}levenshtein", value = "{{{{expected}}}}", threshold = 5.0 }}"#
            ),
        );
        converts_to(
            &format!("{{ type: {neg}levenshtein, value: x, threshold: 2.5 }}"),
            &format!(r#"{{ type = "{neg}levenshtein", value = "x", threshold = 2.0 }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}latency, threshold: 3000 }}"),
            &format!(r#"{{ type = "{neg}latency", threshold = 3000.0 }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}icontains-any, value: 'A, \"b, c\"' }}"),
            &format!(r#"{{ type = "{neg}icontains-any", value = ["A", "b, c"] }}"#),
        );
        converts_to(
            &format!("{{ type: {neg}icontains-all, value: [A, 2] }}"),
            &format!(r#"{{ type = "{neg}icontains-all", value = ["A", "2"] }}"#),
        );
    }
}

#[test]
fn rewritten_assertions() {
    // An object `equals` deep-compares the parsed output: a const schema.
    converts_to(
        "{ type: equals, value: { a: [1, 2] } }",
        r#"{ type = "is-json", value = { const = { a = [1, 2] } } }"#,
    );
    converts_to(
        "{ type: similar:cosine, value: [a, b], threshold: 0.9 }",
        r#"{ type = "similar", value = ["a", "b"], threshold = 0.9 }"#,
    );
    converts_to(
        "{ type: contains, value: x, weight: 2, metric: accuracy }",
        r#"{ type = "contains", value = "x", weight = 2.0, metric = "accuracy" }"#,
    );
    converts_to(
        "{ type: word-count, value: 5 }",
        r#"{ type = "word-count", value = 5 }"#,
    );
    converts_to(
        "{ type: contains, value: x, transform: 'output.trim()' }",
        r#"{ type = "contains", value = "x", transform = "output.trim()" }"#,
    );
    converts_to(
        "{ type: javascript, value: 'file://check.js:strict', threshold: 0.5, config: { n: 2 } }",
        r#"{ type = "javascript", value = "file://check.js:strict", threshold = 0.5, config = { n = 2 } }"#,
    );
}

#[test]
fn unconvertible_assertions_say_why() {
    skipped(
        "{ type: javascript, value: 'file://check.ts' }",
        "TypeScript",
    );
    skipped("{ type: python, value: 42 }", "needs its code");
    skipped("{ type: regex, value: 'a(?=b)' }", "lookahead");
    skipped(
        "{ type: contains, value: x, transform: 42 }",
        "`transform` is not a text",
    );
    skipped("{ type: contains, value: '' }", "non-empty");
    skipped("{ type: starts-with, value: 42 }", "non-empty text");
    skipped("{ type: cost }", "needs a threshold");
    skipped("{ type: latency }", "needs a threshold");
    skipped("{ type: contains-any, value: '{{expected}}' }", "split");
    skipped("{ type: similar:dot, value: a }", "cosine");
    skipped("{ type: assert-set, assert: [] }", "groups");
    skipped("{ type: is-json, value: 'not: [valid' }", "does not parse");
    skipped("{ type: is-json, value: true }", "must be an object");
    skipped(
        "{ type: word-count, value: { min: 3, max: 2 } }",
        "min at most max",
    );
    skipped("{ type: word-count, value: { min: x } }", "whole number");
    skipped("{ type: contains, value: x, weight: -1 }", "negative");
    skipped(
        "{ type: llm-rubric, value: x, rubricPrompt: 'Grade {{output}}' }",
        "rubricPrompt",
    );
    skipped("{ type: equals, value: 'package:pkg:fn' }", "package");
    skipped(
        "{ type: equals, value: file://schema.md }",
        ".txt value files",
    );
    skipped("{ value: x }", "no `type`");
}

#[test]
fn assertion_graders() {
    let c = run(
        r#"
prompts: ['{{q}}']
providers: [echo]
tests:
  - vars: { q: a }
    options: { provider: anthropic:messages:claude-judge }
    assert:
      - { type: llm-rubric, value: ok }
      - { type: similar, value: a, provider: openai:embedding:text-embedding-3-small }
  - vars: { q: b }
    assert:
      - { type: llm-rubric, value: ok }
"#,
        &[],
    );
    let t = suite(&c);
    let tests = tests_of(&c);
    assert_eq!(
        tests[0]["assert"][0]["provider"].as_str(),
        Some("anthropic-messages-claude-judge")
    );
    let emb = tests[0]["assert"][1]["provider"].as_str().unwrap();
    assert_eq!(
        t["providers"][emb]["model"].as_str(),
        Some("text-embedding-3-small")
    );
    assert!(tests[1]["assert"][0].get("provider").is_none());
    assert_eq!(
        t["grading"]["judge"].as_str(),
        Some("promptfoo-default-grader")
    );
    assert_eq!(
        t["providers"]["promptfoo-default-grader"]["response-format"].as_str(),
        Some("json")
    );
    assert!(
        t.get("grading").unwrap().get("embeddings").is_none(),
        "the only similar names its provider"
    );
    assert_eq!(
        t["defaults"]["provider"].as_str(),
        Some("echo"),
        "graders are not in the matrix"
    );
}

#[test]
fn refs_and_merge_keys() {
    let c = run(
        r#"
prompts: ['{{q}}']
providers: [echo]
assertionTemplates:
  pirate: &pirate { type: icontains, value: arrr }
tests:
  - vars: { q: a }
    assert:
      - $ref: '#/assertionTemplates/pirate'
      - <<: *pirate
        value: yo
"#,
        &[],
    );
    let tests = tests_of(&c);
    assert_eq!(tests[0]["assert"][0]["value"].as_str(), Some("arrr"));
    assert_eq!(tests[0]["assert"][1]["value"].as_str(), Some("yo"));
    assert!(c.skipped.is_empty(), "{}", skipped_text(&c));
}

// ---------- promptfoo 0.123's semantics ----------

fn note_text(c: &Conversion) -> String {
    c.notes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn warning_text(c: &Conversion) -> String {
    c.warnings
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn values_as_promptfoo_resolves_them() {
    // promptfoo splits on commas and trims JavaScript white space (U+FEFF too).
    converts_to(
        "{ type: contains-any, value: \"\\uFEFFa ,\\u00A0b\" }",
        r#"{ type = "contains-any", value = ["a", "b"] }"#,
    );
    // String(true) and String(null) are what promptfoo looks for.
    converts_to(
        "{ type: contains-all, value: [true, null] }",
        r#"{ type = "contains-all", value = ["true", "null"] }"#,
    );
    // An empty equals compares with an empty output; it is no error.
    converts_to(
        "{ type: equals, value: '' }",
        r#"{ type = "equals", value = "" }"#,
    );
    converts_to(
        "{ type: similar, value: a, threshold: 0 }",
        r#"{ type = "similar", value = "a", threshold = 0.0 }"#,
    );
    // All references must be dissimilar, in promptfoo as in ai-evals.
    converts_to(
        "{ type: not-similar, value: [a, b] }",
        r#"{ type = "not-similar", value = ["a", "b"], threshold = 0.75 }"#,
    );
    // Word counts are whole: fractional bounds round inwards.
    converts_to(
        "{ type: word-count, value: { min: 1.5, max: 3.5, note: x } }",
        r#"{ type = "word-count", value = { min = 2, max = 3 } }"#,
    );
    converts_to(
        "{ type: word-count, value: 5.0 }",
        r#"{ type = "word-count", value = 5 }"#,
    );
    // A falsy value is no schema.
    converts_to("{ type: is-json, value: false }", r#"{ type = "is-json" }"#);
    converts_to(
        "{ type: is-json, value: { $schema: 'https://json-schema.org/draft/2020-12/schema' } }",
        r#"{ type = "is-json", value = { "$schema" = "https://json-schema.org/draft/2020-12/schema" } }"#,
    );
    let c = run(
        "prompts: ['{{q}}']\nproviders: [echo]\ntests:\n  - vars: { q: a }\n    assert:\n      - { type: equals, value: file://expected.txt }\n      - { type: contains-any, value: [file://word.txt, b] }\n",
        &[("expected.txt", "\u{feff}Paris\n\n"), ("word.txt", " a\n")],
    );
    let asserts = &tests_of(&c)[0]["assert"];
    assert_eq!(asserts[0]["value"].as_str(), Some("Paris"), "trimmed");
    assert_eq!(
        asserts[1]["value"][0].as_str(),
        Some("a"),
        "list items load"
    );
}

#[test]
fn outcomes_fixed_by_the_value_are_kept() {
    for (yaml, negate) in [
        ("{ type: contains-all, value: [] }", false),
        ("{ type: contains-any, value: ', ,' }", true),
        ("{ type: not-icontains-any, value: [] }", false),
        ("{ type: levenshtein, value: x, threshold: -1 }", true),
        ("{ type: not-levenshtein, value: x, threshold: -1 }", false),
    ] {
        let c = one_assert(yaml);
        assert!(c.skipped.is_empty(), "{yaml}: {}", skipped_text(&c));
        let want = if negate { "not-regex" } else { "regex" };
        assert_eq!(first_assert(&c)["type"].as_str(), Some(want), "{yaml}");
        assert_eq!(first_assert(&c)["value"].as_str(), Some(""), "{yaml}");
        assert!(note_text(&c).contains("regex \"\""), "{yaml}");
    }
}

#[test]
fn keys_promptfoo_ignores_are_noted_not_refused() {
    for key in ["normalizeUnicode: true", "fallback: true", "config: {}"] {
        let c = one_assert(&format!("{{ type: equals, value: x, {key} }}"));
        assert!(c.skipped.is_empty(), "{key}: {}", skipped_text(&c));
        assert_eq!(first_assert(&c)["type"].as_str(), Some("equals"));
        assert!(!c.notes.is_empty(), "{key}");
    }
    // ai-evals' llm-judge decides a threshold as llm-rubric does: no caveat.
    let c = one_assert("{ type: llm-rubric, value: polite, threshold: 0.5 }");
    assert!(!note_text(&c).contains("llm-rubric"), "{}", note_text(&c));
    assert!(
        c.toml.contains("gpt-5.6-sol"),
        "promptfoo 0.123's default grader"
    );
    let c = one_assert("{ type: regex, value: '^{{expected}}$' }");
    assert!(warning_text(&c).contains("Rust regex syntax"));
}

#[test]
fn csv_columns_as_promptfoo_0_123_reads_them() {
    let c = run(
        "prompts: ['{{q}}']\nproviders: [echo]\ntests: file://t.csv\n",
        &[(
            "t.csv",
            "q,__expected1,__threshold,__config:__expected1:threshold,__config:x\n\
             a,agent-rubric:is kind,0,0.5,1\n\
             b,icontains-any:X,0.5x,0.5,1\n\
             c,contains:y,,0.5x,1\n",
        )],
    );
    let rows: Vec<serde_json::Value> = c.files[0]
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["threshold"], 0.0, "a 0 threshold is kept");
    assert!(
        rows[0].get("assert").is_none(),
        "agent-rubric is a type (skipped)"
    );
    assert!(rows[1].get("threshold").is_none(), "0.5x is not a number");
    assert_eq!(rows[1]["assert"][0]["type"], "icontains-any");
    let s = skipped_text(&c);
    assert!(s.contains("agent-rubric"), "{s}");
    assert!(s.contains("row 3.__config:__expected1:threshold"), "{s}");
    assert!(
        note_text(&c).contains("__config:x"),
        "a malformed __config column is ignored: {}",
        note_text(&c)
    );
}

// ---------- scripts ----------

#[test]
fn scripts_convert_with_their_files_config_and_transforms() {
    let c = run(
        "prompts: ['{{q}}']\nproviders: [echo]\ndefaultTest:\n  options:\n    transform: output.trim()\n    transformVars: '{ ...vars, n: 1 }'\ntests:\n  - description: scripted\n    vars: {q: a}\n    options:\n      postprocess: file://shape.py:tidy\n    assert:\n      - type: javascript\n        value: file://check.js:strict\n        config: {least: 2}\n      - type: python\n        value: \"output == '{{ q }}'\"\n      - type: javascript\n        value: file://gone.js\n  - description: transform file missing\n    vars: {q: b}\n    options:\n      transform: file://gone.py\n",
        &[
            ("check.js", "module.exports.strict = () => true;\n"),
            (
                "shape.py",
                "def tidy(output, context):\n    return output\n",
            ),
        ],
    );
    let t = suite(&c);
    assert_eq!(t["defaults"]["transform"].as_str(), Some("output.trim()"));
    assert_eq!(
        t["defaults"]["transform-vars"].as_str(),
        Some("{ ...vars, n: 1 }")
    );
    let tests = tests_of(&c);
    assert_eq!(
        tests.len(),
        1,
        "the test whose transform file is missing is skipped"
    );
    assert_eq!(tests[0]["transform"].as_str(), Some("file://shape.py:tidy"));
    let asserts = tests[0]["assert"].as_array().unwrap();
    assert_eq!(asserts[0]["value"].as_str(), Some("file://check.js:strict"));
    assert_eq!(asserts[0]["config"]["least"].as_integer(), Some(2));
    assert_eq!(asserts[1]["value"].as_str(), Some("output == '{{ q }}'"));
    assert_eq!(
        (asserts[2]["type"].as_str(), asserts[2]["value"].as_str()),
        (Some("not-regex"), Some("")),
        "a missing script fails every test in promptfoo; so it does here"
    );
    let s = skipped_text(&c);
    assert!(s.contains("gone.py does not exist"), "{s}");
    assert!(
        note_text(&c).contains("gone.js does not exist"),
        "{}",
        note_text(&c)
    );
    assert_eq!(t["suite"]["undefined"].as_str(), Some("lenient"));
}
