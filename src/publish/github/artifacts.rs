//! A branch's history file from the artifacts of its workflow runs: the
//! fallback when the Actions cache has lost it (GitHub evicts entries
//! unused for 7 days, and a repository's oldest beyond 10 GB).
//!
//! Only an artifact that a finished `push`, `workflow_dispatch` or
//! `schedule` run of the branch uploaded in this repository counts: a
//! pull request's run (a fork's included, whose branch may be called
//! `main` too) can upload an artifact of the same name. The run may have
//! failed: the Action uploads the history only after a finished run (exit
//! code 0 or 1), so a failed gate still leaves a good history, and the
//! artifact's existence is what says its history step succeeded (the REST
//! API shows a composite action as one step). A run that was cancelled,
//! timed out or is still going is not trusted to have finished writing.

use std::io::Write;
use std::path::Path;

use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::json;

use super::api::{ApiError, GitHub};

/// The newest run artifacts looked at before giving up.
const CANDIDATES: usize = 10;

/// A history artifact to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: u64,
    pub size: u64,
    pub run_id: u64,
    pub head_sha: String,
}

#[derive(Debug, Deserialize)]
struct Artifacts {
    artifacts: Vec<Artifact>,
}

#[derive(Debug, Deserialize)]
struct Artifact {
    id: u64,
    name: String,
    size_in_bytes: u64,
    expired: bool,
    created_at: String,
    workflow_run: Option<ArtifactRun>,
}

#[derive(Debug, Deserialize)]
struct ArtifactRun {
    id: u64,
    repository_id: Option<u64>,
    head_repository_id: Option<u64>,
    head_branch: Option<String>,
    head_sha: Option<String>,
}

/// The newest artifact `name` of a finished baseline run on `branch`.
pub async fn newest_history(
    github: &GitHub,
    owner: &str,
    repo: &str,
    name: &str,
    branch: &str,
) -> Result<Option<Found>, ApiError> {
    let listed: Artifacts = github
        .call(
            "listing the history artifacts",
            github.rest.get(
                format!("/repos/{owner}/{repo}/actions/artifacts"),
                Some(&json!({"name": name, "per_page": 100})),
            ),
        )
        .await?;
    let mut candidates: Vec<Artifact> = listed
        .artifacts
        .into_iter()
        .filter(|a| a.name == name && !a.expired)
        .filter(|a| {
            a.workflow_run.as_ref().is_some_and(|r| {
                r.head_branch.as_deref() == Some(branch)
                    && r.repository_id.is_some()
                    && r.head_repository_id == r.repository_id
            })
        })
        .collect();
    candidates.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    for artifact in candidates.into_iter().take(CANDIDATES) {
        let Some(run) = artifact.workflow_run else {
            continue;
        };
        if baseline_run(github, owner, repo, run.id, branch).await? {
            return Ok(Some(Found {
                id: artifact.id,
                size: artifact.size_in_bytes,
                run_id: run.id,
                head_sha: run.head_sha.unwrap_or_default(),
            }));
        }
    }
    Ok(None)
}

/// Whether run `id` recorded `branch`'s baseline and ran to its end:
/// completed with success, or with failure (a failed gate).
async fn baseline_run(
    github: &GitHub,
    owner: &str,
    repo: &str,
    id: u64,
    branch: &str,
) -> Result<bool, ApiError> {
    let run: serde_json::Value = github
        .call(
            "reading the artifact's workflow run",
            github.rest.get(
                format!("/repos/{owner}/{repo}/actions/runs/{id}"),
                None::<&()>,
            ),
        )
        .await?;
    let text = |pointer: &str| run.pointer(pointer).and_then(|v| v.as_str());
    let same_repository = run.pointer("/head_repository/id").is_some()
        && run.pointer("/head_repository/id") == run.pointer("/repository/id");
    Ok(same_repository
        && text("/head_branch") == Some(branch)
        && text("/status") == Some("completed")
        && matches!(text("/conclusion"), Some("success" | "failure"))
        && matches!(
            text("/event"),
            Some("push" | "workflow_dispatch" | "schedule")
        ))
}

/// Downloads artifact `found` (a zip; GitHub redirects to a storage URL,
/// and the token is not sent there) and writes its one file to `output`.
/// More than `max_bytes`, packed or unpacked, is refused.
pub async fn download(
    github: &GitHub,
    owner: &str,
    repo: &str,
    found: &Found,
    output: &Path,
    max_bytes: u64,
) -> Result<(), String> {
    if found.size > max_bytes {
        return Err(format!(
            "the artifact is {} bytes, more than the {max_bytes} allowed",
            found.size
        ));
    }
    let zip = output.with_extension("zip.part");
    let fetched = fetch_zip(github, owner, repo, found.id, &zip, max_bytes).await;
    let unpacked = fetched.and_then(|()| unpack(&zip, output, max_bytes));
    let _ = std::fs::remove_file(&zip);
    unpacked
}

async fn fetch_zip(
    github: &GitHub,
    owner: &str,
    repo: &str,
    id: u64,
    zip: &Path,
    max_bytes: u64,
) -> Result<(), String> {
    let what = "downloading the history artifact";
    let route = format!("/repos/{owner}/{repo}/actions/artifacts/{id}/zip");
    let response = github
        .call(what, async {
            octocrab::map_github_error(github.rest._get(route.as_str()).await?).await
        })
        .await
        .map_err(|e| e.message)?;
    let mut body = response.into_body();
    let mut file =
        std::fs::File::create(zip).map_err(|e| format!("cannot write {}: {e}", zip.display()))?;
    let mut written = 0u64;
    // The client's read timeout stops a stalled download; the whole one
    // may take as long as the file needs.
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::of(what, e).message)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        written += data.len() as u64;
        if written > max_bytes {
            return Err(format!("{what}: more than the {max_bytes} bytes allowed"));
        }
        file.write_all(&data)
            .map_err(|e| format!("cannot write {}: {e}", zip.display()))?;
    }
    Ok(())
}

/// Writes the zip's only file to `output` (via a temporary file beside it,
/// so a half-written history is never left under its name).
fn unpack(zip: &Path, output: &Path, max_bytes: u64) -> Result<(), String> {
    let file =
        std::fs::File::open(zip).map_err(|e| format!("cannot read {}: {e}", zip.display()))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| format!("the artifact is not a zip file: {e}"))?;
    let files: Vec<usize> = (0..archive.len())
        .filter(|&i| archive.by_index(i).is_ok_and(|f| f.is_file()))
        .collect();
    let [only] = files[..] else {
        return Err(format!(
            "the artifact holds {} files; a history artifact holds the one database file",
            files.len()
        ));
    };
    let entry = archive
        .by_index(only)
        .map_err(|e| format!("cannot read the artifact: {e}"))?;
    let part = output.with_extension("part");
    let mut out = std::fs::File::create(&part)
        .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    // The declared size can lie; the bytes read are what count.
    let copied = std::io::copy(&mut std::io::Read::take(entry, max_bytes + 1), &mut out)
        .map_err(|e| format!("cannot unpack the artifact: {e}"));
    let result = match copied {
        Ok(n) if n > max_bytes => Err(format!(
            "the artifact unpacks to more than the {max_bytes} bytes allowed"
        )),
        Ok(_) => std::fs::rename(&part, output)
            .map_err(|e| format!("cannot write {}: {e}", output.display())),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}
