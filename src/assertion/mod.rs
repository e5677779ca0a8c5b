//! The assertion language: assertions as users write them
//! (`{ type = "contains", value = "x" }`), checked and compiled into
//! [`Assertion`]s, and the deterministic checks that run on an output.
//!
//! Everything here is pure: values in, values out, no I/O. The config
//! validates assertions with it when it loads, dataset rows compile theirs
//! with it, and scoring runs them; the model-graded ones (`similar`,
//! `llm-judge`) are graded in [`crate::score`].

mod checks;
mod script;

use std::fmt;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use checks::{Check, Outcome};
pub use script::{Code, Language, Script};

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
    /// The pass mark: a minimum similarity or judge score, a maximum
    /// edit distance, latency (ms) or cost (USD), depending on the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The provider that grades (`similar`, `llm-judge`), overriding `[grading]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// A name to tally this assertion under (promptfoo's `metric`): the
    /// report counts each named metric's passes across the suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Settings a `javascript` or `python` assertion's code reads as
    /// `context.config`, so one script serves several assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// JavaScript (or a `file://` script) that reshapes the output for
    /// this assertion alone, after the test's own transform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
}

/// The assertion types, without negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    Equals,
    Contains,
    IContains,
    ContainsAny,
    ContainsAll,
    IContainsAny,
    IContainsAll,
    StartsWith,
    Regex,
    IsJson,
    ContainsJson,
    Levenshtein,
    WordCount,
    Latency,
    Cost,
    Similar,
    LlmJudge,
    Javascript,
    Python,
}

impl Type {
    pub const ALL: [Type; 19] = [
        Type::Equals,
        Type::Contains,
        Type::IContains,
        Type::ContainsAny,
        Type::ContainsAll,
        Type::IContainsAny,
        Type::IContainsAll,
        Type::StartsWith,
        Type::Regex,
        Type::IsJson,
        Type::ContainsJson,
        Type::Levenshtein,
        Type::WordCount,
        Type::Latency,
        Type::Cost,
        Type::Similar,
        Type::LlmJudge,
        Type::Javascript,
        Type::Python,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Type::Equals => "equals",
            Type::Contains => "contains",
            Type::IContains => "icontains",
            Type::ContainsAny => "contains-any",
            Type::ContainsAll => "contains-all",
            Type::IContainsAny => "icontains-any",
            Type::IContainsAll => "icontains-all",
            Type::StartsWith => "starts-with",
            Type::Regex => "regex",
            Type::IsJson => "is-json",
            Type::ContainsJson => "contains-json",
            Type::Levenshtein => "levenshtein",
            Type::WordCount => "word-count",
            Type::Latency => "latency",
            Type::Cost => "cost",
            Type::Similar => "similar",
            Type::LlmJudge => "llm-judge",
            Type::Javascript => "javascript",
            Type::Python => "python",
        }
    }

    fn parse(name: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the type needs a model's help (an embedding or a verdict).
    pub fn is_graded(self) -> bool {
        matches!(self, Type::Similar | Type::LlmJudge)
    }

    /// Whether the type runs the user's code.
    pub fn is_scripted(self) -> bool {
        matches!(self, Type::Javascript | Type::Python)
    }
}

impl Serialize for Type {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The minimum similarity a `similar` assertion asks for by default.
pub const DEFAULT_SIMILARITY: f64 = 0.8;

/// What an assertion does with an output.
#[derive(Debug, Clone)]
pub enum Rule {
    /// A check of the output's text.
    Check(Check),
    /// The provider call took at most this long.
    Latency { max_ms: f64 },
    /// The call cost at most this much.
    Cost { max_usd: f64 },
    /// The output means nearly the same as one of the references.
    Similar {
        references: Vec<String>,
        threshold: f64,
        provider: Option<String>,
    },
    /// A judge model grades the output against a rubric.
    Judge {
        rubric: String,
        threshold: Option<f64>,
        provider: Option<String>,
    },
    /// The user's code decides: it returns a boolean, a score (passing
    /// above 0, or at the threshold) or a `{pass, score, reason}` object.
    Script {
        script: Script,
        threshold: Option<f64>,
        /// The assertion's `config`, given to the code as `context.config`.
        config: Option<Arc<Value>>,
    },
}

/// A compiled assertion, ready to run on outputs.
#[derive(Debug, Clone)]
pub struct Assertion {
    pub kind: Type,
    pub negate: bool,
    pub weight: f64,
    /// The value as shown in reports (`"Paris"`, `["a", "b"]`, `≤ 800 ms`).
    pub expected: String,
    pub rule: Rule,
    /// The named metric it counts toward.
    pub metric: Option<String>,
    /// The script that reshapes the output for this assertion alone.
    pub transform: Option<Arc<Script>>,
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
    /// The named metric it counts toward.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

impl AssertionResult {
    /// The type as written, with its `not-` prefix.
    pub fn type_name(&self) -> String {
        full_name(self.kind, self.negate)
    }
}

/// What an output is judged on besides its text.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub output: &'a str,
    /// The provider call's latency as first measured.
    pub latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
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

    /// The assertion's type, without negation.
    pub fn base_type(&self) -> Result<Type, String> {
        self.parse_type().map(|(kind, _)| kind)
    }

    /// Whether the value holds `{{ … }}` or `{% … %}` that must be rendered
    /// with each case's variables before the assertion compiles.
    pub fn is_templated(&self) -> bool {
        self.texts()
            .iter()
            .any(|s| s.contains("{{") || s.contains("{%"))
    }

    /// Every text inside the value (a list's items included; a JSON
    /// Schema's texts are data, not templates, so they are left out).
    pub fn texts(&self) -> Vec<&str> {
        match &self.value {
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Checks the type, the value's shape, the weight and the threshold; a
    /// templated value compiles per case, so only its type is checked here.
    pub fn validate(&self) -> Result<(), String> {
        if self.is_templated() {
            self.parse_type()?;
            self.check_weight()?;
            return Ok(());
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

    /// Returns a copy with every text in the value passed through `render`.
    pub fn render_value(
        &self,
        mut render: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<AssertionSpec, String> {
        let value = match &self.value {
            Some(Value::String(s)) => Some(Value::String(render(s)?)),
            Some(Value::Array(items)) => Some(Value::Array(
                items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => render(s).map(Value::String),
                        other => Ok(other.clone()),
                    })
                    .collect::<Result<_, _>>()?,
            )),
            other => other.clone(),
        };
        Ok(AssertionSpec {
            value,
            ..self.clone()
        })
    }

    fn text(&self) -> Result<String, String> {
        match &self.value {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(other) => Err(format!("'{}' needs a text value, not {other}", self.kind)),
            None => Err(format!("'{}' needs a value", self.kind)),
        }
    }

    fn texts_list(&self) -> Result<Vec<String>, String> {
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
    }

    fn no_value(&self) -> Result<(), String> {
        match &self.value {
            None => Ok(()),
            Some(_) => Err(format!("'{}' takes no value; set threshold", self.kind)),
        }
    }

    fn no_threshold(&self) -> Result<(), String> {
        match self.threshold {
            None => Ok(()),
            Some(_) => Err(format!("'{}' takes no threshold", self.kind)),
        }
    }

    fn required_threshold(&self, what: &str) -> Result<f64, String> {
        match self.threshold {
            Some(t) if t.is_finite() && t >= 0.0 => Ok(t),
            Some(t) => Err(format!(
                "'{}' threshold {t} must be a number of at least 0",
                self.kind
            )),
            None => Err(format!("'{}' needs a threshold: {what}", self.kind)),
        }
    }

    fn unit_threshold(&self) -> Result<Option<f64>, String> {
        match self.threshold {
            Some(t) if !(0.0..=1.0).contains(&t) => Err(format!(
                "'{}' threshold {t} is not between 0 and 1",
                self.kind
            )),
            t => Ok(t),
        }
    }

    /// `is-json` and `contains-json`, with an optional JSON Schema.
    fn json_rule(&self, kind: Type) -> Result<(Rule, String), String> {
        self.no_threshold()?;
        let check = |schema| match kind {
            Type::IsJson => Check::IsJson(schema),
            _ => Check::ContainsJson(schema),
        };
        match &self.value {
            None => Ok((Rule::Check(check(None)), String::new())),
            Some(schema @ Value::Object(_)) => {
                let validator = jsonschema::Validator::new(schema)
                    .map_err(|e| format!("invalid JSON Schema: {e}"))?;
                Ok((
                    Rule::Check(check(Some(Arc::new(validator)))),
                    "matching the schema".into(),
                ))
            }
            Some(other) => Err(format!(
                "'{}' takes no value, or a JSON Schema object, not {other}",
                self.kind
            )),
        }
    }

    /// `javascript` and `python`: inline code or a `file://` script; the
    /// threshold, any number, is the least passing score.
    fn script_rule(&self, kind: Type) -> Result<(Rule, String), String> {
        let language = match kind {
            Type::Javascript => Language::JavaScript,
            _ => Language::Python,
        };
        let code = match &self.value {
            Some(Value::String(code)) => code,
            Some(other) => {
                return Err(format!(
                    "'{}' needs its code or a file://script as text, not {other}",
                    self.kind
                ));
            }
            None => {
                return Err(format!(
                    "'{}' needs a value: its code or a file://script",
                    self.kind
                ));
            }
        };
        let script = Script::parse(code, language).map_err(|m| format!("'{}': {m}", self.kind))?;
        let threshold = match self.threshold {
            Some(t) if !t.is_finite() => {
                return Err(format!("'{}' threshold {t} is not a number", self.kind));
            }
            t => t,
        };
        let mut expected = script.to_string();
        if let Some(config) = &self.config {
            expected.push_str(&format!(" with config {config}"));
        }
        let config = self.config.clone().map(Arc::new);
        Ok((
            Rule::Script {
                script,
                threshold,
                config,
            },
            expected,
        ))
    }

    /// `levenshtein`: a text and the most edits allowed.
    fn levenshtein_rule(&self) -> Result<(Rule, String), String> {
        let value = self.text()?;
        let max = self.required_threshold("the most edits allowed")?;
        if max.fract() != 0.0 {
            return Err(format!(
                "'{}' threshold {max} must be a whole number of edits",
                self.kind
            ));
        }
        let expected = format!("{value:?} within {max} edits");
        Ok((
            Rule::Check(Check::Levenshtein {
                expected: value,
                max: max as usize,
            }),
            expected,
        ))
    }

    /// `word-count`: an exact count or a range.
    fn word_count_rule(&self) -> Result<(Rule, String), String> {
        self.no_threshold()?;
        let (min, max) = word_bounds(&self.value).map_err(|m| format!("'{}' {m}", self.kind))?;
        let expected = match (min, max) {
            (Some(a), Some(b)) if a == b => format!("{a} words"),
            (Some(a), Some(b)) => format!("{a}–{b} words"),
            (Some(a), None) => format!("≥ {a} words"),
            (None, Some(b)) => format!("≤ {b} words"),
            (None, None) => unreachable!("word_bounds rejects an empty range"),
        };
        Ok((Rule::Check(Check::WordCount { min, max }), expected))
    }

    /// A check against one text: equals, contains, icontains, starts-with,
    /// regex.
    fn text_rule(&self, kind: Type) -> Result<(Rule, String), String> {
        self.no_threshold()?;
        let value = self.text()?;
        let expected = format!("{value:?}");
        let check = match kind {
            Type::Equals => Check::Equals(value),
            Type::Contains => Check::Contains(value),
            Type::IContains => Check::IContains(value.to_lowercase()),
            Type::StartsWith => Check::StartsWith(value),
            _ => Check::Regex(
                Regex::new(&value).map_err(|e| format!("invalid regex {value:?}: {e}"))?,
            ),
        };
        Ok((Rule::Check(check), expected))
    }

    /// A check against a list of texts: (i)contains-any, (i)contains-all.
    fn texts_rule(&self, kind: Type) -> Result<(Rule, String), String> {
        self.no_threshold()?;
        let values = self.texts_list()?;
        let expected = format!("{values:?}");
        let lower = |values: Vec<String>| values.iter().map(|v| v.to_lowercase()).collect();
        let check = match kind {
            Type::ContainsAny => Check::ContainsAny(values),
            Type::ContainsAll => Check::ContainsAll(values),
            Type::IContainsAny => Check::IContainsAny(lower(values)),
            _ => Check::IContainsAll(lower(values)),
        };
        Ok((Rule::Check(check), expected))
    }

    /// Compiles the assertion; the error says what is wrong with it.
    pub fn compile(&self) -> Result<Assertion, String> {
        let (kind, negate) = self.parse_type()?;
        let weight = self.check_weight()?;
        if self.provider.is_some() && !kind.is_graded() {
            return Err(format!("'{}' takes no provider", self.kind));
        }
        if self.config.is_some() && !kind.is_scripted() {
            return Err(format!(
                "'{}' takes no config (javascript and python assertions do)",
                self.kind
            ));
        }
        let (rule, expected) = match kind {
            Type::Equals | Type::Contains | Type::IContains | Type::StartsWith | Type::Regex => {
                self.text_rule(kind)?
            }
            Type::ContainsAny | Type::ContainsAll | Type::IContainsAny | Type::IContainsAll => {
                self.texts_rule(kind)?
            }
            Type::IsJson | Type::ContainsJson => self.json_rule(kind)?,
            Type::Levenshtein => self.levenshtein_rule()?,
            Type::WordCount => self.word_count_rule()?,
            Type::Latency => {
                self.no_value()?;
                let max_ms = self.required_threshold("the most milliseconds the call may take")?;
                (Rule::Latency { max_ms }, format!("≤ {max_ms} ms"))
            }
            Type::Cost => {
                self.no_value()?;
                let max_usd = self.required_threshold("the most USD the call may cost")?;
                (Rule::Cost { max_usd }, format!("≤ ${max_usd}"))
            }
            Type::Similar => {
                let references = self.texts_list()?;
                let threshold = self.unit_threshold()?.unwrap_or(DEFAULT_SIMILARITY);
                let expected = format!("{references:?} ≥ {threshold}");
                (
                    Rule::Similar {
                        references,
                        threshold,
                        provider: self.provider.clone(),
                    },
                    expected,
                )
            }
            Type::Javascript | Type::Python => self.script_rule(kind)?,
            Type::LlmJudge => {
                let rubric = self.text()?;
                let threshold = self.unit_threshold()?;
                let expected = format!("{rubric:?}");
                (
                    Rule::Judge {
                        rubric,
                        threshold,
                        provider: self.provider.clone(),
                    },
                    expected,
                )
            }
        };
        let transform = self
            .transform
            .as_deref()
            .map(|t| Script::parse(t, Language::JavaScript).map(Arc::new))
            .transpose()
            .map_err(|m| format!("'{}' transform: {m}", self.kind))?;
        Ok(Assertion {
            kind,
            negate,
            weight,
            expected,
            rule,
            metric: self.metric.clone(),
            transform,
        })
    }
}

/// `value = 50` (exactly) or `value = { min = 10, max = 80 }`.
fn word_bounds(value: &Option<Value>) -> Result<(Option<usize>, Option<usize>), String> {
    let count = |v: &Value| {
        v.as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| format!("bounds must be whole numbers, not {v}"))
    };
    let (min, max) = match value {
        Some(n @ Value::Number(_)) => {
            let n = count(n)?;
            (Some(n), Some(n))
        }
        Some(Value::Object(map)) => {
            if let Some(key) = map.keys().find(|k| *k != "min" && *k != "max") {
                return Err(format!("takes min and max, not {key}"));
            }
            (
                map.get("min").map(count).transpose()?,
                map.get("max").map(count).transpose()?,
            )
        }
        Some(other) => return Err(format!("needs a number or {{ min, max }}, not {other}")),
        None => return Err("needs a value: a number or { min, max }".into()),
    };
    match (min, max) {
        (None, None) => Err("needs min or max".into()),
        (Some(a), Some(b)) if a > b => Err(format!("min {a} is above max {b}")),
        bounds => Ok(bounds),
    }
}

impl Assertion {
    /// Whether a model must grade this assertion.
    pub fn is_graded(&self) -> bool {
        self.kind.is_graded()
    }

    /// Whether the user's code decides this assertion.
    pub fn is_scripted(&self) -> bool {
        self.kind.is_scripted()
    }

    /// Evaluates an assertion that needs neither a model nor a script;
    /// `None` for a graded or scripted one.
    pub fn evaluate(&self, ctx: &Context<'_>) -> Option<AssertionResult> {
        let outcome = match &self.rule {
            Rule::Check(check) => check.run(ctx.output),
            Rule::Latency { max_ms } => match ctx.latency_ms {
                Some(ms) => Outcome {
                    passed: ms <= *max_ms,
                    reason: format!("the call took {ms:.0} ms (at most {max_ms} allowed)"),
                },
                None => Outcome {
                    passed: false,
                    reason: "no call latency was measured (the output was given)".into(),
                },
            },
            Rule::Cost { max_usd } => match ctx.cost_usd {
                Some(usd) => Outcome {
                    passed: usd <= *max_usd,
                    reason: format!("the call cost ${usd:.6} (at most ${max_usd} allowed)"),
                },
                None => Outcome {
                    passed: false,
                    reason: "the call's cost is unknown (no usage or no price for the model)"
                        .into(),
                },
            },
            Rule::Similar { .. } | Rule::Judge { .. } | Rule::Script { .. } => return None,
        };
        Some(self.result(outcome.passed, None, outcome.reason))
    }

    /// Applies negation: a negated assertion passes when the check fails,
    /// and scores the complement.
    pub(crate) fn result(
        &self,
        passed: bool,
        graded_score: Option<f64>,
        reason: String,
    ) -> AssertionResult {
        let score = graded_score.unwrap_or(if passed { 1.0 } else { 0.0 });
        AssertionResult {
            kind: self.kind,
            negate: self.negate,
            passed: passed != self.negate,
            score: if self.negate { 1.0 - score } else { score },
            weight: self.weight,
            expected: self.expected.clone(),
            reason,
            metric: self.metric.clone(),
        }
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
            threshold: None,
            provider: None,
            metric: None,
            config: None,
            transform: None,
        }
    }

    fn ctx(output: &str) -> Context<'_> {
        Context {
            output,
            latency_ms: None,
            cost_usd: None,
        }
    }

    fn passes_spec(s: AssertionSpec, c: &Context<'_>) -> bool {
        s.compile().unwrap().evaluate(c).unwrap().passed
    }

    fn passes(kind: &str, value: Value, output: &str) -> bool {
        passes_spec(spec(kind, Some(value)), &ctx(output))
    }

    #[test]
    fn every_output_type_and_its_negation() {
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            ("equals", json!("Bonjour"), "Bonjour", "bonjour"),
            ("contains", json!("ß"), "Straße", "Strasse"),
            ("icontains", json!("ÉTÉ"), "un été chaud", "un hiver"),
            ("contains-any", json!(["猫", "dog"]), "a 猫", "a bird"),
            ("contains-all", json!(["a", "b"]), "b and a", "only a"),
            ("icontains-any", json!(["ÉTÉ", "Dog"]), "un été", "a bird"),
            ("icontains-all", json!(["A", "ß"]), "STRAßE and a", "only a"),
            ("starts-with", json!("✅"), "✅ done", "done ✅"),
            ("regex", json!("^[0-9]+$"), "12345", "12a45"),
            ("word-count", json!({"min": 2, "max": 3}), "deux mots", "un"),
        ];
        for (kind, value, good, bad) in cases {
            assert!(passes(kind, value.clone(), good), "{kind} on {good:?}");
            assert!(!passes(kind, value.clone(), bad), "{kind} on {bad:?}");
            let not = format!("not-{kind}");
            assert!(!passes(&not, value.clone(), good), "{not} on {good:?}");
            assert!(passes(&not, value, bad), "{not} on {bad:?}");
        }
        let is_json = spec("is-json", None).compile().unwrap();
        assert!(is_json.evaluate(&ctx("{\"ключ\": 1}")).unwrap().passed);
        assert!(!is_json.evaluate(&ctx("nope")).unwrap().passed);
        let not_json = spec("not-is-json", None).compile().unwrap();
        assert!(not_json.evaluate(&ctx("nope")).unwrap().passed);
        assert!(!not_json.evaluate(&ctx("[]")).unwrap().passed);

        let schema = json!({"type": "object", "required": ["id"]});
        assert!(passes("is-json", schema.clone(), r#"{"id": 1}"#));
        assert!(!passes("is-json", schema.clone(), r#"{"name": 1}"#));
        assert!(passes("not-is-json", schema, r#"{"name": 1}"#));

        let lev = |kind: &str, t| AssertionSpec {
            threshold: Some(t),
            ..spec(kind, Some(json!("colour")))
        };
        assert!(passes_spec(lev("levenshtein", 1.0), &ctx("color")));
        assert!(!passes_spec(lev("levenshtein", 0.0), &ctx("color")));
        assert!(passes_spec(lev("not-levenshtein", 0.0), &ctx("color")));
    }

    #[test]
    fn latency_and_cost_read_the_call() {
        let limited = |kind: &str, t| AssertionSpec {
            threshold: Some(t),
            ..spec(kind, None)
        };
        let call = Context {
            output: "x",
            latency_ms: Some(850.0),
            cost_usd: Some(0.002),
        };
        assert!(passes_spec(limited("latency", 1000.0), &call));
        assert!(!passes_spec(limited("latency", 800.0), &call));
        assert!(passes_spec(limited("not-latency", 800.0), &call));
        assert!(passes_spec(limited("cost", 0.01), &call));
        assert!(!passes_spec(limited("cost", 0.001), &call));
        assert!(passes_spec(limited("not-cost", 0.001), &call));
        let given = limited("latency", 1000.0)
            .compile()
            .unwrap()
            .evaluate(&ctx("x"))
            .unwrap();
        assert!(!given.passed);
        assert_eq!(
            given.reason,
            "no call latency was measured (the output was given)"
        );
    }

    #[test]
    fn negation_inverts_score_too() {
        let r = spec("not-contains", Some(json!("x")))
            .compile()
            .unwrap()
            .evaluate(&ctx("x"))
            .unwrap();
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
            "'is-json' takes no value, or a JSON Schema object, not \"x\""
        );
        assert!(
            err(spec("is-json", Some(json!({"type": 12})))).starts_with("invalid JSON Schema: ")
        );
        assert!(err(spec("regex", Some(json!("(")))).starts_with("invalid regex \"(\""));
        assert_eq!(
            err(spec("contains-any", Some(json!([])))),
            "'contains-any' needs at least one value"
        );
        assert_eq!(
            err(spec("levenshtein", Some(json!("a")))),
            "'levenshtein' needs a threshold: the most edits allowed"
        );
        assert_eq!(
            err(spec("latency", None)),
            "'latency' needs a threshold: the most milliseconds the call may take"
        );
        assert_eq!(
            err(spec("word-count", Some(json!({"min": 5, "max": 2})))),
            "'word-count' min 5 is above max 2"
        );
        assert_eq!(
            err(AssertionSpec {
                threshold: Some(2.0),
                ..spec("similar", Some(json!("a")))
            }),
            "'similar' threshold 2 is not between 0 and 1"
        );
        assert_eq!(
            err(AssertionSpec {
                provider: Some("gpt".into()),
                ..spec("equals", Some(json!("a")))
            }),
            "'equals' takes no provider"
        );
        let mut weighted = spec("equals", Some(json!("a")));
        weighted.weight = Some(-1.0);
        assert_eq!(err(weighted), "weight -1 must be a number of at least 0");
    }

    #[test]
    fn templated_values_validate_type_only() {
        let s = spec("regex", Some(json!("^{{ expected }}$")));
        assert!(s.is_templated());
        assert!(s.validate().is_ok());
        let rendered = s
            .render_value(|t| Ok(t.replace("{{ expected }}", "4")))
            .unwrap();
        assert!(
            rendered
                .compile()
                .unwrap()
                .evaluate(&ctx("4"))
                .unwrap()
                .passed
        );
        let schema = spec(
            "is-json",
            Some(json!({"description": "{{ not a template }}"})),
        );
        assert!(!schema.is_templated(), "schema texts are data");
    }
}
