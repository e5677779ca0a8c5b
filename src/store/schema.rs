//! The history database's schema and its migrations.
//!
//! Migrations are numbered and applied in order, all of them inside one
//! transaction: a process killed while it creates or upgrades a history
//! leaves the file as it was (a new file empty), never half a schema.
//! `schema_version` records what has been applied, so an older database is
//! upgraded in place, an empty one is set up, and a newer one is refused
//! with a clear message.

use duckdb::Connection;

/// Each migration's SQL, in order; the version is its position plus one.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE runs (
        run_id        VARCHAR PRIMARY KEY,
        suite         VARCHAR NOT NULL,
        config_hash   VARCHAR NOT NULL,
        git_sha       VARCHAR,
        branch        VARCHAR,
        pr_number     BIGINT,
        tool_version  VARCHAR NOT NULL,
        started_at    TIMESTAMP NOT NULL,
        finished_at   TIMESTAMP,
        -- running | finished | failed | interrupted; a run killed outright stays 'running'
        status        VARCHAR NOT NULL,
        error         VARCHAR,
        cases_total   BIGINT,
        cases_passed  BIGINT,
        cases_errored BIGINT,
        rows_skipped  BIGINT,
        pass_rate     DOUBLE,
        mean_score    DOUBLE
    );
    -- Baseline lookups: newest run of a suite on a branch, or at a commit.
    CREATE INDEX runs_by_suite_branch ON runs (suite, branch, started_at);
    CREATE INDEX runs_by_sha ON runs (git_sha);

    -- No index on the result tables: rows are appended run by run, so
    -- DuckDB's min/max zone maps already skip other runs' row groups, and an
    -- index would slow every append and hold memory.
    CREATE TABLE case_results (
        run_id            VARCHAR NOT NULL,
        case_id           VARCHAR NOT NULL,
        repeat_index      INTEGER NOT NULL,
        ordinal           BIGINT NOT NULL,
        source            VARCHAR,
        description       VARCHAR,
        provider          VARCHAR NOT NULL,
        model             VARCHAR NOT NULL,
        prompt            VARCHAR,
        output            VARCHAR,
        passed            BOOLEAN NOT NULL,
        score             DOUBLE NOT NULL,
        threshold         DOUBLE,
        -- this run's time to the answer: the call, or the cache lookup
        latency_ms        DOUBLE,
        -- the provider call's latency when the answer was first obtained
        original_latency_ms DOUBLE,
        prompt_tokens     BIGINT,
        completion_tokens BIGINT,
        total_tokens      BIGINT,
        cost_usd          DOUBLE,
        cached            BOOLEAN NOT NULL,
        -- how the answer ended (stop, length, end_turn, refusal …)
        finish_reason     VARCHAR,
        -- provider calls made for this case, retries included
        attempts          INTEGER NOT NULL,
        error             VARCHAR
    );

    CREATE TABLE scores (
        run_id          VARCHAR NOT NULL,
        case_id         VARCHAR NOT NULL,
        repeat_index    INTEGER NOT NULL,
        assertion_index INTEGER NOT NULL,
        assertion_type  VARCHAR NOT NULL,
        passed          BOOLEAN NOT NULL,
        score           DOUBLE NOT NULL,
        weight          DOUBLE NOT NULL,
        expected        VARCHAR,
        reason          VARCHAR
    );

    CREATE TABLE timings (
        run_id      VARCHAR NOT NULL,
        component   VARCHAR NOT NULL,
        parent      VARCHAR,
        duration_ms DOUBLE NOT NULL,
        calls       BIGINT
    );

    CREATE TABLE metrics (
        run_id VARCHAR NOT NULL,
        name   VARCHAR NOT NULL,
        value  DOUBLE NOT NULL,
        unit   VARCHAR
    );
    "#,
    // 2: `ai-evals bench` results, one row per timed iteration.
    r#"
    CREATE TABLE bench_runs (
        bench_id     VARCHAR PRIMARY KEY,
        started_at   TIMESTAMP NOT NULL,
        git_sha      VARCHAR,
        branch       VARCHAR,
        tool_version VARCHAR NOT NULL
    );
    CREATE TABLE bench_samples (
        bench_id    VARCHAR NOT NULL,
        name        VARCHAR NOT NULL,
        iteration   INTEGER NOT NULL,
        -- one iteration's time; it made `ops` operations
        duration_ms DOUBLE NOT NULL,
        ops         BIGINT NOT NULL
    );
    "#,
    // 3: each run's report as JSON, so `ai-evals report` renders it again.
    r#"
    CREATE TABLE reports (
        run_id VARCHAR PRIMARY KEY,
        report VARCHAR NOT NULL
    );
    "#,
    // 4: the shard a run covered (`2/8`), or the shards a merged run unites
    // (`merged 4`); NULL for a whole suite.
    r#"
    ALTER TABLE runs ADD COLUMN shard VARCHAR;
    "#,
    // 5: what a comparison needs to tell why a case's outcome changed: the
    // request it made (its fingerprint), what decided its verdict (a hash
    // of its assertions), a hash of its output, and where the output came
    // from (model | replay | echo | given). NULL for runs stored before.
    r#"
    ALTER TABLE case_results ADD COLUMN request_hash VARCHAR;
    ALTER TABLE case_results ADD COLUMN scoring_hash VARCHAR;
    ALTER TABLE case_results ADD COLUMN output_hash VARCHAR;
    ALTER TABLE case_results ADD COLUMN answer_source VARCHAR;
    "#,
    // 6: prompt × provider matrices. A test run for several prompts or
    // providers is one case per combination, told apart by `variant`
    // (`PROMPT @ PROVIDER`, NULL for a test that runs once); `prompt_name`
    // is the prompt used, so results group by prompt and by provider.
    r#"
    ALTER TABLE case_results ADD COLUMN variant VARCHAR;
    ALTER TABLE case_results ADD COLUMN prompt_name VARCHAR;
    ALTER TABLE scores ADD COLUMN variant VARCHAR;
    "#,
    // 7: what keeps a case paired with the same test when the pull request
    // edits the suite: where its test was read (`row_key`, `file:line` with
    // the file relative to the config's folder), a hash of its variables
    // (`inputs_hash`), and whether its id was given or derived from its
    // content (`id_given`). Per run: the config file (`config_path`), which
    // finds a renamed suite's runs, and why the run cannot serve as a
    // baseline (`unfit`: a dataset cut short, malformed rows, no case
    // scored), NULL when it can.
    r#"
    ALTER TABLE case_results ADD COLUMN row_key VARCHAR;
    ALTER TABLE case_results ADD COLUMN inputs_hash VARCHAR;
    ALTER TABLE case_results ADD COLUMN id_given BOOLEAN;
    ALTER TABLE runs ADD COLUMN config_path VARCHAR;
    ALTER TABLE runs ADD COLUMN unfit VARCHAR;
    "#,
];

/// The first schema version whose cases carry fingerprints.
pub const FINGERPRINTS: i64 = 5;
/// The first schema version whose cases carry a matrix variant.
pub const VARIANTS: i64 = 6;

/// The first schema version whose cases carry a row identity and whose
/// runs say whether they can serve as a baseline.
pub const IDENTITIES: i64 = 7;

/// The schema version this build writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

/// The schema version of an open history.
pub fn version(conn: &Connection) -> duckdb::Result<i64> {
    conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )
}

/// Checks that a database opened read-only has the schema this build reads.
pub fn check(conn: &Connection) -> Result<(), String> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_version",
            [],
            |row| row.get(0),
        )
        .ok();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()",
            [],
            |row| row.get(0),
        )
        .unwrap_or(0);
    match found {
        // Every version up to ours holds the tables a comparison reads.
        Some(found) if (1..=CURRENT).contains(&found) => Ok(()),
        Some(found) if found > CURRENT => Err(format!(
            "the database has schema version {found}, this ai-evals reads 1 to {CURRENT}; use the ai-evals release that wrote it"
        )),
        // A schema never finished: a run stopped while it created the file
        // (before this build made that one transaction).
        Some(_) => Err(unset().into()),
        None if tables == 0 => Err(unset().into()),
        None => Err("not an ai-evals history (it has no schema_version table)".into()),
    }
}

/// Why a database without our schema is no history yet, and what to do.
fn unset() -> &'static str {
    "holds no ai-evals history yet: its schema was never written (a run stopped while it created the file, or it is a new DuckDB database). `ai-evals run --db` with it sets it up; or pass the history file you meant"
}

/// Brings the database to the current schema in one transaction; returns
/// the version it found. An empty database, or one left without a schema
/// by a run that stopped while it created it, is set up whole.
pub fn migrate(conn: &Connection) -> Result<i64, String> {
    conn.execute_batch("BEGIN TRANSACTION")
        .map_err(|e| e.to_string())?;
    let migrated = apply(conn);
    let ended = match migrated {
        Ok(_) => conn.execute_batch("COMMIT"),
        Err(_) => conn.execute_batch("ROLLBACK"),
    };
    let found = migrated?;
    ended.map_err(|e| format!("the schema could not be written: {e}"))?;
    Ok(found)
}

/// The migrations still missing, applied inside the caller's transaction.
fn apply(conn: &Connection) -> Result<i64, String> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER NOT NULL,
             applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp
         )",
    )
    .map_err(|e| e.to_string())?;
    let found: i64 = conn
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_version",
            [],
            |row| row.get(0),
        )
        .map_err(|e| e.to_string())?;
    if found > CURRENT {
        return Err(format!(
            "the database has schema version {found}, newer than this ai-evals knows ({CURRENT}); upgrade ai-evals"
        ));
    }
    for version in found + 1..=CURRENT {
        let sql = MIGRATIONS[(version - 1) as usize];
        let step = format!("{sql}; INSERT INTO schema_version (version) VALUES ({version});");
        conn.execute_batch(&step)
            .map_err(|e| format!("migration to schema version {version} failed: {e}"))?;
    }
    Ok(found)
}
