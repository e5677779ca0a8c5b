//! The run report: a summary built while results stream past (so memory
//! does not grow with the suite), rendered as text from a template or as
//! JSON.

mod summary;

use minijinja::Environment;

use crate::error::{Error, Result};

pub use summary::{Failure, Report, Summary, TypeCount};

/// The text report template, embedded so the binary needs no files.
const TERMINAL: &str = include_str!("../../templates/terminal.txt.j2");
/// The comparison section, shared by the run report and `ai-evals compare`.
const COMPARISON: &str = include_str!("../../templates/comparison.txt.j2");

/// Renders the terminal report.
pub fn render_text(report: &Report) -> Result<String> {
    render(
        "terminal.txt",
        minijinja::Value::from(minijinja::value::Serde(report)),
    )
}

/// Renders a comparison on its own, for `ai-evals compare`.
pub fn render_comparison(
    compared: &crate::baseline::Compared,
    reasons: &[String],
    fail_on: &str,
) -> Result<String> {
    let mut text = render(
        "comparison.txt",
        minijinja::context! { comparison => minijinja::Value::from(minijinja::value::Serde(compared)) },
    )?;
    if !reasons.is_empty() {
        text.push_str(&format!("\nGate failed (--fail-on {fail_on}):\n"));
        for reason in reasons {
            text.push_str(&format!("  ✗ {reason}\n"));
        }
    }
    Ok(text)
}

fn render(name: &str, context: minijinja::Value) -> Result<String> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("trim and lstrip blocks are valid syntax options"),
    );
    env.add_filter("ljust", |s: String, width: usize| format!("{s:<width$}"));
    env.add_filter("rjust", |s: String, width: usize| format!("{s:>width$}"));
    env.add_filter("percent", |x: f64| format!("{:.1}%", x * 100.0));
    env.add_filter("ms", |x: f64| format_ms(x));
    env.add_filter("signed_percent", |x: f64| signed(100.0 * x, "%"));
    env.add_filter("signed_points", |x: f64| signed(100.0 * x, " pp"));
    env.add_filter("figure", |x: f64, unit: String| figure(x, &unit));
    for (template, source) in [("terminal.txt", TERMINAL), ("comparison.txt", COMPARISON)] {
        env.add_template(template, source)
            .map_err(|e| Error::runtime(format!("the {template} template is invalid: {e}")))?;
    }
    env.get_template(name)
        .and_then(|t| t.render(context))
        .map_err(|e| Error::runtime(format!("cannot render the {name} report: {e}")))
}

/// A change with its sign; not-a-number (no estimate) as "n/a".
fn signed(x: f64, unit: &str) -> String {
    if x.is_finite() {
        format!("{x:+.1}{unit}")
    } else {
        "n/a".into()
    }
}

/// A value in its unit: times as ms or s, ratios as percent, money in USD.
fn figure(x: f64, unit: &str) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    match unit {
        "ms" => format_ms(x),
        "ratio" => format!("{:.1}%", 100.0 * x),
        "USD" => format!("${x:.5}"),
        "MB" => format!("{x:.0} MB"),
        "tokens" => format!("{x:.0}"),
        _ => format!("{x:.3}"),
    }
}

/// Renders the report as JSON, for scripts.
pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("the report serializes to JSON")
}

fn format_ms(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}
