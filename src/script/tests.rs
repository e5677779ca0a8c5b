// Scripts run for real: JavaScript in the embedded engine, Python in a
// python3 subprocess (python3 is on every machine this project is built
// on; without it the Python tests say so and stop).

use std::time::Duration;

use super::*;
use crate::assertion::{Language, Script};

fn scripts_in(dir: &Path) -> Scripts {
    Scripts::new(
        dir,
        Limits {
            timeout: Duration::from_secs(2),
            memory: 64 << 20,
        },
    )
}

fn scripts() -> Scripts {
    scripts_in(Path::new("."))
}

fn js(code: &str) -> Script {
    Script::parse(code, Language::JavaScript).unwrap()
}

fn assert_js(code: &str, output: &str) -> Result<Returned, ScriptError> {
    scripts().assertion(&js(code), None, Input::Text(output), CONTEXT)
}

const CONTEXT: &str = r#"{"vars": {"city": "Paris", "n": 3}, "prompt": "Capital?", "test": {"description": "capital"}}"#;

/// A folder with these files, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(files: &[(&str, &str)]) -> Folder {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ai-evals-script-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        Folder(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn javascript_expressions_bodies_and_their_three_kinds_of_result() {
    assert_eq!(
        assert_js("output.includes(context.vars.city)", "It is Paris."),
        Ok(Returned::Bool(true))
    );
    assert_eq!(
        assert_js("const n = output.length; n / 100;", "abcde"),
        Ok(Returned::Number(0.05)),
        "declarations then an expression, as promptfoo builds one line"
    );
    assert_eq!(
        assert_js(
            "if (output === 'x') {\n  return { pass: true, score: 0.5, reason: 'half' };\n}\nreturn false;\n",
            "x"
        ),
        Ok(Returned::Grading {
            pass: true,
            score: 0.5,
            reason: "half".into()
        })
    );
    assert_eq!(
        assert_js(
            "context.prompt === 'Capital?' && context.test.description === 'capital' && context.vars.n === 3",
            ""
        ),
        Ok(Returned::Bool(true))
    );
    assert_eq!(
        assert_js("(async () => output.length > 2)()", "abc"),
        Ok(Returned::Bool(true)),
        "a promise is awaited"
    );
}

#[test]
fn javascript_that_breaks_the_contract_or_throws_fails_with_the_reason() {
    let wrong = assert_js("({ pass: true })", "x").unwrap_err().to_string();
    assert!(
        wrong.contains("must return a boolean, number, or GradingResult"),
        "{wrong}"
    );
    let thrown = assert_js("JSON.parse(output).a", "not json")
        .unwrap_err()
        .to_string();
    assert!(thrown.starts_with("SyntaxError"), "{thrown}");
    let missing = assert_js("require('fs')", "x").unwrap_err().to_string();
    assert!(missing.contains("without Node.js modules"), "{missing}");
}

#[test]
fn a_script_that_never_ends_is_stopped_at_its_deadline() {
    let fast = Scripts::new(
        Path::new("."),
        Limits {
            timeout: Duration::from_millis(200),
            memory: 64 << 20,
        },
    );
    for code in [
        "while (true) {}\nreturn true;",
        "try { while (true) {} }\ncatch (e) { return true; }",
    ] {
        let err = fast
            .assertion(&js(code), None, Input::Text("x"), CONTEXT)
            .unwrap_err();
        assert_eq!(
            err,
            ScriptError::Failed(
                "the script ran longer than 0.2 s (script-timeout) and was stopped".into()
            ),
            "{code}"
        );
    }
    assert_eq!(
        fast.assertion(&js("output === 'x'"), None, Input::Text("x"), CONTEXT),
        Ok(Returned::Bool(true)),
        "the engine works after a stopped script"
    );
}

#[test]
fn a_script_that_eats_memory_is_stopped_and_the_engine_starts_afresh() {
    // A long deadline, so only the memory limit can stop it.
    let small = Scripts::new(
        Path::new("."),
        Limits {
            timeout: Duration::from_secs(120),
            memory: 16 << 20,
        },
    );
    let code = "const a = [];\nwhile (true) { a.push('x'.repeat(1024) + a.length); }\n";
    let err = small
        .assertion(&js(code), None, Input::Text("x"), CONTEXT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("(script-memory)"), "{err}");
    assert_eq!(assert_js("output.length", "abc"), Ok(Returned::Number(3.0)));
    let deep = assert_js("const f = (n) => f(n + 1) + 1;\nreturn f(0);\n", "x")
        .unwrap_err()
        .to_string();
    assert!(deep.starts_with("RangeError"), "{deep}");
}

#[test]
fn javascript_files_in_commonjs_and_es_module_form() {
    let folder = Folder::new(&[
        (
            "cjs.js",
            "const words = (s) => s.split(' ').length;\nmodule.exports = (output, context) => words(output) >= context.vars.n;\nmodule.exports.strict = (output) => ({ pass: output === 'a b c', score: 1, reason: 'exact' });\n",
        ),
        (
            "esm.mjs",
            "export default function (output) { return output.length; }\nexport function upper(output) { return output.toUpperCase(); }\n",
        ),
        ("es.js", "export default (output) => output === 'yes';\n"),
        ("broken.js", "module.exports = (output) => {"),
        ("none.js", "module.exports = 42;"),
    ]);
    let scripts = scripts_in(&folder.0);
    let run = |value: &str, output: &str| {
        scripts.assertion(&js(value), None, Input::Text(output), CONTEXT)
    };
    assert_eq!(run("file://cjs.js", "a b c"), Ok(Returned::Bool(true)));
    assert_eq!(run("file://cjs.js", "a b"), Ok(Returned::Bool(false)));
    assert!(matches!(
        run("file://cjs.js:strict", "a b c"),
        Ok(Returned::Grading { pass: true, .. })
    ));
    assert_eq!(run("file://esm.mjs", "four"), Ok(Returned::Number(4.0)));
    assert_eq!(run("file://es.js", "yes"), Ok(Returned::Bool(true)));
    let transformed = scripts
        .transform_output(&js("file://esm.mjs:upper"), Input::Text("loud"), CONTEXT)
        .unwrap();
    assert_eq!(transformed.text, "LOUD");
    assert!(matches!(
        scripts.check(&js("file://broken.js"), None),
        Err(ScriptError::Unusable(m)) if m.starts_with("SyntaxError")
    ));
    assert!(matches!(
        scripts.check(&js("file://none.js"), None),
        Err(ScriptError::Unusable(m)) if m.contains("must export a function")
    ));
    assert!(matches!(
        scripts.check(&js("file://missing.js"), None),
        Err(ScriptError::Unusable(m)) if m.starts_with("cannot read")
    ));
}

#[test]
fn transforms_reshape_the_output_and_the_vars() {
    let s = scripts();
    let upper = s
        .transform_output(&js("output.toUpperCase()"), Input::Text("abc"), CONTEXT)
        .unwrap();
    assert_eq!(
        upper,
        Transformed {
            text: "ABC".into(),
            json: None
        }
    );
    let parsed = s
        .transform_output(
            &js("JSON.parse(output).answer"),
            Input::Text(r#"{"answer": {"b": 1, "a": [true]}}"#),
            CONTEXT,
        )
        .unwrap();
    assert_eq!(
        parsed.text, r#"{"b":1,"a":[true]}"#,
        "JSON.stringify's text"
    );
    assert_eq!(parsed.json.as_deref(), Some(r#"{"b":1,"a":[true]}"#));
    assert_eq!(
        s.assertion(
            &js("output.a[0] === true"),
            None,
            Input::Json(parsed.json.as_deref().unwrap()),
            CONTEXT
        ),
        Ok(Returned::Bool(true)),
        "a later script gets the value, not its text"
    );
    let none = s
        .transform_output(&js("undefined"), Input::Text("x"), CONTEXT)
        .unwrap_err();
    assert!(
        none.to_string().contains("did not return a value"),
        "{none}"
    );
    let mut vars = Map::new();
    vars.insert("name".into(), Value::from("ada"));
    let more = s
        .transform_vars(&js("({ upper: vars.name.toUpperCase() })"), &vars, "{}")
        .unwrap();
    assert_eq!(more.get("upper"), Some(&Value::from("ADA")));
}

/// Skips a Python test, saying why, when no Python 3 is installed.
fn python_or_skip(scripts: &Scripts) -> bool {
    match scripts.python() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

#[test]
fn python_expressions_bodies_and_files() {
    let folder = Folder::new(&[
        (
            "grade.py",
            "def get_assert(output, context):\n    return {'pass': output.startswith(context['vars']['city']), 'score': 0.9, 'reason': 'checked'}\n\ndef shout(output, context):\n    return output.upper()\n",
        ),
        (
            "oops.py",
            "def get_assert(output, context):\n    return 1 / 0\n",
        ),
    ]);
    let scripts = scripts_in(&folder.0);
    if !python_or_skip(&scripts) {
        return;
    }
    let py = |code: &str| Script::parse(code, Language::Python).unwrap();
    let run = |code: &str, output: &str, threshold| {
        scripts.assertion(&py(code), threshold, Input::Text(output), CONTEXT)
    };
    assert_eq!(
        run("output.endswith('!')", "hi!", None),
        Ok(Returned::Bool(true))
    );
    assert_eq!(
        run("n = len(output)\nreturn n / 10\n", "abcde", None),
        Ok(Returned::Number(0.5))
    );
    assert_eq!(
        run("file://grade.py", "Paris!", Some(0.95)),
        Ok(Returned::Grading {
            pass: false,
            score: 0.9,
            reason: "Python score 0.9 is less than threshold 0.95: checked".into()
        })
    );
    assert_eq!(
        run("file://oops.py", "x", None),
        Err(ScriptError::Failed(
            "ZeroDivisionError: division by zero".into()
        ))
    );
    let shout = scripts
        .transform_output(&py("file://grade.py:shout"), Input::Text("hey"), CONTEXT)
        .unwrap();
    assert_eq!(shout.text, "HEY");
    let printed = run("print('noise') or True", "x", None);
    assert_eq!(
        printed,
        Ok(Returned::Bool(true)),
        "prints do not spoil the result"
    );
}

#[test]
fn python_that_never_ends_is_killed_at_its_deadline() {
    let scripts = Scripts::new(
        Path::new("."),
        Limits {
            timeout: Duration::from_millis(300),
            memory: 512 << 20,
        },
    );
    if !python_or_skip(&scripts) {
        return;
    }
    let forever = Script::parse("while True:\n    pass\n", Language::Python).unwrap();
    assert_eq!(
        scripts.assertion(&forever, None, Input::Text("x"), CONTEXT),
        Err(ScriptError::Failed(
            "the script ran longer than 0.3 s (script-timeout) and was stopped".into()
        ))
    );
}

#[test]
fn many_distinct_codes_keep_working_as_the_cache_turns_over() {
    let s = scripts();
    for i in 0..1100 {
        let code = format!("output.length + {i}");
        assert_eq!(
            s.assertion(&js(&code), None, Input::Text("ab"), CONTEXT),
            Ok(Returned::Number(f64::from(i + 2)))
        );
    }
}
