//! The pull-request comment and the step summary: the side-by-side table
//! of headline numbers, and the comment's size limit.

use minijinja::value::Serde;
use serde::Serialize;

use super::{Renderer, Report};
use crate::compare::verdict::{Direction, Finding, Role, Severity};
use crate::error::Result;

/// GitHub refuses a comment body longer than this.
pub const COMMENT_LIMIT: usize = 65_536;
/// The step summary's limit: GitHub drops a larger one.
pub const SUMMARY_LIMIT: usize = 1 << 20;

/// One row of the PR-vs-baseline table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub name: &'static str,
    pub unit: &'static str,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// current / baseline − 1, when both are there and the baseline is not 0.
    pub change: Option<f64>,
    /// What the statistics made of it: "critical", "improved", "noise" …
    pub verdict: String,
}

/// The headline metrics side by side, with the verdict of the finding that
/// tested each (if one did).
pub fn headline_rows(report: &Report) -> Vec<Row> {
    let Some(compared) = &report.comparison else {
        return Vec::new();
    };
    let c = &compared.comparison;
    let finding = |name: &str| c.findings.iter().find(|f| f.name == name);
    let metric = |name: &str| {
        (
            compared.baseline_metrics.get(name).copied(),
            report.metrics.get(name).copied(),
        )
    };
    let quality = quality_verdict(c);
    let total = report
        .timings
        .iter()
        .find(|t| t.component == "total")
        .map(|t| t.duration_ms);
    let rows = [
        ("pass rate", "ratio", metric("pass_rate"), quality),
        (
            "mean score",
            "",
            metric("mean_score"),
            verdict(finding("score")),
        ),
        (
            "provider latency p50",
            "ms",
            metric("latency_p50_ms"),
            verdict(finding("latency (typical case)")),
        ),
        (
            "provider latency p95",
            "ms",
            metric("latency_p95_ms"),
            verdict(finding("latency (p95)")),
        ),
        (
            "tokens per case",
            "tokens",
            metric("tokens_mean"),
            verdict(finding("tokens per case")),
        ),
        (
            "cost",
            "USD",
            metric("cost_usd"),
            verdict(finding("cost per case")),
        ),
        (
            "cache hit rate",
            "ratio",
            metric("cache_hit_rate"),
            String::new(),
        ),
        (
            "wall time",
            "ms",
            (compared.baseline_timings.get("total").copied(), total),
            verdict(finding("timing total")),
        ),
    ];
    rows.into_iter()
        .filter(|(_, _, (b, c), _)| b.is_some() || c.is_some())
        .map(|(name, unit, (baseline, current), verdict)| Row {
            name,
            unit,
            baseline,
            current,
            change: baseline
                .zip(current)
                .filter(|(b, _)| *b != 0.0)
                .map(|(b, c)| c / b - 1.0),
            verdict,
        })
        .collect()
}

/// A headline metric's verdict, from the finding that tested it.
fn verdict(finding: Option<&Finding>) -> String {
    match finding {
        Some(f) if f.direction == Direction::Regression && f.role == Role::Advisory => {
            format!("{} (advisory: runner speed)", f.severity.as_str())
        }
        Some(f) if f.direction == Direction::Regression => f.severity.as_str().to_string(),
        Some(f) if f.direction == Direction::Improvement => "improved".into(),
        Some(f) if f.direction == Direction::Insufficient => "too little history".into(),
        Some(_) => "within noise".into(),
        None => String::new(),
    }
}

/// The pass rate's verdict: the worse severity of the paired cases' and
/// the whole suite's, or an improvement the test found, or a comparison
/// that covered only part of the suite, or noise.
fn quality_verdict(c: &crate::compare::verdict::Comparison) -> String {
    let worst = c.quality_severity.max(c.suite_severity);
    if worst > Severity::None {
        worst.as_str().to_string()
    } else if c.quality.p_value.is_some_and(|p| p < 0.05)
        && c.quality.pass_rate_change.is_some_and(|i| i.low > 0.0)
    {
        "improved".into()
    } else if !c.quality.coverage.is_full() {
        format!(
            "compared {} of {} cases",
            c.quality.coverage.paired, c.quality.coverage.baseline_cases
        )
    } else {
        "within noise".into()
    }
}

/// How much of the long sections a rendering shows.
#[derive(Debug, Clone, Copy, Serialize)]
struct Limits {
    /// Flipped cases with their details.
    details: usize,
    /// Case ids in lists (newly failing, passing, errors).
    ids: usize,
    /// Characters of an output shown.
    output: usize,
    trend: bool,
}

const LEVELS: [Limits; 4] = [
    Limits {
        details: 20,
        ids: 100,
        output: 600,
        trend: true,
    },
    Limits {
        details: 10,
        ids: 50,
        output: 300,
        trend: true,
    },
    Limits {
        details: 3,
        ids: 20,
        output: 150,
        trend: false,
    },
    Limits {
        details: 0,
        ids: 10,
        output: 0,
        trend: false,
    },
];

impl Renderer {
    fn markdown(
        &self,
        name: &str,
        report: &Report,
        marker: &str,
        limits: Limits,
    ) -> Result<String> {
        self.render(
            name,
            minijinja::context! {
                marker => minijinja::Value::from_safe_string(marker.to_string()),
                r => minijinja::Value::from(Serde(report.written())),
                rows => minijinja::Value::from(Serde(headline_rows(report))),
                limits => minijinja::Value::from(Serde(limits)),
            },
        )
    }

    /// The pull-request comment, starting with `marker` (put in front when
    /// a template of the user's own leaves it out, or every run would post
    /// a new comment). Above GitHub's limit, the longest sections shrink
    /// step by step; what still does not fit is cut with a pointer to the
    /// step summary.
    pub fn comment(&self, report: &Report, marker: &str) -> Result<String> {
        let mut body = String::new();
        for limits in LEVELS {
            body = self.markdown("comment.md", report, marker, limits)?;
            if !body.starts_with(marker) {
                body = format!("{marker}\n{body}");
            }
            if body.len() <= COMMENT_LIMIT {
                return Ok(body);
            }
        }
        Ok(cut_at_line(
            &body,
            COMMENT_LIMIT,
            "\n\n_… cut to GitHub's comment limit; the step summary has the full report._\n",
        ))
    }

    /// The step summary: everything the comment has, at the fullest level.
    pub fn summary(&self, report: &Report) -> Result<String> {
        let body = self.markdown("summary.md", report, "", LEVELS[0])?;
        Ok(cut_at_line(
            &body,
            SUMMARY_LIMIT,
            "\n\n_… cut to GitHub's 1 MiB step-summary limit; `ai-evals report` prints the rest._\n",
        ))
    }
}

/// `text` when it fits in `limit` bytes, else cut at a line boundary with
/// `note` after it, the whole within `limit`.
fn cut_at_line(text: &str, limit: usize, note: &str) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit - note.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text[..end].rfind('\n').unwrap_or(end);
    format!("{}{note}", &text[..cut])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::compare::baseline::{Chosen, Compared, TrendPoint};
    use crate::compare::stats::Interval;
    use crate::compare::verdict::{
        Cause, CauseCount, Comparison, Family, Flip, QualityChange, RemovedCase, Severity,
    };
    use crate::record::Timing;
    use crate::report::{Failure, Summary};
    use crate::store::CaseKey;
    use crate::store::read::{CaseDetail, RunRef};

    const NASTY: &str = "@org/team <script>alert(1)</script> </details></pre> <!-- ai-evals:demo --> ```fence``` | col | **bold**";

    fn timing(component: &str, parent: Option<&str>, ms: f64) -> Timing {
        Timing {
            component: component.into(),
            parent: parent.map(str::to_string),
            duration_ms: ms,
            calls: Some(10),
        }
    }

    /// A deterministic report with a comparison in which `flipped` cases
    /// newly fail, each with the nasty text as id part, output and reason.
    fn report(flipped: usize) -> Report {
        let mut report = Summary::default().report(
            "demo",
            "20261127T120000Z-abcdef",
            "history.duckdb",
            "finished",
            0.9,
            vec![
                timing("total", None, 4200.0),
                timing("dataset_loading", Some("total"), 12.0),
                timing("execution", Some("total"), 3900.0),
                timing("scoring", Some("total"), 40.0),
                timing("scoring/regex", Some("scoring"), 40.0),
                timing("storing", Some("total"), 80.0),
            ],
        );
        report.cases_total = 200;
        report.cases_passed = 150;
        report.cases_failed = 50;
        report.pass_rate = Some(0.75);
        report.fail_on = "critical".into();
        report.gate_reasons = vec![format!("critical: pass rate fell; {NASTY}")];
        report.metrics = BTreeMap::from([
            ("pass_rate".to_string(), 0.75),
            ("latency_p50_ms".to_string(), 450.0),
            ("cost_usd".to_string(), 0.0123),
            ("peak_rss_mb".to_string(), 41.0),
        ]);
        report.failures = vec![Failure {
            case_id: format!("case {NASTY}"),
            source: "data.jsonl:7".into(),
            error: None,
            failed: vec![format!("contains \"x\": {NASTY}")],
            output: Some(NASTY.into()),
        }];
        let ids: Vec<String> = (0..flipped).map(|i| format!("case-{i}-{NASTY}")).collect();
        report.flipped = ids
            .iter()
            .take(20)
            .map(|key| CaseDetail {
                key: key.clone(),
                description: None,
                passed: false,
                latency_ms: Some(400.0),
                output: Some(format!("{NASTY}\n\nsecond paragraph")),
                error: None,
                expected: Some("Paris".into()),
                reason: Some(NASTY.into()),
            })
            .collect();
        let finding = crate::compare::verdict::Finding {
            name: "latency (p95)".into(),
            unit: "ms".into(),
            baseline: 800.0,
            current: 1700.0,
            change: Interval {
                estimate: 1.125,
                low: 0.8,
                high: 1.4,
            },
            p_value: Some(1e-6),
            alpha: Some(0.0125),
            noise_floor: 0.1,
            higher_is_worse: true,
            direction: crate::compare::verdict::Direction::Regression,
            severity: Severity::Critical,
            magnitude: 0.8,
            role: crate::compare::verdict::Role::Gate,
        };
        report.comparison = Some(Compared {
            baseline: Chosen {
                run: RunRef {
                    run_id: "20261126T120000Z-012345".into(),
                    suite: "demo".into(),
                    git_sha: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into()),
                    branch: Some("main".into()),
                },
                why: "the pull request's base commit f95f852".into(),
                skipped: Vec::new(),
                renamed_from: None,
            },
            comparison: Comparison {
                baseline_run: "20261126T120000Z-012345".into(),
                baseline_sha: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into()),
                history_runs: 12,
                quality: QualityChange {
                    shared_cases: 200,
                    baseline_pass_rate: Some(0.95),
                    current_pass_rate: Some(0.75),
                    pass_rate_change: Some(Interval {
                        estimate: -0.2,
                        low: -0.26,
                        high: -0.14,
                    }),
                    p_value: Some(1e-9),
                    newly_passing: vec!["case-ok".into()],
                    new_errors: Vec::new(),
                    added_cases: 0,
                    removed_cases: 1,
                    removed: vec![RemovedCase {
                        key: CaseKey {
                            id: "retired | <b>".into(),
                            repeat: 0,
                            variant: None,
                        },
                        passed: true,
                    }],
                    flips: ids
                        .iter()
                        .map(|id| Flip {
                            key: CaseKey {
                                id: id.clone(),
                                repeat: 0,
                                variant: None,
                            },
                            newly_failing: true,
                            cause: Cause::RequestChanged,
                        })
                        .collect(),
                    causes: vec![CauseCount {
                        cause: Cause::RequestChanged,
                        newly_failing: ids.len(),
                        newly_passing: 0,
                        score_changed: 0,
                    }],
                    attributable: 38.0,
                    worse: 0.2,
                    certain_failing: 38,
                    certain_worse: 0.2,
                    baseline_passing: 190,
                    explanation: vec![format!(
                        "{} cases newly failing: all {} because {}.",
                        ids.len(),
                        ids.len(),
                        Cause::RequestChanged.because()
                    )],
                    newly_failing: ids,
                    ..QualityChange::default()
                },
                quality_severity: Severity::Minor,
                certain_severity: Severity::Minor,
                suite: None,
                suite_severity: Severity::None,
                findings: vec![finding],
                worst: Severity::Critical,
                family: Family {
                    tests: 4,
                    alpha: 0.0125,
                },
            },
            baseline_metrics: BTreeMap::from([
                ("pass_rate".to_string(), 0.95),
                ("latency_p50_ms".to_string(), 430.0),
                ("cost_usd".to_string(), 0.0120),
            ]),
            baseline_timings: BTreeMap::from([("total".to_string(), 4000.0)]),
            trend: (0..3)
                .map(|i| TrendPoint {
                    run_id: format!("run-{i}"),
                    git_sha: Some(format!("{i}abcdef0123")),
                    pass_rate: Some(0.9 + 0.01 * f64::from(i)),
                    latency_p50_ms: Some(430.0),
                    cost_usd: Some(0.012),
                    total_ms: Some(4000.0),
                })
                .collect(),
        });
        report.links = crate::report::Links {
            run: Some("https://github.com/o/r/actions/runs/1".into()),
            baseline_commit: Some(
                "https://github.com/o/r/commit/f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into(),
            ),
        };
        report
    }

    fn renderer() -> Renderer {
        Renderer::new(None).unwrap()
    }

    #[test]
    fn comment_and_summary_snapshots() {
        let r = report(3);
        insta::assert_snapshot!(
            "comment",
            renderer().comment(&r, "<!-- ai-evals:demo -->").unwrap()
        );
        insta::assert_snapshot!("summary", renderer().summary(&r).unwrap());
        insta::assert_snapshot!("terminal", renderer().text(&r).unwrap());
    }

    #[test]
    fn model_text_renders_harmlessly() {
        let r = report(3);
        for body in [
            renderer().comment(&r, "<!-- ai-evals:demo -->").unwrap(),
            renderer().summary(&r).unwrap(),
        ] {
            assert!(!body.contains("<script"), "{body}");
            assert!(!body.contains("@org"), "a mention survived");
            assert_eq!(
                body.matches("<!--").count(),
                usize::from(body.starts_with("<!--"))
            );
            assert_eq!(
                body.matches("<details>").count(),
                body.matches("</details>").count()
            );
            assert_eq!(
                body.matches("<pre>").count(),
                body.matches("</pre>").count()
            );
            let fences = body.lines().filter(|l| l.starts_with("```")).count();
            assert_eq!(fences % 2, 0, "fences are balanced");
            // Every table row has as many unescaped pipes as its header.
            for table in body.split("\n\n").filter(|b| b.starts_with('|')) {
                let pipes = |line: &str| line.replace("\\|", "").matches('|').count();
                let header = pipes(table.lines().next().unwrap());
                assert!(table.lines().all(|l| pipes(l) == header), "{table}");
            }
        }
    }

    #[test]
    fn stored_strings_are_escaped_too() {
        let mut r = report(3);
        r.run_id = format!("run --> {NASTY}");
        let c = r.comparison.as_mut().unwrap();
        c.comparison.findings[0].name = format!("latency {NASTY}");
        c.comparison.baseline_run = format!("base --> {NASTY}");
        c.baseline.run.git_sha = None;
        r.fail_on = format!("critical --> {NASTY}");
        r.links.run = Some("https://evil.example/) [x](https://evil.example".into());
        let body = renderer().comment(&r, "<!-- ai-evals:demo -->").unwrap();
        assert_eq!(body.matches("<!--").count(), 1, "{body}");
        assert!(!body.contains("run -->"), "{body}");
        assert!(!body.contains("<script"), "{body}");
        assert!(!body.contains("@org"), "{body}");
        assert!(!body.contains("[x]("), "a link cannot add another: {body}");
    }

    #[test]
    fn a_template_without_the_marker_gets_it_in_front() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("comment.md.j2"), "no marker, {{ r.suite }}").unwrap();
        let own = Renderer::new(Some(dir.path())).unwrap();
        let body = own
            .comment(&report(0), "<!-- ai-evals:demo:leg-1 -->")
            .unwrap();
        assert_eq!(body, "<!-- ai-evals:demo:leg-1 -->\nno marker, demo");
    }

    #[test]
    fn ten_thousand_flipped_cases_stay_under_the_comment_limit() {
        let r = report(10_000);
        let body = renderer().comment(&r, "<!-- ai-evals:demo -->").unwrap();
        assert!(body.len() <= COMMENT_LIMIT, "{} bytes", body.len());
        assert!(body.starts_with("<!-- ai-evals:demo -->"));
        assert!(body.contains("10000 newly failing"));
        assert!(body.contains("more"));
    }

    #[test]
    fn the_comment_renders_as_github_flavoured_markdown() {
        let body = renderer()
            .comment(&report(3), "<!-- ai-evals:demo -->")
            .unwrap();
        let mut options = comrak::Options::default();
        options.extension.table = true;
        options.render.r#unsafe = true;
        let html = comrak::markdown_to_html(&body, &options);
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains(">baseline</th>"), "{html}");
        assert!(html.contains("<details><summary>"), "{html}");
        assert!(html.contains("<h3>Critical regressions</h3>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("language-mermaid"), "{html}");
    }

    #[test]
    fn junit_has_one_testcase_per_case_and_escapes_text() {
        let cases = vec![
            CaseDetail {
                key: "ok".into(),
                description: None,
                passed: true,
                latency_ms: Some(1500.0),
                output: None,
                error: None,
                expected: None,
                reason: None,
            },
            CaseDetail {
                key: "bad <&>".into(),
                description: Some("a <nasty> \"one\"".into()),
                passed: false,
                latency_ms: None,
                output: Some(NASTY.into()),
                error: None,
                expected: Some("x".into()),
                reason: Some("output does not contain \"x\"".into()),
            },
            CaseDetail {
                key: "broken".into(),
                description: None,
                passed: false,
                latency_ms: None,
                output: None,
                error: Some("HTTP 500 \u{1} after 3 attempts".into()),
                expected: None,
                reason: None,
            },
        ];
        let xml = renderer().junit(&report(0), &cases).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert_eq!(xml.matches("</testcase>").count(), 3);
        assert_eq!(xml.matches("<failure ").count(), 1);
        assert_eq!(xml.matches("<error ").count(), 1);
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"bad &lt;&amp;&gt;\""));
        assert!(
            xml.contains(
                "<property name=\"description\" value=\"a &lt;nasty&gt; &quot;one&quot;\"/>"
            ),
            "{xml}"
        );
        assert_eq!(xml.matches("<properties>").count(), 1);
        assert!(xml.contains("time=\"1.500\""));
        assert!(!xml.contains('\u{1}'));
        assert!(!xml.contains("<script"));
    }

    #[test]
    fn the_summary_is_cut_at_a_line_under_the_limit() {
        let line = "x".repeat(99) + "\n";
        let big = line.repeat(20_000);
        let fitted = cut_at_line(&big, SUMMARY_LIMIT, "\n\n_… prints the rest._\n");
        assert!(fitted.len() <= SUMMARY_LIMIT);
        assert!(fitted.ends_with("prints the rest._\n"));
        assert_eq!(cut_at_line("small", SUMMARY_LIMIT, "x"), "small");
    }
}
