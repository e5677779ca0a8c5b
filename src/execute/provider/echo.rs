//! `echo`: answers with the rendered prompt. It checks a suite's plumbing
//! (templates, datasets, assertions, the database) with no model and no key.

use super::{RateLimits, Request, Response};

#[derive(Debug)]
pub struct Echo;

impl Echo {
    pub fn complete(&self, request: Request<'_>) -> Response {
        Response {
            output: request.prompt.to_string(),
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
