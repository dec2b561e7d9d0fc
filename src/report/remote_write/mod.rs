//! Prometheus remote write (protocol 1.0: a `WriteRequest` protobuf, snappy-compressed) of
//! a run's metrics so far: what `--out prometheus=URL` sends every `every` while the run
//! goes (the sending is `exec`'s). Pure: `Results` in, the request body out.
//!
//! Names follow Prometheus conventions (`loadplan_http_reqs_total`,
//! `loadplan_http_req_duration_seconds`, `loadplan_vus`); trends are native histograms
//! (or classic ones with `buckets:`), so quantiles add up across scenarios, time and
//! segments. docs/outputs.md has the table.
//!
//! - `prompb.rs`: the protobuf messages (prost derives, Prometheus's field numbers);
//! - `native.rs`: an HdrHistogram as a native (schema 5, ≤ 256 buckets) or classic
//!   histogram in seconds;
//! - `names.rs`: sanitized metric and label names, sorted label sets.
//!
//! A request carries at most [`MAX_SERIES`] series; the rest are dropped and counted in
//! [`Encoded::dropped`].

use std::collections::HashSet;
use std::time::Duration;

use hdrhistogram::Histogram;
use prost::Message;

use crate::redact::Redactor;
use crate::results::{Results, SeriesData, SeriesKey};

mod names;
mod native;
pub mod prompb;

pub use native::{MAX_BUCKETS, SCHEMA};

use names::{LabelSet, PREFIX, metric_name};
use prompb::{Sample, TimeSeries, WriteRequest};

/// The most series one request carries: beyond it, series are dropped (and counted), so a
/// plan with unbounded tags cannot flood the receiver.
pub const MAX_SERIES: usize = 10_000;

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
    /// Samples left out because the request reached [`MAX_SERIES`] series, or because
    /// their series' labels came out the same as an earlier one's: they count in
    /// `output_dropped` too.
    pub dropped: u64,
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
        self.encode_with_dropped(results, timestamp_ms, None)
    }

    /// [`Self::encode`], plus `loadplan_output_dropped_total` = `output_dropped` (samples
    /// the output could not deliver so far) when it is given.
    pub fn encode_with_dropped(
        &self,
        results: &Results,
        timestamp_ms: i64,
        output_dropped: Option<u64>,
    ) -> Encoded {
        self.encode_capped(results, timestamp_ms, output_dropped, MAX_SERIES)
    }

    fn encode_capped(
        &self,
        results: &Results,
        timestamp_ms: i64,
        output_dropped: Option<u64>,
        cap: usize,
    ) -> Encoded {
        let mut series = self.series(results, timestamp_ms, output_dropped);
        let count = |series: &[TimeSeries]| -> u64 {
            series
                .iter()
                .map(|s| (s.samples.len() + s.histograms.len()) as u64)
                .sum()
        };
        // Two series whose labels came out the same (`my-metric` and `my_metric`, two
        // values that differ only in a redacted secret) would be one series with two
        // values at one time, which Prometheus refuses with the whole request: the first
        // one is sent, the others counted as dropped.
        let mut seen = HashSet::new();
        let (unique, duplicates): (Vec<TimeSeries>, Vec<TimeSeries>) = series
            .drain(..)
            .partition(|s| seen.insert(s.labels.clone()));
        series = unique;
        let dropped = count(&duplicates) + series.get(cap..).map_or(0, count);
        series.truncate(cap);
        let samples = count(&series);
        let request = WriteRequest {
            timeseries: series,
            metadata: Vec::new(),
        };
        match snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()) {
            Ok(body) => Encoded {
                body,
                samples,
                dropped,
            },
            // Only a body over 4 GiB fails, which 10,000 series cannot reach.
            Err(_) => Encoded {
                body: Vec::new(),
                samples: 0,
                dropped: dropped + samples,
            },
        }
    }

    /// Every series, the bounded run-wide ones first (so the cap drops per-tag series
    /// before them).
    fn series(
        &self,
        results: &Results,
        timestamp_ms: i64,
        output_dropped: Option<u64>,
    ) -> Vec<TimeSeries> {
        let mut out = Vec::new();
        let float = |labels: LabelSet, value: f64| TimeSeries {
            labels: labels.finish(),
            samples: vec![Sample {
                value,
                timestamp: timestamp_ms,
            }],
            histograms: Vec::new(),
        };
        if let Some(dropped) = output_dropped {
            let labels = self.labels("output_dropped_total", None, &[]);
            out.push(float(labels, dropped as f64));
        }
        for (kind, tally) in results.errors.iter() {
            let kind = kind.to_string();
            let labels = self.labels("errors_by_kind_total", None, &[("kind", &kind)]);
            out.push(float(labels, tally.count as f64));
        }
        for (key, metric) in &results.server {
            if let Some(end) = metric.end {
                let (name, server_labels) = server_key(key);
                let mut labels = self.labels(&format!("server_{name}"), None, &[]);
                for (label, value) in server_labels {
                    labels.add(label, value);
                }
                out.push(float(labels, end));
            }
        }
        for derived in &results.derived {
            if let Some(value) = derived.value {
                let labels = self.labels(&format!("derived_{}", derived.name), None, &[]);
                out.push(float(labels, value));
            }
        }
        for (key, data) in &results.series {
            let metric = &*key.metric;
            match data {
                SeriesData::Counter(n) => {
                    let suffix = if matches!(metric, "data_sent" | "data_received") {
                        "_bytes_total"
                    } else {
                        "_total"
                    };
                    let labels = self.labels(&format!("{metric}{suffix}"), Some(key), &[]);
                    out.push(float(labels, *n as f64));
                }
                SeriesData::Rate { trues, total } => {
                    let labels = self.labels(&format!("{metric}_true_total"), Some(key), &[]);
                    out.push(float(labels, *trues as f64));
                    let labels = self.labels(&format!("{metric}_samples_total"), Some(key), &[]);
                    out.push(float(labels, *total as f64));
                }
                SeriesData::Gauge { last, .. } => {
                    out.push(float(self.labels(metric, Some(key), &[]), *last));
                }
                SeriesData::Trend(histogram) => {
                    self.trend(&mut out, key, histogram, timestamp_ms);
                }
            }
        }
        out
    }

    /// A trend as one native histogram series, or as classic `_bucket`, `_sum` and
    /// `_count` series with `buckets:`.
    fn trend(
        &self,
        out: &mut Vec<TimeSeries>,
        key: &SeriesKey,
        histogram: &Histogram<u64>,
        timestamp_ms: i64,
    ) {
        let name = format!("{}_seconds", key.metric);
        let sample = |value: f64| Sample {
            value,
            timestamp: timestamp_ms,
        };
        let Some(bounds) = &self.buckets else {
            out.push(TimeSeries {
                labels: self.labels(&name, Some(key), &[]).finish(),
                samples: Vec::new(),
                histograms: vec![native::native(histogram, timestamp_ms)],
            });
            return;
        };
        let classic = native::classic(histogram, bounds);
        for (le, count) in &classic.buckets {
            let le = if le.is_infinite() {
                "+Inf".to_owned()
            } else {
                le.to_string()
            };
            let labels = self.labels(&format!("{name}_bucket"), Some(key), &[("le", &le)]);
            out.push(TimeSeries {
                labels: labels.finish(),
                samples: vec![sample(*count as f64)],
                histograms: Vec::new(),
            });
        }
        for (suffix, value) in [("sum", classic.sum), ("count", classic.count as f64)] {
            out.push(TimeSeries {
                labels: self
                    .labels(&format!("{name}_{suffix}"), Some(key), &[])
                    .finish(),
                samples: vec![sample(value)],
                histograms: Vec::new(),
            });
        }
    }

    /// The labels of `loadplan_<metric>`: the series' own tags and `own` (`le`, `kind`),
    /// then the base labels, which cannot replace them (the first label of a name wins).
    fn labels(&self, metric: &str, key: Option<&SeriesKey>, own: &[(&str, &str)]) -> LabelSet<'_> {
        let mut labels = LabelSet::new(metric_name(&format!("{PREFIX}{metric}")), &self.redactor);
        if let Some(key) = key {
            labels.add("scenario", &key.scenario);
            let phase = crate::plan::metric::phase_of(&key.scenario);
            if phase != "load" {
                labels.add("phase", phase);
            }
            labels.add("name", key.name.as_deref().unwrap_or_default());
            labels.add("group", key.group.as_deref().unwrap_or_default());
            if let Some(response) = &key.response {
                labels.add("method", &response.method);
                labels.add("status", &response.status.to_string());
                labels.add(
                    "expected_response",
                    if response.expected { "true" } else { "false" },
                );
            }
        }
        for (name, value) in own {
            labels.add(name, value);
        }
        for (name, value) in &self.base_labels {
            labels.add(name, value);
        }
        labels
    }
}

/// A `collect:` metric's key, `SOURCE.metric` or `SOURCE.family{label:value,…}`, as a
/// metric name (`SOURCE_metric`, sanitized later) and its labels.
fn server_key(key: &str) -> (String, Vec<(&str, &str)>) {
    let (name, labels) = match key.split_once('{') {
        Some((name, rest)) => (name, rest.strip_suffix('}').unwrap_or(rest)),
        None => (key, ""),
    };
    let labels = labels
        .split(',')
        .filter_map(|pair| pair.split_once(':'))
        .collect();
    (name.replace('.', "_"), labels)
}

#[cfg(test)]
mod tests;
