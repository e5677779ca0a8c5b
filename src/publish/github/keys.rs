//! What the Action calls its Actions cache entries, where it finds the
//! files they hold, and which of them a run saves.
//!
//! actions/cache restores by prefix (`restore-keys`, newest match wins) and
//! `cache gc` lists by prefix, so a prefix is a row of fields that each end
//! with `;`, which no field can hold: one use's prefix is never the start
//! of another's key (the `id` gpt-4o against gpt-4o-mini, no `id` against
//! an `id`, a whole run against a shard). A save appends
//! `<sha>-<run_id>-<run_attempt>` ([`is_saved_under`] checks that shape).

use std::path::{Component, Path, PathBuf};

/// Ends every field of a key; [`field`] keeps it out of the fields.
const END: char = ';';

/// What tells one use of the Action from another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope<'a> {
    /// `$RUNNER_OS`: a cache saved on one OS is not restored on another.
    pub os: &'a str,
    /// The config's path from the workspace root.
    pub config: &'a str,
    /// The Action's `id` input (empty when unset).
    pub id: &'a str,
    /// The shard as `I-of-N`, for a sharded run.
    pub shard: Option<String>,
}

impl Scope<'_> {
    /// The history's prefix: `storage` is the storage version of the
    /// database files, which another engine cannot open. A shard keeps no
    /// history.
    pub fn history_prefix(&self, storage: &str) -> Option<String> {
        if self.shard.is_some() {
            return None;
        }
        Some(format!(
            "ai-evals-history{END}{}{END}{}{END}{}{END}{}{END}",
            field(storage),
            field(self.os),
            config_field(self.config),
            field(self.id)
        ))
    }

    /// The response cache's prefix.
    pub fn responses_prefix(&self) -> String {
        format!(
            "ai-evals-responses{END}{}{END}{}{END}{}{END}{}{END}",
            field(self.os),
            config_field(self.config),
            field(self.id),
            field(self.shard.as_deref().unwrap_or(""))
        )
    }
}

/// Letters, digits, `.`, `_` and `-`; anything else becomes `-`.
fn field(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The config's path made readable, and a hash of it, since two paths can
/// read the same once made readable (`a/b.toml`, `a-b.toml`).
fn config_field(config: &str) -> String {
    let readable: String = field(config).chars().take(48).collect();
    let hash = blake3::hash(config.as_bytes()).to_hex();
    format!("{readable}.{}", &hash[..12])
}

/// Whether `key` is an entry a save under `prefix` wrote:
/// `<prefix><sha>-<run_id>-<run_attempt>`, with a SHA-1 or SHA-256 commit.
pub fn is_saved_under(prefix: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(prefix) else {
        return false;
    };
    let mut parts = rest.split('-');
    let (Some(sha), Some(run), Some(attempt), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    matches!(sha.len(), 40 | 64)
        && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && digits(run)
        && digits(attempt)
}

/// How the run was started: `$GITHUB_EVENT_NAME`, `$GITHUB_REF_TYPE` and
/// `$GITHUB_REF_NAME`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trigger {
    pub event: String,
    pub ref_type: String,
    pub ref_name: String,
}

/// What a run saves to the Actions cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saves {
    /// The history: only a whole run of the baseline branch.
    pub history: bool,
    /// The response cache: a baseline run, and a pull request in its own
    /// scope (its next push reuses it).
    pub responses: bool,
}

impl Trigger {
    /// What a run with this trigger saves. A baseline run is a push (or a
    /// start by hand or by schedule) of the baseline branch itself. A
    /// `pull_request_target` run saves nothing: its entries would land in
    /// the base branch's scope, which every pull request restores. Nor does
    /// a `merge_group` run: its scope is the queue's temporary branch.
    pub fn saves(&self, baseline_branch: &str, sharded: bool) -> Saves {
        let baseline_run = matches!(
            self.event.as_str(),
            "push" | "workflow_dispatch" | "schedule"
        ) && matches!(self.ref_type.as_str(), "branch" | "")
            && self.ref_name == baseline_branch;
        Saves {
            history: baseline_run && !sharded,
            responses: baseline_run || self.event == "pull_request",
        }
    }
}

/// `path` (as a run in `cwd` uses it) as actions/cache and upload-artifact
/// read it: relative to the workspace with `/` between its parts, or
/// absolute when it lies outside.
pub fn from_workspace(workspace: &Path, cwd: &Path, path: &Path) -> String {
    let full = normalize(&cwd.join(path));
    let root = normalize(workspace);
    match full.strip_prefix(&root) {
        Ok(inside) if inside.as_os_str().is_empty() => ".".into(),
        Ok(inside) => inside
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => full.display().to_string(),
    }
}

/// `.` and `..` resolved without the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope<'a>(config: &'a str, id: &'a str, shard: Option<&str>) -> Scope<'a> {
        Scope {
            os: "Linux",
            config,
            id,
            shard: shard.map(str::to_string),
        }
    }

    const SAVED: &str = "0123456789abcdef0123456789abcdef01234567-42-1";

    /// Every prefix against every other scope's saved key.
    #[test]
    fn no_prefix_matches_another_scopes_entries() {
        let scopes = [
            scope("evals.toml", "", None),
            scope("evals.toml", "gpt-4o", None),
            scope("evals.toml", "gpt-4o-mini", None),
            scope("evals.toml", "gpt-4o", Some("1-of-4")),
            scope("evals.toml", "", Some("1-of-4")),
            scope("evals.toml", "", Some("1-of-40")),
            scope("a/b.toml", "", None),
            scope("a-b.toml", "", None),
            scope("evals.toml-gpt-4o", "", None),
            scope("evals.toml;x", "", None),
        ];
        let mut prefixes = Vec::new();
        for s in &scopes {
            prefixes.push(s.responses_prefix());
            prefixes.extend(s.history_prefix("duckdb-v1.5"));
        }
        for (i, prefix) in prefixes.iter().enumerate() {
            for (j, other) in prefixes.iter().enumerate() {
                let key = format!("{other}{SAVED}");
                assert_eq!(
                    is_saved_under(prefix, &key),
                    i == j,
                    "{prefix} against {key}"
                );
                assert_eq!(key.starts_with(prefix.as_str()), i == j, "{prefix} {key}");
            }
        }
    }

    #[test]
    fn keys_are_readable_and_end_their_fields() {
        let s = scope("evals/gpt-4o.toml", "gpt-4o", None);
        let history = s.history_prefix("duckdb-v1.5").unwrap();
        assert!(
            history.starts_with("ai-evals-history;duckdb-v1.5;Linux;evals-gpt-4o.toml."),
            "{history}"
        );
        assert!(history.ends_with(";gpt-4o;"), "{history}");
        assert_eq!(scope("x", "", Some("2-of-8")).history_prefix("v"), None);
        let responses = scope("x", "", Some("2-of-8")).responses_prefix();
        assert!(responses.ends_with(";;2-of-8;"), "{responses}");
        // Commas end a key for actions/cache; no field keeps one.
        assert!(!scope("a,b.toml", "", None).responses_prefix().contains(','));
    }

    #[test]
    fn only_the_whole_saved_shape_counts() {
        let p = "ai-evals-responses;Linux;e.abc;;;";
        assert!(is_saved_under(p, &format!("{p}{SAVED}")));
        let sha256 = format!("{p}{}-1-2", "a".repeat(64));
        assert!(is_saved_under(p, &sha256));
        for bad in [
            p.to_string(),
            format!("{p}{SAVED}-x"),
            format!("{p}gpt-4o;{SAVED}"),
            format!("{p}{}-1-1", "A".repeat(40)),
            format!("{p}{}-1-1", "a".repeat(39)),
            format!("{p}{}--1", "a".repeat(40)),
            format!("other{SAVED}"),
        ] {
            assert!(!is_saved_under(p, &bad), "{bad}");
        }
    }

    fn trigger(event: &str, ref_name: &str) -> Trigger {
        Trigger {
            event: event.into(),
            ref_type: "branch".into(),
            ref_name: ref_name.into(),
        }
    }

    #[test]
    fn what_each_trigger_saves() {
        let both = Saves {
            history: true,
            responses: true,
        };
        let none = Saves {
            history: false,
            responses: false,
        };
        assert_eq!(trigger("push", "main").saves("main", false), both);
        assert_eq!(trigger("schedule", "main").saves("main", false), both);
        assert_eq!(
            trigger("push", "main").saves("main", true),
            Saves {
                history: false,
                responses: true
            }
        );
        assert_eq!(trigger("push", "topic").saves("main", false), none);
        let tag = Trigger {
            ref_type: "tag".into(),
            ..trigger("push", "main")
        };
        assert_eq!(tag.saves("main", false), none);
        assert_eq!(
            trigger("pull_request", "2/merge").saves("main", false),
            Saves {
                history: false,
                responses: true
            }
        );
        assert_eq!(
            trigger("pull_request_target", "main").saves("main", false),
            none
        );
        assert_eq!(
            trigger("merge_group", "gh-readonly-queue/main/pr-1-abc").saves("main", false),
            none
        );
    }

    #[test]
    fn paths_from_the_workspace() {
        let ws = Path::new("/w/repo");
        let at = |cwd: &str, p: &str| from_workspace(ws, Path::new(cwd), Path::new(p));
        assert_eq!(at("/w/repo", "ai-evals.duckdb"), "ai-evals.duckdb");
        assert_eq!(at("/w/repo/sub", "ai-evals.duckdb"), "sub/ai-evals.duckdb");
        assert_eq!(at("/w/repo/sub", "./x/../c"), "sub/c");
        assert_eq!(at("/w/repo/sub", ".."), ".");
        assert_eq!(at("/w/repo", "/tmp/db"), "/tmp/db");
        assert_eq!(at("/w/repo/sub", "../../other/db"), "/w/other/db");
    }
}
