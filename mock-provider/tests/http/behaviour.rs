//! Rate limits, scripted rules, random errors, concurrency and the stats
//! endpoints, over HTTP. Rate limits use a tiny refill rate, so counts of
//! 429s never depend on how fast the test runs.

use std::time::Duration;

use futures::future::join_all;
use futures::stream::{self, StreamExt};
use mock_provider::{Config, Rule, Stats, start};
use serde_json::json;

use crate::common::{ANTHROPIC_HEADERS, anthropic_body, chat_body, post};

#[tokio::test]
async fn over_the_rpm_limit_answers_429_with_headers() {
    // One request a minute refills nothing during the test; the burst is 3.
    let config = Config {
        rpm: Some(1),
        burst_requests: Some(3),
        ..Config::default()
    };
    let server = start(config).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let mut answers = Vec::new();
    for i in 0..10 {
        answers.push(post(&client, &url, &[], &chat_body(&format!("request {i}"))).await);
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    assert_eq!(answers[0].header("x-ratelimit-limit-requests"), "1");
    assert_eq!(answers[0].header("x-ratelimit-remaining-requests"), "2");
    assert_eq!(answers[2].header("x-ratelimit-remaining-requests"), "0");

    let limited = &answers[3];
    let retry_after: u64 = limited.header("retry-after").parse().unwrap();
    let retry_after_ms: u64 = limited.header("retry-after-ms").parse().unwrap();
    assert!(retry_after >= 1 && retry_after_ms.div_ceil(1000) == retry_after);
    assert_eq!(limited.header("x-ratelimit-remaining-requests"), "0");
    let error = &limited.body["error"];
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("requests"), Some("rate_limit_exceeded"))
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("Rate limit reached for requests in organization org-mock on requests per min (RPM): Limit 1, Used 1, Requested 1. Please try again in "),
        "{message}"
    );

    let stats = server.stats();
    assert_eq!(
        (
            stats.rate_limited,
            stats.by_status["429"],
            stats.by_status["200"]
        ),
        (7, 7, 3)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn over_the_tpm_limit_answers_429_in_anthropic_format() {
    // Room for 150 tokens, refilled at one token per ten seconds: the first
    // request costs 2 + 3 prompt tokens plus its 100 max_tokens, and the
    // second no longer fits.
    let config = Config {
        tpm: Some(6),
        burst_tokens: Some(150),
        ..Config::default()
    };
    let server = start(config).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/messages", server.url());
    let first = post(
        &client,
        &url,
        ANTHROPIC_HEADERS,
        &anthropic_body("hi there"),
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("anthropic-ratelimit-tokens-limit"), "6");
    assert_eq!(first.header("anthropic-ratelimit-tokens-remaining"), "45");
    let second = post(
        &client,
        &url,
        ANTHROPIC_HEADERS,
        &anthropic_body("hi there"),
    )
    .await;
    assert_eq!(second.status, 429);
    assert_eq!(second.body["error"]["type"], "rate_limit_error");
    assert!(second.header("retry-after").parse::<u64>().unwrap() >= 1);
    assert_eq!(second.header("anthropic-ratelimit-tokens-remaining"), "45");
    server.shutdown().await;
}

#[tokio::test]
async fn a_rule_with_times_one_gives_429_then_success() {
    let rule = Rule {
        contains: "flaky".into(),
        status: Some(429),
        headers: [("retry-after".to_owned(), "0".to_owned())].into(),
        times: Some(1),
        ..Rule::default()
    };
    let server = start(Config {
        rules: vec![rule],
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let first = post(&client, &url, &[], &chat_body("a flaky question")).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), "0");
    assert_eq!(first.body["error"]["code"], "rate_limit_exceeded");
    let second = post(&client, &url, &[], &chat_body("a flaky question")).await;
    assert_eq!(second.status, 200);
    assert_eq!(
        second.body["choices"][0]["message"]["content"],
        "a flaky question"
    );
    assert_eq!(
        server.stats().rate_limited,
        0,
        "scripted 429s are not the limiter's"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn rules_script_storms_and_replies() {
    let storm = Rule {
        contains: "storm".into(),
        status: Some(500),
        reply: Some("boom".into()),
        ..Rule::default()
    };
    let canned = Rule {
        contains: "capital".into(),
        reply: Some("Paris".into()),
        ..Rule::default()
    };
    let server = start(Config {
        rules: vec![storm, canned],
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    for _ in 0..3 {
        let answer = post(&client, &url, &[], &chat_body("storm")).await;
        assert_eq!(answer.status, 500);
        assert_eq!(
            answer.body["error"],
            json!({"message": "boom", "type": "server_error", "param": null, "code": null})
        );
    }
    let canned = post(
        &client,
        &url,
        &[],
        &chat_body("What is the capital of France?"),
    )
    .await;
    assert_eq!(canned.body["choices"][0]["message"]["content"], "Paris");
    server.shutdown().await;
}

#[tokio::test]
async fn random_errors_repeat_for_a_seed() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let server = start(Config {
            error_rate: 0.5,
            seed,
            ..Config::default()
        })
        .await
        .unwrap();
        let client = crate::common::client();
        let url = format!("{}/v1/messages", server.url());
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(
                post(&client, &url, ANTHROPIC_HEADERS, &anthropic_body("hi"))
                    .await
                    .status,
            );
        }
        server.shutdown().await;
        statuses
    }
    let first = statuses(42).await;
    assert_eq!(first, statuses(42).await);
    assert!(
        first.contains(&200) && first.contains(&529) && first.contains(&500),
        "{first:?}"
    );
}

#[tokio::test]
async fn max_in_flight_is_exact() {
    // The latency only has to outlast the time the client takes to send 20
    // requests; the counts themselves do not depend on timing.
    let config = Config {
        latency: Duration::from_secs(3),
        ..Config::default()
    };
    let server = start(config).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let send = |text: String| {
        let (client, url) = (&client, &url);
        async move { post(client, url, &[], &chat_body(&text)).await }
    };
    let all = (0..20).map(|i| send(format!("request {i}")));
    assert!(join_all(all).await.iter().all(|a| a.status == 200));
    let stats = server.stats();
    assert_eq!(
        (stats.requests, stats.in_flight, stats.max_in_flight),
        (20, 0, 20)
    );

    server.shutdown().await;
}

#[tokio::test]
async fn max_in_flight_never_exceeds_the_clients_concurrency() {
    let config = Config {
        latency: Duration::from_millis(100),
        ..Config::default()
    };
    let server = start(config).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let (client, url) = (&client, &url);
    let limited = stream::iter(0..12)
        .map(|i| async move { post(client, url, &[], &chat_body(&format!("limited {i}"))).await })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    assert_eq!(limited.len(), 12);
    let stats = server.stats();
    assert_eq!((stats.requests, stats.in_flight), (12, 0));
    assert!(
        (1..=4).contains(&stats.max_in_flight),
        "client capped at 4, server saw {}",
        stats.max_in_flight
    );
    server.shutdown().await;
}

#[tokio::test]
async fn stats_endpoints_report_and_reset() {
    let server = start(Config::default()).await.unwrap();
    let client = crate::common::client();
    post(
        &client,
        &format!("{}/v1/chat/completions", server.url()),
        &[],
        &chat_body("abcd"),
    )
    .await;
    post(
        &client,
        &format!("{}/v1/messages", server.url()),
        &[],
        &anthropic_body("abcd"),
    )
    .await;

    let stats: Stats = client
        .get(format!("{}/stats", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats, server.stats());
    assert_eq!(stats.requests, 2);
    assert_eq!((stats.by_status["200"], stats.by_status["400"]), (1, 1));
    assert_eq!(
        (
            stats.by_path["/v1/chat/completions"],
            stats.by_path["/v1/messages"]
        ),
        (1, 1)
    );
    assert_eq!((stats.prompt_tokens, stats.completion_tokens), (4, 1));

    let reset: Stats = client
        .post(format!("{}/stats/reset", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reset, Stats::default());
    assert_eq!(server.stats(), Stats::default());
    server.shutdown().await;
}
