//! Assertions that measure the output or the call: is-json, levenshtein,
//! word-count, latency and cost.

use serde_json::{Value, json};

use super::super::yaml::{self, Kind};
use super::super::{Ctx, template};
use super::{Assert, Origin, Spec, constant};

/// The JSON Schema draft promptfoo's validator (Ajv) uses; ai-evals' would
/// otherwise take 2020-12, which reads some keywords (`items` as a list,
/// `format`) differently.
const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// `is-json`, with an optional schema (an object, or YAML/JSON text of one).
pub(super) fn is_json(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let spec = Spec::new("is-json", a.negate);
    let schema = match &a.value {
        // promptfoo checks a schema only when the value is truthy.
        None | Some(Value::Bool(false)) => return Some(spec),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => return Some(spec),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(Value::String(s)) if template::is_template(s) => return a.skip(ctx, "a templated schema string is rendered and YAML-parsed per test by promptfoo; not converted"),
        Some(Value::String(s)) => match yaml::parse(s) {
            Ok(node) if matches!(node.kind, Kind::Map(_)) => node.to_json(),
            Ok(node) if node.is_null() => return Some(spec),
            _ => {
                return a.skip(
                    ctx,
                    "the schema string does not parse (as YAML/JSON) into an object",
                );
            }
        },
        Some(_) => return a.skip(ctx, "the schema must be an object (promptfoo raises an error on JSON output otherwise)"),
    };
    Some(spec.with("value", with_draft(schema)))
}

/// The schema with `$schema` set to draft-07 unless it names its own draft.
fn with_draft(mut schema: Value) -> Value {
    if let Value::Object(m) = &mut schema
        && !m.contains_key("$schema")
    {
        m.insert("$schema".into(), json!(DRAFT_07));
    }
    schema
}

/// `levenshtein`: at most `threshold` edits (promptfoo's default 5, or 0.75
/// from a CSV string).
pub(super) fn levenshtein(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let s = match &a.value {
        Some(Value::String(s)) => s.clone(),
        _ => return a.skip(ctx, "needs a string value"),
    };
    let default = if a.origin == Origin::Csv { 0.75 } else { 5.0 };
    let t = a.threshold.unwrap_or(default);
    if t < 0.0 || t.is_nan() {
        return constant(ctx, a, a.negate, "a negative threshold");
    }
    let value = a.template(ctx, &s)?;
    // Distances are whole numbers, so `d <= t` is `d <= floor(t)`.
    Some(
        Spec::new("levenshtein", a.negate)
            .with("value", Value::String(value))
            .with("threshold", json!(t.floor() as i64)),
    )
}

/// `word-count`: an exact count or `{ min, max }`.
pub(super) fn word_count(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let value = match &a.value {
        Some(Value::Number(n)) if n.as_u64().is_some() => Value::Number(n.clone()),
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => {
            json!(s.trim().parse::<u64>().unwrap())
        }
        Some(Value::Object(m)) if m.keys().all(|k| k == "min" || k == "max") && !m.is_empty() => {
            Value::Object(m.clone())
        }
        _ => return a.skip(ctx, "needs a whole number or { min, max }"),
    };
    Some(Spec::new("word-count", a.negate).with("value", value))
}

/// `latency`: the call took at most `threshold` milliseconds.
pub(super) fn latency(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let Some(t) = a.threshold else {
        return a.skip(
            ctx,
            "needs a threshold (promptfoo raises an error without one)",
        );
    };
    Some(Spec::new("latency", a.negate).with("threshold", json!(t)))
}

/// `cost`: the call cost at most `threshold` USD.
pub(super) fn cost(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let Some(t) = a.threshold else {
        return a.skip(
            ctx,
            "needs a threshold (promptfoo raises an error without one)",
        );
    };
    Some(Spec::new("cost", a.negate).with("threshold", json!(t)))
}
