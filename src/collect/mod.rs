//! Server-side metrics (`collect:`) and derived metrics (`derived:`): the pure half.
//!
//! ```text
//! source ──sample──▶ Reading (name → Value) ──Aggregator──▶ ServerMetric per name
//!                                                          ──derive──▶ DerivedValue
//! ```
//!
//! The sampling itself (HTTP scrapes, commands, /proc) is async and lives in
//! `exec/sampler.rs`; everything here is plain functions over plain data: the Prometheus
//! text parser, the JSON and /proc readers, the aggregation of a stage's samples into
//! deltas, rates, averages and quantiles, and the evaluation of derived expressions.
//! A source that fails is data: its failures are counted and its metrics are reported
//! missing with the reason, never an error of the run.

pub mod aggregate;
pub mod derive;
pub mod process;
pub mod prometheus;
pub mod reading;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use aggregate::Aggregator;
pub use derive::{derive, figure};
pub use reading::{Reading, Value};

/// How a server metric's samples are aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    /// Only grows (resets are followed): `delta` over the stage and `rate` per second.
    Counter,
    /// Goes up and down: `start`, `end`, `avg`, `min`, `max`, `delta`.
    Gauge,
    /// Prometheus histogram: quantiles of the stage's window from the bucket deltas.
    Histogram,
    /// Prometheus summary: the server's own quantiles, averaged over the samples.
    Summary,
}

impl ServerKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
        }
    }

    /// The figures a threshold or expression can ask of this kind, for messages.
    pub fn fields(self) -> &'static str {
        match self {
            Self::Counter => "value (= delta), count (= delta), delta, rate",
            Self::Gauge => "value (= end), start, end, avg, min, max, delta",
            Self::Histogram => "value (= count), count, sum, avg, med, pN",
            Self::Summary => {
                "value (= count), count, sum, avg, med, p50, p95, p99 (those the server exports)"
            }
        }
    }
}

/// One server metric over the stage's window: `SOURCE.metric` or
/// `SOURCE.metric{label:value,…}` in [`crate::results::Results::server`].
/// Figures that do not apply to its kind are absent; `missing` says why a metric that was
/// asked for (by `select`, `fields` or a `process` source) has no figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerMetric {
    /// `counter`, `gauge`, `histogram` or `summary`; absent when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ServerKind>,
    /// Samples of the source that had this metric.
    pub samples: u32,
    /// Counters: the increase over the window. Gauges: `end - start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// Counters: the increase per second between the first and the last sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    /// Gauges: the mean of the samples. Histograms and summaries: `sum / count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Histograms and summaries: observations in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<f64>,
    /// Histograms and summaries: the sum of the window's observations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
    /// Histograms: the window's cumulative bucket counts, `[le, count]` (`le` of `+Inf` is
    /// written as `null`), for other quantiles and for merging runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<[Option<f64>; 2]>,
    /// Summaries: each exported quantile, averaged over the samples, `[q, value]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<[f64; 2]>,
    /// Why there are no figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// How sampling one source went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceReport {
    /// `prometheus`, `json`, `process` or `command`.
    pub kind: String,
    /// Samples taken and read.
    pub samples: u32,
    /// Samples that failed (refused, timed out, bad status, unparseable).
    pub failed: u32,
    /// The last failure, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SourceReport {
    /// Why a metric of this source has no figures, when the source is the reason.
    pub fn failure(&self, source: &str) -> Option<String> {
        if self.samples > 0 {
            return None;
        }
        Some(match &self.error {
            Some(error) if self.failed > 0 => format!(
                "source `{source}` failed {} of {} samples: {error}",
                self.failed, self.failed
            ),
            _ => format!("source `{source}` took no samples"),
        })
    }
}

/// A derived metric's value after the run; `None` is "n/a" (a division by zero or a
/// figure that was not measured), with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DerivedValue {
    pub name: String,
    pub expression: String,
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Everything the sampled sources produced for one run.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub metrics: BTreeMap<String, ServerMetric>,
    pub sources: BTreeMap<String, SourceReport>,
}

/// The key of a metric with labels: `name{a:x,b:y}`, labels sorted by name.
pub fn key(name: &str, labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    let mut sorted: Vec<&(String, String)> = labels.iter().collect();
    sorted.sort();
    let inner: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}
