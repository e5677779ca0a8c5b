//! Execute: cases go to their providers within budgets, through the cache.

pub mod budget;
pub mod cache;
pub mod executor;
pub mod learned;
pub mod pacer;
pub mod pricing;
pub mod provider;
