//! loadplan: a load-test runner driven by YAML plans.
//!
//! The pipeline reads top to bottom: [`plan`] turns YAML into a checked plan (or located
//! diagnostics, [`diag`]); [`run`] drives the command line.

pub mod cli;
pub mod collect;
pub mod derive;
pub mod diag;
pub mod exec;
pub mod exit_code;
pub mod mock;
pub mod plan;
pub mod report;
pub mod results;
mod run;
pub mod schedule;
pub mod server;
pub mod verdict;

pub use run::run;
