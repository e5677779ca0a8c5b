//! Superseded GitHub Actions cache entries. An entry cannot be updated,
//! so every save is a new one; without deleting the old ones, a
//! repository's 10 GB fills up and GitHub evicts the least recently used
//! entries, the history among them.

use serde::Deserialize;
use serde_json::json;

use super::api::{ApiError, GitHub};
use super::keys;

/// One cache entry, as the REST API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entry {
    pub id: u64,
    pub key: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub created_at: String,
    pub size_in_bytes: u64,
}

#[derive(Debug, Deserialize)]
struct Page {
    actions_caches: Vec<Entry>,
}

/// The entries of `git_ref` that saves under `prefix` wrote
/// (`<prefix><sha>-<run>-<attempt>`), newest first.
pub async fn list(
    github: &GitHub,
    owner: &str,
    repo: &str,
    prefix: &str,
    git_ref: &str,
) -> Result<Vec<Entry>, ApiError> {
    let mut entries = Vec::new();
    for page in 1.. {
        let query = json!({
            "key": prefix, "ref": git_ref, "sort": "created_at", "direction": "desc",
            "per_page": 100, "page": page,
        });
        let listed: Page = github
            .call(
                "listing the cache entries",
                github.rest.get(
                    format!("/repos/{owner}/{repo}/actions/caches"),
                    Some(&query),
                ),
            )
            .await?;
        let last = listed.actions_caches.len() < 100;
        entries.extend(listed.actions_caches);
        if last {
            break;
        }
    }
    // The API matches the key as a prefix and the ref. A deletion cannot
    // be undone, so only the whole shape of a save under this prefix
    // counts: a prefix someone wrote without an end marker cannot reach
    // another suite's entries.
    entries.retain(|e| keys::is_saved_under(prefix, &e.key) && e.git_ref == git_ref);
    entries.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    Ok(entries)
}

/// Deletes entry `id`.
pub async fn delete(github: &GitHub, owner: &str, repo: &str, id: u64) -> Result<(), ApiError> {
    let route = format!("/repos/{owner}/{repo}/actions/caches/{id}");
    github
        .call("deleting a cache entry", async {
            octocrab::map_github_error(github.rest._delete(route.as_str(), None::<&()>).await?)
                .await
                .map(drop)
        })
        .await
}
