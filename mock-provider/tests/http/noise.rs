//! Wrong answers for noise-model tests: a seeded share of replies is the
//! fixed wrong text, drawn per request, so the same prompt can be answered
//! either way. The draw depends on the seed and the arrival number only,
//! so the count over a run is exact even with requests in flight together.

use futures::stream::{self, StreamExt};
use mock_provider::{Config, WRONG_REPLY, start};

use crate::common::{ANTHROPIC_HEADERS, anthropic_body, chat_body, post};

#[tokio::test]
async fn wrong_rate_answers_its_share_of_a_thousand_requests_wrongly() {
    let server = start(Config {
        wrong_rate: 0.3,
        seed: 5,
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let (client, url) = (&client, &url);
    let replies: Vec<String> = stream::iter(0..1_000)
        .map(|_| async move {
            let answer = post(client, url, &[], &chat_body("the same question")).await;
            answer.body["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let wrong = replies.iter().filter(|r| *r == WRONG_REPLY).count();
    let echoed = replies.iter().filter(|r| *r == "the same question").count();
    // 29.8% of 1,000 for a share of 0.3; every other reply is the echo.
    assert_eq!((wrong, echoed), (298, 702));
    let stats = server.stats();
    assert_eq!(
        (stats.wrong_answers, stats.answers_ok),
        (wrong as u64, 1_000)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_answers_repeat_in_arrival_order_for_a_seed() {
    async fn replies(seed: u64) -> Vec<bool> {
        let server = start(Config {
            wrong_rate: 0.5,
            seed,
            ..Config::default()
        })
        .await
        .unwrap();
        let client = crate::common::client();
        let url = format!("{}/v1/messages", server.url());
        let mut wrong = Vec::new();
        for _ in 0..20 {
            let answer = post(&client, &url, ANTHROPIC_HEADERS, &anthropic_body("hi")).await;
            wrong.push(answer.body["content"][0]["text"] == WRONG_REPLY);
        }
        server.shutdown().await;
        wrong
    }
    let first = replies(8).await;
    assert_eq!(first, replies(8).await);
    assert!(first.contains(&true) && first.contains(&false), "{first:?}");
    assert_ne!(first, replies(9).await);
}
