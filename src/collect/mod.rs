//! Server-side metrics (`collect:`): one source's samples, parsed and folded into the
//! figures of the stage.
//!
//! ```text
//! source ──sample──▶ Reading (name → Value) ──Aggregator──▶ ServerMetric per name
//! ```
//!
//! Pure parsing and aggregation, no I/O: `prometheus.rs` (the text-format tokenizer),
//! `reading.rs` (an exposition or a JSON document → named values) and `aggregate.rs`
//! (the `Aggregator`: samples → deltas, rates, averages, quantiles). The one file that
//! does I/O is `process.rs`: its `read`, `find` and `pid_from_file` read /proc
//! synchronously (called on the blocking pool); its `reading` turns two looks at a
//! process into a sample and is pure. Scheduling the samples (HTTP scrapes, commands,
//! the /proc reads) is async and lives in `exec/sampler.rs`.
//!
//! What this produces is typed in `crate::server` (below `results`, which stores it);
//! derived metrics, which read the whole `Results`, are `crate::derive`. A source that
//! fails is data: its failures are counted and its metrics are reported missing with the
//! reason, never an error of the run.

pub mod aggregate;
pub mod process;
pub mod prometheus;
pub mod reading;

use std::collections::BTreeMap;

use crate::server::{ServerMetric, SourceReport};

pub use aggregate::Aggregator;
pub use reading::{Reading, Value};

/// Everything the sampled sources produced for one run.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub metrics: BTreeMap<String, ServerMetric>,
    pub sources: BTreeMap<String, SourceReport>,
}
