//! Model-graded assertions: `similar` (embeddings) and `llm-rubric` (a judge).

use serde_json::Value;

use super::super::Ctx;
use super::super::providers::{self, GraderKind};
use super::{Assert, Graded, Origin, Spec};

/// `similar` / `similar:cosine`: cosine similarity to the closest reference.
pub(super) fn similar(ctx: &mut Ctx, a: &Assert, graded: &mut Graded) -> Option<Spec> {
    let refs = references(ctx, a)?;
    let default = if a.origin == Origin::Csv { 0.8 } else { 0.75 };
    let t = a.threshold.unwrap_or(default); // `assertion.threshold ?? 0.75`
    if !(0.0..=1.0).contains(&t) {
        return a.skip(
            ctx,
            &format!("threshold {t} is outside 0..1, which ai-evals requires"),
        );
    }
    if a.negate {
        a.warn(ctx, &format!("at a similarity of exactly {t}, not-similar passes in promptfoo and fails in ai-evals"));
    }
    let value = if refs.len() == 1 {
        refs[0].clone()
    } else {
        Value::Array(refs)
    };
    let spec = Spec::new("similar", a.negate).value(value).threshold(t);
    graded.embeddings = true;
    with_grader(ctx, a, spec, GraderKind::Embeddings)
}

/// The reference texts of a `similar`, templates translated.
fn references(ctx: &mut Ctx, a: &Assert) -> Option<Vec<Value>> {
    match &a.value {
        Some(Value::String(s)) => Some(vec![Value::String(a.template(ctx, s)?)]),
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_string) => {
            let mut v = Vec::new();
            for s in items.iter().filter_map(Value::as_str) {
                v.push(Value::String(a.template(ctx, s)?));
            }
            Some(v)
        }
        _ => a.skip(ctx, "needs a text or a list of texts"),
    }
}

/// `llm-rubric` → `llm-judge`: a judge grades the output against the rubric.
pub(super) fn llm_rubric(ctx: &mut Ctx, a: &Assert, graded: &mut Graded) -> Option<Spec> {
    let rubric = match &a.value {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return a.skip(
            ctx,
            "needs a text rubric (object rubrics and rubricPrompt-only rubrics are not converted)",
        ),
    };
    let mut spec = Spec::new("llm-judge", a.negate).value(Value::String(a.template(ctx, &rubric)?));
    if let Some(t) = a.threshold {
        if !(0.0..=1.0).contains(&t) {
            return a.skip(
                ctx,
                &format!("threshold {t} is outside 0..1, which ai-evals requires"),
            );
        }
        spec = spec.threshold(t);
    }
    if a.threshold.is_some() {
        a.warn(ctx, "a judge score above 1 (a 0–10 or 0–100 scale) is compared with the threshold as it is in promptfoo, and as a share (8 → 0.8) in ai-evals");
    } else {
        a.warn(ctx, "a judge answer with a score and no `pass` passes in promptfoo whatever the score, and in ai-evals only at a score of 0.5 or more (a 0–10 or 0–100 score read as a share)");
    }
    graded.judge = true;
    with_grader(ctx, a, spec, GraderKind::Judge)
}

/// Adds the grading provider: the assertion's own `provider`, else the
/// test's `options.provider`; neither means `[grading]`'s. `None`: skipped.
fn with_grader(ctx: &mut Ctx, a: &Assert, spec: Spec, kind: GraderKind) -> Option<Spec> {
    let provider = match a.node.get("provider") {
        Some(p) => Some(providers::grader(ctx, p, kind, a.place)?),
        None => a.test_grader.map(str::to_string),
    };
    Some(match provider {
        Some(p) => spec.provider(p),
        None => spec,
    })
}
