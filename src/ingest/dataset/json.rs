//! A JSON array of objects, streamed element by element.
//!
//! serde_json reads a `Read` byte by byte, so a thin wrapper counts newlines
//! and notes the line on which each element starts: that is the line a bad
//! element is reported at. A syntax error ends the file (a parser cannot
//! resynchronise inside an array); it is reported like a bad row.

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use serde::Deserializer as _;
use serde::de::{SeqAccess, Visitor};
use serde_json::Value;

use super::{Push, Unread, json_error, kind_of};
use crate::error::{Error, Result};

/// Shared between the reader wrapper and the visitor.
#[derive(Default)]
struct Lines {
    /// The current line (1-based).
    line: Cell<u64>,
    /// Set before each element; the next significant byte records its line.
    awaiting_start: Cell<bool>,
    start: Cell<u64>,
    /// Bytes of the current element so far, and the most it may have.
    in_element: Cell<u64>,
    max_element: Cell<u64>,
    /// Set when an element outgrew `max_element`.
    too_long: Cell<bool>,
}

struct Counting<R> {
    inner: R,
    lines: Rc<Lines>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let lines = &self.lines;
        for &b in &buf[..n] {
            if b == b'\n' {
                lines.line.set(lines.line.get() + 1);
            } else if lines.awaiting_start.get()
                && !matches!(b, b' ' | b'\t' | b'\r' | b',' | b'[' | b']')
            {
                lines.awaiting_start.set(false);
                lines.start.set(lines.line.get());
                lines.in_element.set(0);
            }
            if !lines.awaiting_start.get() {
                lines.in_element.set(lines.in_element.get() + 1);
            }
        }
        // One element may not take the run's memory: the parser cannot
        // skip it without reading it, so the rest of the file is lost.
        if lines.in_element.get() > lines.max_element.get() {
            lines.too_long.set(true);
            return Err(std::io::Error::other("an element is too long"));
        }
        Ok(n)
    }
}

pub(super) fn read(path: &Path, max_element: u64, push: &mut Push<'_>) -> Result<()> {
    let file = File::open(path)
        .map_err(|e| Error::input(format!("cannot open dataset {}: {e}", path.display())))?;
    let unreadable =
        |e: std::io::Error| Error::input(format!("cannot read dataset {}: {e}", path.display()));
    let mut inner = BufReader::with_capacity(1 << 16, file);
    // A UTF-8 byte order mark is not JSON.
    if inner
        .fill_buf()
        .map_err(unreadable)?
        .starts_with(b"\xef\xbb\xbf")
    {
        inner.consume(3);
    }
    let lines = Rc::new(Lines::default());
    lines.line.set(1);
    lines.max_element.set(max_element);
    let reader = Counting {
        inner,
        lines: Rc::clone(&lines),
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut failure = None;
    let visitor = Elements {
        lines: &lines,
        push,
        failure: &mut failure,
    };
    match de.deserialize_seq(visitor) {
        Ok(()) => {}
        Err(_) if failure.is_some() => {
            return Err(failure.expect("checked above"));
        }
        Err(_) if lines.too_long.get() => {
            let message = format!(
                "an element longer than {max_element} bytes (suite.max-line-size); the rest of this file is skipped"
            );
            push(lines.start.get(), Err(Unread::rest_of_file(message)))?;
        }
        Err(e) if e.is_io() => {
            return Err(Error::input(format!(
                "cannot read dataset {}: {e}",
                path.display()
            )));
        }
        Err(e) => {
            let message = if e.to_string().starts_with("invalid type") {
                "expected a JSON array of objects".to_string()
            } else {
                format!("{}; the rest of this file is skipped", json_error(&e))
            };
            push(e.line() as u64, Err(Unread::rest_of_file(message)))?;
        }
    }
    Ok(())
}

struct Elements<'a, 'p> {
    lines: &'a Lines,
    push: &'a mut Push<'p>,
    failure: &'a mut Option<Error>,
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        loop {
            self.lines.awaiting_start.set(true);
            let Some(value) = seq.next_element::<Value>()? else {
                return Ok(());
            };
            let line = self.lines.start.get();
            let row = match value {
                Value::Object(object) => Ok(object),
                other => Err(format!("expected a JSON object, found {}", kind_of(&other)).into()),
            };
            if let Err(e) = (self.push)(line, row) {
                *self.failure = Some(e);
                return Err(serde::de::Error::custom("stopped by the reader's sink"));
            }
        }
    }
}
