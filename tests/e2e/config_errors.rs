//! Config mistakes: each is exit code 2 with a message naming the key or
//! the file and line, and nothing is run.

use crate::support::{Suite, echo_config};

fn error_of(suite: &Suite) -> String {
    let run = suite.run(&[]);
    run.expect_code(2);
    assert!(
        !suite.db().exists(),
        "a config error must not create the database"
    );
    run.stderr()
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let suite = Suite::new(&echo_config("[defaults]\nasert = []\n"));
    let err = error_of(&suite);
    let expected = format!(
        "error: {}:11: unknown field `asert`, expected one of",
        suite.path("evals.toml").display()
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn missing_dataset_file_is_named() {
    let suite = Suite::new(&echo_config("[[datasets]]\npath = \"nope/*.csv\"\n"));
    let err = error_of(&suite);
    let expected = format!(
        "error: {}: datasets[0].path: no file matches {}",
        suite.path("evals.toml").display(),
        suite.path("nope/*.csv").display()
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn missing_config_says_what_to_do() {
    let suite = Suite::new("");
    std::fs::remove_file(suite.path("evals.toml")).unwrap();
    let err = error_of(&suite);
    assert!(err.contains("cannot read config"), "{err}");
    assert!(err.contains("--config"), "{err}");
}

#[test]
fn template_variable_missing_in_a_row_names_file_line_and_variable() {
    let suite = Suite::new(&echo_config("[[datasets]]\npath = \"d.jsonl\"\n"));
    suite.write(
        "d.jsonl",
        "{\"id\": \"ok\", \"q\": 1}\n{\"id\": \"bad\", \"question\": 2}\n",
    );
    let run = suite.run(&[]);
    run.expect_code(2);
    let expected = format!(
        "error: {}:2: prompt 'ask' uses variable 'q', which this test does not set (in its vars or defaults.vars)",
        suite.path("d.jsonl").display()
    );
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
}

#[test]
fn template_variable_missing_inline_names_config_line() {
    let suite = Suite::new(&echo_config("[[tests]]\nvars = { other = 1 }\n"));
    let run = suite.run(&[]);
    run.expect_code(2);
    let expected = format!(
        "error: {}:10: prompt 'ask' uses variable 'q'",
        suite.path("evals.toml").display()
    );
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
}

#[test]
fn bad_assertion_names_key() {
    let suite = Suite::new(&echo_config(
        "[defaults]\nassert = [{ type = \"regex\", value = \"(\" }]\n[[tests]]\nvars = { q = 1 }\n",
    ));
    let err = error_of(&suite);
    let expected = format!(
        "error: {}: defaults.assert[0]: invalid regex \"(\"",
        suite.path("evals.toml").display()
    );
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn bad_provider_type_names_line() {
    let suite = Suite::new(
        "[suite]\nname = \"t\"\n[providers.x]\ntype = \"gpt\"\n[[tests]]\noutput = \"a\"\n",
    );
    let err = error_of(&suite);
    assert!(err.contains("evals.toml:4: unknown variant `gpt`"), "{err}");
}

#[test]
fn unknown_cli_flag_is_usage_error() {
    let suite = Suite::new(&echo_config(""));
    let run = suite.run(&["--bogus"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("unexpected argument '--bogus'"),
        "{}",
        run.stderr()
    );
}

#[test]
fn broken_template_in_an_assertion_names_key() {
    let suite = Suite::new(&echo_config(
        "[[tests]]\nvars = { q = 1 }\nassert = [{ type = \"contains\", value = \"{{ q \" }]\n",
    ));
    let err = error_of(&suite);
    let expected = format!(
        "error: {}: tests[0].assert[0]: invalid template: syntax error: unexpected end of input",
        suite.path("evals.toml").display()
    );
    assert!(err.contains(&expected), "{err}");
}

/// An echo suite of one test with `suite` lines in `[suite]` and `extra`
/// sections after it.
fn bounded(suite: &str, extra: &str) -> Suite {
    Suite::new(&format!(
        "[suite]\nname = \"t\"\n{suite}\n\n[prompts]\nask = \"Q: {{{{ q }}}}\"\n\n[providers.echo]\ntype = \"echo\"\n\n{extra}\n\n[[tests]]\nid = \"a\"\nvars = {{ q = \"1\" }}\n"
    ))
}

#[test]
fn a_setting_too_large_to_hold_is_refused_naming_the_key_and_the_largest() {
    let cases = [
        (
            "batch-size = 1000000000000",
            "",
            "suite.batch-size: 1000000000000 is not between 1 and 10000",
        ),
        (
            "concurrency = 100000000",
            "",
            "suite.concurrency: 100000000 is not between 1 and 1000",
        ),
        (
            "repeat = 4000000000",
            "",
            "suite.repeat: 4000000000 is not between 1 and 1000",
        ),
        (
            "max-line-size = \"8GiB\"",
            "",
            "suite.max-line-size: 8589934592 bytes is more than the largest",
        ),
        (
            "",
            "[compare]\nhistory-window = 100000000000",
            "compare.history-window: 100000000000 is not between 1 and 1000",
        ),
        (
            "",
            "[compare]\nhistory-window = 3",
            "compare.min-history: 5 is not between 2 and history-window (3)",
        ),
        (
            "",
            "[limits]\nmax-wait = \"0s\"",
            "limits.max-wait: '0s' is not a duration above zero",
        ),
    ];
    for (suite_lines, extra, expected) in cases {
        let suite = bounded(suite_lines, extra);
        let err = error_of(&suite);
        assert!(err.contains(expected), "{suite_lines}{extra}: {err}");
    }
    // A float where a count belongs is the parser's error, at its line.
    let err = error_of(&bounded("batch-size = 1e12", ""));
    assert!(err.contains("evals.toml:3:"), "{err}");
}

#[test]
fn a_provider_setting_too_large_is_refused_naming_the_key() {
    let provider = |extra: &str| {
        Suite::new(&format!(
            "[suite]\nname = \"t\"\n\n[prompts]\nask = \"Q: {{{{ q }}}}\"\n\n[providers.gpt]\ntype = \"openai-compatible\"\nmodel = \"m\"\nbase-url = \"http://127.0.0.1:9/v1\"\n{extra}\n\n[[tests]]\nid = \"a\"\nvars = {{ q = \"1\" }}\n"
        ))
    };
    for (extra, expected) in [
        (
            "concurrency = 5000000",
            "providers.gpt.concurrency: 5000000 is not between 1 and 1000",
        ),
        (
            "max-retries = 4000000000",
            "providers.gpt.max-retries: 4000000000 is more than the largest, 100",
        ),
        (
            "max-response-size = \"1TB\"",
            "providers.gpt.max-response-size: '1TB' is not a size from 1 byte to 1GiB",
        ),
    ] {
        let err = error_of(&provider(extra));
        assert!(err.contains(expected), "{extra}: {err}");
    }
}

#[test]
fn a_flag_too_large_to_hold_is_a_usage_error_naming_the_flag_and_the_largest() {
    let suite = bounded("", "");
    for (flag, value, expected) in [
        (
            "--batch-size",
            "100000000",
            "expected a whole number from 1 to 10000",
        ),
        (
            "--batch-size",
            "0",
            "expected a whole number from 1 to 10000",
        ),
        (
            "--concurrency",
            "1000000",
            "expected a whole number from 1 to 1000",
        ),
        ("--repeat", "4000000000", "1..=1000"),
        ("--rpm", "0", "1.."),
    ] {
        let run = suite.run(&[flag, value]);
        run.expect_code(2);
        let err = run.stderr();
        assert!(
            err.contains(flag) && err.contains(expected),
            "{flag} {value}: {err}"
        );
        assert!(!suite.db().exists());
    }
    let mut history = std::process::Command::new(crate::support::BIN);
    history
        .args(["history", "--limit", "18446744073709551615", "--db"])
        .arg(suite.db());
    crate::support::clean_env(&mut history);
    let out = history.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("from 1 to 100000"));
}
