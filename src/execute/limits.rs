//! A lane's limits: the provider's tier, its own keys and the command
//! line, applied in that order.

use crate::config::{DEFAULT_MAX_RETRIES, HttpSpec, MAX_CONCURRENCY, Tier};
use crate::error::{Error, Result};

/// A lane's limits after presets, config and command line are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub concurrency: usize,
    /// Retries after the first attempt.
    pub max_retries: u32,
}

/// Command-line overrides, applied to every remote provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub concurrency: Option<usize>,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
}

impl Limits {
    /// Limits for an HTTP provider: its tier preset, then its own keys, then
    /// the command line; concurrency falls back to the suite's.
    pub fn for_http(
        name: &str,
        spec: &HttpSpec,
        suite_concurrency: usize,
        cli: Overrides,
    ) -> Result<Limits> {
        // The config checked the tier's name when it was read.
        let preset = spec.tier.as_deref().and_then(Tier::named);
        let positive = |key: &str, value: Option<u32>| match value {
            Some(0) => Err(Error::input(format!(
                "providers.{name}.{key}: must be at least 1"
            ))),
            v => Ok(v),
        };
        let rpm = positive("rpm", cli.rpm.or(spec.rpm).or(preset.map(|p| p.rpm)))?;
        let tpm = positive("tpm", cli.tpm.or(spec.tpm).or(preset.map(|p| p.tpm)))?;
        let concurrency = cli
            .concurrency
            .or(spec.concurrency)
            .or(preset.map(|p| p.concurrency))
            .unwrap_or(suite_concurrency);
        if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
            return Err(Error::input(format!(
                "providers.{name}.concurrency: {concurrency} is not between 1 and {MAX_CONCURRENCY}"
            )));
        }
        let max_retries = spec.max_retries.unwrap_or(DEFAULT_MAX_RETRIES);
        Ok(Limits {
            rpm,
            tpm,
            concurrency,
            max_retries,
        })
    }

    /// Limits for an offline provider: only the concurrency applies.
    pub fn offline(concurrency: usize) -> Limits {
        Limits {
            rpm: None,
            tpm: None,
            concurrency,
            max_retries: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_overrides() {
        let spec = HttpSpec {
            tier: Some("openai-tier1".into()),
            tpm: Some(10_000),
            ..HttpSpec::default()
        };
        let limits = Limits::for_http("gpt", &spec, 8, Overrides::default()).unwrap();
        assert_eq!(
            limits,
            Limits {
                rpm: Some(500),
                tpm: Some(10_000),
                concurrency: 8,
                max_retries: 5
            }
        );
        let cli = Overrides {
            concurrency: Some(3),
            rpm: Some(60),
            tpm: None,
        };
        let limits = Limits::for_http("gpt", &spec, 8, cli).unwrap();
        assert_eq!(
            (limits.rpm, limits.tpm, limits.concurrency),
            (Some(60), Some(10_000), 3)
        );
        let anthropic = HttpSpec {
            tier: Some("anthropic-tier1".into()),
            ..HttpSpec::default()
        };
        let limits = Limits::for_http("c", &anthropic, 8, Overrides::default()).unwrap();
        assert_eq!(
            (limits.rpm, limits.tpm, limits.concurrency),
            (Some(50), Some(40_000), 4)
        );
    }
}
