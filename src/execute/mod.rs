//! Execute: cases go to their providers within budgets, through the cache.

pub mod budget;
pub mod cache;
pub mod executor;
mod lane;
pub mod learned;
mod limits;
pub mod pacer;
pub mod pricing;
pub mod provider;

pub use lane::{Answer, Failure, Lane};
pub use limits::{Limits, Overrides};
