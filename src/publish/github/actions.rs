//! The GitHub Actions workflow commands and files: secret masks, step
//! outputs, the step summary and annotations. Text is built by pure
//! functions; only [`append`] touches a file.

use std::io::Write;
use std::path::Path;

use crate::compare::verdict::{Comparison, Severity};

/// GitHub shows at most this many errors and warnings per step.
pub const ANNOTATIONS_PER_LEVEL: usize = 10;

/// Whether a variable name looks like it holds a secret.
fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"]
        .iter()
        .any(|word| upper.contains(word))
}

/// Shorter values are not masked: a mask hides every occurrence in the
/// log, and a short one (`true`, `1234`) would blank out ordinary text
/// while protecting nothing a key is made of.
const MASK_MIN_CHARS: usize = 8;

/// `::add-mask::` lines for every value (each line of it) of 8 characters
/// or more in `vars` whose name looks secret, so the runner hides them in
/// everything printed after.
pub fn masks<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    vars.into_iter()
        .filter(|(name, _)| is_secret_name(name))
        .flat_map(|(_, value)| value.lines())
        .filter(|line| line.trim().chars().count() >= MASK_MIN_CHARS)
        .map(|line| format!("::add-mask::{line}"))
        .collect()
}

/// `name=value` lines for `$GITHUB_OUTPUT`; a value with a newline uses the
/// heredoc form with a delimiter the value does not contain.
pub fn outputs(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if value.contains('\n') || value.contains('\r') {
            let mut delimiter = "AI_EVALS_EOF".to_string();
            while value.contains(&delimiter) {
                delimiter.push('_');
            }
            out.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            out.push_str(&format!("{name}={value}\n"));
        }
    }
    out
}

/// Encodes a workflow command's message: `%`, CR and LF.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Encodes a workflow command's property: the message's escapes plus `:`
/// and `,`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::error` lines for critical regressions and `::warning` lines for
/// major ones, at most ten of each.
pub fn annotations(suite: &str, comparison: &Comparison) -> Vec<String> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut add = |severity: Severity, text: String| {
        let (list, command) = match severity {
            Severity::Critical => (&mut errors, "error"),
            Severity::Major => (&mut warnings, "warning"),
            _ => return,
        };
        if list.len() < ANNOTATIONS_PER_LEVEL {
            list.push(format!(
                "::{command} title={}::{}",
                escape_property(&format!(
                    "ai-evals {suite}: {} regression",
                    severity.as_str()
                )),
                escape_data(&text)
            ));
        }
    };
    if comparison.quality_severity >= Severity::Major {
        let q = &comparison.quality;
        add(
            comparison.quality_severity,
            format!(
                "pass rate {:.1}% → {:.1}%, {} cases newly failing",
                100.0 * q.baseline_pass_rate.unwrap_or(0.0),
                100.0 * q.current_pass_rate.unwrap_or(0.0),
                q.newly_failing.len()
            ),
        );
    }
    if let Some(suite) = &comparison.suite
        && comparison.suite_severity >= Severity::Major
    {
        add(
            comparison.suite_severity,
            format!(
                "the suite's pass rate fell from {}/{} to {}/{} cases, at least {:.0}% worse",
                suite.baseline_passed,
                suite.baseline_cases,
                suite.current_passed,
                suite.current_cases,
                100.0 * suite.worse
            ),
        );
    }
    for f in comparison.regressions() {
        add(
            f.severity,
            format!(
                "{} {:+.0}% (at least {:.0}% worse)",
                f.name,
                100.0 * f.change.estimate,
                100.0 * f.magnitude
            ),
        );
    }
    errors.extend(warnings);
    errors
}

/// Appends `text` to the file a workflow variable names.
pub fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_by_name_and_others_are_not() {
        let vars = [
            ("OPENAI_API_KEY", "sk-live-1234"),
            ("GITHUB_TOKEN", "ghs_abcdef"),
            ("HOME", "/home/runner"),
            ("MY_SECRET", "first line\nshort\nthird line"),
            ("SHORT_TOKEN", "true"),
        ];
        assert_eq!(
            masks(vars),
            [
                "::add-mask::sk-live-1234",
                "::add-mask::ghs_abcdef",
                "::add-mask::first line",
                "::add-mask::third line"
            ]
        );
    }

    #[test]
    fn outputs_use_a_heredoc_for_multi_line_values() {
        let text = outputs(&[
            ("verdict", "pass".into()),
            ("reasons", "a\nAI_EVALS_EOF\nb".into()),
        ]);
        assert_eq!(
            text,
            "verdict=pass\nreasons<<AI_EVALS_EOF_\na\nAI_EVALS_EOF\nb\nAI_EVALS_EOF_\n"
        );
    }

    #[test]
    fn annotation_text_cannot_start_a_command() {
        assert_eq!(escape_data("50%\n::error::x"), "50%25%0A::error::x");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
