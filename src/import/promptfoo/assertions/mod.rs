//! promptfoo assertions → ai-evals assertions.
//!
//! Each supported type is mapped so that the ai-evals assertion passes exactly
//! when promptfoo's does (see the table in the crate's report). Where the
//! ai-evals core behaves differently in a way the converter can work around,
//! the value is rewritten (an object `equals` becomes `is-json` with a
//! `const` schema; a comma-separated `contains-any` string becomes a list; a
//! JavaScript regex is translated; promptfoo's default thresholds are written
//! out). Everything else is skipped with the reason.
//!
//! [`convert`] reads the assertion into an [`Assert`], hands it to the
//! converter of its family (`text`: equals, contains, regex, …; `measured`:
//! is-json, levenshtein, word-count, latency, cost; `graded`: similar and
//! llm-rubric), then [`finish`] adds what every type shares.

mod csv;
mod graded;
mod measured;
mod scripts;
mod text;

use serde_json::Value;

use super::yaml::Node;
use super::{Ctx, Place};
use crate::assertion::{AssertionSpec, Language};

pub use csv::from_csv_string;
pub use scripts::script_warnings;

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

/// One promptfoo assertion being converted: the node, where it is, and what
/// was read from it, so that each family's converter takes it whole.
struct Assert<'a> {
    node: &'a Node,
    place: &'a Place,
    origin: Origin,
    /// The test's `options.provider`, the grader when the assertion names none.
    test_grader: Option<&'a str>,
    /// How messages name it: assertion `not-contains`.
    what: String,
    negate: bool,
    /// The type without `not-`.
    base: String,
    /// The value, with a `file://` value loaded.
    value: Option<Value>,
    threshold: Option<f64>,
}

/// A converted assertion before the keys every type shares are added.
struct Spec {
    kind: String,
    negate: bool,
    value: Option<Value>,
    threshold: Option<f64>,
    provider: Option<String>,
    /// A script assertion's `config`.
    config: Option<Value>,
}

impl Spec {
    fn new(kind: &str, negate: bool) -> Spec {
        Spec {
            kind: kind.to_string(),
            negate,
            value: None,
            threshold: None,
            provider: None,
            config: None,
        }
    }

    fn value(mut self, value: Value) -> Spec {
        self.value = Some(value);
        self
    }

    fn threshold(mut self, threshold: f64) -> Spec {
        self.threshold = Some(threshold);
        self
    }

    fn provider(mut self, provider: String) -> Spec {
        self.provider = Some(provider);
        self
    }
}

impl Assert<'_> {
    /// Records the assertion as skipped; `None` so callers can return it.
    fn skip<T>(&self, ctx: &mut Ctx, why: &str) -> Option<T> {
        ctx.skip(self.place.clone(), &self.what, why);
        None
    }

    fn note(&self, ctx: &mut Ctx, why: &str) {
        ctx.note(self.place.clone(), &self.what, why);
    }

    /// Converted, but promptfoo may pass or fail it differently.
    fn warn(&self, ctx: &mut Ctx, why: &str) {
        ctx.warn(self.place.clone(), &self.what, why);
    }

    /// A text of the value translated to minijinja (`None`: skipped).
    fn template(&self, ctx: &mut Ctx, text: &str) -> Option<String> {
        ctx.template(text, self.place, &self.what)
    }
}

/// A converted assertion, or nothing (skipped, with the reason recorded
/// in `ctx`).
pub fn convert(
    ctx: &mut Ctx,
    node: &Node,
    place: &Place,
    origin: Origin,
    test_grader: Option<&str>,
    graded: &mut Graded,
) -> Option<AssertionSpec> {
    let a = read(ctx, node, place, origin, test_grader)?;
    let spec = match a.base.as_str() {
        "equals" => text::equals(ctx, &a),
        "contains" | "icontains" | "starts-with" => text::one_text(ctx, &a),
        "contains-any" | "contains-all" | "icontains-any" | "icontains-all" => {
            text::any_or_all(ctx, &a)
        }
        "regex" => text::regex(ctx, &a),
        "is-json" | "contains-json" => measured::json(ctx, &a),
        "javascript" | "python" => scripts::script(ctx, &a),
        "levenshtein" => measured::levenshtein(ctx, &a),
        "word-count" => measured::word_count(ctx, &a),
        "latency" | "cost" => measured::required_threshold(ctx, &a),
        "similar" | "similar:cosine" => graded::similar(ctx, &a, graded),
        "llm-rubric" => graded::llm_rubric(ctx, &a, graded),
        other => a.skip(ctx, unsupported_reason(other)),
    }?;
    finish(ctx, &a, spec)
}

/// Reads the type, the keys and the value; `None` when the assertion cannot
/// be kept whatever its type.
fn read<'a>(
    ctx: &mut Ctx,
    node: &'a Node,
    place: &'a Place,
    origin: Origin,
    test_grader: Option<&'a str>,
) -> Option<Assert<'a>> {
    let Some(entries) = node.entries() else {
        ctx.skip(place.clone(), "assertion", "is not a mapping with a `type`");
        return None;
    };
    let Some(kind) = node.get("type").and_then(Node::as_str) else {
        ctx.skip(place.clone(), "assertion", "has no `type`");
        return None;
    };
    let (negate, base) = match kind.strip_prefix("not-") {
        Some(b) => (true, b.to_string()),
        None => (false, kind.to_string()),
    };
    let mut a = Assert {
        node,
        place,
        origin,
        test_grader,
        what: format!("assertion `{kind}`"),
        negate,
        base,
        value: None,
        threshold: node.get("threshold").and_then(Node::as_f64),
    };
    for (key, _) in entries {
        check_key(ctx, &a, key)?;
    }
    a.value = load_value(ctx, &a)?;
    Some(a)
}

/// Keys that change what is checked: the assertion cannot be kept without
/// them. `None` when the key rules the assertion out.
fn check_key(ctx: &mut Ctx, a: &Assert, key: &str) -> Option<()> {
    match key {
        "type" | "value" | "threshold" | "weight" | "metric" | "provider" => Some(()),
        "config" if matches!(a.base.as_str(), "javascript" | "python") => Some(()),
        "transform" => match a.node.get("transform").and_then(Node::as_str) {
            Some(_) => Some(()),
            None => a.skip(
                ctx,
                "its `transform` is not a text of code or a file://script",
            ),
        },
        "rubricPrompt" if a.base == "llm-rubric" => a.skip(
            ctx,
            "its own `rubricPrompt` (a per-assertion judge prompt) has no ai-evals counterpart",
        ),
        "fallback" | "normalizeUnicode" | "evidence" => {
            a.note(
                ctx,
                &format!(
                    "`{key}` is not an assertion key in promptfoo 0.123, which ignores it; dropped"
                ),
            );
            Some(())
        }
        other => {
            a.note(
                ctx,
                &format!("key `{other}` ignored (promptfoo does not use it for this type)"),
            );
            Some(())
        }
    }
}

/// The value as JSON, as promptfoo resolves it before the check: a
/// `file://` value loads the file, and so does a `file://` item of a list.
/// `None`: skipped.
fn load_value(ctx: &mut Ctx, a: &Assert) -> Option<Option<Value>> {
    let Some(v) = a.node.get("value").filter(|v| !v.is_null()) else {
        return Some(None);
    };
    let scripted = matches!(a.base.as_str(), "javascript" | "python");
    let loaded = match v.to_json() {
        Value::String(s) if s.starts_with("package:") => Err(
            "the value comes from running an npm package's function, which ai-evals does not load"
                .into(),
        ),
        // A script assertion's file is its code, run by ai-evals too.
        Value::String(s) if scripted => Ok(Value::String(s)),
        Value::String(s) => match s.strip_prefix("file://") {
            Some(rel) => ctx.load_value_file(rel),
            None => Ok(Value::String(s)),
        },
        Value::Array(items) => items
            .into_iter()
            .map(
                |item| match item.as_str().and_then(|s| s.strip_prefix("file://")) {
                    Some(rel) => ctx.read_value_file(rel),
                    None => Ok(item),
                },
            )
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other),
    };
    match loaded {
        Ok(v) => Some(Some(v)),
        Err(why) => a.skip(ctx, &why),
    }
}

/// An assertion whose outcome promptfoo decides from its value alone (an
/// empty list, a negative threshold): `regex ""` matches every output, so
/// it or its negation has the same fixed outcome.
fn constant(ctx: &mut Ctx, a: &Assert, passes: bool, why: &str) -> Option<Spec> {
    let outcome = if passes {
        "always passes"
    } else {
        "always fails"
    };
    a.note(
        ctx,
        &format!(
            "{why}: it {outcome} in promptfoo; converted to a `regex \"\"` that does the same"
        ),
    );
    Some(Spec::new("regex", !passes).value(Value::String(String::new())))
}

/// Adds the type, weight and metric; drops thresholds the type does not use.
fn finish(ctx: &mut Ctx, a: &Assert, spec: Spec) -> Option<AssertionSpec> {
    let kind = if spec.negate {
        format!("not-{}", spec.kind)
    } else {
        spec.kind.clone()
    };
    let weight = match a.node.get("weight") {
        None => None,
        Some(w) => match w.as_f64() {
            Some(w) if w >= 0.0 && w.is_finite() => Some(w),
            _ => {
                return a.skip(
                    ctx,
                    "a negative or non-numeric weight has no ai-evals counterpart",
                );
            }
        },
    };
    let metric = a
        .node
        .get("metric")
        .and_then(Node::as_str)
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    let transform = a
        .node
        .get("transform")
        .and_then(Node::as_str)
        .map(str::to_string);
    if let Some(code) = &transform {
        script_warnings(ctx, code, Language::JavaScript, a.place, &a.what);
    }
    note_unused_keys(ctx, a, &spec.kind);
    Some(AssertionSpec {
        kind,
        value: spec.value,
        weight,
        threshold: spec.threshold,
        provider: spec.provider,
        metric,
        config: spec.config,
        transform,
    })
}

/// A `threshold` or `provider` that promptfoo does not read for the type is
/// dropped, and said so (a CSV threshold is a default, not the user's).
fn note_unused_keys(ctx: &mut Ctx, a: &Assert, kind: &str) {
    let uses_threshold = matches!(
        kind,
        "levenshtein" | "latency" | "cost" | "similar" | "llm-judge" | "javascript" | "python"
    );
    if !uses_threshold && a.node.get("threshold").is_some() && a.origin == Origin::Yaml {
        a.note(
            ctx,
            "its `threshold` is not used by promptfoo for this type; dropped",
        );
    }
    if a.node.get("provider").is_some() && !matches!(kind, "similar" | "llm-judge") {
        a.note(
            ctx,
            "its `provider` is not used by promptfoo for this type; dropped",
        );
    }
}

/// Why promptfoo assertion types without an ai-evals counterpart are skipped.
fn unsupported_reason(base: &str) -> &'static str {
    match base {
        "ruby" => "runs Ruby; ai-evals runs JavaScript and Python only",
        "webhook" => "calls a webhook; ai-evals has no webhook assertion",
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
        | "agent-rubric"
        | "trajectory:goal-success"
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
        | "trace-span-duration"
        | "skill-used"
        | "trajectory:tool-args-match"
        | "trajectory:step-count"
        | "trajectory:tool-sequence"
        | "trajectory:tool-used" => {
            "needs provider metadata, tool calls or traces ai-evals does not record"
        }
        _ => "no ai-evals assertion type does this",
    }
}
