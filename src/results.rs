//! What a run measured: one series per (metric, scenario, `name` tag), trends in
//! HdrHistograms (1 µs to 1 h, 3 significant digits), counters, rates and gauges, plus a
//! per-second timeline. Built by one owner from the samples VUs send (no lock shared by
//! VUs), read by the verdict and the reports. Memory grows with the number of series and
//! seconds, never with the number of requests.
//!
//! The server-side figures it carries (`server`, `sources`, `derived`) are typed in
//! `crate::server`, below this file; `results/record.rs` is the serialised form saved in
//! the results JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::plan::threshold::Aggregation;
use crate::server::{DerivedValue, ServerMetric, SourceReport};

mod delivery;
mod error_kind;
mod errors;
mod merge;
mod record;

pub use delivery::Delivery;
pub use error_kind::{ConnectFailure, ErrorKind, Status, out_of_descriptors};
pub use errors::{EXAMPLES, Errors, Tally};
pub use merge::{MergeError, Part, merge};
pub use record::{DataRecord, RecordError, ResultsRecord, SeriesRecord, encode_histogram};

/// Which series a sample belongs to: a shared [`Series`], so a sample's key costs one
/// reference count, not three (VUs send millions of them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey(Arc<Series>);

/// A series' metric and tags.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series {
    pub metric: Arc<str>,
    pub scenario: Arc<str>,
    /// The `name` tag (a request's name, an `expect`'s name), if any.
    pub name: Option<Arc<str>>,
    /// The `group` tag: the innermost `group` step around the request, send or expect.
    pub group: Option<Arc<str>>,
    /// An HTTP request's `expected_response`, `status` and `method` tags (the series of
    /// `http_reqs`, `http_req_duration`, `http_req_waiting`, `http_req_failed`).
    pub response: Option<ResponseTags>,
}

/// The tags of an HTTP request's series that depend on how it fared. The status is 0
/// (no response: transport error, timeout) or 100–599, so a step has at most a few
/// series per metric.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResponseTags {
    /// The request did not fail: no transport error or timeout, and every `expect`
    /// passed (`http_req_failed` false).
    pub expected: bool,
    pub status: u16,
    pub method: Arc<str>,
}

impl From<Series> for SeriesKey {
    fn from(series: Series) -> Self {
        Self(Arc::new(series))
    }
}

impl std::ops::Deref for SeriesKey {
    type Target = Series;

    fn deref(&self) -> &Series {
        &self.0
    }
}

impl SeriesKey {
    /// Whether the series carries `tag:value`; `None` for a tag series do not carry (`stage`:
    /// one run is one stage).
    pub fn has_tag(&self, tag: &str, value: &str) -> Option<bool> {
        match tag {
            "scenario" => Some(&*self.scenario == value),
            // Derived from the scenario: phases record under reserved scenario names, so
            // the tag costs nothing per sample.
            "phase" => Some(crate::plan::metric::phase_of(&self.scenario) == value),
            "name" => Some(self.name.as_deref() == Some(value)),
            "group" => Some(self.group.as_deref() == Some(value)),
            "expected_response" | "status" | "method" => {
                Some(self.response.as_ref().is_some_and(|tags| match tag {
                    "expected_response" => value == if tags.expected { "true" } else { "false" },
                    "status" => value.parse::<u16>() == Ok(tags.status),
                    _ => value.eq_ignore_ascii_case(&tags.method),
                }))
            }
            _ => None,
        }
    }

    /// A run-wide series (`vus`, `data_sent`): no scenario, no name.
    pub fn run(metric: &str) -> Self {
        Self::from(Series {
            metric: metric.into(),
            scenario: "".into(),
            name: None,
            group: None,
            response: None,
        })
    }
}

/// The data of one series.
#[derive(Debug, Clone)]
pub enum SeriesData {
    /// Durations in microseconds.
    Trend(Histogram<u64>),
    Counter(u64),
    Rate {
        trues: u64,
        total: u64,
    },
    Gauge {
        last: f64,
        min: f64,
        max: f64,
    },
}

/// A measurement sent by a VU.
#[derive(Debug, Clone)]
pub enum Sample {
    Trend(SeriesKey, Duration),
    Count(SeriesKey, u64),
    Rate(SeriesKey, bool),
}

/// A sample's value, without its key.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    Trend(Duration),
    Count(u64),
    Rate(bool),
}

impl Sample {
    pub fn split(self) -> (SeriesKey, Value) {
        match self {
            Self::Trend(key, duration) => (key, Value::Trend(duration)),
            Self::Count(key, n) => (key, Value::Count(n)),
            Self::Rate(key, value) => (key, Value::Rate(value)),
        }
    }
}

impl Value {
    /// An empty series of the kind this value belongs to.
    pub fn empty(self) -> SeriesData {
        match self {
            Self::Trend(_) => SeriesData::Trend(new_histogram()),
            Self::Count(_) => SeriesData::Counter(0),
            Self::Rate(_) => SeriesData::Rate { trues: 0, total: 0 },
        }
    }
}

impl SeriesData {
    /// Adds a value; a value of another kind than the series' is ignored.
    pub fn add(&mut self, value: Value) {
        match (self, value) {
            (Self::Trend(histogram), Value::Trend(duration)) => {
                let micros = u64::try_from(duration.as_micros())
                    .unwrap_or(u64::MAX)
                    .clamp(1, LONGEST_MICROS);
                histogram.saturating_record(micros);
            }
            // Saturating: a hostile server can make a count (`ws_sequence_gaps`) any size.
            (Self::Counter(count), Value::Count(n)) => *count = count.saturating_add(n),
            (Self::Rate { trues, total }, Value::Rate(value)) => {
                *total += 1;
                *trues += u64::from(value);
            }
            _ => {}
        }
    }
}

impl SeriesKey {
    /// The identity of this shared key (its allocation), for caches that hold the key.
    pub fn address(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

/// One second of the run, for the live view and charts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Second {
    pub at_s: u64,
    pub vus: u32,
    pub requests: u64,
    pub messages: u64,
    pub errors: u64,
    pub iterations: u64,
    /// Failed iterations whose VU started a back-off wait in that second
    /// (`iteration_backoffs`): a run waiting out failures shows here, not as a gap.
    #[serde(default)]
    pub backoffs: u64,
    /// Latency percentiles of that second's samples (HTTP durations and WebSocket
    /// message latencies), in milliseconds; absent when the second had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// WebSockets open (the most in that second); segment runs only, for `loadplan merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<u32>,
    /// That second's latency samples as an HdrHistogram (V2 deflate, base64, µs), so
    /// `loadplan merge` recomputes p50/p95/p99 per second exactly; segment runs only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// That second's `errors` by kind's key; they add up to `errors`. The timeline names at
    /// most [`TIMELINE_KINDS`] kinds over the whole run (the first seen; the most counted
    /// after `loadplan merge`) and counts the others under [`OTHER_KINDS`], so a server that
    /// answers with every status cannot grow it. Absent in runs saved before it was kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors_by_kind: BTreeMap<String, u64>,
}

/// Error kinds the timeline names over a run ([`Second::errors_by_kind`]).
pub const TIMELINE_KINDS: usize = 10;

/// The timeline's key for the errors of kinds past [`TIMELINE_KINDS`]; no kind's key.
pub const OTHER_KINDS: &str = "other kinds";

/// Folds every kind of `timeline` past the [`TIMELINE_KINDS`] most counted (ties: by key)
/// into [`OTHER_KINDS`]; each second's sum stays what it was.
pub fn cap_error_kinds(timeline: &mut [Second]) {
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for second in timeline.iter() {
        for (kind, count) in &second.errors_by_kind {
            if kind != OTHER_KINDS {
                let total = totals.entry(kind.as_str()).or_default();
                *total = total.saturating_add(*count);
            }
        }
    }
    if totals.len() <= TIMELINE_KINDS {
        return;
    }
    let mut ranked: Vec<(&str, u64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kept: std::collections::BTreeSet<String> = ranked
        .iter()
        .take(TIMELINE_KINDS)
        .map(|(kind, _)| (*kind).to_owned())
        .collect();
    for second in timeline.iter_mut() {
        let folded: Vec<String> = second
            .errors_by_kind
            .keys()
            .filter(|kind| *kind != OTHER_KINDS && !kept.contains(*kind))
            .cloned()
            .collect();
        for kind in folded {
            if let Some(count) = second.errors_by_kind.remove(&kind) {
                let other = second
                    .errors_by_kind
                    .entry(OTHER_KINDS.to_owned())
                    .or_default();
                *other = other.saturating_add(count);
            }
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Default)]
pub struct Results {
    pub series: BTreeMap<SeriesKey, SeriesData>,
    pub timeline: Vec<Second>,
    pub duration: Duration,
    pub vus_max: u32,
    /// Errors by kind (`connect refused`, `timeout`, `expect status 503`...), with a few
    /// redacted examples each.
    pub errors: Errors,
    /// Why the run ended before its schedule did (interrupted, a threshold aborted it);
    /// its figures then cover only what was measured.
    pub stopped_early: Option<String>,
    /// Server-side metrics of `collect:` sources over the stage, by `SOURCE.metric` (with
    /// `{label:value,…}` for labelled Prometheus series).
    pub server: BTreeMap<String, ServerMetric>,
    /// How sampling each `collect:` source went, by source name.
    pub sources: BTreeMap<String, SourceReport>,
    /// The `derived:` metrics, in plan order.
    pub derived: Vec<DerivedValue>,
    /// How the plan's `setup:` and `teardown:` went, in the order they ran (one of each
    /// per segment in merged results).
    pub phases: Vec<PhaseOutcome>,
    /// How each live output (`prometheus`) delivered what it sent during the run.
    pub deliveries: Vec<Delivery>,
}

/// How a `setup:` or `teardown:` went: it ran (it is listed), for how long, and why it
/// failed (redacted), if it did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseOutcome {
    /// `setup` or `teardown`.
    pub phase: String,
    pub duration_s: f64,
    /// The failed step and the reason, or the timeout; `None` when every step passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Largest duration a trend records; longer ones are clamped to it.
const LONGEST_MICROS: u64 = 3_600_000_000;

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs to 1 h at 3 significant digits is always a valid configuration.
    Histogram::new_with_bounds(1, LONGEST_MICROS, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits are valid"))
    })
}

impl Results {
    /// Applies one sample.
    pub fn record(&mut self, sample: Sample) {
        let (key, value) = sample.split();
        let entry = self.series.entry(key).or_insert_with(|| value.empty());
        entry.add(value);
    }

    /// Sets a gauge.
    pub fn gauge(&mut self, key: SeriesKey, value: f64) {
        let entry = self.series.entry(key).or_insert(SeriesData::Gauge {
            last: value,
            min: value,
            max: value,
        });
        if let SeriesData::Gauge { last, min, max } = entry {
            *last = value;
            *min = min.min(value);
            *max = max.max(value);
        }
    }

    /// The series of `metric` whose tags pass `filter`, merged into one.
    pub fn merged(&self, metric: &str, filter: impl Fn(&SeriesKey) -> bool) -> Option<SeriesData> {
        let mut merged: Option<SeriesData> = None;
        for (key, data) in &self.series {
            if &*key.metric != metric || !filter(key) {
                continue;
            }
            merged = Some(match (merged, data) {
                (None, data) => data.clone(),
                (Some(SeriesData::Trend(mut a)), SeriesData::Trend(b)) => {
                    let _ = a.add(b);
                    SeriesData::Trend(a)
                }
                (Some(SeriesData::Counter(a)), SeriesData::Counter(b)) => {
                    SeriesData::Counter(a.saturating_add(*b))
                }
                (
                    Some(SeriesData::Rate { trues, total }),
                    SeriesData::Rate { trues: t, total: n },
                ) => SeriesData::Rate {
                    trues: trues + t,
                    total: total + n,
                },
                (
                    Some(SeriesData::Gauge { last, min, max }),
                    SeriesData::Gauge {
                        last: l,
                        min: lo,
                        max: hi,
                    },
                ) => SeriesData::Gauge {
                    last: last + l,
                    min: min.min(*lo),
                    max: max.max(*hi),
                },
                (Some(existing), _) => existing,
            });
        }
        merged
    }

    /// One aggregation of a client-side metric over the series that pass `filter`: trends in
    /// milliseconds, counter rates per second, rates as fractions. A counter that never
    /// counted is zero when `zero_if_absent`; other metrics without samples have no figure.
    pub fn figure(
        &self,
        metric: &str,
        aggregation: Aggregation,
        filter: impl Fn(&SeriesKey) -> bool,
        zero_if_absent: bool,
    ) -> Result<f64, FigureError> {
        let no_samples = || FigureError::NoSamples {
            metric: metric.to_owned(),
        };
        let data = match self.merged(metric, filter) {
            Some(data) => data,
            None if zero_if_absent => SeriesData::Counter(0),
            // A count of nothing is 0 (`count == 0` on a trend that never fired passes);
            // every other figure of nothing is undefined.
            None if aggregation == Aggregation::Count => SeriesData::Counter(0),
            None => return Err(no_samples()),
        };
        let seconds = self.duration.as_secs_f64().max(1e-9);
        // HdrHistogram answers with the top of a value's bucket; the bucket's middle is the
        // better estimate (within 0.05% at 3 significant digits).
        let millis = |h: &Histogram<u64>, micros: u64| h.median_equivalent(micros) as f64 / 1000.0;
        Ok(match (&data, aggregation) {
            (SeriesData::Trend(h), Aggregation::Count) => h.len() as f64,
            (SeriesData::Trend(h), Aggregation::Avg) => h.mean() / 1000.0,
            (SeriesData::Trend(h), Aggregation::Min) => millis(h, h.min()),
            (SeriesData::Trend(h), Aggregation::Max) => millis(h, h.max()),
            (SeriesData::Trend(h), Aggregation::Med) => millis(h, h.value_at_quantile(0.5)),
            (SeriesData::Trend(h), Aggregation::Percentile(p)) => {
                millis(h, h.value_at_quantile(p / 100.0))
            }
            (SeriesData::Counter(n), Aggregation::Count | Aggregation::Value) => *n as f64,
            (SeriesData::Counter(n), Aggregation::Rate) => *n as f64 / seconds,
            (SeriesData::Rate { trues, total }, Aggregation::Rate) => {
                if *total == 0 {
                    return Err(no_samples());
                }
                *trues as f64 / *total as f64
            }
            (SeriesData::Gauge { last, .. }, Aggregation::Value | Aggregation::Avg) => *last,
            (SeriesData::Gauge { min, .. }, Aggregation::Min) => *min,
            (SeriesData::Gauge { max, .. }, Aggregation::Max) => *max,
            (_, aggregation) => {
                return Err(FigureError::NotComputable {
                    aggregation,
                    metric: metric.to_owned(),
                });
            }
        })
    }

    /// Names of the metrics measured, in order.
    pub fn metrics(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.series.keys().map(|k| &*k.metric).collect();
        names.dedup();
        names
    }
}

/// Why [`Results::figure`] has no figure.
#[derive(Debug, Clone, PartialEq)]
pub enum FigureError {
    /// No series of the metric passed the filter, or a rate counted nothing.
    NoSamples { metric: String },
    /// The aggregation does not fit the metric's kind (`rate` of a trend).
    NotComputable {
        aggregation: Aggregation,
        metric: String,
    },
}

impl fmt::Display for FigureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSamples { metric } => write!(f, "`{metric}` has no samples"),
            Self::NotComputable {
                aggregation,
                metric,
            } => write!(f, "`{aggregation}` cannot be computed for `{metric}`"),
        }
    }
}

impl std::error::Error for FigureError {}

impl Results {
    /// The serialised form, for the results JSON.
    pub fn to_record(&self) -> ResultsRecord {
        ResultsRecord::new(self)
    }

    /// Reads back what [`Results::to_record`] wrote.
    pub fn from_record(record: &ResultsRecord) -> Result<Self, RecordError> {
        record.to_results()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(metric: &str, scenario: &str, name: Option<&str>) -> SeriesKey {
        SeriesKey::from(crate::results::Series {
            metric: metric.into(),
            scenario: scenario.into(),
            name: name.map(Into::into),
            group: None,
            response: None,
        })
    }

    #[test]
    fn counts_saturate_when_recorded_and_merged() {
        let mut results = Results::default();
        for scenario in ["a", "b"] {
            for _ in 0..2 {
                results.record(Sample::Count(
                    key("ws_sequence_gaps", scenario, None),
                    u64::MAX - 1,
                ));
            }
        }
        assert!(matches!(
            results.merged("ws_sequence_gaps", |_| true),
            Some(SeriesData::Counter(u64::MAX))
        ));
    }

    #[test]
    fn records_and_merges_series() {
        let mut results = Results::default();
        for ms in [10, 20, 30] {
            results.record(Sample::Trend(
                key("http_req_duration", "a", Some("x")),
                Duration::from_millis(ms),
            ));
        }
        results.record(Sample::Trend(
            key("http_req_duration", "b", None),
            Duration::from_millis(40),
        ));
        results.record(Sample::Count(key("http_reqs", "a", None), 3));
        results.record(Sample::Count(key("http_reqs", "b", None), 1));
        results.record(Sample::Rate(key("http_req_failed", "a", None), true));
        results.record(Sample::Rate(key("http_req_failed", "a", None), false));
        let Some(SeriesData::Trend(all)) = results.merged("http_req_duration", |_| true) else {
            panic!("a trend");
        };
        assert_eq!(all.len(), 4);
        assert_eq!(all.max(), all.highest_equivalent(40_000));
        let Some(SeriesData::Trend(named)) =
            results.merged("http_req_duration", |k| k.name.as_deref() == Some("x"))
        else {
            panic!("a trend");
        };
        assert_eq!(named.len(), 3);
        assert!(matches!(
            results.merged("http_reqs", |_| true),
            Some(SeriesData::Counter(4))
        ));
        assert!(matches!(
            results.merged("http_req_failed", |_| true),
            Some(SeriesData::Rate { trues: 1, total: 2 })
        ));
        assert!(results.merged("nothing", |_| true).is_none());
        assert_eq!(
            results.metrics(),
            ["http_req_duration", "http_req_failed", "http_reqs"]
        );
    }

    #[test]
    fn record_round_trips_histograms_and_counts() {
        let mut results = Results::default();
        for ms in 1..=1000 {
            results.record(Sample::Trend(
                key("http_req_duration", "a", Some("x")),
                Duration::from_micros(ms * 997),
            ));
        }
        results.record(Sample::Count(key("http_reqs", "a", None), 1000));
        results.record(Sample::Rate(key("checks", "a", None), true));
        results.gauge(key("vus", "", None), 7.0);
        results.duration = Duration::from_millis(2500);
        results.vus_max = 7;
        results.errors.insert(
            ErrorKind::Timeout,
            Tally {
                count: 3,
                examples: vec!["after 1s".into()],
            },
        );
        results.errors.add(
            ErrorKind::Handshake(Status::new(403)),
            None,
            &Default::default(),
        );
        let text = serde_json::to_string(&results.to_record()).unwrap();
        let back = Results::from_record(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back.series.len(), results.series.len());
        for (key, data) in &results.series {
            match (data, &back.series[key]) {
                (SeriesData::Trend(a), SeriesData::Trend(b)) => {
                    assert_eq!(a.len(), b.len());
                    assert_eq!(a.value_at_quantile(0.95), b.value_at_quantile(0.95));
                    assert_eq!(a.max(), b.max());
                }
                (SeriesData::Counter(a), SeriesData::Counter(b)) => assert_eq!(a, b),
                (SeriesData::Rate { .. }, SeriesData::Rate { trues: 1, total: 1 }) => {}
                (SeriesData::Gauge { .. }, SeriesData::Gauge { last, .. }) => {
                    assert_eq!(*last, 7.0)
                }
                other => panic!("changed kind: {other:?}"),
            }
        }
        assert_eq!(back.duration, results.duration);
        assert_eq!(back.errors, results.errors);
        assert!(text.contains(r#""errors":{"timeout":3,"ws handshake 403":1}"#));
        assert!(text.contains(r#""error_examples":{"timeout":["after 1s"]}"#));
        let broken = text.replace("\"histogram\":\"", "\"histogram\":\"AAAA");
        assert!(Results::from_record(&serde_json::from_str(&broken).unwrap()).is_err());
    }
}
