//! The server side's data, shared by what produces it and what reads it: a collected
//! metric's figures over the stage ([`ServerMetric`], with [`ServerMetric::field`] to read
//! one by name, or a [`FieldError`] saying why not), how sampling a source went
//! ([`SourceReport`], and [`SourceFailure`] when it took no sample), a derived metric's value
//! ([`DerivedValue`]), a histogram's buckets and their quantiles ([`Buckets`]) and the key
//! of a labelled metric ([`key`]).
//!
//! Plain data and arithmetic, no I/O, below the three modules that share it: `results`
//! stores it (in `Results` and its JSON record), `collect` produces it from samples and
//! `derive` reads it by name; each imports it from here rather than from another. The
//! serde shapes are the `server`, `sources` and `derived` sections of the results JSON
//! (see `docs/collect.md`): change them and saved runs read differently.

use std::fmt;

use serde::{Deserialize, Serialize};

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
/// `SOURCE.metric{label:value,…}` in `Results::server`.
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

impl ServerMetric {
    /// One figure by name: `value`, `count`, `rate`, `delta`, `start`, `end`, `avg`,
    /// `min`, `max`, `sum`, `med` or `pN`.
    pub fn field(&self, field: &str) -> Result<f64, FieldError> {
        let Some(kind) = self.kind else {
            return Err(FieldError::Missing(
                self.missing.clone().unwrap_or_default(),
            ));
        };
        let wrong = || FieldError::NotApplicable {
            field: field.to_owned(),
            kind,
        };
        let value = match (kind, field) {
            (ServerKind::Counter, "value" | "count" | "delta") => self.delta,
            (ServerKind::Counter, "rate") => self.rate,
            (ServerKind::Counter, _) => return Err(wrong()),
            (ServerKind::Gauge, "value") => self.end,
            (ServerKind::Gauge, "delta") => self.delta,
            (ServerKind::Gauge, "start") => self.start,
            (ServerKind::Gauge, "end") => self.end,
            (ServerKind::Gauge, "avg") => self.avg,
            (ServerKind::Gauge, "min") => self.min,
            (ServerKind::Gauge, "max") => self.max,
            (ServerKind::Gauge, _) => return Err(wrong()),
            (_, "value" | "count") => self.count,
            (_, "sum") => self.sum,
            (_, "avg") => self.avg,
            (_, "med") => self.quantile(50.0),
            (_, p) if p.starts_with('p') => match p[1..].parse::<f64>() {
                Ok(n) if n > 0.0 && n <= 100.0 => self.quantile(n),
                _ => return Err(wrong()),
            },
            _ => return Err(wrong()),
        };
        value.ok_or_else(|| match (kind, field) {
            (ServerKind::Counter, "rate") => FieldError::RateNeedsTwoSamples,
            (ServerKind::Summary, _) if field.starts_with('p') || field == "med" => {
                FieldError::NoQuantile {
                    field: field.to_owned(),
                }
            }
            _ => FieldError::NoObservations {
                samples: self.samples,
            },
        })
    }

    fn quantile(&self, percent: f64) -> Option<f64> {
        let q = percent / 100.0;
        match self.kind {
            Some(ServerKind::Histogram) => Buckets {
                buckets: self
                    .buckets
                    .iter()
                    .map(|[le, c]| (le.unwrap_or(f64::INFINITY), c.unwrap_or(0.0)))
                    .collect(),
                count: self.count.unwrap_or(0.0),
                sum: self.sum.unwrap_or(0.0),
            }
            .quantile(q),
            _ => self
                .quantiles
                .iter()
                .find(|[known, _]| (known - q).abs() < 1e-9)
                .map(|[_, v]| *v),
        }
    }
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
    pub fn failure(&self, source: &str) -> Option<SourceFailure> {
        if self.samples > 0 {
            return None;
        }
        let source = source.to_owned();
        Some(match &self.error {
            Some(error) if self.failed > 0 => SourceFailure::Failed {
                source,
                failed: self.failed,
                error: error.clone(),
            },
            _ => SourceFailure::NoSamples { source },
        })
    }
}

/// Why a source gave its metrics no figures: it took no sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFailure {
    /// Every sample failed (it took none); `error` is the last failure, as recorded.
    Failed {
        source: String,
        failed: u32,
        error: String,
    },
    /// The stage ended before the first sample.
    NoSamples { source: String },
}

impl fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed {
                source,
                failed,
                error,
            } => write!(
                f,
                "source `{source}` failed {failed} of {failed} samples: {error}"
            ),
            Self::NoSamples { source } => write!(f, "source `{source}` took no samples"),
        }
    }
}

impl std::error::Error for SourceFailure {}

/// Why [`ServerMetric::field`] has no figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    /// The metric has no figures at all; the reason recorded with it
    /// ([`ServerMetric::missing`], empty when none was).
    Missing(String),
    /// The metric's kind has no such figure.
    NotApplicable { field: String, kind: ServerKind },
    /// A counter's rate, from fewer than two samples.
    RateNeedsTwoSamples,
    /// A summary's quantile that the server does not export.
    NoQuantile { field: String },
    /// The figure needs observations and the samples had none.
    NoObservations { samples: u32 },
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(reason) => f.write_str(reason),
            Self::NotApplicable { field, kind } => write!(
                f,
                "`{field}` does not apply to a {}, which has {}",
                kind.name(),
                kind.fields()
            ),
            Self::RateNeedsTwoSamples => f.write_str("a rate needs two samples"),
            Self::NoQuantile { field } => write!(f, "the server exports no `{field}` quantile"),
            Self::NoObservations { samples } => write!(f, "no observations in {samples} samples"),
        }
    }
}

impl std::error::Error for FieldError {}

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

/// A histogram's cumulative buckets, `(le, count)` sorted by `le`, the last `+Inf`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets {
    pub buckets: Vec<(f64, f64)>,
    pub count: f64,
    pub sum: f64,
}

impl Buckets {
    fn at(&self, le: f64) -> f64 {
        self.buckets
            .iter()
            .find(|(l, _)| *l == le)
            .map_or(0.0, |(_, c)| *c)
    }

    /// `self - other`, bucket by bucket.
    pub fn minus(&self, other: &Self) -> Self {
        Self {
            buckets: self
                .buckets
                .iter()
                .map(|(le, c)| (*le, c - other.at(*le)))
                .collect(),
            count: self.count - other.count,
            sum: self.sum - other.sum,
        }
    }

    /// `self + other`, over the buckets of both.
    pub fn plus(&self, other: &Self) -> Self {
        let mut bounds: Vec<f64> = self
            .buckets
            .iter()
            .chain(&other.buckets)
            .map(|(le, _)| *le)
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        Self {
            buckets: bounds
                .into_iter()
                .map(|le| (le, self.at(le) + other.at(le)))
                .collect(),
            count: self.count + other.count,
            sum: self.sum + other.sum,
        }
    }

    /// The `q` quantile (0..1) by linear interpolation inside the bucket that holds it, as
    /// Prometheus's `histogram_quantile` does; `None` without observations. A quantile in
    /// the `+Inf` bucket is the highest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last().map_or(self.count, |(_, c)| *c);
        if total <= 0.0 || self.buckets.is_empty() {
            return None;
        }
        let rank = q * total;
        let mut previous = (0.0, 0.0);
        for (index, (le, count)) in self.buckets.iter().enumerate() {
            if *count >= rank {
                if le.is_infinite() {
                    return Some(if index == 0 { 0.0 } else { previous.0 });
                }
                let lower = if index == 0 && *le <= 0.0 {
                    *le
                } else {
                    previous.0
                };
                let in_bucket = count - previous.1;
                if in_bucket <= 0.0 {
                    return Some(*le);
                }
                return Some(lower + (le - lower) * (rank - previous.1) / in_bucket);
            }
            previous = (*le, *count);
        }
        Some(previous.0)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(points: &[(f64, f64)]) -> Buckets {
        Buckets {
            buckets: points.to_vec(),
            count: points.last().map_or(0.0, |p| p.1),
            sum: 0.0,
        }
    }

    #[test]
    fn fields_say_why_they_are_missing() {
        let counter = ServerMetric {
            kind: Some(ServerKind::Counter),
            samples: 1,
            delta: Some(5.0),
            ..ServerMetric::default()
        };
        let summary = ServerMetric {
            kind: Some(ServerKind::Summary),
            samples: 3,
            ..ServerMetric::default()
        };
        let gone = ServerMetric {
            missing: Some("not in any of the 4 samples".into()),
            ..ServerMetric::default()
        };
        let cases = [
            (
                counter.field("p95"),
                FieldError::NotApplicable {
                    field: "p95".into(),
                    kind: ServerKind::Counter,
                },
                "`p95` does not apply to a counter, which has value (= delta), count (= delta), delta, rate",
            ),
            (
                counter.field("rate"),
                FieldError::RateNeedsTwoSamples,
                "a rate needs two samples",
            ),
            (
                summary.field("p99"),
                FieldError::NoQuantile {
                    field: "p99".into(),
                },
                "the server exports no `p99` quantile",
            ),
            (
                summary.field("sum"),
                FieldError::NoObservations { samples: 3 },
                "no observations in 3 samples",
            ),
            (
                gone.field("value"),
                FieldError::Missing("not in any of the 4 samples".into()),
                "not in any of the 4 samples",
            ),
        ];
        for (got, error, message) in cases {
            assert_eq!(got.as_ref(), Err(&error));
            assert_eq!(error.to_string(), message);
        }
        assert_eq!(counter.field("value"), Ok(5.0));
    }

    #[test]
    fn a_source_without_samples_says_why() {
        let mut report = SourceReport {
            kind: "prometheus".into(),
            samples: 0,
            failed: 2,
            error: Some("connection refused".into()),
        };
        assert_eq!(
            report.failure("app").map(|f| f.to_string()).as_deref(),
            Some("source `app` failed 2 of 2 samples: connection refused")
        );
        report.failed = 0;
        assert_eq!(
            report.failure("app"),
            Some(SourceFailure::NoSamples {
                source: "app".into()
            })
        );
        assert_eq!(
            report.failure("app").map(|f| f.to_string()).as_deref(),
            Some("source `app` took no samples")
        );
        report.samples = 1;
        assert_eq!(report.failure("app"), None);
    }

    #[test]
    fn quantiles_interpolate_inside_buckets() {
        // 100 observations: 50 at or below 0.1, 40 in (0.1, 0.5], 10 in (0.5, 1].
        let h = buckets(&[
            (0.1, 50.0),
            (0.5, 90.0),
            (1.0, 100.0),
            (f64::INFINITY, 100.0),
        ]);
        let cases = [
            (0.5, 0.1),
            (0.25, 0.05),
            (0.7, 0.3),
            (0.95, 0.75),
            (0.99, 0.95),
        ];
        for (q, expected) in cases {
            let got = h.quantile(q).unwrap();
            assert!((got - expected).abs() < 1e-9, "q{q}: {got}");
        }
        let tail = buckets(&[(0.1, 1.0), (f64::INFINITY, 10.0)]);
        assert_eq!(
            tail.quantile(0.99),
            Some(0.1),
            "+Inf gives the highest bound"
        );
        assert_eq!(
            buckets(&[(0.1, 0.0), (f64::INFINITY, 0.0)]).quantile(0.5),
            None
        );
        assert_eq!(Buckets::default().quantile(0.5), None);
    }

    #[test]
    fn bucket_deltas_are_the_window() {
        let start = buckets(&[(0.1, 10.0), (1.0, 20.0), (f64::INFINITY, 20.0)]);
        let end = buckets(&[(0.1, 15.0), (1.0, 120.0), (f64::INFINITY, 120.0)]);
        let window = end.minus(&start);
        assert_eq!(
            window.buckets,
            [(0.1, 5.0), (1.0, 100.0), (f64::INFINITY, 100.0)]
        );
        assert_eq!(window.count, 100.0);
        // 5 below 0.1, the rest spread over (0.1, 1]: the median is inside that bucket.
        let median = window.quantile(0.5).unwrap();
        assert!((median - (0.1 + 0.9 * 45.0 / 95.0)).abs() < 1e-9);
    }
}
