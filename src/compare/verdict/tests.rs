//! The verdicts on synthetic runs: false alarms, injected regressions,
//! floors, short histories and the gate's rules.

use super::*;
use crate::compare::stats::SplitMix64;
use crate::config::{FailOn, Gate};
use crate::store::{CaseKey, CaseOutcome, HistoryRun};

fn key(id: &str) -> CaseKey {
    CaseKey {
        id: id.into(),
        repeat: 0,
        variant: None,
    }
}

fn history_of(runs: Vec<HistoryRun>) -> History {
    History {
        runs,
        samples: Vec::new(),
    }
}
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
                key: key(&format!("case-{i}#0")),
                passed,
                score: if passed { 1.0 } else { 0.0 },
                errored: false,
                latency_ms: Some(typical * run_factor * (0.25 * normal(rng)).exp() * slow(i)),
                tokens: Some(tokens),
                cost_usd: Some(tokens * 1e-6),
                ..CaseOutcome::default()
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
        let comparison = compare(&current, &baseline, &history_of(past), &settings);
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
        let comparison = compare(&current, &baseline, &history_of(past), &settings);
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

/// Issue 21: nothing changed but the runner, which is 2–3× slower:
/// every stage timing regresses, and none of them may fail the gate
/// unless `gate-on-timings` names the stages.
#[test]
fn a_slower_runner_is_advisory_unless_stages_gate() {
    let mut rng = SplitMix64::new(21);
    let past = history(&mut rng, 30);
    let baseline = run(&mut rng, "base", 300, |_| 1.0);
    let mut current = run(&mut rng, "pr", 300, |_| 1.0);
    for (i, value) in current.timings.values_mut().enumerate() {
        *value *= 2.0 + (i % 3) as f64 / 2.0;
    }
    let settings = Settings {
        resamples: 300,
        ..Settings::default()
    };
    let comparison = compare(&current, &baseline, &history_of(past.clone()), &settings);
    let stages: Vec<&Finding> = comparison
        .findings
        .iter()
        .filter(|f| f.name.starts_with("timing "))
        .collect();
    assert!(!stages.is_empty());
    for f in &stages {
        assert_eq!(f.direction, Direction::Regression, "{f:?}");
        assert_eq!(f.role, Role::Advisory, "{f:?}");
    }
    assert_eq!(comparison.worst, Severity::None);
    assert_eq!(comparison.regressions().count(), 0);
    let gate = Gate::new(
        &CompareConfig::default(),
        crate::config::GateFlags::default(),
    );
    assert!(gate_reasons(&comparison, &gate).is_empty());
    let strict = Settings {
        gate_on_timings: vec![TimingGate::Latency, TimingGate::Stages],
        ..settings
    };
    let gated = compare(&current, &baseline, &history_of(past), &strict);
    assert_eq!(gated.worst, Severity::Critical);
    assert!(gated.family.tests > comparison.family.tests);
}

/// Five times slower at a millisecond (a replayed answer, a tiny
/// stage) is a busy runner, not a regression; at `timing-floor-ms = 0`
/// the same runs are one.
#[test]
fn changes_under_the_floor_in_ms_are_no_change() {
    let mut rng = SplitMix64::new(11);
    let mut past = history(&mut rng, 30);
    for run in &mut past {
        for (_, value) in run.metrics.iter_mut() {
            *value /= 300.0;
        }
        let tiny = 1.0 + 0.05 * normal(&mut rng);
        run.timings.insert("tiny".into(), tiny);
    }
    let scaled = |mut data: RunData, factor: f64| {
        for case in &mut data.cases {
            case.latency_ms = case.latency_ms.map(|l| l * factor / 300.0);
        }
        data.timings.insert("tiny".into(), factor);
        data
    };
    let baseline = scaled(run(&mut rng, "base", 300, |_| 1.0), 1.0);
    let current = scaled(run(&mut rng, "pr", 300, |_| 1.0), 5.0);
    let verdicts = |floor_ms: f64| {
        let settings = Settings {
            timing_floor_ms: floor_ms,
            resamples: 300,
            ..Settings::default()
        };
        let comparison = compare(&current, &baseline, &history_of(past.clone()), &settings);
        ["latency (typical case)", "latency (p95)", "timing tiny"].map(|name| {
            let finding = comparison.findings.iter().find(|f| f.name == name).unwrap();
            (finding.direction, finding.severity)
        })
    };
    assert_eq!(verdicts(20.0), [(Direction::NoChange, Severity::None); 3]);
    assert_eq!(
        verdicts(0.0),
        [(Direction::Regression, Severity::Critical); 3]
    );
}

#[test]
fn short_history_is_insufficient_never_an_alarm() {
    let mut rng = SplitMix64::new(7);
    let past = history(&mut rng, 4);
    let baseline = run(&mut rng, "base", 50, |_| 1.0);
    let mut current = run(&mut rng, "pr", 50, |_| 1.0);
    current.timings.insert("scoring".into(), 10_000.0);
    let comparison = compare(
        &current,
        &baseline,
        &history_of(past.clone()),
        &Settings::default(),
    );
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
    let comparison = compare(&slower, &baseline, &history_of(past), &Settings::default());
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
        key: self::key(key),
        passed,
        score: if passed { 1.0 } else { 0.0 },
        errored,
        latency_ms: Some(100.0),
        tokens: Some(10.0),
        cost_usd: None,
        ..CaseOutcome::default()
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
    let comparison = compare(
        &current,
        &baseline,
        &History::default(),
        &Settings::default(),
    );
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
                    key: key(&format!("{i}#0")),
                    passed,
                    score: if passed { 1.0 } else { 0.2 },
                    errored: false,
                    latency_ms: None,
                    tokens: None,
                    cost_usd: None,
                    ..CaseOutcome::default()
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
    let worse = compare(&bad, &good, &History::default(), &Settings::default());
    assert_eq!(worse.worst, Severity::Critical, "{:?}", worse.quality);
    let score = worse.findings.iter().find(|f| f.name == "score").unwrap();
    assert_eq!(score.direction, Direction::Regression);
    let better = compare(&good, &bad, &History::default(), &Settings::default());
    assert_eq!(better.worst, Severity::None);
    let score = better.findings.iter().find(|f| f.name == "score").unwrap();
    assert_eq!(score.direction, Direction::Improvement);
}

#[test]
fn unchanged_tokens_are_no_change_and_halved_tokens_an_improvement() {
    let mut rng = SplitMix64::new(3);
    let baseline = run(&mut rng, "base", 100, |_| 1.0);
    let mut current = baseline.clone();
    let same = compare(
        &current,
        &baseline,
        &History::default(),
        &Settings::default(),
    );
    assert!(
        same.findings
            .iter()
            .all(|f| f.direction != Direction::Regression)
    );
    for case in &mut current.cases {
        case.tokens = case.tokens.map(|t| t / 2.0);
    }
    let halved = compare(
        &current,
        &baseline,
        &History::default(),
        &Settings::default(),
    );
    let tokens = halved
        .findings
        .iter()
        .find(|f| f.name == "tokens per case")
        .unwrap();
    assert_eq!(tokens.direction, Direction::Improvement);
    assert!((tokens.magnitude - 0.5).abs() < 0.05, "{tokens:?}");
}

#[test]
fn partners_pair_as_the_verdicts_do_and_keep_every_case() {
    let case = |id: &str, passed: bool, request: &str| CaseOutcome {
        key: key(id),
        passed,
        score: if passed { 1.0 } else { 0.0 },
        request_hash: Some(request.into()),
        scoring_hash: Some("s".into()),
        ..CaseOutcome::default()
    };
    let baseline = RunData {
        cases: vec![
            case("c", true, "r"),
            case("a", true, "r"),
            case("b", true, "r"),
        ],
        ..RunData::default()
    };
    let current = RunData {
        cases: vec![
            case("d", true, "r"),
            case("b", false, "changed"),
            case("a", true, "r"),
        ],
        ..RunData::default()
    };
    let all = partners(&current, &baseline);
    let seen: Vec<(&str, bool, bool, Option<Cause>)> = all
        .iter()
        .map(|p| {
            (
                p.key().id.as_str(),
                p.current.is_some(),
                p.baseline.is_some(),
                p.cause(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("a", true, true, None),
            ("b", true, true, Some(Cause::RequestChanged)),
            ("c", false, true, None),
            ("d", true, false, None),
        ]
    );
    let flips = compare(
        &current,
        &baseline,
        &History::default(),
        &Settings::default(),
    )
    .quality
    .flips;
    assert_eq!(flips.len(), 1);
    assert_eq!(
        (flips[0].key.id.as_str(), flips[0].cause),
        ("b", Cause::RequestChanged)
    );
}
