//! Regression verdicts: what got worse (or better) than on the baseline, by
//! how much, and how sure we are.
//!
//! Pure: the current run, its baseline and the baseline branch's recent
//! history come in as values, findings go out. The arithmetic lives in
//! [`crate::compare::stats`]; this module decides which test fits which metric, how
//! much change is noise, and which severity band a change falls in.
//!
//! - Per-case metrics (provider latency, tokens, cost, score) are compared
//!   paired on the cases both runs share: the typical change is the median
//!   log-ratio with its distribution-free interval, the tail is the ratio of
//!   the 95th percentiles with a paired bootstrap interval.
//! - Component timings are checked against a log-normal prediction interval
//!   over the history window; fewer than `min_history` runs is "insufficient
//!   baseline", never an alarm.
//! - A change counts only when it is significant (the tests share one
//!   Bonferroni-corrected level, so many metrics do not multiply false
//!   alarms) and beyond the metric's noise floor; its severity is read off
//!   the conservative end of its interval.

use serde::{Deserialize, Serialize};

use crate::compare::stats::{self, Interval};
use crate::config::{CompareConfig, FailOn};
use crate::store::{CaseOutcome, HistoryRun, RunData};

/// How bad a regression is; ordered from none to critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    None,
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

/// Which way a metric moved, once noise is set aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Regression,
    Improvement,
    NoChange,
    /// Too little data to judge (for timings: too few history runs).
    Insufficient,
}

/// The change (as a fraction) above which a regression is minor, major or
/// critical.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bands {
    pub minor: f64,
    pub major: f64,
    pub critical: f64,
}

impl Default for Bands {
    fn default() -> Self {
        Bands {
            minor: 0.10,
            major: 0.25,
            critical: 0.50,
        }
    }
}

impl Bands {
    /// The band a change of `worse` (a fraction, 0.3 = 30 % worse) falls in.
    pub fn grade(&self, worse: f64) -> Severity {
        if worse > self.critical {
            Severity::Critical
        } else if worse > self.major {
            Severity::Major
        } else if worse > self.minor {
            Severity::Minor
        } else {
            Severity::None
        }
    }
}

/// What the verdicts are tuned by.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bands: Bands,
    /// Family-wide confidence, shared by all tests of one comparison.
    pub confidence: f64,
    /// History runs needed before a timing can raise an alarm.
    pub min_history: usize,
    /// The least change a wall-clock timing must show to count.
    pub timing_floor: f64,
    /// Bootstrap resamples for tail intervals.
    pub resamples: usize,
    pub seed: u64,
}

impl Settings {
    /// The settings a suite's `[compare]` section chooses.
    pub fn from_config(config: &CompareConfig) -> Settings {
        Settings {
            bands: Bands {
                minor: config.minor,
                major: config.major,
                critical: config.critical,
            },
            confidence: config.confidence,
            min_history: config.min_history,
            timing_floor: config.timing_floor,
            ..Settings::default()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bands: Bands::default(),
            confidence: 0.95,
            min_history: 5,
            timing_floor: 0.10,
            resamples: 1000,
            seed: 0x5eed,
        }
    }
}

/// One metric's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What was compared, e.g. `latency (typical case)` or `timing scoring/regex`.
    pub name: String,
    pub unit: String,
    #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
    pub baseline: f64,
    #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
    pub current: f64,
    /// The change as a fraction of the baseline (0.3 = 30 % higher), with
    /// its interval. For a timing, the interval is the history's prediction
    /// interval expressed as change from its typical value.
    pub change: Interval,
    pub p_value: Option<f64>,
    /// Change within this fraction is treated as noise.
    #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
    pub noise_floor: f64,
    /// Whether an increase is bad (latency) or good (score).
    pub higher_is_worse: bool,
    pub direction: Direction,
    pub severity: Severity,
    /// The size of the change, conservatively, as a fraction (for
    /// regressions and improvements; 0 otherwise).
    #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
    pub magnitude: f64,
}

/// How the quality of the shared cases moved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityChange {
    pub shared_cases: usize,
    pub baseline_pass_rate: Option<f64>,
    pub current_pass_rate: Option<f64>,
    /// Current − baseline pass rate, with Newcombe's interval.
    pub pass_rate_change: Option<Interval>,
    pub p_value: Option<f64>,
    /// Passed on the baseline, fail now (sorted keys).
    pub newly_failing: Vec<String>,
    /// Failed on the baseline, pass now.
    pub newly_passing: Vec<String>,
    /// Errored now, not on the baseline.
    pub new_errors: Vec<String>,
    /// Cases only this run has, and cases only the baseline had.
    pub added_cases: usize,
    pub removed_cases: usize,
}

/// Everything one comparison found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline_run: String,
    pub baseline_sha: Option<String>,
    pub history_runs: usize,
    pub quality: QualityChange,
    /// The severity of the pass-rate drop, if it is one.
    pub quality_severity: Severity,
    pub findings: Vec<Finding>,
    /// The worst severity of any regression.
    pub worst: Severity,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.direction == Direction::Regression)
    }
}

// The gate's rule belongs with the severities; the config only names it.
impl FailOn {
    /// Whether a regression of `worst` severity fails the gate.
    pub fn fails(self, worst: Severity) -> bool {
        let at = match self {
            FailOn::Critical => Severity::Critical,
            FailOn::Major => Severity::Major,
            FailOn::Minor => Severity::Minor,
            FailOn::Never => return false,
        };
        worst >= at
    }
}

/// Why the gate fails at `fail_on`: one line per regression at or above
/// it, worst first. Empty when the gate passes.
pub fn gate_reasons(comparison: &Comparison, fail_on: FailOn) -> Vec<String> {
    let mut reasons: Vec<(Severity, String)> = Vec::new();
    if fail_on.fails(comparison.quality_severity) {
        let q = &comparison.quality;
        reasons.push((
            comparison.quality_severity,
            format!(
                "{}: pass rate {:.1}% → {:.1}% on {} shared cases, {} newly failing",
                comparison.quality_severity.as_str(),
                100.0 * q.baseline_pass_rate.unwrap_or(0.0),
                100.0 * q.current_pass_rate.unwrap_or(0.0),
                q.shared_cases,
                q.newly_failing.len()
            ),
        ));
    }
    for finding in comparison.regressions() {
        if fail_on.fails(finding.severity) {
            reasons.push((
                finding.severity,
                format!(
                    "{}: {} {} by {:.0}% or more (estimate {:+.0}%, interval {:+.0}% to {:+.0}%)",
                    finding.severity.as_str(),
                    finding.name,
                    if finding.higher_is_worse {
                        "up"
                    } else {
                        "down"
                    },
                    100.0 * finding.magnitude,
                    100.0 * finding.change.estimate,
                    100.0 * finding.change.low,
                    100.0 * finding.change.high,
                ),
            ));
        }
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.0));
    reasons.into_iter().map(|(_, r)| r).collect()
}

/// Run metrics that are compared against the history like timings.
const HISTORY_METRICS: &[(&str, &str)] = &[("peak_rss_mb", "MB")];

/// Compares `current` with `baseline`, using `history` (the baseline
/// branch's recent runs, newest first, without the current run) for noise
/// floors and timing predictions.
pub fn compare(
    current: &RunData,
    baseline: &RunData,
    history: &[HistoryRun],
    settings: &Settings,
) -> Comparison {
    let pairs = pair_cases(current, baseline);
    let quality = quality_change(current, baseline, &pairs, settings.confidence);

    let timing_names: Vec<&String> = current.timings.keys().collect();
    // One family of tests: 5 per-case metrics, the pass rate, one per timing
    // and history metric. Each is significant below the Bonferroni level;
    // per-case intervals, from which severity is read, stay at the plain
    // confidence.
    let tests = 6 + timing_names.len() + HISTORY_METRICS.len();
    let alpha = (1.0 - settings.confidence) / tests as f64;
    let confidence = 1.0 - alpha;

    let mut findings = Vec::new();
    let series = |pick: fn(&CaseOutcome) -> Option<f64>| -> (Vec<f64>, Vec<f64>) {
        pairs
            .iter()
            .filter_map(|(b, c)| Some((pick(b)?, pick(c)?)))
            .unzip()
    };
    let history_metric = |name: &str| -> Vec<f64> {
        history
            .iter()
            .filter_map(|h| h.metrics.get(name).copied())
            .collect()
    };

    let (base_latency, cur_latency) = series(|c| c.latency_ms);
    // Latency is wall-clock: how much it drifts from run to run (a busy
    // provider, a slow runner) is only known from the history, so without
    // enough of it a latency change is reported but never an alarm.
    let latency_known = history_metric("latency_p50_ms").len() >= settings.min_history;
    let latency_findings = findings.len();
    findings.extend(paired_ratio(
        "latency (typical case)",
        "ms",
        &base_latency,
        &cur_latency,
        tolerance(&history_metric("latency_p50_ms"), settings.timing_floor),
        settings.confidence,
        alpha,
        settings,
    ));
    findings.extend(tail_ratio(
        "latency (p95)",
        &base_latency,
        &cur_latency,
        tolerance(&history_metric("latency_p95_ms"), settings.timing_floor),
        settings.confidence,
        settings,
    ));
    if !latency_known {
        for finding in &mut findings[latency_findings..] {
            finding.direction = Direction::Insufficient;
            finding.severity = Severity::None;
            finding.magnitude = 0.0;
        }
    }
    let (base_tokens, cur_tokens) = series(|c| c.tokens);
    findings.extend(paired_ratio(
        "tokens per case",
        "tokens",
        &base_tokens,
        &cur_tokens,
        tolerance(&history_metric("tokens_mean"), 0.0),
        settings.confidence,
        alpha,
        settings,
    ));
    let (base_cost, cur_cost) = series(|c| c.cost_usd);
    findings.extend(paired_ratio(
        "cost per case",
        "USD",
        &base_cost,
        &cur_cost,
        tolerance(&history_metric("cost_mean_usd"), 0.0),
        settings.confidence,
        alpha,
        settings,
    ));
    let (base_score, cur_score) = series(|c| Some(c.score));
    findings.extend(score_change(
        &base_score,
        &cur_score,
        tolerance(&history_metric("mean_score"), 0.0),
        settings.confidence,
        alpha,
        settings,
    ));

    for name in timing_names {
        let past: Vec<f64> = history
            .iter()
            .filter_map(|h| h.timings.get(name).copied())
            .collect();
        findings.push(against_history(
            &format!("timing {name}"),
            "ms",
            current.timings[name],
            baseline.timings.get(name).copied(),
            &past,
            settings.timing_floor,
            confidence,
            settings,
        ));
    }
    for (name, unit) in HISTORY_METRICS {
        if let Some(value) = current.metrics.get(*name) {
            findings.push(against_history(
                name,
                unit,
                *value,
                baseline.metrics.get(*name).copied(),
                &history_metric(name),
                0.0,
                confidence,
                settings,
            ));
        }
    }

    let quality_severity = quality_severity(
        &quality,
        tolerance(&history_metric("pass_rate"), 0.0),
        alpha,
        settings,
    );
    let worst = findings
        .iter()
        .filter(|f| f.direction == Direction::Regression)
        .map(|f| f.severity)
        .chain(std::iter::once(quality_severity))
        .max()
        .unwrap_or(Severity::None);
    Comparison {
        baseline_run: baseline.run_id.clone(),
        baseline_sha: baseline.git_sha.clone(),
        history_runs: history.len(),
        quality,
        quality_severity,
        findings,
        worst,
    }
}

/// The severity of the pass-rate drop: relative to the baseline's pass
/// rate, read off the interval's conservative end, when McNemar's test
/// finds the flips one-sided.
pub fn quality_severity(
    quality: &QualityChange,
    noise_floor: f64,
    alpha: f64,
    settings: &Settings,
) -> Severity {
    let (Some(change), Some(p), Some(base)) = (
        quality.pass_rate_change,
        quality.p_value,
        quality.baseline_pass_rate,
    ) else {
        return Severity::None;
    };
    if p >= alpha || change.high >= 0.0 || base <= 0.0 {
        return Severity::None;
    }
    let worse = -change.high / base;
    if worse <= noise_floor {
        return Severity::None;
    }
    settings.bands.grade(worse)
}

/// Pairs each current case with the baseline's case of the same key.
fn pair_cases<'a>(
    current: &'a RunData,
    baseline: &'a RunData,
) -> Vec<(&'a CaseOutcome, &'a CaseOutcome)> {
    let by_key: std::collections::HashMap<&str, &CaseOutcome> =
        baseline.cases.iter().map(|c| (c.key.as_str(), c)).collect();
    let mut pairs: Vec<_> = current
        .cases
        .iter()
        .filter_map(|c| by_key.get(c.key.as_str()).map(|b| (*b, c)))
        .collect();
    pairs.sort_by(|a, b| a.1.key.cmp(&b.1.key));
    pairs
}

fn quality_change(
    current: &RunData,
    baseline: &RunData,
    pairs: &[(&CaseOutcome, &CaseOutcome)],
    confidence: f64,
) -> QualityChange {
    let before: Vec<bool> = pairs.iter().map(|(b, _)| b.passed).collect();
    let after: Vec<bool> = pairs.iter().map(|(_, c)| c.passed).collect();
    let comparison = stats::compare_pass_rates(&before, &after, confidence);
    let keys = |keep: fn(&CaseOutcome, &CaseOutcome) -> bool| -> Vec<String> {
        pairs
            .iter()
            .filter(|(b, c)| keep(b, c))
            .map(|(_, c)| c.key.clone())
            .collect()
    };
    QualityChange {
        shared_cases: pairs.len(),
        baseline_pass_rate: comparison.as_ref().map(|c| c.baseline_pass_rate),
        current_pass_rate: comparison.as_ref().map(|c| c.current_pass_rate),
        pass_rate_change: comparison.as_ref().map(|c| c.change),
        p_value: comparison.as_ref().map(|c| c.p_value),
        newly_failing: keys(|b, c| b.passed && !c.passed),
        newly_passing: keys(|b, c| !b.passed && c.passed),
        new_errors: keys(|b, c| !b.errored && c.errored),
        added_cases: current.cases.len() - pairs.len(),
        removed_cases: baseline.cases.len() - pairs.len(),
    }
}

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

#[allow(clippy::too_many_arguments)]
fn paired_ratio(
    name: &str,
    unit: &'static str,
    baseline: &[f64],
    current: &[f64],
    floor: f64,
    confidence: f64,
    alpha: f64,
    settings: &Settings,
) -> Option<Finding> {
    let comparison = stats::compare_paired_ratios(baseline, current, confidence)?;
    let significant =
        comparison.p_value < alpha && (comparison.change.low > 0.0 || comparison.change.high < 0.0);
    let (direction, severity, magnitude) =
        judge(comparison.change, significant, floor, true, &settings.bands);
    Some(Finding {
        name: name.into(),
        unit: unit.into(),
        baseline: stats::median(baseline)?,
        current: stats::median(current)?,
        change: comparison.change,
        p_value: Some(comparison.p_value),
        noise_floor: floor,
        higher_is_worse: true,
        direction,
        severity,
        magnitude,
    })
}

/// The 95th percentile's change, with a paired bootstrap interval: slow
/// outliers that leave the median alone (a few cases 3× slower) show here.
fn tail_ratio(
    name: &str,
    baseline: &[f64],
    current: &[f64],
    floor: f64,
    confidence: f64,
    settings: &Settings,
) -> Option<Finding> {
    let base_p95 = stats::percentile(baseline, 95.0)?;
    let cur_p95 = stats::percentile(current, 95.0)?;
    if baseline.len() < 20 || base_p95 <= 0.0 {
        return None;
    }
    // Resampling case indices keeps each case's two latencies together.
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
        confidence,
        settings.seed,
    )?;
    let change = ratio.map(|r| r - 1.0);
    let significant = change.low > 0.0 || change.high < 0.0;
    let (direction, severity, magnitude) = judge(change, significant, floor, true, &settings.bands);
    Some(Finding {
        name: name.into(),
        unit: "ms".into(),
        baseline: base_p95,
        current: cur_p95,
        change,
        p_value: None,
        noise_floor: floor,
        higher_is_worse: true,
        direction,
        severity,
        magnitude,
    })
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

fn score_change(
    baseline: &[f64],
    current: &[f64],
    floor: f64,
    confidence: f64,
    alpha: f64,
    settings: &Settings,
) -> Option<Finding> {
    let comparison = stats::compare_paired_scores(baseline, current, confidence)?;
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
        noise_floor: floor,
        higher_is_worse: false,
        direction,
        severity,
        magnitude,
    })
}

/// A run-level value against the history's prediction interval. The floor
/// is the larger of `min_floor` and the history's own run-to-run noise.
#[allow(clippy::too_many_arguments)]
fn against_history(
    name: &str,
    unit: &'static str,
    value: f64,
    baseline: Option<f64>,
    history: &[f64],
    min_floor: f64,
    confidence: f64,
    settings: &Settings,
) -> Finding {
    let floor = noise(history).max(min_floor);
    let insufficient = Finding {
        name: name.into(),
        unit: unit.into(),
        baseline: baseline.unwrap_or(f64::NAN),
        current: value,
        change: Interval {
            estimate: baseline.map_or(f64::NAN, |b| value / b - 1.0),
            low: f64::NAN,
            high: f64::NAN,
        },
        p_value: None,
        noise_floor: floor,
        higher_is_worse: true,
        direction: Direction::Insufficient,
        severity: Severity::None,
        magnitude: 0.0,
    };
    if history.len() < settings.min_history {
        return insufficient;
    }
    let Some(check) = stats::check_against_history(history, value, confidence) else {
        return insufficient;
    };
    let typical = check.prediction.estimate;
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
        baseline: baseline.unwrap_or(typical),
        change,
        direction,
        severity,
        magnitude,
        ..insufficient
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::stats::SplitMix64;
    use std::collections::BTreeMap;

    /// A standard normal draw by Box–Muller.
    fn normal(rng: &mut SplitMix64) -> f64 {
        let radius = (-2.0 * (1.0 - rng.next_f64()).ln()).sqrt();
        radius * (2.0 * std::f64::consts::PI * rng.next_f64()).cos()
    }

    const COMPONENTS: &[(&str, f64)] = &[
        ("total", 4000.0),
        ("dataset_loading", 40.0),
        ("execution", 3500.0),
        ("scoring", 120.0),
        ("scoring/regex", 60.0),
        ("storing", 200.0),
    ];

    /// A synthetic run of `cases` cases: each case has its own typical
    /// latency and tokens, and every run adds its own noise on top, the way
    /// a provider and a CI runner vary from run to run.
    fn run(rng: &mut SplitMix64, id: &str, cases: usize, slow: impl Fn(usize) -> f64) -> RunData {
        let mut case_rng = SplitMix64::new(42);
        let run_factor = (0.05 * normal(rng)).exp();
        let cases = (0..cases)
            .map(|i| {
                let typical = 300.0 * (0.3 * normal(&mut case_rng)).exp();
                let tokens = 200.0 + (case_rng.next_f64() * 300.0).round();
                let passed = case_rng.next_f64() < 0.85;
                CaseOutcome {
                    key: format!("case-{i}#0"),
                    passed,
                    score: if passed { 1.0 } else { 0.0 },
                    errored: false,
                    latency_ms: Some(typical * run_factor * (0.25 * normal(rng)).exp() * slow(i)),
                    tokens: Some(tokens),
                    cost_usd: Some(tokens * 1e-6),
                }
            })
            .collect();
        RunData {
            run_id: id.into(),
            git_sha: None,
            cases,
            timings: timings(rng, ""),
            metrics: BTreeMap::new(),
        }
    }

    fn timings(rng: &mut SplitMix64, slow: &str) -> BTreeMap<String, f64> {
        COMPONENTS
            .iter()
            .map(|(name, ms)| {
                let factor = if *name == slow { 1.6 } else { 1.0 };
                (name.to_string(), ms * factor * (0.015 * normal(rng)).exp())
            })
            .collect()
    }

    fn history(rng: &mut SplitMix64, runs: usize) -> Vec<HistoryRun> {
        (0..runs)
            .map(|_| {
                let shift = (0.05 * normal(rng)).exp();
                HistoryRun {
                    timings: timings(rng, ""),
                    metrics: [
                        ("latency_p50_ms".to_string(), 300.0 * shift),
                        ("latency_p95_ms".to_string(), 580.0 * shift),
                        ("tokens_mean".to_string(), 350.0),
                    ]
                    .into(),
                    ..HistoryRun::default()
                }
            })
            .collect()
    }

    #[test]
    fn bands_and_gate() {
        let bands = Bands::default();
        assert_eq!(bands.grade(0.05), Severity::None);
        assert_eq!(bands.grade(0.11), Severity::Minor);
        assert_eq!(bands.grade(0.3), Severity::Major);
        assert_eq!(bands.grade(0.6), Severity::Critical);
        assert!(FailOn::Critical.fails(Severity::Critical));
        assert!(!FailOn::Critical.fails(Severity::Major));
        assert!(FailOn::Major.fails(Severity::Major));
        assert!(!FailOn::Major.fails(Severity::Minor));
        assert!(FailOn::Minor.fails(Severity::Minor));
        assert!(!FailOn::Minor.fails(Severity::None));
        assert!(!FailOn::Never.fails(Severity::Critical));
    }

    /// Pairs of runs drawn from one distribution must not look different:
    /// the false-alarm rate over many seeds stays under 5 %.
    #[test]
    fn same_distribution_rarely_alarms() {
        let trials = 200;
        let mut alarms = 0;
        for seed in 0..trials {
            let mut rng = SplitMix64::new(1000 + seed);
            let past = history(&mut rng, 30);
            let baseline = run(&mut rng, "base", 300, |_| 1.0);
            let current = run(&mut rng, "pr", 300, |_| 1.0);
            let settings = Settings {
                resamples: 300,
                ..Settings::default()
            };
            let comparison = compare(&current, &baseline, &past, &settings);
            if comparison.worst > Severity::None {
                alarms += 1;
            }
        }
        let rate = alarms as f64 / trials as f64;
        eprintln!("false-alarm rate: {alarms} of {trials} same-distribution pairs");
        assert!(
            rate <= 0.05,
            "false-alarm rate {rate} ({alarms} of {trials})"
        );
    }

    /// A 60 % slower component and 3× latency on a fifth of the cases are
    /// both found and graded critical, every time.
    #[test]
    fn injected_regressions_are_found_and_critical() {
        let trials = 50;
        for seed in 0..trials {
            let mut rng = SplitMix64::new(5000 + seed);
            let past = history(&mut rng, 30);
            let baseline = run(&mut rng, "base", 1000, |_| 1.0);
            let mut current = run(&mut rng, "pr", 1000, |i| if i % 5 == 0 { 3.0 } else { 1.0 });
            current.timings = timings(&mut rng, "scoring");
            let settings = Settings {
                resamples: 300,
                ..Settings::default()
            };
            let comparison = compare(&current, &baseline, &past, &settings);
            let find = |name: &str| {
                comparison
                    .findings
                    .iter()
                    .find(|f| f.name == name)
                    .unwrap_or_else(|| panic!("no finding {name}"))
            };
            let scoring = find("timing scoring");
            assert_eq!(scoring.direction, Direction::Regression, "{scoring:?}");
            assert_eq!(scoring.severity, Severity::Critical, "{scoring:?}");
            let tail = find("latency (p95)");
            assert_eq!(tail.direction, Direction::Regression, "{tail:?}");
            assert_eq!(tail.severity, Severity::Critical, "{tail:?}");
            assert_eq!(comparison.worst, Severity::Critical);
            assert_eq!(find("timing execution").direction, Direction::NoChange);
        }
        eprintln!("detected: {trials} of {trials} injected regressions, all critical");
    }

    #[test]
    fn short_history_is_insufficient_never_an_alarm() {
        let mut rng = SplitMix64::new(7);
        let past = history(&mut rng, 4);
        let baseline = run(&mut rng, "base", 50, |_| 1.0);
        let mut current = run(&mut rng, "pr", 50, |_| 1.0);
        current.timings.insert("scoring".into(), 10_000.0);
        let comparison = compare(&current, &baseline, &past, &Settings::default());
        let scoring = comparison
            .findings
            .iter()
            .find(|f| f.name == "timing scoring")
            .unwrap();
        assert_eq!(scoring.direction, Direction::Insufficient);
        assert_eq!(scoring.severity, Severity::None);
        assert_eq!(comparison.worst, Severity::None);
        // Latency three times higher is reported, but the history is too
        // short to tell it from a slow day of the provider.
        let mut slower = current.clone();
        for case in &mut slower.cases {
            case.latency_ms = case.latency_ms.map(|l| 3.0 * l);
        }
        let comparison = compare(&slower, &baseline, &past, &Settings::default());
        let typical = comparison
            .findings
            .iter()
            .find(|f| f.name == "latency (typical case)")
            .unwrap();
        assert_eq!(typical.direction, Direction::Insufficient);
        assert!(typical.change.estimate > 1.5, "{typical:?}");
        assert_eq!(comparison.worst, Severity::None);
    }

    #[test]
    fn flipped_cases_and_new_errors_are_listed() {
        let case = |key: &str, passed: bool, errored: bool| CaseOutcome {
            key: key.into(),
            passed,
            score: if passed { 1.0 } else { 0.0 },
            errored,
            latency_ms: Some(100.0),
            tokens: Some(10.0),
            cost_usd: None,
        };
        let baseline = RunData {
            run_id: "base".into(),
            cases: vec![
                case("a#0", true, false),
                case("b#0", false, false),
                case("c#0", true, false),
                case("gone#0", true, false),
            ],
            ..RunData::default()
        };
        let current = RunData {
            run_id: "pr".into(),
            cases: vec![
                case("c#0", false, true),
                case("a#0", false, false),
                case("b#0", true, false),
                case("new#0", true, false),
            ],
            ..RunData::default()
        };
        let comparison = compare(&current, &baseline, &[], &Settings::default());
        let q = &comparison.quality;
        assert_eq!(q.shared_cases, 3);
        assert_eq!(q.newly_failing, ["a#0", "c#0"]);
        assert_eq!(q.newly_passing, ["b#0"]);
        assert_eq!(q.new_errors, ["c#0"]);
        assert_eq!((q.added_cases, q.removed_cases), (1, 1));
        assert_eq!(q.baseline_pass_rate, Some(2.0 / 3.0));
        assert_eq!(q.current_pass_rate, Some(1.0 / 3.0));
    }

    #[test]
    fn a_broad_quality_drop_is_a_regression_and_a_rise_an_improvement() {
        let cases = |pass_every: usize| -> Vec<CaseOutcome> {
            (0..400)
                .map(|i| {
                    let passed = i % pass_every == 0;
                    CaseOutcome {
                        key: format!("{i}#0"),
                        passed,
                        score: if passed { 1.0 } else { 0.2 },
                        errored: false,
                        latency_ms: None,
                        tokens: None,
                        cost_usd: None,
                    }
                })
                .collect()
        };
        let good = RunData {
            cases: cases(1),
            ..RunData::default()
        };
        let bad = RunData {
            // Three in four cases newly fail: 75 % worse.
            cases: cases(4),
            ..RunData::default()
        };
        let worse = compare(&bad, &good, &[], &Settings::default());
        assert_eq!(worse.worst, Severity::Critical, "{:?}", worse.quality);
        let score = worse.findings.iter().find(|f| f.name == "score").unwrap();
        assert_eq!(score.direction, Direction::Regression);
        let better = compare(&good, &bad, &[], &Settings::default());
        assert_eq!(better.worst, Severity::None);
        let score = better.findings.iter().find(|f| f.name == "score").unwrap();
        assert_eq!(score.direction, Direction::Improvement);
    }

    #[test]
    fn unchanged_tokens_are_no_change_and_halved_tokens_an_improvement() {
        let mut rng = SplitMix64::new(3);
        let baseline = run(&mut rng, "base", 100, |_| 1.0);
        let mut current = baseline.clone();
        let same = compare(&current, &baseline, &[], &Settings::default());
        assert!(
            same.findings
                .iter()
                .all(|f| f.direction != Direction::Regression)
        );
        for case in &mut current.cases {
            case.tokens = case.tokens.map(|t| t / 2.0);
        }
        let halved = compare(&current, &baseline, &[], &Settings::default());
        let tokens = halved
            .findings
            .iter()
            .find(|f| f.name == "tokens per case")
            .unwrap();
        assert_eq!(tokens.direction, Direction::Improvement);
        assert!((tokens.magnitude - 0.5).abs() < 0.05, "{tokens:?}");
    }
}
