//! Messages for the person running the tool, on stderr (stdout carries the
//! report). Verbosity is process-wide because every stage logs. Every
//! message is scrubbed of registered secrets before it is written, and in
//! GitHub Actions, text that the runner would take for a workflow command
//! (model output, dataset rows, provider errors) is fenced off with
//! `::stop-commands::` so it cannot add a mask, an annotation or an output.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::secret::redact;

static LEVEL: AtomicU8 = AtomicU8::new(1);
static IN_ACTIONS: AtomicBool = AtomicBool::new(false);

/// 0: errors only; 1: warnings and notes (the default); 2: debug detail.
pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Whether the runner reads what is printed for workflow commands.
pub fn set_in_actions(in_actions: bool) {
    IN_ACTIONS.store(in_actions, Ordering::Relaxed);
}

pub fn error(message: &str) {
    write("error: ", message);
}

pub fn warn(message: &str) {
    if level() >= 1 {
        write("warning: ", message);
    }
}

pub fn note(message: &str) {
    if level() >= 1 {
        write("", message);
    }
}

pub fn debug(message: &str) {
    if level() >= 2 {
        write("debug: ", message);
    }
}

fn write(prefix: &str, message: &str) {
    let text = format!("{prefix}{}", redact(message));
    if IN_ACTIONS.load(Ordering::Relaxed) && looks_like_a_command(&text) {
        to_stderr(&fence(&text));
    } else {
        to_stderr(&text);
    }
}

/// Writes `text` and a newline to stderr. A stderr that is gone (`2>&1 |
/// head -1`, a closed descriptor) loses the message but never stops the
/// run, as `eprintln!` would by panicking.
pub fn to_stderr(text: &str) {
    use std::io::Write;
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.write_all(b"\n"));
}

/// Whether the runner could read a command in `text`: a line that starts
/// with `::` (after spaces), or the older `##[command]` form anywhere. The
/// runner ends a line at a bare carriage return too.
fn looks_like_a_command(text: &str) -> bool {
    text.contains("##[")
        || text
            .split(['\n', '\r'])
            .any(|l| l.trim_start().starts_with("::"))
}

/// `text` between `::stop-commands::TOKEN` and `::TOKEN::`, which turns
/// the runner's command processing off and on again. The token is random,
/// so text written before this run cannot contain the line that resumes.
/// The resuming line always starts a line of its own: a text that ends in
/// a bare carriage return (a line break to the runner) gets a newline too.
pub fn fence(text: &str) -> String {
    let token = format!("{:032x}", fastrand::u128(..));
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("::stop-commands::{token}\n{text}{newline}::{token}::\n")
}

/// The report as printed on stdout: scrubbed of secrets, ending with a
/// newline, and in GitHub Actions, a text report is fenced (it quotes model
/// output); JSON cannot start a line with `::` (every string is quoted,
/// and a carriage return in one is escaped), and `##[` inside a string is
/// written with a JSON escape, which reads back as the same text.
pub fn for_stdout(report: &str, json: bool) -> String {
    let mut report = redact(report).into_owned();
    if !report.ends_with('\n') {
        report.push('\n');
    }
    if !IN_ACTIONS.load(Ordering::Relaxed) {
        report
    } else if json {
        report.replace("##[", "#\\u0023[")
    } else {
        fence(&report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_resumes_only_with_its_own_token() {
        let text = "got: x\n::error::pwned\n::stop-commands::abc\n";
        let fenced = fence(text);
        let lines: Vec<&str> = fenced.lines().collect();
        let token = lines[0].strip_prefix("::stop-commands::").unwrap();
        assert_eq!(token.len(), 32);
        assert_eq!(lines.last().unwrap(), &format!("::{token}::"));
        assert!(fenced.contains(text));
        assert_ne!(fence(text), fenced, "a new token each time");
        assert!(looks_like_a_command("warning: a\n  ::add-mask::x"));
        assert!(looks_like_a_command("error: see ##[error]x"));
        assert!(!looks_like_a_command("warning: a :: b"));
        assert!(
            looks_like_a_command("warning: 500: oops\r::error::pwned"),
            "the runner starts a line at a bare carriage return"
        );
    }

    #[test]
    fn json_keeps_its_value_without_the_old_command_form() {
        IN_ACTIONS.store(true, Ordering::Relaxed);
        let json = serde_json::json!({"output": "##[error]x \\##["}).to_string();
        let safe = for_stdout(&json, true);
        IN_ACTIONS.store(false, Ordering::Relaxed);
        assert!(!safe.contains("##["), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["output"], "##[error]x \\##[");
        assert_eq!(for_stdout(&json, true), json + "\n", "outside Actions");
    }
}
