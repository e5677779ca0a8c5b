//! `ai-evals report`: a stored run's report rendered and delivered again
//! (with `--html`, also as the report page), or, with `--from-json`, a
//! report another job wrote (a fork's run), checked as untrusted input and
//! delivered from the trusted side.

use std::path::{Path, PathBuf};

use super::run_or_newest;
use crate::cli::{OutputFormat, ReportArgs};
use crate::commands::run::Outcome;
use crate::error::{Error, Result};
use crate::log;
use crate::publish::github::event::{self, WorkflowRun};
use crate::publish::{self, Environment};
use crate::report::{self, Links, Report};
use crate::store::read::CaseDetail;
use crate::store::{Access, Store};

/// Renders the report and delivers it as `run` does.
pub async fn report(args: ReportArgs) -> Result<Outcome> {
    let renderer = report::Renderer::new(args.delivery.templates.as_deref())?;
    let options = args.delivery.publish();
    let mut env = Environment::from_env();
    let (stored, cases, page) = match &args.from_json {
        Some(path) => {
            if options.report_dir.is_some() {
                log::note(
                    "no report.html for a report.json from elsewhere: the page reads the run's answers from its history file",
                );
            }
            let stored = from_json(path, &mut env, options.github_token.as_deref()).await?;
            (stored, Vec::new(), None)
        }
        None => from_db(&args, options.report_dir.as_deref(), &renderer).await?,
    };
    let mut text = match args.format {
        OutputFormat::Text => renderer.text(&stored)?,
        OutputFormat::Json => report::render_json(&stored),
    };
    if let (Some(comment), OutputFormat::Text) = (
        publish::publish(
            &stored,
            publish::Folder {
                cases: &cases,
                page: page.as_deref(),
            },
            &renderer,
            &options,
            &env,
        )
        .await,
        args.format,
    ) {
        text.push_str("\n\nThe pull-request comment (not posted: --no-comment):\n\n");
        text.push_str(&comment);
    }
    Ok(Outcome {
        exit_code: if stored.passed() { 0 } else { 1 },
        report: text,
        failure: None,
    })
}

/// The stored report of the run asked for, its cases when report files
/// (JUnit) are written, and its page when one is asked for (`--html`, or
/// report.html in the report folder).
async fn from_db(
    args: &ReportArgs,
    report_dir: Option<&Path>,
    renderer: &report::Renderer,
) -> Result<(Report, Vec<CaseDetail>, Option<PathBuf>)> {
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let run = run_or_newest(&store, args.run.as_deref()).await?;
    let Some(json) = store.report(&run.run_id).await? else {
        return Err(Error::input(format!(
            "run {} has no stored report (it was killed, or written by an older ai-evals); run the suite again",
            run.run_id
        )));
    };
    let mut stored: Report = serde_json::from_str(&json).map_err(|e| {
        Error::input(format!(
            "the stored report of run {} cannot be read by this ai-evals: {e}",
            run.run_id
        ))
    })?;
    // The history's word on the run's status is the last one: a run whose
    // report was kept but which never finished cannot pass.
    if let Some(row) = store.run_row(&run.run_id).await?
        && row.status != "finished"
        && stored.status == "finished"
    {
        stored.status = row.status.clone();
        stored.gate_reasons.push(format!(
            "the run did not finish ({}); its results cannot vouch for this change",
            row.status
        ));
    }
    let cases = if report_dir.is_some() {
        store.all_cases(&run.run_id).await?
    } else {
        Vec::new()
    };
    let baseline_db = args.baseline_db.as_deref();
    if let Some(path) = &args.html {
        super::write_page(&stored, &store, baseline_db, renderer, path).await?;
    }
    let page = match report_dir {
        Some(dir) => super::write_page(
            &stored,
            &store,
            baseline_db,
            renderer,
            &dir.join(super::PAGE),
        )
        .await
        .map_err(|e| log::warn(&format!("cannot write {}: {}", super::PAGE, e.message())))
        .ok(),
        None => None,
    };
    Ok((stored, cases, page))
}

/// A `report.json` from another job. Nothing in it is trusted: it must
/// match the schema, and its links and the pull request it goes to come
/// from the `workflow_run` event that GitHub wrote, never from the file.
async fn from_json(path: &Path, env: &mut Environment, token: Option<&str>) -> Result<Report> {
    let mut stored = report::untrusted::read(path)?;
    stored.db = path.display().to_string();
    let Some(run) = event::payload().as_ref().and_then(event::workflow_run) else {
        // Not the fork-safe comment job (say, a local look at the file):
        // the event's own pull request, if any, and no links.
        return Ok(stored);
    };
    stored.links = links_of(&run, &stored);
    env.pull_request = None;
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(stored);
    };
    let github = env.github(token).map_err(|e| Error::runtime(e.message))?;
    match event::pull_request_of_run(&github, &run).await {
        Ok(Some(pr)) => env.pull_request = Some(pr),
        Ok(None) => log::note(&format!(
            "no open pull request of {}:{} is at the tested commit {} (it moved on, or was closed): not commenting",
            run.head_owner, run.head_branch, run.head_sha
        )),
        Err(e) => log::warn(&format!(
            "{}: not commenting; the job needs `permissions: pull-requests: write`",
            e.message
        )),
    }
    Ok(stored)
}

/// The run's page from the event; the baseline commit's page when the
/// report names a full commit id.
fn links_of(run: &WorkflowRun, stored: &Report) -> Links {
    let server = std::env::var("GITHUB_SERVER_URL")
        .ok()
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
        .unwrap_or_else(|| "https://github.com".into());
    let baseline_sha = stored
        .comparison
        .as_ref()
        .and_then(|c| c.baseline.run.git_sha.as_deref())
        .filter(|sha| event::is_sha(sha));
    Links {
        run: Some(run.html_url.clone()),
        baseline_commit: baseline_sha.map(|sha| {
            format!(
                "{}/{}/{}/commit/{sha}",
                server.trim_end_matches('/'),
                run.owner,
                run.repo
            )
        }),
    }
}
