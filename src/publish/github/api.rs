//! The client every GitHub call goes through (octocrab, against
//! `$GITHUB_API_URL`, or GitHub Enterprise's): timeouts on every call, and
//! GitHub's refusals kept with their status, so each caller can say what
//! to do about a 403, a 404 or a 422.

use std::future::Future;
use std::time::Duration;

use octocrab::Octocrab;
use serde_json::json;

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a socket may stay silent while a request is sent or answered.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one API call may take in all (a download is timed by
/// [`IO_TIMEOUT`] alone, since a large file takes as long as it takes).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A GitHub call that failed: the HTTP status, when GitHub answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: Option<u16>,
    pub message: String,
}

impl ApiError {
    /// A failure of `what` (e.g. "listing the comments").
    pub fn of(what: &str, e: octocrab::Error) -> ApiError {
        match e {
            octocrab::Error::GitHub { source, .. } => ApiError {
                status: Some(source.status_code.as_u16()),
                message: format!(
                    "{what}: GitHub answered {} {}",
                    source.status_code.as_u16(),
                    source.message
                ),
            },
            e => ApiError {
                status: None,
                message: format!("{what}: {e}"),
            },
        }
    }
}

/// The REST client and, apart, the GraphQL one (their roots differ on
/// GitHub Enterprise: `/api/v3` and `/api/graphql`).
pub struct GitHub {
    pub rest: Octocrab,
    graphql: Octocrab,
}

impl GitHub {
    /// Clients for `api_url` (`$GITHUB_API_URL`) and `graphql_url`
    /// (`$GITHUB_GRAPHQL_URL`; when empty, derived from `api_url`).
    pub fn new(api_url: &str, graphql_url: &str, token: &str) -> Result<GitHub, ApiError> {
        let graphql_root = match graphql_url.strip_suffix("/graphql") {
            Some(root) => root.to_string(),
            None if api_url.trim_end_matches('/').ends_with("/api/v3") => api_url
                .trim_end_matches('/')
                .trim_end_matches("/v3")
                .to_string(),
            None => api_url.to_string(),
        };
        Ok(GitHub {
            rest: client(api_url, token)?,
            graphql: client(&graphql_root, token)?,
        })
    }

    /// Runs one API call, giving up after [`CALL_TIMEOUT`].
    pub async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = octocrab::Result<T>>,
    ) -> Result<T, ApiError> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(ApiError::of(what, e)),
            Err(_) => Err(ApiError {
                status: None,
                message: format!(
                    "{what}: GitHub did not answer within {} s",
                    CALL_TIMEOUT.as_secs()
                ),
            }),
        }
    }

    /// The login the token acts as. GraphQL's `viewer` answers for every
    /// kind of token, GitHub App installation tokens included (an App's
    /// login ends in `[bot]`), where `GET /user` answers 403.
    pub async fn viewer(&self) -> Result<String, ApiError> {
        let query = json!({ "query": "query { viewer { login } }" });
        let data: serde_json::Value = self
            .call(
                "asking GitHub who the token is",
                self.graphql.graphql(&query),
            )
            .await?;
        data.pointer("/viewer/login")
            .and_then(|l| l.as_str())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ApiError {
                status: None,
                message: "asking GitHub who the token is: the answer names no login".into(),
            })
    }
}

fn client(root: &str, token: &str) -> Result<Octocrab, ApiError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let failed = |message: String| ApiError {
        status: None,
        message,
    };
    Octocrab::builder()
        .base_uri(root)
        .map_err(|e| failed(format!("{root} is not a URL: {e}")))?
        .personal_token(token.to_string())
        .set_connect_timeout(Some(CONNECT_TIMEOUT))
        .set_read_timeout(Some(IO_TIMEOUT))
        .set_write_timeout(Some(IO_TIMEOUT))
        .build()
        .map_err(|e| failed(format!("cannot set up the GitHub client: {e}")))
}

/// `owner/name` split, when it is one (GitHub's rules: letters, digits,
/// `-`, `_` and `.`), so neither part can change an API path.
pub fn split_repo(full_name: &str) -> Option<(String, String)> {
    let (owner, name) = full_name.split_once('/')?;
    let fine = |part: &str| {
        !part.is_empty()
            && part.len() <= 100
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && part != "."
            && part != ".."
    };
    (fine(owner) && fine(name)).then(|| (owner.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_must_be_owner_and_name() {
        assert_eq!(
            split_repo("octo-org/octo.repo"),
            Some(("octo-org".into(), "octo.repo".into()))
        );
        for bad in ["octo", "a/b/c", "a/..", "a/b?x=1", "/b", "a/b c"] {
            assert_eq!(split_repo(bad), None, "{bad}");
        }
    }
}
