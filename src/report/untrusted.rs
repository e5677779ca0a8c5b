//! A report another job wrote (`report.json`, say a fork's pull-request
//! run), read as untrusted input: checked against `report.schema.json`,
//! which caps every field, before it is parsed. Its links are dropped (the
//! caller rebuilds them from what it trusts), and its strings are escaped
//! when rendered, as every string in a Markdown template is.

use std::path::Path;

use serde_json::Value;

use super::{Links, Report};
use crate::error::{Error, Result};

/// The report's JSON Schema.
pub const SCHEMA: &str = include_str!("report.schema.json");

/// A `report.json` larger than this is refused unread.
pub const MAX_BYTES: u64 = 32 << 20;

/// How many schema violations a refusal lists.
const SHOWN: usize = 5;

/// Reads and checks `path`; any problem is an input error naming it.
pub fn read(path: &Path) -> Result<Report> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?
        .len();
    if size > MAX_BYTES {
        return Err(Error::input(format!(
            "{} is {size} bytes; a report.json has at most {MAX_BYTES}",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
    parse(&text).map_err(|m| {
        Error::input(format!(
            "{} is not a report.json that ai-evals accepts: {m}",
            path.display()
        ))
    })
}

/// Why a text is not a report.json ai-evals accepts.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("not JSON ({0})")]
    NotJson(serde_json::Error),
    /// Where the file breaks which rule (the first few), joined by `; `.
    #[error("{}", .0.join("; "))]
    Schema(Vec<String>),
    #[error("its fields do not fit this ai-evals' report ({0})")]
    Fields(serde_json::Error),
}

/// The report in `text`, once it matches the schema; without its links.
pub fn parse(text: &str) -> std::result::Result<Report, Refused> {
    let value: Value = serde_json::from_str(text).map_err(Refused::NotJson)?;
    let schema: Value = serde_json::from_str(SCHEMA).expect("the report schema is JSON");
    let validator = jsonschema::Validator::new(&schema).expect("the report schema is valid");
    // Where the file breaks which rule, never the offending value: it may
    // be a megabyte, or text meant for the log.
    let broken: Vec<String> = validator
        .iter_errors(&value)
        .take(SHOWN)
        .map(|e| {
            format!(
                "{} breaks {}",
                or_root(e.instance_path().as_str()),
                e.schema_path().as_str()
            )
        })
        .collect();
    if !broken.is_empty() {
        return Err(Refused::Schema(broken));
    }
    let mut report: Report = serde_json::from_value(value).map_err(Refused::Fields)?;
    report.links = Links::default();
    Ok(report)
}

fn or_root(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the document"
    } else {
        pointer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Status, Summary};

    fn report() -> Report {
        let mut report = Summary::default().report(
            "demo",
            "20261127T120000Z-abcdef",
            "h.duckdb",
            Status::Finished,
            0.9,
            Vec::new(),
        );
        report.links.run = Some("https://evil.example".into());
        report
    }

    #[test]
    fn what_ai_evals_writes_it_reads_back_without_links() {
        let json = crate::report::render_json(&report());
        let back = parse(&json).unwrap();
        assert_eq!(back.suite, "demo");
        assert_eq!(back.links.run, None);
    }

    #[test]
    fn oversized_and_forged_fields_are_refused() {
        let good: Value = serde_json::from_str(&crate::report::render_json(&report())).unwrap();
        let with = |pointer: &str, value: Value| {
            let mut v = good.clone();
            *v.pointer_mut(pointer).unwrap() = value;
            parse(&v.to_string())
        };
        let long = "x".repeat(200_000);
        for (pointer, value, rule) in [
            (
                "/suite",
                Value::from("demo --> <!-- x"),
                "/properties/suite/pattern",
            ),
            (
                "/suite",
                Value::from("s".repeat(65)),
                "/properties/suite/pattern",
            ),
            (
                "/run_id",
                Value::from("a\n::error::x"),
                "/properties/run_id/pattern",
            ),
            (
                "/gate_reasons",
                serde_json::json!([long.clone()]),
                "maxLength",
            ),
            (
                "/failures",
                serde_json::json!([{"output": long.clone()}]),
                "anyOf",
            ),
            (
                "/fail_on",
                Value::from("CRITICAL!"),
                "/properties/fail_on/pattern",
            ),
        ] {
            let e = with(pointer, value).unwrap_err().to_string();
            assert!(e.contains(rule), "{pointer}: {e}");
            assert!(!e.contains("xxxxxxxxxx"), "the value is not echoed");
        }
        let mut extra = good.clone();
        extra["marker"] = Value::from("<!-- ai-evals:other -->");
        assert!(
            parse(&extra.to_string())
                .unwrap_err()
                .to_string()
                .contains("additionalProperties")
        );
        assert!(parse("[1, 2]").is_err());
        assert!(parse("{").unwrap_err().to_string().starts_with("not JSON"));
    }
}
