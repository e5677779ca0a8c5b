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
