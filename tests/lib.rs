//! Integration tests: one crate that drives the real binary and the library.

mod backoff;
mod collect;
mod common;
mod counts;
mod docs;
mod documents;
mod examples;
mod hostile_errors;
mod invalid_plans;
mod knobs;
mod latency;
mod limits;
mod mock;
mod mutation;
mod open_files;
mod report;
mod run;
mod schema;
mod validate;
mod wire;
mod wsclock;
