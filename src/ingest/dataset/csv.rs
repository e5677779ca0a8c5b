//! CSV with a header row: one record at a time, BOM, CRLF and quoted
//! newlines handled by the `csv` crate; every value is a string.
//!
//! Line numbers come from our own count of newlines before each record's
//! byte offset: the `csv` crate's line count is off by one on CRLF files.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::{Push, RowProblem, Unread};
use crate::error::{Error, Result};

/// Records where the newlines are, as the `csv` reader pulls bytes through.
struct Newlines<R> {
    inner: R,
    offset: u64,
    seen: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for Newlines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut seen = self.seen.borrow_mut();
        for i in memchr::memchr_iter(b'\n', &buf[..n]) {
            seen.push_back(self.offset + i as u64);
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Turns byte offsets (which only grow) into 1-based line numbers; only the
/// newlines not yet passed are kept, so memory stays at the reader's buffer.
struct LineCounter {
    seen: Rc<RefCell<VecDeque<u64>>>,
    passed: u64,
}

impl LineCounter {
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut seen = self.seen.borrow_mut();
        // `<=`: on CRLF files the csv crate starts a record at the `\n`
        // that ends the line before it.
        while seen.front().is_some_and(|&nl| nl <= byte) {
            seen.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

pub(super) fn read(path: &Path, max_row: u64, push: &mut Push<'_>) -> Result<()> {
    let file = File::open(path)
        .map_err(|e| Error::input(format!("cannot open dataset {}: {e}", path.display())))?;
    let seen = Rc::new(RefCell::new(VecDeque::new()));
    let mut lines = LineCounter {
        seen: Rc::clone(&seen),
        passed: 0,
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        // Column counts are checked here, so a short row is reported and
        // skipped instead of ending the file.
        .flexible(true)
        .from_reader(Newlines {
            inner: file,
            offset: 0,
            seen,
        });
    let headers = reader
        .byte_headers()
        .map_err(|e| Error::at(path, 1, format!("cannot read the header row: {e}")))?
        .clone();
    let mut names = Vec::with_capacity(headers.len());
    for (i, name) in headers.iter().enumerate() {
        let name = std::str::from_utf8(name).map_err(|_| {
            Error::at(
                path,
                1,
                format!("column {} has a name that is not UTF-8", i + 1),
            )
        })?;
        if name.is_empty() {
            return Err(Error::at(path, 1, format!("column {} has no name", i + 1)));
        }
        if names.iter().any(|n| n == name) {
            return Err(Error::at(path, 1, format!("column '{name}' appears twice")));
        }
        names.push(name.to_string());
    }
    if names.is_empty() {
        return Ok(());
    }
    let mut record = ::csv::ByteRecord::new();
    loop {
        let before = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let start = record.position().map_or(before, |p| p.byte());
                let row = if record.as_slice().len() as u64 > max_row {
                    Err(Unread::from(format!(
                        "the row is longer than {max_row} bytes (suite.max-line-size)"
                    )))
                } else {
                    to_object(&names, &record).map_err(Unread::from)
                };
                push(lines.line_at(start), row)?;
            }
            // The csv crate stops on I/O errors but not on data errors.
            Err(e) => match e.kind() {
                ::csv::ErrorKind::Io(_) => {
                    return Err(Error::input(format!(
                        "cannot read dataset {}: {e}",
                        path.display()
                    )));
                }
                _ => {
                    let start = e.position().map_or(before, |p| p.byte());
                    push(lines.line_at(start), Err(e.to_string().into()))?;
                }
            },
        }
    }
}

fn to_object(
    names: &[String],
    record: &::csv::ByteRecord,
) -> std::result::Result<Map<String, Value>, RowProblem> {
    if record.len() != names.len() {
        return Err(RowProblem::Columns {
            expected: names.len(),
            found: record.len(),
        });
    }
    let mut object = Map::new();
    for (name, field) in names.iter().zip(record.iter()) {
        let text = std::str::from_utf8(field).map_err(|e| RowProblem::ColumnNotUtf8 {
            name: name.clone(),
            byte: e.valid_up_to() + 1,
        })?;
        object.insert(name.clone(), Value::String(text.to_string()));
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::dataset::Object;

    fn lines_of(contents: &[u8]) -> Vec<(u64, Object)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, contents).unwrap();
        let mut rows = Vec::new();
        read(
            &path,
            crate::config::DEFAULT_MAX_LINE_SIZE,
            &mut |line, row| {
                rows.push((line, row));
                Ok(())
            },
        )
        .unwrap();
        rows
    }

    #[test]
    fn lines_plain() {
        let rows = lines_of(b"id,q\na,1\nb,2\n");
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn lines_bom() {
        let rows = lines_of(b"\xef\xbb\xbfid,q\na,1\nb,2\n");
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3]);
        assert!(rows[0].1.as_ref().unwrap().contains_key("id"));
    }

    #[test]
    fn lines_crlf() {
        let rows = lines_of(b"id,q\r\na,1\r\nb,2\r\n");
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3]);
    }
}
