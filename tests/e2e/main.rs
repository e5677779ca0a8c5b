//! End-to-end tests of the `ai-evals` binary on real files and real DuckDB
//! databases. One test crate, so DuckDB is linked once for all of them.

mod support;

mod action;
mod cache;
mod chaos;
mod compare;
mod config_errors;
mod database;
mod datasets;
mod gate;
mod github;
mod grading;
mod hardened;
mod hostile;
mod interrupted;
mod matrix;
mod pacing;
mod promptfoo;
mod providers;
mod redirects;
mod report_page;
mod run;
mod scripts;
mod secrets;
mod shard;
mod stdout;
mod suite_change;
