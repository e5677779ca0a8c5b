//! JSON Lines: one JSON object per line, read a line at a time.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use super::{Push, RowProblem, Unread};
use crate::error::{Error, Result};

pub(super) fn read(path: &Path, max_line: u64, push: &mut Push<'_>) -> Result<()> {
    let file = File::open(path)
        .map_err(|e| Error::input(format!("cannot open dataset {}: {e}", path.display())))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::with_capacity(1024);
    let mut line = 0u64;
    loop {
        buf.clear();
        let (n, whole) = read_line(&mut reader, &mut buf, max_line)
            .map_err(|e| Error::input(format!("cannot read dataset {}: {e}", path.display())))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        if !whole {
            let message = format!("the line is longer than {max_line} bytes (suite.max-line-size)");
            push(line, Err(Unread::from(message)))?;
            continue;
        }
        let mut bytes = buf.as_slice();
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        }
        let bytes = bytes.trim_ascii_end();
        if bytes.trim_ascii_start().is_empty() {
            continue;
        }
        push(line, parse_line(bytes).map_err(Unread::from))?;
    }
}

/// Reads one line into `buf`, keeping at most `max` bytes of it; the rest
/// of a longer line is read past, not kept. Returns the bytes read (0 at
/// the end) and whether the line was kept whole.
fn read_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: u64,
) -> std::io::Result<(u64, bool)> {
    let (mut read, mut whole) = (0u64, true);
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((read, whole));
        }
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let len = chunk.len();
        if whole && buf.len() as u64 + len as u64 <= max.saturating_add(1) {
            buf.extend_from_slice(chunk);
        } else {
            whole = false;
            buf.clear();
        }
        reader.consume(len);
        read += len as u64;
        if done {
            return Ok((read, whole));
        }
    }
}

fn parse_line(bytes: &[u8]) -> std::result::Result<Map<String, Value>, RowProblem> {
    let text = std::str::from_utf8(bytes).map_err(|e| RowProblem::LineNotUtf8 {
        byte: e.valid_up_to() + 1,
    })?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(RowProblem::NotObject(other)),
        Err(e) => Err(RowProblem::Json(e)),
    }
}
