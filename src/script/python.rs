//! Python: each call is a `python3` subprocess running `wrapper.py`, as
//! promptfoo runs Python (a file's `get_assert(output, context)`, or an
//! inline expression or function body wrapped in a `main`). Arguments go
//! in on stdin and the result comes back on stdout as JSON. The process is
//! killed at the deadline, and on Unix its address space is capped.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::{Input, Limits, Returned, ScriptError, Scripts};
use crate::assertion::{Code, Script};

const WRAPPER: &str = include_str!("wrapper.py");

/// The interpreters tried, in order, unless `AI_EVALS_PYTHON` names one.
const CANDIDATES: &[&str] = &["python3", "python"];

/// Finds a Python 3 interpreter: `AI_EVALS_PYTHON`, else the first of
/// `python3` and `python` that is Python 3. The interpreter's own path is
/// kept (a version manager's shim costs a shell script per call).
pub(super) fn find() -> Result<PathBuf, ScriptError> {
    let named = std::env::var("AI_EVALS_PYTHON")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let tried: Vec<String> = match &named {
        Some(path) => vec![path.clone()],
        None => CANDIDATES.iter().map(|c| c.to_string()).collect(),
    };
    for candidate in &tried {
        let answer = Command::new(candidate)
            .args([
                "-c",
                "import sys; print(sys.version_info[0], sys.executable)",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        let Ok(out) = answer else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(path) = text
            .trim()
            .strip_prefix("3 ")
            .filter(|_| out.status.success())
        {
            return Ok(if path.is_empty() {
                PathBuf::from(candidate)
            } else {
                PathBuf::from(path)
            });
        }
    }
    let tried = match named {
        Some(path) => format!("AI_EVALS_PYTHON={path}"),
        None => tried.join(", "),
    };
    Err(ScriptError::NoPython(tried))
}

/// Runs a `python` assertion.
pub(super) fn assertion(
    scripts: &Scripts,
    script: &Script,
    threshold: Option<f64>,
    input: Input,
    context: &str,
) -> Result<Returned, ScriptError> {
    let result = call(scripts, script, "get_assert", input, context)?;
    normalize(result, threshold).map_err(ScriptError::Failed)
}

/// Runs a Python transform (`get_transform` unless the file names one);
/// its result as JSON text.
pub(super) fn transform(
    scripts: &Scripts,
    script: &Script,
    input: Input,
    context: &str,
) -> Result<String, ScriptError> {
    let result = call(scripts, script, "get_transform", input, context)?;
    if result.is_null() {
        return Err(ScriptError::Failed(
            "Transform function did not return a value".into(),
        ));
    }
    Ok(serde_json::to_string(&result).expect("JSON serializes"))
}

/// One call: the request on stdin, the result from stdout.
fn call(
    scripts: &Scripts,
    script: &Script,
    default_function: &str,
    input: Input,
    context: &str,
) -> Result<Value, ScriptError> {
    let python = scripts.python()?;
    let (source, function) = match &script.code {
        Code::Inline(code) => (("code", Value::String(inline_module(code))), "main"),
        Code::File { path, function } => {
            scripts.file(path)?;
            let full = scripts.path(path).display().to_string();
            (
                ("path", Value::String(full)),
                function.as_deref().unwrap_or(default_function),
            )
        }
    };
    let first = match input {
        Input::Text(text) => serde_json::to_string(text).expect("JSON serializes"),
        Input::Json(json) => json.to_string(),
    };
    let mut head = Map::new();
    head.insert(source.0.into(), source.1);
    head.insert("function".into(), Value::String(function.into()));
    let head = serde_json::to_string(&Value::Object(head)).expect("JSON serializes");
    // The arguments are spliced in as they are: they are JSON already.
    let request = format!("{},\"args\":[{first},{context}]}}", &head[..head.len() - 1]);
    let (stdout, stderr) = run(python, request, scripts.limits)?;
    let answer: Value = serde_json::from_str(stdout.trim()).map_err(|e| {
        ScriptError::Failed(format!(
            "the Python script's result is not JSON ({e}): {}",
            last_line(&stderr)
        ))
    })?;
    match answer {
        Value::Object(mut m) if m.get("type") == Some(&Value::from("final_result")) => {
            Ok(m.remove("data").unwrap_or(Value::Null))
        }
        _ => Err(ScriptError::Failed(
            "the Python wrapper answered something else than a result".into(),
        )),
    }
}

/// promptfoo's `buildPythonScript`: one line is an expression returned by
/// `main(output, context)`, several lines are its body, indented as the
/// code's first indented line is (four spaces otherwise).
fn inline_module(code: &str) -> String {
    if !code.contains('\n') {
        return format!("import json\n\ndef main(output, context):\n    return {code}\n");
    }
    let indent = code
        .lines()
        .find(|l| !l.trim().is_empty() && l.starts_with(char::is_whitespace))
        .map(|l| &l[..l.len() - l.trim_start().len()])
        .unwrap_or("    ");
    let body: Vec<String> = code.split('\n').map(|l| format!("{indent}{l}")).collect();
    format!(
        "import json\n\ndef main(output, context):\n{}\n",
        body.join("\n")
    )
}

/// Runs the wrapper with `request` on stdin; stdout and stderr, or why
/// the call failed.
fn run(python: &Path, request: String, limits: Limits) -> Result<(String, String), ScriptError> {
    let mut command = Command::new(python);
    command
        .arg("-c")
        .arg(WRAPPER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cap_memory(&mut command, limits.memory);
    let mut child = command
        .spawn()
        .map_err(|e| ScriptError::Failed(format!("cannot start {}: {e}", python.display())))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(request.as_bytes());
    });
    let stdout = reader(child.stdout.take().expect("stdout is piped"));
    let stderr = reader(child.stderr.take().expect("stderr is piped"));
    let finished = wait(&mut child, limits.timeout);
    let _ = writer.join();
    let (stdout, stderr) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    match finished {
        None => Err(ScriptError::Failed(format!(
            "the script ran longer than {} (script-timeout) and was stopped",
            super::seconds(limits.timeout)
        ))),
        Some(true) => Ok((stdout, stderr)),
        Some(false) if stderr.contains("MemoryError") => Err(ScriptError::Failed(format!(
            "the script needed more than {} (script-memory) and was stopped",
            super::mebibytes(limits.memory)
        ))),
        Some(false) => Err(ScriptError::Failed(last_line(&stderr))),
    }
}

/// Whether the child exited successfully; `None` when it was killed at
/// the deadline.
fn wait(child: &mut Child, timeout: Duration) -> Option<bool> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status.success());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Caps the child's address space at `bytes` (Unix).
#[cfg(unix)]
fn cap_memory(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[cfg(not(unix))]
fn cap_memory(_: &mut Command, _: u64) {}

/// The error a traceback ends with (`ZeroDivisionError: division by
/// zero`), or the last line printed.
fn last_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map_or_else(
            || "the Python script failed without a message".into(),
            str::to_string,
        )
}

/// promptfoo's `normalizeScriptResult`: `True`/`False` (or the texts
/// "true"/"false"), a dict (or a text starting with `{`) that is a
/// GradingResult, else a number read as JavaScript's `parseFloat` reads
/// it. A GradingResult's score below the threshold fails it.
fn normalize(result: Value, threshold: Option<f64>) -> Result<Returned, String> {
    let text = result.as_str().map(str::to_lowercase);
    match (&result, text.as_deref()) {
        (Value::Bool(b), _) => return Ok(Returned::Bool(*b)),
        (_, Some("true")) => return Ok(Returned::Bool(true)),
        (_, Some("false")) => return Ok(Returned::Bool(false)),
        _ => {}
    }
    let object = match result {
        Value::String(s) if s.starts_with('{') => {
            let parsed: Value = serde_json::from_str(&s)
                .map_err(|e| format!("Invalid JSON: {e} when parsing result: {s}"))?;
            match parsed {
                Value::Object(m) => m,
                _ => {
                    return Err(format!(
                        "Python assertion must return a boolean, number, or {{pass, score, reason}} object. Got instead: {s}"
                    ));
                }
            }
        }
        Value::Object(m) => m,
        other => {
            let n = parse_float(&js_string(&other));
            return if n.is_nan() {
                Err(format!(
                    "Python assertion must return a boolean, number, or {{pass, score, reason}} object. Instead got:\n{}",
                    js_string(&other)
                ))
            } else {
                Ok(Returned::Number(n))
            };
        }
    };
    grading(object, threshold)
}

/// A dict as a GradingResult (`pass_` read as `pass`), with the threshold.
fn grading(mut object: Map<String, Value>, threshold: Option<f64>) -> Result<Returned, String> {
    if !object.contains_key("pass")
        && let Some(pass) = object.get("pass_").cloned()
    {
        object.insert("pass".into(), pass);
    }
    let (Some(Value::Bool(pass)), Some(score), Some(Value::String(reason))) = (
        object.get("pass"),
        object.get("score").and_then(Value::as_f64),
        object.get("reason"),
    ) else {
        return Err(format!(
            "Python assertion must return a boolean, number, or {{pass, score, reason}} object. Got instead:\n{}",
            serde_json::to_string_pretty(&object).unwrap_or_default()
        ));
    };
    let (mut pass, mut reason) = (*pass, reason.clone());
    if let Some(t) = threshold
        && score < t
    {
        pass = false;
        let message = format!("Python score {score} is less than threshold {t}");
        reason = if reason.is_empty() {
            message
        } else {
            format!("{message}: {reason}")
        };
    }
    Ok(Returned::Grading {
        pass,
        score,
        reason,
    })
}

/// JavaScript's `String(value)` for a JSON value that is not an object.
fn js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
        other => other.to_string(),
    }
}

/// JavaScript's `parseFloat`: the longest number at the start of the
/// text (after white space), `NaN` when there is none.
fn parse_float(text: &str) -> f64 {
    let t = text.trim_start();
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned.starts_with("Infinity") {
        return if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let bytes = t.as_bytes();
    let mut end = usize::from(t.len() != unsigned.len());
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let whole = digits(end);
    end += whole;
    let mut fraction = 0;
    if bytes.get(end) == Some(&b'.') {
        fraction = digits(end + 1);
        if whole + fraction > 0 {
            end += 1 + fraction;
        }
    }
    if whole + fraction == 0 {
        return f64::NAN;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let exponent = digits(end + 1 + sign);
        if exponent > 0 {
            end += 1 + sign + exponent;
        }
    }
    t[..end].parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inline_code_becomes_main_as_in_promptfoo() {
        assert_eq!(
            inline_module("output == 'x'"),
            "import json\n\ndef main(output, context):\n    return output == 'x'\n"
        );
        assert_eq!(
            inline_module("x = 1\nif x:\n\treturn True"),
            "import json\n\ndef main(output, context):\n\tx = 1\n\tif x:\n\t\treturn True\n"
        );
    }

    #[test]
    fn results_are_read_as_promptfoo_reads_them() {
        assert_eq!(normalize(json!(true), None), Ok(Returned::Bool(true)));
        assert_eq!(normalize(json!("FALSE"), None), Ok(Returned::Bool(false)));
        assert_eq!(normalize(json!(0.25), None), Ok(Returned::Number(0.25)));
        assert_eq!(
            normalize(json!("0.8 out of 1"), None),
            Ok(Returned::Number(0.8))
        );
        assert_eq!(normalize(json!([3]), None), Ok(Returned::Number(3.0)));
        assert!(normalize(json!(null), None).is_err());
        assert!(normalize(json!("maybe"), None).is_err());
        let graded = json!({"pass_": true, "score": 0.4, "reason": "ok"});
        assert_eq!(
            normalize(graded.clone(), None),
            Ok(Returned::Grading {
                pass: true,
                score: 0.4,
                reason: "ok".into()
            })
        );
        assert_eq!(
            normalize(graded, Some(0.5)),
            Ok(Returned::Grading {
                pass: false,
                score: 0.4,
                reason: "Python score 0.4 is less than threshold 0.5: ok".into()
            })
        );
        assert_eq!(
            normalize(
                json!("{\"pass\": false, \"score\": 0, \"reason\": \"\"}"),
                None
            ),
            Ok(Returned::Grading {
                pass: false,
                score: 0.0,
                reason: String::new()
            })
        );
        assert!(
            normalize(json!({"pass": true}), None).is_err(),
            "score and reason are required"
        );
    }

    #[test]
    fn parse_float_reads_a_leading_number() {
        assert_eq!(parse_float("  -1.5e2x"), -150.0);
        assert_eq!(parse_float(".5"), 0.5);
        assert_eq!(parse_float("5."), 5.0);
        assert_eq!(parse_float("1e"), 1.0);
        assert!(parse_float(".").is_nan());
        assert!(parse_float("abc").is_nan());
        assert_eq!(parse_float("Infinity"), f64::INFINITY);
    }
}
