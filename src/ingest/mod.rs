//! Ingest: dataset files and inline tests become cases, a batch at a time.

mod cases;
mod dataset;
mod ids;
mod prompt;
mod shard;

pub use cases::{Builder, Case, Origin, Rejection};
pub use dataset::{Location, Row, count_rows, read as read_dataset};
pub use prompt::Prompts;
pub use shard::Shard;
