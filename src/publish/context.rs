//! Where a run happened: commit, branch and pull request, read from the
//! GitHub Actions environment or, locally, from git.

use std::path::Path;
use std::process::Command;

use crate::compare::baseline::Base;
use crate::publish::github::event::{self, base_of_event};

/// The revision a run belongs to; every field may be unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitContext {
    pub sha: Option<String>,
    pub branch: Option<String>,
    pub pr_number: Option<i64>,
    /// The pull request's base commit and branch, when the run is for one.
    pub base: Option<Base>,
}

impl GitContext {
    /// Reads the context for a run whose config lives in `dir`.
    ///
    /// On a pull request, `GITHUB_SHA` is the merge commit GitHub made; the
    /// head commit from the event payload is the one a reviewer knows, so it
    /// wins.
    pub fn detect(dir: &Path) -> GitContext {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let event = event::payload();
        let pull_request = event.as_ref().and_then(|e| e.get("pull_request"));
        let sha = pull_request
            .and_then(|pr| pr.pointer("/head/sha"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| env("GITHUB_SHA"))
            .or_else(|| git(dir, &["rev-parse", "HEAD"]));
        let branch = env("GITHUB_HEAD_REF")
            .or_else(|| env("GITHUB_REF_NAME"))
            .or_else(|| git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD"));
        let pr_number = pull_request
            .and_then(|pr| pr.get("number"))
            .and_then(|n| n.as_i64());
        GitContext {
            sha,
            branch,
            pr_number,
            base: event.as_ref().and_then(base_of_event),
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}
