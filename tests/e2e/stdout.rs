//! stdout has one writer (`main`): the report of any run, finished,
//! failed or interrupted, goes through the `::stop-commands::` fence in
//! GitHub Actions; a reader that goes away (`| head -1`) ends the program
//! quietly, with the exit code it would have had; and what the Actions
//! runner would take for a workflow command (a line starting with `::`,
//! where a bare carriage return also starts a line) is fenced on stderr
//! too.

use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::runtime::Runtime;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{BIN, Suite, clean_env, column, echo_config};

fn finished_run() -> Suite {
    let suite = Suite::new(&echo_config(
        "[[tests]]\nid = \"a\"\nvars = { q = \"1\" }\n\n[[tests]]\nid = \"b\"\nvars = { q = \"2\" }\n",
    ));
    suite.run(&[]).expect_code(0);
    suite
}

/// Runs the binary with `args` writing into a pipe whose reader is already
/// gone: its first write fails with a broken pipe, whatever its size.
fn into_a_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdout(writer).stderr(Stdio::piped());
    clean_env(&mut cmd);
    cmd.output().unwrap()
}

#[test]
fn a_reader_that_went_away_ends_the_program_quietly() {
    let suite = finished_run();
    let db = suite.db();
    let db = db.to_str().unwrap();
    for args in [
        vec!["report", "--db", db],
        vec!["report", "--db", db, "--format", "json"],
        vec!["history", "--db", db],
    ] {
        let out = into_a_closed_pipe(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
    }
    // A run whose report cannot be printed is still stored whole.
    let config = suite.path("evals.toml");
    let out = into_a_closed_pipe(&["run", "--config", config.to_str().unwrap(), "--db", db]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        column(&suite.db(), "SELECT status FROM runs ORDER BY started_at"),
        ["finished", "finished"]
    );
}

#[test]
fn head_takes_the_first_line_and_the_pipeline_succeeds() {
    let suite = finished_run();
    let script = format!(
        "set -o pipefail; '{BIN}' report --db '{}' | head -1",
        suite.db().display()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script]);
    clean_env(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// The workflow commands the Actions runner would act on in `text`: it
/// reads a line at every `\n` and every bare `\r`, and none between
/// `::stop-commands::TOKEN` and `::TOKEN::`.
fn commands_seen(text: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut stopped: Option<String> = None;
    for line in text.split(['\n', '\r']) {
        let line = line.trim_start();
        match &stopped {
            Some(token) if line == format!("::{token}::") => stopped = None,
            Some(_) => {}
            None => {
                if let Some(token) = line.strip_prefix("::stop-commands::") {
                    stopped = Some(token.to_string());
                } else if line.starts_with("::") {
                    seen.push(line.to_string());
                }
            }
        }
    }
    seen
}

#[test]
fn a_carriage_return_cannot_start_a_command_on_stderr_or_stdout() {
    let runtime = Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    runtime.block_on(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string("oops\r::error::pwned\r"))
            .mount(&server),
    );
    let suite = Suite::new(&format!(
        r#"[suite]
name = "cr"
min-pass-rate = 0.0

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.proxy]
type = "openai-compatible"
model = "m"
base-url = "{}/v1"
max-retries = 1

[[tests]]
id = "a"
vars = {{ q = "1" }}
"#,
        server.uri()
    ));
    let run = suite.run_env(&["--no-cache", "-vv"], &[("GITHUB_ACTIONS", "true")]);
    run.expect_code(0);
    assert!(run.stderr().contains("pwned"), "{}", run.stderr());
    for (what, text) in [("stderr", run.stderr()), ("stdout", run.stdout())] {
        let commands = commands_seen(&text);
        assert!(
            commands.iter().all(|c| !c.contains("pwned")),
            "{what} lets the runner read {commands:?}:\n{text:?}"
        );
    }
}

#[test]
fn an_interrupted_run_prints_its_report_inside_the_fence() {
    let runtime = Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    runtime.block_on(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
            .mount(&server),
    );
    let suite = Suite::new(&format!(
        r#"[suite]
name = "held"

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.proxy]
type = "openai-compatible"
model = "m"
base-url = "{}/v1"

[[tests]]
id = "a"
vars = {{ q = "1" }}
"#,
        server.uri()
    ));
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--no-cache", "--grace", "100ms", "--config"])
        .arg(suite.path("evals.toml"))
        .arg("--db")
        .arg(suite.db())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    clean_env(&mut cmd);
    cmd.env("GITHUB_ACTIONS", "true");
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while runtime
        .block_on(server.received_requests())
        .is_none_or(|r| r.is_empty())
    {
        assert!(std::time::Instant::now() < deadline, "no request came");
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the run ended ({status}) before its request: {:?}",
                child.wait_with_output()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on a pid this test spawned and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("::stop-commands::"))
        .unwrap_or_else(|| panic!("not fenced: {stdout}"));
    assert!(
        stdout.trim_end().ends_with(&format!("::{token}::")),
        "{stdout}"
    );
    assert!(stdout.contains("interrupted"), "{stdout}");
}

#[test]
fn a_stderr_that_went_away_costs_only_the_messages() {
    // `ai-evals run -vv 2>&1 | head -1`: every message after the first
    // meets a closed pipe; the run goes on and is stored whole.
    let suite = finished_run();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "-vv", "--config"])
        .arg(suite.path("evals.toml"))
        .arg("--db")
        .arg(suite.db())
        .stdout(Stdio::null())
        .stderr(writer);
    clean_env(&mut cmd);
    let status = cmd.status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        column(&suite.db(), "SELECT status FROM runs ORDER BY started_at"),
        ["finished", "finished"]
    );
}
