//! The run report: a summary built while results stream past (so memory
//! does not grow with the suite), rendered from minijinja templates — the
//! terminal report, the pull-request comment, the step summary, JUnit XML,
//! the HTML page ([`html`]) — or as JSON.
//!
//! The templates are embedded; `--templates DIR` replaces any of them by
//! file name (`comment.md.j2` …). In the Markdown templates every string
//! is escaped as model text is ([`escape::inline`]) unless an escaping
//! filter (`md`, `html`, `pre`) already did it for its context: suite
//! names, run ids, gate reasons, finding names and links can come from a
//! file someone else wrote (a fork's `report.json`, a shared history).
//! The HTML template escapes every value as HTML unless it is marked safe.

pub mod monitor;
pub mod performance;
pub mod progress;
pub mod throttle;

pub mod escape;
pub mod html;
mod markdown;
mod summary;
pub mod untrusted;

use std::path::Path;

use minijinja::value::{Serde, ValueKind};
use minijinja::{AutoEscape, Environment, Output, State, Value};

use crate::error::{Error, Result};

pub use summary::{Failure, Headline, Links, MatrixColumn, Report, Summary, TypeCount};

/// Every template by name, with its embedded source.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "terminal.txt",
        include_str!("../../templates/terminal.txt.j2"),
    ),
    (
        "comparison.txt",
        include_str!("../../templates/comparison.txt.j2"),
    ),
    (
        "dashboard.txt",
        include_str!("../../templates/dashboard.txt.j2"),
    ),
    ("comment.md", include_str!("../../templates/comment.md.j2")),
    ("summary.md", include_str!("../../templates/summary.md.j2")),
    ("junit.xml", include_str!("../../templates/junit.xml.j2")),
    (
        "report.html",
        include_str!("../../templates/report.html.j2"),
    ),
];

/// The templates, ready to render.
pub struct Renderer {
    env: Environment<'static>,
}

impl Renderer {
    /// The embedded templates, each replaced by `NAME.j2` from `overrides`
    /// when that file exists there. A template that does not parse is an
    /// input error naming its file.
    pub fn new(overrides: Option<&Path>) -> Result<Renderer> {
        let mut env = Environment::new();
        // Markdown escapes by default (see `write_value`), and so does HTML;
        // the text and XML templates escape with the filter their format
        // needs (xml), since minijinja's own HTML escaping of .xml would
        // double it.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".md") {
                AutoEscape::Custom(std::borrow::Cow::Borrowed(MARKDOWN))
            } else if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(write_value);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("trim and lstrip blocks are valid syntax options"),
        );
        add_filters(&mut env);
        add_templates(&mut env, overrides)?;
        Ok(Renderer { env })
    }

    pub(crate) fn render(&self, name: &str, context: minijinja::Value) -> Result<String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(context))
            .map_err(|e| Error::runtime(format!("cannot render the {name} template: {e:#}")))
    }

    /// Renders `name` into `out`, for a page too large to hold twice.
    pub(crate) fn render_to(
        &self,
        name: &str,
        context: minijinja::Value,
        out: &mut dyn std::io::Write,
    ) -> Result<()> {
        self.env
            .get_template(name)
            .and_then(|t| t.render_captured_to(context, out))
            .map(|_| ())
            .map_err(|e| Error::runtime(format!("cannot render the {name} template: {e:#}")))
    }

    /// The terminal report.
    pub fn text(&self, report: &Report) -> Result<String> {
        self.render(
            "terminal.txt",
            minijinja::Value::from(Serde(report.written())),
        )
    }

    /// A comparison on its own, for `ai-evals compare`.
    pub fn comparison(
        &self,
        compared: &crate::compare::baseline::Compared,
        reasons: &[String],
        gate: &crate::config::Gate,
    ) -> Result<String> {
        let mut text = self.render(
            "comparison.txt",
            minijinja::context! { comparison => minijinja::Value::from(Serde(compared)) },
        )?;
        if !reasons.is_empty() {
            let certain = if gate.fail_on_certain == gate.fail_on {
                String::new()
            } else {
                format!(", --fail-on-certain {}", gate.fail_on_certain.as_str())
            };
            text.push_str(&format!(
                "\nGate failed (--fail-on {}{certain}):\n",
                gate.fail_on.as_str()
            ));
            for reason in reasons {
                text.push_str(&format!("  ✗ {reason}\n"));
            }
        }
        Ok(text)
    }

    /// JUnit XML: one test case per eval case.
    pub fn junit(
        &self,
        report: &Report,
        cases: &[crate::store::read::CaseDetail],
    ) -> Result<String> {
        self.render(
            "junit.xml",
            minijinja::context! {
                report => minijinja::Value::from(Serde(report.written())),
                cases => minijinja::Value::from(Serde(cases)),
            },
        )
    }
}

/// The auto-escape mode of the Markdown templates.
const MARKDOWN: &str = "markdown";

/// Writes `{{ value }}` into a template. In Markdown, a string that no
/// escaping filter marked safe is escaped as inline text; numbers, booleans
/// and none are written as they are. In HTML, minijinja's own escaping.
fn write_value(out: &mut Output, state: &mut State, value: &Value) -> Result<(), minijinja::Error> {
    let markdown = matches!(state.auto_escape(), AutoEscape::Custom(mode) if mode == MARKDOWN);
    if !markdown {
        return minijinja::escape_formatter(out, state, value);
    }
    let escape = !value.is_safe()
        && !matches!(
            value.kind(),
            ValueKind::Number | ValueKind::Bool | ValueKind::None | ValueKind::Undefined
        );
    let written = if escape {
        out.write_str(&escape::inline(&value.to_string()))
    } else {
        out.write_fmt(format_args!("{value}"))
    };
    written.map_err(|_| {
        minijinja::Error::new(
            minijinja::ErrorKind::WriteFailure,
            "cannot write the template",
        )
    })
}

/// The report as JSON, for scripts and the result file.
pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(&report.written()).expect("the report serializes to JSON")
}

/// The filters the templates use: layout, numbers and the escapes each
/// output format needs.
fn add_filters(env: &mut Environment<'static>) {
    env.add_filter("ljust", |s: String, width: usize| format!("{s:<width$}"));
    env.add_filter("rjust", |s: String, width: usize| format!("{s:>width$}"));
    env.add_filter("percent", |x: f64| format!("{:.1}%", x * 100.0));
    env.add_filter("ms", format_ms);
    env.add_filter("signed_percent", |x: f64| signed(100.0 * x, "%"));
    env.add_filter("signed_points", |x: f64| signed(100.0 * x, " pp"));
    env.add_filter("figure", |x: Option<f64>, unit: String| {
        x.map_or_else(|| "–".to_string(), |x| figure(x, &unit))
    });
    env.add_filter("share", |x: f64, total: f64| {
        if total > 0.0 {
            format!("{:.0}%", 100.0 * x / total)
        } else {
            String::new()
        }
    });
    env.add_filter("bar", |x: f64, total: f64, width: usize| {
        let filled = if total > 0.0 {
            ((x / total).clamp(0.0, 1.0) * width as f64).round() as usize
        } else {
            0
        };
        format!("{}{}", "█".repeat(filled), " ".repeat(width - filled))
    });
    env.add_filter("because", |cause: String| {
        serde_json::from_value::<crate::compare::verdict::Cause>(serde_json::Value::String(cause))
            .map_or("", |c| c.because())
    });
    env.add_filter("md", |s: String| {
        Value::from_safe_string(escape::inline(&s))
    });
    env.add_filter("html", |s: String| {
        Value::from_safe_string(escape::html_inline(&s))
    });
    env.add_filter("pre", |s: String, max: usize| {
        Value::from_safe_string(escape::pre(&s, max))
    });
    env.add_filter("xml", |s: String| xml(&s));
    env.add_filter("short", |s: String, max: usize| escape::shorten(&s, max));
}

/// Each embedded template, or the user's `NAME.j2` from `overrides`.
fn add_templates(env: &mut Environment<'static>, overrides: Option<&Path>) -> Result<()> {
    for (name, source) in TEMPLATES {
        let file = format!("{name}.j2");
        let own = overrides
            .map(|dir| dir.join(&file))
            .filter(|path| path.is_file());
        let added = match &own {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::input(format!("cannot read template {}: {e}", path.display()))
                })?;
                env.add_template_owned(name.to_string(), text)
                    .map_err(|e| Error::input(format!("{}: {e}", path.display())))
            }
            None => env.add_template(name, source).map_err(|e| {
                Error::runtime(format!("the embedded {file} template is invalid: {e}"))
            }),
        };
        added?;
    }
    Ok(())
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

/// XML text and attribute escaping; characters XML 1.0 forbids are dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}
