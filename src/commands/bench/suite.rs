//! The benchmarks `ai-evals bench` runs: the pipeline's own components
//! (parsing, rendering, scoring, cache keys, verdicts), each set up once
//! and then repeated.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;

use serde_json::json;

use crate::assertion::{AssertionSpec, Context};
use crate::compare::stats::SplitMix64;
use crate::compare::verdict;
use crate::error::{Error, Result};
use crate::record::AnswerSource;
use crate::store::{CaseKey, CaseOutcome, CaseSamples, History, HistoryRun, RunData};

/// One benchmark: what it measures, how many operations one iteration
/// makes, and how to set it up (setup is not timed).
pub struct Benchmark {
    pub name: &'static str,
    pub what: &'static str,
    pub ops: u64,
    pub(super) setup: fn(u64) -> Result<Work>,
}

/// One iteration's work, set up and ready to repeat.
pub(super) type Work = Box<dyn FnMut()>;

/// Every benchmark, in the order they run.
pub fn all() -> Vec<Benchmark> {
    vec![
        Benchmark {
            name: "dataset/jsonl",
            what: "parse a 10,000-row JSONL dataset",
            ops: 10_000,
            setup: jsonl,
        },
        Benchmark {
            name: "prompt/render",
            what: "render a prompt template with three variables",
            ops: 1_000,
            setup: prompt_render,
        },
        Benchmark {
            name: "cache/key",
            what: "derive a response cache key from a chat request",
            ops: 1_000,
            setup: cache_key,
        },
        Benchmark {
            name: "cache/lookup",
            what: "look an answer up in the on-disk response cache (cold memory)",
            ops: 1_000,
            setup: cache_lookup,
        },
        Benchmark {
            name: "scoring/equals",
            what: "equals on a 1 KB output",
            ops: 1_000,
            setup: |ops| scorer(ops, "equals", json!(kilobyte(1))),
        },
        Benchmark {
            name: "scoring/regex",
            what: "a regex on a 1 KB output",
            ops: 1_000,
            setup: |ops| {
                scorer(
                    ops,
                    "regex",
                    json!(r"(?i)\b(error|fail(ed|ure)?)\b\s+\d{3}"),
                )
            },
        },
        Benchmark {
            name: "scoring/levenshtein",
            what: "levenshtein between two 1 KB texts",
            ops: 20,
            setup: |ops| scorer(ops, "levenshtein", json!(kilobyte(2))),
        },
        Benchmark {
            name: "scoring/cosine",
            what: "cosine similarity of two 1,536-dimension embeddings",
            ops: 1_000,
            setup: cosine,
        },
        Benchmark {
            name: "report/comment+summary",
            what: "render the PR comment and the step summary for 10,000 cases, 2,000 flipped",
            ops: 1,
            setup: report_render,
        },
        Benchmark {
            name: "verdicts",
            what: "regression verdicts for 10,000 shared cases and a 30-run history",
            ops: 1,
            setup: verdicts,
        },
    ]
    .into_iter()
    .chain(scripts())
    .collect()
}

/// The scripted assertions' benchmarks: one call of a one-line
/// expression, after the engine (or interpreter) is found and warm.
fn scripts() -> Vec<Benchmark> {
    vec![
        Benchmark {
            name: "scoring/javascript",
            what: "a one-line javascript assertion on a 1 KB output, after start-up",
            ops: 1_000,
            setup: |ops| {
                script(
                    ops,
                    "javascript",
                    "output.includes(context.vars.word) && output.length > 100",
                )
            },
        },
        Benchmark {
            name: "scoring/python",
            what: "a one-line python assertion on a 1 KB output (a python3 process per call)",
            ops: 2,
            setup: |ops| {
                script(
                    ops,
                    "python",
                    "context['vars']['word'] in output and len(output) > 100",
                )
            },
        },
    ]
}

/// A deterministic 1 KB text of words; `seed` varies it.
fn kilobyte(seed: u64) -> String {
    const WORDS: &[&str] = &[
        "the", "model", "answer", "refund", "policy", "customer", "order", "within", "days",
        "shipping", "returns", "account", "support", "billing", "invoice", "error",
    ];
    let mut rng = SplitMix64::new(seed);
    let mut text = String::with_capacity(1100);
    while text.len() < 1024 {
        text.push_str(WORDS[rng.next_index(WORDS.len())]);
        text.push(' ');
    }
    text.truncate(1024);
    text
}

fn scorer(ops: u64, kind: &str, value: serde_json::Value) -> Result<Work> {
    let spec = AssertionSpec {
        kind: kind.into(),
        value: Some(value),
        weight: None,
        threshold: Some(400.0).filter(|_| kind == "levenshtein"),
        provider: None,
        metric: None,
        config: None,
        transform: None,
    };
    let assertion = spec
        .compile()
        .map_err(|e| Error::runtime(format!("benchmark {kind}: {e}")))?;
    let output = kilobyte(1);
    Ok(Box::new(move || {
        for _ in 0..ops {
            let ctx = Context {
                output: black_box(&output),
                latency_ms: None,
                cost_usd: None,
            };
            black_box(assertion.evaluate(&ctx));
        }
    }))
}

/// A scripted assertion called `ops` times with a case's context; the
/// engine is started and the code compiled before timing starts.
fn script(ops: u64, kind: &str, code: &str) -> Result<Work> {
    use crate::assertion::Rule;
    use crate::script::{Input, Limits, Scripts};
    let spec = AssertionSpec {
        kind: kind.into(),
        value: Some(json!(code)),
        weight: None,
        threshold: None,
        provider: None,
        metric: None,
        config: None,
        transform: None,
    };
    let fail = |e: String| Error::runtime(format!("benchmark {kind}: {e}"));
    let Rule::Script { script, .. } = spec.compile().map_err(fail)?.rule else {
        return Err(fail("not a script".into()));
    };
    let scripts = Scripts::new(
        std::path::Path::new("."),
        Limits {
            timeout: std::time::Duration::from_secs(10),
            memory: 512 << 20,
        },
    );
    let output = kilobyte(1);
    let context = json!({
        "prompt": kilobyte(4),
        "vars": {"word": "refund", "language": "English", "ticket": 42},
        "test": {"description": "a refund question", "vars": {"word": "refund"}},
    })
    .to_string();
    let call = move || scripts.assertion(&script, None, Input::Text(&output), &context);
    call().map_err(|e| fail(e.to_string()))?;
    Ok(Box::new(move || {
        for _ in 0..ops {
            black_box(call().ok());
        }
    }))
}

fn cosine(ops: u64) -> Result<Work> {
    let mut rng = SplitMix64::new(9);
    let mut vector = || -> Vec<f32> { (0..1536).map(|_| rng.next_f64() as f32 - 0.5).collect() };
    let (a, b) = (vector(), vector());
    Ok(Box::new(move || {
        for _ in 0..ops {
            black_box(crate::score::cosine(black_box(&a), black_box(&b)));
        }
    }))
}

/// A file removed when the benchmark that reads it is dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh path in the temporary folder.
fn scratch(suffix: &str) -> Scratch {
    Scratch(std::env::temp_dir().join(format!(
        "ai-evals-bench-{}-{}{suffix}",
        std::process::id(),
        fastrand::u64(..)
    )))
}

fn cache_lookup(ops: u64) -> Result<Work> {
    use crate::execute::cache::{Entry, ResponseCache, Settings};
    let dir = scratch("-cache");
    let keys: Vec<_> = (0..ops)
        .map(|i| {
            crate::execute::cache::key::response(
                "openai",
                "http://localhost/v1",
                &json!({"n": i}),
                0,
            )
        })
        .collect();
    let entry = Entry {
        model: "gpt-4o-mini".into(),
        output: kilobyte(5)[..400].to_string(),
        usage: None,
        cost_usd: Some(1e-5),
        latency_ms: Some(420.0),
        finish_reason: Some("stop".into()),
    };
    // The cache reads and writes on a runtime's blocking pool, as in a run.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Error::runtime(format!("cannot start a runtime: {e}")))?;
    let limit = crate::execute::cache::entry_limit(16 << 20);
    let writer = ResponseCache::new(Settings::new(dir.path().to_path_buf()));
    runtime.block_on(async {
        for key in &keys {
            writer.put(key, &entry).await;
        }
    });
    if writer.stats().writes != ops {
        return Err(Error::runtime(format!(
            "cannot write the benchmark cache in {}",
            dir.path().display()
        )));
    }
    Ok(Box::new(move || {
        // A new cache each time: its memory layer is empty, so every lookup reads a file.
        let cache = ResponseCache::new(Settings::new(dir.path().to_path_buf()));
        runtime.block_on(async {
            for key in &keys {
                assert!(cache.get(black_box(key), limit).await.is_some());
            }
        });
    }))
}

fn jsonl(ops: u64) -> Result<Work> {
    let file = scratch(".jsonl");
    let failed =
        |e: std::io::Error| Error::runtime(format!("cannot write a temporary dataset: {e}"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(file.path()).map_err(failed)?);
    for i in 0..ops {
        writeln!(
            out,
            r#"{{"id": "case-{i}", "question": "What is {i} plus {i}?", "expected": "{}"}}"#,
            2 * i
        )
        .map_err(failed)?;
    }
    out.flush().map_err(failed)?;
    drop(out);
    Ok(Box::new(move || {
        let mut rows = 0u64;
        crate::ingest::dataset::read(
            file.path(),
            crate::config::Format::Jsonl,
            crate::config::DEFAULT_MAX_LINE_SIZE,
            &mut |row| {
                assert!(black_box(row).is_ok(), "the benchmark rows are valid");
                rows += 1;
                Ok(())
            },
        )
        .expect("the benchmark dataset parses");
        assert_eq!(rows, ops);
    }))
}

fn prompt_render(ops: u64) -> Result<Work> {
    let sources = BTreeMap::from([(
        "qa".to_string(),
        crate::config::Prompt::Text("You are a support agent for {{ company }}.\nAnswer in {{ language }}.\n\nQuestion: {{ question }}\n".to_string()),
    )]);
    let prompts = crate::ingest::prompt::Prompts::new(
        &sources,
        std::path::Path::new("bench.toml"),
        crate::config::Undefined::Strict,
    )?;
    let vars = minijinja::Value::from(minijinja::value::Serde(
        json!({"company": "Acme", "language": "English", "question": kilobyte(3)}),
    ));
    Ok(Box::new(move || {
        for _ in 0..ops {
            black_box(prompts.render("qa", &vars).expect("the template renders"));
        }
    }))
}

fn cache_key(ops: u64) -> Result<Work> {
    let body = json!({
        "model": "gpt-4o-mini",
        "temperature": 0,
        "max_tokens": 256,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": kilobyte(4)},
        ],
    });
    Ok(Box::new(move || {
        for repeat in 0..ops {
            black_box(crate::execute::cache::key::response(
                "openai",
                "https://api.openai.com/v1/chat/completions",
                &body,
                repeat as u32,
            ));
        }
    }))
}

/// Synthetic runs the size the verdict target names.
fn verdicts(_: u64) -> Result<Work> {
    let mut rng = SplitMix64::new(11);
    let mut run = |id: &str| RunData {
        run_id: id.into(),
        git_sha: None,
        cases: (0..10_000)
            .map(|i| CaseOutcome {
                key: CaseKey {
                    id: format!("case-{i}"),
                    repeat: 0,
                    variant: None,
                },
                passed: rng.next_f64() < 0.9,
                score: rng.next_f64(),
                errored: false,
                latency_ms: Some(200.0 + 800.0 * rng.next_f64()),
                tokens: Some((100.0 + 400.0 * rng.next_f64()).round()),
                cost_usd: Some(1e-4 * rng.next_f64()),
                request_hash: Some(format!("{i:016x}")),
                scoring_hash: Some("scoring".into()),
                output_hash: Some(format!("{:016x}", rng.next_u64())),
                source: Some(AnswerSource::Model),
                cached: false,
                provider: Some("model".into()),
                prompt: Some("ask".into()),
                identity: None,
            })
            .collect(),
        timings: [
            ("total", 60_000.0),
            ("execution", 55_000.0),
            ("scoring", 900.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v * (1.0 + 0.05 * rng.next_f64())))
        .collect(),
        metrics: BTreeMap::new(),
    };
    let baseline = run("base");
    let current = run("pr");
    let runs: Vec<HistoryRun> = (0..30)
        .map(|_| {
            let r = run("h");
            HistoryRun {
                timings: r.timings,
                metrics: BTreeMap::from([("latency_p50_ms".to_string(), 600.0)]),
                ..HistoryRun::default()
            }
        })
        .collect();
    // Each case answered afresh on all 30 runs, passing 9 times in 10.
    let samples = baseline
        .cases
        .iter()
        .map(|c| CaseSamples {
            key: c.key.clone(),
            request_hash: c.request_hash.clone().unwrap_or_default(),
            samples: 30,
            passes: 27,
        })
        .collect();
    let history = History { runs, samples };
    let settings = verdict::Settings::default();
    Ok(Box::new(move || {
        black_box(verdict::compare(&current, &baseline, &history, &settings));
    }))
}

/// A report of 10,000 cases whose comparison flipped 2,000 of them.
fn report_render(_: u64) -> Result<Work> {
    use crate::report::{Failure, Renderer, Summary};
    use crate::store::read::CaseDetail;

    let timings = [
        "total",
        "dataset_loading",
        "execution",
        "scoring",
        "storing",
    ]
    .iter()
    .map(|c| crate::record::Timing {
        component: c.to_string(),
        parent: (*c != "total").then(|| "total".to_string()),
        duration_ms: 1000.0,
        calls: Some(10_000),
    })
    .collect();
    let mut report = Summary::default().report("bench", "run", "db", "finished", 0.9, timings);
    report.cases_total = 10_000;
    report.cases_passed = 8_000;
    report.cases_failed = 2_000;
    report.pass_rate = Some(0.8);
    report.failures = (0..10)
        .map(|i| Failure {
            case_id: format!("case-{i}"),
            source: format!("data.jsonl:{i}"),
            error: None,
            failed: vec!["contains \"refund\": output does not contain \"refund\"".into()],
            output: Some(kilobyte(i)),
        })
        .collect();
    let newly_failing: Vec<String> = (0..2_000).map(|i| format!("case-{i}")).collect();
    report.flipped = newly_failing
        .iter()
        .take(20)
        .map(|key| CaseDetail {
            key: key.clone(),
            description: None,
            passed: false,
            latency_ms: Some(500.0),
            output: Some(kilobyte(7)),
            error: None,
            expected: Some("refund".into()),
            reason: Some("output does not contain \"refund\"".into()),
        })
        .collect();
    report.comparison = Some(flipped_comparison(newly_failing));
    let renderer = Renderer::new(None)?;
    Ok(Box::new(move || {
        let comment = renderer
            .comment(&report, "<!-- ai-evals:bench -->")
            .expect("the comment renders");
        let summary = renderer.summary(&report).expect("the summary renders");
        black_box((comment, summary));
    }))
}

/// A comparison with a 30-run trend in which `newly_failing` flipped.
fn flipped_comparison(newly_failing: Vec<String>) -> crate::compare::baseline::Compared {
    use crate::compare::baseline::{Chosen, Compared, TrendPoint};
    use crate::compare::verdict::{Comparison, Family, Severity};
    use crate::store::read::RunRef;

    Compared {
        baseline: Chosen {
            run: RunRef {
                run_id: "base".into(),
                suite: "bench".into(),
                git_sha: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into()),
                branch: Some("main".into()),
            },
            why: "the newest run on main".into(),
            skipped: Vec::new(),
            renamed_from: None,
        },
        comparison: Comparison {
            baseline_run: "base".into(),
            baseline_sha: None,
            history_runs: 30,
            quality: flipped_quality(newly_failing),
            quality_severity: Severity::Minor,
            certain_severity: Severity::Minor,
            suite: None,
            suite_severity: Severity::None,
            findings: Vec::new(),
            worst: Severity::Minor,
            family: Family {
                tests: 6,
                alpha: 0.05 / 6.0,
            },
        },
        baseline_metrics: BTreeMap::new(),
        baseline_timings: BTreeMap::new(),
        trend: (0..30)
            .map(|i| TrendPoint {
                run_id: format!("run-{i}"),
                git_sha: Some(format!("{i:07}")),
                pass_rate: Some(0.9),
                latency_p50_ms: Some(500.0),
                cost_usd: Some(0.1),
                total_ms: Some(60_000.0),
            })
            .collect(),
    }
}

/// A pass-rate drop from 90 % on 10,000 cases: `newly_failing` flipped,
/// every one because its request changed.
fn flipped_quality(newly_failing: Vec<String>) -> crate::compare::verdict::QualityChange {
    use crate::compare::verdict::{Cause, CauseCount, Flip, QualityChange};

    let flips: Vec<Flip> = newly_failing
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
        .collect();
    QualityChange {
        shared_cases: 10_000,
        baseline_pass_rate: Some(0.9),
        current_pass_rate: Some(0.8),
        pass_rate_change: Some(crate::compare::stats::Interval {
            estimate: -0.1,
            low: -0.12,
            high: -0.08,
        }),
        p_value: Some(1e-12),
        newly_failing,
        newly_passing: Vec::new(),
        new_errors: Vec::new(),
        added_cases: 0,
        removed_cases: 0,
        causes: vec![CauseCount {
            cause: Cause::RequestChanged,
            newly_failing: flips.len(),
            newly_passing: 0,
            score_changed: 0,
        }],
        explanation: vec![format!(
            "{} cases newly failing: all {} because {}.",
            flips.len(),
            flips.len(),
            Cause::RequestChanged.because()
        )],
        attributable: flips.len() as f64,
        worse: flips.len() as f64 / 9_000.0,
        certain_failing: flips.len(),
        certain_worse: flips.len() as f64 / 9_000.0,
        baseline_passing: 9_000,
        flips,
        ..QualityChange::default()
    }
}
