//! The sticky pull-request comment: one per suite, found by its hidden
//! marker and its author (the token's own user), updated in place or
//! created. Comments of other users and bots are never touched.

use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::json;

use super::PullRequest;

/// The hidden first line that makes a comment ours, one per suite.
pub fn marker(suite: &str) -> String {
    format!("<!-- ai-evals:{suite} -->")
}

/// What happened to the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Created { id: u64, url: String },
    Updated { id: u64, url: String },
}

/// Why no comment was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentError {
    /// The token may not write comments: a fork pull request's read-only
    /// token, or a workflow without `pull-requests: write`.
    Forbidden(String),
    Other(String),
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

/// The user the Actions `GITHUB_TOKEN` comments as; `GET /user` is not
/// open to it.
const ACTIONS_BOT: &str = "github-actions[bot]";

/// A client for `api_url` (`$GITHUB_API_URL`: github.com or Enterprise).
pub fn client(api_url: &str, token: &str) -> Result<Octocrab, CommentError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Octocrab::builder()
        .base_uri(api_url)
        .map_err(|e| CommentError::Other(format!("GITHUB_API_URL {api_url} is not a URL: {e}")))?
        .personal_token(token.to_string())
        .build()
        .map_err(|e| CommentError::Other(format!("cannot set up the GitHub client: {e}")))
}

fn failed(what: &str, e: octocrab::Error) -> CommentError {
    match &e {
        octocrab::Error::GitHub { source, .. } => {
            let message = format!(
                "{what}: GitHub answered {} {}",
                source.status_code.as_u16(),
                source.message
            );
            if source.status_code.as_u16() == 403 || source.status_code.as_u16() == 404 {
                CommentError::Forbidden(message)
            } else {
                CommentError::Other(message)
            }
        }
        _ => CommentError::Other(format!("{what}: {e}")),
    }
}

/// Creates or updates this suite's comment on `pr` with `body` (which must
/// start with the suite's marker).
pub async fn post_sticky(
    github: &Octocrab,
    pr: &PullRequest,
    suite: &str,
    body: &str,
) -> Result<Posted, CommentError> {
    let marker = marker(suite);
    debug_assert!(body.starts_with(&marker));
    // A personal or app token can ask who it is; the Actions token cannot.
    let me = match github.get::<User, _, ()>("/user", None).await {
        Ok(user) => user.login,
        Err(_) => ACTIONS_BOT.to_string(),
    };
    let route = format!(
        "/repos/{}/{}/issues/{}/comments",
        pr.owner, pr.repo, pr.number
    );
    let mut page = 1u32;
    let existing = loop {
        let comments: Vec<Comment> = github
            .get(&route, Some(&json!({"per_page": 100, "page": page})))
            .await
            .map_err(|e| failed("listing the pull request's comments", e))?;
        let found = comments.iter().find(|c| {
            c.user.as_ref().is_some_and(|u| u.login == me)
                && c.body.as_deref().is_some_and(|b| b.starts_with(&marker))
        });
        if let Some(found) = found {
            break Some((found.id, found.html_url.clone()));
        }
        if comments.len() < 100 {
            break None;
        }
        page += 1;
    };
    let payload = json!({ "body": body });
    match existing {
        Some((id, _)) => {
            let updated: Comment = github
                .patch(
                    format!("/repos/{}/{}/issues/comments/{id}", pr.owner, pr.repo),
                    Some(&payload),
                )
                .await
                .map_err(|e| failed("updating the comment", e))?;
            Ok(Posted::Updated {
                id,
                url: updated.html_url,
            })
        }
        None => {
            let created: Comment = github
                .post(&route, Some(&payload))
                .await
                .map_err(|e| failed("creating the comment", e))?;
            Ok(Posted::Created {
                id: created.id,
                url: created.html_url,
            })
        }
    }
}
