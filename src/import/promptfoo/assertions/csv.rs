//! promptfoo's CSV `__expected` strings (`contains:x`, `similar(0.9):y`, …)
//! read as promptfoo reads them, and its comma-separated value lists.

use serde_json::{Map, Value, json};

use super::super::jsregex::is_js_space;

/// promptfoo 0.123's base assertion types, in schema order (used to parse CSV
/// `__expected` strings, which match `^(not-)?(type)(\(threshold\))?(:value)?$`).
const BASE_TYPES: &[&str] = &[
    "agent-rubric",
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
    "pi",
    "meteor",
    "model-graded-closedqa",
    "model-graded-factuality",
    "moderation",
    "perplexity",
    "perplexity-score",
    "python",
    "regex",
    "rouge-n",
    "ruby",
    "similar",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    "starts-with",
    "tool-call-f1",
    "skill-used",
    "trajectory:goal-success",
    "trajectory:tool-args-match",
    "trajectory:step-count",
    "trajectory:tool-sequence",
    "trajectory:tool-used",
    "trace-error-spans",
    "trace-span-count",
    "trace-span-duration",
    "search-rubric",
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

/// promptfoo's `parseCommaSeparatedValues`: fields split on commas, unquoted
/// fields trimmed, `"quoted, fields"` with `""` or `\"` escapes; white space
/// is JavaScript's.
pub(super) fn split_commas(value: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && is_js_space(chars[*i]) {
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
            let field: String = chars[start..i].iter().collect();
            out.push(field.trim_matches(is_js_space).to_string());
        }
    }
    Ok(out)
}

/// promptfoo's `assertionFromString` for CSV `__expected` cells: the
/// assertion as a promptfoo assertion object (JSON), or why it is skipped.
pub fn from_csv_string(expected: &str) -> Result<Value, String> {
    if let Some(script) = script_assertion(expected) {
        return Ok(script);
    }
    // ^(not-)?(type)(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$ — first matching type in order.
    let (negate, body) = match expected.strip_prefix("not-") {
        Some(rest) => (true, rest),
        None => (false, expected),
    };
    for ty in BASE_TYPES {
        if let Some((threshold, value)) = match_type(body, ty) {
            return typed(ty, negate, threshold, value);
        }
    }
    Ok(json!({ "type": "equals", "value": expected }))
}

/// The prefixes promptfoo checks before the types: scripts and rubrics.
fn script_assertion(e: &str) -> Option<Value> {
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
        let code = ["javascript:", "fn:", "eval:"]
            .iter()
            .find_map(|p| e.strip_prefix(p))
            .unwrap_or(e);
        return Some(json!({ "type": "javascript", "value": code.trim() }));
    }
    if let Some(rest) = e
        .strip_prefix("grade:")
        .or_else(|| e.strip_prefix("llm-rubric:"))
    {
        return Some(json!({ "type": "llm-rubric", "value": rest }));
    }
    if e.starts_with("python:")
        || (e.starts_with("file://") && (e.ends_with(".py") || e.contains(".py:")))
    {
        // promptfoo cuts seven characters either way: `python:`, and also
        // `file://`, which leaves the path to be run as Python code.
        return Some(json!({ "type": "python", "value": e[7..].trim() }));
    }
    None
}

/// When `body` is `ty`, then `(threshold)` and `:value`, both optional: the
/// threshold and the value.
fn match_type<'b>(body: &'b str, ty: &str) -> Option<(Option<f64>, Option<&'b str>)> {
    let after = body.strip_prefix(ty)?;
    let (threshold, after) = match after.strip_prefix('(') {
        Some(inner) => {
            let close = inner.find(')')?;
            let num = &inner[..close];
            if !is_decimal(num) {
                return None;
            }
            (num.parse::<f64>().ok(), &inner[close + 1..])
        }
        None => (None, after),
    };
    let value = if after.is_empty() {
        None
    } else {
        Some(after.strip_prefix(':')?)
    };
    Some((threshold, value))
}

/// `\d+(?:\.\d+)?`
fn is_decimal(num: &str) -> bool {
    let mut parts = num.splitn(2, '.');
    let a = parts.next().unwrap_or("");
    let b = parts.next();
    !a.is_empty()
        && a.chars().all(|c| c.is_ascii_digit())
        && b.is_none_or(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()))
}

/// The assertion object of a typed CSV string: list types split their value,
/// threshold types get promptfoo's CSV default threshold.
fn typed(
    ty: &str,
    negate: bool,
    threshold: Option<f64>,
    value: Option<&str>,
) -> Result<Value, String> {
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
    .contains(&ty)
    {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            let items = split_commas(v)?;
            obj.insert("value".into(), json!(items));
        }
    } else if ty == "contains-json" || ty == "is-json" {
        if let Some(v) = value {
            obj.insert("value".into(), Value::String(v.to_string()));
        }
    } else if CSV_THRESHOLD_TYPES.contains(&ty) {
        if let Some(v) = value {
            obj.insert(
                "value".into(),
                Value::String(v.trim_matches(is_js_space).to_string()),
            );
        }
        let default = if ty == "similar" { 0.8 } else { 0.75 };
        obj.insert("threshold".into(), json!(threshold.unwrap_or(default)));
    } else if let Some(v) = value {
        obj.insert(
            "value".into(),
            Value::String(v.trim_matches(is_js_space).to_string()),
        );
    }
    Ok(Value::Object(obj))
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
            from_csv_string("fn: output.length > 3").unwrap(),
            json!({"type": "javascript", "value": "output.length > 3"})
        );
        assert_eq!(
            from_csv_string("file://check.js").unwrap(),
            json!({"type": "javascript", "value": "file://check.js"})
        );
        assert_eq!(
            from_csv_string("python:len(output)").unwrap(),
            json!({"type": "python", "value": "len(output)"})
        );
        assert_eq!(
            from_csv_string("file://check.py").unwrap(),
            json!({"type": "python", "value": "check.py"}),
            "promptfoo 0.123 runs the path as code"
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
