//! The deterministic checks: pure functions from an output to pass or fail.

use std::sync::Arc;

use regex::Regex;

/// One deterministic check with its resolved value.
#[derive(Debug, Clone)]
pub enum Check {
    Equals(String),
    Contains(String),
    /// Case-insensitive; the needle is stored lowercased.
    IContains(String),
    ContainsAny(Vec<String>),
    ContainsAll(Vec<String>),
    /// Case-insensitive; the needles are stored lowercased.
    IContainsAny(Vec<String>),
    /// Case-insensitive; the needles are stored lowercased.
    IContainsAll(Vec<String>),
    StartsWith(String),
    Regex(Regex),
    /// Valid JSON, and valid against the schema when there is one.
    IsJson(Option<Arc<jsonschema::Validator>>),
    /// A JSON object somewhere in the output (one valid against the
    /// schema, when there is one).
    ContainsJson(Option<Arc<jsonschema::Validator>>),
    /// At most `max` single-character edits from `expected`.
    Levenshtein {
        expected: String,
        max: usize,
    },
    /// A word count within the bounds (inclusive).
    WordCount {
        min: Option<usize>,
        max: Option<usize>,
    },
}

/// The outcome of one check on one output, before negation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub passed: bool,
    /// Why it failed (or, for a negated check, why it passed), in words.
    pub reason: String,
}

impl Check {
    /// Runs the check on `output`.
    pub fn run(&self, output: &str) -> Outcome {
        match self {
            Check::Equals(expected) => outcome(
                output == expected,
                || format!("output equals {}", quote(expected)),
                || format!("output does not equal {}", quote(expected)),
            ),
            Check::Contains(needle) => outcome(
                output.contains(needle.as_str()),
                || format!("output contains {}", quote(needle)),
                || format!("output does not contain {}", quote(needle)),
            ),
            Check::IContains(needle) => outcome(
                output.to_lowercase().contains(needle.as_str()),
                || format!("output contains {} (ignoring case)", quote(needle)),
                || format!("output does not contain {} (ignoring case)", quote(needle)),
            ),
            Check::ContainsAny(needles) => contains_any(output, needles, ""),
            Check::ContainsAll(needles) => contains_all(output, needles, ""),
            Check::IContainsAny(needles) => {
                contains_any(&output.to_lowercase(), needles, " (ignoring case)")
            }
            Check::IContainsAll(needles) => {
                contains_all(&output.to_lowercase(), needles, " (ignoring case)")
            }
            Check::StartsWith(prefix) => outcome(
                output.starts_with(prefix.as_str()),
                || format!("output starts with {}", quote(prefix)),
                || format!("output does not start with {}", quote(prefix)),
            ),
            Check::Regex(re) => outcome(
                re.is_match(output),
                || format!("output matches /{}/", re.as_str()),
                || format!("output does not match /{}/", re.as_str()),
            ),
            Check::IsJson(schema) => is_json(output, schema.as_deref()),
            Check::ContainsJson(schema) => contains_json(output, schema.as_deref()),
            Check::Levenshtein { expected, max } => {
                let distance = strsim::levenshtein(output, expected);
                outcome(
                    distance <= *max,
                    || {
                        format!(
                            "output is {distance} edits from {} (at most {max})",
                            quote(expected)
                        )
                    },
                    || {
                        format!(
                            "output is {distance} edits from {} (more than {max})",
                            quote(expected)
                        )
                    },
                )
            }
            Check::WordCount { min, max } => {
                let words = output.split_whitespace().count();
                let bounds = match (min, max) {
                    (Some(a), Some(b)) if a == b => format!("exactly {a}"),
                    (Some(a), Some(b)) => format!("between {a} and {b}"),
                    (Some(a), None) => format!("at least {a}"),
                    (None, Some(b)) => format!("at most {b}"),
                    (None, None) => "any number of".into(),
                };
                let fits = min.is_none_or(|a| words >= a) && max.is_none_or(|b| words <= b);
                outcome(
                    fits,
                    || format!("output has {words} words ({bounds} wanted)"),
                    || format!("output has {words} words, not {bounds}"),
                )
            }
        }
    }
}

/// `is-json`: the whole output is JSON (valid against the schema, when
/// there is one).
fn is_json(output: &str, schema: Option<&jsonschema::Validator>) -> Outcome {
    let value = match serde_json::from_str::<serde_json::Value>(output) {
        Ok(value) => value,
        Err(e) => {
            return Outcome {
                passed: false,
                reason: format!("output is not valid JSON: {e}"),
            };
        }
    };
    match schema.and_then(|s| s.iter_errors(&value).next()) {
        None => Outcome {
            passed: true,
            reason: if schema.is_some() {
                "output is JSON matching the schema".into()
            } else {
                "output is valid JSON".into()
            },
        },
        Some(error) => {
            let at = error.instance_path().to_string();
            Outcome {
                passed: false,
                reason: format!(
                    "output does not match the schema at {}: {error}",
                    if at.is_empty() { "/" } else { &at }
                ),
            }
        }
    }
}

/// `contains-json`: some object found by [`json_objects`] is valid (against
/// the schema, when there is one).
fn contains_json(output: &str, schema: Option<&jsonschema::Validator>) -> Outcome {
    let objects = json_objects(output);
    let Some(schema) = schema else {
        return outcome(
            !objects.is_empty(),
            || format!("output contains {} JSON object(s)", objects.len()),
            || "output contains no JSON object".into(),
        );
    };
    let mut last_error = None;
    for object in &objects {
        match schema.iter_errors(object).next() {
            None => {
                return Outcome {
                    passed: true,
                    reason: "output contains a JSON object matching the schema".into(),
                };
            }
            Some(error) => last_error = Some(error.to_string()),
        }
    }
    Outcome {
        passed: false,
        reason: match last_error {
            Some(error) => format!("no JSON object in the output matches the schema: {error}"),
            None => "output contains no JSON object".into(),
        },
    }
}

/// The JSON objects in a text, found as promptfoo's `extractJsonObjects`
/// finds them: from each `{`, braces are counted (inside strings too) and
/// the text up to where they balance is read; at the end of the text the
/// missing closing braces are added, so a cut-off answer still counts.
/// An object found is skipped over; scanning goes on after it.
pub(crate) fn json_objects(text: &str) -> Vec<serde_json::Value> {
    const MAX_LEN: usize = 100_000;
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        let limit = (i + MAX_LEN).min(bytes.len());
        let (mut open, mut close) = (1usize, 0usize);
        let mut j = i + 1;
        let mut next = i + 1;
        while j < limit && open > close {
            match bytes[j] {
                b'{' => open += 1,
                b'}' => close += 1,
                _ => {}
            }
            j += 1;
            let at_end = j == bytes.len() || (j == i + MAX_LEN && text.is_char_boundary(j));
            if open == close || at_end {
                let mut candidate = text[i..j].to_string();
                candidate.push_str(&"}".repeat(open - close));
                match serde_json::from_str::<serde_json::Value>(&candidate) {
                    Ok(value @ serde_json::Value::Object(_)) => {
                        found.push(value);
                        next = j;
                        break;
                    }
                    _ if open == close => break,
                    _ => {}
                }
            }
        }
        i = next;
    }
    found
}

/// Whether `output` contains one of the needles; `how` ends the reason.
fn contains_any(output: &str, needles: &[String], how: &str) -> Outcome {
    match needles.iter().find(|n| output.contains(n.as_str())) {
        Some(n) => Outcome {
            passed: true,
            reason: format!("output contains {}{how}", quote(n)),
        },
        None => Outcome {
            passed: false,
            reason: format!("output contains none of {}{how}", list(needles)),
        },
    }
}

/// Whether `output` contains every needle; `how` ends the reason.
fn contains_all(output: &str, needles: &[String], how: &str) -> Outcome {
    let missing: Vec<String> = needles
        .iter()
        .filter(|n| !output.contains(n.as_str()))
        .cloned()
        .collect();
    outcome(
        missing.is_empty(),
        || format!("output contains all of {}{how}", list(needles)),
        || format!("output is missing {}{how}", list(&missing)),
    )
}

fn outcome(
    passed: bool,
    when_passed: impl FnOnce() -> String,
    when_failed: impl FnOnce() -> String,
) -> Outcome {
    let reason = if passed { when_passed() } else { when_failed() };
    Outcome { passed, reason }
}

/// Quotes a value for a reason, shortened so a reason stays one readable line.
fn quote(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        let short: String = value.chars().take(MAX).collect();
        format!("{short:?}…")
    }
}

fn list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| quote(v)).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(check: Check, output: &str) -> bool {
        check.run(output).passed
    }

    #[test]
    fn equals_is_exact() {
        assert!(run(Check::Equals("Paris".into()), "Paris"));
        assert!(!run(Check::Equals("Paris".into()), "Paris "));
        assert!(!run(Check::Equals("Paris".into()), "paris"));
        assert!(run(Check::Equals("Zürich ✓".into()), "Zürich ✓"));
    }

    #[test]
    fn contains_and_icontains() {
        assert!(run(Check::Contains("cat".into()), "concatenate"));
        assert!(!run(Check::Contains("Cat".into()), "concatenate"));
        assert!(run(Check::IContains("école".into()), "À L'ÉCOLE"));
        assert!(run(Check::IContains("σ".into()), "ΣΟΦΙΑ"));
        assert!(!run(Check::IContains("dog".into()), "CAT"));
    }

    #[test]
    fn contains_any_and_all() {
        let any = Check::ContainsAny(vec!["red".into(), "blue".into()]);
        assert!(run(any.clone(), "the blue sky"));
        assert!(!run(any, "the grey sky"));
        let all = Check::ContainsAll(vec!["red".into(), "日本".into()]);
        assert!(run(all.clone(), "red sun over 日本"));
        let failed = all.run("red sun");
        assert!(!failed.passed);
        assert_eq!(failed.reason, "output is missing [\"日本\"]");
    }

    #[test]
    fn icontains_any_and_all_ignore_case() {
        let any = Check::IContainsAny(vec!["red".into(), "été".into()]);
        assert!(run(any.clone(), "UN ÉTÉ CHAUD"));
        assert!(!run(any, "the grey sky"));
        let all = Check::IContainsAll(vec!["red".into(), "σοφια".into()]);
        assert!(run(all.clone(), "Red sun over ΣΟΦΙΑ"));
        let failed = all.run("RED sun");
        assert!(!failed.passed);
        assert_eq!(
            failed.reason,
            "output is missing [\"σοφια\"] (ignoring case)"
        );
    }

    #[test]
    fn starts_with_counts_characters_not_bytes() {
        assert!(run(Check::StartsWith("Ñandú".into()), "Ñandú runs"));
        assert!(!run(Check::StartsWith("Ñandú".into()), " Ñandú"));
    }

    #[test]
    fn regex_matches_anywhere_unless_anchored() {
        let re = |p: &str| Check::Regex(Regex::new(p).unwrap());
        assert!(run(re(r"\d{3}"), "call 555 now"));
        assert!(!run(re(r"^\d{3}$"), "call 555 now"));
        assert!(run(re(r"^\p{Greek}+$"), "αβγ"));
    }

    #[test]
    fn is_json_whole_output() {
        assert!(run(Check::IsJson(None), r#"{"a": [1, 2]}"#));
        assert!(run(Check::IsJson(None), " \n[1]\n"));
        assert!(run(Check::IsJson(None), r#""ünïcode""#));
        let bad = Check::IsJson(None).run("{\"a\": 1} trailing");
        assert!(!bad.passed);
        assert!(
            bad.reason
                .starts_with("output is not valid JSON: trailing characters")
        );
        assert!(!run(Check::IsJson(None), "```json\n{}\n```"));
    }

    #[test]
    fn contains_json_finds_objects_in_prose() {
        let found = json_objects("Sure: {\"a\": {\"b\": 1}} and {\"c\": 2}. Done {");
        assert_eq!(
            found,
            vec![
                serde_json::json!({"a": {"b": 1}}),
                serde_json::json!({"c": 2})
            ]
        );
        assert_eq!(
            json_objects("cut off: {\"a\": [1, 2]"),
            vec![serde_json::json!({"a": [1, 2]})],
            "a truncated object is closed, as promptfoo does"
        );
        assert!(
            json_objects("[1, 2] and {oops}").is_empty(),
            "arrays do not count"
        );
        assert!(run(Check::ContainsJson(None), "x {\"ok\": true} y"));
        assert!(!run(Check::ContainsJson(None), "no json here"));
        let schema = serde_json::json!({"type": "object", "required": ["id"]});
        let check =
            Check::ContainsJson(Some(Arc::new(jsonschema::Validator::new(&schema).unwrap())));
        assert!(run(check.clone(), "{\"x\": 1} then {\"id\": 7}"));
        let bad = check.run("{\"x\": 1}");
        assert!(!bad.passed);
        assert!(
            bad.reason
                .starts_with("no JSON object in the output matches the schema"),
            "{}",
            bad.reason
        );
    }

    #[test]
    fn long_values_are_shortened_in_reasons() {
        let long = "x".repeat(500);
        let reason = Check::Equals(long).run("y").reason;
        assert!(reason.len() < 120, "{reason}");
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn json_schema_failures_name_the_path() {
        let schema = serde_json::json!({
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": {"type": "integer"}}}
        });
        let check = Check::IsJson(Some(Arc::new(jsonschema::Validator::new(&schema).unwrap())));
        assert!(run(check.clone(), r#"{"items": [1, 2]}"#));
        let bad = check.run(r#"{"items": [1, "two"]}"#);
        assert!(!bad.passed);
        assert!(
            bad.reason
                .starts_with("output does not match the schema at /items/1: "),
            "{}",
            bad.reason
        );
        let missing = check.run("{}");
        assert!(
            missing
                .reason
                .starts_with("output does not match the schema at /: "),
            "{}",
            missing.reason
        );
    }

    #[test]
    fn levenshtein_counts_characters() {
        let check = |max| Check::Levenshtein {
            expected: "kitten".into(),
            max,
        };
        assert!(run(check(3), "sitting"));
        assert!(!run(check(2), "sitting"));
        assert_eq!(
            check(3).run("sitting").reason,
            "output is 3 edits from \"kitten\" (at most 3)"
        );
        let accent = Check::Levenshtein {
            expected: "café".into(),
            max: 1,
        };
        assert!(run(accent, "cafe"));
    }

    #[test]
    fn word_count_bounds() {
        let wc = |min, max| Check::WordCount { min, max };
        assert!(run(wc(Some(2), Some(4)), "one two  three"));
        assert!(!run(wc(Some(4), None), "one two three"));
        assert!(run(wc(None, Some(3)), "  un deux\ttrois "));
        assert_eq!(
            wc(Some(2), Some(2)).run("a b c").reason,
            "output has 3 words, not exactly 2"
        );
    }
}
