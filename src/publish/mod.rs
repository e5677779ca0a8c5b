//! Where a finished run's report goes besides stdout: the report files, the
//! Actions step summary, outputs and annotations, and the sticky comment
//! on the pull request. Nothing here fails the run: a report that cannot
//! be delivered is a warning, and the run's verdict stands.

pub mod context;
pub mod github;

use std::path::{Path, PathBuf};

use crate::compare::verdict::Severity;
use crate::log;
use crate::report::{Headline, Renderer, Report};
use crate::secret::redact;
use crate::store::read::CaseDetail;
use github::{PullRequest, actions, api::GitHub, comment};

/// In GitHub Actions, hides every secret-looking variable before anything
/// is printed. Workflow commands go to stderr, which the runner reads too,
/// so stdout stays the report (JSON with --format json).
pub fn mask_secrets() {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    if let Some(token) = crate::secret::github_token() {
        vars.push((
            crate::secret::GITHUB_TOKEN_VAR.into(),
            token.expose().to_string(),
        ));
    }
    for line in actions::masks(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        log::to_stderr(&line);
    }
}

/// The GitHub token: the one given (`--github-token` or `GITHUB_TOKEN`),
/// else the one the Action handed over under its private name.
pub fn github_token(given: Option<String>) -> Option<String> {
    given
        .filter(|t| !t.is_empty())
        .or_else(|| crate::secret::github_token().map(|t| t.expose().to_string()))
}

/// What the command read or wrote for the report folder besides the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Folder<'a> {
    /// Every case, for junit.xml.
    pub cases: &'a [CaseDetail],
    /// The page the command wrote there (`report.html`), for the outputs.
    pub page: Option<&'a Path>,
}

/// How the report is delivered.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Post (or update) the pull-request comment.
    pub comment: bool,
    pub github_token: Option<String>,
    /// Write comment.md, summary.md, report.json and junit.xml here (the
    /// command writes report.html beside them: it reads the history).
    pub report_dir: Option<PathBuf>,
    /// Tells this comment from others of the suite (`--comment-id`).
    pub comment_id: String,
}

/// What the Actions environment names (each absent outside Actions).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub api_url: String,
    /// `$GITHUB_GRAPHQL_URL`; empty: derived from `api_url`.
    pub graphql_url: String,
    pub step_summary: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub in_actions: bool,
    /// Where the comment goes: the pull request of the event, unless the
    /// caller found it otherwise.
    pub pull_request: Option<PullRequest>,
}

impl Environment {
    pub fn from_env() -> Environment {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Environment {
            api_url: env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
            graphql_url: env("GITHUB_GRAPHQL_URL").unwrap_or_default(),
            step_summary: env("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output: env("GITHUB_OUTPUT").map(PathBuf::from),
            in_actions: env("GITHUB_ACTIONS").as_deref() == Some("true"),
            pull_request: github::event::from_env(),
        }
    }

    /// A client for this environment's GitHub.
    pub fn github(&self, token: &str) -> Result<GitHub, github::api::ApiError> {
        GitHub::new(&self.api_url, &self.graphql_url, token)
    }
}

/// The line that tells a fork's maintainers how to get comments anyway.
const FORK_HELP: &str = "the token cannot comment on this pull request (a fork's pull_request token is read-only, or the workflow lacks `permissions: pull-requests: write`). The report is in the step summary. To comment on fork pull requests, upload the report directory as an artifact and post it from a `workflow_run` job: see docs/action.md, \"Pull requests from forks\".";

/// Delivers the report; returns the text to print after the terminal
/// report (the comment, with `--no-comment` on a pull request).
pub async fn publish(
    report: &Report,
    folder: Folder<'_>,
    renderer: &Renderer,
    options: &Options,
    env: &Environment,
) -> Option<String> {
    let marker = comment::marker(&report.suite, &options.comment_id);
    // Every text delivered is scrubbed once more as a whole: a report read
    // back from an older history may quote a key stored before scrubbing.
    let body = match renderer.comment(report, &marker) {
        Ok(body) => redact(&body).into_owned(),
        Err(e) => {
            log::warn(&format!("cannot render the comment: {}", e.message()));
            return None;
        }
    };
    // One rendering serves both the step summary and summary.md.
    let summary = if options.report_dir.is_some() || env.step_summary.is_some() {
        renderer
            .summary(report)
            .map(|summary| redact(&summary).into_owned())
            .map_err(|e| log::warn(&format!("cannot render the step summary: {}", e.message())))
            .ok()
    } else {
        None
    };
    let mut files = Vec::new();
    if let Some(dir) = &options.report_dir {
        files = write_files(
            dir,
            report,
            folder.cases,
            renderer,
            &body,
            summary.as_deref(),
        );
        files.extend(folder.page.map(|page| ("html-path", page.to_path_buf())));
    }
    write_actions_files(report, env, summary.as_deref(), &files);
    if env.in_actions
        && let Some(compared) = &report.comparison
    {
        // On stderr like the masks: stdout is the report.
        for line in actions::annotations(&report.suite, &compared.comparison) {
            log::to_stderr(&line);
        }
    }
    let pr = env.pull_request.as_ref();
    if !options.comment {
        return pr.is_some().then_some(body);
    }
    let Some(pr) = pr else {
        log::debug("not a pull request: no comment to post");
        return None;
    };
    let Some(token) = options.github_token.as_deref().filter(|t| !t.is_empty()) else {
        log::warn(
            "no GitHub token (--github-token, GITHUB_TOKEN, or the Action's github-token input): the comment was not posted; the report is in the step summary",
        );
        return None;
    };
    post(env, token, pr, &marker, &body).await;
    None
}

/// The step summary and the step outputs.
fn write_actions_files(
    report: &Report,
    env: &Environment,
    summary: Option<&str>,
    files: &[(&'static str, PathBuf)],
) {
    if let (Some(path), Some(summary)) = (&env.step_summary, summary)
        && let Err(e) = actions::append(path, summary)
    {
        log::warn(&format!(
            "cannot write the step summary {}: {e}",
            path.display()
        ));
    }
    if let Some(path) = &env.output {
        let text = actions::outputs(&outputs(report, files));
        if let Err(e) = actions::append(path, &text) {
            log::warn(&format!(
                "cannot write the step outputs {}: {e}",
                path.display()
            ));
        }
    }
}

/// Posts the sticky comment; what went wrong is a warning that says what
/// to do, never a failure of the run.
async fn post(env: &Environment, token: &str, pr: &PullRequest, marker: &str, body: &str) {
    let posted = match env.github(token) {
        Ok(github) => comment::post_sticky(&github, pr, marker, body).await,
        Err(e) => Err(comment::CommentError::Other(e.message)),
    };
    let repo = format!("{}/{}", pr.owner, pr.repo);
    match posted {
        Ok(comment::Posted::Created { url, .. }) => {
            log::note(&format!("commented: {url}"));
            write_comment_url(env, &url);
        }
        Ok(comment::Posted::Updated { url, .. }) => {
            log::note(&format!("updated the comment: {url}"));
            write_comment_url(env, &url);
        }
        Err(comment::CommentError::Forbidden(m)) => log::warn(&format!("{m}: {FORK_HELP}")),
        Err(comment::CommentError::NotFound(m)) => log::warn(&format!(
            "{m}: pull request #{} of {repo} is not there for this token; check that github-token may read {repo} (a token of another repository or a fine-grained token without it gets 404), or that the event names the right pull request",
            pr.number
        )),
        Err(comment::CommentError::Refused(m)) => log::warn(&format!(
            "{m}: GitHub refused the comment's text; with --templates, check that comment.md.j2 renders to Markdown under 65,536 characters, else report an ai-evals bug"
        )),
        Err(comment::CommentError::Other(m)) => {
            log::warn(&format!("the comment was not posted: {m}"));
        }
    }
}

/// The step output `comment-url`: where the comment is.
fn write_comment_url(env: &Environment, url: &str) {
    let Some(path) = &env.output else { return };
    let text = actions::outputs(&[("comment-url", url.to_string())]);
    if let Err(e) = actions::append(path, &text) {
        log::warn(&format!(
            "cannot write the step output comment-url to {}: {e}",
            path.display()
        ));
    }
}

/// Writes the report files; returns (output name, path) of each written.
fn write_files(
    dir: &Path,
    report: &Report,
    cases: &[CaseDetail],
    renderer: &Renderer,
    comment: &str,
    summary: Option<&str>,
) -> Vec<(&'static str, PathBuf)> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        log::warn(&format!(
            "cannot create the report folder {}: {e}",
            dir.display()
        ));
        return Vec::new();
    }
    let junit = renderer
        .junit(report, cases)
        .map_err(|e| log::warn(&format!("cannot render junit.xml: {}", e.message())))
        .ok();
    let rendered = [
        ("comment-path", "comment.md", Some(comment.to_string())),
        ("summary-path", "summary.md", summary.map(str::to_string)),
        (
            "json-path",
            "report.json",
            Some(crate::report::render_json(report)),
        ),
        ("junit-path", "junit.xml", junit),
    ];
    let mut written = Vec::new();
    for (output, name, text) in rendered {
        let Some(text) = text else { continue };
        let path = dir.join(name);
        match std::fs::write(&path, redact(&text).as_bytes()) {
            Ok(()) => written.push((output, path)),
            Err(e) => log::warn(&format!("cannot write {}: {e}", path.display())),
        }
    }
    written
}

/// The `headline` output's words for the report's headline.
fn headline(headline: Headline) -> &'static str {
    match headline {
        Headline::GateFailed => "gate-failed",
        Headline::Regressions => "regressions",
        Headline::Partial => "partial",
        Headline::NoBaseline => "no-baseline",
        Headline::Pass => "pass",
    }
}

/// The step outputs: the verdict, the pass rate, regressions by severity
/// and the report files.
pub fn outputs(report: &Report, files: &[(&'static str, PathBuf)]) -> Vec<(&'static str, String)> {
    let worst = report
        .comparison
        .as_ref()
        .map_or(Severity::None, |c| c.comparison.worst);
    let verdict = if !report.passed() {
        "fail"
    } else if worst > Severity::None {
        "regressions"
    } else {
        "pass"
    };
    let count = |severity: Severity| -> usize {
        report.comparison.as_ref().map_or(0, |c| {
            let findings = c
                .comparison
                .regressions()
                .filter(|f| f.severity == severity)
                .count();
            findings
                + usize::from(c.comparison.quality_severity == severity)
                + usize::from(c.comparison.suite_severity == severity)
        })
    };
    let mut pairs = vec![
        ("verdict", verdict.to_string()),
        ("headline", headline(report.headline()).to_string()),
        (
            "pass-rate",
            report
                .pass_rate
                .map(|p| format!("{p:.4}"))
                .unwrap_or_default(),
        ),
        ("cases", report.cases_total.to_string()),
        ("failed", report.cases_failed.to_string()),
        ("critical", count(Severity::Critical).to_string()),
        ("major", count(Severity::Major).to_string()),
        ("minor", count(Severity::Minor).to_string()),
        ("run-id", report.run_id.clone()),
    ];
    for (name, path) in files {
        pairs.push((name, path.display().to_string()));
    }
    pairs
}
