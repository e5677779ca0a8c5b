//! Compare: a run against its baseline and the baseline branch's history.

pub mod baseline;
pub mod stats;
pub mod verdict;
