//! Assertions on the output's text: equals, contains, icontains,
//! starts-with, contains-any, contains-all and regex.

use serde_json::{Value, json};

use super::super::yaml::js_number;
use super::super::{Ctx, jsregex, template};
use super::csv::split_commas;
use super::{Assert, Spec, constant};

/// `equals`: text as text; an object or list deep-compares the parsed output.
pub(super) fn equals(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    if let Some(obj @ (Value::Object(_) | Value::Array(_))) = &a.value {
        // promptfoo parses the output as JSON and deep-compares; a JSON
        // Schema `const` does exactly that, and a non-JSON output fails.
        a.note(ctx, "object value: converted to is-json with a `const` schema (same pass/fail: output parsed as JSON, deep equality)");
        return Some(Spec::new("is-json", a.negate).value(json!({ "const": obj })));
    }
    let s = text_value(ctx, a)?;
    let t = a.template(ctx, &s)?;
    Some(Spec::new("equals", a.negate).value(Value::String(t)))
}

/// `contains`, `icontains` and `starts-with`: one text, kept as it is.
pub(super) fn one_text(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let s = text_value(ctx, a)?;
    let t = a.template(ctx, &s)?;
    Some(Spec::new(&a.base, a.negate).value(Value::String(t)))
}

/// The value as the text promptfoo compares (a number as JavaScript prints
/// it). promptfoo raises an error on an empty text, except for `equals`,
/// and on a number for `starts-with`.
fn text_value(ctx: &mut Ctx, a: &Assert) -> Option<String> {
    match &a.value {
        Some(Value::String(s)) if !s.is_empty() || a.base == "equals" => Some(s.clone()),
        Some(Value::Number(n)) if a.base != "starts-with" => {
            Some(js_number(n.as_f64().unwrap_or(f64::NAN)))
        }
        Some(Value::Bool(b)) if a.base == "equals" => Some(b.to_string()),
        _ => a.skip(
            ctx,
            "needs a non-empty text or number value (promptfoo raises an error otherwise)",
        ),
    }
}

/// `contains-any`, `contains-all` and their `icontains-` forms: a list, or
/// a comma-separated text.
pub(super) fn any_or_all(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let items = list_items(ctx, a)?;
    if items.is_empty() {
        // `[].some(…)` is false and `[].every(…)` is true in JavaScript.
        let passes = a.base.ends_with("-all") != a.negate;
        return constant(ctx, a, passes, "an empty list");
    }
    let mut rendered = Vec::new();
    for s in items {
        rendered.push(Value::String(a.template(ctx, &s)?));
    }
    Some(Spec::new(&a.base, a.negate).value(Value::Array(rendered)))
}

/// The texts of a contains-any/contains-all value, before templates.
fn list_items(ctx: &mut Ctx, a: &Assert) -> Option<Vec<String>> {
    match &a.value {
        Some(Value::Array(items)) => {
            let mut v = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => v.push(s.clone()),
                    Value::Number(n) => v.push(js_number(n.as_f64().unwrap_or(f64::NAN))),
                    // promptfoo compares String(item).
                    Value::Bool(b) => v.push(b.to_string()),
                    Value::Null => v.push("null".into()),
                    _ => return a.skip(ctx, "list items must be texts, numbers or true/false"),
                }
            }
            Some(v)
        }
        Some(Value::String(s)) if template::is_template(s) => a.skip(ctx, "a templated string value is split on commas by promptfoo after rendering; ai-evals does not split (core: split string values of contains-any/contains-all)"),
        Some(Value::String(s)) => match split_commas(s) {
            Ok(v) => Some(v),
            Err(why) => a.skip(ctx, &why),
        },
        _ => a.skip(ctx, "needs a list value"),
    }
}

/// `regex`: the JavaScript pattern translated to Rust syntax.
pub(super) fn regex(ctx: &mut Ctx, a: &Assert) -> Option<Spec> {
    let s = match &a.value {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return a.skip(ctx, "needs a non-empty string pattern"),
    };
    let translated = match translate_regex(&s) {
        Ok(t) => t,
        Err(why) => return a.skip(ctx, &format!("JavaScript pattern {s:?}: {why}")),
    };
    let t = a.template(ctx, &translated)?;
    if template::is_template(&s) {
        a.warn(ctx, "the pattern is completed by variables at run time: their text is read as Rust regex syntax, not JavaScript");
    }
    Some(Spec::new("regex", a.negate).value(Value::String(t)))
}

fn translate_regex(s: &str) -> Result<String, String> {
    // Template parts (`{{ … }}`) are kept; only the pattern around them is translated.
    if !template::is_template(s) {
        return jsregex::translate(s);
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find("{{") {
        out.push_str(&jsregex::translate(&rest[..p])?);
        let end = rest[p..].find("}}").ok_or("an unclosed {{")? + p + 2;
        out.push_str(&rest[p..end]);
        rest = &rest[end..];
    }
    out.push_str(&jsregex::translate(rest)?);
    Ok(out)
}
