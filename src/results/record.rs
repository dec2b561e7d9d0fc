//! The serialised form of [`Results`], the `results` of a saved run's JSON: every series
//! with its histogram (HdrHistogram V2 with deflate, base64), the timeline, and the
//! server-side sections as they are. A run can be re-judged, compared and merged from it.
//! The shape is what saved runs on disk hold: change a field and old files stop reading.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::{
    ErrorKind, Errors, ResponseTags, Results, Second, Series, SeriesData, SeriesKey, Tally,
};
use crate::server::{DerivedValue, ServerMetric, SourceReport};

/// Why a saved run's results do not read back.
#[derive(Debug)]
pub enum RecordError {
    /// `duration_s` is negative, too large or not a number.
    Duration {
        seconds: f64,
        error: std::time::TryFromFloatSecsError,
    },
    /// A series' histogram is not base64.
    Base64 {
        metric: String,
        error: base64::DecodeError,
    },
    /// A series' histogram decodes to no valid HdrHistogram.
    Histogram {
        metric: String,
        error: hdrhistogram::serialization::DeserializeError,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duration { seconds, error } => write!(f, "duration_s {seconds}: {error}"),
            Self::Base64 { metric, error } => write!(f, "the histogram of {metric}: {error}"),
            Self::Histogram { metric, error } => {
                write!(f, "the histogram of {metric} is damaged: {error}")
            }
        }
    }
}

// No `source()`: the message already ends with the cause's, and a chain printer would
// repeat it. The cause is a field of the variant.
impl std::error::Error for RecordError {}

/// The serialised form of [`Results`]: every series with its histogram (HdrHistogram V2
/// with deflate, base64), so a run can be re-judged, compared and merged later.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ResultsRecord {
    pub duration_s: f64,
    pub vus_max: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
    /// Errors by kind's key (`docs/reports.md`); runs saved before the kinds were closed
    /// hold other keys, read back as they are.
    pub errors: BTreeMap<String, u64>,
    /// A few redacted examples of each kind (server text the key leaves out), by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_examples: BTreeMap<String, Vec<String>>,
    pub timeline: Vec<Second>,
    pub series: Vec<SeriesRecord>,
    /// Server-side metrics by `SOURCE.metric[{label:value,…}]` (see `docs/collect.md`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub server: BTreeMap<String, ServerMetric>,
    /// Each `collect:` source: `kind`, `samples`, `failed`, last `error`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, SourceReport>,
    /// Each derived metric: `name`, `expression`, `value` (`null` is n/a) and `reason`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<DerivedValue>,
    /// How `setup:` and `teardown:` went: `phase`, `duration_s`, `error`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<super::PhaseOutcome>,
    /// Each live output (`prometheus`): `kind`, `url` (redacted), `requests` delivered,
    /// `failed`, `retries`, samples `dropped`, whether the final flush was delivered, the
    /// last `error`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<super::Delivery>,
}

/// One series, serialised.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SeriesRecord {
    pub metric: String,
    pub scenario: String,
    /// `setup` or `teardown` for a phase's series (their scenario); absent for the load's.
    /// Written for readers; read back from the scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// An HTTP request series' tags: whether the request did not fail, its status (0 for
    /// none), its method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_response: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(flatten)]
    pub data: DataRecord,
}

/// A series' data, serialised; `histogram` is base64 of HdrHistogram's V2 deflate format
/// (microseconds), readable by every HdrHistogram implementation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DataRecord {
    Trend { histogram: String },
    Counter { count: u64 },
    Rate { trues: u64, total: u64 },
    Gauge { last: f64, min: f64, max: f64 },
}

impl ResultsRecord {
    /// The record of `results`.
    pub fn new(results: &Results) -> Self {
        let series = results
            .series
            .iter()
            .map(|(key, data)| SeriesRecord {
                metric: key.metric.to_string(),
                scenario: key.scenario.to_string(),
                phase: Some(crate::plan::metric::phase_of(&key.scenario))
                    .filter(|phase| *phase != "load")
                    .map(str::to_owned),
                name: key.name.as_ref().map(ToString::to_string),
                group: key.group.as_ref().map(ToString::to_string),
                expected_response: key.response.as_ref().map(|tags| tags.expected),
                // An `expect`'s latency (no method) has no status either.
                status: key
                    .response
                    .as_ref()
                    .filter(|tags| !tags.method.is_empty())
                    .map(|tags| tags.status),
                method: key
                    .response
                    .as_ref()
                    .filter(|tags| !tags.method.is_empty())
                    .map(|tags| tags.method.to_string()),
                data: match data {
                    SeriesData::Trend(histogram) => DataRecord::Trend {
                        histogram: encode_histogram(histogram),
                    },
                    SeriesData::Counter(count) => DataRecord::Counter { count: *count },
                    SeriesData::Rate { trues, total } => DataRecord::Rate {
                        trues: *trues,
                        total: *total,
                    },
                    SeriesData::Gauge { last, min, max } => DataRecord::Gauge {
                        last: *last,
                        min: *min,
                        max: *max,
                    },
                },
            })
            .collect();
        ResultsRecord {
            duration_s: results.duration.as_secs_f64(),
            vus_max: results.vus_max,
            stopped_early: results.stopped_early.clone(),
            errors: results
                .errors
                .iter()
                .map(|(kind, tally)| (kind.to_string(), tally.count))
                .collect(),
            error_examples: results
                .errors
                .iter()
                .filter(|(_, tally)| !tally.examples.is_empty())
                .map(|(kind, tally)| (kind.to_string(), tally.examples.clone()))
                .collect(),
            timeline: results.timeline.clone(),
            series,
            server: results.server.clone(),
            sources: results.sources.clone(),
            derived: results.derived.clone(),
            phases: results.phases.clone(),
            deliveries: results.deliveries.clone(),
        }
    }

    /// The errors, each key read back as its kind.
    pub fn errors(&self) -> Errors {
        let mut errors = Errors::default();
        for (key, count) in &self.errors {
            let tally = Tally {
                count: *count,
                examples: self.error_examples.get(key).cloned().unwrap_or_default(),
            };
            errors.insert(ErrorKind::from_key(key), tally);
        }
        errors
    }

    /// Reads back what [`ResultsRecord::new`] wrote.
    pub fn to_results(&self) -> Result<Results, RecordError> {
        let record = self;
        use base64::Engine as _;
        let mut results = Results {
            duration: Duration::try_from_secs_f64(record.duration_s).map_err(|error| {
                RecordError::Duration {
                    seconds: record.duration_s,
                    error,
                }
            })?,
            vus_max: record.vus_max,
            stopped_early: record.stopped_early.clone(),
            errors: record.errors(),
            timeline: record.timeline.clone(),
            series: BTreeMap::new(),
            server: record.server.clone(),
            sources: record.sources.clone(),
            derived: record.derived.clone(),
            phases: record.phases.clone(),
            deliveries: record.deliveries.clone(),
        };
        let mut deserializer = hdrhistogram::serialization::Deserializer::new();
        for series in &record.series {
            let key = SeriesKey::from(Series {
                metric: series.metric.as_str().into(),
                scenario: series.scenario.as_str().into(),
                name: series.name.as_deref().map(Into::into),
                group: series.group.as_deref().map(Into::into),
                response: series.expected_response.map(|expected| ResponseTags {
                    expected,
                    status: series.status.unwrap_or(0),
                    method: series.method.as_deref().unwrap_or("").into(),
                }),
            });
            let data = match &series.data {
                DataRecord::Trend { histogram } => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(histogram)
                        .map_err(|error| RecordError::Base64 {
                            metric: series.metric.clone(),
                            error,
                        })?;
                    let histogram: Histogram<u64> = deserializer
                        .deserialize(&mut bytes.as_slice())
                        .map_err(|error| RecordError::Histogram {
                            metric: series.metric.clone(),
                            error,
                        })?;
                    SeriesData::Trend(histogram)
                }
                DataRecord::Counter { count } => SeriesData::Counter(*count),
                DataRecord::Rate { trues, total } => SeriesData::Rate {
                    trues: *trues,
                    total: *total,
                },
                DataRecord::Gauge { last, min, max } => SeriesData::Gauge {
                    last: *last,
                    min: *min,
                    max: *max,
                },
            };
            results.series.insert(key, data);
        }
        Ok(results)
    }
}

/// A histogram as the results file keeps it: HdrHistogram's V2 deflate format, base64.
/// Writing to a Vec only fails on a histogram too large to encode, which 1 µs–1 h at 3
/// digits is not; an empty string is then read back as an error rather than a wrong figure.
pub fn encode_histogram(histogram: &Histogram<u64>) -> String {
    use base64::Engine as _;
    use hdrhistogram::serialization::Serializer as _;
    let mut bytes = Vec::new();
    let _ =
        hdrhistogram::serialization::V2DeflateSerializer::new().serialize(histogram, &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs saved before the kinds were closed hold any text as a key, and no examples:
    /// they read back, their keys as they were.
    #[test]
    fn old_error_keys_read_back_as_saved() {
        let old = r#"{"duration_s": 1.5, "vus_max": 2, "timeline": [], "series": [],
            "errors": {"connect: ConnectionRefused": 3, "timeout": 2}}"#;
        let record: ResultsRecord = serde_json::from_str(old).expect("an old record reads");
        let results = record.to_results().expect("and converts");
        let saved = ErrorKind::Saved("connect: ConnectionRefused".into());
        assert_eq!(results.errors.get(&saved).map(|t| t.count), Some(3));
        assert_eq!(
            results.errors.get(&ErrorKind::Timeout).map(|t| t.count),
            Some(2)
        );
        let again = serde_json::to_value(ResultsRecord::new(&results)).expect("serialises");
        assert_eq!(
            again["errors"],
            serde_json::json!({"connect: ConnectionRefused": 3, "timeout": 2})
        );
        assert!(again.get("error_examples").is_none());
    }
}
