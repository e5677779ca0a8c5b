//! Reading the monitor's figures: which component is the bottleneck and
//! why, and how the run fares against its performance targets.
//!
//! Pure: timings and metrics in, findings out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Targets;
use crate::record::Timing;

/// How much a bottleneck matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Critical,
}

/// A component that holds the run back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bottleneck {
    pub component: String,
    pub level: Level,
    pub duration_ms: f64,
    /// Share of the run's wall time, in percent (components overlap, so
    /// shares may add up to more than 100).
    pub percent: f64,
    pub impact: String,
    pub recommendation: String,
}

/// The components worth acting on, worst first: critical above
/// `critical_ms` or `critical_percent` of the run, warning above half of
/// either, and the largest component as info when nothing else stands out.
pub fn identify_bottlenecks(
    timings: &[Timing],
    metrics: &BTreeMap<String, f64>,
    critical_ms: f64,
    critical_percent: f64,
) -> Vec<Bottleneck> {
    let Some(total) = timings
        .iter()
        .find(|t| t.component == "total")
        .map(|t| t.duration_ms)
        .filter(|t| *t > 0.0)
    else {
        return Vec::new();
    };
    let mut found: Vec<Bottleneck> = timings
        .iter()
        .filter(|t| t.component != "total" && t.duration_ms > 0.0)
        // A scorer is reported on its own; its parent only when it has
        // time of its own beyond its children.
        .filter(|t| {
            t.component != "scoring"
                || !timings
                    .iter()
                    .any(|c| c.parent.as_deref() == Some("scoring"))
        })
        .map(|t| {
            let percent = 100.0 * t.duration_ms / total;
            let level = if t.duration_ms > critical_ms || percent > critical_percent {
                Level::Critical
            } else if t.duration_ms > critical_ms / 2.0 || percent > critical_percent / 2.0 {
                Level::Warning
            } else {
                Level::Info
            };
            Bottleneck {
                component: t.component.clone(),
                level,
                duration_ms: t.duration_ms,
                percent,
                impact: impact(t, percent),
                recommendation: if level == Level::Info {
                    "nothing to act on: no component is near the bottleneck thresholds".into()
                } else {
                    recommend(&t.component, t.duration_ms, metrics)
                },
            }
        })
        .collect();
    found.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.duration_ms.total_cmp(&a.duration_ms))
    });
    if found.iter().any(|b| b.level > Level::Info) {
        found.retain(|b| b.level > Level::Info);
    } else {
        found.truncate(1);
    }
    found
}

fn impact(timing: &Timing, percent: f64) -> String {
    let per_call = timing
        .calls
        .filter(|c| *c > 0)
        .map(|c| {
            format!(
                ", {} per call over {c} calls",
                ms(timing.duration_ms / c as f64)
            )
        })
        .unwrap_or_default();
    format!(
        "{} took {}, {:.0}% of the run{per_call}",
        timing.component,
        ms(timing.duration_ms),
        percent
    )
}

/// A recommendation that fits the cause the metrics point to.
fn recommend(component: &str, duration_ms: f64, metrics: &BTreeMap<String, f64>) -> String {
    let sum = |prefix: &str| -> f64 {
        metrics
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    };
    match component {
        "execution" => {
            let throttled = sum("throttle_wait_ms/");
            let hits = sum("cache_hits") + sum("cache_shared");
            let lookups = hits + sum("cache_misses");
            if throttled > 0.3 * duration_ms {
                throttled_advice(metrics)
            } else if lookups > 0.0 && hits / lookups < 0.5 {
                format!(
                    "the cache answered only {:.0}% of the calls: restore the cache folder between runs (actions/cache) so unchanged cases cost nothing",
                    100.0 * hits / lookups
                )
            } else if sum("retries/") > 0.0 {
                format!(
                    "the provider needed {:.0} retries: check its status, or lower concurrency",
                    sum("retries/")
                )
            } else {
                "the run waits on the provider: raise concurrency within the rate limit, or use a faster model".into()
            }
        }
        "scoring/similar" => "embedding calls dominate scoring: keep the embedding cache between runs, or use a cheaper check (contains, levenshtein) where meaning-level similarity is not needed".into(),
        "scoring/llm-judge" => "judge calls dominate scoring: keep the response cache between runs, use a smaller judge model, or grade fewer cases with llm-judge".into(),
        c if c.starts_with("scoring/") => format!(
            "the {} scorer is slow: simplify its pattern or schema, or use a cheaper assertion",
            &c["scoring/".len()..]
        ),
        "scoring" => "scoring is slow: look at the per-scorer timings".into(),
        "dataset_loading" => "reading the datasets is slow: prefer JSONL to one large JSON array, and keep dataset files on a local disk".into(),
        "storing" => "writing to DuckDB is slow: raise the batch size, and keep the database on a local disk".into(),
        "report" => "rendering the report is slow: fewer failures shown, or a smaller history in the report".into(),
        _ => "look at this component's timings".into(),
    }
}

/// What throttled requests waited for and what to change: the provider
/// pushing back means a budget above what it allows (the throttle account
/// names the setting); the budgets alone mean the run went at the pace it
/// was told or learned, which only a higher tier makes faster.
fn throttled_advice(metrics: &BTreeMap<String, f64>) -> String {
    let throttle = crate::report::throttle::from_metrics(metrics);
    let mut text = format!(
        "requests waited {} on the budgets' pace (expected) and {} because the provider pushed back ({} 429 answers)",
        ms(throttle.budget_ms),
        ms(throttle.provider_ms),
        throttle.rate_limited
    );
    if !throttle.lanes.is_empty() {
        text.push_str(&format!(" [{}]", throttle.lanes.join("; ")));
    }
    if throttle.advice.is_empty() {
        text.push_str(": to go faster, raise the provider tier and the rpm/tpm budgets to what the account allows");
    } else {
        text.push_str(&format!(": {}", throttle.advice.join("; ")));
    }
    text
}

/// How a figure compares with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    Excellent,
    Acceptable,
    Poor,
}

/// One row of the performance-targets table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    pub name: String,
    pub value: f64,
    pub target: f64,
    pub unit: String,
    /// `true` when the figure must stay below the target (a time), `false`
    /// when above (a hit rate).
    pub lower_is_better: bool,
    pub grade: Grade,
}

/// Grades a figure: excellent within half the target (or, for a rate,
/// beyond it by half the remaining way), acceptable within it, else poor.
fn grade(value: f64, target: f64, lower_is_better: bool) -> Grade {
    if lower_is_better {
        if value <= target / 2.0 {
            Grade::Excellent
        } else if value <= target {
            Grade::Acceptable
        } else {
            Grade::Poor
        }
    } else if value >= target + (1.0 - target) / 2.0 {
        Grade::Excellent
    } else if value >= target {
        Grade::Acceptable
    } else {
        Grade::Poor
    }
}

/// The exact-match assertion types, graded against one target.
const EXACT: &[&str] = &[
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "starts-with",
    "regex",
];

/// Grades each figure the run produced against its target; a figure the
/// run did not produce (no judge, no cache) is left out.
pub fn check_targets(
    timings: &[Timing],
    metrics: &BTreeMap<String, f64>,
    targets: &Targets,
) -> Vec<TargetCheck> {
    let per_call = |names: &[&str]| -> Option<f64> {
        let (busy, calls) = timings
            .iter()
            .filter(|t| names.contains(&t.component.as_str()))
            .fold((0.0, 0u64), |(b, c), t| {
                (b + t.duration_ms, c + t.calls.unwrap_or(0))
            });
        (calls > 0).then(|| busy / calls as f64)
    };
    let whole = |name: &str| {
        timings
            .iter()
            .find(|t| t.component == name)
            .map(|t| t.duration_ms)
    };
    let exact: Vec<String> = EXACT.iter().map(|t| format!("scoring/{t}")).collect();
    let exact: Vec<&str> = exact.iter().map(String::as_str).collect();
    let metric = |name: &str| metrics.get(name).copied();
    let t = targets;
    #[rustfmt::skip] // one figure a line: the table reads as the report shows it
    let figures = [
        ("dataset loading", whole("dataset_loading"), t.dataset_loading_ms, "ms"),
        ("execution per case", metric("latency_mean_ms"), t.execution_ms_per_case, "ms"),
        ("exact-match scoring", per_call(&exact), t.exact_match_ms, "ms"),
        ("semantic scoring", per_call(&["scoring/similar"]), t.semantic_ms, "ms"),
        ("LLM judge", per_call(&["scoring/llm-judge"]), t.judge_ms, "ms"),
        ("report", whole("report"), t.report_ms, "ms"),
        ("cache hit rate", metric("cache_hit_rate"), t.cache_hit_rate, "ratio"),
        ("memory (peak RSS)", metric("peak_rss_mb"), t.memory_mb, "MB"),
    ];
    figures
        .into_iter()
        .filter_map(|(name, value, target, unit)| {
            // A rate is better higher; every other figure is a cost.
            let lower_is_better = unit != "ratio";
            value.map(|value| TargetCheck {
                name: name.into(),
                value,
                target,
                unit: unit.into(),
                lower_is_better,
                grade: grade(value, target, lower_is_better),
            })
        })
        .collect()
}

/// The process's peak resident memory so far, in MB.
pub fn peak_rss_mb() -> Option<f64> {
    // SAFETY: getrusage writes into the zeroed struct we pass it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0;
    // Linux reports ru_maxrss in KiB, macOS in bytes.
    let kib = if cfg!(target_os = "macos") {
        usage.ru_maxrss as f64 / 1024.0
    } else {
        usage.ru_maxrss as f64
    };
    ok.then(|| kib / 1024.0)
}

fn ms(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.1} s", value / 1000.0)
    } else if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.2} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(component: &str, parent: Option<&str>, ms: f64, calls: Option<u64>) -> Timing {
        Timing {
            component: component.into(),
            parent: parent.map(str::to_string),
            duration_ms: ms,
            calls,
        }
    }

    fn run(execution_ms: f64, judge_ms: f64) -> Vec<Timing> {
        vec![
            timing("total", None, 10_000.0, None),
            timing("dataset_loading", Some("total"), 20.0, Some(0)),
            timing("execution", Some("total"), execution_ms, Some(0)),
            timing("scoring", Some("total"), judge_ms + 5.0, Some(100)),
            timing("scoring/equals", Some("scoring"), 5.0, Some(100)),
            timing("scoring/llm-judge", Some("scoring"), judge_ms, Some(100)),
            timing("storing", Some("total"), 30.0, Some(2)),
        ]
    }

    #[test]
    fn throttled_execution_tells_pushback_from_pace() {
        let metrics = BTreeMap::from([
            ("throttle_wait_ms/openai/requests".to_string(), 6000.0),
            ("rate_limited/openai".to_string(), 3.0),
        ]);
        let found = identify_bottlenecks(&run(9000.0, 100.0), &metrics, 30_000.0, 50.0);
        assert_eq!(found[0].component, "execution");
        assert_eq!(found[0].level, Level::Critical);
        assert!(found[0].recommendation.contains("3 429"), "{found:?}");
        let paced = BTreeMap::from([
            ("throttle_wait_ms/openai/requests".to_string(), 6000.0),
            ("budget_rpm/openai".to_string(), 500.0),
        ]);
        let found = identify_bottlenecks(&run(9000.0, 100.0), &paced, 30_000.0, 50.0);
        assert!(found[0].recommendation.contains("tier"), "{found:?}");
        assert!(
            found[0].recommendation.contains("told 500 rpm"),
            "{found:?}"
        );
        assert!(found[0].impact.contains("90%"), "{found:?}");
    }

    #[test]
    fn a_cold_cache_recommends_restoring_it() {
        let metrics = BTreeMap::from([
            ("cache_hits".to_string(), 5.0),
            ("cache_misses".to_string(), 95.0),
        ]);
        let found = identify_bottlenecks(&run(9000.0, 100.0), &metrics, 30_000.0, 50.0);
        assert!(
            found[0].recommendation.contains("actions/cache"),
            "{found:?}"
        );
    }

    #[test]
    fn a_slow_judge_is_named_and_its_parent_is_not() {
        let found = identify_bottlenecks(&run(1000.0, 6000.0), &BTreeMap::new(), 30_000.0, 50.0);
        assert_eq!(found[0].component, "scoring/llm-judge");
        assert_eq!(found[0].level, Level::Critical);
        assert!(found[0].recommendation.contains("judge"));
        assert!(found.iter().all(|b| b.component != "scoring"));
    }

    #[test]
    fn a_quick_run_reports_only_its_largest_component() {
        let found = identify_bottlenecks(&run(1000.0, 10.0), &BTreeMap::new(), 30_000.0, 50.0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].component, "execution");
        assert_eq!(found[0].level, Level::Info);
    }

    #[test]
    fn targets_are_graded_and_missing_figures_left_out() {
        let metrics = BTreeMap::from([
            ("cache_hit_rate".to_string(), 0.8),
            ("peak_rss_mb".to_string(), 600.0),
            ("latency_mean_ms".to_string(), 1500.0),
        ]);
        let checks = check_targets(&run(1000.0, 6000.0), &metrics, &Targets::default());
        let grade_of = |name: &str| checks.iter().find(|c| c.name == name).map(|c| c.grade);
        assert_eq!(grade_of("exact-match scoring"), Some(Grade::Excellent));
        assert_eq!(grade_of("LLM judge"), Some(Grade::Excellent));
        assert_eq!(grade_of("execution per case"), Some(Grade::Acceptable));
        assert_eq!(grade_of("cache hit rate"), Some(Grade::Acceptable));
        assert_eq!(grade_of("memory (peak RSS)"), Some(Grade::Poor));
        assert_eq!(grade_of("semantic scoring"), None);
        assert_eq!(grade_of("report"), None);
    }
}
