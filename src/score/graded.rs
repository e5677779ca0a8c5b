//! The pure halves of the model-graded scorers: cosine similarity of
//! embeddings, and reading a judge's verdict out of its answer.

use serde_json::Value;

/// Cosine similarity of two vectors; 0 when either is all zeros or their
/// lengths differ (an embedding API never returns that for one model).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    (dot / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0)
}

/// A judge's structured verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// From 0 to 1.
    pub score: f64,
    /// What the judge said; `None` when it gave only a score.
    pub pass: Option<bool>,
    pub reason: String,
}

impl Verdict {
    /// Whether the verdict passes: with a threshold, the score must reach
    /// it and the judge must not have said fail (as promptfoo's
    /// `llm-rubric` decides, so imported suites agree with it); without
    /// one, the judge's word, or a score of at least 0.5 when it gave none.
    pub fn passes(&self, threshold: Option<f64>) -> bool {
        match threshold {
            Some(t) => self.pass != Some(false) && self.score >= t,
            None => self.pass.unwrap_or(self.score >= 0.5),
        }
    }
}

/// Why a judge's answer is no verdict; the message quotes what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerdictError {
    #[error("the answer holds no JSON object")]
    NoObject,
    #[error("\"score\" is not a number: {0:?}")]
    ScoreText(String),
    #[error("\"score\" is not a number: {0}")]
    Score(Value),
    #[error("\"score\" is not a finite number: {0}")]
    NotFinite(f64),
    #[error("\"pass\" is not true or false: {0}")]
    Pass(Value),
    #[error("the JSON has neither \"score\" nor \"pass\"")]
    Neither,
}

/// Reads `{"score": …, "pass": …, "reason": …}` from a judge's answer: the
/// whole answer, a fenced ```json block, or the first balanced `{…}` in
/// prose. A missing `score` follows `pass`. Anything else is an error quoting what was wrong.
pub fn parse_verdict(answer: &str) -> Result<Verdict, VerdictError> {
    let object = candidates(answer)
        .into_iter()
        .find_map(|text| match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        })
        .ok_or(VerdictError::NoObject)?;
    let score = match object.get("score") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<f64>()
                .map_err(|_| VerdictError::ScoreText(s.clone()))?,
        ),
        Some(other) => return Err(VerdictError::Score(other.clone())),
    };
    let pass = match object.get("pass") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        Some(other) => return Err(VerdictError::Pass(other.clone())),
    };
    let (score, pass) = match (score, pass) {
        (Some(s), p) => {
            if !s.is_finite() {
                return Err(VerdictError::NotFinite(s));
            }
            // Judges asked for 0..1 sometimes answer on a 0..10 or 0..100 scale.
            let s = if s > 1.0 && s <= 10.0 {
                s / 10.0
            } else if s > 10.0 && s <= 100.0 {
                s / 100.0
            } else {
                s
            };
            (s.clamp(0.0, 1.0), p)
        }
        (None, Some(p)) => (if p { 1.0 } else { 0.0 }, Some(p)),
        (None, None) => return Err(VerdictError::Neither),
    };
    let reason = match object.get("reason") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Ok(Verdict {
        score,
        pass,
        reason,
    })
}

/// The texts that may hold the verdict, most likely first.
fn candidates(answer: &str) -> Vec<&str> {
    let mut out = vec![answer.trim()];
    let mut rest = answer;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map_or(0, |i| i + 1);
        let Some(end) = after[body_start..].find("```") else {
            break;
        };
        out.push(after[body_start..body_start + end].trim());
        rest = &after[body_start + end + 3..];
    }
    if let Some(object) = first_balanced_object(answer) {
        out.push(object);
    }
    out
}

/// The first `{…}` whose braces balance, skipping braces inside strings.
fn first_balanced_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text[start..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-12);
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-12);
        // (1,2,3)·(4,5,6) = 32; |a| = √14, |b| = √77.
        let expected = 32.0 / (14f64.sqrt() * 77f64.sqrt());
        assert!((cosine(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - expected).abs() < 1e-7);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
        // Scale does not matter.
        assert!((cosine(&[3.0, 4.0], &[30.0, 40.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn plain_json_verdict() {
        let v = parse_verdict(r#"{"score": 0.8, "pass": true, "reason": "Polite and correct."}"#)
            .unwrap();
        assert_eq!(
            v,
            Verdict {
                score: 0.8,
                pass: Some(true),
                reason: "Polite and correct.".into()
            }
        );
    }

    #[test]
    fn fenced_json_and_prose() {
        let fenced = "Here is my grade:\n```json\n{\"score\": 0.2, \"pass\": false, \"reason\": \"Wrong city.\"}\n```\nThanks!";
        assert_eq!(parse_verdict(fenced).unwrap().score, 0.2);
        let prose = "After reviewing, {\"score\": 1, \"reason\": \"uses {braces} \\\"quoted\\\"\"} is my verdict.";
        let v = parse_verdict(prose).unwrap();
        assert!(v.passes(None));
        assert_eq!(v.reason, "uses {braces} \"quoted\"");
    }

    #[test]
    fn missing_fields_follow_each_other_and_scales_are_normalised() {
        assert_eq!(parse_verdict(r#"{"pass": false}"#).unwrap().score, 0.0);
        assert!(!parse_verdict(r#"{"score": 0.3}"#).unwrap().passes(None));
        assert!(
            parse_verdict(r#"{"score": 0.3}"#)
                .unwrap()
                .passes(Some(0.3))
        );
        assert_eq!(parse_verdict(r#"{"score": "7"}"#).unwrap().score, 0.7);
        assert_eq!(parse_verdict(r#"{"score": 85}"#).unwrap().score, 0.85);
    }

    #[test]
    fn with_a_threshold_a_judge_that_says_fail_fails() {
        let said = |pass| Verdict {
            score: 0.9,
            pass,
            reason: String::new(),
        };
        assert!(!said(Some(false)).passes(Some(0.8)));
        assert!(said(Some(true)).passes(Some(0.8)));
        assert!(said(None).passes(Some(0.8)));
        assert!(!said(Some(true)).passes(Some(0.95)));
        assert!(!said(Some(false)).passes(None));
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert_eq!(
            parse_verdict("I think it is good.")
                .unwrap_err()
                .to_string(),
            "the answer holds no JSON object"
        );
        assert_eq!(
            parse_verdict(r#"{"verdict": "good"}"#)
                .unwrap_err()
                .to_string(),
            "the JSON has neither \"score\" nor \"pass\""
        );
        assert_eq!(
            parse_verdict(r#"{"score": "high"}"#)
                .unwrap_err()
                .to_string(),
            "\"score\" is not a number: \"high\""
        );
        assert!(parse_verdict(r#"{"score": 0.5, "pass": "maybe"}"#).is_err());
        assert!(parse_verdict("{\"score\": 0.9").is_err(), "truncated JSON");
    }
}
