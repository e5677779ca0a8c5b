//! `ai-evals import promptfoo` on examples from promptfoo's own repository
//! (fixtures/promptfoo, MIT) and on suites of ours that use every feature
//! the import converts (fixtures/promptfoo-suites): each imports with exit 0, runs against the
//! mock server answering as fixtures/promptfoo-answers scripts it, and
//! passes and fails exactly the cases promptfoo 0.123.1 passed and failed
//! on the same answers (recorded by `bench/sidebyside` in
//! `fixtures/promptfoo-answers/NAME.promptfoo-cases`).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use mock_provider::{Config as MockConfig, Rule};
use tokio::runtime::Runtime;

use crate::support::{BIN, Run, Suite, clean_env, open};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn ai_evals(suite: &Suite, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(suite.dir.path());
    clean_env(&mut cmd);
    cmd.envs(env.iter().copied());
    Run(cmd.output().expect("run ai-evals"))
}

/// Numbers values in the order they first appear, as `bench/agreement.py`
/// does for both tools.
#[derive(Default)]
struct Numbering(HashMap<String, usize>);

impl Numbering {
    fn of(&mut self, value: String) -> usize {
        let next = self.0.len();
        *self.0.entry(value).or_insert(next)
    }
}

type Row = (String, Option<String>, String, String, bool);

/// The run's cases as `test=T prompt=P provider=Q pass|fail`, sorted: T is
/// the description when every case has one (promptfoo and ai-evals order
/// inline and file tests differently), else the test's number.
fn cases(db: &Path) -> Vec<String> {
    let conn = open(db);
    let mut statement = conn
        .prepare(
            "SELECT case_id, description, coalesce(prompt_name, ''), provider, passed
               FROM case_results ORDER BY ordinal, repeat_index",
        )
        .unwrap();
    let rows: Vec<Row> = statement
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let described = rows.iter().all(|row| row.1.is_some());
    let (mut tests, mut prompts, mut providers) = <(Numbering, Numbering, Numbering)>::default();
    let mut lines: Vec<String> = rows
        .into_iter()
        .map(|(id, description, prompt, provider, passed)| {
            let number = tests.of(id);
            let test = match description {
                Some(d) if described => d,
                _ => number.to_string(),
            };
            let (p, q) = (prompts.of(prompt), providers.of(provider));
            let verdict = if passed { "pass" } else { "fail" };
            format!("test={test} prompt={p} provider={q} {verdict}")
        })
        .collect();
    lines.sort();
    lines
}

fn agrees_with_promptfoo(folder: &str) {
    let example = folder.rsplit('/').next().unwrap();
    let rules = Rule::load_file(
        &Path::new(ROOT).join(format!("fixtures/promptfoo-answers/{example}.json")),
    )
    .unwrap();
    let scripted = rules.len();
    let runtime = Runtime::new().unwrap();
    let mock = runtime
        .block_on(mock_provider::start(MockConfig {
            rules,
            ..MockConfig::default()
        }))
        .unwrap();
    let suite = Suite::new("");
    copy_dir(
        &Path::new(ROOT).join("fixtures").join(folder),
        suite.dir.path(),
    );

    let import = ai_evals(
        &suite,
        &[
            "import",
            "promptfoo",
            "promptfooconfig.yaml",
            "-o",
            "evals.toml",
            "--force",
        ],
        &[],
    );
    import.expect_code(0);
    // Azure examples name their resource (`apiHost`); promptfoo is pointed at
    // the mock with AZURE_API_BASE_URL, which a written endpoint outranks.
    let url = mock.url();
    let config = std::fs::read_to_string(suite.path("evals.toml")).unwrap();
    let config: String = config
        .lines()
        .map(|line| match line.starts_with("endpoint = ") {
            true => format!("endpoint = \"{url}\"\n"),
            false => format!("{line}\n"),
        })
        .collect();
    suite.write("evals.toml", config);

    let openai = format!("{url}/v1");
    let run = suite.run_env(
        &["--no-cache", "--no-comment"],
        &[
            ("OPENAI_API_KEY", "sk-test"),
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("AZURE_API_KEY", "az-test"),
            ("OPENAI_BASE_URL", &openai),
            ("ANTHROPIC_BASE_URL", &url),
        ],
    );
    assert!(
        run.code() <= 1,
        "{example}: {}\n{}",
        run.stdout(),
        run.stderr()
    );
    let recorded = std::fs::read_to_string(Path::new(ROOT).join(format!(
        "fixtures/promptfoo-answers/{example}.promptfoo-cases"
    )))
    .unwrap();
    let mut theirs: Vec<&str> = recorded.lines().collect();
    theirs.sort_unstable();
    assert_eq!(cases(&suite.db()), theirs, "{example}: {}", run.stdout());
    let stats = mock.stats();
    // An example whose answers script nothing calls no server (echo).
    if scripted > 0 {
        assert!(stats.requests > 0, "{example}: the mock was called");
        assert_eq!(
            stats.by_status.keys().collect::<Vec<_>>(),
            ["200"],
            "{example}: every call answered"
        );
    } else {
        assert_eq!(stats.requests, 0, "{example}: no server is called");
    }
}

/// Whether python3 runs here; the caller skips its test, saying why, when
/// it does not (it does on every machine this project builds on, CI too).
fn python3_or_skip(test: &str) -> bool {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("{test}: skipped, no python3 on this machine (python assertions need it)");
    }
    found
}

#[test]
fn getting_started() {
    agrees_with_promptfoo("promptfoo/getting-started");
}

#[test]
fn simple_csv_with_prompt_files_and_expected_columns() {
    agrees_with_promptfoo("promptfoo/simple-csv");
}

#[test]
fn anthropic_three_prompts_by_three_models() {
    agrees_with_promptfoo("promptfoo/anthropic-basic");
}

#[test]
fn azure_chat_and_embeddings() {
    agrees_with_promptfoo("promptfoo/azure-openai");
}

#[test]
fn llm_rubric_graded_support_replies() {
    agrees_with_promptfoo("promptfoo/eval-customer-support-rubric");
}

#[test]
fn every_converted_feature() {
    agrees_with_promptfoo("promptfoo-suites/every-feature");
}

#[test]
fn chat_history_from_a_nunjucks_template() {
    agrees_with_promptfoo("promptfoo/openai-chat-history");
}

#[test]
fn javascript_file_with_assertion_config() {
    agrees_with_promptfoo("promptfoo/eval-javascript-assert-params");
}

#[test]
fn output_transform_from_a_javascript_file() {
    agrees_with_promptfoo("promptfoo/config-transform-file");
}

#[test]
fn inline_python_assertions() {
    if python3_or_skip("inline_python_assertions") {
        agrees_with_promptfoo("promptfoo/python-assert");
    }
}

#[test]
fn scripts_transforms_chat_templates_and_optional_variables() {
    if python3_or_skip("scripts_transforms_chat_templates_and_optional_variables") {
        agrees_with_promptfoo("promptfoo-suites/scripts-and-templates");
    }
}

#[test]
fn nothing_left_to_run_is_exit_2_and_nothing_is_written() {
    let suite = Suite::new("");
    suite.write(
        "promptfooconfig.yaml",
        "prompts: ['exec: python make_prompt.py']\nproviders: [openai:gpt-4o-mini]\ntests: [{vars: {q: a}}]\n",
    );
    let import = ai_evals(
        &suite,
        &["import", "promptfoo", "promptfooconfig.yaml"],
        &[],
    );
    import.expect_code(2);
    let stderr = import.stderr();
    assert!(
        stderr.contains("no prompt could be converted, so the suite would run nothing"),
        "{stderr}"
    );
    assert!(stderr.contains("executable and hosted prompts"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(suite.path("evals.toml")).unwrap(),
        "",
        "nothing is written"
    );
}

#[test]
fn differences_name_their_test_and_everything_converted_only_when_true() {
    let suite = Suite::new("");
    suite.write(
        "promptfooconfig.yaml",
        "prompts: ['{{q}}']\nproviders: [echo]\ntests:\n  - description: edits\n    vars: {q: colour}\n    assert:\n      - type: levenshtein\n        value: color\n        threshold: 1\n",
    );
    let import = ai_evals(
        &suite,
        &["import", "promptfoo", "promptfooconfig.yaml", "--force"],
        &[],
    );
    import.expect_code(0);
    let out = import.stdout();
    assert!(
        out.contains("1 converted, but may pass or fail where promptfoo would not")
            && out.contains(
                "(test \"edits\"): assertion `levenshtein`: promptfoo counts UTF-16 code units"
            ),
        "{out}"
    );
    assert!(!out.contains("everything converted"), "{out}");
    suite.write(
        "promptfooconfig.yaml",
        "prompts: ['{{q}}']\nproviders: [echo]\ntests:\n  - vars: {q: a}\n    assert: [{type: equals, value: 'a'}]\n",
    );
    let import = ai_evals(
        &suite,
        &["import", "promptfoo", "promptfooconfig.yaml", "--force"],
        &[],
    );
    import.expect_code(0);
    assert!(
        import.stdout().contains("everything converted"),
        "{}",
        import.stdout()
    );
}
