//! Tests that run the mock server and talk to it over real HTTP on 127.0.0.1.

mod anthropic;
mod behaviour;
mod binary;
mod chaos;
mod common;
mod limits;
mod noise;
mod openai;
