//! `javascript` and `python` assertions, `transform` and `transform-vars`,
//! `contains-json`, chat prompts rendered from a template and lenient
//! undefined variables in a suite written for ai-evals (not imported),
//! run by the binary on the echo provider. python3 is on every machine
//! this project builds on, CI included; without it the Python parts say
//! so and stop.

use std::process::Command;

use crate::support::{Suite, column, echo_config, number};

fn python3() -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped the Python part: no python3 on this machine");
    }
    found
}

/// `case_id passed` for every case, in order.
fn verdicts(suite: &Suite) -> Vec<String> {
    column(
        &suite.db(),
        "SELECT case_id || ' ' || passed FROM case_results ORDER BY ordinal",
    )
}

/// The reasons of the failed assertions of case `id`.
fn reasons(suite: &Suite, id: &str) -> Vec<String> {
    column(
        &suite.db(),
        &format!(
            "SELECT reason FROM scores WHERE case_id = '{id}' AND NOT passed ORDER BY assertion_index"
        ),
    )
}

#[test]
fn javascript_assertions_inline_and_from_files() {
    let suite = Suite::new(&echo_config(
        r#"
[[tests]]
id = "expression"
vars = { q = "four 4" }
assert = [
  { type = "javascript", value = "output.includes(context.vars.q)" },
  { type = "javascript", value = "const words = output.split(' '); words.length === 3" },
  { type = "javascript", value = "output.length / 100", threshold = 0.05 },
  { type = "not-javascript", value = "output.startsWith('A:')" },
  { type = "equals", value = "4", transform = "output.split(' ').pop()" },
  { type = "javascript", value = "output === 3", transform = "output.split(' ').length" },
]

[[tests]]
id = "files"
vars = { q = "Ada" }
assert = [
  { type = "javascript", value = "file://checks/name.js" },
  { type = "javascript", value = "file://checks/name.js:long", config = { least = 3 } },
  { type = "javascript", value = "file://checks/score.mjs" },
]

[[tests]]
id = "fails"
vars = { q = "x" }
assert = [
  { type = "javascript", value = "if (output.length > 100) {\n  return true;\n}\nreturn { pass: false, score: 0.25, reason: 'too short: ' + output.length };\n" },
]

[[tests]]
id = "throws"
vars = { q = "x" }
assert = [{ type = "javascript", value = "JSON.parse(output).x" }]
"#,
    ));
    suite.write(
        "checks/name.js",
        "module.exports = (output, context) => output.endsWith(context.vars.q);\n\
         module.exports.long = (output, context) => output.length >= context.config.least;\n",
    );
    suite.write(
        "checks/score.mjs",
        "export default async function (output) { return output.length / 10; }\n",
    );
    let run = suite.run(&["--no-comment"]);
    run.expect_code(1);
    assert_eq!(
        verdicts(&suite),
        [
            "expression true",
            "files true",
            "fails false",
            "throws false"
        ]
    );
    assert_eq!(reasons(&suite, "fails"), ["too short: 4"]);
    let thrown = reasons(&suite, "throws");
    assert!(
        thrown[0].starts_with("Custom function failed: SyntaxError"),
        "{thrown:?}"
    );
    assert!(
        run.stdout().contains("Custom function failed"),
        "{}",
        run.stdout()
    );
}

#[test]
fn a_script_that_never_ends_fails_its_case_and_the_run_goes_on() {
    // The [suite] table is echo_config's; the limit goes into it.
    let config = echo_config(
        r#"
[[tests]]
id = "forever"
vars = { q = "x" }
assert = [{ type = "javascript", value = "while (true) {}\nreturn true;" }]

[[tests]]
id = "after"
vars = { q = "y" }
assert = [{ type = "javascript", value = "output === 'Q: y'" }]
"#,
    )
    .replace("name = \"t\"", "name = \"t\"\nscript-timeout = 0.3");
    let suite = Suite::new(&config);
    suite.run(&["--no-comment"]).expect_code(1);
    assert_eq!(verdicts(&suite), ["forever false", "after true"]);
    assert_eq!(
        reasons(&suite, "forever"),
        [
            "Custom function failed: the script ran longer than 0.3 s (script-timeout) and was stopped"
        ]
    );
}

#[test]
fn python_assertions_and_transforms() {
    if !python3() {
        return;
    }
    let suite = Suite::new(&echo_config(
        r#"
[defaults]
transform = "output.replace('Q: ', '')"

[[tests]]
id = "inline"
vars = { q = "hello there" }
assert = [
  { type = "python", value = "output == context['vars']['q']" },
  { type = "python", value = "words = output.split()\nreturn {'pass': len(words) == 2, 'score': 0.5, 'reason': 'two words'}\n" },
]

[[tests]]
id = "file"
vars = { q = "Hi" }
transform = "file://shape.py:shout"
assert = [
  { type = "python", value = "file://shape.py", config = { want = "HI!" } },
  { type = "equals", value = "HI!" },
]

[[tests]]
id = "object"
vars = { q = '{"a": [1, 2]}' }
transform = "JSON.parse(output.slice(3))"
assert = [
  { type = "javascript", value = "output.a.length === 2" },
  { type = "python", value = "output['a'][1] == 2" },
  { type = "is-json" },
]

[[tests]]
id = "vars"
vars = { q = "ignored", name = "ada" }
transform-vars = "{ q: vars.name.toUpperCase() }"
assert = [{ type = "equals", value = "ADA" }]
"#,
    ));
    suite.write(
        "shape.py",
        "def shout(output, context):\n    return output.replace('Q: ', '').upper() + '!'\n\n\
         def get_assert(output, context):\n    return output == context['config']['want']\n",
    );
    let run = suite.run(&["--no-comment"]);
    run.expect_code(0);
    assert_eq!(
        verdicts(&suite),
        ["inline true", "file true", "object true", "vars true"]
    );
    assert_eq!(
        column(
            &suite.db(),
            "SELECT output FROM case_results ORDER BY ordinal"
        ),
        ["hello there", "HI!", r#"{"a":[1,2]}"#, "ADA"],
        "the stored output is the transformed one"
    );
}

#[test]
fn contains_json_chat_templates_and_lenient_variables() {
    let suite = Suite::new(
        r#"[suite]
name = "t"
undefined = "lenient"

[prompts]
chat = { file = "chat.json" }
plain = "{% if context %}Context: {{ context }}. {% endif %}{{ q }}{{ style.tone }}"

[providers.echo]
type = "echo"

[defaults]
prompts = ["chat", "plain"]

[[tests]]
id = "history"
vars = { q = 'say {"ok": true}', history = [{ role = "user", text = "Hi" }, { role = "assistant", text = "Hello" }] }
assert = [
  { type = "contains-json", value = { type = "object", required = ["ok"] } },
  { type = "not-contains", value = "Context" },
]
"#,
    );
    // A .json prompt file that is a template, JSON only once rendered.
    suite.write(
        "chat.json",
        "[\n  {\"role\": \"system\", \"content\": \"Be brief.\"},\n{% for turn in history %}  {\"role\": \"{{ turn.role }}\", \"content\": {{ turn.text | tojson }}},\n{% endfor %}  {\"role\": \"user\", \"content\": {{ q | tojson }}}\n]\n",
    );
    let run = suite.run(&["--no-comment"]);
    run.expect_code(0);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT output FROM case_results ORDER BY ordinal"
        ),
        [r#"say {"ok": true}"#, r#"say {"ok": true}"#],
        "echo answers the last user message: the chat template was sent as messages"
    );
    assert_eq!(
        number(
            &suite.db(),
            "SELECT count(*) FROM case_results WHERE passed"
        ),
        2
    );
    // The same suite, strict (the default), refuses the unset variables.
    suite.write(
        "evals.toml",
        std::fs::read_to_string(suite.path("evals.toml"))
            .unwrap()
            .replace("undefined = \"lenient\"\n", ""),
    );
    let strict = suite.run(&["--no-comment"]);
    strict.expect_code(2);
    assert!(
        strict.stderr().contains("'context'") && strict.stderr().contains("'style'"),
        "{}",
        strict.stderr()
    );
}

#[test]
fn a_broken_script_is_a_config_error_naming_its_key() {
    let suite = Suite::new(&echo_config(
        r#"
[[tests]]
vars = { q = "x" }
assert = [{ type = "javascript", value = "file://missing.js" }]
"#,
    ));
    let run = suite.run(&["--no-comment"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("tests[0].assert[0]") && run.stderr().contains("missing.js"),
        "{}",
        run.stderr()
    );
    suite.write(
        "evals.toml",
        echo_config(
            r#"
[defaults]
transform = "output.("
[[tests]]
vars = { q = "x" }
"#,
        ),
    );
    let run = suite.run(&["--no-comment"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("defaults.transform") && run.stderr().contains("SyntaxError"),
        "{}",
        run.stderr()
    );
}

#[test]
fn no_python_is_a_clear_error() {
    let suite = Suite::new(&echo_config(
        r#"
[[tests]]
vars = { q = "x" }
assert = [{ type = "python", value = "True" }]
"#,
    ));
    let run = suite.run_env(
        &["--no-comment"],
        &[("AI_EVALS_PYTHON", "/nonexistent/python3")],
    );
    run.expect_code(2);
    assert!(
        run.stderr().contains(
            "no Python 3 interpreter was found (tried AI_EVALS_PYTHON=/nonexistent/python3)"
        ),
        "{}",
        run.stderr()
    );
}
