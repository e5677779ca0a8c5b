//! A run killed outright keeps every batch it stored.
//!
//! The dataset is a named pipe: the test writes 120 rows and holds the pipe
//! open, so the run stores two full batches of 50 and then waits for more
//! rows. The test waits for the second "stored batch" line, then kills the
//! process with SIGKILL. No timing is involved: the run cannot get further.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{BIN, Suite, clean_env, column, echo_config, number};

#[test]
fn killed_run_keeps_finished_batches() {
    let suite = Suite::new(&echo_config("[[datasets]]\npath = \"pipe.jsonl\"\n"));
    let pipe = suite.path("pipe.jsonl");
    let made = Command::new("mkfifo").arg(&pipe).status().expect("mkfifo");
    assert!(made.success());

    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .arg("--verbose")
        .arg("--config")
        .arg(suite.path("evals.toml"))
        .arg("--db")
        .arg(suite.db())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    clean_env(&mut cmd);
    let mut child = cmd.spawn().expect("start ai-evals");

    // A watchdog ends the child if the run ever stops making progress, so a
    // regression fails this test instead of hanging the whole suite.
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    let pid = child.id() as libc::pid_t;
    let guard = std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(120)).is_err() {
            // SAFETY: kill(2) on a pid this test spawned and has not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });

    let mut writer = open_when_read(&pipe, &mut child);
    for i in 0..120 {
        writeln!(writer, "{{\"id\": \"c{i}\", \"q\": {i}}}").unwrap();
    }
    writer.flush().unwrap();

    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("stored batch 2: 100 cases in all") {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.contains("stored batch 2")),
        "the run ended before storing two batches: {seen:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    drop(writer);
    done.send(()).ok();
    guard.join().unwrap();

    assert_eq!(
        number(&suite.db(), "SELECT count(*) FROM case_results"),
        100
    );
    assert_eq!(number(&suite.db(), "SELECT count(*) FROM scores"), 0);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT status || ' ' || (finished_at IS NULL) FROM runs"
        ),
        ["running true"],
        "a killed run's row says it did not finish"
    );
}

/// Opens the pipe for writing once the run has opened it for reading. A
/// blocking open would wait forever if the run failed before reading, so
/// this opens without blocking and gives up when the run has exited.
fn open_when_read(pipe: &Path, child: &mut Child) -> std::fs::File {
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(pipe)
        {
            Ok(file) => return file,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("the run exited ({status}) before reading its dataset");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("open {}: {e}", pipe.display()),
        }
    }
}

const KEY_VAR: &str = "AI_EVALS_E2E_SIGNAL_KEY";

/// A suite of `n` cases asking the mock at `url`, `concurrency` at a time.
fn asking(url: &str, n: usize, concurrency: usize) -> Suite {
    let suite = Suite::new(&format!(
        r#"[suite]
name = "signalled"
concurrency = {concurrency}
batch-size = 20

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.gpt]
type = "openai-compatible"
model = "gpt-4o-mini"
base-url = "{url}/v1"
api-key-env = "{KEY_VAR}"

[defaults]
assert = [{{ type = "starts-with", value = "Q: " }}]

[[datasets]]
path = "cases.jsonl"
"#
    ));
    let rows: String = (0..n)
        .map(|i| format!("{{\"id\": \"c{i}\", \"q\": \"question {i}\"}}\n"))
        .collect();
    suite.write("cases.jsonl", rows);
    suite
}

fn spawn(suite: &Suite) -> Child {
    spawn_with(suite, &[])
}

fn spawn_with(suite: &Suite, extra: &[&str]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .args(extra)
        .arg("--config")
        .arg(suite.path("evals.toml"))
        .arg("--db")
        .arg(suite.db())
        .arg("--cache-dir")
        .arg(suite.path("cache"))
        .env(KEY_VAR, "sk-signal")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    clean_env(&mut cmd);
    cmd.spawn().expect("start ai-evals")
}

/// Waits until `done` holds, polling; fails the test after two minutes so a
/// regression cannot hang the suite.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on a pid this test spawned and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
}

#[test]
fn sigterm_stores_every_answer_received_and_a_rerun_pays_for_none_twice() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(mock_provider::start(mock_provider::Config {
            latency: Duration::from_millis(100),
            ..mock_provider::Config::default()
        }))
        .unwrap();
    let suite = asking(&server.url(), 2000, 20);
    let mut child = spawn(&suite);
    wait_until("answers to arrive", || server.stats().answers_ok >= 100);
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "an interrupted run exits 3");

    let served = server.stats();
    let stored = number(&suite.db(), "SELECT count(*) FROM case_results");
    assert_eq!(
        stored as u64, served.answers_ok,
        "every answer the server gave is stored"
    );
    assert_eq!(
        served.requests, served.answers_ok,
        "no request was left unanswered"
    );
    assert!(stored < 2000, "the run stopped early ({stored} stored)");
    assert_eq!(
        column(&suite.db(), "SELECT status FROM runs"),
        ["interrupted"]
    );

    let again = spawn(&suite).wait_with_output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert_eq!(
        server.stats().requests - served.requests,
        2000 - stored as u64,
        "the re-run asked only for what the interrupted run never got"
    );
}

#[test]
fn a_second_signal_stops_at_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(mock_provider::start(mock_provider::Config {
            latency: Duration::from_secs(600),
            ..mock_provider::Config::default()
        }))
        .unwrap();
    let suite = asking(&server.url(), 50, 5);
    // A grace far longer than the test may wait: only the second signal
    // can end the run in time.
    let mut child = spawn_with(&suite, &["--grace", "1h"]);
    let pid = child.id() as libc::pid_t;
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(120)).is_err() {
            // SAFETY: kill(2) on a pid this test spawned and has not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    wait_until("requests in flight", || server.stats().in_flight == 5);
    signal(&child, libc::SIGTERM);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("interrupted: no more requests are sent") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no interruption notice"
        );
    }
    signal(&child, libc::SIGTERM);
    let code = child.wait().unwrap().code();
    done.send(()).ok();
    guard.join().unwrap();
    assert_eq!(code, Some(3), "the second signal ends the run with exit 3");
    assert_eq!(server.stats().answers_ok, 0, "nothing was waited for");
}

/// Starts `cmd` with SIGTERM blocked, as a parent may, and sends it at
/// once: the signal waits, pending, until the process unblocks it. A
/// process that counts signals from its first instruction (and unblocks
/// them) sees it however early it came; one that never unblocks them
/// runs as if nothing came.
fn spawn_signalled_at_birth(cmd: &mut Command) -> Child {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = cmd.spawn().expect("start ai-evals");
    signal(&child, libc::SIGTERM);
    child
}

#[test]
fn a_signal_before_the_first_instruction_stops_the_run_before_it_begins() {
    let suite = Suite::new(&echo_config(
        "[[tests]]\nid = \"a\"\nvars = { q = \"1\" }\n",
    ));
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .arg("--config")
        .arg(suite.path("evals.toml"))
        .arg("--db")
        .arg(suite.db())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    clean_env(&mut cmd);
    let out = spawn_signalled_at_birth(&mut cmd)
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("interrupted before the run began: nothing was sent or stored"),
        "{stderr}"
    );
    assert!(!suite.db().exists(), "the history was touched");
}

#[test]
fn a_signal_at_birth_ends_any_other_command_with_exit_3() {
    let suite = Suite::new(&echo_config(
        "[[tests]]\nid = \"a\"\nvars = { q = \"1\" }\n",
    ));
    suite.run(&[]).expect_code(0);
    let mut cmd = Command::new(BIN);
    cmd.arg("history")
        .arg("--db")
        .arg(suite.db())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    clean_env(&mut cmd);
    let out = spawn_signalled_at_birth(&mut cmd)
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: interrupted"));
}

/// A provider that never answers, on its own runtime.
fn stalled_server() -> (tokio::runtime::Runtime, wiremock::MockServer) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(wiremock::MockServer::start());
    runtime.block_on(
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
            .mount(&server),
    );
    (runtime, server)
}

#[test]
fn a_signal_while_the_history_is_created_leaves_a_whole_one() {
    // The one case never gets an answer, so the run cannot end before the
    // signal: it comes as soon as the history file exists, which is while
    // its schema is written or just after.
    let (_runtime, server) = stalled_server();
    let suite = asking(&server.uri(), 1, 1);
    let mut child = spawn_with(&suite, &["--grace", "100ms"]);
    wait_until("the history file", || suite.db().exists());
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(
        column(&suite.db(), "SELECT status FROM runs"),
        ["interrupted"]
    );
    let mut history = Command::new(BIN);
    history.args(["history", "--db"]).arg(suite.db());
    clean_env(&mut history);
    let listed = history.output().unwrap();
    assert_eq!(listed.status.code(), Some(0), "{listed:?}");
    assert!(String::from_utf8_lossy(&listed.stdout).contains("interrupted"));
}

/// How many answers the run has written to its cache folder.
fn cached(suite: &Suite) -> usize {
    let Ok(shards) = std::fs::read_dir(suite.path("cache/v1/responses")) else {
        return 0;
    };
    shards
        .flat_map(|s| std::fs::read_dir(s.unwrap().path()).unwrap())
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count()
}

#[test]
fn sigterm_with_one_request_stuck_past_the_grace_stores_every_answer_received() {
    // 20 cases at once (one batch of 50 never fills); the server answers
    // all but c7, which it holds for an hour. The signal comes once all 20
    // requests have arrived and the 19 answers are in the cache (each is
    // cached the moment it is received); the grace then runs out on c7.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(wiremock::MockServer::start());
    let good = r#"{"choices":[{"message":{"role":"assistant","content":"Q: ok"},"finish_reason":"stop"}]}"#;
    runtime.block_on(async {
        wiremock::Mock::given(wiremock::matchers::body_string_contains("question 7\""))
            .respond_with(wiremock::ResponseTemplate::new(200).set_delay(Duration::from_secs(3600)))
            .mount(&server)
            .await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(
                wiremock::ResponseTemplate::new(200)
                    .set_body_raw(good.as_bytes().to_vec(), "application/json"),
            )
            .mount(&server)
            .await;
    });
    let suite = asking(&server.uri(), 20, 20);
    let config = std::fs::read_to_string(suite.path("evals.toml")).unwrap();
    suite.write(
        "evals.toml",
        config.replace("batch-size = 20", "batch-size = 50"),
    );
    let child = spawn_with(&suite, &["--grace", "200ms"]);
    wait_until("20 requests and 19 answers", || {
        runtime
            .block_on(server.received_requests())
            .is_some_and(|r| r.len() == 20)
            && cached(&suite) == 19
    });
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        number(&suite.db(), "SELECT count(*) FROM case_results"),
        19,
        "{stderr}"
    );
    assert_eq!(
        number(
            &suite.db(),
            "SELECT count(*) FROM case_results WHERE case_id = 'c7'"
        ),
        0
    );
    assert!(
        stderr.contains("the 19 cases finished so far are stored"),
        "{stderr}"
    );
    assert_eq!(
        column(&suite.db(), "SELECT status FROM runs"),
        ["interrupted"]
    );
}
