//! The connection on the database thread, and the size of DuckDB's buffer
//! pool it opens with.
//!
//! A small pool keeps a million-case run's pages on disk (24 MB: 1M
//! cases in under 100 MB). Wide rows need more: DuckDB holds a vector of
//! 2,048 values at once and pins the long strings a checkpoint rewrites,
//! so answers of 12 KB fail to store at 24 MB and answers of 27 KB fail to
//! be read back at 64 MB. Rather than size the pool for the widest suite
//! anyone might run, a statement that runs out of memory reopens the
//! connection with twice the pool and runs again, up to [`MOST_POOL_MB`].
//!
//! Running again is safe because a statement that failed left nothing
//! behind: a transaction that fails to commit is rolled back. The one
//! exception is DuckDB's own checkpoint after a commit: when it runs out
//! of memory the transaction stays committed (and the instance must be
//! reopened), so a write says what it returns once committed and is not
//! run twice.

use std::path::{Path, PathBuf};

use duckdb::Connection;

use super::{Access, open_connection};
use crate::error::{Error, Result};
use crate::log;

/// The pool a connection first opens with.
const FIRST_POOL_MB: u64 = 24;
/// The largest pool a connection grows to.
const MOST_POOL_MB: u64 = 8 * 1024;

/// The database thread's connection and what reopening it takes.
pub(super) struct Db {
    conn: Connection,
    path: PathBuf,
    access: Access,
    attach: Vec<PathBuf>,
    pool_mb: u64,
}

impl Db {
    /// Opens `path`, with a larger pool while replaying what a killed run
    /// left in the log runs out of memory.
    pub(super) fn open(path: &Path, access: Access, attach: Vec<PathBuf>) -> Result<Db> {
        let (conn, pool_mb) = open_growing(path, access, &attach, FIRST_POOL_MB)?;
        Ok(Db {
            conn,
            path: path.to_path_buf(),
            access,
            attach,
            pool_mb,
        })
    }

    /// Runs `f`, and again with a larger pool while DuckDB runs out of
    /// memory. `committed` is what `f` returns when its transaction was
    /// committed and only the checkpoint after it ran out of memory (none
    /// for a read, which commits nothing).
    pub(super) fn run<R, E: std::fmt::Display>(
        &mut self,
        f: &dyn Fn(&mut Connection) -> std::result::Result<R, E>,
        failed: fn(E) -> Error,
        committed: Option<R>,
    ) -> Result<R> {
        loop {
            let error = match f(&mut self.conn) {
                Err(e) if short_of_memory(&e.to_string()) && self.pool_mb < MOST_POOL_MB => e,
                result => return result.map_err(failed),
            };
            self.reopen(self.pool_mb * 2)?;
            if was_committed(&error.to_string()) {
                return committed.ok_or_else(|| failed(error));
            }
        }
    }

    /// Writes what the log holds into the file, at close, so that DuckDB's
    /// own checkpoint on closing has nothing left to run out of memory on.
    pub(super) fn checkpoint(&mut self) -> Result<()> {
        if self.access == Access::ReadOnly {
            return Ok(());
        }
        let checkpoint = |conn: &mut Connection| conn.execute_batch("CHECKPOINT");
        self.run(&checkpoint, duckdb_error, Some(()))
    }

    fn reopen(&mut self, pool_mb: u64) -> Result<()> {
        log::debug(&format!(
            "DuckDB ran out of its {} MB buffer pool: reopening {} with {pool_mb} MB",
            self.pool_mb,
            self.path.display()
        ));
        // The file admits one instance at a time: the old one closes first.
        let placeholder = Connection::open_in_memory()
            .map_err(|e| Error::runtime(format!("cannot reopen the database: {e}")))?;
        drop(std::mem::replace(&mut self.conn, placeholder));
        let (conn, pool_mb) = open_growing(&self.path, self.access, &self.attach, pool_mb)?;
        self.conn = conn;
        self.pool_mb = pool_mb;
        Ok(())
    }
}

fn open_growing(
    path: &Path,
    access: Access,
    attach: &[PathBuf],
    mut pool_mb: u64,
) -> Result<(Connection, u64)> {
    loop {
        match open_connection(path, access, attach, pool_mb) {
            Err(e) if short_of_memory(&e.to_string()) && pool_mb < MOST_POOL_MB => pool_mb *= 2,
            result => return result.map(|conn| (conn, pool_mb)),
        }
    }
}

fn duckdb_error(e: duckdb::Error) -> Error {
    Error::runtime(format!("cannot write the history's log into the file: {e}"))
}

/// Whether DuckDB's message says its buffer pool was too small.
fn short_of_memory(message: &str) -> bool {
    message.contains("Out of Memory Error")
        || message.contains("failed to pin block")
        || message.contains("failed to allocate data")
}

/// Whether DuckDB's message says the transaction was committed before
/// the checkpoint after it failed.
fn was_committed(message: &str) -> bool {
    message.contains("COMMIT succeeded and is durable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duckdb_running_out_of_its_pool_is_told_from_other_errors() {
        let commit = "TransactionContext Error: Failed to commit: failed to pin block of size 256.0 KiB (22.8 MiB/22.8 MiB used)";
        let scan = "Out of Memory Error: failed to allocate data of size 64.0 MiB (602.0 KiB/22.8 MiB used)";
        assert!(short_of_memory(commit));
        assert!(short_of_memory(scan));
        assert!(!short_of_memory(
            "Constraint Error: Duplicate key \"run_id: r1\""
        ));
        assert!(!short_of_memory("IO Error: Could not set lock on file"));
        let checkpoint = "FATAL Error: Transaction COMMIT succeeded and is durable, but the autocheckpoint failed. Reopen the database instance to recover. Failed to create checkpoint because of error: failed to pin block of size 256.0 KiB (22.7 MiB/22.8 MiB used)";
        assert!(short_of_memory(checkpoint) && was_committed(checkpoint));
        assert!(!was_committed(commit));
    }
}
