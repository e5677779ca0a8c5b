//! The run report: a summary built while results stream past (so memory
//! does not grow with the suite), rendered as text from a template or as
//! JSON.

mod summary;

use minijinja::Environment;

use crate::error::{Error, Result};

pub use summary::{Failure, Report, Summary, TypeCount};

/// The text report template, embedded so the binary needs no files.
const TERMINAL: &str = include_str!("../../templates/terminal.txt.j2");

/// Renders the terminal report.
pub fn render_text(report: &Report) -> Result<String> {
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
    env.add_template("terminal.txt", TERMINAL)
        .map_err(|e| Error::runtime(format!("the terminal report template is invalid: {e}")))?;
    env.get_template("terminal.txt")
        .and_then(|t| t.render(minijinja::value::Serde(report)))
        .map_err(|e| Error::runtime(format!("cannot render the terminal report: {e}")))
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
