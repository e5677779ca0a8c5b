//! The verdicts on numbers: per-case latency, tokens, cost and score
//! compared paired on the shared cases, and component timings and run
//! metrics against the history's prediction interval.
//!
//! Which tests can fire is decided before any of them runs, from the data's
//! shape alone (is there history for a timing, is there any difference to
//! test), so the family's correction counts only tests that could raise an
//! alarm; a test that cannot fire is reported without a level.

use super::{Bands, Direction, Finding, Role, Settings, Severity};
use crate::compare::stats::{self, Interval};
use crate::config::TimingGate;
use crate::store::{CaseOutcome, History, RunData};

/// Run metrics that are compared against the history like timings.
const HISTORY_METRICS: &[(&str, &str)] = &[("peak_rss_mb", "MB")];

/// The paired values of one per-case metric: (baseline, current).
type Series = (Vec<f64>, Vec<f64>);

/// The shared cases' values and the history each test needs.
pub(super) struct Inputs<'a> {
    current: &'a RunData,
    baseline: &'a RunData,
    history: &'a History,
    latency: Series,
    tokens: Series,
    cost: Series,
    score: Series,
}

impl<'a> Inputs<'a> {
    pub(super) fn new(
        current: &'a RunData,
        baseline: &'a RunData,
        pairs: &[(&CaseOutcome, &CaseOutcome)],
        history: &'a History,
    ) -> Inputs<'a> {
        let series = |pick: fn(&CaseOutcome) -> Option<f64>| -> Series {
            pairs
                .iter()
                .filter_map(|(b, c)| Some((pick(b)?, pick(c)?)))
                .unzip()
        };
        Inputs {
            current,
            baseline,
            history,
            latency: series(|c| c.latency_ms),
            tokens: series(|c| c.tokens),
            cost: series(|c| c.cost_usd),
            score: series(|c| Some(c.score)),
        }
    }

    fn history_metric(&self, name: &str) -> Vec<f64> {
        self.history
            .runs
            .iter()
            .filter_map(|h| h.metrics.get(name).copied())
            .collect()
    }

    fn history_timing(&self, name: &str) -> Vec<f64> {
        self.history
            .runs
            .iter()
            .filter_map(|h| h.timings.get(name).copied())
            .collect()
    }

    /// Latency is wall-clock: how much it drifts from run to run (a busy
    /// provider, a slow runner) is only known from the history, so without
    /// enough of it a latency change is reported but never an alarm.
    fn latency_known(&self, settings: &Settings) -> bool {
        self.history_metric("latency_p50_ms").len() >= settings.min_history
    }

    /// How many tests can fire: each becomes one member of the family.
    pub(super) fn fireable(&self, settings: &Settings) -> usize {
        let differs = |(b, c): &Series| b.iter().zip(c).any(|(x, y)| x != y);
        let gates = |gate: TimingGate| settings.role(gate) == Role::Gate;
        let latency =
            gates(TimingGate::Latency) && self.latency_known(settings) && differs(&self.latency);
        let tail = latency && self.latency.0.len() >= TAIL_MIN_CASES;
        let timings = self
            .current
            .timings
            .keys()
            .filter(|name| self.history_timing(name).len() >= settings.min_history)
            .filter(|_| gates(TimingGate::Stages))
            .count();
        let run_metrics = HISTORY_METRICS
            .iter()
            .filter(|(name, _)| {
                self.current.metrics.contains_key(*name)
                    && self.history_metric(name).len() >= settings.min_history
            })
            .filter(|_| gates(TimingGate::Memory))
            .count();
        [
            latency,
            tail,
            differs(&self.tokens),
            differs(&self.cost),
            differs(&self.score),
        ]
        .into_iter()
        .filter(|fires| *fires)
        .count()
            + timings
            + run_metrics
    }

    /// Every finding; a test that can fire is decided at `alpha`.
    pub(super) fn findings(&self, alpha: f64, settings: &Settings) -> Vec<Finding> {
        let mut findings = Vec::new();
        let latency_known = self.latency_known(settings);
        let latency_alpha = latency_known.then_some(alpha);
        let latency_floor = tolerance(
            &self.history_metric("latency_p50_ms"),
            settings.timing_floor,
        );
        let tail_floor = tolerance(
            &self.history_metric("latency_p95_ms"),
            settings.timing_floor,
        );
        let first_latency = findings.len();
        let (base, cur) = &self.latency;
        findings.extend(paired_ratio(
            "latency (typical case)",
            "ms",
            base,
            cur,
            latency_floor,
            latency_alpha,
            settings,
        ));
        findings.extend(tail_ratio(base, cur, tail_floor, latency_alpha, settings));
        for finding in &mut findings[first_latency..] {
            finding.role = settings.role(TimingGate::Latency);
            if !latency_known {
                finding.direction = Direction::Insufficient;
                finding.severity = Severity::None;
                finding.magnitude = 0.0;
            }
        }
        let (base, cur) = &self.tokens;
        let floor = tolerance(&self.history_metric("tokens_mean"), 0.0);
        findings.extend(paired_ratio(
            "tokens per case",
            "tokens",
            base,
            cur,
            floor,
            Some(alpha),
            settings,
        ));
        let (base, cur) = &self.cost;
        let floor = tolerance(&self.history_metric("cost_mean_usd"), 0.0);
        findings.extend(paired_ratio(
            "cost per case",
            "USD",
            base,
            cur,
            floor,
            Some(alpha),
            settings,
        ));
        let floor = tolerance(&self.history_metric("mean_score"), 0.0);
        findings.extend(score_change(&self.score, floor, alpha, settings));
        findings.extend(self.against_history(alpha, settings));
        findings
    }

    /// Component timings and run metrics against the history.
    fn against_history(&self, alpha: f64, settings: &Settings) -> Vec<Finding> {
        let timings = self.current.timings.iter().map(|(name, value)| {
            against_history(
                &Measure {
                    name: format!("timing {name}"),
                    unit: "ms",
                    value: *value,
                    baseline: self.baseline.timings.get(name).copied(),
                },
                &self.history_timing(name),
                settings.timing_floor,
                alpha,
                settings,
            )
            .with_role(settings.role(TimingGate::Stages))
        });
        let metrics = HISTORY_METRICS.iter().filter_map(|(name, unit)| {
            let value = *self.current.metrics.get(*name)?;
            Some(
                against_history(
                    &Measure {
                        name: name.to_string(),
                        unit,
                        value,
                        baseline: self.baseline.metrics.get(*name).copied(),
                    },
                    &self.history_metric(name),
                    0.0,
                    alpha,
                    settings,
                )
                .with_role(settings.role(TimingGate::Memory)),
            )
        });
        timings.chain(metrics).collect()
    }
}

/// Fewer paired cases than this say nothing about a 95th percentile.
const TAIL_MIN_CASES: usize = 20;

/// The typical run-to-run change of a metric in the history, 0 when the
/// history is too short to tell.
fn noise(history: &[f64]) -> f64 {
    stats::noise_floor(history).unwrap_or(0.0)
}

/// How much a whole-run shift of a per-case metric must exceed to count:
/// three times its typical run-to-run change, and at least `min`. A paired
/// test over many cases finds even a 3 % shift significant, but a run that
/// is 3 % slower because the provider was busier is not a regression.
fn tolerance(history: &[f64], min: f64) -> f64 {
    (3.0 * noise(history)).max(min)
}

/// `timing-floor-ms` as a fraction of a timing's typical `level`, for
/// figures in milliseconds (0 for others): a replayed answer's latency of
/// 1 ms that becomes 5 ms under a busy runner is +400 % and still nothing.
fn absolute_floor(unit: &str, level: f64, settings: &Settings) -> f64 {
    if unit == "ms" && level > 0.0 {
        settings.timing_floor_ms / level
    } else {
        0.0
    }
}

/// Turns an interval of change (fractions, higher worse or better) into a
/// direction, severity and magnitude.
fn judge(
    change: Interval,
    significant: bool,
    floor: f64,
    higher_is_worse: bool,
    bands: &Bands,
) -> (Direction, Severity, f64) {
    // "worse" and "better" read off the conservative end of the interval.
    let (worse, better) = if higher_is_worse {
        (change.low, -change.high)
    } else {
        (-change.high, change.low)
    };
    if significant && worse > floor {
        (Direction::Regression, bands.grade(worse), worse)
    } else if significant && better > floor {
        (Direction::Improvement, Severity::None, better)
    } else {
        (Direction::NoChange, Severity::None, 0.0)
    }
}

/// The typical case's change of a positive metric: the median log-ratio,
/// its distribution-free interval and Wilcoxon's test. Without a level
/// (`alpha` is `None`) the test cannot fire.
fn paired_ratio(
    name: &str,
    unit: &'static str,
    baseline: &[f64],
    current: &[f64],
    floor: f64,
    alpha: Option<f64>,
    settings: &Settings,
) -> Option<Finding> {
    let comparison = stats::compare_paired_ratios(baseline, current, settings.confidence)?;
    let level = stats::median(baseline)?;
    let floor = floor.max(absolute_floor(unit, level, settings));
    let excludes_zero = comparison.change.low > 0.0 || comparison.change.high < 0.0;
    let significant = alpha.is_some_and(|a| comparison.p_value < a) && excludes_zero;
    let (direction, severity, magnitude) =
        judge(comparison.change, significant, floor, true, &settings.bands);
    Some(Finding {
        name: name.into(),
        unit: unit.into(),
        baseline: level,
        current: stats::median(current)?,
        change: comparison.change,
        p_value: Some(comparison.p_value),
        alpha,
        noise_floor: floor,
        higher_is_worse: true,
        direction,
        severity,
        magnitude,
        role: Role::Gate,
    })
}

/// The 95th percentile's change. Whether the tail grew is decided by a
/// sign test on the cases that cross the baseline's 95th percentile (more
/// now slower than it than faster is not chance), which is valid for a
/// tail and sits in the family; the size comes from a paired bootstrap
/// interval of the ratio of 95th percentiles.
fn tail_ratio(
    baseline: &[f64],
    current: &[f64],
    floor: f64,
    alpha: Option<f64>,
    settings: &Settings,
) -> Option<Finding> {
    let base_p95 = stats::percentile(baseline, 95.0)?;
    let cur_p95 = stats::percentile(current, 95.0)?;
    if baseline.len() < TAIL_MIN_CASES || base_p95 <= 0.0 {
        return None;
    }
    let change = bootstrap_p95_change(baseline, current, settings)?;
    let floor = floor.max(absolute_floor("ms", base_p95, settings));
    let (slower, faster) = baseline.iter().zip(current).fold((0, 0), |(s, f), (b, c)| {
        match (*b <= base_p95, *c <= base_p95) {
            (true, false) => (s + 1, f),
            (false, true) => (s, f + 1),
            _ => (s, f),
        }
    });
    let grew = stats::sign_test_upper(slower, slower + faster);
    let shrank = stats::sign_test_upper(faster, slower + faster);
    let p_value = grew.min(shrank);
    let significant = alpha.is_some_and(|a| p_value < a / 2.0);
    let (direction, severity, magnitude) = judge(change, significant, floor, true, &settings.bands);
    Some(Finding {
        name: "latency (p95)".into(),
        unit: "ms".into(),
        baseline: base_p95,
        current: cur_p95,
        change,
        p_value: Some((2.0 * p_value).min(1.0)),
        alpha,
        noise_floor: floor,
        higher_is_worse: true,
        direction,
        severity,
        magnitude,
        role: Role::Gate,
    })
}

/// The ratio of 95th percentiles minus one, with a paired bootstrap
/// interval: resampling case indices keeps each case's two latencies
/// together.
fn bootstrap_p95_change(
    baseline: &[f64],
    current: &[f64],
    settings: &Settings,
) -> Option<Interval> {
    let indices: Vec<f64> = (0..baseline.len()).map(|i| i as f64).collect();
    let mut before = Vec::with_capacity(baseline.len());
    let mut after = Vec::with_capacity(current.len());
    let ratio = stats::bootstrap_ci(
        &indices,
        |sample| {
            before.clear();
            after.clear();
            for &i in sample {
                before.push(baseline[i as usize]);
                after.push(current[i as usize]);
            }
            p95_in_place(&mut after) / p95_in_place(&mut before)
        },
        settings.resamples,
        settings.confidence,
        settings.seed,
    )?;
    Some(ratio.map(|r| r - 1.0))
}

/// The 95th percentile by selection (nearest rank), cheaper than a sort in
/// a bootstrap loop.
fn p95_in_place(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let rank = ((values.len() as f64 * 0.95).ceil() as usize).clamp(1, values.len()) - 1;
    let (_, value, _) = values.select_nth_unstable_by(rank, f64::total_cmp);
    *value
}

/// The mean score's change, relative to the baseline's, with Wilcoxon's
/// test on the paired differences.
fn score_change(
    (baseline, current): &Series,
    floor: f64,
    alpha: f64,
    settings: &Settings,
) -> Option<Finding> {
    let comparison = stats::compare_paired_scores(baseline, current, settings.confidence)?;
    let base_mean = stats::mean(baseline)?;
    if base_mean <= 0.0 {
        return None;
    }
    let change = comparison.mean_difference.map(|d| d / base_mean);
    let p_value = comparison.wilcoxon_p_value;
    let significant = p_value < alpha && (change.low > 0.0 || change.high < 0.0);
    let (direction, severity, magnitude) =
        judge(change, significant, floor, false, &settings.bands);
    Some(Finding {
        name: "score".into(),
        unit: String::new(),
        baseline: base_mean,
        current: stats::mean(current)?,
        change,
        p_value: Some(p_value),
        alpha: Some(alpha),
        noise_floor: floor,
        higher_is_worse: false,
        direction,
        severity,
        magnitude,
        role: Role::Gate,
    })
}

/// A run-level value: what it is called, its unit, and the baseline's.
struct Measure {
    name: String,
    unit: &'static str,
    value: f64,
    baseline: Option<f64>,
}

/// A run-level value against the history's prediction interval at the
/// family's level. The floor is the larger of `min_floor` and the
/// history's own run-to-run noise.
fn against_history(
    measure: &Measure,
    history: &[f64],
    min_floor: f64,
    alpha: f64,
    settings: &Settings,
) -> Finding {
    let floor = noise(history).max(min_floor);
    let insufficient = Finding {
        name: measure.name.clone(),
        unit: measure.unit.into(),
        baseline: measure.baseline.unwrap_or(f64::NAN),
        current: measure.value,
        change: Interval {
            estimate: measure
                .baseline
                .map_or(f64::NAN, |b| measure.value / b - 1.0),
            low: f64::NAN,
            high: f64::NAN,
        },
        p_value: None,
        alpha: None,
        noise_floor: floor,
        higher_is_worse: true,
        direction: Direction::Insufficient,
        severity: Severity::None,
        magnitude: 0.0,
        role: Role::Gate,
    };
    if history.len() < settings.min_history {
        return insufficient;
    }
    let Some(check) = stats::check_against_history(history, measure.value, 1.0 - alpha) else {
        return insufficient;
    };
    let typical = check.prediction.estimate;
    let floor = floor.max(absolute_floor(measure.unit, typical, settings));
    let change = Interval {
        estimate: check.ratio_to_geometric_mean - 1.0,
        low: check.prediction.low / typical - 1.0,
        high: check.prediction.high / typical - 1.0,
    };
    let (direction, severity, magnitude) = if check.above_upper_bound && change.estimate > floor {
        (
            Direction::Regression,
            settings.bands.grade(change.estimate),
            change.estimate,
        )
    } else if check.below_lower_bound && -change.estimate > floor {
        (Direction::Improvement, Severity::None, -change.estimate)
    } else {
        (Direction::NoChange, Severity::None, 0.0)
    };
    Finding {
        baseline: measure.baseline.unwrap_or(typical),
        change,
        alpha: Some(alpha),
        noise_floor: floor,
        direction,
        severity,
        magnitude,
        ..insufficient
    }
}
