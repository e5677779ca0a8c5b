//! The running summary of a run and the report model built from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::CaseRecord;
use crate::record::Timing;

/// How many failures and row errors the report lists in full.
const LISTED: usize = 10;
/// Outputs in the report are cut to this many characters.
const OUTPUT_CHARS: usize = 200;

/// Counts kept while results stream past; memory does not grow with the suite.
#[derive(Debug, Default)]
pub struct Summary {
    cases_total: u64,
    cases_passed: u64,
    cases_errored: u64,
    score_sum: f64,
    by_type: BTreeMap<String, (u64, u64)>,
    by_metric: BTreeMap<String, (u64, u64)>,
    failures: Vec<Failure>,
    rows_skipped: u64,
    row_errors: Vec<String>,
    skipped_at: Vec<String>,
    cut_short: Vec<String>,
    /// Per (prompt, provider): the figures of one column of a matrix.
    columns: BTreeMap<(Option<String>, String), Column>,
}

/// One (prompt, provider) column's running figures.
#[derive(Debug, Default)]
struct Column {
    cases: u64,
    passed: u64,
    latency_sum: f64,
    latencies: u64,
    cost_sum: f64,
    costs: u64,
}

/// One column of a prompt × provider matrix, like promptfoo's comparison
/// table: every test under one prompt and one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixColumn {
    pub prompt: Option<String>,
    pub provider: String,
    pub cases: u64,
    pub passed: u64,
    pub pass_rate: f64,
    /// Mean provider latency, when the calls were timed.
    pub mean_latency_ms: Option<f64>,
    /// The column's cost, when it is known.
    pub cost_usd: Option<f64>,
}

/// A failing case as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// The case id, and for a matrix its `[prompt @ provider]`.
    pub case_id: String,
    pub source: String,
    pub error: Option<String>,
    /// The failed assertions: type, expected value and why.
    pub failed: Vec<String>,
    /// The output, shortened and with control characters escaped.
    pub output: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TypeCount {
    pub name: String,
    pub passed: u64,
    pub total: u64,
}

/// Everything a report shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub suite: String,
    pub run_id: String,
    pub db: String,
    pub status: String,
    pub cases_total: u64,
    pub cases_passed: u64,
    pub cases_failed: u64,
    pub cases_errored: u64,
    pub pass_rate: Option<f64>,
    pub mean_score: Option<f64>,
    pub min_pass_rate: f64,
    pub rows_skipped: u64,
    pub row_errors: Vec<String>,
    /// Where the first few skipped rows are (`file:line`).
    #[serde(default)]
    pub skipped_at: Vec<String>,
    /// Dataset files a bad row ended early: their remaining cases never ran.
    #[serde(default)]
    pub cut_short: Vec<String>,
    /// Per prompt and provider, when the suite runs more than one of either.
    #[serde(default)]
    pub matrix: Vec<MatrixColumn>,
    pub by_type: Vec<TypeCount>,
    /// Assertion results by their named metric (`metric = "…"`).
    #[serde(default)]
    pub named_metrics: Vec<TypeCount>,
    pub failures: Vec<Failure>,
    pub timings: Vec<Timing>,
    /// The response cache's counters, when the run used it.
    pub cache: Option<crate::record::CacheStats>,
    /// Time requests waited on budgets, provider limits and retries.
    pub throttled_ms: f64,
    /// The same waits by cause, and what each provider was paced to.
    #[serde(default)]
    pub throttle: crate::report::throttle::Throttle,
    /// The comparison with the baseline, when there is one.
    pub comparison: Option<crate::compare::baseline::Compared>,
    /// Why there is no comparison (no baseline yet, run not finished).
    pub no_comparison: Option<String>,
    /// What holds the run back.
    pub bottlenecks: Vec<crate::report::performance::Bottleneck>,
    /// The performance-targets table.
    pub targets: Vec<crate::report::performance::TargetCheck>,
    /// The regression gate: `--fail-on` and why it failed, if it did.
    pub fail_on: String,
    /// The severity at which breakage the pull request certainly caused
    /// fails the gate.
    #[serde(default)]
    pub fail_on_certain: String,
    pub gate_reasons: Vec<String>,
    /// The run's metrics by name (latency percentiles, cost, hit rate …).
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// What the newly failing cases got and why they failed (the first few).
    pub flipped: Vec<crate::store::read::CaseDetail>,
    /// Links to the workflow run and commits, when run in Actions.
    pub links: Links,
}

/// A [`Report`] with its verdicts, computed when it is written and never
/// stored in it, so that they cannot go stale as gate reasons are added
/// (and a report file's own claims are not read back).
#[derive(Debug, Serialize)]
pub struct Written<'a> {
    #[serde(flatten)]
    report: &'a Report,
    /// Whether the pass rate meets `min_pass_rate` (an empty run does).
    pass_rate_met: bool,
    /// The whole gate's verdict, the one the exit code gives: finished,
    /// `pass_rate_met` and no `gate_reasons`.
    gate_passed: bool,
    /// What the first line of the comment says.
    headline: Headline,
}

/// The report's first line: green only when a comparison ran over
/// (nearly) the whole suite and found nothing; a run with nothing to
/// compare with, or compared only in part, says that instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Headline {
    /// ❌ the gate failed.
    GateFailed,
    /// ⚠️ regressions below the gate's severity.
    Regressions,
    /// ⚠️ the comparison covered only part of the baseline's suite.
    Partial,
    /// ⚪ no baseline to compare with.
    NoBaseline,
    /// ✅ compared over the whole suite, nothing got worse.
    Pass,
}

/// Where a reader of the report can go next.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Links {
    /// This workflow run.
    pub run: Option<String>,
    /// The baseline's commit.
    pub baseline_commit: Option<String>,
}

impl Links {
    /// Links from the Actions environment (`GITHUB_SERVER_URL`,
    /// `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`).
    pub fn from_env(baseline_sha: Option<&str>) -> Links {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let repo = env("GITHUB_SERVER_URL")
            .zip(env("GITHUB_REPOSITORY"))
            .map(|(server, repo)| format!("{}/{repo}", server.trim_end_matches('/')));
        Links {
            run: repo
                .as_ref()
                .zip(env("GITHUB_RUN_ID"))
                .map(|(repo, id)| format!("{repo}/actions/runs/{id}")),
            baseline_commit: repo
                .as_ref()
                .zip(baseline_sha)
                .map(|(repo, sha)| format!("{repo}/commit/{sha}")),
        }
    }
}

impl Report {
    /// Puts a comparison into the report: the gate's reasons, what the
    /// first newly failing cases got (`flipped`, read from the store by the
    /// caller) and the link to the baseline commit.
    pub fn add_comparison(
        &mut self,
        compared: crate::compare::baseline::Compared,
        gate: &crate::config::Gate,
        flipped: Vec<crate::store::read::CaseDetail>,
    ) {
        self.gate_reasons
            .extend(crate::compare::verdict::gate_reasons(
                &compared.comparison,
                gate,
            ));
        self.links = Links::from_env(compared.baseline.run.git_sha.as_deref());
        self.flipped = flipped;
        self.comparison = Some(compared);
    }

    /// Notes the gate's settings, which the report shows.
    pub fn set_gate(&mut self, gate: &crate::config::Gate) {
        self.fail_on = gate.fail_on.as_str().to_string();
        self.fail_on_certain = gate.fail_on_certain.as_str().to_string();
    }

    /// Whether the run passes its gates: it finished, its pass rate, and
    /// every other reason the gate lists (regressions, fail-closed checks).
    /// Worked out from those fields, never from the flags a report file
    /// carries, which may be stale or, from a fork, false.
    pub fn passed(&self) -> bool {
        self.status == "finished" && self.meets_pass_rate() && self.gate_reasons.is_empty()
    }

    /// The headline, worked out from the same fields as [`Report::passed`].
    pub fn headline(&self) -> Headline {
        if !self.passed() {
            return Headline::GateFailed;
        }
        let Some(compared) = &self.comparison else {
            return Headline::NoBaseline;
        };
        let comparison = &compared.comparison;
        if comparison.worst != crate::compare::verdict::Severity::None {
            Headline::Regressions
        } else if !comparison.quality.coverage.is_full() {
            Headline::Partial
        } else {
            Headline::Pass
        }
    }

    fn meets_pass_rate(&self) -> bool {
        meets(self.pass_rate, self.min_pass_rate)
    }

    /// The report as JSON and the templates see it: its fields and the
    /// gate's verdicts worked out from them.
    pub fn written(&self) -> Written<'_> {
        Written {
            report: self,
            pass_rate_met: self.meets_pass_rate(),
            gate_passed: self.passed(),
            headline: self.headline(),
        }
    }
}

impl Summary {
    pub fn add(&mut self, record: &CaseRecord) {
        self.add_to_column(record);
        self.cases_total += 1;
        if record.passed {
            self.cases_passed += 1;
        }
        if record.error.is_some() {
            self.cases_errored += 1;
        }
        self.score_sum += record.score;
        for a in &record.assertions {
            tally(&mut self.by_type, a.type_name(), a.passed);
            if let Some(metric) = &a.metric {
                tally(&mut self.by_metric, metric.clone(), a.passed);
            }
        }
        if !record.passed && self.failures.len() < LISTED {
            self.failures.push(Failure {
                // As the store lists them: a matrix's combinations apart.
                case_id: match &record.variant {
                    Some(variant) => format!("{} [{variant}]", record.case_id),
                    None => record.case_id.clone(),
                },
                source: record.source.clone(),
                error: record.error.clone(),
                failed: record
                    .assertions
                    .iter()
                    .filter(|a| !a.passed)
                    .map(|a| {
                        if a.expected.is_empty() {
                            format!("{}: {}", a.type_name(), a.reason)
                        } else {
                            format!("{} {}: {}", a.type_name(), a.expected, a.reason)
                        }
                    })
                    .collect(),
                output: record.output.as_deref().map(shorten),
            });
        }
    }

    fn add_to_column(&mut self, record: &CaseRecord) {
        let column = self
            .columns
            .entry((record.prompt_name.clone(), record.provider.clone()))
            .or_default();
        column.cases += 1;
        column.passed += u64::from(record.passed);
        if let Some(ms) = record.original_latency_ms {
            column.latency_sum += ms;
            column.latencies += 1;
        }
        if let Some(usd) = record.cost_usd {
            column.cost_sum += usd;
            column.costs += 1;
        }
    }

    /// The matrix's columns; empty when the suite ran one prompt on one
    /// provider, where the run's own figures say it all.
    fn matrix(&self) -> Vec<MatrixColumn> {
        if self.columns.len() < 2 {
            return Vec::new();
        }
        self.columns
            .iter()
            .map(|((prompt, provider), c)| MatrixColumn {
                prompt: prompt.clone(),
                provider: provider.clone(),
                cases: c.cases,
                passed: c.passed,
                pass_rate: c.passed as f64 / c.cases.max(1) as f64,
                mean_latency_ms: (c.latencies > 0).then(|| c.latency_sum / c.latencies as f64),
                cost_usd: (c.costs > 0).then_some(c.cost_sum),
            })
            .collect()
    }

    /// Notes the dataset files that ended early, with why.
    pub fn add_cut_short(&mut self, files: Vec<String>) {
        self.cut_short.extend(files);
    }

    /// Notes the dataset rows that were skipped, with the first few
    /// messages and where those rows are.
    pub fn add_skipped(&mut self, count: u64, messages: &[String], locations: &[String]) {
        self.rows_skipped += count;
        let room = LISTED.saturating_sub(self.row_errors.len());
        self.row_errors.extend(messages.iter().take(room).cloned());
        let room = LISTED.saturating_sub(self.skipped_at.len());
        self.skipped_at.extend(locations.iter().take(room).cloned());
    }

    pub fn cases_total(&self) -> u64 {
        self.cases_total
    }

    pub fn cases_passed(&self) -> u64 {
        self.cases_passed
    }

    pub fn cases_errored(&self) -> u64 {
        self.cases_errored
    }

    pub fn rows_skipped(&self) -> u64 {
        self.rows_skipped
    }

    pub fn pass_rate(&self) -> Option<f64> {
        (self.cases_total > 0).then(|| self.cases_passed as f64 / self.cases_total as f64)
    }

    pub fn mean_score(&self) -> Option<f64> {
        (self.cases_total > 0).then(|| self.score_sum / self.cases_total as f64)
    }

    /// The report model, with the run's identity and timings added.
    pub fn report(
        &self,
        suite: &str,
        run_id: &str,
        db: &str,
        status: &str,
        min_pass_rate: f64,
        timings: Vec<Timing>,
    ) -> Report {
        Report {
            suite: suite.to_string(),
            run_id: run_id.to_string(),
            db: db.to_string(),
            status: status.to_string(),
            cases_total: self.cases_total,
            cases_passed: self.cases_passed,
            cases_failed: self.cases_total - self.cases_passed,
            cases_errored: self.cases_errored,
            pass_rate: self.pass_rate(),
            mean_score: self.mean_score(),
            min_pass_rate,
            rows_skipped: self.rows_skipped,
            row_errors: self.row_errors.clone(),
            skipped_at: self.skipped_at.clone(),
            cut_short: self.cut_short.clone(),
            matrix: self.matrix(),
            by_type: type_counts(&self.by_type),
            named_metrics: type_counts(&self.by_metric),
            failures: self.failures.clone(),
            timings,
            cache: None,
            throttled_ms: 0.0,
            throttle: Default::default(),
            comparison: None,
            no_comparison: None,
            bottlenecks: Vec::new(),
            targets: Vec::new(),
            fail_on: String::new(),
            fail_on_certain: String::new(),
            gate_reasons: Vec::new(),
            metrics: Default::default(),
            flipped: Vec::new(),
            links: Links::default(),
        }
    }
}

/// Counts one assertion result under `name`: (passed, total).
fn tally(counts: &mut BTreeMap<String, (u64, u64)>, name: String, passed: bool) {
    let entry = counts.entry(name).or_default();
    entry.0 += u64::from(passed);
    entry.1 += 1;
}

fn type_counts(counts: &BTreeMap<String, (u64, u64)>) -> Vec<TypeCount> {
    counts
        .iter()
        .map(|(name, &(passed, total))| TypeCount {
            name: name.clone(),
            passed,
            total,
        })
        .collect()
}

/// Whether a pass rate meets the gate; an empty run has nothing to fail.
fn meets(pass_rate: Option<f64>, min_pass_rate: f64) -> bool {
    pass_rate.is_none_or(|rate| rate >= min_pass_rate)
}

/// One quoted line of at most `OUTPUT_CHARS` characters, with quotes and
/// control characters escaped (an output must not move the terminal's
/// cursor or colour the report).
fn shorten(output: &str) -> String {
    match output.char_indices().nth(OUTPUT_CHARS) {
        Some((cut, _)) => format!("{:?}…", &output[..cut]),
        None => format!("{output:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_escapes_control_characters_and_cuts() {
        assert_eq!(
            shorten("a\nb\u{1b}[31m \"q\""),
            "\"a\\nb\\u{1b}[31m \\\"q\\\"\""
        );
        let long = "é".repeat(500);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), OUTPUT_CHARS + 3);
    }

    #[test]
    fn empty_run_passes_the_gate_with_no_rate() {
        let s = Summary::default();
        assert_eq!(s.pass_rate(), None);
        let report = s.report("s", "r", "db", "finished", 1.0, Vec::new());
        let written = report.written();
        assert!(written.pass_rate_met && written.gate_passed);
    }

    #[test]
    fn gate_passed_is_the_whole_gate_not_the_pass_rate_alone() {
        let mut report = Summary::default().report("s", "r", "db", "finished", 0.5, Vec::new());
        report.pass_rate = Some(0.9);
        report.gate_reasons.push("critical: pass rate fell".into());
        assert!(report.written().pass_rate_met);
        assert!(!report.written().gate_passed && !report.passed());

        report.gate_reasons.clear();
        report.pass_rate = Some(0.4);
        assert!(!report.written().pass_rate_met && !report.written().gate_passed);

        // A report file's own flags are not believed.
        let json = serde_json::to_value(report.written()).unwrap();
        let mut claimed = json.as_object().unwrap().clone();
        claimed.insert("pass_rate_met".into(), true.into());
        claimed.insert("gate_passed".into(), true.into());
        let read: Report = serde_json::from_value(claimed.into()).unwrap();
        assert!(!read.passed());

        report.pass_rate = Some(0.9);
        report.status = "cancelled".into();
        assert!(report.written().pass_rate_met && !report.written().gate_passed);
    }
}
