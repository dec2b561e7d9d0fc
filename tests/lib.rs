//! Integration tests: one crate that drives the real binary and the library.

mod backoff;
mod ci_recipes;
mod collect;
mod common;
mod counts;
mod docs;
mod documents;
mod examples;
mod fill;
mod hostile_errors;
mod invalid_plans;
mod knobs;
mod latency;
mod limits;
mod mock;
mod mutation;
mod open_files;
mod outputs;
mod report;
mod run;
mod schema;
mod segments;
mod templates;
mod validate;
mod wire;
mod wsclock;
