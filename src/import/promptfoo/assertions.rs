//! promptfoo assertions → ai-evals assertions.
//!
//! Each supported type is mapped so that the ai-evals assertion passes exactly
//! when promptfoo's does (see the table in the crate's report). Where the
//! ai-evals core behaves differently in a way the converter can work around,
//! the value is rewritten (an object `equals` becomes `is-json` with a
//! `const` schema; a comma-separated `contains-any` string becomes a list; a
//! JavaScript regex is translated; promptfoo's default thresholds are written
//! out). Everything else is skipped with the reason.

use serde_json::{Map, Value, json};

use super::yaml::{Kind, Node, js_number};
use super::{Ctx, Place, jsregex, template};

/// Where an assertion came from: CSV `__expected` strings get different
/// defaults (similar 0.8, other threshold types 0.75) from YAML (similar 0.75,
/// levenshtein 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Yaml,
    Csv,
}

/// Which graded kinds an assertion list uses (for default graders).
#[derive(Debug, Default, Clone, Copy)]
pub struct Graded {
    pub judge: bool,
    pub embeddings: bool,
}

/// promptfoo's base assertion types, in schema order (used to parse CSV
/// `__expected` strings, which match `^(not-)?(type)(\(threshold\))?(:value)?$`).
pub const BASE_TYPES: &[&str] = &[
    "answer-relevance",
    "bleu",
    "classifier",
    "contains",
    "contains-all",
    "contains-any",
    "contains-html",
    "contains-json",
    "contains-sql",
    "contains-xml",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "cost",
    "equals",
    "factuality",
    "finish-reason",
    "g-eval",
    "gleu",
    "guardrails",
    "icontains",
    "icontains-all",
    "icontains-any",
    "is-html",
    "is-json",
    "is-refusal",
    "is-sql",
    "is-valid-function-call",
    "is-valid-openai-function-call",
    "is-valid-openai-tools-call",
    "is-xml",
    "javascript",
    "latency",
    "levenshtein",
    "llm-rubric",
    "meteor",
    "model-graded-closedqa",
    "model-graded-factuality",
    "moderation",
    "perplexity",
    "perplexity-score",
    "pi",
    "python",
    "regex",
    "rouge-n",
    "ruby",
    "search-rubric",
    "similar",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    "starts-with",
    "tool-call-f1",
    "trace-error-spans",
    "trace-span-count",
    "trace-span-duration",
    "webhook",
    "word-count",
];

/// Types that take a threshold from a CSV string (`type(0.9):value`).
const CSV_THRESHOLD_TYPES: &[&str] = &[
    "answer-relevance",
    "classifier",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "cost",
    "latency",
    "levenshtein",
    "perplexity-score",
    "perplexity",
    "rouge-n",
    "similar",
    "starts-with",
];

/// Why promptfoo assertion types without an ai-evals counterpart are skipped.
fn unsupported_reason(base: &str) -> &'static str {
    match base {
        "javascript" | "python" | "ruby" => "runs user code; ai-evals has no script assertions",
        "webhook" => "calls a webhook; ai-evals has no webhook assertion",
        "icontains-any" | "icontains-all" => {
            "ai-evals has no case-insensitive contains-any/contains-all (core: add them)"
        }
        "assert-set" => "assertion groups with their own threshold have no ai-evals counterpart",
        "select-best" | "max-score" => {
            "compares outputs across prompts/providers; no ai-evals counterpart"
        }
        "similar:dot" | "similar:euclidean" => "ai-evals' similar uses cosine similarity only",
        "model-graded-closedqa"
        | "model-graded-factuality"
        | "factuality"
        | "g-eval"
        | "answer-relevance"
        | "context-faithfulness"
        | "context-recall"
        | "context-relevance"
        | "conversation-relevance"
        | "search-rubric"
        | "pi" => {
            "a model-graded metric with its own prompt; ai-evals has only llm-judge and similar"
        }
        "moderation" | "classifier" | "guardrails" | "is-refusal" => {
            "needs a moderation/classifier service or provider metadata ai-evals does not have"
        }
        "perplexity" | "perplexity-score" => {
            "needs token log-probabilities, which ai-evals does not record"
        }
        "finish-reason"
        | "is-valid-function-call"
        | "is-valid-openai-function-call"
        | "is-valid-openai-tools-call"
        | "tool-call-f1"
        | "trace-error-spans"
        | "trace-span-count"
        | "trace-span-duration" => {
            "needs provider metadata, tool calls or traces ai-evals does not record"
        }
        _ => "no ai-evals assertion type does this",
    }
}

/// A converted assertion (an ai-evals `AssertionSpec` as JSON) or nothing
/// (skipped, with the reason recorded in `ctx`).
pub fn convert(
    ctx: &mut Ctx,
    node: &Node,
    place: &Place,
    origin: Origin,
    test_grader: Option<&str>,
    graded: &mut Graded,
) -> Option<Value> {
    let Some(entries) = node.entries() else {
        ctx.skip(place.clone(), "assertion", "is not a mapping with a `type`");
        return None;
    };
    let Some(kind) = node.get("type").and_then(Node::as_str) else {
        ctx.skip(place.clone(), "assertion", "has no `type`");
        return None;
    };
    let kind = kind.to_string();
    let what = format!("assertion `{kind}`");
    let (negate, base) = match kind.strip_prefix("not-") {
        Some(b) => (true, b.to_string()),
        None => (false, kind.clone()),
    };
    // Keys that change what is checked: the assertion cannot be kept without them.
    for (key, _) in entries {
        match key.as_str() {
            "type" | "value" | "threshold" | "weight" | "metric" | "provider" => {}
            "transform" | "contextTransform" => {
                ctx.skip(place.clone(), &what, &format!("`{key}` runs JavaScript on the output first; ai-evals has no output transforms"));
                return None;
            }
            "fallback" => {
                ctx.skip(
                    place.clone(),
                    &what,
                    "`fallback` chains have no ai-evals counterpart",
                );
                return None;
            }
            "normalizeUnicode" => {
                ctx.skip(
                    place.clone(),
                    &what,
                    "`normalizeUnicode` (NFC/NFKC before comparing) has no ai-evals counterpart",
                );
                return None;
            }
            "config" | "evidence" => {
                ctx.skip(
                    place.clone(),
                    &what,
                    &format!("`{key}` has no ai-evals counterpart"),
                );
                return None;
            }
            other => {
                ctx.note(
                    place.clone(),
                    &what,
                    &format!("key `{other}` ignored (promptfoo does not use it for this type)"),
                );
            }
        }
    }
    let mut out = Map::new();
    let value = node.get("value").filter(|v| !v.is_null());
    let threshold = node.get("threshold").and_then(Node::as_f64);
    // file:// values load the file (text; JSON/YAML parsed), as processFileReference does.
    let value_json: Option<Value> = match value {
        Some(v) => match v.as_str() {
            Some(s) if s.starts_with("file://") => match ctx.load_value_file(&s["file://".len()..])
            {
                Ok(v) => Some(v),
                Err(why) => {
                    ctx.skip(place.clone(), &what, &why);
                    return None;
                }
            },
            _ => Some(v.to_json()),
        },
        None => None,
    };

    let text_value = |ctx: &mut Ctx, v: &Option<Value>| -> Option<String> {
        match v {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(js_number(n.as_f64().unwrap_or(f64::NAN))),
            Some(Value::Bool(b)) if base == "equals" => Some(b.to_string()),
            _ => {
                ctx.skip(
                    place.clone(),
                    &what,
                    "needs a non-empty text or number value (promptfoo raises an error otherwise)",
                );
                None
            }
        }
    };

    let ai_type: String;
    match base.as_str() {
        "equals" => match &value_json {
            Some(obj @ (Value::Object(_) | Value::Array(_))) => {
                // promptfoo parses the output as JSON and deep-compares; a JSON
                // Schema `const` does exactly that, and a non-JSON output fails.
                ai_type = "is-json".into();
                out.insert("value".into(), json!({ "const": obj }));
                ctx.note(place.clone(), &what, "object value: converted to is-json with a `const` schema (same pass/fail: output parsed as JSON, deep equality)");
            }
            other => {
                let s = text_value(ctx, other)?;
                ai_type = "equals".into();
                out.insert(
                    "value".into(),
                    Value::String(ctx.template(&s, place, &what)?),
                );
            }
        },
        "contains" | "icontains" | "starts-with" => {
            let s = text_value(ctx, &value_json)?;
            ai_type = base.clone();
            out.insert(
                "value".into(),
                Value::String(ctx.template(&s, place, &what)?),
            );
        }
        "contains-any" | "contains-all" => {
            let items: Vec<String> = match &value_json {
                Some(Value::Array(items)) => {
                    let mut v = Vec::new();
                    for item in items {
                        match item {
                            Value::String(s) => v.push(s.clone()),
                            Value::Number(n) => v.push(js_number(n.as_f64().unwrap_or(f64::NAN))),
                            _ => {
                                ctx.skip(
                                    place.clone(),
                                    &what,
                                    "list items must be texts or numbers",
                                );
                                return None;
                            }
                        }
                    }
                    v
                }
                Some(Value::String(s)) if template::is_template(s) => {
                    ctx.skip(place.clone(), &what, "a templated string value is split on commas by promptfoo after rendering; ai-evals does not split (core: split string values of contains-any/contains-all)");
                    return None;
                }
                Some(Value::String(s)) => match split_commas(s) {
                    Ok(v) => v,
                    Err(why) => {
                        ctx.skip(place.clone(), &what, &why);
                        return None;
                    }
                },
                _ => {
                    ctx.skip(place.clone(), &what, "needs a list value");
                    return None;
                }
            };
            if items.is_empty() {
                ctx.skip(
                    place.clone(),
                    &what,
                    "an empty list: promptfoo raises an error",
                );
                return None;
            }
            let mut rendered = Vec::new();
            for s in items {
                rendered.push(Value::String(ctx.template(&s, place, &what)?));
            }
            ai_type = base.clone();
            out.insert("value".into(), Value::Array(rendered));
        }
        "regex" => {
            let s = match &value_json {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => {
                    ctx.skip(place.clone(), &what, "needs a non-empty string pattern");
                    return None;
                }
            };
            let translated = match translate_regex(&s) {
                Ok(t) => t,
                Err(why) => {
                    ctx.skip(
                        place.clone(),
                        &what,
                        &format!("JavaScript pattern {s:?}: {why}"),
                    );
                    return None;
                }
            };
            ai_type = "regex".into();
            out.insert(
                "value".into(),
                Value::String(ctx.template(&translated, place, &what)?),
            );
        }
        "is-json" => {
            ai_type = "is-json".into();
            match &value_json {
                None => {}
                Some(schema @ Value::Object(_)) => {
                    out.insert("value".into(), schema.clone());
                }
                Some(Value::String(s)) if template::is_template(s) => {
                    ctx.skip(place.clone(), &what, "a templated schema string is rendered and YAML-parsed per test by promptfoo; not converted");
                    return None;
                }
                Some(Value::String(s)) => match super::yaml::parse(s) {
                    Ok(node) if matches!(node.kind, Kind::Map(_)) => {
                        out.insert("value".into(), node.to_json());
                    }
                    Ok(node) if node.is_null() => {}
                    _ => {
                        ctx.skip(
                            place.clone(),
                            &what,
                            "the schema string does not parse (as YAML/JSON) into an object",
                        );
                        return None;
                    }
                },
                Some(Value::Bool(true)) => {}
                Some(_) => {
                    ctx.skip(place.clone(), &what, "the schema must be an object");
                    return None;
                }
            }
        }
        "levenshtein" => {
            let s = match &value_json {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    ctx.skip(place.clone(), &what, "needs a string value");
                    return None;
                }
            };
            let default = if origin == Origin::Csv { 0.75 } else { 5.0 };
            let t = threshold.unwrap_or(default);
            if t < 0.0 || !t.is_finite() {
                ctx.skip(
                    place.clone(),
                    &what,
                    "a negative threshold never passes in promptfoo",
                );
                return None;
            }
            ai_type = "levenshtein".into();
            out.insert(
                "value".into(),
                Value::String(ctx.template(&s, place, &what)?),
            );
            // Distances are whole numbers, so `d <= t` is `d <= floor(t)`.
            out.insert("threshold".into(), json!(t.floor() as i64));
            if negate {
                ctx.note(place.clone(), &what, "promptfoo ignores `not-` on levenshtein (its handler never reads it); converted as levenshtein to agree");
            }
            return finish(ctx, out, ai_type, false, node, place, &what, origin);
        }
        "word-count" => {
            ai_type = "word-count".into();
            match &value_json {
                Some(Value::Number(n)) if n.as_u64().is_some() => {
                    out.insert("value".into(), Value::Number(n.clone()));
                }
                Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => {
                    out.insert("value".into(), json!(s.trim().parse::<u64>().unwrap()));
                }
                Some(Value::Object(m))
                    if m.keys().all(|k| k == "min" || k == "max") && !m.is_empty() =>
                {
                    out.insert("value".into(), Value::Object(m.clone()));
                }
                _ => {
                    ctx.skip(place.clone(), &what, "needs a whole number or { min, max }");
                    return None;
                }
            }
        }
        "latency" => {
            let Some(t) = threshold else {
                ctx.skip(
                    place.clone(),
                    &what,
                    "needs a threshold (promptfoo raises an error without one)",
                );
                return None;
            };
            ai_type = "latency".into();
            out.insert("threshold".into(), json!(t));
            if negate {
                ctx.note(place.clone(), &what, "promptfoo ignores `not-` on latency (its handler never reads it); converted as latency to agree");
            }
            return finish(ctx, out, ai_type, false, node, place, &what, origin);
        }
        "cost" => {
            let Some(t) = threshold else {
                ctx.skip(place.clone(), &what, "no threshold: promptfoo records the cost as a named metric only; ai-evals has no metric-only assertion");
                return None;
            };
            ai_type = "cost".into();
            out.insert("threshold".into(), json!(t));
        }
        "similar" | "similar:cosine" => {
            let refs: Vec<Value> = match &value_json {
                Some(Value::String(s)) => vec![Value::String(ctx.template(s, place, &what)?)],
                Some(Value::Array(items))
                    if !items.is_empty() && items.iter().all(Value::is_string) =>
                {
                    if negate && items.len() > 1 {
                        ctx.skip(place.clone(), &what, "not-similar with several references passes in promptfoo when ANY reference is dissimilar; ai-evals' not-similar needs all to be (core: per-reference negation)");
                        return None;
                    }
                    let mut v = Vec::new();
                    for s in items.iter().filter_map(Value::as_str) {
                        v.push(Value::String(ctx.template(s, place, &what)?));
                    }
                    v
                }
                _ => {
                    ctx.skip(place.clone(), &what, "needs a text or a list of texts");
                    return None;
                }
            };
            let default = if origin == Origin::Csv { 0.8 } else { 0.75 };
            let t = match threshold {
                Some(t) if t != 0.0 => t,
                _ => default, // `assertion.threshold || 0.75`
            };
            if !(0.0..=1.0).contains(&t) {
                ctx.skip(
                    place.clone(),
                    &what,
                    &format!("threshold {t} is outside 0..1, which ai-evals requires"),
                );
                return None;
            }
            ai_type = "similar".into();
            out.insert(
                "value".into(),
                if refs.len() == 1 {
                    refs[0].clone()
                } else {
                    Value::Array(refs)
                },
            );
            out.insert("threshold".into(), json!(t));
            graded.embeddings = true;
            if let Some(p) = grader(
                ctx,
                node,
                place,
                test_grader,
                super::providers::GraderKind::Embeddings,
            )? {
                out.insert("provider".into(), Value::String(p));
            }
            return finish(ctx, out, ai_type, negate, node, place, &what, origin);
        }
        "llm-rubric" => {
            let rubric = match &value_json {
                Some(Value::String(s)) if !s.is_empty() => s.clone(),
                _ => {
                    ctx.skip(place.clone(), &what, "needs a text rubric (object rubrics and rubricPrompt-only rubrics are not converted)");
                    return None;
                }
            };
            ai_type = "llm-judge".into();
            out.insert(
                "value".into(),
                Value::String(ctx.template(&rubric, place, &what)?),
            );
            if let Some(t) = threshold {
                if !(0.0..=1.0).contains(&t) {
                    ctx.skip(
                        place.clone(),
                        &what,
                        &format!("threshold {t} is outside 0..1, which ai-evals requires"),
                    );
                    return None;
                }
                out.insert("threshold".into(), json!(t));
            }
            graded.judge = true;
            if let Some(p) = grader(
                ctx,
                node,
                place,
                test_grader,
                super::providers::GraderKind::Judge,
            )? {
                out.insert("provider".into(), Value::String(p));
            }
            return finish(ctx, out, ai_type, negate, node, place, &what, origin);
        }
        other => {
            ctx.skip(place.clone(), &what, unsupported_reason(other));
            return None;
        }
    }
    finish(ctx, out, ai_type, negate, node, place, &what, origin)
}

/// Adds the type, weight and metric; drops thresholds the type does not use.
#[allow(clippy::too_many_arguments)]
fn finish(
    ctx: &mut Ctx,
    mut out: Map<String, Value>,
    ai_type: String,
    negate: bool,
    node: &Node,
    place: &Place,
    what: &str,
    origin: Origin,
) -> Option<Value> {
    let full = if negate {
        format!("not-{ai_type}")
    } else {
        ai_type.clone()
    };
    let mut spec = Map::new();
    spec.insert("type".into(), Value::String(full));
    for (k, v) in out.iter() {
        spec.insert(k.clone(), v.clone());
    }
    out.clear();
    if let Some(w) = node.get("weight") {
        match w.as_f64() {
            Some(w) if w >= 0.0 && w.is_finite() => {
                spec.insert("weight".into(), json!(w));
            }
            _ => {
                ctx.skip(
                    place.clone(),
                    what,
                    "a negative or non-numeric weight has no ai-evals counterpart",
                );
                return None;
            }
        }
    }
    if let Some(m) = node
        .get("metric")
        .and_then(Node::as_str)
        .filter(|m| !m.is_empty())
    {
        spec.insert("metric".into(), Value::String(m.to_string()));
    }
    let uses_threshold = matches!(
        ai_type.as_str(),
        "levenshtein" | "latency" | "cost" | "similar" | "llm-judge"
    );
    if !uses_threshold && node.get("threshold").is_some() && origin == Origin::Yaml {
        ctx.note(
            place.clone(),
            what,
            "its `threshold` is not used by promptfoo for this type; dropped",
        );
    }
    if node.get("provider").is_some() && !matches!(ai_type.as_str(), "similar" | "llm-judge") {
        ctx.note(
            place.clone(),
            what,
            "its `provider` is not used by promptfoo for this type; dropped",
        );
    }
    Some(Value::Object(spec))
}

/// The grading provider of a graded assertion: its own `provider`, else the
/// test's `options.provider`. `Some(None)`: use `[grading]`.
fn grader(
    ctx: &mut Ctx,
    node: &Node,
    place: &Place,
    test_grader: Option<&str>,
    kind: super::providers::GraderKind,
) -> Option<Option<String>> {
    if let Some(p) = node.get("provider") {
        return ctx.grader_provider(p, kind, place).map(Some);
    }
    Some(test_grader.map(str::to_string))
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

/// promptfoo's `parseCommaSeparatedValues`: fields split on commas, unquoted
/// fields trimmed, `"quoted, fields"` with `""` or `\"` escapes.
pub fn split_commas(value: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    while i < chars.len() {
        loop {
            skip_ws(&mut i);
            if i < chars.len() && chars[i] == ',' {
                i += 1;
            } else {
                break;
            }
        }
        if i >= chars.len() {
            break;
        }
        if chars[i] == '"' {
            i += 1;
            let mut field = String::new();
            let mut closed = false;
            while i < chars.len() {
                if chars[i] == '\\'
                    && i + 1 < chars.len()
                    && (chars[i + 1] == '"' || chars[i + 1] == '\\')
                {
                    field.push(chars[i + 1]);
                    i += 2;
                } else if chars[i] == '"' && i + 1 < chars.len() && chars[i + 1] == '"' {
                    field.push('"');
                    i += 2;
                } else if chars[i] == '"' {
                    i += 1;
                    closed = true;
                    break;
                } else {
                    field.push(chars[i]);
                    i += 1;
                }
            }
            if !closed {
                return Err("unterminated quoted field in a comma-separated value".into());
            }
            out.push(field);
            skip_ws(&mut i);
            if i < chars.len() && chars[i] != ',' {
                return Err("expected a comma after a quoted field".into());
            }
        } else {
            let start = i;
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
            out.push(
                chars[start..i]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .to_string(),
            );
        }
    }
    Ok(out)
}

/// promptfoo's `assertionFromString` for CSV `__expected` cells: the
/// assertion as a promptfoo assertion object (JSON), or why it is skipped.
pub fn from_csv_string(expected: &str) -> Result<Value, String> {
    let e = expected;
    let is_js_file = |rest: &str| {
        let p = rest.split(':').next().unwrap_or(rest);
        [".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".jsx", ".tsx"]
            .iter()
            .any(|x| p.ends_with(x))
    };
    if e.starts_with("javascript:")
        || e.starts_with("fn:")
        || e.starts_with("eval:")
        || (e.starts_with("file://") && is_js_file(&e["file://".len()..]))
    {
        return Ok(json!({ "type": "javascript", "value": e }));
    }
    if let Some(rest) = e
        .strip_prefix("grade:")
        .or_else(|| e.strip_prefix("llm-rubric:"))
    {
        return Ok(json!({ "type": "llm-rubric", "value": rest }));
    }
    if e.starts_with("python:")
        || (e.starts_with("file://") && (e.ends_with(".py") || e.contains(".py:")))
    {
        return Ok(json!({ "type": "python", "value": e }));
    }
    // ^(not-)?(type)(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$ — first matching type in order.
    let (negate, body) = match e.strip_prefix("not-") {
        Some(rest) => (true, rest),
        None => (false, e),
    };
    for ty in BASE_TYPES {
        let Some(after) = body.strip_prefix(ty) else {
            continue;
        };
        let (threshold, after) = match after.strip_prefix('(') {
            Some(inner) => {
                let close = match inner.find(')') {
                    Some(c) => c,
                    None => continue,
                };
                let num = &inner[..close];
                let valid = {
                    let mut parts = num.splitn(2, '.');
                    let a = parts.next().unwrap_or("");
                    let b = parts.next();
                    !a.is_empty()
                        && a.chars().all(|c| c.is_ascii_digit())
                        && b.is_none_or(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()))
                };
                if !valid {
                    continue;
                }
                (num.parse::<f64>().ok(), &inner[close + 1..])
            }
            None => (None, after),
        };
        let value = if after.is_empty() {
            None
        } else if let Some(v) = after.strip_prefix(':') {
            Some(v)
        } else {
            continue;
        };
        let full = if negate {
            format!("not-{ty}")
        } else {
            ty.to_string()
        };
        let mut obj = Map::new();
        obj.insert("type".into(), Value::String(full));
        if [
            "contains-all",
            "contains-any",
            "icontains-all",
            "icontains-any",
        ]
        .contains(ty)
        {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                let items = split_commas(v)?;
                obj.insert("value".into(), json!(items));
            }
        } else if *ty == "contains-json" || *ty == "is-json" {
            if let Some(v) = value {
                obj.insert("value".into(), Value::String(v.to_string()));
            }
        } else if CSV_THRESHOLD_TYPES.contains(ty) {
            if let Some(v) = value {
                obj.insert("value".into(), Value::String(v.trim().to_string()));
            }
            let default = if *ty == "similar" { 0.8 } else { 0.75 };
            obj.insert("threshold".into(), json!(threshold.unwrap_or(default)));
        } else if let Some(v) = value {
            obj.insert("value".into(), Value::String(v.trim().to_string()));
        }
        return Ok(Value::Object(obj));
    }
    Ok(json!({ "type": "equals", "value": e }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_strings() {
        assert_eq!(
            from_csv_string("icontains:bonjour").unwrap(),
            json!({"type": "icontains", "value": "bonjour"})
        );
        assert_eq!(
            from_csv_string("Paris").unwrap(),
            json!({"type": "equals", "value": "Paris"})
        );
        assert_eq!(
            from_csv_string("not-contains: x ").unwrap(),
            json!({"type": "not-contains", "value": "x"})
        );
        assert_eq!(
            from_csv_string("regex:^a:b$").unwrap(),
            json!({"type": "regex", "value": "^a:b$"})
        );
        assert_eq!(
            from_csv_string("contains-any:a, b ,\"c, d\"").unwrap(),
            json!({"type": "contains-any", "value": ["a", "b", "c, d"]})
        );
        assert_eq!(
            from_csv_string("similar(0.9):hello").unwrap(),
            json!({"type": "similar", "value": "hello", "threshold": 0.9})
        );
        assert_eq!(
            from_csv_string("similar:hello").unwrap(),
            json!({"type": "similar", "value": "hello", "threshold": 0.8})
        );
        assert_eq!(
            from_csv_string("levenshtein:colour").unwrap(),
            json!({"type": "levenshtein", "value": "colour", "threshold": 0.75})
        );
        assert_eq!(
            from_csv_string("is-json").unwrap(),
            json!({"type": "is-json"})
        );
        assert_eq!(
            from_csv_string("grade:is polite").unwrap(),
            json!({"type": "llm-rubric", "value": "is polite"})
        );
        assert_eq!(
            from_csv_string("fn:output.length > 3").unwrap()["type"],
            "javascript"
        );
        assert_eq!(
            from_csv_string("python:len(output)").unwrap()["type"],
            "python"
        );
        assert_eq!(
            from_csv_string("file://check.py").unwrap()["type"],
            "python"
        );
        assert_eq!(from_csv_string("containsx").unwrap()["type"], "equals");
        assert_eq!(
            from_csv_string("latency(5000)").unwrap(),
            json!({"type": "latency", "threshold": 5000.0})
        );
    }

    #[test]
    fn comma_values() {
        assert_eq!(split_commas("a,b").unwrap(), vec!["a", "b"]);
        assert_eq!(split_commas(" a , ,b,").unwrap(), vec!["a", "b"]);
        assert_eq!(
            split_commas("\"1,000\", in stock").unwrap(),
            vec!["1,000", "in stock"]
        );
        assert_eq!(
            split_commas("\"say \"\"hi\"\"\"").unwrap(),
            vec!["say \"hi\""]
        );
        assert!(split_commas("\"open").is_err());
    }
}
