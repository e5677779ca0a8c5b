//! The end of a run: the comparison with the baseline, the report built
//! and rendered, the run's totals stored, and the report delivered (the
//! step summary, outputs, annotations, the comment and the report files).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::pipeline::Executed;
use super::setup::Setup;
use super::{Options, Outcome};
use crate::cli::OutputFormat;
use crate::compare::baseline::{self, Outcome as Compared};
use crate::config::{CompareConfig, Gate};
use crate::error::{Error, Result};
use crate::log;
use crate::publish;
use crate::record::{Metric, Timing};
use crate::report::monitor::{Component, Monitor};
use crate::report::{self, Report, performance};
use crate::secret::redact;
use crate::store::read::{CaseDetail, RunRef};
use crate::store::{RunStatus, RunTotals, Store};

/// The report of a run, built and rendered.
pub(super) struct Reported {
    pub(super) model: Report,
    pub(super) rendered: String,
    /// Why the comparison with the baseline failed, if it did.
    pub(super) comparison_error: Option<Error>,
    /// Why the run cannot serve as a later run's baseline, if it cannot.
    pub(super) unfit: Option<String>,
}

/// Compares a finished run with its baseline and builds its report.
pub(super) async fn report(
    setup: &Setup,
    options: &Options,
    store: &Store,
    run: &RunRef,
    executed: &Executed,
    metrics: &[Metric],
    monitor: &Monitor,
) -> Result<Reported> {
    let started = Instant::now();
    let config = &setup.config;
    let (status, _) = executed.status();
    let metric_values: BTreeMap<String, f64> =
        metrics.iter().map(|m| (m.name.clone(), m.value)).collect();
    // The report cannot time its own rendering; the database gets that figure.
    let mut timings = monitor.timings();
    timings.retain(|t| t.component != Component::Report.name());
    let compared = if status == RunStatus::Finished {
        Some(compare_with_baseline(store, run, &timings, &metric_values, options, setup).await)
    } else {
        None
    };
    let mut model = executed.summary.report(
        &config.suite.name,
        &run.run_id,
        &options.db.display().to_string(),
        status.as_str(),
        config.suite.min_pass_rate,
        timings,
    );
    let gate = Gate::new(&config.compare, options.gate);
    model.cache = setup.executor.cache().map(|c| c.stats());
    model.throttle = report::throttle::from_metrics(&metric_values);
    model.throttled_ms = model.throttle.total_ms();
    model.bottlenecks = performance::identify_bottlenecks(
        &model.timings,
        &metric_values,
        config.targets.bottleneck_ms,
        config.targets.bottleneck_percent,
    );
    model.targets = performance::check_targets(&model.timings, &metric_values, &config.targets);
    model.set_gate(&gate);
    model.metrics = metric_values;
    model.links = report::Links::from_env(None);
    let comparison_error =
        take_comparison(&mut model, store, compared, options, &config.compare, &gate).await;
    let (_, failure) = executed.status();
    let malformed = if options.allow_malformed || config.suite.allow_malformed {
        Malformed::Allowed
    } else {
        Malformed::FailTheGate
    };
    let checks = Checks {
        status,
        failure,
        comparison_error: comparison_error.as_ref(),
        malformed,
    };
    let reasons = fail_closed(&model, &checks);
    model.gate_reasons.extend(reasons);
    let unfit = unfit(&model, malformed);
    let rendered = match options.format {
        OutputFormat::Text => setup.renderer.text(&model)?,
        OutputFormat::Json => report::render_json(&model),
    };
    monitor.add(Component::Report, started.elapsed(), 1);
    Ok(Reported {
        model,
        rendered,
        comparison_error,
        unfit,
    })
}

/// Puts the comparison (or why there is none) into the report; returns
/// the error when the comparison itself failed, which fails the gate.
async fn take_comparison(
    model: &mut Report,
    store: &Store,
    compared: Option<Result<Compared>>,
    options: &Options,
    compare: &CompareConfig,
    gate: &Gate,
) -> Option<Error> {
    match compared? {
        Ok(Compared::Compared(c)) => {
            super::super::add_comparison(model, store, *c, gate).await;
            None
        }
        Ok(Compared::NoBaseline(search)) => {
            let branch = options.baseline.branch(compare);
            super::super::no_baseline(model, &search, branch, gate);
            None
        }
        Err(e) => {
            model.no_comparison = Some(e.message().to_string());
            Some(e)
        }
    }
}

/// Whether malformed rows fail the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Malformed {
    FailTheGate,
    Allowed,
}

/// What the fail-closed checks look at besides the report.
struct Checks<'a> {
    status: RunStatus,
    failure: Option<&'a Error>,
    comparison_error: Option<&'a Error>,
    malformed: Malformed,
}

/// Why the gate cannot vouch for a run whatever its comparison says: it did
/// not finish, it scored no case, a dataset ended early or had unreadable
/// rows, or the comparison itself failed. Red must mean "look here", and
/// green "nothing broke"; a run that saw less than the whole suite cannot
/// be green.
fn fail_closed(model: &Report, checks: &Checks) -> Vec<String> {
    let mut reasons = Vec::new();
    if checks.status != RunStatus::Finished {
        reasons.push(format!(
            "the run did not finish ({}){}; its results cannot vouch for this change",
            checks.status.as_str(),
            checks
                .failure
                .map(|e| format!(": {}", e.message()))
                .unwrap_or_default()
        ));
    }
    reasons.extend(unfit_reasons(model));
    if checks.malformed == Malformed::FailTheGate && model.rows_skipped > 0 && model.cases_total > 0
    {
        reasons.push(malformed_reason(model));
    }
    if let Some(e) = checks.comparison_error {
        reasons.push(format!(
            "the comparison with the baseline failed, so no regression could be ruled out: {}",
            e.message()
        ));
    }
    reasons
}

/// Why a finished run saw less than its whole suite: no case scored, a
/// dataset cut short. Such a run also never serves as a baseline.
fn unfit_reasons(model: &Report) -> Vec<String> {
    let mut reasons = Vec::new();
    if model.cases_total == 0 {
        let skipped = match model.rows_skipped {
            0 => String::new(),
            n => format!(
                " ({n} malformed {} skipped)",
                if n == 1 { "row was" } else { "rows were" }
            ),
        };
        reasons.push(format!(
            "no case was scored{skipped}: the suite checked nothing; fix the dataset or the config"
        ));
    }
    for file in &model.cut_short {
        reasons.push(format!(
            "a dataset was cut short, so its later cases never ran: {file}"
        ));
    }
    reasons
}

/// "the dataset was cut short: 10 rows unreadable at d.csv:3, …".
fn malformed_reason(model: &Report) -> String {
    let n = model.rows_skipped;
    let more = if n as usize > model.skipped_at.len() {
        ", …"
    } else {
        ""
    };
    format!(
        "the dataset was cut short: {n} {} unreadable at {}{more}; fix {}, or pass --allow-malformed (or set [suite] allow-malformed) to skip malformed rows",
        if n == 1 { "row" } else { "rows" },
        model.skipped_at.join(", "),
        if n == 1 { "it" } else { "them" }
    )
}

/// Why this run cannot serve as a later run's baseline, if it cannot:
/// it saw less than its suite. Malformed rows a suite allows do not count,
/// or a suite that always skips a few rows would never have a baseline.
fn unfit(model: &Report, malformed: Malformed) -> Option<String> {
    let mut reasons = unfit_reasons(model);
    if malformed == Malformed::FailTheGate && model.rows_skipped > 0 && model.cases_total > 0 {
        reasons.push(format!(
            "{} malformed dataset {} skipped",
            model.rows_skipped,
            if model.rows_skipped == 1 {
                "row was"
            } else {
                "rows were"
            }
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Compares the finished run with its baseline. The run's own timings and
/// metrics are not stored yet, so they come from memory.
async fn compare_with_baseline(
    store: &Store,
    current: &RunRef,
    timings: &[Timing],
    metrics: &BTreeMap<String, f64>,
    options: &Options,
    setup: &Setup,
) -> Result<Compared> {
    let load = async || {
        let mut now = (*store.run_data(current).await?).clone();
        now.timings = timings
            .iter()
            .map(|t| (t.component.clone(), t.duration_ms))
            .collect();
        now.metrics = metrics.clone();
        Ok(Arc::new(now))
    };
    let config_path = setup.config.stored_path();
    let this = baseline::Current {
        suite: &current.suite,
        config_path: Some(&config_path),
        run_id: &current.run_id,
    };
    baseline::compare(store, this, load, &options.baseline, &setup.config.compare).await
}

/// Stores the report (for `ai-evals report`) and the run's totals, timings
/// and metrics, which mark the run finished (or failed, or interrupted).
pub(super) async fn record(
    store: &Store,
    run_id: &str,
    executed: &Executed,
    reported: &Reported,
    metrics: Vec<Metric>,
    monitor: &Monitor,
) -> Result<()> {
    let report = &reported.model;
    let (status, failure) = executed.status();
    let summary = &executed.summary;
    let totals = RunTotals {
        status,
        error: failure.map(|e| e.message().to_string()),
        finished_at: Utc::now().naive_utc(),
        cases_total: summary.cases_total(),
        cases_passed: summary.cases_passed(),
        cases_errored: summary.cases_errored(),
        rows_skipped: summary.rows_skipped(),
        pass_rate: summary.pass_rate(),
        mean_score: summary.mean_score(),
        unfit: reported.unfit.clone(),
    };
    // Kept as delivered: a flipped case read from an older history may
    // quote a key stored before answers were scrubbed.
    let json = redact(&report::render_json(report)).into_owned();
    if let Err(e) = store.save_report(run_id, json).await {
        log::warn(&format!(
            "cannot keep the report for `ai-evals report`: {}",
            e.message()
        ));
    }
    store
        .finish_run(run_id.to_string(), totals, monitor.timings(), metrics)
        .await
}

/// Every case of a finished run, for JUnit XML, which lists them all; read
/// back only when report files are asked for.
pub(super) async fn junit_cases(
    store: &Store,
    run_id: &str,
    options: &Options,
    status: RunStatus,
) -> Vec<CaseDetail> {
    if options.publish.report_dir.is_none() || status != RunStatus::Finished {
        return Vec::new();
    }
    store.all_cases(run_id).await.unwrap_or_else(|e| {
        log::warn(&format!(
            "cannot read the cases back for JUnit: {}",
            e.message()
        ));
        Vec::new()
    })
}

/// The run's page (report.html) in the report folder, when one is asked
/// for; a page that cannot be written is a warning, like the other files.
pub(super) async fn page(
    store: &Store,
    setup: &Setup,
    options: &Options,
    reported: &Reported,
) -> Option<PathBuf> {
    let dir = options.publish.report_dir.as_ref()?;
    crate::commands::write_page(
        &reported.model,
        store,
        options.baseline.db.as_deref(),
        &setup.renderer,
        &dir.join(crate::commands::PAGE),
    )
    .await
    .map_err(|e| {
        log::warn(&format!(
            "cannot write {}: {}",
            crate::commands::PAGE,
            e.message()
        ))
    })
    .ok()
}

/// Delivers a finished run's report and decides the exit code.
pub(super) async fn deliver(
    setup: &Setup,
    options: &Options,
    reported: Reported,
    folder: publish::Folder<'_>,
) -> Outcome {
    let Reported {
        model,
        mut rendered,
        comparison_error,
        unfit: _,
    } = reported;
    if let Some(e) = comparison_error {
        log::warn(&format!(
            "the comparison with the baseline failed: {}",
            e.message()
        ));
    }
    for reason in &model.gate_reasons {
        log::error(&format!("regression gate: {reason}"));
    }
    let delivered = publish::publish(
        &model,
        folder,
        &setup.renderer,
        &options.publish,
        &publish::Environment::from_env(),
    )
    .await;
    if let (Some(comment), OutputFormat::Text) = (delivered, options.format) {
        rendered.push_str("\n\nThe pull-request comment (not posted: --no-comment):\n\n");
        rendered.push_str(&comment);
    }
    Outcome {
        exit_code: if model.passed() { 0 } else { 1 },
        report: rendered,
        failure: None,
    }
}
