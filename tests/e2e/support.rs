//! Helpers: a suite in a temporary folder, the binary run on it, and SQL on
//! the database it wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_ai-evals");

/// A suite folder with an `evals.toml` and whatever files a test adds.
pub struct Suite {
    pub dir: TempDir,
}

impl Suite {
    pub fn new(config: &str) -> Suite {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("evals.toml"), config).expect("write config");
        Suite { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> &Suite {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, contents).expect("write file");
        self
    }

    pub fn db(&self) -> PathBuf {
        self.path("history.duckdb")
    }

    /// Runs `ai-evals run` on this suite with extra arguments.
    pub fn run(&self, extra: &[&str]) -> Run {
        self.run_env(extra, &[])
    }

    /// Runs `ai-evals run` with extra arguments and environment variables.
    pub fn run_env(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg("--config")
            .arg(self.path("evals.toml"))
            .arg("--db")
            .arg(self.db())
            .args(extra)
            .current_dir(self.dir.path());
        clean_env(&mut cmd);
        cmd.envs(env.iter().copied());
        Run(cmd.output().expect("run ai-evals"))
    }
}

/// Keeps the test's own CI environment out of the run.
pub fn clean_env(cmd: &mut Command) {
    for var in [
        "GITHUB_ACTIONS",
        "GITHUB_EVENT_PATH",
        "GITHUB_SHA",
        "GITHUB_REF_NAME",
        "GITHUB_HEAD_REF",
        "GITHUB_BASE_REF",
        "GITHUB_TOKEN",
        "GITHUB_API_URL",
        "GITHUB_GRAPHQL_URL",
        "GITHUB_EVENT_NAME",
        "GITHUB_REF",
        "GITHUB_REF_TYPE",
        "GITHUB_JOB",
        "GITHUB_SERVER_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_RUN_ID",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
        "GITHUB_WORKSPACE",
        "GH_TOKEN",
        "AI_EVALS_CONFIG",
        "AI_EVALS_DB",
        "AI_EVALS_CACHE_DIR",
        "AI_EVALS_GITHUB_TOKEN",
    ] {
        cmd.env_remove(var);
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exit code")
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Opens a database the binary wrote, read-only.
pub fn open(db: &Path) -> duckdb::Connection {
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .expect("config");
    duckdb::Connection::open_with_flags(db, config).expect("open database")
}

/// The first column of every row of `sql`, as strings.
pub fn column(db: &Path, sql: &str) -> Vec<String> {
    let conn = open(db);
    let mut stmt = conn.prepare(sql).expect("prepare");
    let rows = stmt
        .query_map([], |row| row.get::<_, Option<String>>(0))
        .expect("query");
    rows.map(|r| r.expect("row").unwrap_or_else(|| "NULL".into()))
        .collect()
}

/// A single number from `sql`.
pub fn number(db: &Path, sql: &str) -> i64 {
    open(db)
        .query_row(sql, [], |row| row.get::<_, i64>(0))
        .expect("query")
}

/// A config with one echo provider and a `{{ q }}` prompt, plus `extra`.
pub fn echo_config(extra: &str) -> String {
    format!(
        r#"[suite]
name = "t"

[prompts]
ask = "Q: {{{{ q }}}}"

[providers.echo]
type = "echo"

{extra}
"#
    )
}
