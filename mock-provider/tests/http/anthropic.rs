//! Anthropic Messages over HTTP.

use mock_provider::{Config, Rule, start};
use serde_json::json;

use crate::common::{ANTHROPIC_HEADERS, anthropic_body, assert_like_fixture, post};

#[tokio::test]
async fn message_has_the_recorded_shape_and_echoes() {
    let server = start(Config::default()).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/messages", server.url());
    let body = json!({
        "model": "claude-3-5-sonnet-20240620",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "Be kind."}],
        "messages": [
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "First answer"},
            {"role": "user", "content": [{"type": "text", "text": "Hello, Claude"}]},
        ],
    });
    let answer = post(&client, &url, ANTHROPIC_HEADERS, &body).await;
    assert_like_fixture(&answer, "anthropic_message.json");
    let body = &answer.body;
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["model"], "claude-3-5-sonnet-20240620");
    assert_eq!(
        body["content"][0],
        json!({"type": "text", "text": "Hello, Claude"})
    );
    assert_eq!(body["stop_reason"], "end_turn");
    // 2 + 4 + 3 + 4 tokens of text and 3 for each of the 4 messages.
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 25, "output_tokens": 4})
    );
    let reset = answer.header("anthropic-ratelimit-requests-reset");
    assert!(reset.len() == 20 && reset.ends_with('Z'), "{reset}");
    assert!(answer.header("request-id").starts_with("req_"));
    server.shutdown().await;
}

#[tokio::test]
async fn max_tokens_and_stop_sequences_set_the_stop_reason() {
    let server = start(Config::default()).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/messages", server.url());
    let mut body = anthropic_body("alpha beta gamma delta");
    body["max_tokens"] = json!(1);
    let cut = post(&client, &url, ANTHROPIC_HEADERS, &body).await;
    assert_eq!(cut.body["content"][0]["text"], "alph");
    assert_eq!(
        (
            cut.body["stop_reason"].as_str(),
            cut.body["usage"]["output_tokens"].as_u64()
        ),
        (Some("max_tokens"), Some(1))
    );

    let mut body = anthropic_body("alpha beta gamma delta");
    body["stop_sequences"] = json!(["gamma"]);
    let stopped = post(&client, &url, ANTHROPIC_HEADERS, &body).await;
    assert_eq!(stopped.body["content"][0]["text"], "alpha beta ");
    assert_eq!(stopped.body["stop_reason"], "stop_sequence");
    assert_eq!(stopped.body["stop_sequence"], "gamma");
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_and_unauthorised_requests_get_anthropic_errors() {
    let server = start(Config {
        api_key: Some("sk-ant".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/messages", server.url());
    let key = ("x-api-key", "sk-ant");
    let version = ANTHROPIC_HEADERS[0];
    let mut no_max = anthropic_body("hi");
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let cases = [
        (
            vec![key],
            anthropic_body("hi"),
            400,
            "invalid_request_error",
        ),
        (vec![key, version], no_max, 400, "invalid_request_error"),
        (
            vec![version],
            anthropic_body("hi"),
            401,
            "authentication_error",
        ),
        (
            vec![("x-api-key", "wrong"), version],
            anthropic_body("hi"),
            401,
            "authentication_error",
        ),
    ];
    for (headers, body, status, kind) in cases {
        let answer = post(&client, &url, &headers, &body).await;
        assert_eq!(answer.status, status, "{headers:?}");
        assert_eq!(answer.body["type"], "error");
        assert_eq!(answer.body["error"]["type"], kind);
        assert!(answer.body["error"]["message"].is_string());
    }
    let ok = post(&client, &url, &[key, version], &anthropic_body("hi")).await;
    assert_eq!(ok.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn scripted_529_is_overloaded_error() {
    let rule = Rule {
        contains: "busy".into(),
        status: Some(529),
        ..Rule::default()
    };
    let server = start(Config {
        rules: vec![rule],
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/messages", server.url());
    let answer = post(
        &client,
        &url,
        ANTHROPIC_HEADERS,
        &anthropic_body("are you busy?"),
    )
    .await;
    assert_eq!(answer.status, 529);
    assert_eq!(
        answer.body["error"],
        json!({"type": "overloaded_error", "message": "Overloaded"})
    );
    server.shutdown().await;
}
