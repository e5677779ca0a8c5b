//! GitHub: where a run's report goes when it runs in Actions, and where
//! the history lives between runs.
//!
//! [`api`] is the client (octocrab, with timeouts); [`event`] reads the
//! pull request a job runs for; [`comment`] keeps one sticky comment per
//! suite on it; [`actions`] writes the step summary, outputs and
//! annotations; [`artifacts`] fetches a branch's history artifact;
//! [`keys`] names the Action's cache entries; [`caches`] deletes
//! superseded ones.

pub mod actions;
pub mod api;
pub mod artifacts;
pub mod caches;
pub mod comment;
pub mod event;
pub mod keys;

pub use event::PullRequest;
