//! The checks an HTTP provider's settings pass while the config is read,
//! before anything runs: keys its API does not have, values out of range,
//! and the rate-limit tiers the `tier` key names.

use std::collections::BTreeMap;
use std::time::Duration;

use super::providers::{HttpKind, HttpSpec, ProviderSpec, ResponseFormat};
use super::suite::MAX_CONCURRENCY;
use crate::units::parse_size;

/// A provider tier's published limits, which `tier = "…"` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub name: &'static str,
    /// Requests per minute.
    pub rpm: u32,
    /// Tokens per minute.
    pub tpm: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// The tiers `tier` may name.
pub const TIERS: [Tier; 4] = [
    Tier {
        name: "openai-tier1",
        rpm: 500,
        tpm: 30_000,
        concurrency: 8,
    },
    Tier {
        name: "openai-tier2",
        rpm: 5_000,
        tpm: 450_000,
        concurrency: 25,
    },
    Tier {
        name: "anthropic-tier1",
        rpm: 50,
        tpm: 40_000,
        concurrency: 4,
    },
    Tier {
        name: "anthropic-tier2",
        rpm: 1_000,
        tpm: 100_000,
        concurrency: 12,
    },
];

impl Tier {
    /// The tier called `name`.
    pub fn named(name: &str) -> Option<Tier> {
        TIERS.into_iter().find(|t| t.name == name)
    }
}

/// Seconds a call may take when `timeout-secs` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// A call that takes longer than an hour is a mistake in the config.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The largest answer read when `max-response-size` is not set: far above
/// any model's reply, small enough that a misbehaving server cannot
/// exhaust memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// The largest `max-response-size`: an answer is held in memory whole.
const MAX_RESPONSE_BYTES: u64 = 1 << 30;
/// Retries after the first attempt when `max-retries` is not set.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// Retries past this many only keep a dead provider's cases waiting.
pub const MAX_RETRIES: u32 = 100;

/// A setting refused: the key under `providers.NAME` and why.
type Refusal = (&'static str, String);

impl HttpSpec {
    /// The call timeout, `timeout-secs` or the default (checked by
    /// [`check`] when the config was read).
    pub fn timeout(&self) -> Duration {
        self.timeout_secs
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// The largest answer body read, `max-response-size` or the default.
    pub fn max_response_bytes(&self) -> u64 {
        self.max_response_size
            .as_deref()
            .and_then(|text| parse_size(text).ok())
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES)
    }
}

/// Checks every HTTP provider's settings; the error names the key
/// (`providers.NAME.KEY`).
pub(super) fn check_all(
    providers: &BTreeMap<String, ProviderSpec>,
) -> Result<(), (String, String)> {
    for (name, spec) in providers {
        if let Some((kind, http)) = spec.http_kind() {
            check(kind, http).map_err(|(key, m)| (format!("providers.{name}.{key}"), m))?;
        }
    }
    Ok(())
}

/// Refuses settings the API does not have and values out of range.
fn check(kind: HttpKind, spec: &HttpSpec) -> Result<(), Refusal> {
    check_keys(kind, spec)?;
    check_sampling(spec)?;
    check_limits(spec)
}

/// Keys only some APIs have.
fn check_keys(kind: HttpKind, spec: &HttpSpec) -> Result<(), Refusal> {
    if kind != HttpKind::AzureOpenai {
        for (key, set) in [
            ("endpoint", spec.endpoint.is_some()),
            ("deployment", spec.deployment.is_some()),
            ("api-version", spec.api_version.is_some()),
        ] {
            if set {
                return Err((key, "applies to azure-openai only".into()));
            }
        }
    }
    if kind == HttpKind::Anthropic {
        if spec.seed.is_some() {
            return Err(("seed", "Anthropic's Messages API has no seed".into()));
        }
        if spec.response_format == Some(ResponseFormat::Json) {
            return Err((
                "response-format",
                "Anthropic's Messages API has no JSON mode; ask for JSON in the prompt".into(),
            ));
        }
    }
    Ok(())
}

/// What is sent with every call.
fn check_sampling(spec: &HttpSpec) -> Result<(), Refusal> {
    if let Some(t) = spec.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(("temperature", format!("{t} is not between 0 and 2")));
    }
    if let Some(p) = spec.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(("top-p", format!("{p} is not in (0, 1]")));
    }
    if spec.max_tokens == Some(0) {
        return Err(("max-tokens", "must be at least 1".into()));
    }
    Ok(())
}

/// Rate limits, retries, timeouts and sizes.
fn check_limits(spec: &HttpSpec) -> Result<(), Refusal> {
    if let Some(tier) = &spec.tier
        && Tier::named(tier).is_none()
    {
        let known: Vec<&str> = TIERS.iter().map(|t| t.name).collect();
        return Err((
            "tier",
            format!("unknown tier '{tier}'; known: {}", known.join(", ")),
        ));
    }
    for (key, value) in [("rpm", spec.rpm), ("tpm", spec.tpm)] {
        if value == Some(0) {
            return Err((key, "must be at least 1".into()));
        }
    }
    if let Some(n) = spec.concurrency
        && !(1..=MAX_CONCURRENCY).contains(&n)
    {
        return Err((
            "concurrency",
            format!("{n} is not between 1 and {MAX_CONCURRENCY}"),
        ));
    }
    if let Some(n) = spec.max_retries
        && n > MAX_RETRIES
    {
        return Err((
            "max-retries",
            format!("{n} is more than the largest, {MAX_RETRIES}"),
        ));
    }
    if let Some(s) = spec.timeout_secs {
        let fits = Duration::try_from_secs_f64(s).is_ok_and(|d| !d.is_zero() && d <= MAX_TIMEOUT);
        if !fits {
            return Err((
                "timeout-secs",
                format!(
                    "{s} is not a number of seconds between 0 and {}",
                    MAX_TIMEOUT.as_secs()
                ),
            ));
        }
    }
    if let Some(text) = &spec.max_response_size
        && !parse_size(text).is_ok_and(|n| (1..=MAX_RESPONSE_BYTES).contains(&n))
    {
        return Err((
            "max-response-size",
            format!("'{text}' is not a size from 1 byte to 1GiB, like 16MiB or 64MB"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error the check gives for one provider `p` of `kind`.
    fn refused(kind: HttpKind, spec: HttpSpec) -> String {
        let providers = BTreeMap::from([("p".to_string(), ProviderSpec::http(kind, spec))]);
        let (key, message) = check_all(&providers).unwrap_err();
        format!("{key}: {message}")
    }

    fn spec(model: &str) -> HttpSpec {
        HttpSpec {
            model: Some(model.into()),
            ..HttpSpec::default()
        }
    }

    #[test]
    fn settings_errors_name_the_key() {
        assert_eq!(
            refused(
                HttpKind::Anthropic,
                HttpSpec {
                    seed: Some(1),
                    ..spec("claude")
                }
            ),
            "providers.p.seed: Anthropic's Messages API has no seed"
        );
        assert_eq!(
            refused(
                HttpKind::Openai,
                HttpSpec {
                    temperature: Some(3.0),
                    ..spec("m")
                }
            ),
            "providers.p.temperature: 3 is not between 0 and 2"
        );
        assert_eq!(
            refused(
                HttpKind::Openai,
                HttpSpec {
                    tier: Some("gold".into()),
                    ..spec("m")
                }
            ),
            "providers.p.tier: unknown tier 'gold'; known: openai-tier1, openai-tier2, anthropic-tier1, anthropic-tier2"
        );
        assert_eq!(
            refused(
                HttpKind::Openai,
                HttpSpec {
                    timeout_secs: Some(0.0),
                    ..spec("m")
                }
            ),
            "providers.p.timeout-secs: 0 is not a number of seconds between 0 and 3600"
        );
    }

    #[test]
    fn defaults_apply_when_a_setting_is_absent() {
        let s = spec("m");
        assert_eq!(s.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(s.max_response_bytes(), DEFAULT_MAX_RESPONSE_BYTES);
        assert_eq!(Tier::named("openai-tier1").map(|t| t.rpm), Some(500));
    }
}
