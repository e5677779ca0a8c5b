//! `ai-evals history`: the runs a history file holds, newest first.

use std::path::Path;

use crate::cli::{HistoryArgs, OutputFormat};
use crate::commands::run::Outcome;
use crate::compare::baseline;
use crate::error::Result;
use crate::store::read::{RunFilter, RunRow};
use crate::store::{Access, Store};

/// Lists the runs, as a table or as JSON.
pub async fn history(args: HistoryArgs) -> Result<Outcome> {
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let runs = store
        .runs(RunFilter {
            suite: args.suite,
            branch: args.branch,
            limit: args.limit,
            ..RunFilter::default()
        })
        .await?;
    let report = match args.format {
        OutputFormat::Text => render_history(&runs, &args.db),
        OutputFormat::Json => serde_json::to_string_pretty(&runs).expect("runs serialize to JSON"),
    };
    Ok(Outcome {
        exit_code: 0,
        report,
    })
}

fn render_history(runs: &[RunRow], db: &Path) -> String {
    if runs.is_empty() {
        return format!("no runs in {}\n", db.display());
    }
    let mut out = format!(
        "{:<24} {:<16} {:<8} {:<14} {:<19} {:<11} {:>7} {:>8} {:>7} {:>10} {:>10}\n",
        "run",
        "suite",
        "commit",
        "branch",
        "started (UTC)",
        "status",
        "cases",
        "pass",
        "errors",
        "time",
        "cost"
    );
    for r in runs {
        let optional = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<24} {:<16} {:<8} {:<14} {:<19} {:<11} {:>7} {:>8} {:>7} {:>10} {:>10}\n",
            r.run_id,
            truncate(&r.suite, 16),
            optional(r.git_sha.as_deref().map(|s| baseline::short(s).to_string())),
            truncate(r.branch.as_deref().unwrap_or("-"), 14),
            r.started_at,
            r.status,
            optional(r.cases_total.map(|n| n.to_string())),
            optional(r.pass_rate.map(|p| format!("{:.1}%", 100.0 * p))),
            optional(r.cases_errored.map(|n| n.to_string())),
            optional(r.total_ms.map(|ms| format!("{:.1} s", ms / 1000.0))),
            optional(r.cost_usd.map(|c| format!("${c:.4}"))),
        ));
    }
    out
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}
