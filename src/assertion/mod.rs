//! The assertion language: assertions as users write them
//! (`{ type = "contains", value = "x" }`), checked and compiled into
//! [`Assertion`]s, and the deterministic checks that run on an output.
//!
//! Everything here is pure: values in, values out, no I/O. The config
//! validates assertions with it when it loads, dataset rows compile theirs
//! with it, and scoring runs them; the model-graded ones (`similar`,
//! `llm-judge`) are graded in [`crate::score`].

mod checks;
mod error;
mod script;

use std::fmt;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use checks::{Check, Outcome};
pub use error::{BoundsError, ScriptValueError, SpecError};
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
    /// An assertion of type `kind` with `value`, and no weight, threshold,
    /// provider, metric, config or transform of its own.
    pub fn new(kind: &str, value: Option<Value>) -> AssertionSpec {
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

    fn parse_type(&self) -> Result<(Type, bool), SpecError> {
        let (negate, name) = match self.kind.strip_prefix("not-") {
            Some(rest) => (true, rest),
            None => (false, self.kind.as_str()),
        };
        match Type::parse(name) {
            Some(kind) => Ok((kind, negate)),
            None => Err(SpecError::UnknownType(self.kind.clone())),
        }
    }

    /// The assertion's type, without negation.
    pub fn base_type(&self) -> Result<Type, SpecError> {
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
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.is_templated() {
            self.parse_type()?;
            self.check_weight()?;
            return Ok(());
        }
        self.compile().map(|_| ())
    }

    fn check_weight(&self) -> Result<f64, SpecError> {
        match self.weight {
            None => Ok(1.0),
            Some(w) if w.is_finite() && w >= 0.0 => Ok(w),
            Some(w) => Err(SpecError::Weight(w)),
        }
    }

    /// Returns a copy with every text in the value passed through `render`.
    pub fn render_value<E>(
        &self,
        mut render: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<AssertionSpec, E> {
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

    fn text(&self) -> Result<String, SpecError> {
        match &self.value {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(other) => Err(SpecError::NotText {
                kind: self.kind.clone(),
                value: other.clone(),
            }),
            None => Err(SpecError::NoValue {
                kind: self.kind.clone(),
            }),
        }
    }

    fn texts_list(&self) -> Result<Vec<String>, SpecError> {
        let items = match &self.value {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::String(s)) => vec![Value::String(s.clone())],
            Some(other) => {
                return Err(SpecError::NotList {
                    kind: self.kind.clone(),
                    value: other.clone(),
                });
            }
            None => {
                return Err(SpecError::NoList {
                    kind: self.kind.clone(),
                });
            }
        };
        if items.is_empty() {
            return Err(SpecError::EmptyList {
                kind: self.kind.clone(),
            });
        }
        items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(SpecError::NotTextItem {
                    kind: self.kind.clone(),
                    value: other,
                }),
            })
            .collect()
    }

    fn no_value(&self) -> Result<(), SpecError> {
        match &self.value {
            None => Ok(()),
            Some(_) => Err(SpecError::TakesNoValue {
                kind: self.kind.clone(),
            }),
        }
    }

    fn no_threshold(&self) -> Result<(), SpecError> {
        match self.threshold {
            None => Ok(()),
            Some(_) => Err(SpecError::TakesNoThreshold {
                kind: self.kind.clone(),
            }),
        }
    }

    fn required_threshold(&self, what: &'static str) -> Result<f64, SpecError> {
        match self.threshold {
            Some(t) if t.is_finite() && t >= 0.0 => Ok(t),
            Some(threshold) => Err(SpecError::NegativeThreshold {
                kind: self.kind.clone(),
                threshold,
            }),
            None => Err(SpecError::NoThreshold {
                kind: self.kind.clone(),
                what,
            }),
        }
    }

    fn unit_threshold(&self) -> Result<Option<f64>, SpecError> {
        match self.threshold {
            Some(threshold) if !(0.0..=1.0).contains(&threshold) => Err(SpecError::NotFraction {
                kind: self.kind.clone(),
                threshold,
            }),
            t => Ok(t),
        }
    }

    /// `is-json` and `contains-json`, with an optional JSON Schema.
    fn json_rule(&self, kind: Type) -> Result<(Rule, String), SpecError> {
        self.no_threshold()?;
        let check = |schema| match kind {
            Type::IsJson => Check::IsJson(schema),
            _ => Check::ContainsJson(schema),
        };
        match &self.value {
            None => Ok((Rule::Check(check(None)), String::new())),
            Some(schema @ Value::Object(_)) => {
                let validator = jsonschema::Validator::new(schema)
                    .map_err(|e| SpecError::Schema(Box::new(e)))?;
                Ok((
                    Rule::Check(check(Some(Arc::new(validator)))),
                    "matching the schema".into(),
                ))
            }
            Some(other) => Err(SpecError::NotSchema {
                kind: self.kind.clone(),
                value: other.clone(),
            }),
        }
    }

    /// `javascript` and `python`: inline code or a `file://` script; the
    /// threshold, any number, is the least passing score.
    fn script_rule(&self, kind: Type) -> Result<(Rule, String), SpecError> {
        let language = match kind {
            Type::Javascript => Language::JavaScript,
            _ => Language::Python,
        };
        let code = match &self.value {
            Some(Value::String(code)) => code,
            Some(other) => {
                return Err(SpecError::NotCode {
                    kind: self.kind.clone(),
                    value: other.clone(),
                });
            }
            None => {
                return Err(SpecError::NoCode {
                    kind: self.kind.clone(),
                });
            }
        };
        let script = Script::parse(code, language).map_err(|source| SpecError::Script {
            kind: self.kind.clone(),
            source,
        })?;
        let threshold = match self.threshold {
            Some(threshold) if !threshold.is_finite() => {
                return Err(SpecError::NotNumber {
                    kind: self.kind.clone(),
                    threshold,
                });
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
    fn levenshtein_rule(&self) -> Result<(Rule, String), SpecError> {
        let value = self.text()?;
        let max = self.required_threshold("the most edits allowed")?;
        if max.fract() != 0.0 {
            return Err(SpecError::FractionalEdits {
                kind: self.kind.clone(),
                threshold: max,
            });
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
    fn word_count_rule(&self) -> Result<(Rule, String), SpecError> {
        self.no_threshold()?;
        let (min, max) = word_bounds(&self.value).map_err(|source| SpecError::WordCount {
            kind: self.kind.clone(),
            source,
        })?;
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
    fn text_rule(&self, kind: Type) -> Result<(Rule, String), SpecError> {
        self.no_threshold()?;
        let value = self.text()?;
        let expected = format!("{value:?}");
        let check = match kind {
            Type::Equals => Check::Equals(value),
            Type::Contains => Check::Contains(value),
            Type::IContains => Check::IContains(value.to_lowercase()),
            Type::StartsWith => Check::StartsWith(value),
            _ => Check::Regex(Regex::new(&value).map_err(|source| SpecError::Regex {
                pattern: value.clone(),
                source,
            })?),
        };
        Ok((Rule::Check(check), expected))
    }

    /// A check against a list of texts: (i)contains-any, (i)contains-all.
    fn texts_rule(&self, kind: Type) -> Result<(Rule, String), SpecError> {
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

    /// A provider is for a model-graded type only, a config for a scripted one.
    fn check_settings(&self, kind: Type) -> Result<(), SpecError> {
        if self.provider.is_some() && !kind.is_graded() {
            return Err(SpecError::TakesNoProvider {
                kind: self.kind.clone(),
            });
        }
        if self.config.is_some() && !kind.is_scripted() {
            return Err(SpecError::TakesNoConfig {
                kind: self.kind.clone(),
            });
        }
        Ok(())
    }

    /// Compiles the assertion; the error says what is wrong with it.
    pub fn compile(&self) -> Result<Assertion, SpecError> {
        let (kind, negate) = self.parse_type()?;
        let weight = self.check_weight()?;
        self.check_settings(kind)?;
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
            .map_err(|source| SpecError::Transform {
                kind: self.kind.clone(),
                source,
            })?;
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
fn word_bounds(value: &Option<Value>) -> Result<(Option<usize>, Option<usize>), BoundsError> {
    let count = |v: &Value| {
        v.as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| BoundsError::NotWhole(v.clone()))
    };
    let (min, max) = match value {
        Some(n @ Value::Number(_)) => {
            let n = count(n)?;
            (Some(n), Some(n))
        }
        Some(Value::Object(map)) => {
            if let Some(key) = map.keys().find(|k| *k != "min" && *k != "max") {
                return Err(BoundsError::UnknownKey(key.clone()));
            }
            (
                map.get("min").map(count).transpose()?,
                map.get("max").map(count).transpose()?,
            )
        }
        Some(other) => return Err(BoundsError::NotBounds(other.clone())),
        None => return Err(BoundsError::Missing),
    };
    match (min, max) {
        (None, None) => Err(BoundsError::Empty),
        (Some(min), Some(max)) if min > max => Err(BoundsError::Reversed { min, max }),
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
mod tests;
