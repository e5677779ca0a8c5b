//! Ingest: dataset files and inline tests become cases, a batch at a time.

pub mod cases;
pub mod dataset;
mod ids;
pub mod prompt;
pub mod shard;
