//! ai-evals: LLM evaluations as a fast, rate-limit-aware CI gate.
//!
//! The pipeline, one module per stage (see DESIGN.md): `config` →
//! `dataset` → `cases` → `provider` (driven by `run`) → `scoring` → `store`
//! → `report`. `run` wires the stages together; `main.rs` only parses
//! arguments and maps errors to exit codes.

pub mod assertion;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod config;
pub mod error;
pub mod execute;
pub mod ingest;
pub mod log;
pub mod publish;
pub mod record;
pub mod report;
pub mod score;
pub mod secret;
pub mod store;
pub mod units;
