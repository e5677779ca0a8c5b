//! What can be wrong with an assertion as written, each with the message
//! the user reads. The config names the key it came from; a dataset row
//! names its file and line.

use serde_json::Value;

use super::Type;

/// Why an [`AssertionSpec`](super::AssertionSpec) does not compile.
/// `kind` is the type as written (`not-contains`), so the message quotes
/// what the user typed.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(
        "unknown assertion type '{0}'; known types: {known} (each may be prefixed with 'not-')",
        known = known_types()
    )]
    UnknownType(String),
    #[error("weight {0} must be a number of at least 0")]
    Weight(f64),
    #[error("'{kind}' needs a value")]
    NoValue { kind: String },
    #[error("'{kind}' needs a text value, not {value}")]
    NotText { kind: String, value: Value },
    #[error("'{kind}' needs a value: a list of texts")]
    NoList { kind: String },
    #[error("'{kind}' needs a list of texts, not {value}")]
    NotList { kind: String, value: Value },
    #[error("'{kind}' needs at least one value")]
    EmptyList { kind: String },
    #[error("'{kind}' list items must be texts, not {value}")]
    NotTextItem { kind: String, value: Value },
    #[error("'{kind}' takes no value; set threshold")]
    TakesNoValue { kind: String },
    #[error("'{kind}' takes no threshold")]
    TakesNoThreshold { kind: String },
    #[error("'{kind}' takes no provider")]
    TakesNoProvider { kind: String },
    #[error("'{kind}' takes no config (javascript and python assertions do)")]
    TakesNoConfig { kind: String },
    /// `what` says what the threshold means for this type.
    #[error("'{kind}' needs a threshold: {what}")]
    NoThreshold { kind: String, what: &'static str },
    #[error("'{kind}' threshold {threshold} must be a number of at least 0")]
    NegativeThreshold { kind: String, threshold: f64 },
    #[error("'{kind}' threshold {threshold} is not between 0 and 1")]
    NotFraction { kind: String, threshold: f64 },
    #[error("'{kind}' threshold {threshold} is not a number")]
    NotNumber { kind: String, threshold: f64 },
    #[error("'{kind}' threshold {threshold} must be a whole number of edits")]
    FractionalEdits { kind: String, threshold: f64 },
    // Boxed: a schema error is large, and every `Result` would carry it.
    #[error("invalid JSON Schema: {0}")]
    Schema(Box<jsonschema::ValidationError<'static>>),
    #[error("'{kind}' takes no value, or a JSON Schema object, not {value}")]
    NotSchema { kind: String, value: Value },
    #[error("invalid regex {pattern:?}: {source}")]
    Regex {
        pattern: String,
        source: regex::Error,
    },
    #[error("'{kind}' needs a value: its code or a file://script")]
    NoCode { kind: String },
    #[error("'{kind}' needs its code or a file://script as text, not {value}")]
    NotCode { kind: String, value: Value },
    #[error("'{kind}': {source}")]
    Script {
        kind: String,
        source: ScriptValueError,
    },
    #[error("'{kind}' transform: {source}")]
    Transform {
        kind: String,
        source: ScriptValueError,
    },
    #[error("'{kind}' {source}")]
    WordCount { kind: String, source: BoundsError },
}

/// Why a `word-count` value is not a count or a range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoundsError {
    #[error("needs a value: a number or {{ min, max }}")]
    Missing,
    #[error("needs a number or {{ min, max }}, not {0}")]
    NotBounds(Value),
    #[error("takes min and max, not {0}")]
    UnknownKey(String),
    #[error("bounds must be whole numbers, not {0}")]
    NotWhole(Value),
    #[error("needs min or max")]
    Empty,
    #[error("min {min} is above max {max}")]
    Reversed { min: usize, max: usize },
}

/// Why a script value (inline code, or a `file://` reference) names no
/// script ai-evals can run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptValueError {
    #[error("the code is empty")]
    Empty,
    #[error("file:// names no file")]
    NoFile,
    #[error("{0} is TypeScript, which ai-evals does not compile; compile it to .js and name that")]
    TypeScript(String),
    #[error("{0} is not a script: name a .js, .cjs, .mjs or .py file")]
    NotScript(String),
}

fn known_types() -> String {
    let known: Vec<&str> = Type::ALL.iter().map(|t| t.name()).collect();
    known.join(", ")
}
