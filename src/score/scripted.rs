//! `javascript` and `python` assertions: the context their code is given
//! (promptfoo's: the prompt, the variables, the test, the provider and
//! its response), and what their answer means, by promptfoo's rules.

use serde_json::{Value, json};

use crate::assertion::{Assertion, AssertionResult, Context, Language, Rule};
use crate::ingest::cases::Case;
use crate::record::CaseRecord;
use crate::script::{Input, Returned, ScriptError, Scripts, Transformed};

/// The context a case's scripts are given: promptfoo's `context`
/// (`prompt`, `vars`, `test`, `provider`, `providerResponse`; an
/// assertion's `config` is added for its own call).
pub fn context(case: &Case, record: &CaseRecord) -> Value {
    let usage = record.usage.as_ref().map(|u| {
        json!({
            "prompt": u.prompt_tokens,
            "completion": u.completion_tokens,
            "total": u.prompt_tokens + u.completion_tokens,
        })
    });
    json!({
        "prompt": case.prompt,
        "vars": &*case.vars,
        "test": {
            "description": case.description,
            "vars": &*case.vars,
            "options": {},
            "metadata": {},
        },
        "provider": { "id": record.provider, "label": record.provider },
        "providerResponse": {
            "output": record.output,
            "tokenUsage": usage,
            "cost": record.cost_usd,
            "cached": record.cached,
            "latencyMs": record.original_latency_ms,
        },
    })
}

/// What the scripted checks of a case are given: the output (text, or a
/// transform's value), the call's measures, and the scripts' context.
pub struct Checked<'a> {
    pub output: Input<'a>,
    pub latency_ms: Option<f64>,
    pub cost_usd: Option<f64>,
    /// The case's script context (see [`context`]).
    pub context: &'a Value,
}

/// Runs what of the case needs the scripts: `javascript` and `python`
/// assertions, and every other (not model-graded) assertion that has its
/// own `transform`, on the output that transform makes. Each result comes
/// with its assertion's index; `timed` hears how long each took.
pub fn run(
    scripts: &Scripts,
    case: &Case,
    checked: &Checked,
    mut timed: impl FnMut(&Assertion, std::time::Duration),
) -> Vec<(usize, AssertionResult)> {
    let shared = checked.context.to_string();
    let mut results = Vec::new();
    for (i, assertion) in case.assertions.iter().enumerate() {
        if assertion.is_graded() || !(assertion.is_scripted() || assertion.transform.is_some()) {
            continue;
        }
        let started = std::time::Instant::now();
        let result = match assertion_output(scripts, assertion, case, checked.output) {
            Err(reason) => assertion.failed(reason),
            Ok(own) => {
                let output = own.as_ref().map_or(checked.output, Transformed::input);
                check(scripts, assertion, checked, output, &shared)
            }
        };
        timed(assertion, started.elapsed());
        results.push((i, result));
    }
    results
}

/// One assertion on `output`: its code, or its deterministic check.
fn check(
    scripts: &Scripts,
    assertion: &Assertion,
    checked: &Checked,
    output: Input,
    shared: &str,
) -> AssertionResult {
    let Rule::Script {
        script,
        threshold,
        config,
    } = &assertion.rule
    else {
        let text = match output {
            Input::Text(text) | Input::Json(text) => text,
        };
        let ctx = Context {
            output: text,
            latency_ms: checked.latency_ms,
            cost_usd: checked.cost_usd,
        };
        return assertion
            .evaluate(&ctx)
            .expect("a check that is neither graded nor scripted evaluates");
    };
    let own = config.as_ref().map(|config| {
        let mut context = checked.context.clone();
        context["config"] = Value::clone(config);
        context.to_string()
    });
    let context = own.as_deref().unwrap_or(shared);
    assertion.scripted(scripts.assertion(script, *threshold, output, context))
}

/// The output an assertion's own transform makes (`None` without one),
/// as promptfoo calls it: with the variables and the prompt as `label`.
pub fn assertion_output(
    scripts: &Scripts,
    assertion: &Assertion,
    case: &Case,
    output: Input,
) -> Result<Option<Transformed>, String> {
    let Some(transform) = &assertion.transform else {
        return Ok(None);
    };
    let context = json!({ "vars": &*case.vars, "prompt": { "label": case.prompt } }).to_string();
    scripts
        .transform_output(transform, output, &context)
        .map(Some)
        .map_err(|e| format!("the assertion's transform failed: {e}"))
}

impl Assertion {
    /// A failed result with the reason, negated or not.
    pub fn failed(&self, reason: String) -> AssertionResult {
        AssertionResult {
            kind: self.kind,
            negate: self.negate,
            passed: false,
            score: 0.0,
            weight: self.weight,
            expected: self.expected.clone(),
            reason,
            metric: self.metric.clone(),
        }
    }

    /// The result of a scripted assertion from what its code returned,
    /// as promptfoo reads it: `true`/`false`; a number, which is the score
    /// and passes above 0 (at the threshold, when there is one); or a
    /// `{pass, score, reason}`. Negation flips the verdict and, for a
    /// boolean, the score; a number's or an object's score stays as the
    /// code gave it. A script that failed fails the assertion, negated or
    /// not.
    pub fn scripted(&self, returned: Result<Returned, ScriptError>) -> AssertionResult {
        let Rule::Script {
            script, threshold, ..
        } = &self.rule
        else {
            unreachable!("{} is not a scripted assertion", self.kind.name());
        };
        let code = match script.language {
            Language::JavaScript => "Custom function",
            Language::Python => "Python code",
        };
        let verdict = |pass: bool, raw: bool| {
            if pass {
                "Assertion passed".to_string()
            } else {
                format!("{code} returned {raw}")
            }
        };
        let (passed, score, reason) = match returned {
            Ok(Returned::Bool(raw)) => {
                let pass = raw != self.negate;
                (pass, if pass { 1.0 } else { 0.0 }, verdict(pass, raw))
            }
            Ok(Returned::Number(n)) => {
                let raw = threshold.map_or(n > 0.0, |t| n >= t);
                let pass = raw != self.negate;
                (pass, n, verdict(pass, raw))
            }
            Ok(Returned::Grading {
                pass: raw,
                score,
                reason,
            }) => {
                let pass = raw != self.negate;
                let reason = if pass == raw {
                    reason
                } else {
                    verdict(pass, raw)
                };
                (pass, score, reason)
            }
            Err(e) => (false, 0.0, format!("{code} failed: {e}")),
        };
        AssertionResult {
            kind: self.kind,
            negate: self.negate,
            passed,
            // A score that is no number (NaN) counts as 0.
            score: if score.is_nan() { 0.0 } else { score },
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
    use crate::assertion::AssertionSpec;

    fn assertion(kind: &str, threshold: Option<f64>) -> Assertion {
        AssertionSpec {
            kind: kind.into(),
            value: Some(Value::from("output")),
            weight: None,
            threshold,
            provider: None,
            metric: None,
            config: None,
            transform: None,
        }
        .compile()
        .unwrap()
    }

    #[test]
    fn results_mean_what_they_mean_in_promptfoo() {
        let js = assertion("javascript", None);
        let r = js.scripted(Ok(Returned::Bool(false)));
        assert_eq!(
            (r.passed, r.score, r.reason.as_str()),
            (false, 0.0, "Custom function returned false")
        );
        let r = js.scripted(Ok(Returned::Number(0.3)));
        assert_eq!(
            (r.passed, r.score),
            (true, 0.3),
            "above 0 passes without a threshold"
        );
        let r = assertion("javascript", Some(0.5)).scripted(Ok(Returned::Number(0.3)));
        assert_eq!((r.passed, r.score), (false, 0.3));
        let not = assertion("not-javascript", Some(0.5));
        let r = not.scripted(Ok(Returned::Number(0.3)));
        assert_eq!(
            (r.passed, r.score),
            (true, 0.3),
            "a negated number keeps its score"
        );
        let r = not.scripted(Ok(Returned::Bool(true)));
        assert_eq!((r.passed, r.score), (false, 0.0));
        let graded = Returned::Grading {
            pass: true,
            score: 0.8,
            reason: "polite".into(),
        };
        let r = js.scripted(Ok(graded.clone()));
        assert_eq!(
            (r.passed, r.score, r.reason.as_str()),
            (true, 0.8, "polite")
        );
        let r = not.scripted(Ok(graded));
        assert_eq!(
            (r.passed, r.score, r.reason.as_str()),
            (false, 0.8, "Custom function returned true")
        );
        let r = not.scripted(Err(ScriptError::Failed("boom".into())));
        assert_eq!(
            (r.passed, r.score),
            (false, 0.0),
            "a failed script never passes"
        );
        let py = assertion("python", None);
        assert_eq!(
            py.scripted(Ok(Returned::Bool(false))).reason,
            "Python code returned false"
        );
        assert_eq!(js.scripted(Ok(Returned::Number(f64::NAN))).score, 0.0);
    }
}
