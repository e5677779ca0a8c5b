//! The history file: created with its schema, reused across runs, and
//! refused with a clear message when it is not ours to read.

use crate::support::{Suite, column, echo_config, number};

fn suite() -> Suite {
    Suite::new(&echo_config(
        "[[tests]]\nid = \"a\"\nvars = { q = 1 }\nassert = [{ type = \"contains\", value = \"1\" }]\n",
    ))
}

#[test]
fn schema_is_created_once_and_runs_accumulate() {
    let suite = suite();
    suite.run(&[]).expect_code(0);
    suite.run(&[]).expect_code(0);
    assert_eq!(number(&suite.db(), "SELECT count(*) FROM runs"), 2);
    assert_eq!(
        column(
            &suite.db(),
            "SELECT version::VARCHAR FROM schema_version ORDER BY version"
        ),
        ["1", "2", "3", "4", "5", "6", "7"]
    );
    let run = column(
        &suite.db(),
        "SELECT suite || ' ' || length(config_hash) || ' ' || tool_version FROM runs LIMIT 1",
    );
    assert_eq!(run, [format!("t 16 {}", env!("CARGO_PKG_VERSION"))]);
}

#[test]
fn a_file_that_is_not_duckdb_is_refused() {
    let suite = suite();
    suite.write("history.duckdb", "id,name\n1,not a database\n");
    let run = suite.run(&[]);
    run.expect_code(2);
    let expected = format!(
        "error: {} is not a DuckDB database. Pass --db a new path or an ai-evals history file.",
        suite.db().display()
    );
    assert!(run.stderr().contains(&expected), "{}", run.stderr());
}

#[test]
fn another_storage_version_is_refused() {
    let suite = suite();
    let old = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/duckdb/written-by-duckdb-0.8.1.duckdb");
    std::fs::copy(old, suite.db()).unwrap();
    let run = suite.run(&[]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(
        err.contains("was written by another DuckDB storage version than this ai-evals reads"),
        "{err}"
    );
    assert!(err.contains("storage version number 51"), "{err}");
    assert_eq!(
        err.lines().count(),
        1,
        "one line, not DuckDB's paragraph: {err}"
    );
}

#[test]
fn a_damaged_database_is_refused() {
    let suite = suite();
    suite.run(&[]).expect_code(0);
    let mut bytes = std::fs::read(suite.db()).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(suite.db(), bytes).unwrap();
    let run = suite.run(&[]);
    run.expect_code(2);
    assert!(run.stderr().contains("is damaged: "), "{}", run.stderr());
}

#[test]
fn schema_from_a_newer_release_is_refused() {
    let suite = suite();
    suite.run(&[]).expect_code(0);
    {
        let conn = duckdb::Connection::open(suite.db()).unwrap();
        conn.execute_batch("INSERT INTO schema_version (version) VALUES (99)")
            .unwrap();
    }
    let run = suite.run(&[]);
    run.expect_code(2);
    assert!(
        run.stderr().contains(
            "has schema version 99, newer than this ai-evals knows (7); upgrade ai-evals"
        ),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_history_whose_views_read_files_reads_nothing() {
    let suite = suite();
    suite.run(&[]).expect_code(0);
    let secret = suite.path("secret.txt");
    std::fs::write(&secret, "top-secret-value").unwrap();
    let conn = duckdb::Connection::open(suite.db()).unwrap();
    conn.execute_batch(&format!(
        "DROP TABLE runs; CREATE VIEW runs AS SELECT content AS run_id, content AS suite,
         NULL AS git_sha, NULL AS branch, now() AS started_at, 'finished' AS status
         FROM read_text('{}')",
        secret.display()
    ))
    .unwrap();
    drop(conn);
    for args in [&["history"][..], &["report", "--no-comment"][..]] {
        let mut cmd = std::process::Command::new(crate::support::BIN);
        cmd.args(args).arg("--db").arg(suite.db());
        crate::support::clean_env(&mut cmd);
        let out = crate::support::Run(cmd.output().unwrap());
        out.expect_code(2);
        assert!(!out.stdout().contains("top-secret"), "{}", out.stdout());
        assert!(!out.stderr().contains("top-secret"), "{}", out.stderr());
        assert!(
            out.stderr().contains("reach outside itself"),
            "{}",
            out.stderr()
        );
    }
}

/// `ai-evals COMMAND --db DB` and its output.
fn command(args: &[&str], db: &std::path::Path) -> crate::support::Run {
    let mut cmd = std::process::Command::new(crate::support::BIN);
    cmd.args(args).arg("--db").arg(db);
    crate::support::clean_env(&mut cmd);
    crate::support::Run(cmd.output().unwrap())
}

#[test]
fn an_empty_file_is_bad_input() {
    let suite = suite();
    suite.write("history.duckdb", "");
    for args in [&["history"][..], &["report"], &["compare"]] {
        let run = command(args, &suite.db());
        run.expect_code(2);
        assert!(
            run.stderr()
                .contains("is empty (0 bytes): it holds no ai-evals history"),
            "{args:?}: {}",
            run.stderr()
        );
    }
    let run = suite.run(&[]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("is empty (0 bytes): DuckDB cannot open it. Delete it"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::metadata(suite.db()).unwrap().len(),
        0,
        "the file was changed"
    );
}

#[test]
fn a_database_without_our_schema_is_named_for_what_it_is_and_a_run_sets_it_up() {
    // A new DuckDB file, and one left by a run stopped while it created
    // the schema (before that was one transaction): the version table
    // alone, empty.
    for setup in [
        "",
        "CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)",
    ] {
        let suite = suite();
        {
            let conn = duckdb::Connection::open(suite.db()).unwrap();
            if !setup.is_empty() {
                conn.execute_batch(setup).unwrap();
            }
        }
        let run = command(&["history"], &suite.db());
        run.expect_code(2);
        assert!(
            run.stderr()
                .contains("holds no ai-evals history yet: its schema was never written")
                && !run.stderr().contains("schema version 0"),
            "{setup}: {}",
            run.stderr()
        );
        suite.run(&[]).expect_code(0);
        assert_eq!(number(&suite.db(), "SELECT count(*) FROM runs"), 1);
        assert_eq!(
            number(&suite.db(), "SELECT max(version) FROM schema_version"),
            7
        );
    }
}
