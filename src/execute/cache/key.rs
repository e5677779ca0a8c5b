//! Cache keys: a blake3 hash of a canonical, versioned description of a
//! request.
//!
//! Canonical means object keys sorted and no whitespace, so two requests
//! that mean the same thing (whatever order their JSON was built in) share
//! an entry, and any change of provider, URL, model, parameter, message or
//! repeat index makes a new one. API keys travel in headers, which are never
//! part of the description.

use std::fmt;

use serde_json::Value;

/// Bumped when the description or the entry format changes, so old entries
/// are simply never found again.
pub const FORMAT: u32 = 1;

/// A 256-bit content address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 32]);

impl Key {
    pub fn hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    #[cfg(test)]
    pub fn from_hex(hex: &str) -> Option<Key> {
        blake3::Hash::from_hex(hex).ok().map(|h| Key(*h.as_bytes()))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", &self.hex()[..16])
    }
}

/// The key of any JSON description.
pub fn of(description: &Value) -> Key {
    let mut text = String::new();
    canonical(description, &mut text);
    Key(*blake3::hash(text.as_bytes()).as_bytes())
}

/// The key of a provider request: the API, the endpoint, the exact body
/// (model, messages, every sampling parameter) and the repeat index.
pub fn response(api: &str, url: &str, body: &Value, repeat: u32) -> Key {
    of(&serde_json::json!({
        "format": FORMAT,
        "kind": "response",
        "api": api,
        "url": url,
        "body": body,
        "repeat": repeat,
    }))
}

/// The key of one text's embedding.
pub fn embedding(api: &str, url: &str, model: &str, dimensions: Option<u32>, text: &str) -> Key {
    of(&serde_json::json!({
        "format": FORMAT,
        "kind": "embedding",
        "api": api,
        "url": url,
        "model": model,
        "dimensions": dimensions,
        "text": text,
    }))
}

/// Writes `value` with sorted object keys and no whitespace.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Random JSON values, objects nested a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-zA-Z0-9 ✓é\"\\\\]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Writes `value` as JSON text with object keys in a shuffled order and
    /// whitespace sprinkled between tokens.
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn scrambled(value: &Value, seed: &mut u64, out: &mut String) {
        let space = |n: u64| [" ", "\n", "  ", "\t", ""][(n % 5) as usize];
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                for i in (1..entries.len()).rev() {
                    entries.swap(i, (next(seed) % (i as u64 + 1)) as usize);
                }
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(space(next(seed)));
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push_str(space(next(seed)));
                    out.push(':');
                    out.push_str(space(next(seed)));
                    scrambled(v, seed, out);
                }
                out.push_str(space(next(seed)));
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        out.push_str(space(next(seed)));
                    }
                    scrambled(item, seed, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }

    proptest! {
        #[test]
        fn key_order_and_whitespace_do_not_matter(value in json_value(), seed in 1u64..u64::MAX) {
            let mut text = String::new();
            let mut s = seed;
            scrambled(&value, &mut s, &mut text);
            let reparsed: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(of(&value), of(&reparsed));
        }

        #[test]
        fn any_change_of_the_request_changes_the_key(
            model in "[a-z0-9.-]{1,12}",
            other_model in "[a-z0-9.-]{1,12}",
            temperature in 0u32..20,
            message in ".{0,40}",
            other_message in ".{0,40}",
            repeat in 0u32..5,
        ) {
            let body = |model: &str, t: u32, m: &str| json!({
                "model": model,
                "temperature": f64::from(t) / 10.0,
                "messages": [{"role": "user", "content": m}],
            });
            let base = response("openai", "u", &body(&model, temperature, &message), repeat);
            prop_assert_eq!(base, response("openai", "u", &body(&model, temperature, &message), repeat));
            if other_model != model {
                prop_assert_ne!(base, response("openai", "u", &body(&other_model, temperature, &message), repeat));
            }
            if other_message != message {
                prop_assert_ne!(base, response("openai", "u", &body(&model, temperature, &other_message), repeat));
            }
            prop_assert_ne!(base, response("openai", "u", &body(&model, temperature + 1, &message), repeat));
            prop_assert_ne!(base, response("openai", "u", &body(&model, temperature, &message), repeat + 1));
            prop_assert_ne!(base, response("anthropic", "u", &body(&model, temperature, &message), repeat));
            prop_assert_ne!(base, response("openai", "v", &body(&model, temperature, &message), repeat));
        }
    }

    #[test]
    fn a_new_parameter_changes_the_key_and_hex_round_trips() {
        let a = response("openai", "u", &json!({"model": "m"}), 0);
        let b = response("openai", "u", &json!({"model": "m", "seed": 1}), 0);
        assert_ne!(a, b);
        assert_eq!(Key::from_hex(&a.hex()), Some(a));
        assert_eq!(a.hex().len(), 64);
    }
}
