//! One API call from arrival to answer: the gates every parsed request
//! passes in order (scripted rules, rate limits, random errors, latency),
//! whether chaos mode spoils the answer, and the headers every answer
//! carries, in the dialect of the API called.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::chaos::{self, Kind};
use crate::config::TokenAccounting;
use crate::errors::{self, Failure};
use crate::headers::{self, put};
use crate::limiter::{Cost, Scale, Snapshot};
use crate::served;
use crate::state::{Api, ServerState};

pub(crate) struct Call<'a> {
    pub(crate) state: &'a ServerState,
    api: Api,
    started: Instant,
    quota: Option<Snapshot>,
    status: StatusCode,
    rule_headers: Option<&'a BTreeMap<String, String>>,
    /// The call's number in order of arrival, for per-request draws.
    pub(crate) arrival: u64,
}

impl<'a> Call<'a> {
    pub(crate) fn new(state: &'a ServerState, api: Api) -> Self {
        Self {
            state,
            api,
            started: Instant::now(),
            quota: None,
            status: StatusCode::OK,
            rule_headers: None,
            arrival: state.arrive(),
        }
    }

    /// Parses a JSON body, reporting syntax and shape errors as a 400.
    pub(crate) fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, Failure> {
        serde_json::from_slice(body).map_err(|e| match (e.is_syntax() || e.is_eof(), self.api) {
            (true, Api::OpenAi) => Failure::invalid(format!(
                "We could not parse the JSON body of your request: {e}"
            )),
            (true, Api::Anthropic) => Failure::invalid(format!(
                "There was an error parsing the body of your request: {e}"
            )),
            (false, _) => Failure::invalid(format!("Invalid request body: {e}")),
        })
    }

    /// Which figures the rate-limit headers show, in either dialect.
    fn scale(&self) -> Scale {
        if self.state.config.headers_window {
            Scale::Window
        } else {
            Scale::Minute
        }
    }

    /// Runs the gates for a request whose messages read `text` and that
    /// costs `cost` against the limits. On success, returns the reply a
    /// matching rule scripted, if any.
    ///
    /// Rules come first so a script overrides everything; a scripted error
    /// is not charged to the limits. Rate-limit 429s answer at once, as the
    /// real services reject at their edge; everything else waits the latency.
    pub(crate) async fn admit(
        &mut self,
        text: &str,
        cost: Cost,
    ) -> Result<Option<String>, Failure> {
        let state = self.state;
        let rule = state.matching_rule(text);
        if let Some(rule) = rule {
            self.rule_headers = Some(&rule.headers);
            let status = rule.status.and_then(|s| StatusCode::from_u16(s).ok());
            if let Some(status) = status.filter(|s| s.as_u16() >= 400) {
                self.quota = Some(state.limiter.peek(Instant::now(), self.scale()));
                state.delay().await;
                return Err(Failure::Status {
                    status,
                    message: rule.reply.clone(),
                });
            }
            self.status = status.unwrap_or(StatusCode::OK);
        }
        let usage = state.config.token_accounting == TokenAccounting::Usage;
        let admitted = if usage {
            state
                .limiter
                .admit_prompt(cost, Instant::now(), self.scale())
        } else {
            state.limiter.admit(cost, Instant::now(), self.scale())
        };
        match admitted {
            Ok(snapshot) => {
                self.quota = Some(snapshot);
                if !usage {
                    state.stats.charged(cost.tokens());
                }
            }
            Err(denied) => {
                state.stats.rate_limited();
                self.quota = Some(denied.snapshot);
                return Err(Failure::RateLimited(denied));
            }
        }
        let failed = state.random_failure(self.api);
        state.delay().await;
        match failed {
            Some(status) => Err(Failure::Status {
                status,
                message: None,
            }),
            None => Ok(rule.and_then(|r| r.reply.clone())),
        }
    }

    pub(crate) fn fail(self, failure: Failure) -> Response {
        let (status, body) = match self.api {
            Api::OpenAi => errors::openai_body(&failure),
            Api::Anthropic => errors::anthropic_body(&failure),
        };
        let mut response = (status, Json(body)).into_response();
        if let Failure::RateLimited(denied) = &failure {
            let with_ms = self.api == Api::OpenAi;
            headers::retry_after(with_ms, denied.retry_after, response.headers_mut());
        }
        self.decorate(response)
    }

    /// A well-formed answer; its tokens count now, the answer itself once
    /// its body has been handed over (see [`crate::served`]).
    pub(crate) fn succeed(
        mut self,
        body: Value,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> Response {
        self.settle(prompt_tokens, completion_tokens);
        self.respond(body, prompt_tokens, completion_tokens)
    }

    /// A server counting usage counts the answer's tokens now that it is
    /// done, and its headers show them.
    fn settle(&mut self, prompt_tokens: u64, completion_tokens: u64) {
        let state = self.state;
        if state.config.token_accounting != TokenAccounting::Usage {
            return;
        }
        let scale = self.scale();
        let snapshot =
            state
                .limiter
                .settle(prompt_tokens, completion_tokens, Instant::now(), scale);
        state.stats.charged(prompt_tokens + completion_tokens);
        self.quota = Some(snapshot);
    }

    fn respond(self, body: Value, prompt_tokens: u64, completion_tokens: u64) -> Response {
        self.state.stats.tokens(prompt_tokens, completion_tokens);
        let stats = Arc::clone(&self.state.stats);
        let response = served::json(self.status, &body, stats);
        self.decorate(response)
    }

    /// A chat answer, which chaos mode may turn hostile unless a rule
    /// scripted it.
    pub(crate) fn succeed_chat(
        mut self,
        body: Value,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) -> Response {
        self.settle(prompt_tokens, completion_tokens);
        let config = &self.state.config;
        let chaos = chaos::draw(config.seed, config.chaos, self.arrival)
            .filter(|_| self.rule_headers.is_none());
        let Some(chaos) = chaos else {
            return self.respond(body, prompt_tokens, completion_tokens);
        };
        self.state.stats.chaos(chaos.kind.name());
        let api = self.api;
        let response = chaos::response(chaos, api, body);
        match chaos.kind {
            // A gateway's page carries none of the API's headers.
            Kind::HtmlError => response,
            Kind::HugeHeaders => {
                let mut response = self.decorate(response);
                chaos::spoil_headers(api, response.headers_mut());
                response
            }
            _ => self.decorate(response),
        }
    }

    /// Adds the headers every answer of the API carries, then a rule's.
    fn decorate(self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        match self.api {
            Api::OpenAi => {
                put(
                    headers,
                    "openai-processing-ms",
                    self.started.elapsed().as_millis(),
                );
                put(headers, "openai-version", "2020-10-01");
                put(headers, "x-request-id", self.state.id("req_", 32, true));
                if let Some(quota) = &self.quota {
                    headers::openai_quota(quota, headers);
                }
            }
            Api::Anthropic => {
                put(headers, "request-id", self.state.id("req_01", 22, false));
                if let Some(quota) = &self.quota {
                    headers::anthropic_quota(quota, headers);
                }
            }
        }
        for (name, value) in self.rule_headers.into_iter().flatten() {
            put(headers, name, value);
        }
        response
    }
}
