//! OpenAI Chat Completions, Azure OpenAI and Embeddings over HTTP.

use mock_provider::{Config, start};
use serde_json::{Value, json};

use crate::common::{assert_like_fixture, chat_body, post};

#[tokio::test]
async fn chat_completion_has_the_recorded_shape_and_echoes() {
    let server = start(Config::default()).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let body = json!({
        "model": "gpt-5.1-chat-latest",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hello there"}]},
        ],
        "temperature": 0.2,
        "seed": 1,
    });
    let answer = post(&client, &url, &[], &body).await;
    assert_like_fixture(&answer, "openai_chat_completion.json");
    let body = &answer.body;
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-5.1-chat-latest");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello there");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    // "Be brief." is 3 tokens and "Hello there" 3, plus 3 per message.
    assert_eq!(body["usage"]["prompt_tokens"], 12);
    assert_eq!(body["usage"]["completion_tokens"], 3);
    assert_eq!(body["usage"]["total_tokens"], 15);
    assert_eq!(answer.header("x-ratelimit-reset-requests"), "6ms");
    assert!(answer.header("x-request-id").starts_with("req_"));
    let stats = server.stats();
    assert_eq!((stats.prompt_tokens, stats.completion_tokens), (12, 3));
    server.shutdown().await;
}

#[tokio::test]
async fn max_tokens_cuts_the_reply_and_stop_sequences_end_it() {
    let server = start(Config {
        reply_text: Some("one two three four five six".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let mut body = chat_body("anything");
    body["max_tokens"] = json!(2);
    let cut = post(&client, &url, &[], &body).await;
    assert_eq!(cut.body["choices"][0]["message"]["content"], "one two ");
    assert_eq!(cut.body["choices"][0]["finish_reason"], "length");
    assert_eq!(cut.body["usage"]["completion_tokens"], 2);

    let mut body = chat_body("anything");
    body["max_completion_tokens"] = json!(100);
    body["stop"] = json!(["four"]);
    body["n"] = json!(2);
    let stopped = post(&client, &url, &[], &body).await;
    assert_eq!(
        stopped.body["choices"][1]["message"]["content"],
        "one two three "
    );
    assert_eq!(stopped.body["choices"][1]["finish_reason"], "stop");
    assert_eq!(stopped.body["usage"]["completion_tokens"], 8);
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_chat_requests_get_openai_errors() {
    let server = start(Config::default()).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let mut streaming = chat_body("hi");
    streaming["stream"] = json!(true);
    let cases = [
        (streaming, Some("stream")),
        (json!({"model": "m", "messages": []}), Some("messages")),
        (
            json!({"messages": [{"role": "user", "content": "hi"}]}),
            None,
        ),
        (json!({"model": "m", "messages": "not a list"}), None),
    ];
    for (body, param) in cases {
        let answer = post(&client, &url, &[], &body).await;
        assert_eq!(answer.status, 400, "{body}");
        let error = &answer.body["error"];
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"].as_str(), param);
        assert!(error["message"].is_string() && error.get("code").is_some());
    }
    let unknown = post(
        &client,
        &format!("{}/v1/nothing", server.url()),
        &[],
        &json!({}),
    )
    .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        unknown.body["error"]["message"],
        "Invalid URL (POST /v1/nothing)"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn azure_needs_api_version_and_takes_its_model_from_the_deployment() {
    let server = start(Config {
        api_key: Some("az-key".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let base = format!(
        "{}/openai/deployments/my-gpt/chat/completions",
        server.url()
    );
    let body = json!({"messages": [{"role": "user", "content": "Hi Azure"}]});
    let key = [("api-key", "az-key")];

    let missing = post(&client, &base, &key, &body).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["error"]["code"], "MissingApiVersionParameter");

    let url = format!("{base}?api-version=2024-10-21");
    let ok = post(&client, &url, &key, &body).await;
    assert_like_fixture(&ok, "openai_chat_completion.json");
    assert_eq!(ok.body["model"], "my-gpt");
    assert_eq!(ok.body["choices"][0]["message"]["content"], "Hi Azure");

    let wrong = post(&client, &url, &[("api-key", "nope")], &body).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"]["code"], "invalid_api_key");
    server.shutdown().await;
}

#[tokio::test]
async fn azure_embeddings_answer_per_deployment() {
    let server = start(Config {
        api_key: Some("az-key".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let base = format!("{}/openai/deployments/emb/embeddings", server.url());
    let body = json!({"input": ["bananas", "bananas"]});
    let key = [("api-key", "az-key")];

    let missing = post(&client, &base, &key, &body).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["error"]["code"], "MissingApiVersionParameter");

    let ok = post(
        &client,
        &format!("{base}?api-version=2024-10-21"),
        &key,
        &body,
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["model"], "emb");
    assert_eq!(
        ok.body["data"][0]["embedding"],
        ok.body["data"][1]["embedding"]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn openai_auth_errors() {
    let server = start(Config {
        api_key: Some("sk-right".into()),
        ..Config::default()
    })
    .await
    .unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/chat/completions", server.url());
    let missing = post(&client, &url, &[], &chat_body("hi")).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.body["error"]["type"], "invalid_request_error");
    assert_eq!(missing.body["error"]["code"], Value::Null);
    let wrong = post(
        &client,
        &url,
        &[("authorization", "Bearer sk-wrong")],
        &chat_body("hi"),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.body["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    let right = post(
        &client,
        &url,
        &[("authorization", "Bearer sk-right")],
        &chat_body("hi"),
    )
    .await;
    assert_eq!(right.status, 200);
    let embeddings = format!("{}/v1/embeddings", server.url());
    let denied = post(
        &client,
        &embeddings,
        &[],
        &json!({"model": "e", "input": "x"}),
    )
    .await;
    assert_eq!(denied.status, 401);
    server.shutdown().await;
}

#[tokio::test]
async fn embeddings_are_deterministic_and_shaped_like_openai() {
    let server = start(Config::default()).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/embeddings", server.url());
    let inputs = json!([
        "the cat sat on the mat",
        "the cat sat on the mat",
        "quarterly revenue grew"
    ]);
    let answer = post(
        &client,
        &url,
        &[],
        &json!({"model": "text-embedding-3-small", "input": inputs}),
    )
    .await;
    assert_eq!(answer.status, 200);
    let body = &answer.body;
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "text-embedding-3-small");
    assert_eq!(body["usage"]["prompt_tokens"], 18);
    assert_eq!(body["usage"]["total_tokens"], 18);
    let vectors: Vec<Vec<f32>> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, item)| {
            assert_eq!(
                (item["object"].as_str(), item["index"].as_u64()),
                (Some("embedding"), Some(i as u64))
            );
            serde_json::from_value(item["embedding"].clone()).unwrap()
        })
        .collect();
    assert_eq!(vectors[0].len(), 256);
    assert_eq!(vectors[0], vectors[1]);
    assert_eq!(
        vectors[0],
        mock_provider::embed("the cat sat on the mat", 256)
    );
    let cosine: f32 = vectors[0].iter().zip(&vectors[2]).map(|(a, b)| a * b).sum();
    assert!(cosine.abs() < 0.3, "{cosine}");

    let short = post(
        &client,
        &url,
        &[],
        &json!({"model": "e", "input": "one text", "dimensions": 8}),
    )
    .await;
    assert_eq!(
        short.body["data"][0]["embedding"].as_array().unwrap().len(),
        8
    );
    let encoded = post(
        &client,
        &url,
        &[],
        &json!({"model": "e", "input": "one text", "encoding_format": "base64"}),
    )
    .await;
    // 256 little-endian f32s are 1024 bytes, 1368 characters of base64.
    assert_eq!(
        encoded.body["data"][0]["embedding"].as_str().unwrap().len(),
        1368
    );
    server.shutdown().await;
}

#[tokio::test]
async fn more_than_2048_embedding_inputs_are_refused() {
    let server = start(Config::default()).await.unwrap();
    let client = crate::common::client();
    let url = format!("{}/v1/embeddings", server.url());
    let inputs: Vec<String> = (0..2049).map(|i| format!("text {i}")).collect();
    let answer = post(&client, &url, &[], &json!({"model": "e", "input": inputs})).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["error"]["type"], "invalid_request_error");
    assert_eq!(answer.body["error"]["param"], "input");
    let fits = post(
        &client,
        &url,
        &[],
        &json!({"model": "e", "input": &inputs[..2048]}),
    )
    .await;
    assert_eq!(fits.body["data"].as_array().unwrap().len(), 2048);
    server.shutdown().await;
}
