//! `echo`: answers with the rendered prompt. It checks a suite's plumbing
//! (templates, datasets, assertions, the database) with no model and no key.

use super::{RateLimits, Request, Response};

#[derive(Debug)]
pub struct Echo;

impl Echo {
    pub fn complete(&self, request: Request<'_>) -> Response {
        // A conversation is echoed by its last message, the user's turn.
        let output = match request.messages.and_then(|m| m.last()) {
            Some(last) => last.content.clone(),
            None => request.prompt.to_string(),
        };
        Response {
            output,
            // No model answered: a copy's microseconds are not a latency,
            // and a comparison must not read their noise as a regression.
            latency: None,
            usage: None,
            cost_usd: None,
            finish_reason: None,
            limits: RateLimits::default(),
        }
    }
}
