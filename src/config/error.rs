//! What can be wrong with one value of the config, each with the message
//! the user reads. The section that finds it pairs it with its key, and
//! [`Source`](super::Source) adds the file.

use std::path::PathBuf;

use crate::assertion::SpecError;

use super::Role;

/// Why a value of the config is refused.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// A name that no `[prompts]` or `[providers]` entry defines.
    #[error("unknown {what} '{name}'{}", defined(.known))]
    Unknown {
        what: &'static str,
        name: String,
        known: Vec<String>,
    },
    #[error(transparent)]
    Assertion(#[from] SpecError),
    /// A model-graded assertion with no provider to grade it; `section` is
    /// `judge` or `embeddings`.
    #[error("'{kind}' needs a provider: set [grading] {section} or the assertion's provider")]
    NoGrader { kind: String, section: &'static str },
    #[error("a chat prompt needs at least one message")]
    EmptyChat,
    #[error("a chat prompt must end with a user message, not {}", .0.as_str())]
    ChatEnd(Role),
    #[error("{0} is not between 0 and 1")]
    NotFraction(f64),
    #[error(
        "{0:?} is refused: it holds a GitHub token or a runner's variable (GITHUB_*, ACTIONS_*, RUNNER_*, GH_TOKEN and the like), which must never go to a model provider. Put the provider's key in a variable of its own and name that"
    )]
    RefusedKeyEnv(String),
    #[error("{} is not valid UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("'{pattern}' is not a valid glob: {source}")]
    Glob {
        pattern: String,
        source: glob::PatternError,
    },
    #[error("no file matches {}", .0.display())]
    NoMatch(PathBuf),
}

impl Problem {
    /// An unknown name of `what` (`provider`, `prompt`), with the names
    /// that are defined.
    pub(super) fn unknown<'a>(
        what: &'static str,
        name: &str,
        known: impl Iterator<Item = &'a String>,
    ) -> Problem {
        Problem::Unknown {
            what,
            name: name.to_string(),
            known: known.cloned().collect(),
        }
    }
}

/// "; defined: a, b", or ": none is defined".
fn defined(known: &[String]) -> String {
    if known.is_empty() {
        ": none is defined".into()
    } else {
        format!("; defined: {}", known.join(", "))
    }
}
