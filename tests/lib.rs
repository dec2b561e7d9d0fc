//! Integration tests: one crate that drives the real binary and the library.

mod common;
mod examples;
mod invalid_plans;
mod mutation;
mod schema;
mod validate;
