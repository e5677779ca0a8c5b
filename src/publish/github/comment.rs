//! The sticky pull-request comment: one per suite (and comment id), found
//! by its hidden marker and its author (the token's own login), updated in
//! place or created. Comments of other users and bots are never touched.

use serde::Deserialize;
use serde_json::json;

use super::PullRequest;
use super::api::{ApiError, GitHub};

/// The hidden first line that makes a comment ours: one per suite, or per
/// suite and `id` (matrix legs of one suite). Both are names checked to
/// hold no `-->`. Without an id it is the marker of earlier releases, so
/// their comments are still found.
pub fn marker(suite: &str, id: &str) -> String {
    if id.is_empty() {
        format!("<!-- ai-evals:{suite} -->")
    } else {
        format!("<!-- ai-evals:{suite}:{id} -->")
    }
}

/// What happened to the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Created { id: u64, url: String },
    Updated { id: u64, url: String },
}

/// Why no comment was posted, by GitHub's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentError {
    /// 403: the token may not write comments (a fork pull request's
    /// read-only token, or no `pull-requests: write`).
    Forbidden(String),
    /// 404: no such pull request, or the token cannot see the repository.
    NotFound(String),
    /// 422: GitHub refused the body.
    Refused(String),
    Other(String),
}

impl From<ApiError> for CommentError {
    fn from(e: ApiError) -> CommentError {
        match e.status {
            Some(403) => CommentError::Forbidden(e.message),
            Some(404) => CommentError::NotFound(e.message),
            Some(422) => CommentError::Refused(e.message),
            _ => CommentError::Other(e.message),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: u64,
    body: Option<String>,
    html_url: String,
    user: Option<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
}

/// The login of the Actions `GITHUB_TOKEN`, assumed when GitHub cannot
/// say who the token is.
const ACTIONS_BOT: &str = "github-actions[bot]";

/// Creates or updates the comment that starts with `marker` on `pr`, with
/// `body` (which starts with it).
pub async fn post_sticky(
    github: &GitHub,
    pr: &PullRequest,
    marker: &str,
    body: &str,
) -> Result<Posted, CommentError> {
    debug_assert!(body.starts_with(marker));
    let me = match github.viewer().await {
        Ok(login) => login,
        Err(e) => {
            crate::log::debug(&format!("{}; assuming {ACTIONS_BOT}", e.message));
            ACTIONS_BOT.to_string()
        }
    };
    let route = format!(
        "/repos/{}/{}/issues/{}/comments",
        pr.owner, pr.repo, pr.number
    );
    if let Some(id) = find(github, &route, &me, marker).await? {
        let updated: Result<Comment, ApiError> = github
            .call(
                "updating the comment",
                github.rest.patch(
                    format!("/repos/{}/{}/issues/comments/{id}", pr.owner, pr.repo),
                    Some(&json!({ "body": body })),
                ),
            )
            .await;
        match updated {
            Ok(updated) => {
                return Ok(Posted::Updated {
                    id,
                    url: updated.html_url,
                });
            }
            // Deleted since it was listed: a new one takes its place.
            Err(e) if e.status == Some(404) => {
                crate::log::debug(&format!("{}; creating a new comment", e.message));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let created: Comment = github
        .call(
            "creating the comment",
            github.rest.post(&route, Some(&json!({ "body": body }))),
        )
        .await?;
    Ok(Posted::Created {
        id: created.id,
        url: created.html_url,
    })
}

/// Our comment's id: by `me`, starting with `marker`; every page of the
/// pull request's comments is read until it is found.
async fn find(
    github: &GitHub,
    route: &str,
    me: &str,
    marker: &str,
) -> Result<Option<u64>, CommentError> {
    let mut page = 1u32;
    loop {
        let comments: Vec<Comment> = github
            .call(
                "listing the pull request's comments",
                github
                    .rest
                    .get(route, Some(&json!({"per_page": 100, "page": page}))),
            )
            .await?;
        let found = comments.iter().find(|c| {
            c.user.as_ref().is_some_and(|u| u.login == me)
                && c.body.as_deref().is_some_and(|b| b.starts_with(marker))
        });
        if let Some(found) = found {
            return Ok(Some(found.id));
        }
        if comments.len() < 100 {
            return Ok(None);
        }
        page += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_tell_suites_and_ids_apart() {
        assert_eq!(marker("demo", ""), "<!-- ai-evals:demo -->");
        assert_eq!(marker("demo", "leg-1"), "<!-- ai-evals:demo:leg-1 -->");
        let one = marker("demo", "a");
        for other in [
            marker("demo", ""),
            marker("demo", "ab"),
            marker("demo2", "a"),
        ] {
            assert!(!other.starts_with(&one) && !one.starts_with(&other));
        }
    }
}
