//! `ai-evals compare`: two stored runs, or a run and its baseline, compared.

use super::{baseline_request, run_or_newest};
use crate::cli::{CompareArgs, OutputFormat};
use crate::commands::run::Outcome;
use crate::compare::baseline;
use crate::compare::verdict;
use crate::config::{CompareConfig, Config};
use crate::error::{Error, Result};
use crate::report;
use crate::store::{Access, Store};

/// Compares the runs the arguments name and applies the gate.
pub async fn compare(args: CompareArgs) -> Result<Outcome> {
    let config = match &args.config {
        Some(path) => Config::load(path)?.compare,
        None => CompareConfig::default(),
    };
    let fail_on = args.baseline.fail_on.unwrap_or(config.fail_on);
    let mut request = baseline_request(&args.baseline);
    let store = Store::open_with(&args.db, Access::ReadOnly)?;
    let current = match args.runs.as_slice() {
        [] => run_or_newest(&store, None).await?,
        [current] => store.find_run(current).await?,
        [base, current] => {
            request.run = Some(base.clone());
            store.find_run(current).await?
        }
        _ => unreachable!("clap allows at most two runs"),
    };
    let load = async || store.run_data(&current).await;
    let Some(compared) = baseline::compare(
        &store,
        &current.suite,
        &current.run_id,
        load,
        &request,
        &config,
    )
    .await?
    else {
        return Err(Error::input(format!(
            "no baseline for run {} of suite {}: no finished run on {} in {}. Name one with --baseline-run, or point --baseline-db at main's history.",
            current.run_id,
            current.suite,
            request.branch(&config),
            request.db.as_deref().unwrap_or(&args.db).display()
        )));
    };
    let reasons = verdict::gate_reasons(&compared.comparison, fail_on, config.fail_on_removed);
    let text = match args.format {
        OutputFormat::Text => {
            report::Renderer::new(None)?.comparison(&compared, &reasons, fail_on.as_str())?
        }
        OutputFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
            "current_run": current.run_id,
            "baseline": compared.baseline,
            "comparison": compared.comparison,
            "fail_on": fail_on,
            "gate_reasons": reasons,
        }))
        .expect("a comparison serializes to JSON"),
    };
    Ok(Outcome {
        exit_code: if reasons.is_empty() { 0 } else { 1 },
        report: text,
        failure: None,
    })
}
