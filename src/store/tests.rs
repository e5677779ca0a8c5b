//! The store against real DuckDB files: the query cache, answers read
//! back in order, which runs are baselines, and a hostile database file.

use super::*;
use crate::record::{Answered, CaseRecord, CaseScore};

fn record(id: &str, latency: f64) -> CaseRecord {
    Answered {
        case_id: id.into(),
        repeat: 0,
        ordinal: 0,
        source: "t.jsonl:1".into(),
        description: None,
        provider: "p".into(),
        model: "m".into(),
        prompt: None,
        output: Some("out".into()),
        threshold: None,
        latency_ms: Some(latency),
        original_latency_ms: Some(latency),
        usage: None,
        cost_usd: None,
        cached: false,
        finish_reason: None,
        attempts: 1,
        error: None,
        request_hash: format!("req-{id}"),
        scoring_hash: "scoring".into(),
        output_hash: Some("out".into()),
        answer_source: crate::record::AnswerSource::Model,
        variant: None,
        prompt_name: None,
        identity: crate::record::RowIdentity::default(),
    }
    .scored(CaseScore {
        score: 1.0,
        passed: true,
        assertions: Vec::new(),
    })
}

fn info(id: &str) -> RunInfo {
    RunInfo {
        run_id: id.into(),
        suite: "s".into(),
        config_hash: "h".into(),
        git_sha: Some("abc".into()),
        branch: Some("main".into()),
        pr_number: None,
        tool_version: "0".into(),
        started_at: chrono::Utc::now().naive_utc(),
        shard: None,
        config_path: Some("evals.toml".into()),
    }
}

#[tokio::test]
async fn query_answers_are_reused_until_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("h.duckdb")).unwrap();
    store.begin_run(info("r1")).await.unwrap();
    store
        .write_batch("r1".into(), vec![record("a", 100.0), record("b", 300.0)])
        .await
        .unwrap();
    let run = store.find_run("r1").await.unwrap();
    assert_eq!(store.run_data(&run).await.unwrap().cases.len(), 2);
    assert_eq!(store.run_data(&run).await.unwrap().cases.len(), 2);
    assert_eq!(store.query_cache_counts(), (1, 1));

    store
        .write_batch("r1".into(), vec![record("c", 200.0)])
        .await
        .unwrap();
    assert_eq!(store.run_data(&run).await.unwrap().cases.len(), 3);
    assert_eq!(store.query_cache_counts(), (1, 2));

    let figures: BTreeMap<String, f64> =
        store.run_figures("r1").await.unwrap().into_iter().collect();
    assert_eq!(figures["latency_p50_ms"], 200.0);
    assert_eq!(figures["latency_mean_ms"], 200.0);
    assert!(!figures.contains_key("tokens_mean"));
}

#[tokio::test]
async fn completion_tokens_percentile_per_provider() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("h.duckdb")).unwrap();
    store.begin_run(info("r1")).await.unwrap();
    let records: Vec<CaseRecord> = (1..=100)
        .map(|i| {
            let mut r = record(&format!("c{i}"), 1.0);
            r.usage = Some(crate::record::Usage {
                prompt_tokens: 5,
                completion_tokens: i,
                total_tokens: 5 + i,
            });
            r
        })
        .chain([{
            let mut r = record("failed", 1.0);
            r.error = Some("timeout".into());
            r
        }])
        .collect();
    store.write_batch("r1".into(), records).await.unwrap();
    assert_eq!(
        store.completion_p95("r1").await.unwrap(),
        [("p".to_string(), 96)]
    );
    assert!(store.completion_p95("none").await.unwrap().is_empty());
}

#[tokio::test]
async fn answers_come_back_in_the_order_asked_cut_to_length() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("h.duckdb")).unwrap();
    store.begin_run(info("r1")).await.unwrap();
    let mut plain = record("a", 100.0);
    plain.prompt = Some("Q: a".into());
    plain.output = Some("é".repeat(50));
    plain.assertions = ["first", "second"]
        .into_iter()
        .map(|expected| crate::assertion::AssertionResult {
            kind: crate::assertion::Type::Contains,
            negate: expected == "second",
            passed: expected == "first",
            score: 0.5,
            weight: 1.0,
            expected: expected.into(),
            reason: format!("why {expected}"),
            metric: None,
        })
        .collect();
    let mut variant = record("a", 200.0);
    variant.variant = Some("terse @ p".into());
    variant.output = None;
    variant.error = Some("timed out".into());
    store
        .write_batch("r1".into(), vec![plain, variant])
        .await
        .unwrap();
    let key = |variant: Option<&str>| CaseKey {
        id: "a".into(),
        repeat: 0,
        variant: variant.map(str::to_string),
    };
    let missing = CaseKey {
        id: "gone".into(),
        ..key(None)
    };
    let answers = store
        .answers("r1", vec![key(Some("terse @ p")), missing, key(None)], 10)
        .await
        .unwrap();
    assert_eq!(answers.len(), 3);
    let with_variant = answers[0].as_ref().unwrap();
    assert_eq!(with_variant.error.as_deref(), Some("timed out"));
    assert_eq!(with_variant.output, None);
    assert!(answers[1].is_none());
    let plain = answers[2].as_ref().unwrap();
    let output = plain.output.as_ref().unwrap();
    assert_eq!(
        (output.text.as_str(), output.chars),
        ("é".repeat(10).as_str(), 50)
    );
    assert!(output.is_cut());
    assert!(!plain.prompt.as_ref().unwrap().is_cut());
    let kinds: Vec<(&str, bool)> = plain
        .assertions
        .iter()
        .map(|a| (a.kind.as_str(), a.passed))
        .collect();
    assert_eq!(kinds, [("contains", true), ("not-contains", false)]);
    assert_eq!(plain.assertions[1].reason.as_deref(), Some("why second"));
}

/// `bytes` of words no compression shrinks much, the same for a `seed`.
fn prose(seed: u64, bytes: usize) -> String {
    let mut x = seed;
    let mut text = String::with_capacity(bytes + 16);
    while text.len() < bytes {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let letters = 2 + (x >> 61) as usize;
        text.extend((0..letters).map(|k| char::from(b'a' + ((x >> (5 * k + 20)) % 26) as u8)));
        text.push(' ');
    }
    text
}

/// Answers of 100 KB with prompts as long: DuckDB's first 24 MB pool
/// cannot commit the second batch of them, nor read them back; the
/// store grows its pool and loses none.
#[tokio::test]
async fn answers_too_wide_for_the_first_pool_are_stored_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.duckdb");
    let wide = |id: &str, seed: u64| {
        let mut r = record(id, 1.0);
        r.prompt = Some(prose(seed, 100_000));
        r.output = Some(prose(seed + 1, 100_000));
        r
    };
    let store = Store::open(&path).unwrap();
    store.begin_run(info("r1")).await.unwrap();
    let mut keys = Vec::new();
    for batch in 0..4u64 {
        let records: Vec<CaseRecord> = (0..50u64)
            .map(|i| wide(&format!("c{batch}-{i}"), 2 * (batch * 50 + i)))
            .collect();
        keys.extend(records.iter().map(|r| CaseKey {
            id: r.case_id.clone(),
            repeat: 0,
            variant: None,
        }));
        store.write_batch("r1".into(), records).await.unwrap();
    }
    store.close();

    let store = Store::open_with(&path, Access::ReadOnly).unwrap();
    let run = store.find_run("r1").await.unwrap();
    assert_eq!(store.run_data(&run).await.unwrap().cases.len(), 200);
    // None written twice when a checkpoint after a commit ran out.
    assert_eq!(store.all_cases("r1").await.unwrap().len(), 200);
    let answers = store.answers("r1", keys, 200_000).await.unwrap();
    for (n, answer) in answers.iter().enumerate() {
        let output = answer.as_ref().unwrap().output.as_ref().unwrap();
        assert_eq!(output.text, prose(2 * n as u64 + 1, 100_000), "case {n}");
    }
}

/// Four runs on main: r1 healthy; r2 an outage (3 of 4 cases errored);
/// r3 cut short; r4 never finished.
async fn four_runs(store: &Store) {
    for (id, errored, unfit) in [
        ("r1", 0, None),
        ("r2", 3, None),
        ("r3", 0, Some("a dataset was cut short")),
        ("r4", 0, None),
    ] {
        store.begin_run(info(id)).await.unwrap();
        if id == "r4" {
            continue;
        }
        let totals = RunTotals {
            status: RunStatus::Finished,
            error: None,
            finished_at: chrono::Utc::now().naive_utc(),
            cases_total: 4,
            cases_passed: 4 - errored,
            cases_errored: errored,
            rows_skipped: 0,
            pass_rate: None,
            mean_score: None,
            unfit: unfit.map(str::to_string),
        };
        let timing = Timing {
            component: "total".into(),
            parent: None,
            duration_ms: 10.0,
            calls: None,
        };
        let metric = Metric {
            name: "peak_rss_mb".into(),
            value: 50.0,
            unit: None,
        };
        store
            .finish_run(id.into(), totals, vec![timing], vec![metric])
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn baselines_and_history_come_from_healthy_finished_runs_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("h.duckdb")).unwrap();
    four_runs(&store).await;
    let main = || read::At::Branch("main".into());
    let all = store.candidates("s", main(), None, 10).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|c| c.run.run_id.as_str()).collect();
    assert_eq!(ids, ["r4", "r3", "r2", "r1"], "newest first, any status");
    assert_eq!(all[0].status, "running");
    assert_eq!(all[1].unfit.as_deref(), Some("a dataset was cut short"));
    assert_eq!((all[2].cases_errored, all[2].cases_total), (3, 4));
    let other = store.candidates("s", main(), Some("r4"), 1).await.unwrap();
    assert_eq!(other[0].run.run_id, "r3");
    let at = |sha: &str| read::At::Commit(sha.into());
    assert_eq!(
        store
            .candidates("s", at("abc"), None, 10)
            .await
            .unwrap()
            .len(),
        4
    );
    assert!(
        store
            .candidates("s", at("def"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let query = |max_errors: f64| read::HistoryQuery {
        suite: "s".into(),
        branch: "main".into(),
        exclude: None,
        baseline: None,
        limit: 30,
        max_errors,
    };
    let history = store.history(query(0.2)).await.unwrap();
    assert_eq!(history.runs.len(), 1, "only r1 is healthy");
    assert_eq!(history.runs[0].timings["total"], 10.0);
    assert_eq!(history.runs[0].metrics["peak_rss_mb"], 50.0);
    assert_eq!(store.history(query(1.0)).await.unwrap().runs.len(), 2);
    assert_eq!(
        store.renamed_from("evals.toml", "renamed").await.unwrap(),
        Some("s".into())
    );
    assert_eq!(store.renamed_from("evals.toml", "s").await.unwrap(), None);
    assert!(store.find_run("r").await.is_err(), "an ambiguous prefix");
    assert_eq!(store.find_run("r1").await.unwrap().run_id, "r1");
}

/// A history file whose `runs` is a view reading a local file, as a
/// hostile artifact could hold.
fn hostile(dir: &Path, secret: &Path) -> PathBuf {
    let path = dir.join("hostile.duckdb");
    Store::open(&path).unwrap().close();
    let conn = Connection::open(&path).unwrap();
    let file = secret.display().to_string().replace('\'', "''");
    conn.execute_batch(&format!(
        "DROP TABLE runs;
         CREATE MACRO steal() AS TABLE SELECT content FROM read_text('{file}');
         CREATE VIEW runs AS SELECT content AS run_id, content AS suite FROM read_text('{file}')"
    ))
    .unwrap();
    drop(conn);
    path
}

#[tokio::test]
async fn a_database_cannot_read_files_or_change_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "top-secret-value").unwrap();
    let path = hostile(dir.path(), &secret);
    for access in [Access::ReadOnly, Access::ReadWrite] {
        let store = Store::open_with(&path, access).unwrap();
        let found = store
            .read(|conn| conn.query_row("SELECT suite FROM runs", [], |r| r.get::<_, String>(0)))
            .await;
        let e = found.expect_err("the view must not read the file");
        assert!(!e.message().contains("top-secret"), "{}", e.message());
        assert_eq!(e.exit_code(), 2, "{}", e.message());
        let stolen = store
            .read(|conn| conn.query_row("SELECT * FROM steal()", [], |r| r.get::<_, String>(0)))
            .await;
        assert!(stolen.is_err(), "the macro must not read the file");
        // Nothing in a later statement can turn the protection off.
        for set in [
            "SET enable_external_access = true",
            "SET autoload_known_extensions = true",
            "SET lock_configuration = false",
        ] {
            let sql = set.to_string();
            let changed = store
                .write(move |conn| conn.execute_batch(&sql), db_error)
                .await;
            assert!(changed.is_err(), "{set} was allowed");
        }
    }
}
