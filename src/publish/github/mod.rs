//! GitHub: where a run's report goes when it runs in Actions.
//!
//! [`event`] reads the pull request a job runs for; [`comment`] keeps one
//! sticky comment per suite on it (octocrab, against `$GITHUB_API_URL`);
//! [`actions`] writes the step summary, outputs and annotations.

pub mod actions;
pub mod comment;
pub mod event;

pub use event::PullRequest;
