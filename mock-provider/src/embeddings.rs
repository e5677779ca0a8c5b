//! OpenAI Embeddings (`POST /v1/embeddings`, and Azure OpenAI's per
//! deployment) and the deterministic
//! embedding behind it: hashed bag of words, L2-normalised.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::call::Call;
use crate::errors::Failure;
use crate::limiter::Cost;
use crate::openai;
use crate::random::stable_hash;
use crate::state::{Api, ServerState};
use crate::text::estimate_tokens;

const MAX_INPUTS: usize = 2048;
const MAX_DIMENSIONS: u64 = 16_384;

/// The embedding of `text` in `dimensions` dimensions.
///
/// Each lowercased word (a run of letters and digits) adds ±1 to a bucket,
/// bucket and sign both taken from a stable hash of the word. Equal texts
/// thus get identical vectors, texts without common words nearly orthogonal
/// ones, and texts sharing most words close ones. Every vector has length 1.
pub fn embed(text: &str, dimensions: usize) -> Vec<f32> {
    let mut vector = vec![0f32; dimensions.max(1)];
    let buckets = vector.len() as u64;
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let hash = stable_hash(word.as_bytes());
        vector[((hash >> 1) % buckets) as usize] += if hash & 1 == 0 { 1.0 } else { -1.0 };
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        // No words, or words that cancelled out: any fixed unit vector keeps
        // the promise of length 1.
        vector[0] = 1.0;
    } else {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

#[derive(Deserialize)]
struct EmbeddingsRequest {
    model: Option<String>,
    input: Option<Value>,
    dimensions: Option<u64>,
    encoding_format: Option<String>,
}

/// A request that passed OpenAI's checks.
struct Valid {
    model: String,
    inputs: Vec<String>,
    dimensions: usize,
    base64: bool,
}

pub(crate) async fn create(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call::new(&state, Api::OpenAi);
    if let Err(failure) = state.check_key(openai::bearer(&headers)) {
        return call.fail(failure);
    }
    serve(call, &body, None).await
}

/// Azure OpenAI's `POST /openai/deployments/{deployment}/embeddings`: the
/// key in `api-key`, an `api-version` query parameter, and the deployment
/// standing in for a missing `model`.
pub(crate) async fn azure_create(
    State(state): State<Arc<ServerState>>,
    Path(deployment): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call::new(&state, Api::OpenAi);
    if let Err(failure) = openai::check_azure(&state, &query, &headers) {
        return call.fail(failure);
    }
    serve(call, &body, Some(deployment)).await
}

async fn serve(mut call: Call<'_>, body: &[u8], deployment: Option<String>) -> Response {
    let mut request: EmbeddingsRequest = match call.parse(body) {
        Ok(request) => request,
        Err(failure) => return call.fail(failure),
    };
    if request.model.is_none() {
        request.model = deployment;
    }
    let Valid {
        model,
        inputs,
        dimensions,
        base64,
    } = match validate(request, call.state.config.dimensions) {
        Ok(valid) => valid,
        Err(failure) => return call.fail(failure),
    };
    let prompt: u64 = inputs.iter().map(|i| estimate_tokens(i)).sum();
    if let Err(failure) = call.admit(&inputs.join("\n"), Cost::call(prompt, 0)).await {
        return call.fail(failure);
    }
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = embed(input, dimensions);
            let embedding = if base64 {
                Value::from(
                    STANDARD.encode(
                        vector
                            .iter()
                            .flat_map(|x| x.to_le_bytes())
                            .collect::<Vec<u8>>(),
                    ),
                )
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    });
    call.succeed(body, prompt, 0)
}

/// OpenAI's checks: model and input present, input a string or array of
/// 1 to 2048 non-empty strings, a sane `dimensions`, a known encoding.
fn validate(request: EmbeddingsRequest, default_dimensions: usize) -> Result<Valid, Failure> {
    let model = request
        .model
        .ok_or_else(|| Failure::invalid("you must provide a model parameter"))?;
    let invalid_input = |why: &str| {
        Failure::invalid_param(
            format!("'$.input' is invalid: {why}"),
            "input",
            "invalid_value",
        )
    };
    let inputs = match request.input {
        None => return Err(Failure::invalid_param("Missing required parameter: 'input'.", "input", "missing_required_parameter")),
        Some(Value::String(text)) => vec![text],
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Ok(text),
                _ => Err(invalid_input("expected a string or an array of strings (token arrays are not supported by mock-provider)")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(invalid_input("expected a string or an array of strings")),
    };
    if inputs.is_empty() || inputs.iter().any(String::is_empty) {
        return Err(invalid_input("inputs must be non-empty strings"));
    }
    if inputs.len() > MAX_INPUTS {
        let message = format!(
            "'$.input' is invalid: {} inputs given, at most {MAX_INPUTS} are allowed.",
            inputs.len()
        );
        return Err(Failure::invalid_param(message, "input", "invalid_value"));
    }
    let dimensions = match request.dimensions {
        None => default_dimensions,
        Some(d) if (1..=MAX_DIMENSIONS).contains(&d) => d as usize,
        Some(d) => {
            let message = format!(
                "Invalid 'dimensions': expected a value between 1 and {MAX_DIMENSIONS}, but got {d} instead."
            );
            return Err(Failure::invalid_param(
                message,
                "dimensions",
                "invalid_value",
            ));
        }
    };
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            let message = format!(
                "Invalid value for 'encoding_format': '{other}'. Supported values are: 'float' and 'base64'."
            );
            return Err(Failure::invalid_param(
                message,
                "encoding_format",
                "invalid_value",
            ));
        }
    };
    Ok(Valid {
        model,
        inputs,
        dimensions,
        base64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn same_text_same_vector() {
        let a = embed("The quick brown fox jumps over the lazy dog", 256);
        let b = embed("The quick brown fox jumps over the lazy dog", 256);
        assert_eq!(a, b);
        assert!((cosine(&a, &b) - 1.0).abs() < 1e-6);
        assert!(
            (cosine(&a, &a) - 1.0).abs() < 1e-6,
            "vectors are unit length"
        );
    }

    #[test]
    fn disjoint_words_are_nearly_orthogonal() {
        let a = embed("The quick brown fox jumps over the lazy dog", 256);
        let b = embed("Paris is the capital of France", 256);
        let c = embed("Invoices are due within thirty days", 256);
        assert!(cosine(&b, &c).abs() < 0.2, "{}", cosine(&b, &c));
        assert!(cosine(&a, &c).abs() < 0.2, "{}", cosine(&a, &c));
    }

    #[test]
    fn paraphrase_sharing_most_words_is_close() {
        let a = embed("How do I reset my password for the billing portal?", 256);
        let b = embed("how can I reset my password for the billing portal", 256);
        assert!(cosine(&a, &b) > 0.8, "{}", cosine(&a, &b));
    }

    #[test]
    fn wordless_text_still_has_unit_length() {
        let v = embed("?!", 8);
        assert!((cosine(&v, &v) - 1.0).abs() < 1e-6);
    }
}
