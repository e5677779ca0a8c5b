//! What a call cost: token usage times a per-model price.
//!
//! The built-in table holds list prices (USD per million tokens) for the
//! common OpenAI and Anthropic models; a suite overrides or extends it with a
//! `[prices]` table, and a provider with its own `price`. Model names match
//! by longest prefix, so dated snapshots (`gpt-4o-mini-2024-07-18`,
//! `claude-3-5-haiku-20241022`) find their family's price.

use std::collections::BTreeMap;

use crate::config::Price;

/// List prices, USD per million tokens (input, output).
const BUILT_IN: &[(&str, f64, f64)] = &[
    ("gpt-5", 1.25, 10.0),
    ("gpt-5-mini", 0.25, 2.0),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-4.1", 2.0, 8.0),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4o", 2.50, 10.0),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4-turbo", 10.0, 30.0),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o1", 15.0, 60.0),
    ("o1-mini", 1.10, 4.40),
    ("o3", 2.0, 8.0),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("text-embedding-3-small", 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.0),
    ("text-embedding-ada-002", 0.10, 0.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-3-5-haiku", 0.80, 4.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-opus", 15.0, 75.0),
    ("claude-3-haiku", 0.25, 1.25),
];

/// The price table a run uses: built-in prices, then the suite's overrides.
#[derive(Debug, Clone)]
pub struct Prices {
    table: BTreeMap<String, Price>,
}

impl Prices {
    pub fn new(overrides: &BTreeMap<String, Price>) -> Prices {
        let mut table: BTreeMap<String, Price> = BUILT_IN
            .iter()
            .map(|&(model, input, output)| (model.to_string(), Price { input, output }))
            .collect();
        table.extend(overrides.iter().map(|(k, v)| (k.clone(), *v)));
        Prices { table }
    }

    /// The price of `model`: an exact entry, else the longest entry that is a
    /// prefix of it at a `-` boundary (so `gpt-4o` does not price `gpt-4o-mini`).
    pub fn lookup(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.table.get(model) {
            return Some(*price);
        }
        self.table
            .iter()
            .filter(|(name, _)| {
                model.len() > name.len()
                    && model.starts_with(name.as_str())
                    && model.as_bytes()[name.len()] == b'-'
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, price)| *price)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Usage;

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
        }
    }

    #[test]
    fn dated_snapshots_use_their_family_price() {
        let prices = Prices::new(&BTreeMap::new());
        assert_eq!(
            prices.lookup("gpt-4o-mini-2024-07-18"),
            Some(Price {
                input: 0.15,
                output: 0.60
            })
        );
        assert_eq!(
            prices.lookup("gpt-4o-2024-08-06"),
            Some(Price {
                input: 2.50,
                output: 10.0
            })
        );
        assert_eq!(
            prices.lookup("claude-3-5-haiku-20241022"),
            Some(Price {
                input: 0.80,
                output: 4.0
            })
        );
        assert_eq!(prices.lookup("llama3.1:8b"), None);
        assert_eq!(prices.lookup("gpt-4oz"), None);
    }

    #[test]
    fn overrides_win_and_add_models() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "gpt-4o-mini".to_string(),
            Price {
                input: 1.0,
                output: 2.0,
            },
        );
        overrides.insert(
            "llama3.1".to_string(),
            Price {
                input: 0.0,
                output: 0.0,
            },
        );
        let prices = Prices::new(&overrides);
        assert_eq!(prices.lookup("gpt-4o-mini").unwrap().input, 1.0);
        assert_eq!(prices.lookup("llama3.1-8b").unwrap().output, 0.0);
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let price = Price {
            input: 0.15,
            output: 0.60,
        };
        let cost = price.cost(&usage(1000, 500));
        assert!((cost - 0.00045).abs() < 1e-12, "{cost}");
    }
}
