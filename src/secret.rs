//! Secrets (API keys, the GitHub token): held in a type that never prints
//! them, and replaced by `[redacted]` in any text that leaves the process
//! (logs, errors, the cache, stored results, reports, the comment).
//!
//! A provider's error body can quote the key it rejected, and a model can
//! be made to repeat one, so keeping keys out of format strings is not
//! enough: every outgoing text passes through [`redact`], which replaces
//! each secret registered in this process, wherever and however often it
//! appears. Texts are redacted whole, before anything cuts them short, so
//! no part of a key survives at a cut.

use std::borrow::Cow;
use std::fmt;
use std::sync::{OnceLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The private name under which the Action hands the binary its GitHub
/// token, instead of `GITHUB_TOKEN`: the binary takes it out of its
/// environment before anything else runs, so the suite (its providers, the
/// processes it starts) never sees it, and only publishing uses it.
pub const GITHUB_TOKEN_VAR: &str = "AI_EVALS_GITHUB_TOKEN";

static GITHUB_TOKEN: OnceLock<Option<Secret>> = OnceLock::new();

/// Moves the token of [`GITHUB_TOKEN_VAR`] out of the environment, and
/// registers it to be redacted like any other secret.
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
    if let Some(token) = &token {
        register(token);
    }
    let _ = GITHUB_TOKEN.set(token.map(Secret::new));
}

/// The token [`take_github_token`] took, if any.
pub fn github_token() -> Option<&'static Secret> {
    GITHUB_TOKEN.get().and_then(Option::as_ref)
}

/// Secrets shorter than this are not redacted: replacing every "ab" in a
/// report would destroy it, and such a value is no secret anyway.
const MIN_REDACTED_LEN: usize = 8;

/// The registered secrets and a matcher for all of them at once.
struct Registry {
    secrets: Vec<String>,
    /// Leftmost-longest, so that of two secrets where one holds the other,
    /// the longer is replaced whole.
    matcher: Option<AhoCorasick>,
}

static KNOWN: RwLock<Registry> = RwLock::new(Registry {
    secrets: Vec::new(),
    matcher: None,
});

/// A secret value; `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key and registers it for redaction.
    pub fn new(value: String) -> Secret {
        register(&value);
        Secret(value)
    }

    /// The key itself, for the one place that needs it: the request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Registers `value` for redaction from now on (values shorter than 8
/// characters excepted).
pub fn register(value: &str) {
    let value = value.trim();
    if value.len() < MIN_REDACTED_LEN {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    if known.secrets.iter().any(|s| s == value) {
        return;
    }
    known.secrets.push(value.to_string());
    known.matcher = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&known.secrets)
        .ok();
}

/// `text` with every registered secret replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    match &known.matcher {
        Some(matcher) if matcher.is_match(text) => {
            Cow::Owned(matcher.replace_all(text, &vec![REDACTED; known.secrets.len()]))
        }
        _ => Cow::Borrowed(text),
    }
}

/// Redacts `text` in place; leaves it untouched when it holds no secret.
pub fn redact_in_place(text: &mut String) {
    if let Cow::Owned(redacted) = redact(text) {
        *text = redacted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_and_are_redacted() {
        let key = Secret::new("sk-unit-test-0123456789".into());
        assert_eq!(format!("{key} {key:?}"), "[redacted] [redacted]");
        assert_eq!(
            redact("Incorrect API key provided: sk-unit-test-0123456789."),
            "Incorrect API key provided: [redacted]."
        );
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_occurrence_goes_and_a_longer_secret_goes_whole() {
        register("ghp_unit_0123456789");
        register("ghp_unit_0123456789abcdef");
        assert_eq!(
            redact("a ghp_unit_0123456789abcdef b ghp_unit_0123456789 c ghp_unit_0123456789abcdef"),
            "a [redacted] b [redacted] c [redacted]"
        );
        let mut text = String::from("xghp_unit_0123456789x");
        redact_in_place(&mut text);
        assert_eq!(text, "x[redacted]x");
    }

    #[test]
    fn short_values_are_not_redacted() {
        let _ = Secret::new("abc".into());
        assert_eq!(redact("abc abc"), "abc abc");
    }
}
