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
