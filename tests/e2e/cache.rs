//! The response cache across runs and processes: a warm re-run costs
//! nothing, modes do what they say, and sharing or damage loses nothing.
//! Requests are counted by the mock server.

use std::process::{Command, Stdio};
use std::time::Duration;

use mock_provider::{Config as MockConfig, MockServer};
use tokio::runtime::Runtime;

use crate::support::{BIN, Suite, clean_env, column, number};

const KEY_VAR: &str = "AI_EVALS_E2E_CACHE_KEY";

fn mock(config: MockConfig) -> (Runtime, MockServer) {
    let runtime = Runtime::new().expect("tokio runtime");
    let server = runtime
        .block_on(mock_provider::start(config))
        .expect("start mock");
    (runtime, server)
}

/// A suite whose cases ask `Q: <question>`; rows give id and question.
fn suite(server: &MockServer, rows: &[(&str, &str)], suite_extra: &str) -> Suite {
    let suite = Suite::new(&format!(
        r#"[suite]
name = "c"
{suite_extra}

[prompts]
ask = "Q: {{{{ question }}}}"

[providers.gpt]
type = "openai"
model = "gpt-4o-mini"
base-url = "{}/v1"
api-key-env = "{KEY_VAR}"

[defaults]
assert = [{{ type = "starts-with", value = "Q: " }}]

[[datasets]]
path = "cases.jsonl"
"#,
        server.url()
    ));
    let lines: String = rows
        .iter()
        .map(|(id, q)| format!("{{\"id\": \"{id}\", \"question\": \"{q}\"}}\n"))
        .collect();
    suite.write("cases.jsonl", lines);
    suite
}

fn rows(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("c{i}"), format!("question {i}")))
        .collect()
}

fn as_refs(rows: &[(String, String)]) -> Vec<(&str, &str)> {
    rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

fn run(suite: &Suite, extra: &[&str]) -> crate::support::Run {
    let cache = suite.path("cache");
    let mut args = vec!["--cache-dir", cache.to_str().unwrap()];
    args.extend_from_slice(extra);
    suite.run_env(&args, &[(KEY_VAR, "sk-cache-test")])
}

fn metric(suite: &Suite, name: &str) -> i64 {
    number(
        &suite.db(),
        &format!(
            "SELECT value::BIGINT FROM metrics JOIN runs USING (run_id)
             WHERE name = '{name}' ORDER BY started_at DESC LIMIT 1"
        ),
    )
}

#[test]
fn a_warm_re_run_makes_no_request() {
    let (_rt, server) = mock(MockConfig {
        latency: Duration::from_millis(20),
        ..MockConfig::default()
    });
    let rows = rows(20);
    let suite = suite(&server, &as_refs(&rows), "");
    run(&suite, &[]).expect_code(0);
    assert_eq!(server.stats().requests, 20);
    server.reset_stats();

    let warm = run(&suite, &[]);
    warm.expect_code(0);
    assert_eq!(
        server.stats().requests,
        0,
        "the warm run called the provider"
    );
    assert!(
        warm.stdout()
            .contains("cache: 100.0% hit rate (20 stored, 0 shared, 0 missed)"),
        "{}",
        warm.stdout()
    );
    assert_eq!(metric(&suite, "requests_saved"), 20);
    assert!(metric(&suite, "tokens_saved") > 0);
    // The warm run's records say cached, kept the first latency, and made no attempt.
    let warm_rows = column(
        &suite.db(),
        "SELECT DISTINCT cached || ' ' || attempts || ' ' || (original_latency_ms >= 20) || ' ' || (total_tokens > 0)
         FROM case_results WHERE run_id = (SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1)",
    );
    assert_eq!(warm_rows, ["true 0 true true"]);
}

#[test]
fn read_only_writes_nothing_and_no_cache_reads_nothing() {
    let (_rt, server) = mock(MockConfig::default());
    let rows = rows(5);
    let suite = suite(&server, &as_refs(&rows), "");
    run(&suite, &["--cache", "read-only"]).expect_code(0);
    assert!(!suite.path("cache").exists(), "read-only created the cache");
    run(&suite, &["--cache", "read-only"]).expect_code(0);
    assert_eq!(server.stats().requests, 10);

    run(&suite, &[]).expect_code(0);
    server.reset_stats();
    run(&suite, &["--no-cache"]).expect_code(0);
    assert_eq!(
        server.stats().requests,
        5,
        "--no-cache must call the provider"
    );
    run(&suite, &["--cache", "read-only"]).expect_code(0);
    assert_eq!(
        server.stats().requests,
        5,
        "read-only replays what is stored"
    );
}

#[test]
fn each_repeat_is_its_own_entry() {
    let (_rt, server) = mock(MockConfig::default());
    let rows = rows(4);
    let suite = suite(&server, &as_refs(&rows), "repeat = 3");
    run(&suite, &[]).expect_code(0);
    assert_eq!(
        server.stats().requests,
        12,
        "a repeat never replays the first answer"
    );
    assert_eq!(
        number(
            &suite.db(),
            "SELECT count(DISTINCT (case_id, repeat_index)) FROM case_results"
        ),
        12
    );
    server.reset_stats();
    run(&suite, &[]).expect_code(0);
    assert_eq!(server.stats().requests, 0);
    run(&suite, &["--repeat", "4"]).expect_code(0);
    assert_eq!(
        server.stats().requests,
        4,
        "only the new fourth repeats are asked for"
    );
}

#[test]
fn identical_requests_in_flight_make_one_call() {
    // The answer takes two seconds; the other four identical requests start
    // within the same batch and join the first one's flight.
    let (_rt, server) = mock(MockConfig {
        latency: Duration::from_secs(2),
        ..MockConfig::default()
    });
    let rows: Vec<(&str, &str)> = (0..5)
        .map(|i| (["a", "b", "c", "d", "e"][i], "same"))
        .collect();
    let suite = suite(&server, &rows, "");
    run(&suite, &[]).expect_code(0);
    assert_eq!(server.stats().requests, 1);
    assert_eq!(metric(&suite, "cache_shared"), 4);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT string_agg(DISTINCT output, ',') FROM case_results"
        ),
        ["Q: same"]
    );
}

#[test]
fn two_processes_share_one_cache_and_lose_nothing() {
    let (_rt, server) = mock(MockConfig {
        latency: Duration::from_millis(5),
        ..MockConfig::default()
    });
    let rows = rows(60);
    let suite = suite(&server, &as_refs(&rows), "");
    let cache = suite.path("cache");
    let spawn = |db: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "-q", "--config"])
            .arg(suite.path("evals.toml"))
            .arg("--db")
            .arg(suite.path(db))
            .arg("--cache-dir")
            .arg(&cache)
            .env(KEY_VAR, "sk-cache-test")
            .stdout(Stdio::null());
        clean_env(&mut cmd);
        cmd.spawn().expect("start ai-evals")
    };
    let (mut a, mut b) = (spawn("a.duckdb"), spawn("b.duckdb"));
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let made = server.stats().requests;
    assert!((60..=120).contains(&made), "{made}");
    server.reset_stats();
    run(&suite, &["--cache", "read-only"]).expect_code(0);
    assert_eq!(server.stats().requests, 0, "an entry was lost or damaged");
    assert_eq!(metric(&suite, "cache_corrupt_entries"), 0);
}

#[test]
fn a_corrupt_entry_is_a_counted_miss_and_is_rewritten() {
    let (_rt, server) = mock(MockConfig::default());
    let rows = rows(3);
    let suite = suite(&server, &as_refs(&rows), "");
    run(&suite, &[]).expect_code(0);
    let entries: Vec<_> = walk(&suite.path("cache/v1/responses"));
    assert_eq!(entries.len(), 3);
    std::fs::write(&entries[0], b"{\"model\": \"gpt-4o-mi").unwrap();
    server.reset_stats();
    let rerun = run(&suite, &[]);
    rerun.expect_code(0);
    assert_eq!(server.stats().requests, 1);
    assert_eq!(metric(&suite, "cache_corrupt_entries"), 1);
    server.reset_stats();
    run(&suite, &[]).expect_code(0);
    assert_eq!(
        server.stats().requests,
        0,
        "the damaged entry was not rewritten"
    );
}

#[test]
fn a_pipe_a_link_to_dev_zero_or_a_folder_in_the_cache_is_a_counted_miss_never_a_hang() {
    let (_rt, server) = mock(MockConfig::default());
    let rows = rows(4);
    let suite = suite(&server, &as_refs(&rows), "");
    run(&suite, &[]).expect_code(0);
    let entries: Vec<_> = walk(&suite.path("cache/v1/responses"));
    assert_eq!(entries.len(), 4);
    for entry in &entries[..3] {
        std::fs::remove_file(entry).unwrap();
    }
    // A named pipe nobody writes to: a blocking open would wait forever.
    let made = Command::new("mkfifo").arg(&entries[0]).status().unwrap();
    assert!(made.success());
    // A file with no end: an unbounded read would fill the memory.
    std::os::unix::fs::symlink("/dev/zero", &entries[1]).unwrap();
    std::fs::create_dir(&entries[2]).unwrap();
    server.reset_stats();
    // The read-only run counts them and leaves them where they are; a
    // watchdog ends it should a read ever block.
    let mut cmd = Command::new(BIN);
    let cache = suite.path("cache");
    cmd.args(["run", "--cache", "read-only", "--cache-dir"])
        .arg(&cache)
        .arg("--config")
        .arg(suite.path("evals.toml"))
        .arg("--db")
        .arg(suite.db())
        .env(KEY_VAR, "sk-cache-test")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    clean_env(&mut cmd);
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(120)).is_err() {
            // SAFETY: kill(2) on a pid this test spawned and has not reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().unwrap();
    done.send(()).ok();
    guard.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(server.stats().requests, 3, "the three were asked again");
    assert_eq!(metric(&suite, "cache_corrupt_entries"), 3);
    assert!(
        std::fs::symlink_metadata(&entries[1]).is_ok(),
        "read-only removed a file"
    );
    // A read-write run replaces them with answers.
    server.reset_stats();
    run(&suite, &[]).expect_code(0);
    assert_eq!(server.stats().requests, 3);
    assert_eq!(metric(&suite, "cache_corrupt_entries"), 3);
    server.reset_stats();
    run(&suite, &[]).expect_code(0);
    assert_eq!(
        server.stats().requests,
        1,
        "only the folder is still in the way"
    );
}

#[test]
fn cache_commands_report_prune_and_clear() {
    let (_rt, server) = mock(MockConfig::default());
    let rows = rows(4);
    let suite = suite(&server, &as_refs(&rows), "");
    run(&suite, &[]).expect_code(0);
    let cache = suite.path("cache");
    let command = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("cache").args(args).arg("--cache-dir").arg(&cache);
        clean_env(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let stats = command(&["stats"]);
    assert!(stats.contains("responses          4 entries"), "{stats}");
    assert!(stats.contains("last run ("), "{stats}");
    assert!(stats.contains("hit rate 0.0%, 0 hits, 4 misses"), "{stats}");
    let pruned = command(&["prune", "--max-size", "1"]);
    assert!(
        pruned.starts_with("responses: removed 0 expired and 4 least recently used; 0 entries"),
        "{pruned}"
    );
    run(&suite, &[]).expect_code(0);
    assert_eq!(
        command(&["clear"]),
        format!("removed 4 entries from {}\n", cache.display())
    );
    assert!(walk(&cache.join("v1/responses")).is_empty());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(shards) = std::fs::read_dir(dir) else {
        return files;
    };
    for shard in shards.flatten() {
        for file in std::fs::read_dir(shard.path()).unwrap().flatten() {
            files.push(file.path());
        }
    }
    files.sort();
    files
}
