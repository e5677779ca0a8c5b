//! Assertions that measure the output or the call: is-json,
//! contains-json, levenshtein, word-count, latency and cost.

use serde_json::{Value, json};

use super::super::yaml::{self, Kind};
use super::super::{Ctx, template};
use super::{Assert, Origin, Spec, constant};

/// The JSON Schema draft promptfoo's validator (Ajv) uses; ai-evals' would
/// otherwise take 2020-12, which reads some keywords (`items` as a list,
/// `format`) differently.
const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// `is-json` and `contains-json`, with an optional schema (an object, or
/// YAML/JSON text of one).
pub(super) fn json(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let spec = Spec::new(&a.base, a.negate);
    if a.base == "contains-json" {
        a.warn(ctx, "promptfoo also counts YAML-style objects ({a: 1}) and objects with // comments, which ai-evals reads as no JSON");
    }
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
    Some(spec.value(with_draft(schema)))
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
    a.warn(ctx, "promptfoo counts UTF-16 code units, ai-evals characters: where the output or the value has characters outside the Basic Multilingual Plane (emoji, …), the distances differ");
    // Distances are whole numbers, so `d <= t` is `d <= floor(t)`.
    Some(
        Spec::new("levenshtein", a.negate)
            .value(Value::String(value))
            .threshold(t.floor()),
    )
}

/// `word-count`: an exact count or `{ min, max }` (other keys are ignored,
/// as promptfoo ignores them).
pub(super) fn word_count(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let value = match &a.value {
        Some(Value::Object(m)) => word_range(m.get("min"), m.get("max")),
        Some(Value::Number(n)) => n.as_f64().and_then(whole_count),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().and_then(whole_count),
        _ => None,
    };
    match value {
        Some(v) => {
            a.warn(ctx, "promptfoo splits words on JavaScript's white space, ai-evals on Unicode's: an output with U+FEFF or U+0085 between words counts differently");
            Some(Spec::new("word-count", a.negate).value(v))
        }
        None => a.skip(
            ctx,
            "needs a whole number or { min, max } with min at most max",
        ),
    }
}

fn whole_count(f: f64) -> Option<Value> {
    (f >= 0.0 && f.fract() == 0.0 && f < 1e15).then(|| json!(f as u64))
}

/// Word counts are whole, so `count >= 1.5` is `count >= 2` and
/// `count <= 3.5` is `count <= 3`; a bound below 0 bounds nothing.
fn word_range(min: Option<&Value>, max: Option<&Value>) -> Option<Value> {
    let bound = |v: Option<&Value>| -> Option<Option<f64>> {
        match v {
            None => Some(None),
            Some(v) => v.as_f64().filter(|f| f.is_finite()).map(Some),
        }
    };
    let (min, max) = (bound(min)?, bound(max)?);
    if min.is_none() && max.is_none() || max.is_some_and(|b| b < 0.0) {
        return None;
    }
    let min = min.map(|a| a.ceil().max(0.0) as u64);
    let max = max.map(|b| b.floor() as u64);
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        return None;
    }
    let mut range = serde_json::Map::new();
    if let Some(a) = min {
        range.insert("min".into(), json!(a));
    }
    if let Some(b) = max {
        range.insert("max".into(), json!(b));
    }
    Some(Value::Object(range))
}

/// `latency` (the call took at most `threshold` milliseconds) and `cost` (it
/// cost at most `threshold` USD): the type carries over with its threshold.
pub(super) fn required_threshold(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let Some(t) = a.threshold else {
        return a.skip(
            ctx,
            "needs a threshold (promptfoo raises an error without one)",
        );
    };
    Some(Spec::new(&a.base, a.negate).threshold(t))
}
