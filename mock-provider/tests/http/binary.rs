//! The `mock-provider` command: it announces its address and serves there,
//! and refuses to listen beyond loopback unless asked to.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::{chat_body, post};

/// Kills the server even when an assertion fails first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args` and returns it with the URL it announced.
fn spawn(args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> (Running, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut line = String::new();
    BufReader::new(running.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .to_owned();
    (running, url)
}

#[tokio::test]
async fn binary_announces_its_url_and_serves() {
    let rules =
        std::env::temp_dir().join(format!("mock-provider-rules-{}.json", std::process::id()));
    std::fs::write(
        &rules,
        r#"[{"contains": "teapot", "status": 418, "reply": "short and stout"}]"#,
    )
    .unwrap();
    let args = ["--reply-text", "fixed reply", "--seed", "3", "--rules"].map(OsStr::new);
    let (_running, url) = spawn(args.into_iter().chain([rules.as_os_str()]));
    std::fs::remove_file(&rules).unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let client = crate::common::client();
    let endpoint = format!("{url}/v1/chat/completions");
    let answer = post(&client, &endpoint, &[], &chat_body("hello")).await;
    assert_eq!(
        answer.body["choices"][0]["message"]["content"],
        "fixed reply"
    );
    let teapot = post(&client, &endpoint, &[], &chat_body("a teapot")).await;
    assert_eq!(
        (teapot.status, teapot.body["error"]["message"].as_str()),
        (418, Some("short and stout"))
    );
}

#[test]
fn binary_refuses_a_remote_host_without_allow_remote() {
    let output = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
        .args(["--host", "0.0.0.0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-remote"));
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn binary_flags_choose_the_enforcement_and_header_scale() {
    let args = [
        "--rpm",
        "6",
        "--enforcement",
        "sliding-window",
        "--window-secs",
        "30",
        "--headers-window",
    ];
    let (_running, url) = spawn(args);
    let client = crate::common::client();
    let endpoint = format!("{url}/v1/chat/completions");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(post(&client, &endpoint, &[], &chat_body("hi")).await);
    }
    assert_eq!(statuses[0].header("x-ratelimit-limit-requests"), "3");
    let codes: Vec<u16> = statuses.iter().map(|a| a.status).collect();
    assert_eq!(codes, [200, 200, 200, 429]);
}

#[tokio::test]
async fn binary_flags_turn_on_wrong_answers_and_chaos() {
    let (_running, url) = spawn(["--wrong-rate", "1", "--chaos", "1", "--seed", "4"]);
    let client = crate::common::client();
    let stats_url = format!("{url}/stats");
    let endpoint = format!("{url}/v1/chat/completions");
    let answer = client
        .post(&endpoint)
        .json(&chat_body("hi"))
        .send()
        .await
        .unwrap();
    // The body may be hostile; the counters say what the server did.
    drop(answer);
    let stats: mock_provider::Stats = client
        .get(&stats_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats.wrong_answers, 1);
    assert_eq!(stats.by_chaos.values().sum::<u64>(), 1);
}

#[test]
fn binary_refuses_settings_it_cannot_honour() {
    for args in [
        &["--window-secs", "5"][..],
        &["--rpd", "100"],
        &["--enforcement", "fixed-window", "--burst-requests", "3"],
        &["--enforcement", "sliding-window", "--rpm", "30"],
        &["--chaos", "1.5"],
        &["--wrong-rate", "2"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty());
    }
}
