//! The error type every stage returns, and the exit code each kind maps to.
//!
//! The kind decides the exit code (2 for anything the user must fix in their
//! command, config or data; 3 for failures while running), so stages say
//! *what* went wrong and `main` never has to guess *whose* fault it was.
//!
//! Inside a stage, what can go wrong has a type of its own (a `thiserror`
//! enum beside the code, such as `config::Problem`,
//! `ingest::prompt::TemplateError` or `store::schema::SchemaError`), each
//! variant with the message the user reads. Where it leaves the stage it
//! becomes an [`Error`]: the caller adds what it knows (the file, the key,
//! the row) and chooses the kind.

use std::fmt;
use std::path::Path;

/// What kind of failure this is; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad command line, config, dataset or database file: exit code 2.
    Input,
    /// Something failed while running (provider, database write): exit code 3.
    Runtime,
    /// A stage stopped because the stage it feeds stopped taking its output
    /// (the run was interrupted, or a later stage failed): not a failure
    /// of its own. Exit code 3, should it ever reach `main`.
    Stopped,
}

/// An error with a message written for the user: what went wrong and, where
/// it helps, what to do about it.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Something the user must fix in their command, config or data.
    pub fn input(message: impl Into<String>) -> Self {
        Error {
            kind: Kind::Input,
            message: message.into(),
        }
    }

    /// A failure while running.
    pub fn runtime(message: impl Into<String>) -> Self {
        Error {
            kind: Kind::Runtime,
            message: message.into(),
        }
    }

    /// The error of a stage whose output is no longer taken.
    pub fn stopped(message: impl Into<String>) -> Self {
        Error {
            kind: Kind::Stopped,
            message: message.into(),
        }
    }

    /// An input error located at `file:line`, the format editors and CI
    /// annotations understand.
    pub fn at(path: &Path, line: u64, message: impl fmt::Display) -> Self {
        Error::input(format!("{}:{line}: {message}", path.display()))
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// What went wrong, for the user.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Input => 2,
            Kind::Runtime | Kind::Stopped => 3,
        }
    }

    /// Prefixes the message with context, keeping the kind.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Error {
            kind: self.kind,
            message: format!("{context}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
