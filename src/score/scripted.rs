//! `javascript` and `python` assertions: the context their code is given
//! (promptfoo's: the prompt, the variables, the test, the provider and
//! its response), and what their answer means, by promptfoo's rules.

use serde_json::{Value, json};

use crate::assertion::{Assertion, AssertionResult, Language, Rule};
use crate::ingest::cases::Case;
use crate::record::CaseRecord;
use crate::script::{Input, Returned, ScriptError, Scripts};

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

/// Runs the case's scripted assertions on `output`; each result comes
/// with its assertion's index, and `timed` hears how long each took.
pub fn run(
    scripts: &Scripts,
    case: &Case,
    output: Input,
    context: &Value,
    mut timed: impl FnMut(&Assertion, std::time::Duration),
) -> Vec<(usize, AssertionResult)> {
    let shared = context.to_string();
    let mut results = Vec::new();
    for (i, assertion) in case.assertions.iter().enumerate() {
        let Rule::Script {
            script,
            threshold,
            config,
        } = &assertion.rule
        else {
            continue;
        };
        let own = config.as_ref().map(|config| {
            let mut context = context.clone();
            context["config"] = Value::clone(config);
            context.to_string()
        });
        let started = std::time::Instant::now();
        let returned = scripts.assertion(
            script,
            *threshold,
            output,
            own.as_deref().unwrap_or(&shared),
        );
        timed(assertion, started.elapsed());
        results.push((i, assertion.scripted(returned)));
    }
    results
}

impl Assertion {
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
