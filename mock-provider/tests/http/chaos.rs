//! Chaos mode over HTTP: every hostile kind seen from the client's side,
//! counted alike by the server, and `answers_ok` counting only what a
//! client could store. Draws depend on the seed and arrival numbers only,
//! so the counts are exact even with all requests in flight at once.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use mock_provider::{Config, Stats, start};
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::common::{ANTHROPIC_HEADERS, anthropic_body, chat_body};

/// Far shorter than a stalled body's stall, far longer than any answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A client that gives up after `timeout`; see [`crate::common::client`]
/// for the crypto provider.
fn client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

/// What a careful client makes of an answer: "ok" or the chaos kind.
async fn classify(request: reqwest::RequestBuilder, anthropic: bool) -> &'static str {
    let response = request.send().await.expect("headers always arrive");
    let html = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html");
    let remaining = if anthropic {
        "anthropic-ratelimit-requests-remaining"
    } else {
        "x-ratelimit-remaining-requests"
    };
    let numeric = response
        .headers()
        .get(remaining)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.parse::<u64>().is_ok());
    let body = match response.bytes().await {
        Err(e) if e.is_timeout() => return "stalled-body",
        Err(_) => return "reset-mid-body",
        Ok(_) if html => return "html-error",
        Ok(body) => body,
    };
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return "truncated-json";
    };
    let well_formed = if anthropic {
        json["content"][0]["text"].is_string() && json["usage"]["input_tokens"].is_u64()
    } else {
        json["choices"][0]["message"]["content"].is_string()
            && json["usage"]["prompt_tokens"].is_u64()
    };
    match (well_formed, numeric) {
        (false, _) => "wrong-types",
        (true, false) => "huge-headers",
        (true, true) => "ok",
    }
}

/// Sends `n` requests at once and tallies what the client saw.
async fn tally(config: Config, n: usize, anthropic: bool) -> (BTreeMap<&'static str, u64>, Stats) {
    let server = start(config).await.unwrap();
    let client = client(TIMEOUT);
    let requests = (0..n).map(|i| {
        let text = format!("question {i}");
        let request = if anthropic {
            let mut r = client.post(format!("{}/v1/messages", server.url()));
            for (name, value) in ANTHROPIC_HEADERS {
                r = r.header(*name, *value);
            }
            r.json(&anthropic_body(&text))
        } else {
            client
                .post(format!("{}/v1/chat/completions", server.url()))
                .json(&chat_body(&text))
        };
        classify(request, anthropic)
    });
    let mut seen = BTreeMap::new();
    for kind in join_all(requests).await {
        *seen.entry(kind).or_default() += 1;
    }
    let stats = server.stats();
    server.shutdown().await;
    (seen, stats)
}

fn assert_server_agrees(seen: &BTreeMap<&str, u64>, stats: &Stats) {
    let hostile: BTreeMap<&str, u64> = seen
        .iter()
        .filter(|(kind, _)| **kind != "ok")
        .map(|(k, v)| (*k, *v))
        .collect();
    let counted: BTreeMap<&str, u64> = stats
        .by_chaos
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(hostile, counted);
    assert_eq!(stats.answers_ok, seen.get("ok").copied().unwrap_or(0));
}

#[tokio::test]
async fn openai_chaos_kinds_are_all_seen_and_counted() {
    let config = Config {
        chaos: 0.5,
        seed: 11,
        ..Config::default()
    };
    let (seen, stats) = tally(config, 60, false).await;
    assert_server_agrees(&seen, &stats);
    assert_eq!(
        seen,
        BTreeMap::from([
            ("ok", 28),
            ("truncated-json", 6),
            ("wrong-types", 5),
            ("huge-headers", 6),
            ("reset-mid-body", 4),
            ("stalled-body", 8),
            ("html-error", 3),
        ])
    );
    assert_eq!((stats.requests, stats.by_status["200"]), (60, 60));
}

#[tokio::test]
async fn anthropic_chaos_kinds_are_all_seen_and_counted() {
    let config = Config {
        chaos: 0.5,
        seed: 12,
        ..Config::default()
    };
    let (seen, stats) = tally(config, 60, true).await;
    assert_server_agrees(&seen, &stats);
    assert_eq!(
        seen,
        BTreeMap::from([
            ("ok", 30),
            ("truncated-json", 4),
            ("wrong-types", 3),
            ("huge-headers", 4),
            ("reset-mid-body", 5),
            ("stalled-body", 7),
            ("html-error", 7),
        ])
    );
}

/// A client that hangs up during the latency was never served: its
/// request is counted, its answer is not.
#[tokio::test]
async fn a_client_that_hangs_up_is_not_served() {
    let server = start(Config {
        latency: Duration::from_secs(60),
        ..Config::default()
    })
    .await
    .unwrap();
    let impatient = client(Duration::from_millis(100));
    let url = format!("{}/v1/chat/completions", server.url());
    let gave_up = impatient.post(&url).json(&chat_body("hi")).send().await;
    assert!(gave_up.unwrap_err().is_timeout());
    // The server drops the call when it sees the connection close; the
    // latency is far from over by then.
    for _ in 0..500 {
        if server.stats().in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = server.stats();
    assert_eq!((stats.requests, stats.in_flight), (1, 0));
    assert_eq!(stats.answers_ok, 0);
    assert!(stats.by_status.is_empty(), "{:?}", stats.by_status);
    server.shutdown().await;
}

#[tokio::test]
async fn scripted_answers_and_embeddings_are_left_alone() {
    let rule = mock_provider::Rule {
        contains: "scripted".into(),
        reply: Some("as written".into()),
        ..mock_provider::Rule::default()
    };
    let server = start(Config {
        chaos: 1.0,
        rules: vec![rule],
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let chat = format!("{}/v1/chat/completions", server.url());
    let scripted = crate::common::post(&client, &chat, &[], &chat_body("scripted")).await;
    assert_eq!(
        scripted.body["choices"][0]["message"]["content"],
        "as written"
    );
    let embeddings = format!("{}/v1/embeddings", server.url());
    let body = serde_json::json!({"model": "e", "input": "x"});
    let embedded = crate::common::post(&client, &embeddings, &[], &body).await;
    assert_eq!(embedded.status, 200);
    let stats = server.stats();
    assert_eq!((stats.answers_ok, stats.by_chaos.len()), (2, 0));
    server.shutdown().await;
}
