//! `ai-evals report`: a stored run's report rendered and delivered again.

use super::run_or_newest;
use crate::cli::{OutputFormat, ReportArgs};
use crate::commands::run::Outcome;
use crate::error::{Error, Result};
use crate::publish;
use crate::report;
use crate::store::{Access, Store};

/// Renders the stored report and delivers it as `run` does.
pub async fn report(args: ReportArgs) -> Result<Outcome> {
    let renderer = report::Renderer::new(args.delivery.templates.as_deref())?;
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let run = run_or_newest(&store, args.run.as_deref()).await?;
    let Some(json) = store.report(&run.run_id).await? else {
        return Err(Error::input(format!(
            "run {} has no stored report (it was killed, or written by an older ai-evals); run the suite again",
            run.run_id
        )));
    };
    let mut stored: report::Report = serde_json::from_str(&json).map_err(|e| {
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
    let options = args.delivery.publish();
    let cases = if options.report_dir.is_some() {
        store.all_cases(&run.run_id).await?
    } else {
        Vec::new()
    };
    let mut text = match args.format {
        OutputFormat::Text => renderer.text(&stored)?,
        OutputFormat::Json => report::render_json(&stored),
    };
    let env = publish::Environment::from_env();
    if let (Some(comment), OutputFormat::Text) = (
        publish::publish(&stored, &cases, &renderer, &options, &env).await,
        args.format,
    ) {
        text.push_str("\n\nThe pull-request comment (not posted: --no-comment):\n\n");
        text.push_str(&comment);
    }
    Ok(Outcome {
        exit_code: if stored.passed() { 0 } else { 1 },
        report: text,
    })
}
