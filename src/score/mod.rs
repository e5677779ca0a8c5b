//! Scoring: the score of a case (the weighted mean of its assertions'
//! results), the model-graded assertions' grades, the grading stage that
//! obtains them through the executor, and the worker pool that scores.
//!
//! The score itself is pure: values in, values out. The model-graded
//! assertions (`similar`, `llm-judge`) need an embedding or a judge's
//! verdict, which [`grading`] obtains and hands back as a [`Grade`].

pub mod graded;
pub mod grading;
pub mod pool;
pub mod scripted;

use std::sync::Arc;

use crate::assertion::{Assertion, AssertionResult, Context, Rule};

pub use graded::{Verdict, cosine, parse_verdict};

/// What the grading stage found for a model-graded assertion.
#[derive(Debug, Clone, PartialEq)]
pub enum Grade {
    /// The best cosine similarity between the output and a reference.
    Similarity(f64),
    Verdict(Verdict),
    /// Grading failed (no embedding, no valid verdict): never a silent pass.
    Failed(String),
}

/// A case's score and verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseScore {
    pub score: f64,
    pub passed: bool,
    pub assertions: Vec<AssertionResult>,
}

// Grading belongs here, not to the assertion language: only scoring
// knows what a model's verdict or an embedding means.
impl Assertion {
    /// The result of a graded assertion from what grading found.
    pub fn grade(&self, grade: Grade) -> AssertionResult {
        match (grade, &self.rule) {
            (Grade::Similarity(similarity), Rule::Similar { threshold, .. }) => self.result(
                similarity >= *threshold,
                Some(similarity),
                format!("similarity {similarity:.3} (at least {threshold} wanted)"),
            ),
            (Grade::Verdict(v), Rule::Judge { threshold, .. }) => {
                let passed = v.passes(*threshold);
                let reason = if v.reason.is_empty() {
                    format!("judge score {:.2}", v.score)
                } else {
                    format!("judge score {:.2}: {}", v.score, v.reason)
                };
                self.result(passed, Some(v.score), reason)
            }
            // A grading failure fails the assertion, negated or not.
            (Grade::Failed(reason), _) => self.failed(reason),
            (grade, _) => unreachable!("{grade:?} does not grade a {} assertion", self.kind.name()),
        }
    }
}

/// Scores a case: each assertion's result (`graded` holds the model-graded
/// and scripted ones, by index; `timed` hears how long each other one
/// took), then the weighted mean. With a threshold the case
/// passes when the score reaches it; without one, every assertion of
/// non-zero weight must pass (weight 0 marks an informational assertion).
/// A case with no assertions passes with score 1.
pub fn score(
    assertions: &[Arc<Assertion>],
    threshold: Option<f64>,
    ctx: &Context<'_>,
    graded: &[(usize, AssertionResult)],
    mut timed: impl FnMut(&Assertion, std::time::Duration),
) -> CaseScore {
    let results: Vec<AssertionResult> = assertions
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if a.is_graded() || a.is_scripted() || a.transform.is_some() {
                return graded_result(a, i, graded);
            }
            let started = std::time::Instant::now();
            let result = a.evaluate(ctx);
            timed(a, started.elapsed());
            result.expect("assertions that are not graded evaluate")
        })
        .collect();
    combine(results, threshold)
}

/// The result grading found for assertion `index`, or a failure if none.
fn graded_result(
    assertion: &Assertion,
    index: usize,
    graded: &[(usize, AssertionResult)],
) -> AssertionResult {
    graded
        .iter()
        .find(|(j, _)| *j == index)
        .map(|(_, r)| r.clone())
        .unwrap_or_else(|| match assertion.rule {
            Rule::Script { .. } => {
                assertion.scripted(Err(crate::script::ScriptError::Failed("not run".into())))
            }
            _ => assertion.grade(Grade::Failed("not graded".into())),
        })
}

/// A case's score and verdict from its assertion results (see [`score`]).
fn combine(results: Vec<AssertionResult>, threshold: Option<f64>) -> CaseScore {
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
    use crate::assertion::AssertionSpec;
    use serde_json::Value;
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

    #[test]
    fn graded_assertions_and_their_negation() {
        let similar = spec("similar", Some(json!(["Paris is the capital"])))
            .compile()
            .unwrap();
        assert!(similar.evaluate(&ctx("x")).is_none());
        let r = similar.grade(Grade::Similarity(0.91));
        assert!(r.passed);
        assert_eq!(r.score, 0.91);
        assert!(!similar.grade(Grade::Similarity(0.5)).passed);
        let not_similar = spec("not-similar", Some(json!("x"))).compile().unwrap();
        let r = not_similar.grade(Grade::Similarity(0.5));
        assert!(r.passed);
        assert!((r.score - 0.5).abs() < 1e-12);

        let judge = spec("llm-judge", Some(json!("Is polite")))
            .compile()
            .unwrap();
        let verdict = |score, pass| {
            Grade::Verdict(Verdict {
                score,
                pass: Some(pass),
                reason: "ok".into(),
            })
        };
        assert!(judge.grade(verdict(0.9, true)).passed);
        assert!(
            !judge.grade(verdict(0.9, false)).passed,
            "without a threshold pass decides"
        );
        let strict = AssertionSpec {
            threshold: Some(0.95),
            ..spec("llm-judge", Some(json!("Is polite")))
        }
        .compile()
        .unwrap();
        assert!(!strict.grade(verdict(0.9, true)).passed);
        assert!(
            !strict.grade(verdict(0.97, false)).passed,
            "a judge that says fail fails, whatever its score"
        );
        let not_judge = spec("not-llm-judge", Some(json!("Is rude")))
            .compile()
            .unwrap();
        assert!(not_judge.grade(verdict(0.1, false)).passed);
        let failed = not_judge.grade(Grade::Failed("no JSON".into()));
        assert!(
            !failed.passed,
            "a grading failure never passes, even negated"
        );
    }

    #[test]
    fn weighted_mean_threshold_and_graded_results() {
        let a = |kind: &str, value: &str, weight: f64| {
            let mut s = spec(kind, Some(json!(value)));
            s.weight = Some(weight);
            Arc::new(s.compile().unwrap())
        };
        let assertions = vec![a("contains", "a", 3.0), a("contains", "z", 1.0)];
        let scored = score(&assertions, None, &ctx("abc"), &[], |_, _| {});
        assert_eq!(scored.score, 0.75);
        assert!(
            !scored.passed,
            "without a threshold every assertion must pass"
        );
        assert!(score(&assertions, Some(0.75), &ctx("abc"), &[], |_, _| {}).passed);
        assert!(!score(&assertions, Some(0.76), &ctx("abc"), &[], |_, _| {}).passed);

        let informational = vec![a("contains", "a", 1.0), a("contains", "z", 0.0)];
        let scored = score(&informational, None, &ctx("abc"), &[], |_, _| {});
        assert!(scored.passed);
        assert_eq!(scored.score, 1.0);

        let none = score(&[], None, &ctx("anything"), &[], |_, _| {});
        assert!(none.passed);
        assert_eq!(none.score, 1.0);

        let mixed = vec![a("contains", "a", 1.0), a("similar", "abc", 1.0)];
        let graded = vec![(1, mixed[1].grade(Grade::Similarity(0.9)))];
        let scored = score(&mixed, None, &ctx("abc"), &graded, |_, _| {});
        assert!(scored.passed);
        assert!((scored.score - 0.95).abs() < 1e-12);
        let ungraded = score(&mixed, None, &ctx("abc"), &[], |_, _| {});
        assert!(!ungraded.passed);
        assert_eq!(ungraded.assertions[1].reason, "not graded");
    }
}
