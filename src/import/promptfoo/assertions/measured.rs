//! Assertions that measure the output or the call: is-json, levenshtein,
//! word-count, latency and cost.

use serde_json::{Value, json};

use super::super::yaml::{self, Kind};
use super::super::{Ctx, template};
use super::{Assert, Origin, Spec};

/// `is-json`, with an optional schema (an object, or YAML/JSON text of one).
pub(super) fn is_json(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let spec = Spec::new("is-json", a.negate);
    match &a.value {
        None | Some(Value::Bool(true)) => Some(spec),
        Some(schema @ Value::Object(_)) => Some(spec.with("value", schema.clone())),
        Some(Value::String(s)) if template::is_template(s) => a.skip(ctx, "a templated schema string is rendered and YAML-parsed per test by promptfoo; not converted"),
        Some(Value::String(s)) => match yaml::parse(s) {
            Ok(node) if matches!(node.kind, Kind::Map(_)) => Some(spec.with("value", node.to_json())),
            Ok(node) if node.is_null() => Some(spec),
            _ => a.skip(
                ctx,
                "the schema string does not parse (as YAML/JSON) into an object",
            ),
        },
        Some(_) => a.skip(ctx, "the schema must be an object"),
    }
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
    if t < 0.0 || !t.is_finite() {
        return a.skip(ctx, "a negative threshold never passes in promptfoo");
    }
    let value = a.template(ctx, &s)?;
    if a.negate {
        a.note(ctx, "promptfoo ignores `not-` on levenshtein (its handler never reads it); converted as levenshtein to agree");
    }
    // Distances are whole numbers, so `d <= t` is `d <= floor(t)`.
    Some(
        Spec::new("levenshtein", false)
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
    if a.negate {
        a.note(ctx, "promptfoo ignores `not-` on latency (its handler never reads it); converted as latency to agree");
    }
    Some(Spec::new("latency", false).with("threshold", json!(t)))
}

/// `cost`: the call cost at most `threshold` USD.
pub(super) fn cost(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let Some(t) = a.threshold else {
        return a.skip(ctx, "no threshold: promptfoo records the cost as a named metric only; ai-evals has no metric-only assertion");
    };
    Some(Spec::new("cost", a.negate).with("threshold", json!(t)))
}
