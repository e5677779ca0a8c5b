//! Scripts as written: a `javascript` or `python` assertion's code, a
//! test's `transform` and `transform-vars`. Only what the text says lives
//! here (inline code, or a file and the function in it); running a script
//! is [`crate::script`]'s job.

use std::fmt;

use serde::Serialize;

/// Which engine runs a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// The embedded JavaScript engine.
    JavaScript,
    /// A `python3` subprocess.
    Python,
}

/// Where a script's code is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Code {
    /// The code itself: an expression, or a function body that returns.
    Inline(String),
    /// A file relative to the config's folder, and the function it
    /// exports to call (else its default export, or the module itself
    /// when that is a function; Python's default is named by the caller).
    File {
        path: String,
        function: Option<String>,
    },
}

/// A script: its language and its code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Script {
    pub language: Language,
    pub code: Code,
}

const JAVASCRIPT_FILES: &[&str] = &[".js", ".cjs", ".mjs"];
const TYPESCRIPT_FILES: &[&str] = &[".ts", ".cts", ".mts", ".tsx"];

impl Script {
    /// Reads a script value: `file://path.js`, `file://path.py:function`
    /// (a file's extension picks its language), or inline code in
    /// `inline`'s language.
    pub fn parse(text: &str, inline: Language) -> Result<Script, String> {
        let Some(reference) = text.strip_prefix("file://") else {
            if text.trim().is_empty() {
                return Err("the code is empty".into());
            }
            return Ok(Script {
                language: inline,
                code: Code::Inline(text.to_string()),
            });
        };
        // `file://checks.js:isPolite`: the last colon names the function
        // (a Windows drive letter's colon comes first, at index 1).
        let (path, function) = match reference.rfind(':') {
            Some(i) if i > 1 => (&reference[..i], Some(reference[i + 1..].to_string())),
            _ => (reference, None),
        };
        let lower = path.to_ascii_lowercase();
        let language = if JAVASCRIPT_FILES.iter().any(|e| lower.ends_with(e)) {
            Language::JavaScript
        } else if lower.ends_with(".py") {
            Language::Python
        } else if TYPESCRIPT_FILES.iter().any(|e| lower.ends_with(e)) {
            return Err(format!(
                "{path} is TypeScript, which ai-evals does not compile; compile it to .js and name that"
            ));
        } else {
            return Err(format!(
                "{path} is not a script: name a .js, .cjs, .mjs or .py file"
            ));
        };
        if path.is_empty() {
            return Err("file:// names no file".into());
        }
        Ok(Script {
            language,
            code: Code::File {
                path: path.to_string(),
                function: function.filter(|f| !f.is_empty()),
            },
        })
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Code::Inline(code) => write!(f, "{code:?}"),
            Code::File {
                path,
                function: Some(function),
            } => write!(f, "file://{path}:{function}"),
            Code::File {
                path,
                function: None,
            } => write!(f, "file://{path}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_code_and_files_with_their_function() {
        let inline = Script::parse("output.length > 3", Language::Python).unwrap();
        assert_eq!(inline.language, Language::Python);
        assert_eq!(inline.code, Code::Inline("output.length > 3".into()));
        let file = Script::parse("file://checks/grade.mjs:isPolite", Language::Python).unwrap();
        assert_eq!(file.language, Language::JavaScript);
        assert_eq!(
            file.code,
            Code::File {
                path: "checks/grade.mjs".into(),
                function: Some("isPolite".into())
            }
        );
        assert_eq!(file.to_string(), "file://checks/grade.mjs:isPolite");
        let py = Script::parse("file://grade.py", Language::JavaScript).unwrap();
        assert_eq!(py.language, Language::Python);
        assert!(matches!(py.code, Code::File { function: None, .. }));
    }

    #[test]
    fn what_is_not_a_script_says_why() {
        assert_eq!(
            Script::parse("  ", Language::JavaScript).unwrap_err(),
            "the code is empty"
        );
        assert!(
            Script::parse("file://a.ts", Language::JavaScript)
                .unwrap_err()
                .contains("TypeScript")
        );
        assert!(
            Script::parse("file://a.txt", Language::JavaScript)
                .unwrap_err()
                .contains("not a script")
        );
    }
}
