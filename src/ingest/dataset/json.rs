//! A JSON array of objects, read element by element.
//!
//! A small scanner finds where each element of the top-level array starts
//! and ends (it follows strings, escapes and brackets, nothing more) and
//! keeps at most `max_element` bytes of it; serde_json then parses the one
//! element. So a bad element, however long and whatever is wrong inside
//! it, is one malformed row at its `file:line`, and reading goes on with
//! the next; memory never holds more than one element. Only a file whose
//! brackets or strings never close loses its rest.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use super::{Push, Unread, kind_of};
use crate::error::{Error, Result};

pub(super) fn read(path: &Path, max_element: u64, push: &mut Push<'_>) -> Result<()> {
    let file = File::open(path)
        .map_err(|e| Error::input(format!("cannot open dataset {}: {e}", path.display())))?;
    let mut scanner = Scanner::new(BufReader::with_capacity(1 << 16, file));
    elements(&mut scanner, max_element, push).map_err(|e| match e {
        Stop::Io(e) => Error::input(format!("cannot read dataset {}: {e}", path.display())),
        Stop::Sink(e) => e,
    })
}

/// Why reading stopped early.
enum Stop {
    Io(io::Error),
    /// The sink refused a row (`--strict`, or the run stopped).
    Sink(Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Sink(e)
    }
}

/// Pushes each element of the array in `scanner`, and what is wrong with
/// the file's shape as rows that cut it short.
fn elements(
    scanner: &mut Scanner<impl BufRead>,
    max_element: u64,
    push: &mut Push<'_>,
) -> std::result::Result<(), Stop> {
    scanner.skip_bom()?;
    match scanner.skip_space()? {
        Some(b'[') => scanner.advance(1),
        found => {
            let what = if found.is_some() {
                "expected a JSON array of objects"
            } else {
                "expected a JSON array of objects, found an empty file"
            };
            push(scanner.line, Err(Unread::rest_of_file(what.into())))?;
            return Ok(());
        }
    }
    if scanner.skip_space()? == Some(b']') {
        scanner.advance(1);
        return after_the_array(scanner, push);
    }
    loop {
        let element = scanner.element(max_element)?;
        let (line, end) = (element.line, element.end);
        match end {
            End::Unclosed => {
                let message = "the file ends inside this element (a string or bracket never closes); the rest of this file is skipped";
                push(line, Err(Unread::rest_of_file(message.into())))?;
                return Ok(());
            }
            End::Comma | End::Bracket | End::Eof => push_element(element, max_element, push)?,
        }
        match end {
            End::Comma => {}
            End::Bracket => return after_the_array(scanner, push),
            End::Eof | End::Unclosed => {
                let message = "the file ends before the array's closing ]; it may be cut short";
                push(scanner.line, Err(Unread::rest_of_file(message.into())))?;
                return Ok(());
            }
        }
    }
}

/// Pushes one element as a row, or as a malformed row at its line.
fn push_element(
    element: Element,
    max_element: u64,
    push: &mut Push<'_>,
) -> std::result::Result<(), Stop> {
    let Some(bytes) = element.bytes else {
        let message = format!("an element longer than {max_element} bytes (suite.max-line-size)");
        push(element.line, Err(message.into()))?;
        return Ok(());
    };
    if bytes.is_empty() {
        push(
            element.line,
            Err("an empty element (a comma too many)".to_string().into()),
        )?;
        return Ok(());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => push(element.line, Ok(object))?,
        Ok(other) => push(
            element.line,
            Err(format!("expected a JSON object, found {}", kind_of(&other)).into()),
        )?,
        Err(e) => {
            // serde_json counts from the element's start; the file's own
            // line and column read better.
            let line = element.line + e.line().max(1) as u64 - 1;
            let column = if e.line() <= 1 {
                element.column + e.column().max(1) as u64 - 1
            } else {
                e.column() as u64
            };
            let text = e.to_string();
            let what = text
                .rfind(" at line ")
                .map_or(text.as_str(), |i| &text[..i]);
            push(
                line,
                Err(format!("invalid JSON: {what} (column {column})").into()),
            )?;
        }
    }
    Ok(())
}

/// Anything but white space after the closing `]` is a row that says so.
fn after_the_array(
    scanner: &mut Scanner<impl BufRead>,
    push: &mut Push<'_>,
) -> std::result::Result<(), Stop> {
    if scanner.skip_space()?.is_some() {
        let message = "more text after the array's closing ]; it is not read";
        push(scanner.line, Err(Unread::rest_of_file(message.into())))?;
    }
    Ok(())
}

/// How an element ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// At a `,`: another element follows.
    Comma,
    /// At the array's closing `]`.
    Bracket,
    /// At the end of the file, the element itself complete.
    Eof,
    /// At the end of the file inside a string or an open bracket.
    Unclosed,
}

/// One element's text, as far as it was kept.
struct Element {
    /// Where its first byte is (1-based).
    line: u64,
    column: u64,
    /// `None` when it was longer than the limit (and dropped as it went).
    bytes: Option<Vec<u8>>,
    end: End,
}

/// Walks a JSON array byte by byte, counting lines.
struct Scanner<R> {
    reader: R,
    line: u64,
    column: u64,
}

impl<R: BufRead> Scanner<R> {
    fn new(reader: R) -> Scanner<R> {
        Scanner {
            reader,
            line: 1,
            column: 1,
        }
    }

    /// Moves past `n` bytes of the buffer, counting lines.
    fn advance(&mut self, n: usize) {
        let buffered = self.reader.fill_buf().unwrap_or_default();
        let passed = &buffered[..n.min(buffered.len())];
        match memchr::memrchr(b'\n', passed) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', passed).count() as u64;
                self.column = (passed.len() - last) as u64;
            }
            None => self.column += passed.len() as u64,
        }
        self.reader.consume(n);
    }

    /// A UTF-8 byte order mark is not JSON.
    fn skip_bom(&mut self) -> io::Result<()> {
        if self.reader.fill_buf()?.starts_with(b"\xef\xbb\xbf") {
            self.reader.consume(3);
        }
        Ok(())
    }

    /// Skips white space; the next byte, or `None` at the end.
    fn skip_space(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buffered = self.reader.fill_buf()?;
            let Some(&b) = buffered.first() else {
                return Ok(None);
            };
            if !b.is_ascii_whitespace() {
                return Ok(Some(b));
            }
            self.advance(1);
        }
    }

    /// Reads one element up to the `,` or `]` that ends it (consumed),
    /// keeping at most `max` bytes of it.
    fn element(&mut self, max: u64) -> io::Result<Element> {
        self.skip_space()?;
        let (line, column) = (self.line, self.column);
        let mut kept = Some(Vec::new());
        let (mut depth, mut in_string, mut escaped) = (0u64, false, false);
        let end = loop {
            let buffered = self.reader.fill_buf()?;
            if buffered.is_empty() {
                break if in_string || depth > 0 {
                    End::Unclosed
                } else {
                    End::Eof
                };
            }
            let mut taken = buffered.len();
            let mut ended = None;
            if in_string {
                // Jump to the next quote, backslash or newline at once: a
                // long string is most of a long element.
                taken = match (escaped, memchr::memchr3(b'"', b'\\', b'\n', buffered)) {
                    (true, _) => {
                        escaped = false;
                        1
                    }
                    (false, Some(i)) => {
                        match buffered[i] {
                            b'"' => in_string = false,
                            b'\\' => escaped = true,
                            _ => {}
                        }
                        i + 1
                    }
                    (false, None) => buffered.len(),
                };
            } else {
                for (i, &b) in buffered.iter().enumerate() {
                    match b {
                        b'"' => {
                            in_string = true;
                            taken = i + 1;
                            break;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' if depth > 0 => depth -= 1,
                        b',' | b']' if depth == 0 => {
                            ended = Some((i, if b == b',' { End::Comma } else { End::Bracket }));
                            taken = i;
                            break;
                        }
                        _ => {}
                    }
                }
            }
            if let Some(bytes) = &mut kept {
                if bytes.len() as u64 + taken as u64 > max {
                    kept = None;
                } else {
                    bytes.extend_from_slice(&buffered[..taken]);
                }
            }
            self.advance(taken);
            if let Some((_, end)) = ended {
                self.advance(1);
                break end;
            }
        };
        if let Some(bytes) = &mut kept {
            let trimmed = bytes.trim_ascii_end().len();
            bytes.truncate(trimmed);
        }
        Ok(Element {
            line,
            column,
            bytes: kept,
            end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row of `text`: `line id`, or `line message` for a bad one.
    fn rows(text: &str, max: u64) -> Vec<String> {
        let mut rows = Vec::new();
        let mut push = |line: u64, row: super::super::Object| {
            rows.push(match row {
                Ok(object) => format!("{line} {}", object["id"].as_str().unwrap_or("?")),
                Err(e) => format!("{line} {e:?}"),
            });
            Ok(())
        };
        let mut scanner = Scanner::new(io::Cursor::new(text.as_bytes().to_vec()));
        if elements(&mut scanner, max, &mut push).is_err() {
            panic!("reading stopped");
        }
        rows
    }

    #[test]
    fn a_bad_element_is_one_row_and_reading_goes_on() {
        let long = "x".repeat(500);
        let text = format!(
            "[\n {{\"id\": \"a\"}},\n {{\"id\": \"b\", \"q\": \"{long}\"}},\n {{\"id\" \"c\"}},\n \"str\",\n {{\"id\": \"d\", \"q\": \"]}},\\\"{{\"}}\n]\n"
        );
        let rows = rows(&text, 100);
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert_eq!(rows[0], "2 a");
        assert!(
            rows[1].starts_with("3 Unread { message: \"an element longer than 100 bytes"),
            "{}",
            rows[1]
        );
        assert!(rows[1].contains("cuts_file_short: false"));
        assert!(
            rows[2].starts_with("4 Unread { message: \"invalid JSON: expected `:` (column 8)"),
            "{}",
            rows[2]
        );
        assert!(rows[3].contains("expected a JSON object, found a string"));
        assert_eq!(
            rows[4], "6 d",
            "brackets and quotes inside strings are text"
        );
    }

    #[test]
    fn what_cuts_a_file_short_says_so() {
        let unclosed = rows("[{\"id\": \"a\"},\n{\"id\": \"b", 100);
        assert_eq!(unclosed.len(), 2);
        assert!(unclosed[1].starts_with("2 Unread { message: \"the file ends inside this element"));
        assert!(unclosed[1].contains("cuts_file_short: true"));
        let no_bracket = rows("[{\"id\": \"a\"}", 100);
        assert_eq!(no_bracket[0], "1 a");
        assert!(no_bracket[1].contains("closing ]"));
        assert!(rows("{\"id\": \"a\"}", 100)[0].contains("expected a JSON array of objects"));
        assert!(rows("", 100)[0].contains("found an empty file"));
        assert!(rows("[] []", 100)[0].contains("after the array's closing ]"));
        assert!(rows(" [ ] ", 100).is_empty());
        assert!(rows("[{\"id\": \"a\"},]", 100)[1].contains("an empty element"));
    }
}
