//! Execute: cases go to their providers within budgets, through the cache.

pub mod cache;
pub mod executor;
mod lane;
mod limits;
pub mod pacer;
pub mod pricing;
pub mod provider;

pub use lane::{Answer, Failure, Lane};
pub use limits::{Limits, Overrides};
