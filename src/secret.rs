//! API keys: held in a type that never prints them, and scrubbed from any
//! text that leaves the process (logs, errors, stored results, reports).
//!
//! A provider's error body can quote the key it rejected, so keeping keys
//! out of format strings is not enough: every outgoing text passes through
//! [`redact`], which replaces each key registered in this process.

use std::borrow::Cow;
use std::fmt;
use std::sync::{OnceLock, RwLock};

/// Keys shorter than this are not scrubbed: replacing every "ab" in a
/// report would destroy it, and such a key is no secret anyway.
const MIN_SCRUBBED_LEN: usize = 8;

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The private name under which the Action hands the binary its GitHub
/// token, instead of `GITHUB_TOKEN`: the binary takes it out of its
/// environment before anything else runs, so the suite (its providers, the
/// processes it starts) never sees it, and only publishing uses it.
pub const GITHUB_TOKEN_VAR: &str = "AI_EVALS_GITHUB_TOKEN";

static GITHUB_TOKEN: OnceLock<Option<Secret>> = OnceLock::new();

/// Moves the token of [`GITHUB_TOKEN_VAR`] out of the environment.
///
/// # Safety
/// Changes the process's environment: call it before any other thread
/// starts (first thing in `main`).
pub unsafe fn take_github_token() {
    let token = std::env::var(GITHUB_TOKEN_VAR)
        .ok()
        .filter(|t| !t.is_empty());
    // SAFETY: the caller guarantees no other thread runs yet.
    unsafe { std::env::remove_var(GITHUB_TOKEN_VAR) };
    let _ = GITHUB_TOKEN.set(token.map(Secret::new));
}

/// The token [`take_github_token`] took, if any.
pub fn github_token() -> Option<&'static Secret> {
    GITHUB_TOKEN.get().and_then(Option::as_ref)
}

/// A secret value; `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key and registers it for scrubbing.
    pub fn new(value: String) -> Secret {
        if value.len() >= MIN_SCRUBBED_LEN {
            let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
            if !known.contains(&value) {
                known.push(value.clone());
            }
        }
        Secret(value)
    }

    /// The key itself, for the one place that needs it: the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `text` with every registered secret replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    if known.is_empty() || !known.iter().any(|k| text.contains(k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for key in known.iter() {
        out = out.replace(key.as_str(), "***");
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_and_are_scrubbed() {
        let key = Secret::new("sk-unit-test-0123456789".into());
        assert_eq!(format!("{key} {key:?}"), "*** ***");
        assert_eq!(
            redact("Incorrect API key provided: sk-unit-test-0123456789."),
            "Incorrect API key provided: ***."
        );
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_values_are_not_scrubbed() {
        let _ = Secret::new("abc".into());
        assert_eq!(redact("abc abc"), "abc abc");
    }
}
