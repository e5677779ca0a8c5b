//! The pull request a job runs for, from `$GITHUB_EVENT_PATH`:
//! `pull_request` and `pull_request_target` events carry it whole; a
//! `workflow_run` event (the pattern that comments for forks) carries the
//! pull requests of the run that triggered it.

use serde_json::Value;

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

/// The pull request's base from a GitHub event payload: a `pull_request`
/// event, or a `workflow_run` event for a pull request (the way a comment
/// is posted for a fork).
pub fn base_of_event(event: &Value) -> Option<Base> {
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
    }
}
