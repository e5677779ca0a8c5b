//! Dataset files (JSONL, CSV, JSON arrays) read one row at a time.
//!
//! Readers push rows into a sink instead of collecting them, so memory does
//! not grow with the file: the sink (the batcher) blocks when the pipeline is
//! full, which is the back-pressure. A row that cannot be read is handed to
//! the sink as a [`RowError`] with its `file:line`; what happens to it
//! (skipped, or fatal under `--strict`) is the caller's decision.

mod csv;
mod json;
mod jsonl;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{Format, TestSpec};
use crate::error::Result;

/// Where a row came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<PathBuf>,
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A row that could not be read; it is reported and skipped (or fatal with `--strict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub at: Location,
    pub message: String,
    /// The reader could not go on after it: the rest of the file is lost
    /// (a syntax error in a JSON array), so the suite ran short.
    pub cuts_file_short: bool,
}

/// Why a reader could not make a row of what it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unread {
    message: String,
    cuts_file_short: bool,
}

impl Unread {
    /// A bad row after which the reader cannot go on.
    pub(super) fn rest_of_file(message: String) -> Unread {
        Unread {
            message,
            cuts_file_short: true,
        }
    }
}

impl From<String> for Unread {
    fn from(message: String) -> Unread {
        Unread {
            message,
            cuts_file_short: false,
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// A row as read: its fields, or what is wrong with it.
type Object = std::result::Result<Map<String, Value>, Unread>;

/// How a format reader hands over a row: its line and its fields.
type Push<'a> = dyn FnMut(u64, Object) -> Result<()> + 'a;

/// One row, as a test spec, or the reason it could not be read.
pub type Row = std::result::Result<(Location, TestSpec), RowError>;

/// Reads `path` in `format`, pushing each row into `sink`; a row longer
/// than `max_row` bytes is a bad row. An error returned by the sink stops
/// the reading and is returned.
pub fn read(
    path: &Path,
    format: Format,
    max_row: u64,
    sink: &mut dyn FnMut(Row) -> Result<()>,
) -> Result<()> {
    let file = Arc::new(path.to_path_buf());
    let mut push = |line: u64, object: Object| {
        let at = Location {
            file: Arc::clone(&file),
            line,
        };
        let row = object
            .and_then(|o| row_to_test(o).map_err(Unread::from))
            .map(|test| (at.clone(), test))
            .map_err(|unread| RowError {
                at,
                message: unread.message,
                cuts_file_short: unread.cuts_file_short,
            });
        sink(row)
    };
    match format {
        Format::Jsonl => jsonl::read(path, max_row, &mut push),
        Format::Csv => csv::read(path, max_row, &mut push),
        Format::Json => json::read(path, max_row, &mut push),
    }
}

/// Counts a file's rows cheaply, for progress: non-blank lines of JSONL,
/// records of CSV. `None` for a JSON array, which only parsing could count,
/// and for anything but a regular file: counting a pipe would swallow the
/// rows the run itself must read, and wait for its writer to finish.
pub fn count_rows(path: &Path, format: Format) -> Option<u64> {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    match format {
        Format::Jsonl => {
            use std::io::BufRead;
            let file = std::fs::File::open(path).ok()?;
            let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
            let (mut rows, mut blank) = (0u64, true);
            loop {
                let chunk = reader.fill_buf().ok()?;
                if chunk.is_empty() {
                    return Some(rows + u64::from(!blank));
                }
                for &b in chunk {
                    if b == b'\n' {
                        rows += u64::from(!blank);
                        blank = true;
                    } else if !b.is_ascii_whitespace() {
                        blank = false;
                    }
                }
                let n = chunk.len();
                reader.consume(n);
            }
        }
        Format::Csv => {
            let mut reader = ::csv::ReaderBuilder::new()
                .flexible(true)
                .from_path(path)
                .ok()?;
            let mut record = ::csv::ByteRecord::new();
            let mut rows = 0;
            while reader.read_byte_record(&mut record).unwrap_or(false) {
                rows += 1;
            }
            Some(rows)
        }
        Format::Json => None,
    }
}

/// Turns a row object into a test.
///
/// A row with a `vars` key is structured like an inline test (`id`, `vars`,
/// `assert`, `output`, …). Any other row is flat: its keys are the variables,
/// `id` is also the case id, and keys starting with `__` set test fields
/// (`__output`, `__threshold`, `__description`, `__prompt`, `__provider`).
fn row_to_test(mut object: Map<String, Value>) -> std::result::Result<TestSpec, String> {
    if object.contains_key("vars") {
        return serde_json::from_value(Value::Object(object)).map_err(|e| e.to_string());
    }
    let mut test = TestSpec::default();
    let specials: Vec<String> = object
        .keys()
        .filter(|k| k.starts_with("__"))
        .cloned()
        .collect();
    for key in specials {
        let value = object.remove(&key).expect("key was just listed");
        let text = || match &value {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Err(format!("{key} is null")),
            other => Ok(other.to_string()),
        };
        match key.as_str() {
            "__output" => test.output = Some(text()?),
            "__description" => test.description = Some(text()?),
            "__prompt" => test.prompt = Some(text()?),
            "__provider" => test.provider = Some(text()?),
            "__threshold" => {
                let t = match &value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                };
                test.threshold = Some(t.filter(|t| (0.0..=1.0).contains(t)).ok_or_else(|| {
                    format!("__threshold {value} is not a number between 0 and 1")
                })?);
            }
            _ => {
                return Err(format!(
                    "unknown column {key}; columns starting with __ are reserved for __output, __threshold, __description, __prompt and __provider"
                ));
            }
        }
    }
    if let Some(id) = object.get("id") {
        test.id = Some(match id {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => return Err(format!("id must be a string or a number, not {other}")),
        });
    }
    test.vars = object;
    Ok(test)
}

/// Describes a serde_json parse error without its own line number (the
/// caller reports the file line).
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => format!("invalid JSON: {} (column {})", &text[..i], e.column()),
        None => format!("invalid JSON: {text}"),
    }
}

/// Names a JSON value's type for errors.
fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// Each row of `contents` read with rows capped at `max` bytes: the
    /// case id, or the error with its line.
    fn rows(name: &str, format: Format, contents: &str, max: u64) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let mut rows = Vec::new();
        read(&path, format, max, &mut |row| {
            rows.push(match row {
                Ok((at, test)) => format!("{} {}", at.line, test.id.unwrap_or_default()),
                Err(e) => format!(
                    "{} {}{}",
                    e.at.line,
                    e.message,
                    if e.cuts_file_short { " (cut)" } else { "" }
                ),
            });
            Ok(())
        })
        .unwrap();
        rows
    }

    #[test]
    fn a_row_longer_than_the_cap_is_a_bad_row_at_its_line() {
        let long = "x".repeat(200);
        let jsonl =
            format!("{{\"id\": \"a\"}}\n{{\"id\": \"b\", \"q\": \"{long}\"}}\n{{\"id\": \"c\"}}\n");
        assert_eq!(
            rows("d.jsonl", Format::Jsonl, &jsonl, 100),
            [
                "1 a".to_string(),
                "2 the line is longer than 100 bytes (suite.max-line-size)".into(),
                "3 c".into()
            ]
        );
        let csv = format!("id,q\na,1\nb,{long}\nc,3\n");
        assert_eq!(
            rows("d.csv", Format::Csv, &csv, 100),
            [
                "2 a".to_string(),
                "3 the row is longer than 100 bytes (suite.max-line-size)".into(),
                "4 c".into()
            ]
        );
        let json = format!(
            "[{{\"id\": \"a\"}},\n{{\"id\": \"b\", \"q\": \"{long}\"}},\n{{\"id\": \"c\"}}]"
        );
        assert_eq!(
            rows("d.json", Format::Json, &json, 100),
            [
                "1 a".to_string(),
                "2 an element longer than 100 bytes (suite.max-line-size)".into(),
                "3 c".into()
            ]
        );
    }

    #[test]
    fn counts_rows_for_progress() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("d.jsonl");
        std::fs::write(&jsonl, "{}\n\n  \n{}\n{}").unwrap();
        assert_eq!(count_rows(&jsonl, Format::Jsonl), Some(3));
        let csv = dir.path().join("d.csv");
        std::fs::write(&csv, "a,b\n1,\"x\ny\"\n2,z\n").unwrap();
        assert_eq!(count_rows(&csv, Format::Csv), Some(2));
        assert_eq!(count_rows(&csv, Format::Json), None);
    }

    #[test]
    fn flat_rows_are_vars_with_special_columns() {
        let test = row_to_test(object(json!({
            "id": 7, "question": "q", "__output": "a", "__threshold": "0.5"
        })))
        .unwrap();
        assert_eq!(test.id.as_deref(), Some("7"));
        assert_eq!(test.output.as_deref(), Some("a"));
        assert_eq!(test.threshold, Some(0.5));
        assert_eq!(test.vars.len(), 2, "id stays available as a variable");
    }

    #[test]
    fn structured_rows_reject_unknown_keys() {
        let err = row_to_test(object(json!({"vars": {}, "asert": []}))).unwrap_err();
        assert!(err.starts_with("unknown field `asert`"), "{err}");
    }

    #[test]
    fn unknown_special_column_is_an_error() {
        let err = row_to_test(object(json!({"__expected": "x"}))).unwrap_err();
        assert!(err.starts_with("unknown column __expected"), "{err}");
    }
}
