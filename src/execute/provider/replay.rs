//! `replay`: outputs an application already logged, read from a JSONL file
//! and keyed by case id, so a suite can score production answers without
//! calling a model again.
//!
//! Each line is `{"id": …, "output": …}` with optional `repeat` (default 0),
//! `latency_ms`, `prompt_tokens`, `completion_tokens` and `cost_usd`, which
//! are reported as the logged call measured them.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{CallError, RateLimits, Request, Response};
use crate::error::{Error, Result};
use crate::record::Usage;

/// A logged call longer than a day is a mistake in the log.
const MAX_LATENCY: Duration = Duration::from_secs(86_400);

#[derive(Debug)]
pub struct Replay {
    file: PathBuf,
    entries: HashMap<(String, u32), Response>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    id: IdValue,
    output: String,
    #[serde(default)]
    repeat: u32,
    latency_ms: Option<f64>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    cost_usd: Option<f64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IdValue {
    Text(String),
    Number(serde_json::Number),
}

impl Replay {
    /// Reads the whole replay file; a bad line is an error naming file:line,
    /// since a missing output would silently fail its case.
    pub fn load(path: &Path) -> Result<Replay> {
        let file = File::open(path).map_err(|e| {
            Error::input(format!("cannot open replay file {}: {e}", path.display()))
        })?;
        let mut entries = HashMap::new();
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let number = i as u64 + 1;
            let line = line.map_err(|e| Error::at(path, number, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line =
                serde_json::from_str(&line).map_err(|e| Error::at(path, number, e))?;
            let id = match parsed.id {
                IdValue::Text(s) => s,
                IdValue::Number(n) => n.to_string(),
            };
            let usage = match (parsed.prompt_tokens, parsed.completion_tokens) {
                (None, None) => None,
                (p, c) => {
                    let (p, c) = (p.unwrap_or(0), c.unwrap_or(0));
                    Some(Usage {
                        prompt_tokens: p,
                        completion_tokens: c,
                        total_tokens: p.saturating_add(c),
                    })
                }
            };
            let latency = match parsed.latency_ms {
                None => None,
                Some(ms) => Some(
                    Duration::try_from_secs_f64(ms / 1000.0)
                        .ok()
                        .filter(|d| *d <= MAX_LATENCY)
                        .ok_or_else(|| {
                            Error::at(
                                path,
                                number,
                                format!("latency_ms {ms} is not a number of milliseconds between 0 and a day"),
                            )
                        })?,
                ),
            };
            let response = Response {
                output: parsed.output,
                latency,
                usage,
                cost_usd: parsed.cost_usd,
                finish_reason: None,
                limits: RateLimits::default(),
            };
            if entries
                .insert((id.clone(), parsed.repeat), response)
                .is_some()
            {
                return Err(Error::at(
                    path,
                    number,
                    format!("id '{id}' (repeat {}) appears twice", parsed.repeat),
                ));
            }
        }
        Ok(Replay {
            file: path.to_path_buf(),
            entries,
        })
    }

    pub fn complete(&self, request: Request<'_>) -> std::result::Result<Response, CallError> {
        self.entries
            .get(&(request.case_id.to_string(), request.repeat))
            .cloned()
            .ok_or_else(|| {
                CallError::fatal(format!(
                    "no logged output for case '{}' (repeat {}) in {}",
                    request.case_id,
                    request.repeat,
                    self.file.display()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_no_duration_can_hold_is_an_error_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        for ms in ["1e300", "-5", "1e12"] {
            std::fs::write(
                &path,
                format!("{{\"id\": \"a\", \"output\": \"x\"}}\n{{\"id\": \"b\", \"output\": \"y\", \"latency_ms\": {ms}}}\n"),
            )
            .unwrap();
            let err = Replay::load(&path).unwrap_err();
            assert!(
                err.message().contains("log.jsonl:2: latency_ms"),
                "{ms}: {}",
                err.message()
            );
        }
        std::fs::write(
            &path,
            "{\"id\": \"a\", \"output\": \"x\", \"latency_ms\": 250}\n",
        )
        .unwrap();
        let replay = Replay::load(&path).unwrap();
        let request = Request {
            case_id: "a",
            repeat: 0,
            prompt: "",
            messages: None,
        };
        assert_eq!(
            replay.complete(request).unwrap().latency,
            Some(Duration::from_millis(250))
        );
    }
}
