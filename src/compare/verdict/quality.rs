//! The verdict on quality: which shared cases flipped, why each one did,
//! and how much worse the pull request made the suite.
//!
//! Each changed case is attributed to a cause from what the two runs
//! recorded about it: its request's fingerprint, a hash of its assertions,
//! a hash of its output and where the output came from. A changed request,
//! changed scoring or a changed deterministic output is certain: the pull
//! request did it, and every such failure counts in full. A new answer
//! from a model to an unchanged request may be chance; those failures count
//! only beyond what the noise model expects. The severity is the newly
//! failing cases the pull request accounts for, relative to the baseline's
//! passing cases, graded by the bands (10 % minor, 25 % major, 50 %
//! critical). Newly passing cases are improvements: they are reported and
//! never cancel a breakage.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::noise::{self, NoiseTest};
use super::pairing::{Coverage, Pairs};
use super::{Settings, Severity};
use crate::compare::stats::{self, Interval};
use crate::record::AnswerSource;
use crate::store::{CaseKey, CaseOutcome, History, RunData};

/// Why a shared case's outcome (or score) changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// This pull request changed the request (prompt, model, parameters, vars).
    RequestChanged,
    /// Same request and output: the assertions or their threshold changed.
    ScoringChanged,
    /// Same request, a new output from a source that answers the same every
    /// time (replay, echo, a given output): the application's output changed.
    OutputChanged,
    /// Same request, a new answer drawn from a model (or a call that
    /// failed): possibly chance.
    Resampled,
    /// The baseline run kept no fingerprints (an older ai-evals stored it),
    /// so the cause is unknown; judged like a resampled case.
    Unknown,
}

impl Cause {
    /// Whether the pull request certainly caused the change.
    pub fn is_certain(self) -> bool {
        matches!(
            self,
            Cause::RequestChanged | Cause::ScoringChanged | Cause::OutputChanged
        )
    }

    /// "because …", for the report.
    pub fn because(self) -> &'static str {
        match self {
            Cause::RequestChanged => {
                "this PR changed their request (prompt, model, parameters or vars)"
            }
            Cause::ScoringChanged => "this PR changed their assertions or scoring",
            Cause::OutputChanged => {
                "the application's output changed (a deterministic source: replay, echo or a given output)"
            }
            Cause::Resampled => "the model answered an unchanged request anew",
            Cause::Unknown => "the baseline run predates fingerprints, so the cause is unknown",
        }
    }
}

/// A shared case whose outcome flipped, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flip {
    pub key: CaseKey,
    /// Passed on the baseline and fails now (else the other way round).
    pub newly_failing: bool,
    pub cause: Cause,
}

/// How many flips one cause explains, each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CauseCount {
    pub cause: Cause,
    pub newly_failing: usize,
    pub newly_passing: usize,
    /// Cases whose score changed without flipping.
    pub score_changed: usize,
}

/// A case the baseline had and this run has not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemovedCase {
    pub key: CaseKey,
    /// What it got on the baseline.
    pub passed: bool,
}

/// How the quality of the shared cases moved, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityChange {
    pub shared_cases: usize,
    pub baseline_pass_rate: Option<f64>,
    pub current_pass_rate: Option<f64>,
    /// Current − baseline pass rate, with Newcombe's interval.
    pub pass_rate_change: Option<Interval>,
    /// The noise model's p-value for the resampled cases' flips.
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
    /// The cases only the baseline had, with what they got there.
    #[serde(default)]
    pub removed: Vec<RemovedCase>,
    /// Every flipped case with its cause.
    #[serde(default)]
    pub flips: Vec<Flip>,
    /// Flips and score changes by cause.
    #[serde(default)]
    pub causes: Vec<CauseCount>,
    /// The resampled cases against the noise model, when there are any.
    #[serde(default)]
    pub noise: Option<NoiseTest>,
    /// Newly failing cases the pull request accounts for: those with a
    /// certain cause in full, resampled ones beyond the noise. Newly
    /// passing cases do not offset them.
    #[serde(default)]
    pub attributable: f64,
    /// That drop as a fraction of the baseline's passing shared cases,
    /// which the bands grade.
    #[serde(default)]
    pub worse: f64,
    /// Newly failing cases with a certain cause (the pull request changed
    /// their request, their scoring or a deterministic output).
    #[serde(default)]
    pub certain_failing: usize,
    /// Those as a fraction of the baseline's passing shared cases.
    #[serde(default)]
    pub certain_worse: f64,
    /// The shared cases that passed on the baseline: what the drops are
    /// relative to.
    #[serde(default)]
    pub baseline_passing: usize,
    /// How much of the baseline's suite was compared case by case.
    #[serde(default)]
    pub coverage: Coverage,
    /// Why, in plain words.
    #[serde(default)]
    pub explanation: Vec<String>,
}

/// Why `current` differs from `baseline`, from what both recorded.
pub(super) fn cause(baseline: &CaseOutcome, current: &CaseOutcome) -> Cause {
    let (Some(before), Some(after)) = (&baseline.request_hash, &current.request_hash) else {
        return Cause::Unknown;
    };
    if before != after {
        return Cause::RequestChanged;
    }
    if baseline.scoring_hash != current.scoring_hash {
        return Cause::ScoringChanged;
    }
    let deterministic = |c: &CaseOutcome| {
        matches!(
            c.source,
            Some(AnswerSource::Replay | AnswerSource::Echo | AnswerSource::Given)
        )
    };
    // Same request, same scoring and the same output: only the call's
    // latency or cost (which some assertions read) can have moved.
    if baseline.output_hash.is_some() && baseline.output_hash == current.output_hash {
        return Cause::Resampled;
    }
    if deterministic(current) && baseline.source == current.source {
        Cause::OutputChanged
    } else {
        Cause::Resampled
    }
}

/// Whether a pair belongs to the noise model's population: its answer was
/// drawn anew from a model (or its run did not say where it came from),
/// or it flipped for no certain cause. A deterministic source that gave
/// the same answer again cannot flip by chance.
fn drawn_anew(baseline: &CaseOutcome, current: &CaseOutcome) -> bool {
    let model = |c: &CaseOutcome| matches!(c.source, None | Some(AnswerSource::Model));
    !cause(baseline, current).is_certain() && (model(current) || baseline.passed != current.passed)
}

/// Whether the noise model's test can fire: some shared case's answer was
/// drawn anew.
pub(super) fn can_fire(pairs: &[(&CaseOutcome, &CaseOutcome)]) -> bool {
    pairs.iter().any(|(b, c)| drawn_anew(b, c))
}

/// The quality verdict: the change, its severity, and the severity of the
/// part the pull request certainly caused.
pub(super) struct Graded {
    pub(super) quality: QualityChange,
    pub(super) severity: Severity,
    pub(super) certain: Severity,
}

/// The quality change of the paired cases, at the family's level `alpha`.
pub(super) fn assess(
    current: &RunData,
    baseline: &RunData,
    pairs: &Pairs,
    coverage: Coverage,
    history: &History,
    alpha: f64,
    settings: &Settings,
) -> Graded {
    let mut quality = flips_and_rates(current, baseline, pairs, settings.confidence);
    quality.coverage = coverage;
    let resampled: Vec<_> = pairs
        .iter()
        .filter(|(b, c)| drawn_anew(b, c))
        .copied()
        .collect();
    quality.noise = (!resampled.is_empty())
        .then(|| noise::test(&resampled, &history.samples, history.runs.len(), alpha));
    quality.p_value = quality.noise.as_ref().map(|n| n.p_value);
    quality.certain_failing = quality
        .flips
        .iter()
        .filter(|f| f.newly_failing && f.cause.is_certain())
        .count();
    let beyond_noise = quality.noise.as_ref().map_or(0.0, |n| n.beyond_noise);
    quality.attributable = quality.certain_failing as f64 + beyond_noise;
    let baseline_passes = pairs.iter().filter(|(b, _)| b.passed).count();
    quality.baseline_passing = baseline_passes;
    let share = |n: f64| {
        if baseline_passes > 0 {
            n / baseline_passes as f64
        } else {
            0.0
        }
    };
    quality.worse = share(quality.attributable);
    quality.certain_worse = share(quality.certain_failing as f64);
    let grade = |n: f64, worse: f64| {
        if n > 0.0 {
            settings.bands.grade(worse)
        } else {
            Severity::None
        }
    };
    let severity = grade(quality.attributable, quality.worse);
    let certain = grade(quality.certain_failing as f64, quality.certain_worse);
    quality.explanation = explain(&quality);
    Graded {
        quality,
        severity,
        certain,
    }
}

/// The flips, their causes, the lists of keys and the pass rates.
fn flips_and_rates(
    current: &RunData,
    baseline: &RunData,
    pairs: &Pairs,
    confidence: f64,
) -> QualityChange {
    let before: Vec<bool> = pairs.iter().map(|(b, _)| b.passed).collect();
    let after: Vec<bool> = pairs.iter().map(|(_, c)| c.passed).collect();
    let comparison = stats::compare_pass_rates(&before, &after, confidence);
    let keys = |keep: fn(&CaseOutcome, &CaseOutcome) -> bool| -> Vec<String> {
        pairs
            .iter()
            .filter(|(b, c)| keep(b, c))
            .map(|(_, c)| c.key.to_string())
            .collect()
    };
    let flips: Vec<Flip> = pairs
        .iter()
        .filter(|(b, c)| b.passed != c.passed)
        .map(|(b, c)| Flip {
            key: c.key.clone(),
            newly_failing: b.passed,
            cause: cause(b, c),
        })
        .collect();
    QualityChange {
        shared_cases: pairs.len(),
        baseline_pass_rate: comparison.as_ref().map(|c| c.baseline_pass_rate),
        current_pass_rate: comparison.as_ref().map(|c| c.current_pass_rate),
        pass_rate_change: comparison.as_ref().map(|c| c.change),
        newly_failing: keys(|b, c| b.passed && !c.passed),
        newly_passing: keys(|b, c| !b.passed && c.passed),
        new_errors: keys(|b, c| !b.errored && c.errored),
        added_cases: current.cases.len() - pairs.len(),
        removed_cases: baseline.cases.len() - pairs.len(),
        removed: removed_cases(baseline, pairs),
        causes: cause_counts(pairs),
        flips,
        ..QualityChange::default()
    }
}

/// The baseline's cases that found no partner in this run, in key order.
fn removed_cases(baseline: &RunData, pairs: &Pairs) -> Vec<RemovedCase> {
    let paired: HashSet<*const CaseOutcome> = pairs.iter().map(|(b, _)| *b as *const _).collect();
    let mut removed: Vec<RemovedCase> = baseline
        .cases
        .iter()
        .filter(|b| !paired.contains(&(*b as *const _)))
        .map(|b| RemovedCase {
            key: b.key.clone(),
            passed: b.passed,
        })
        .collect();
    removed.sort_by(|a, b| a.key.cmp(&b.key));
    removed
}

/// Flips and score changes counted by cause, in the causes' order.
fn cause_counts(pairs: &[(&CaseOutcome, &CaseOutcome)]) -> Vec<CauseCount> {
    let mut counts: BTreeMap<Cause, CauseCount> = BTreeMap::new();
    for (b, c) in pairs {
        let flipped = b.passed != c.passed;
        if !flipped && b.score == c.score {
            continue;
        }
        let cause = cause(b, c);
        let entry = counts.entry(cause).or_insert(CauseCount {
            cause,
            newly_failing: 0,
            newly_passing: 0,
            score_changed: 0,
        });
        match (flipped, b.passed) {
            (true, true) => entry.newly_failing += 1,
            (true, false) => entry.newly_passing += 1,
            (false, _) => entry.score_changed += 1,
        }
    }
    counts.into_values().collect()
}

/// The quality change in plain words: what flipped and why.
fn explain(quality: &QualityChange) -> Vec<String> {
    let mut lines = Vec::new();
    let failing: usize = quality.causes.iter().map(|c| c.newly_failing).sum();
    let certain: Vec<&CauseCount> = quality
        .causes
        .iter()
        .filter(|c| c.cause.is_certain() && c.newly_failing > 0)
        .collect();
    let certain_failing: usize = certain.iter().map(|c| c.newly_failing).sum();
    if certain_failing > 0 {
        let parts: Vec<String> = certain
            .iter()
            .map(|c| {
                let all = if c.newly_failing == failing && failing > 1 {
                    format!("all {}", c.newly_failing)
                } else {
                    c.newly_failing.to_string()
                };
                format!("{all} because {}", c.cause.because())
            })
            .collect();
        lines.push(format!(
            "{failing} {} newly failing: {}.",
            cases(failing),
            parts.join("; ")
        ));
    }
    let certain_passing: usize = quality
        .causes
        .iter()
        .filter(|c| c.cause.is_certain())
        .map(|c| c.newly_passing)
        .sum();
    if certain_passing > 0 {
        lines.push(format!(
            "{certain_passing} {} newly passing because of this PR's changes: improvements, which never offset a failure.",
            cases(certain_passing)
        ));
    }
    if let Some(noise) = &quality.noise {
        lines.extend(explain_noise(noise));
    }
    lines.extend(explain_coverage(&quality.coverage));
    lines
}

/// Says loudly when the case-by-case comparison covered only part of the
/// baseline's suite.
fn explain_coverage(coverage: &Coverage) -> Option<String> {
    if coverage.is_full() {
        return None;
    }
    let missing = coverage.baseline_cases - coverage.paired;
    Some(format!(
        "Only {} of the baseline's {} cases were compared case by case ({:.0}%): {missing} have no partner in this run (their ids changed, or they were removed); the suite's pass rate over all cases judges the rest.",
        coverage.paired,
        coverage.baseline_cases,
        100.0 * coverage.share()
    ))
}

/// The resampled cases' flips against the noise model, in plain words.
fn explain_noise(noise: &NoiseTest) -> Option<String> {
    let flipped = noise.newly_failing + noise.newly_passing;
    if flipped == 0 {
        return None;
    }
    let what = format!(
        "{flipped} {} flipped on unchanged requests ({} newly failing, {} newly passing)",
        cases(flipped),
        noise.newly_failing,
        noise.newly_passing
    );
    let basis = if noise.method == "history" {
        format!(
            "main's usual flakiness ({} {}, {} fresh answers)",
            noise.history_runs,
            if noise.history_runs == 1 {
                "run"
            } else {
                "runs"
            },
            noise.samples
        )
    } else {
        "chance, judged by McNemar's test: main has no fresh answers on record to learn its flakiness from".into()
    };
    Some(if noise.beyond_noise > 0.0 {
        format!(
            "{what}: {:.0} more newly failing than {basis} explains (p {}); the model's answers changed, not this PR's requests.",
            noise.beyond_noise,
            p_text(noise.p_value)
        )
    } else {
        format!("{what}, within {basis}.")
    })
}

/// "= 0.012" or "< 0.001".
fn p_text(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("= {p:.3}")
    }
}

fn cases(n: usize) -> &'static str {
    if n == 1 { "case" } else { "cases" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::stats::SplitMix64;
    use crate::compare::verdict::{Comparison, Settings, compare};
    use crate::store::{CaseSamples, HistoryRun};

    /// A case as a run recorded it; `request`, `output` and `scoring` stand
    /// for the hashes.
    fn case(
        id: &str,
        passed: bool,
        request: &str,
        output: &str,
        source: AnswerSource,
    ) -> CaseOutcome {
        CaseOutcome {
            key: CaseKey {
                id: id.into(),
                repeat: 0,
                variant: None,
            },
            passed,
            score: if passed { 1.0 } else { 0.0 },
            request_hash: Some(request.into()),
            scoring_hash: Some("scoring".into()),
            output_hash: Some(output.into()),
            source: Some(source),
            ..CaseOutcome::default()
        }
    }

    fn run(id: &str, cases: Vec<CaseOutcome>) -> RunData {
        RunData {
            run_id: id.into(),
            cases,
            ..RunData::default()
        }
    }

    #[test]
    fn each_change_is_attributed_to_its_cause() {
        let base = case("a", true, "r", "o", AnswerSource::Model);
        let mut now = base.clone();
        now.passed = false;
        now.request_hash = Some("r2".into());
        assert_eq!(cause(&base, &now), Cause::RequestChanged);
        let mut now = base.clone();
        now.scoring_hash = Some("other".into());
        assert_eq!(cause(&base, &now), Cause::ScoringChanged);
        let mut now = base.clone();
        now.output_hash = Some("o2".into());
        assert_eq!(cause(&base, &now), Cause::Resampled);
        for source in [
            AnswerSource::Replay,
            AnswerSource::Echo,
            AnswerSource::Given,
        ] {
            let base = case("a", true, "r", "o", source);
            let mut now = base.clone();
            now.output_hash = Some("o2".into());
            assert_eq!(cause(&base, &now), Cause::OutputChanged, "{source:?}");
        }
        // Same request, scoring and output: a latency or cost assertion moved.
        assert_eq!(cause(&base, &base.clone()), Cause::Resampled);
        let old = CaseOutcome {
            request_hash: None,
            ..base.clone()
        };
        assert_eq!(cause(&old, &base), Cause::Unknown);
    }

    /// A 20-case replay suite whose baseline passes every case, with `n` of
    /// them failing now because the logged outputs changed.
    fn replay_suite(failing: usize) -> Comparison {
        let baseline: Vec<CaseOutcome> = (0..20)
            .map(|i| {
                case(
                    &format!("c{i}"),
                    true,
                    &format!("r{i}"),
                    "good",
                    AnswerSource::Replay,
                )
            })
            .collect();
        let current = baseline
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < failing {
                    CaseOutcome {
                        passed: false,
                        score: 0.0,
                        output_hash: Some("bad".into()),
                        ..c.clone()
                    }
                } else {
                    c.clone()
                }
            })
            .collect();
        compare(
            &run("pr", current),
            &run("base", baseline),
            &History::default(),
            &Settings::default(),
        )
    }

    #[test]
    fn certain_flips_count_in_full_against_the_bands() {
        // A band's edge belongs to it: 2 of 20 is minor, 5 major, 10 critical.
        for (failing, severity) in [
            (1, Severity::None),
            (2, Severity::Minor),
            (4, Severity::Minor),
            (5, Severity::Major),
            (9, Severity::Major),
            (10, Severity::Critical),
            (11, Severity::Critical),
        ] {
            let c = replay_suite(failing);
            assert_eq!(
                c.quality_severity, severity,
                "{failing} failing: {:?}",
                c.quality
            );
            assert_eq!(c.quality.attributable, failing as f64);
            assert_eq!(c.certain_severity, severity);
            assert!(c.quality.noise.is_none(), "no case was resampled");
            assert_eq!(
                c.family.tests, 2,
                "only the score and the suite's pass rate can fire: {:?}",
                c.family
            );
            let why = &c.quality.explanation[0];
            let expected = if failing == 1 {
                "1 case newly failing: 1 because the application's output changed".to_string()
            } else {
                format!(
                    "{failing} cases newly failing: all {failing} because the application's output changed"
                )
            };
            assert!(why.starts_with(&expected), "{why}");
        }
    }

    #[test]
    fn a_changed_request_is_named_as_the_cause() {
        let baseline: Vec<CaseOutcome> = (0..20)
            .map(|i| {
                case(
                    &format!("c{i}"),
                    true,
                    &format!("r{i}"),
                    &format!("o{i}"),
                    AnswerSource::Model,
                )
            })
            .collect();
        let mut current = baseline.clone();
        for c in &mut current[..5] {
            c.request_hash = Some(format!("new-{}", c.key.id));
            c.output_hash = Some("other".into());
            c.passed = false;
        }
        let c = compare(
            &run("pr", current),
            &run("base", baseline),
            &History::default(),
            &Settings::default(),
        );
        assert_eq!(c.quality.flips.len(), 5);
        assert!(
            c.quality
                .flips
                .iter()
                .all(|f| f.cause == Cause::RequestChanged)
        );
        assert_eq!(
            c.quality.explanation[0],
            "5 cases newly failing: all 5 because this PR changed their request (prompt, model, parameters or vars)."
        );
        // 5 of 20 is 25 %: the major band's edge.
        assert_eq!(c.quality_severity, Severity::Major);
    }

    #[test]
    fn ids_with_a_hash_sign_pair_with_their_own_case() {
        let a = case("a#1", true, "r1", "o", AnswerSource::Replay);
        let mut b = case("a", false, "r2", "o", AnswerSource::Replay);
        b.key.repeat = 1;
        let c = compare(
            &run("pr", vec![a.clone(), b.clone()]),
            &run("base", vec![a, b]),
            &History::default(),
            &Settings::default(),
        );
        assert_eq!(c.quality.shared_cases, 2);
        assert_eq!(c.quality.added_cases + c.quality.removed_cases, 0);
    }

    #[test]
    fn removed_cases_are_listed_with_their_baseline_outcome() {
        let keep = case("keep", true, "r", "o", AnswerSource::Replay);
        let gone = case("gone", false, "r", "o", AnswerSource::Replay);
        let c = compare(
            &run("pr", vec![keep.clone()]),
            &run("base", vec![keep, gone]),
            &History::default(),
            &Settings::default(),
        );
        assert_eq!(
            c.quality.removed,
            [RemovedCase {
                key: CaseKey {
                    id: "gone".into(),
                    repeat: 0,
                    variant: None,
                },
                passed: false
            }]
        );
    }

    /// Issue 21's first row: 40 replayed cases, 30 passing on the baseline;
    /// the pull request fixes the 10 failing ones and breaks 10 others.
    #[test]
    fn fixes_never_cancel_breakages() {
        let baseline: Vec<CaseOutcome> = (0..40)
            .map(|i| {
                let mut c = case(
                    &format!("c{i}"),
                    i >= 10,
                    &format!("r{i}"),
                    "a",
                    AnswerSource::Replay,
                );
                c.score = if c.passed { 1.0 } else { 0.0 };
                c
            })
            .collect();
        let current: Vec<CaseOutcome> = baseline
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let flip = i < 20;
                CaseOutcome {
                    passed: if flip { !c.passed } else { c.passed },
                    score: if flip == c.passed { 0.0 } else { 1.0 },
                    output_hash: Some(if flip { "b".into() } else { "a".into() }),
                    ..c.clone()
                }
            })
            .collect();
        let c = compare(
            &run("pr", current),
            &run("base", baseline),
            &History::default(),
            &Settings::default(),
        );
        let q = &c.quality;
        assert_eq!((q.newly_failing.len(), q.newly_passing.len()), (10, 10));
        assert_eq!(
            q.baseline_pass_rate, q.current_pass_rate,
            "the rates net out"
        );
        assert_eq!((q.certain_failing, q.baseline_passing), (10, 30));
        assert!((q.worse - 1.0 / 3.0).abs() < 1e-12, "{q:?}");
        assert_eq!(c.quality_severity, Severity::Major);
        assert_eq!(c.certain_severity, Severity::Major);
        assert!(
            q.explanation
                .iter()
                .any(|l| l.contains("improvements, which never offset a failure")),
            "{:?}",
            q.explanation
        );
    }

    /// A run of `cases` model-answered cases, each passing with probability
    /// `p`, and a history of `runs` runs that answered every case afresh
    /// with probability `history_p`.
    fn stochastic(rng: &mut SplitMix64, id: &str, cases: usize, p: f64) -> RunData {
        let cases = (0..cases)
            .map(|i| {
                let passed = rng.next_f64() < p;
                case(
                    &format!("c{i}"),
                    passed,
                    &format!("r{i}"),
                    &format!("{:x}", rng.next_u64()),
                    AnswerSource::Model,
                )
            })
            .collect();
        run(id, cases)
    }

    fn stochastic_history(rng: &mut SplitMix64, cases: usize, runs: u32, p: f64) -> History {
        let samples = (0..cases)
            .map(|i| CaseSamples {
                key: CaseKey {
                    id: format!("c{i}"),
                    repeat: 0,
                    variant: None,
                },
                request_hash: format!("r{i}"),
                samples: runs,
                passes: (0..runs).filter(|_| rng.next_f64() < p).count() as u32,
            })
            .collect();
        History {
            runs: vec![HistoryRun::default(); runs as usize],
            samples,
        }
    }

    /// The stochastic suite of issue 13: a model right 80 % of the time, no
    /// cache, a 10-run history. Same-distribution pairs rarely alarm; a
    /// drop to 60 % on 200 cases is found nearly every time.
    #[test]
    fn the_noise_model_keeps_false_alarms_rare_and_finds_real_drops() {
        let trials = 200;
        let (mut false_alarms, mut found) = (0, 0);
        for seed in 0..trials {
            let mut rng = SplitMix64::new(90_000 + seed);
            let history = stochastic_history(&mut rng, 200, 10, 0.8);
            let baseline = stochastic(&mut rng, "base", 200, 0.8);
            let same = stochastic(&mut rng, "same", 200, 0.8);
            let worse = stochastic(&mut rng, "worse", 200, 0.6);
            let settings = Settings::default();
            if compare(&same, &baseline, &history, &settings).worst > Severity::None {
                false_alarms += 1;
            }
            if compare(&worse, &baseline, &history, &settings).quality_severity > Severity::None {
                found += 1;
            }
        }
        eprintln!(
            "stochastic suite (p = 0.8, 200 cases, 10-run history, {trials} trials): \
             false alarms {false_alarms} ({:.1} %), drop to 0.6 found {found} ({:.1} %)",
            100.0 * false_alarms as f64 / trials as f64,
            100.0 * found as f64 / trials as f64
        );
        assert!(
            false_alarms as f64 <= 0.05 * trials as f64,
            "{false_alarms}"
        );
        assert!(found as f64 >= 0.95 * trials as f64, "{found}");
    }

    #[test]
    fn flips_within_the_noise_are_explained_and_not_counted() {
        let mut rng = SplitMix64::new(4);
        let history = stochastic_history(&mut rng, 200, 30, 0.8);
        let baseline = stochastic(&mut rng, "base", 200, 0.8);
        let current = stochastic(&mut rng, "pr", 200, 0.8);
        let c = compare(&current, &baseline, &history, &Settings::default());
        let noise = c.quality.noise.as_ref().unwrap();
        assert_eq!(noise.method, "history");
        assert_eq!(noise.beyond_noise, 0.0, "{noise:?}");
        assert_eq!(c.quality_severity, Severity::None);
        let line = c.quality.explanation.last().unwrap();
        assert!(
            line.contains("within main's usual flakiness (30 runs"),
            "{line}"
        );
    }

    #[test]
    fn a_case_that_always_passes_on_main_makes_a_failure_unlikely_chance() {
        // Every case passed all 20 fresh answers on main: 15 failing now
        // is far beyond chance, though flips both ways would be symmetric.
        let mut rng = SplitMix64::new(8);
        let history = stochastic_history(&mut rng, 100, 20, 1.0);
        let baseline = stochastic(&mut rng, "base", 100, 1.0);
        let mut current = baseline.clone();
        for c in &mut current.cases[..15] {
            c.passed = false;
            c.output_hash = Some("new".into());
        }
        let c = compare(&current, &baseline, &history, &Settings::default());
        let noise = c.quality.noise.as_ref().unwrap();
        assert!(noise.p_value < 1e-6, "{noise:?}");
        assert!(noise.beyond_noise > 14.0, "{noise:?}");
        assert_eq!(c.quality_severity, Severity::Minor);
    }
}
