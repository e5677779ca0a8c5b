//! ai-evals: LLM evaluations as a fast, rate-limit-aware CI gate.
//!
//! The pipeline, one module per stage (see DESIGN.md): `config` →
//! `dataset` → `cases` → `provider` (driven by `run`) → `scoring` → `store`
//! → `report`. `run` wires the stages together; `main.rs` only parses
//! arguments and maps errors to exit codes.

pub mod baseline;
pub mod bench;
pub mod budget;
pub mod cache;
pub mod cases;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod dataset;
pub mod error;
pub mod executor;
pub mod github;
pub mod grading;
pub mod log;
pub mod monitor;
pub mod performance;
pub mod pool;
pub mod pricing;
pub mod progress;
pub mod prompt;
pub mod provider;
pub mod publish;
pub mod record;
pub mod report;
pub mod run;
pub mod scoring;
pub mod secret;
pub mod shard;
pub mod stats;
pub mod store;
pub mod verdict;
