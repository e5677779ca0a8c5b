//! Scoring: assertions as written in the config, compiled checks, and the
//! score of a case (the weighted mean of its assertions).
//!
//! Everything here is pure: values in, values out, no I/O.

mod checks;

use std::fmt;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use checks::{Check, Outcome};

/// An assertion as the user wrote it (`{ type = "contains", value = "x" }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionSpec {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// The assertion types, without negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    Equals,
    Contains,
    IContains,
    ContainsAny,
    ContainsAll,
    StartsWith,
    Regex,
    IsJson,
}

impl Type {
    pub const ALL: [Type; 8] = [
        Type::Equals,
        Type::Contains,
        Type::IContains,
        Type::ContainsAny,
        Type::ContainsAll,
        Type::StartsWith,
        Type::Regex,
        Type::IsJson,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Type::Equals => "equals",
            Type::Contains => "contains",
            Type::IContains => "icontains",
            Type::ContainsAny => "contains-any",
            Type::ContainsAll => "contains-all",
            Type::StartsWith => "starts-with",
            Type::Regex => "regex",
            Type::IsJson => "is-json",
        }
    }

    fn parse(name: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.name() == name)
    }

    /// What the `value` must be.
    fn value_shape(self) -> Shape {
        match self {
            Type::Equals | Type::Contains | Type::IContains | Type::StartsWith | Type::Regex => {
                Shape::Text
            }
            Type::ContainsAny | Type::ContainsAll => Shape::List,
            Type::IsJson => Shape::None,
        }
    }
}

enum Shape {
    Text,
    List,
    None,
}

/// A compiled assertion, ready to run on outputs.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub kind: Type,
    pub negate: bool,
    pub weight: f64,
    /// The value as shown in reports (`"Paris"`, `["a", "b"]`).
    pub expected: String,
    check: Check,
}

/// One assertion's result on one output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssertionResult {
    pub kind: Type,
    pub negate: bool,
    pub passed: bool,
    pub score: f64,
    pub weight: f64,
    pub expected: String,
    pub reason: String,
}

impl AssertionResult {
    /// The type as written, with its `not-` prefix.
    pub fn type_name(&self) -> String {
        full_name(self.kind, self.negate)
    }
}

impl Serialize for Type {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A case's score and verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseScore {
    pub score: f64,
    pub passed: bool,
    pub assertions: Vec<AssertionResult>,
}

fn full_name(kind: Type, negate: bool) -> String {
    if negate {
        format!("not-{}", kind.name())
    } else {
        kind.name().to_string()
    }
}

impl fmt::Display for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", full_name(self.kind, self.negate))?;
        if !self.expected.is_empty() {
            write!(f, " {}", self.expected)?;
        }
        Ok(())
    }
}

impl AssertionSpec {
    fn parse_type(&self) -> Result<(Type, bool), String> {
        let (negate, name) = match self.kind.strip_prefix("not-") {
            Some(rest) => (true, rest),
            None => (false, self.kind.as_str()),
        };
        match Type::parse(name) {
            Some(kind) => Ok((kind, negate)),
            None => {
                let known: Vec<&str> = Type::ALL.iter().map(|t| t.name()).collect();
                Err(format!(
                    "unknown assertion type '{}'; known types: {} (each may be prefixed with 'not-')",
                    self.kind,
                    known.join(", ")
                ))
            }
        }
    }

    /// Whether the value holds `{{ … }}` or `{% … %}` that must be rendered
    /// with each case's variables before the assertion compiles.
    pub fn is_templated(&self) -> bool {
        fn templated(v: &Value) -> bool {
            match v {
                Value::String(s) => s.contains("{{") || s.contains("{%"),
                Value::Array(items) => items.iter().any(templated),
                _ => false,
            }
        }
        self.value.as_ref().is_some_and(templated)
    }

    /// Every text inside the value (a list's items included).
    pub fn texts(&self) -> Vec<&str> {
        fn walk<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
            match v {
                Value::String(s) => out.push(s),
                Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if let Some(v) = &self.value {
            walk(v, &mut out);
        }
        out
    }

    /// Checks the type, the value's shape and the weight; a templated value is
    /// checked for shape only, since it compiles per case.
    pub fn validate(&self) -> Result<(), String> {
        if self.is_templated() {
            let (kind, _) = self.parse_type()?;
            self.check_weight()?;
            return match (kind.value_shape(), &self.value) {
                (Shape::None, Some(_)) => Err(format!("'{}' takes no value", self.kind)),
                _ => Ok(()),
            };
        }
        self.compile().map(|_| ())
    }

    fn check_weight(&self) -> Result<f64, String> {
        match self.weight {
            None => Ok(1.0),
            Some(w) if w.is_finite() && w >= 0.0 => Ok(w),
            Some(w) => Err(format!("weight {w} must be a number of at least 0")),
        }
    }

    /// Returns a copy with every string in the value passed through `render`.
    pub fn render_value(
        &self,
        mut render: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<AssertionSpec, String> {
        fn walk(
            v: &Value,
            render: &mut dyn FnMut(&str) -> Result<String, String>,
        ) -> Result<Value, String> {
            Ok(match v {
                Value::String(s) => Value::String(render(s)?),
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|i| walk(i, render))
                        .collect::<Result<_, _>>()?,
                ),
                other => other.clone(),
            })
        }
        Ok(AssertionSpec {
            kind: self.kind.clone(),
            value: self
                .value
                .as_ref()
                .map(|v| walk(v, &mut render))
                .transpose()?,
            weight: self.weight,
        })
    }

    /// Compiles the assertion; the error says what is wrong with it.
    pub fn compile(&self) -> Result<Assertion, String> {
        let (kind, negate) = self.parse_type()?;
        let weight = self.check_weight()?;
        let text = || -> Result<String, String> {
            match &self.value {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                Some(Value::Bool(b)) => Ok(b.to_string()),
                Some(other) => Err(format!("'{}' needs a text value, not {other}", self.kind)),
                None => Err(format!("'{}' needs a value", self.kind)),
            }
        };
        let list = || -> Result<Vec<String>, String> {
            let items = match &self.value {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::String(s)) => vec![Value::String(s.clone())],
                Some(other) => {
                    return Err(format!(
                        "'{}' needs a list of texts, not {other}",
                        self.kind
                    ));
                }
                None => return Err(format!("'{}' needs a value: a list of texts", self.kind)),
            };
            if items.is_empty() {
                return Err(format!("'{}' needs at least one value", self.kind));
            }
            items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(format!(
                        "'{}' list items must be texts, not {other}",
                        self.kind
                    )),
                })
                .collect()
        };
        let (check, expected) = match kind.value_shape() {
            Shape::None => {
                if self.value.is_some() {
                    return Err(format!("'{}' takes no value", self.kind));
                }
                (Check::IsJson, String::new())
            }
            Shape::Text => {
                let value = text()?;
                let expected = format!("{value:?}");
                let check = match kind {
                    Type::Equals => Check::Equals(value),
                    Type::Contains => Check::Contains(value),
                    Type::IContains => Check::IContains(value.to_lowercase()),
                    Type::StartsWith => Check::StartsWith(value),
                    Type::Regex => Check::Regex(
                        Regex::new(&value).map_err(|e| format!("invalid regex {value:?}: {e}"))?,
                    ),
                    _ => unreachable!("text-valued types are listed above"),
                };
                (check, expected)
            }
            Shape::List => {
                let values = list()?;
                let expected = format!("{values:?}");
                let check = match kind {
                    Type::ContainsAny => Check::ContainsAny(values),
                    Type::ContainsAll => Check::ContainsAll(values),
                    _ => unreachable!("list-valued types are listed above"),
                };
                (check, expected)
            }
        };
        Ok(Assertion {
            kind,
            negate,
            weight,
            expected,
            check,
        })
    }
}

impl Assertion {
    /// Runs the assertion on an output, applying negation.
    pub fn evaluate(&self, output: &str) -> AssertionResult {
        let Outcome { passed, reason } = self.check.run(output);
        let passed = passed != self.negate;
        AssertionResult {
            kind: self.kind,
            negate: self.negate,
            passed,
            score: if passed { 1.0 } else { 0.0 },
            weight: self.weight,
            expected: self.expected.clone(),
            reason,
        }
    }
}

/// Scores an output against a case's assertions.
///
/// The score is the weighted mean of the assertion scores. With a threshold
/// the case passes when the score reaches it; without one, every assertion
/// of non-zero weight must pass (weight 0 marks an informational assertion).
/// A case with no assertions passes with score 1.
pub fn score(assertions: &[Arc<Assertion>], threshold: Option<f64>, output: &str) -> CaseScore {
    let results: Vec<AssertionResult> = assertions.iter().map(|a| a.evaluate(output)).collect();
    let total_weight: f64 = results.iter().map(|r| r.weight).sum();
    let score = if total_weight > 0.0 {
        results.iter().map(|r| r.weight * r.score).sum::<f64>() / total_weight
    } else {
        1.0
    };
    let passed = match threshold {
        Some(t) => score >= t,
        None => results.iter().all(|r| r.passed || r.weight == 0.0),
    };
    CaseScore {
        score,
        passed,
        assertions: results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(kind: &str, value: Option<Value>) -> AssertionSpec {
        AssertionSpec {
            kind: kind.into(),
            value,
            weight: None,
        }
    }

    fn passes(kind: &str, value: Value, output: &str) -> bool {
        spec(kind, Some(value))
            .compile()
            .unwrap()
            .evaluate(output)
            .passed
    }

    #[test]
    fn every_type_and_its_negation() {
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            ("equals", json!("Bonjour"), "Bonjour", "bonjour"),
            ("contains", json!("ß"), "Straße", "Strasse"),
            ("icontains", json!("ÉTÉ"), "un été chaud", "un hiver"),
            ("contains-any", json!(["猫", "dog"]), "a 猫", "a bird"),
            ("contains-all", json!(["a", "b"]), "b and a", "only a"),
            ("starts-with", json!("✅"), "✅ done", "done ✅"),
            ("regex", json!("^[0-9]+$"), "12345", "12a45"),
        ];
        for (kind, value, good, bad) in cases {
            assert!(passes(kind, value.clone(), good), "{kind} on {good:?}");
            assert!(!passes(kind, value.clone(), bad), "{kind} on {bad:?}");
            let not = format!("not-{kind}");
            assert!(!passes(&not, value.clone(), good), "{not} on {good:?}");
            assert!(passes(&not, value, bad), "{not} on {bad:?}");
        }
        let is_json = spec("is-json", None).compile().unwrap();
        assert!(is_json.evaluate("{\"ключ\": 1}").passed);
        assert!(!is_json.evaluate("nope").passed);
        let not_json = spec("not-is-json", None).compile().unwrap();
        assert!(not_json.evaluate("nope").passed);
        assert!(!not_json.evaluate("[]").passed);
    }

    #[test]
    fn negation_inverts_score_too() {
        let r = spec("not-contains", Some(json!("x")))
            .compile()
            .unwrap()
            .evaluate("x");
        assert!(!r.passed);
        assert_eq!(r.score, 0.0);
        assert_eq!(r.type_name(), "not-contains");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: AssertionSpec| s.compile().unwrap_err();
        assert!(err(spec("containz", None)).starts_with("unknown assertion type 'containz'"));
        assert_eq!(err(spec("equals", None)), "'equals' needs a value");
        assert_eq!(
            err(spec("is-json", Some(json!("x")))),
            "'is-json' takes no value"
        );
        assert!(err(spec("regex", Some(json!("(")))).starts_with("invalid regex \"(\""));
        assert_eq!(
            err(spec("contains-any", Some(json!([])))),
            "'contains-any' needs at least one value"
        );
        let mut weighted = spec("equals", Some(json!("a")));
        weighted.weight = Some(-1.0);
        assert_eq!(err(weighted), "weight -1 must be a number of at least 0");
    }

    #[test]
    fn templated_values_validate_shape_only() {
        let s = spec("regex", Some(json!("^{{ expected }}$")));
        assert!(s.is_templated());
        assert!(s.validate().is_ok());
        let rendered = s
            .render_value(|t| Ok(t.replace("{{ expected }}", "4")))
            .unwrap();
        assert!(rendered.compile().unwrap().evaluate("4").passed);
    }

    #[test]
    fn weighted_mean_and_threshold() {
        let a = |kind: &str, value: &str, weight: f64| {
            let mut s = spec(kind, Some(json!(value)));
            s.weight = Some(weight);
            Arc::new(s.compile().unwrap())
        };
        let assertions = vec![a("contains", "a", 3.0), a("contains", "z", 1.0)];
        let scored = score(&assertions, None, "abc");
        assert_eq!(scored.score, 0.75);
        assert!(
            !scored.passed,
            "without a threshold every assertion must pass"
        );
        assert!(score(&assertions, Some(0.75), "abc").passed);
        assert!(!score(&assertions, Some(0.76), "abc").passed);

        let informational = vec![a("contains", "a", 1.0), a("contains", "z", 0.0)];
        let scored = score(&informational, None, "abc");
        assert!(scored.passed);
        assert_eq!(scored.score, 1.0);

        let none = score(&[], None, "anything");
        assert!(none.passed);
        assert_eq!(none.score, 1.0);
    }
}
