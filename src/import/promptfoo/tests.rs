// Conversion tests: every vendored promptfoo example (snapshotted with
// insta in snapshots/NAME.snap), and each prompt, provider, test-source and
// assertion form on small configs. A changed or missing snapshot fails;
// `cargo insta review` (or `INSTA_UPDATE=always cargo test`) accepts it.

use std::path::Path;

use super::{Conversion, convert};

mod assertions;

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
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, snap));
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
