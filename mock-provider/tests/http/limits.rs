//! Each rate-limit enforcement over HTTP: what it admits, and the headers
//! in each API's dialect. Windows are long (30 s, a pinned wall-clock
//! minute, a day) so nothing refills while a test runs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mock_provider::{Config, Enforcement, TokenAccounting, start};

use crate::common::{
    ANTHROPIC_HEADERS, Answer, anthropic_body, anthropic_limits, chat_body, go_duration,
    openai_limits, post,
};

/// 2023-11-14T22:13:20Z: twenty seconds into a minute.
fn pinned() -> Option<SystemTime> {
    Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
}

async fn chat_n(config: Config, n: usize) -> Vec<Answer> {
    let server = start(config).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let mut answers = Vec::new();
    for i in 0..n {
        answers.push(post(&client, &url, &[], &chat_body(&format!("request {i}"))).await);
    }
    server.shutdown().await;
    answers
}

async fn messages_n(config: Config, n: usize) -> Vec<Answer> {
    let server = start(config).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/messages", server.url());
    let mut answers = Vec::new();
    for _ in 0..n {
        answers.push(
            post(
                &client,
                &url,
                ANTHROPIC_HEADERS,
                &anthropic_body("hi there"),
            )
            .await,
        );
    }
    server.shutdown().await;
    answers
}

fn statuses(answers: &[Answer]) -> Vec<u16> {
    answers.iter().map(|a| a.status).collect()
}

/// `retry-after` in whole seconds and `retry-after-ms` agreeing with it.
fn openai_retry_after(answer: &Answer) -> u64 {
    let secs: u64 = answer.header("retry-after").parse().unwrap();
    let ms: u64 = answer.header("retry-after-ms").parse().unwrap();
    assert_eq!(ms.div_ceil(1000), secs);
    secs
}

#[tokio::test]
async fn token_bucket_headers_describe_the_minute_or_the_bucket() {
    let config = Config {
        rpm: Some(3_000),
        ..Config::default()
    };
    let minute = chat_n(config.clone(), 1).await;
    assert_eq!(minute[0].header("x-ratelimit-reset-requests"), "20ms");
    assert_eq!(
        openai_limits(&minute[0])[0],
        (3_000, 49, Duration::from_millis(20))
    );
    let window = chat_n(
        Config {
            headers_window: true,
            ..config.clone()
        },
        1,
    )
    .await;
    assert_eq!(
        openai_limits(&window[0])[0],
        (50, 49, Duration::from_millis(20))
    );
    let anthropic = messages_n(config, 1).await;
    let [requests, ..] = anthropic_limits(&anthropic[0]);
    assert_eq!((requests.0, requests.1), (3_000, 49));
}

/// 6 a minute in a 30-second window is 3 in any 30 seconds; the headers
/// say 3 at window scale and 6 at minute scale, and the 429's message the
/// confusing truth: "Used 3" of a limit of 6.
#[tokio::test]
async fn sliding_window_admits_its_share_and_reports_either_scale() {
    let config = Config {
        rpm: Some(6),
        enforcement: Enforcement::SlidingWindow { secs: 30 },
        ..Config::default()
    };
    let window = chat_n(
        Config {
            headers_window: true,
            ..config.clone()
        },
        4,
    )
    .await;
    assert_eq!(statuses(&window), [200, 200, 200, 429]);
    for (i, answer) in window.iter().take(3).enumerate() {
        let (limit, remaining, reset) = openai_limits(answer)[0];
        assert_eq!((limit, remaining), (3, 2 - i as u64));
        assert!(
            reset <= Duration::from_secs(30) && reset > Duration::from_secs(20),
            "{reset:?}"
        );
    }
    let limited = &window[3];
    assert!((1..=30).contains(&openai_retry_after(limited)));
    let message = limited.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("on requests per min (RPM): Limit 6, Used 3, Requested 1."),
        "{message}"
    );

    let minute = chat_n(config.clone(), 3).await;
    let (limit, remaining, reset) = openai_limits(&minute[2])[0];
    assert_eq!((limit, remaining), (6, 3));
    assert!(
        reset <= Duration::from_secs(60) && reset > Duration::from_secs(50),
        "{reset:?}"
    );

    let anthropic = messages_n(config, 4).await;
    assert_eq!(statuses(&anthropic), [200, 200, 200, 429]);
    let [requests, ..] = anthropic_limits(&anthropic[0]);
    assert_eq!((requests.0, requests.1), (6, 5));
}

/// With the clock pinned 20 s into a minute, the budget comes back at the
/// next minute, 2023-11-14T22:14:00Z, whatever the test's speed.
#[tokio::test]
async fn fixed_window_resets_at_the_wall_clock_minute() {
    let config = Config {
        rpm: Some(2),
        enforcement: Enforcement::FixedWindow,
        start_time: pinned(),
        ..Config::default()
    };
    let openai = chat_n(config, 3).await;
    assert_eq!(statuses(&openai), [200, 200, 429]);
    let (limit, remaining, reset) = openai_limits(&openai[0])[0];
    assert_eq!((limit, remaining), (2, 1));
    assert!(
        reset <= Duration::from_secs(40) && reset > Duration::from_secs(30),
        "{reset:?}"
    );
    assert!((31..=40).contains(&openai_retry_after(&openai[2])));

    let config = Config {
        itpm: Some(10),
        otpm: Some(200),
        enforcement: Enforcement::FixedWindow,
        start_time: pinned(),
        ..Config::default()
    };
    let anthropic = messages_n(config, 3).await;
    assert_eq!(statuses(&anthropic), [200, 200, 429]);
    let boundary = "2023-11-14T22:14:00Z".parse().unwrap();
    // "hi there" is 5 input tokens; max_tokens 100 the output charged.
    let [_, tokens, input, output] = anthropic_limits(&anthropic[0]);
    assert_eq!(input, (10, 5, boundary));
    assert_eq!(output, (200, 100, boundary));
    assert_eq!(tokens, input, "tokens are the tighter of input and output");
    let [_, _, input, output] = anthropic_limits(&anthropic[1]);
    assert_eq!((input.1, output.1), (0, 0));
    let limited = &anthropic[2];
    assert_eq!(limited.body["error"]["type"], "rate_limit_error");
    assert_eq!(
        limited.body["error"]["message"],
        "This request would exceed your organization's rate limit of 10 input tokens per minute. Please try again later."
    );
    let retry_after: u64 = limited.header("retry-after").parse().unwrap();
    assert!((31..=40).contains(&retry_after), "{retry_after}");
    assert!(!limited.headers.contains_key("retry-after-ms"));
}

/// Groq's style: the requests trio is the day's, the tokens trio the
/// minute's, and the 429 names requests per day.
#[tokio::test]
async fn daily_reports_the_day_for_requests_and_the_minute_for_tokens() {
    let config = Config {
        rpd: Some(3),
        tpm: Some(6_000),
        enforcement: Enforcement::Daily,
        ..Config::default()
    };
    let answers = chat_n(config.clone(), 4).await;
    assert_eq!(statuses(&answers), [200, 200, 200, 429]);
    let [requests, tokens] = openai_limits(&answers[0]);
    // One request of three a day comes back in 8 hours.
    assert_eq!((requests.0, requests.1), (3, 2));
    assert!(requests.2.abs_diff(Duration::from_secs(28_800)) < Duration::from_secs(1));
    assert_eq!(tokens.0, 6_000);
    assert!(tokens.1 < 6_000 && tokens.2 < Duration::from_secs(1));

    let limited = &answers[3];
    let message = limited.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("on requests per day (RPD): Limit 3, Used 3, Requested 1."),
        "{message}"
    );
    let [requests, _] = openai_limits(limited);
    assert_eq!((requests.0, requests.1), (3, 0));
    assert!(requests.2 > Duration::from_secs(86_000), "{:?}", requests.2);
    assert!((28_000..=28_800).contains(&openai_retry_after(limited)));

    let anthropic = messages_n(config, 1).await;
    let [requests, ..] = anthropic_limits(&anthropic[0]);
    assert_eq!((requests.0, requests.1), (3, 2));
}

#[test]
fn go_durations_parse() {
    let ms = Duration::from_millis;
    assert_eq!(go_duration("1m26.4s"), Some(ms(86_400)));
    assert_eq!(go_duration("2m59.56s"), Some(ms(179_560)));
    assert_eq!(go_duration("12ms"), Some(ms(12)));
    assert_eq!(go_duration("6m0s"), Some(ms(360_000)));
    assert_eq!(go_duration("2h0m0s"), Some(ms(7_200_000)));
    assert_eq!(go_duration("12"), None);
    assert_eq!(go_duration("abc"), None);
}

/// Usage accounting: a request is charged its prompt and completion when
/// its answer is done, and the answer's own headers show them; counting
/// `max_tokens`, the same request is charged its prompt and 16 (or its
/// `max_tokens`) at admission. A 30-second window keeps refills out.
#[tokio::test]
async fn tokens_are_counted_as_used_or_as_reserved() {
    let config = Config {
        tpm: Some(6_000),
        enforcement: Enforcement::SlidingWindow { secs: 30 },
        headers_window: true,
        ..Config::default()
    };
    let usage = Config {
        token_accounting: TokenAccounting::Usage,
        ..config.clone()
    };
    // "request 0": 3 + 3 prompt tokens, an echo of 3.
    let remaining = |answers: &[Answer]| -> Vec<u64> {
        answers.iter().map(|a| openai_limits(a)[1].1).collect()
    };
    assert_eq!(remaining(&chat_n(usage.clone(), 2).await), [2_991, 2_982]);
    assert_eq!(remaining(&chat_n(config.clone(), 2).await), [2_978, 2_956]);
    // Anthropic's output tokens the same way: "hi there" is 2 of 100.
    let otpm = |accounting| Config {
        tpm: None,
        otpm: Some(6_000),
        token_accounting: accounting,
        ..config.clone()
    };
    let output = |answers: &[Answer]| anthropic_limits(&answers[0])[3].1;
    assert_eq!(
        output(&messages_n(otpm(TokenAccounting::Usage), 1).await),
        2_998
    );
    assert_eq!(
        output(&messages_n(otpm(TokenAccounting::MaxTokens), 1).await),
        2_900
    );
}

/// Counting usage, a request is let in while its prompt fits, whatever its
/// `max_tokens`; the answers may take the limit past its figure, and the
/// headers say 0 remaining until it has room again.
#[tokio::test]
async fn counting_usage_admits_while_the_prompt_fits() {
    let server = start(Config {
        tpm: Some(24),
        enforcement: Enforcement::SlidingWindow { secs: 30 },
        headers_window: true,
        token_accounting: TokenAccounting::Usage,
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let body = |text: &str| {
        let mut body = chat_body(text);
        body["max_tokens"] = 1_000.into();
        body
    };
    // 12 tokens a window: a prompt of 5 + 3 fits; with its echo of 5 the
    // answer takes the window to 13.
    let first = post(&client, &url, &[], &body("abcdefghijklmnopqrst")).await;
    assert_eq!((first.status, openai_limits(&first)[1].1), (200, 0));
    let second = post(&client, &url, &[], &body("x")).await;
    assert_eq!(second.status, 429);
    let stats = server.stats();
    assert_eq!((stats.charged_tokens, stats.rate_limited), (13, 1));
    server.shutdown().await;
}
