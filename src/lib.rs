//! loadplan: a load-test runner driven by YAML plans.
//!
//! The pipeline reads top to bottom: [`plan`] turns YAML into a checked plan (or located
//! diagnostics, [`diag`]); [`exec`] runs it into [`results::Results`] (with server-side
//! figures from [`collect`], typed in [`server`], and [`derive`](mod@derive)d metrics);
//! [`verdict`] judges it and [`report`] writes it; [`run`] drives the command line. How a
//! command fails, and with which exit code, is [`error::Error`].
//!
//! The modules are layered, lowest first: `exit_code`, `diag`, `redact` → `error` → `plan` →
//! `schedule`, `segment` → `server` → `results` → `collect` → `derive` → `verdict` → `report` →
//! `mock` → `exec` → `cli` → `run`. A module imports only its own layer or below;
//! `.ci/layers` checks it.

pub mod cli;
pub mod collect;
pub mod derive;
pub mod diag;
pub mod error;
pub mod exec;
pub mod exit_code;
pub mod init;
pub mod mock;
pub mod plan;
pub mod redact;
pub mod report;
pub mod results;
mod run;
pub mod schedule;
pub mod segment;
pub mod server;
pub mod verdict;

pub use run::run;
