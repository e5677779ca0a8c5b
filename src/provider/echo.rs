//! `echo`: answers with the rendered prompt. It checks a suite's plumbing
//! (templates, datasets, assertions, the database) with no model and no key.

use std::time::Instant;

use super::{RateLimits, Request, Response};

#[derive(Debug)]
pub struct Echo;

impl Echo {
    pub fn complete(&self, request: Request<'_>) -> Response {
        let started = Instant::now();
        let output = request.prompt.to_string();
        Response {
            output,
            latency: Some(started.elapsed()),
            usage: None,
            cost_usd: None,
            finish_reason: None,
            limits: RateLimits::default(),
        }
    }
}
