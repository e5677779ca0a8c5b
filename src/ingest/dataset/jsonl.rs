//! JSON Lines: one JSON object per line, read a line at a time.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use super::{Push, Unread, json_error, kind_of};
use crate::error::{Error, Result};

pub(super) fn read(path: &Path, push: &mut Push<'_>) -> Result<()> {
    let file = File::open(path)
        .map_err(|e| Error::input(format!("cannot open dataset {}: {e}", path.display())))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::with_capacity(1024);
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::input(format!("cannot read dataset {}: {e}", path.display())))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
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

fn parse_line(bytes: &[u8]) -> std::result::Result<Map<String, Value>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(format!("expected a JSON object, found {}", kind_of(&other))),
        Err(e) => Err(json_error(&e)),
    }
}
