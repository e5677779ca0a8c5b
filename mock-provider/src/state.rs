//! The state one server shares between requests, and the decisions that
//! depend on it: auth, scripted rules, the reply text, seeded randomness
//! and ids.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;

use crate::config::{Config, Rule, WRONG_REPLY};
use crate::errors::Failure;
use crate::limiter::{Clock, Limiter};
use crate::random::{SplitMix64, mix};
use crate::stats::StatsCollector;

/// The API family a request was made to; it decides the error bodies,
/// the auth header and the rate-limit headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    OpenAi,
    Anthropic,
}

/// Salts the seed, so wrong-answer draws are independent of other seeded
/// choices.
const WRONG_SALT: u64 = 0x5752_4F4E_4700_0000;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789abcdef";

#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) config: Config,
    pub(crate) stats: Arc<StatsCollector>,
    pub(crate) limiter: Limiter,
    rule_uses: Vec<AtomicU64>,
    // Separate streams, so turning random errors on does not change the
    // latency sequence of a seed.
    latency_rng: Mutex<SplitMix64>,
    error_rng: Mutex<SplitMix64>,
    ids: AtomicU64,
    arrivals: AtomicU64,
}

impl ServerState {
    pub(crate) fn new(config: Config) -> Self {
        let seed = config.seed;
        let wall = config.start_time.unwrap_or_else(SystemTime::now);
        Self {
            stats: Arc::default(),
            limiter: Limiter::new(&config, Clock::new(Instant::now(), wall)),
            rule_uses: config.rules.iter().map(|_| AtomicU64::new(0)).collect(),
            latency_rng: Mutex::new(SplitMix64::new(mix(seed ^ 0x4C41_5445_4E43_5900))),
            error_rng: Mutex::new(SplitMix64::new(mix(seed ^ 0x4552_524F_5253_0000))),
            ids: AtomicU64::new(0),
            arrivals: AtomicU64::new(0),
            config,
        }
    }

    /// Numbers API calls in order of arrival, from 0, for the draws that
    /// must not depend on the order calls finish in.
    pub(crate) fn arrive(&self) -> u64 {
        self.arrivals.fetch_add(1, Ordering::Relaxed)
    }

    /// Passes when no key is configured or `presented` is that key.
    pub(crate) fn check_key(&self, presented: Option<&str>) -> Result<(), Failure> {
        match self.config.api_key.as_deref() {
            Some(expected) if presented != Some(expected) => Err(Failure::Unauthorized {
                key_given: presented.is_some(),
            }),
            _ => Ok(()),
        }
    }

    /// The first rule whose text matches and that has uses left; taking a
    /// use is atomic, so `times: 1` answers exactly one request under concurrency.
    pub(crate) fn matching_rule(&self, text: &str) -> Option<&Rule> {
        self.config
            .rules
            .iter()
            .zip(&self.rule_uses)
            .find_map(|(rule, uses)| {
                if !text.contains(&rule.contains) {
                    return None;
                }
                let take = |used: u64| {
                    rule.times
                        .is_none_or(|times| used < times)
                        .then_some(used + 1)
                };
                uses.fetch_update(Ordering::SeqCst, Ordering::SeqCst, take)
                    .ok()
                    .map(|_| rule)
            })
    }

    /// Waits the configured latency plus seeded jitter.
    pub(crate) async fn delay(&self) {
        let jitter = if self.config.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.config
                .jitter
                .mul_f64(lock(&self.latency_rng).next_f64())
        };
        let wait = self.config.latency + jitter;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// A server error for `error_rate` of the calls: 500 for OpenAI; for
    /// Anthropic, which also sheds load with 529, one or the other.
    pub(crate) fn random_failure(&self, api: Api) -> Option<StatusCode> {
        if self.config.error_rate <= 0.0 {
            return None;
        }
        let mut rng = lock(&self.error_rng);
        if rng.next_f64() >= self.config.error_rate {
            return None;
        }
        let overloaded = StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        Some(match api {
            Api::Anthropic if rng.next_u64() & 1 == 0 => overloaded,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        })
    }

    /// `prefix` followed by `len` random characters: base62, or hex for
    /// OpenAI's request ids. Seeded, so ids repeat from run to run.
    pub(crate) fn id(&self, prefix: &str, len: usize, hex: bool) -> String {
        let alphabet = if hex { HEX } else { BASE62 };
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let mut rng = SplitMix64::new(mix(self.config.seed) ^ n);
        let chars = (0..len)
            .map(|_| char::from(alphabet[(rng.next_u64() % alphabet.len() as u64) as usize]));
        prefix.chars().chain(chars).collect()
    }

    /// The reply before any cutting: a rule's; else, for a `wrong_rate`
    /// share of calls drawn by arrival number, [`WRONG_REPLY`]; else the
    /// fixed one; else the echo.
    pub(crate) fn reply_text(
        &self,
        scripted: Option<String>,
        echo: String,
        arrival: u64,
    ) -> String {
        if let Some(scripted) = scripted {
            return scripted;
        }
        let rate = self.config.wrong_rate;
        if rate > 0.0
            && SplitMix64::for_index(self.config.seed, WRONG_SALT, arrival).next_f64() < rate
        {
            self.stats.wrong_answer();
            return WRONG_REPLY.to_owned();
        }
        self.config.reply_text.clone().unwrap_or(echo)
    }
}

fn lock(rng: &Mutex<SplitMix64>) -> std::sync::MutexGuard<'_, SplitMix64> {
    rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_with_times_fall_through() {
        let rule = |contains: &str, times, reply: &str| Rule {
            contains: contains.into(),
            times,
            reply: Some(reply.into()),
            ..Rule::default()
        };
        let state = ServerState::new(Config {
            rules: vec![
                rule("boom", Some(2), "scripted"),
                rule("", None, "fallback"),
            ],
            ..Config::default()
        });
        let replies: Vec<_> = (0..3)
            .map(|_| {
                state
                    .matching_rule("a boom")
                    .and_then(|r| r.reply.as_deref())
            })
            .collect();
        assert_eq!(
            replies,
            [Some("scripted"), Some("scripted"), Some("fallback")]
        );
        assert_eq!(
            state.matching_rule("calm").and_then(|r| r.reply.as_deref()),
            Some("fallback")
        );
    }

    #[test]
    fn auth_checks_only_when_configured() {
        assert!(ServerState::new(Config::default()).check_key(None).is_ok());
        let state = ServerState::new(Config {
            api_key: Some("k".into()),
            ..Config::default()
        });
        assert!(state.check_key(Some("k")).is_ok());
        assert!(matches!(
            state.check_key(Some("x")),
            Err(Failure::Unauthorized { key_given: true })
        ));
        assert!(matches!(
            state.check_key(None),
            Err(Failure::Unauthorized { key_given: false })
        ));
    }

    #[test]
    fn a_rule_beats_a_wrong_reply_which_beats_the_fixed_one() {
        let state = ServerState::new(Config {
            wrong_rate: 1.0,
            reply_text: Some("fixed".into()),
            ..Config::default()
        });
        assert_eq!(
            state.reply_text(Some("rule".into()), "echo".into(), 0),
            "rule"
        );
        assert_eq!(state.reply_text(None, "echo".into(), 1), WRONG_REPLY);
        assert_eq!(state.stats.snapshot().wrong_answers, 1);
        let state = ServerState::new(Config {
            wrong_rate: 0.5,
            seed: 9,
            ..Config::default()
        });
        let replies: Vec<String> = (0..40)
            .map(|n| state.reply_text(None, "echo".into(), n))
            .collect();
        let again: Vec<String> = (0..40)
            .rev()
            .map(|n| state.reply_text(None, "echo".into(), n))
            .rev()
            .collect();
        assert_eq!(
            replies, again,
            "a draw depends on the arrival number, not on the order of calls"
        );
        assert!(replies.iter().any(|r| r == "echo") && replies.iter().any(|r| r == WRONG_REPLY));
    }

    #[test]
    fn ids_are_seeded() {
        let a = ServerState::new(Config {
            seed: 3,
            ..Config::default()
        });
        let b = ServerState::new(Config {
            seed: 3,
            ..Config::default()
        });
        assert_eq!(a.id("chatcmpl-", 29, false), b.id("chatcmpl-", 29, false));
        assert_eq!(a.id("req_", 32, true).len(), 36);
    }
}
