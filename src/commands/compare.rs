//! `ai-evals compare`: two stored runs, or a run and its baseline, compared.

use super::{baseline_request, run_or_newest};
use crate::cli::{CompareArgs, OutputFormat};
use crate::commands::run::Outcome;
use crate::compare::baseline;
use crate::compare::verdict;
use crate::config::{CompareConfig, Config, Gate};
use crate::error::{Error, Result};
use crate::report;
use crate::store::{Access, Store};

/// Compares the runs the arguments name and applies the gate.
pub async fn compare(args: CompareArgs) -> Result<Outcome> {
    let loaded = args.config.as_deref().map(Config::load).transpose()?;
    let config = loaded
        .as_ref()
        .map_or_else(CompareConfig::default, |c| c.compare.clone());
    let gate = Gate::new(&config, args.baseline.gate_flags());
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
    let stored = loaded.as_ref().map(Config::stored_path);
    let this = baseline::Current {
        suite: &current.suite,
        config_path: stored.as_deref(),
        run_id: &current.run_id,
    };
    let compared = match baseline::compare(&store, this, load, &request, &config).await? {
        baseline::Outcome::Compared(compared) => compared,
        baseline::Outcome::NoBaseline(search) => {
            return Err(Error::input(format!(
                "no baseline for run {} of suite {} in {}: {}. Name one with --baseline-run, or point --baseline-db at main's history.",
                current.run_id,
                current.suite,
                request.db.as_deref().unwrap_or(&args.db).display(),
                search.why_none(&current.suite, request.branch(&config)),
            )));
        }
    };
    let reasons = verdict::gate_reasons(&compared.comparison, &gate);
    let text = match args.format {
        OutputFormat::Text => {
            report::Renderer::new(None)?.comparison(&compared, &reasons, &gate)?
        }
        OutputFormat::Json => serde_json::to_string_pretty(&serde_json::json!({
            "current_run": current.run_id,
            "baseline": compared.baseline,
            "comparison": compared.comparison,
            "fail_on": gate.fail_on,
            "fail_on_certain": gate.fail_on_certain,
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
