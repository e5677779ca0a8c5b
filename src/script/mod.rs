//! User code: `javascript` and `python` assertions, and the `transform`
//! and `transform-vars` scripts of a test, run the way promptfoo runs
//! them. JavaScript runs in an embedded engine (QuickJS, through
//! rquickjs), one per thread; Python runs as a `python3` subprocess per
//! call. Every call has a time and a memory limit: a script that loops
//! forever or eats the machine's memory is stopped, and the call fails
//! with the reason.
//!
//! [`Scripts`] holds what calls share: the folder `file://` scripts are
//! read from (the config's), the files already read, the limits and the
//! Python interpreter once found.

mod javascript;
mod python;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::assertion::{Code, Language, Script};

/// How long one call may run, and how much memory it may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub timeout: Duration,
    /// Bytes: the JavaScript heap a call may add, or a Python process's
    /// address space.
    pub memory: u64,
}

/// Why a script could not be used or did not give an answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    /// The script ran and failed: it threw, returned the wrong kind of
    /// value, or went past a limit. The assertion (or case) fails with it.
    #[error("{0}")]
    Failed(String),
    /// The script cannot run at all: its file is missing or does not
    /// compile. A config error.
    #[error("{0}")]
    Unusable(String),
    /// No Python 3 interpreter was found.
    #[error(
        "no Python 3 interpreter was found (tried {0}); install Python 3, or set AI_EVALS_PYTHON to the interpreter's path"
    )]
    NoPython(String),
}

/// What a `javascript` or `python` assertion's code returned, checked
/// against promptfoo's contract.
#[derive(Debug, Clone, PartialEq)]
pub enum Returned {
    /// Pass or fail.
    Bool(bool),
    /// A score: it passes above 0, or at the threshold when there is one.
    Number(f64),
    /// promptfoo's GradingResult.
    Grading {
        pass: bool,
        score: f64,
        reason: String,
    },
}

/// What a script is given first: the output as text, or the structured
/// value an output transform returned (as JSON text).
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    Text(&'a str),
    Json(&'a str),
}

/// An output transform's result: the new output as text (JSON for a value
/// that is not a string, as promptfoo shows it), and that value.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformed {
    pub text: String,
    /// The JSON of a value that is not a string, for later scripts.
    pub json: Option<String>,
}

impl Transformed {
    /// The output as a script is given it: the value when there is one.
    pub fn input(&self) -> Input<'_> {
        match &self.json {
            Some(json) => Input::Json(json),
            None => Input::Text(&self.text),
        }
    }
}

/// What a transform reshapes, which names its inline code's first
/// parameter (`output` or `vars`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Output,
    Vars,
}

/// The scripts of a run, and what their calls share.
pub struct Scripts {
    dir: PathBuf,
    limits: Limits,
    files: Mutex<HashMap<String, Arc<str>>>,
    python: OnceLock<Result<PathBuf, ScriptError>>,
}

impl Scripts {
    /// Scripts whose `file://` paths are relative to `dir`.
    pub fn new(dir: &Path, limits: Limits) -> Scripts {
        Scripts {
            dir: dir.to_path_buf(),
            limits,
            files: Mutex::new(HashMap::new()),
            python: OnceLock::new(),
        }
    }

    /// Checks that a script can run: its file is there and, for
    /// JavaScript, compiles; for Python, that an interpreter exists.
    pub fn check(&self, script: &Script, target: Option<Target>) -> Result<(), ScriptError> {
        if let Code::File { path, .. } = &script.code {
            self.file(path)?;
        }
        match script.language {
            Language::JavaScript => javascript::check(self, script, target),
            Language::Python => self.python().map(|_| ()),
        }
    }

    /// Runs an assertion's code on `input` with the case's `context` (JSON).
    pub fn assertion(
        &self,
        script: &Script,
        threshold: Option<f64>,
        input: Input,
        context: &str,
    ) -> Result<Returned, ScriptError> {
        match script.language {
            Language::JavaScript => javascript::assertion(self, script, input, context),
            Language::Python => python::assertion(self, script, threshold, input, context),
        }
    }

    /// Runs an output transform.
    pub fn transform_output(
        &self,
        script: &Script,
        input: Input,
        context: &str,
    ) -> Result<Transformed, ScriptError> {
        let json = match script.language {
            Language::JavaScript => {
                javascript::transform(self, script, Target::Output, input, context)?
            }
            Language::Python => python::transform(self, script, input, context)?,
        };
        // A value that is not text is shown as the JSON the script wrote,
        // its keys in their order.
        Ok(match serde_json::from_str::<Value>(&json) {
            Ok(Value::String(text)) => Transformed { text, json: None },
            _ => Transformed {
                text: json.clone(),
                json: Some(json),
            },
        })
    }

    /// Runs a `transform-vars` script: the variables it returns are laid
    /// over the test's own.
    pub fn transform_vars(
        &self,
        script: &Script,
        vars: &Map<String, Value>,
        context: &str,
    ) -> Result<Map<String, Value>, ScriptError> {
        let json = serde_json::to_string(vars).expect("JSON serializes");
        let returned = match script.language {
            Language::JavaScript => {
                javascript::transform(self, script, Target::Vars, Input::Json(&json), context)?
            }
            Language::Python => python::transform(self, script, Input::Json(&json), context)?,
        };
        match serde_json::from_str::<Value>(&returned) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ScriptError::Failed(format!(
                "the vars transform must return an object of variables, not {returned}"
            ))),
        }
    }

    /// The text of a `file://` script, read once.
    fn file(&self, path: &str) -> Result<Arc<str>, ScriptError> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(text) = files.get(path) {
            return Ok(Arc::clone(text));
        }
        let full = self.dir.join(path);
        let text: Arc<str> = std::fs::read_to_string(&full)
            .map_err(|e| ScriptError::Unusable(format!("cannot read {}: {e}", full.display())))?
            .into();
        files.insert(path.to_string(), Arc::clone(&text));
        Ok(text)
    }

    /// The full path of a `file://` script.
    fn path(&self, path: &str) -> PathBuf {
        self.dir.join(path)
    }

    /// The Python interpreter, found once.
    fn python(&self) -> Result<&Path, ScriptError> {
        self.python
            .get_or_init(python::find)
            .as_ref()
            .map(PathBuf::as_path)
            .map_err(Clone::clone)
    }
}

/// `2.5 s`, for messages.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// `512 MiB`, for messages.
fn mebibytes(bytes: u64) -> String {
    format!("{} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests;
