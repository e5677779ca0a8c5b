//! The end of a run: the comparison with the baseline, the report built
//! and rendered, the run's totals stored, and the report delivered (the
//! step summary, outputs, annotations, the comment and the report files).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;

use super::pipeline::Executed;
use super::setup::Setup;
use super::{Options, Outcome};
use crate::cli::OutputFormat;
use crate::compare::baseline::{self, Compared};
use crate::config::FailOn;
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
        compare_with_baseline(store, run, &timings, &metric_values, options, setup).await
    } else {
        Ok(None)
    };
    let mut model = executed.summary.report(
        &config.suite.name,
        &run.run_id,
        &options.db.display().to_string(),
        status.as_str(),
        config.suite.min_pass_rate,
        timings,
    );
    let fail_on = options.fail_on.unwrap_or(config.compare.fail_on);
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
    model.fail_on = fail_on.as_str().to_string();
    model.metrics = metric_values;
    model.links = report::Links::from_env(None);
    let comparison_error =
        take_comparison(&mut model, store, compared, status, setup, options, fail_on).await;
    let (_, failure) = executed.status();
    let reasons = fail_closed(&model, status, failure, comparison_error.as_ref());
    model.gate_reasons.extend(reasons);
    let rendered = match options.format {
        OutputFormat::Text => setup.renderer.text(&model)?,
        OutputFormat::Json => report::render_json(&model),
    };
    monitor.add(Component::Report, started.elapsed(), 1);
    Ok(Reported {
        model,
        rendered,
        comparison_error,
    })
}

/// Puts the comparison (or why there is none) into the report; returns
/// the error when the comparison itself failed, which fails the gate.
async fn take_comparison(
    model: &mut Report,
    store: &Store,
    compared: Result<Option<Compared>>,
    status: RunStatus,
    setup: &Setup,
    options: &Options,
    fail_on: FailOn,
) -> Option<Error> {
    let config = &setup.config;
    match compared {
        Ok(Some(c)) => {
            super::super::add_comparison(model, store, c, fail_on, config.compare.fail_on_removed)
                .await;
            None
        }
        Ok(None) => {
            if status == RunStatus::Finished {
                model.no_comparison = Some(format!(
                    "no earlier finished run of suite {} on {} to compare with; the first one becomes the baseline",
                    config.suite.name,
                    options.baseline.branch(&config.compare)
                ));
            }
            None
        }
        Err(e) => {
            model.no_comparison = Some(e.message().to_string());
            Some(e)
        }
    }
}

/// Why the gate cannot vouch for a run whatever its comparison says: it did
/// not finish, it scored no case, a dataset ended early, or the comparison
/// itself failed. Red must mean "look here", and green "nothing broke";
/// a run that saw less than the whole suite cannot be green.
fn fail_closed(
    model: &Report,
    status: RunStatus,
    failure: Option<&Error>,
    comparison_error: Option<&Error>,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if status != RunStatus::Finished {
        reasons.push(format!(
            "the run did not finish ({}){}; its results cannot vouch for this change",
            status.as_str(),
            failure
                .map(|e| format!(": {}", e.message()))
                .unwrap_or_default()
        ));
    }
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
    if let Some(e) = comparison_error {
        reasons.push(format!(
            "the comparison with the baseline failed, so no regression could be ruled out: {}",
            e.message()
        ));
    }
    reasons
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
) -> Result<Option<Compared>> {
    let load = async || {
        let mut now = (*store.run_data(current).await?).clone();
        now.timings = timings
            .iter()
            .map(|t| (t.component.clone(), t.duration_ms))
            .collect();
        now.metrics = metrics.clone();
        Ok(Arc::new(now))
    };
    baseline::compare(
        store,
        &current.suite,
        &current.run_id,
        load,
        &options.baseline,
        &setup.config.compare,
    )
    .await
}

/// Stores the report (for `ai-evals report`) and the run's totals, timings
/// and metrics, which mark the run finished (or failed, or interrupted).
pub(super) async fn record(
    store: &Store,
    run_id: &str,
    executed: &Executed,
    report: &Report,
    metrics: Vec<Metric>,
    monitor: &Monitor,
) -> Result<()> {
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

/// Delivers a finished run's report and decides the exit code.
pub(super) async fn deliver(
    setup: &Setup,
    options: &Options,
    reported: Reported,
    cases: &[CaseDetail],
) -> Outcome {
    let Reported {
        model,
        mut rendered,
        comparison_error,
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
        cases,
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
