//! The pull request a job runs for, from `$GITHUB_EVENT_PATH`:
//! `pull_request` and `pull_request_target` events carry it whole; a
//! `workflow_run` event (the pattern that comments for forks) carries the
//! pull requests of the run that triggered it, except when that run was
//! for a fork's pull request: then it is found by the run's head.

use serde_json::{Value, json};

use super::api::{ApiError, GitHub, split_repo};
use crate::compare::baseline::Base;

/// Where the comment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub owner: String,
    pub repo: String,
    pub number: u64,
    /// The commit under test (the head), for links.
    pub head_sha: Option<String>,
}

/// The pull request of an event payload, if it is about one.
pub fn pull_request(event: &Value) -> Option<PullRequest> {
    let (owner, repo) = event
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        .and_then(|full| full.split_once('/'))
        .map(|(o, r)| (o.to_string(), r.to_string()))?;
    let pr = event
        .get("pull_request")
        .or_else(|| event.pointer("/workflow_run/pull_requests/0"))?;
    let number = pr.get("number").and_then(Value::as_u64)?;
    let head_sha = pr
        .pointer("/head/sha")
        .and_then(Value::as_str)
        .or_else(|| {
            event
                .pointer("/workflow_run/head_sha")
                .and_then(Value::as_str)
        })
        .map(str::to_string);
    Some(PullRequest {
        owner,
        repo,
        number,
        head_sha,
    })
}

/// The run a `workflow_run` event is about. GitHub wrote all of it, so
/// the fork-safe comment job trusts it where it trusts nothing the run
/// uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRun {
    /// The base repository, where the comment goes.
    pub owner: String,
    pub repo: String,
    /// The run's page.
    pub html_url: String,
    /// The commit the run tested, and where it came from (a fork's owner
    /// and branch for a fork's pull request).
    pub head_sha: String,
    pub head_owner: String,
    pub head_branch: String,
    /// The pull request, when the event names one (not for forks).
    pub pull_request: Option<u64>,
}

/// The run of a `workflow_run` event, when the payload is one.
pub fn workflow_run(event: &Value) -> Option<WorkflowRun> {
    let run = event.get("workflow_run")?;
    let text = |pointer: &str| run.pointer(pointer).and_then(Value::as_str);
    let (owner, repo) = split_repo(event.pointer("/repository/full_name")?.as_str()?)?;
    let head_sha = text("/head_sha").filter(|s| is_sha(s))?;
    Some(WorkflowRun {
        owner,
        repo,
        html_url: text("/html_url")?.to_string(),
        head_sha: head_sha.to_string(),
        head_owner: text("/head_repository/owner/login")?.to_string(),
        head_branch: text("/head_branch")?.to_string(),
        pull_request: run
            .pointer("/pull_requests/0/number")
            .and_then(Value::as_u64),
    })
}

/// A full commit id.
pub fn is_sha(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The pull request `run` tested: the one the event names, else the open
/// pull request whose head is the run's branch at the run's commit (none
/// when it has moved on since).
pub async fn pull_request_of_run(
    github: &GitHub,
    run: &WorkflowRun,
) -> Result<Option<PullRequest>, ApiError> {
    let at = |number: u64| PullRequest {
        owner: run.owner.clone(),
        repo: run.repo.clone(),
        number,
        head_sha: Some(run.head_sha.clone()),
    };
    if let Some(number) = run.pull_request {
        return Ok(Some(at(number)));
    }
    let query = json!({
        "head": format!("{}:{}", run.head_owner, run.head_branch),
        "state": "open",
        "per_page": 100,
    });
    let pulls: Vec<Value> = github
        .call(
            "finding the pull request of the run",
            github.rest.get(
                format!("/repos/{}/{}/pulls", run.owner, run.repo),
                Some(&query),
            ),
        )
        .await?;
    Ok(pulls
        .iter()
        .filter(|p| p.pointer("/head/sha").and_then(Value::as_str) == Some(&run.head_sha))
        .find_map(|p| p.get("number").and_then(Value::as_u64))
        .map(at))
}

/// The repository's default branch, from an event payload.
pub fn default_branch(event: &Value) -> Option<String> {
    event
        .pointer("/repository/default_branch")
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
}

/// The pull request's base from a GitHub event payload: a `pull_request`
/// event, a `workflow_run` event for a pull request (the way a comment is
/// posted for a fork), or a `merge_group` event, whose run is compared
/// with its base commit as a push to the branch would be.
pub fn base_of_event(event: &Value) -> Option<Base> {
    if let Some(group) = event.get("merge_group") {
        let sha = group.get("base_sha")?.as_str().filter(|s| !s.is_empty())?;
        let branch = group
            .get("base_ref")
            .and_then(Value::as_str)
            .map(|r| r.strip_prefix("refs/heads/").unwrap_or(r).to_string());
        return Some(Base {
            sha: sha.to_string(),
            branch,
        });
    }
    let base = event
        .pointer("/pull_request/base")
        .or_else(|| event.pointer("/workflow_run/pull_requests/0/base"))?;
    let sha = base.get("sha")?.as_str().filter(|s| !s.is_empty())?;
    Some(Base {
        sha: sha.to_string(),
        branch: base.get("ref").and_then(|r| r.as_str()).map(str::to_string),
    })
}

/// The payload of the event this job runs for (`$GITHUB_EVENT_PATH`), if
/// there is one and it parses.
pub fn payload() -> Option<Value> {
    let path = std::env::var_os("GITHUB_EVENT_PATH").filter(|p| !p.is_empty())?;
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The pull request this job runs for, if any.
pub fn from_env() -> Option<PullRequest> {
    pull_request(&payload()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::baseline::Request;
    use crate::config::CompareConfig;

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/github-events")
            .join(name);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn pull_request_events_name_the_pull_request() {
        let pr = pull_request(&fixture("pull_request_opened.payload.json")).unwrap();
        assert_eq!(
            (pr.owner.as_str(), pr.repo.as_str()),
            ("Codertocat", "Hello-World")
        );
        assert_eq!(pr.number, 2);
        assert_eq!(
            pr.head_sha.as_deref(),
            Some("ec26c3e57ca3a959ca5aad62de7213c562f8c821")
        );
        assert!(pull_request(&fixture("pull_request_opened.with-null-body.json")).is_some());
    }

    #[test]
    fn a_workflow_run_carries_its_pull_request() {
        let event = fixture("workflow_run_completed.with-pull-requests.payload.json");
        let pr = pull_request(&event).unwrap();
        assert_eq!(
            pr.number,
            event["workflow_run"]["pull_requests"][0]["number"]
        );
    }

    #[test]
    fn a_workflow_run_names_its_run_and_head() {
        let event = fixture("workflow_run_completed.with-pull-requests.payload.json");
        let run = workflow_run(&event).unwrap();
        assert_eq!(
            (run.owner.as_str(), run.repo.as_str()),
            ("octo-org", "octo-repo")
        );
        assert_eq!(
            run.html_url,
            "https://github.com/octo-org/octo-repo/actions/runs/289782451"
        );
        assert_eq!(run.pull_request, Some(2));
        let fork = fixture("workflow_run_completed.from-fork.payload.json");
        let run = workflow_run(&fork).unwrap();
        assert_eq!(run.pull_request, None);
        assert_eq!(
            (run.head_owner.as_str(), run.head_branch.as_str()),
            ("attacker", "main")
        );
        assert_eq!(workflow_run(&fixture("push_payload.json")), None);
    }

    #[test]
    fn a_push_is_not_about_a_pull_request() {
        assert_eq!(pull_request(&fixture("push_payload.json")), None);
    }

    #[test]
    fn base_comes_from_the_pull_request_payload() {
        let base = base_of_event(&fixture("pull_request_opened.payload.json")).unwrap();
        assert_eq!(base.sha, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
        assert_eq!(base.branch.as_deref(), Some("master"));
        let request = Request {
            base: Some(base),
            ..Request::default()
        };
        assert_eq!(request.branch(&CompareConfig::default()), "master");
    }

    #[test]
    fn a_merge_group_is_compared_with_its_base_commit() {
        let event = fixture("merge_group_checks_requested.payload.json");
        let base = base_of_event(&event).unwrap();
        assert_eq!(base.sha, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
        assert_eq!(base.branch.as_deref(), Some("main"));
        assert_eq!(pull_request(&event), None, "no comment to post");
    }

    #[test]
    fn a_workflow_run_for_a_pull_request_has_its_base() {
        let event = fixture("workflow_run_completed.with-pull-requests.payload.json");
        let base = base_of_event(&event).unwrap();
        assert_eq!(base.sha, "f95f852bd8fca8fcc58a9a2d6c842781e32a215e");
    }

    #[test]
    fn a_push_has_no_base_and_the_config_branch_applies() {
        assert_eq!(base_of_event(&fixture("push_payload.json")), None);
        let request = Request::default();
        assert_eq!(request.branch(&CompareConfig::default()), "main");
        let flagged = Request {
            branch: Some("develop".into()),
            ..Request::default()
        };
        assert_eq!(flagged.branch(&CompareConfig::default()), "develop");
        // Unset in the config, the repository's default branch wins over main.
        let push = fixture("push_payload.json");
        let on_push = Request {
            default_branch: default_branch(&push),
            ..Request::default()
        };
        assert_eq!(on_push.branch(&CompareConfig::default()), "master");
        let configured = CompareConfig {
            baseline_branch: Some("release".into()),
            ..CompareConfig::default()
        };
        assert_eq!(on_push.branch(&configured), "release");
    }
}
