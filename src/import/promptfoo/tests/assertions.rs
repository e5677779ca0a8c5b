//! Each promptfoo assertion form, converted, rewritten or skipped with
//! why; graders, references, values and scripts as promptfoo resolves them.

use super::*;

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
