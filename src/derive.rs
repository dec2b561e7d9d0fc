//! Derived metrics (`derived:`) and collected figures by name, read from a run's
//! [`Results`] after the stage. Pure: no I/O.
//!
//! A name in an expression is, in this order: a run value (`duration_s`,
//! `stage_duration_s`, `vus_max`, `iterations`), `vars.NAME`, a derived metric above it,
//! a collected metric (`SOURCE.metric`, its `value`) or one of its figures
//! (`SOURCE.metric.avg`), or `METRIC.AGGREGATION` of a client-side metric
//! (`http_req_duration.p95`, in ms). A name without a value or a division by zero makes
//! the whole expression n/a, with the reason.
//!
//! It reads the whole `Results`, so it sits above `results` and `collect`, beside
//! `verdict` (whose collected-metric thresholds use [`figure`]); the exec calls [`derive()`]
//! once the stage is over.

use std::cell::RefCell;
use std::fmt;

use indexmap::IndexMap;

use crate::plan::expr::Expr;
use crate::plan::threshold::{Aggregation, parse_check};
use crate::results::Results;
use crate::server::{DerivedValue, FieldError, SourceFailure, key};

/// The figure `field` of the collected metric `metric` with `labels` (as in a threshold
/// key `nats.in_msgs{server:a}`), or why there is none.
pub fn figure(
    results: &Results,
    metric: &str,
    labels: &[(String, String)],
    field: &str,
) -> Result<f64, FigureError> {
    let name = key(metric, labels);
    if let Some(found) = results.server.get(&name) {
        return found.field(field).map_err(|error| FigureError::NoField {
            name,
            field: field.to_owned(),
            error,
        });
    }
    let source = metric.split_once('.').map_or(metric, |(s, _)| s);
    Err(match results.sources.get(source) {
        Some(report) => match report.failure(source) {
            Some(failure) => FigureError::SourceFailed { name, failure },
            None => FigureError::NotSampled {
                name,
                source: source.to_owned(),
                samples: report.samples,
            },
        },
        None => FigureError::NoSamples { name },
    })
}

/// Why [`figure`] has no value for a collected metric. `name` is the metric's key with
/// its labels (`nats.in_msgs{server:a}`).
#[derive(Debug, Clone, PartialEq)]
pub enum FigureError {
    /// The metric was collected, but has no such figure.
    NoField {
        name: String,
        field: String,
        error: FieldError,
    },
    /// The metric's source took no sample.
    SourceFailed {
        name: String,
        failure: SourceFailure,
    },
    /// The source took samples; none had this metric.
    NotSampled {
        name: String,
        source: String,
        samples: u32,
    },
    /// No source of that name was sampled.
    NoSamples { name: String },
}

impl fmt::Display for FigureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoField { name, field, error } => write!(f, "`{name}` has no {field}: {error}"),
            Self::SourceFailed { name, failure } => write!(f, "`{name}` has no samples: {failure}"),
            Self::NotSampled {
                name,
                source,
                samples,
            } => write!(
                f,
                "`{name}` was not in any of the {samples} samples of source `{source}`"
            ),
            Self::NoSamples { name } => write!(f, "`{name}` has no samples"),
        }
    }
}

// No `source()`: the message already ends with the cause's, and a chain printer would
// repeat it. The cause is a field of the variant.
impl std::error::Error for FigureError {}

/// Why a name in a derived expression has no value: the derived metric's n/a reason.
#[derive(Debug, Clone, PartialEq)]
enum NotAvailable {
    /// `vars.NAME` holds a number beyond `f64`.
    OutOfRange { name: String },
    /// `vars.NAME` holds a string that is no number.
    NotANumericString { name: String, text: String },
    /// `vars.NAME` holds a bool, an array, an object or null.
    NotANumber {
        name: String,
        value: serde_json::Value,
    },
    /// No `vars.NAME`.
    NotSet { name: String },
    /// A derived metric above this one that is n/a itself.
    EarlierDerived { name: String },
    /// Not a run value, variable, derived or collected metric, nor `METRIC.AGGREGATION`.
    Unknown { name: String },
    /// `METRIC.X` where `X` is no aggregation.
    NotAnAggregation { text: String },
    /// A collected metric's figure.
    Collected(FigureError),
    /// A client-side metric's figure.
    ClientSide(crate::results::FigureError),
}

impl fmt::Display for NotAvailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfRange { name } => write!(f, "`{name}` is out of range"),
            Self::NotANumericString { name, text } => {
                write!(f, "`{name}` is {text:?}, not a number")
            }
            Self::NotANumber { name, value } => write!(f, "`{name}` is {value}, not a number"),
            Self::NotSet { name } => write!(f, "`{name}` is not set"),
            Self::EarlierDerived { name } => write!(f, "`{name}` is n/a"),
            Self::Unknown { name } => write!(f, "`{name}` is not a known value"),
            Self::NotAnAggregation { text } => write!(f, "`{text}` is not an aggregation"),
            Self::Collected(error) => error.fmt(f),
            Self::ClientSide(error) => error.fmt(f),
        }
    }
}

impl From<FigureError> for NotAvailable {
    fn from(error: FigureError) -> Self {
        Self::Collected(error)
    }
}

impl From<crate::results::FigureError> for NotAvailable {
    fn from(error: crate::results::FigureError) -> Self {
        Self::ClientSide(error)
    }
}

/// What the derived expressions can read besides the results.
pub struct RunValues<'v> {
    pub vars: &'v IndexMap<String, serde_json::Value>,
    /// The stage's planned duration.
    pub stage_duration_s: f64,
}

/// Evaluates each derived metric in order; each can use those above it.
pub fn derive(
    derived: &[(String, Expr)],
    texts: &IndexMap<String, String>,
    results: &Results,
    run: &RunValues<'_>,
) -> Vec<DerivedValue> {
    let mut out: Vec<DerivedValue> = Vec::new();
    for (name, expr) in derived {
        let problem: RefCell<Option<NotAvailable>> = RefCell::new(None);
        let lookup = |used: &str| match lookup(used, results, run, &out) {
            Ok(value) => Some(value),
            Err(reason) => {
                problem.borrow_mut().get_or_insert(reason);
                None
            }
        };
        let value = expr.eval(&lookup).filter(|v| v.is_finite());
        let reason = match (value, problem.into_inner()) {
            (Some(_), _) => None,
            (None, Some(reason)) => Some(reason.to_string()),
            (None, None) => Some("division by zero".to_owned()),
        };
        out.push(DerivedValue {
            name: name.clone(),
            expression: texts.get(name).cloned().unwrap_or_default(),
            value,
            reason,
        });
    }
    out
}

fn lookup(
    name: &str,
    results: &Results,
    run: &RunValues<'_>,
    earlier: &[DerivedValue],
) -> Result<f64, NotAvailable> {
    let name_owned = || name.to_owned();
    match name {
        "duration_s" => return Ok(results.duration.as_secs_f64()),
        "stage_duration_s" => return Ok(run.stage_duration_s),
        "vus_max" => return Ok(f64::from(results.vus_max)),
        "iterations" => {
            return Ok(results.figure("iterations", Aggregation::Count, |_| true, true)?);
        }
        _ => {}
    }
    if let Some(var) = name.strip_prefix("vars.") {
        return match run.vars.get(var) {
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .ok_or_else(|| NotAvailable::OutOfRange { name: name_owned() }),
            Some(serde_json::Value::String(s)) => {
                s.trim()
                    .parse()
                    .map_err(|_| NotAvailable::NotANumericString {
                        name: name_owned(),
                        text: s.clone(),
                    })
            }
            Some(other) => Err(NotAvailable::NotANumber {
                name: name_owned(),
                value: other.clone(),
            }),
            None => Err(NotAvailable::NotSet { name: name_owned() }),
        };
    }
    if let Some(value) = earlier.iter().find(|d| d.name == name) {
        return value
            .value
            .ok_or_else(|| NotAvailable::EarlierDerived { name: name_owned() });
    }
    let source = name.split_once('.').map(|(s, _)| s);
    if source.is_some_and(|s| results.sources.contains_key(s)) {
        if results.server.contains_key(name) {
            return Ok(figure(results, name, &[], "value")?);
        }
        if let Some((metric, field)) = name.rsplit_once('.')
            && results.server.contains_key(metric)
        {
            return Ok(figure(results, metric, &[], field)?);
        }
        return Ok(figure(results, name, &[], "value")?);
    }
    let (metric, aggregation) = name
        .rsplit_once('.')
        .ok_or_else(|| NotAvailable::Unknown { name: name_owned() })?;
    let aggregation = parse_check(&format!("{aggregation} > 0"))
        .map_err(|_| NotAvailable::NotAnAggregation {
            text: aggregation.to_owned(),
        })?
        .aggregation;
    // A count of something that never happened is 0, not n/a: a run without a single
    // `ws_connect_errors` sample, or one whose every handshake failed (no
    // `ws_connect_time`), still has a connection failure rate.
    let zero_if_absent = matches!(aggregation, Aggregation::Count)
        || crate::plan::metric::builtin(metric) == Some(crate::plan::metric::MetricKind::Counter);
    Ok(results.figure(metric, aggregation, |_| true, zero_if_absent)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::expr::parse;
    use crate::results::{Sample, SeriesKey};
    use crate::server::{ServerKind, ServerMetric, SourceReport};

    fn results() -> Results {
        let mut results = Results {
            duration: Duration::from_secs(10),
            vus_max: 4,
            ..Results::default()
        };
        results.record(Sample::Count(
            SeriesKey::from(crate::results::Series {
                metric: "http_reqs".into(),
                scenario: "s".into(),
                name: None,
                group: None,
                response: None,
            }),
            200,
        ));
        let counter = |delta: f64| ServerMetric {
            kind: Some(ServerKind::Counter),
            samples: 11,
            delta: Some(delta),
            rate: Some(delta / 10.0),
            ..ServerMetric::default()
        };
        results
            .server
            .insert("nats.in_msgs".into(), counter(1000.0));
        results
            .server
            .insert("nats.in_bytes".into(), counter(512_000.0));
        results.server.insert("nats.idle".into(), counter(0.0));
        results.server.insert(
            "app.cpu_percent".into(),
            ServerMetric {
                kind: Some(ServerKind::Gauge),
                samples: 11,
                avg: Some(40.0),
                end: Some(50.0),
                ..ServerMetric::default()
            },
        );
        results.server.insert(
            "gone.x".into(),
            ServerMetric {
                missing: Some("source `gone` failed 3 of 3 samples: connection refused".into()),
                ..ServerMetric::default()
            },
        );
        for source in ["nats", "app"] {
            results.sources.insert(
                source.into(),
                SourceReport {
                    kind: "json".into(),
                    samples: 11,
                    ..SourceReport::default()
                },
            );
        }
        results.sources.insert(
            "gone".into(),
            SourceReport {
                kind: "json".into(),
                failed: 3,
                error: Some("connection refused".into()),
                ..SourceReport::default()
            },
        );
        results
    }

    #[test]
    fn evaluates_seed_003_formulas_and_division_by_zero() {
        let vars: IndexMap<String, serde_json::Value> = [
            ("n_consumers".to_owned(), 4.into()),
            ("label".to_owned(), "x".into()),
        ]
        .into();
        let table = [
            ("throughput", "nats.in_msgs / duration_s", Some(100.0), None),
            ("size", "nats.in_bytes / nats.in_msgs", Some(512.0), None),
            (
                "per_consumer",
                "nats.in_msgs / vars.n_consumers",
                Some(250.0),
                None,
            ),
            (
                "cpu_per_consumer",
                "app.cpu_percent.avg / vars.n_consumers",
                Some(10.0),
                None,
            ),
            (
                "efficiency",
                "nats.in_msgs / http_reqs.count * 100",
                Some(500.0),
                None,
            ),
            ("per_vu", "http_reqs.count / vus_max", Some(50.0), None),
            ("reuse", "throughput * 2", Some(200.0), None),
            (
                "zero",
                "nats.in_msgs / nats.idle",
                None,
                Some("division by zero"),
            ),
            ("after_zero", "zero + 1", None, Some("`zero` is n/a")),
            (
                "down",
                "gone.x * 2",
                None,
                Some(
                    "`gone.x` has no value: source `gone` failed 3 of 3 samples: connection refused",
                ),
            ),
            (
                "text",
                "vars.label + 1",
                None,
                Some("`vars.label` is \"x\", not a number"),
            ),
            (
                "rate",
                "nats.in_msgs.rate + app.cpu_percent",
                Some(150.0),
                None,
            ),
            // Counts of what never happened are 0: no error, no handshake.
            (
                "connect_failure_percent",
                "ws_connect_errors.count / (http_reqs.count + ws_connect_errors.count) * 100",
                Some(0.0),
                None,
            ),
            (
                "all_failed_percent",
                "http_reqs.count / (ws_connect_time.count + http_reqs.count) * 100",
                Some(100.0),
                None,
            ),
            (
                "nothing_tried",
                "ws_connect_errors.count / ws_connect_time.count",
                None,
                Some("division by zero"),
            ),
            (
                "no_latency",
                "ws_connect_time.p95",
                None,
                Some("`ws_connect_time` has no samples"),
            ),
        ];
        let derived: Vec<(String, Expr)> = table
            .iter()
            .map(|(name, text, _, _)| ((*name).to_owned(), parse(text).unwrap()))
            .collect();
        let texts: IndexMap<String, String> = table
            .iter()
            .map(|(name, text, _, _)| ((*name).to_owned(), (*text).to_owned()))
            .collect();
        let run = RunValues {
            vars: &vars,
            stage_duration_s: 10.0,
        };
        let values = derive(&derived, &texts, &results(), &run);
        for ((name, text, value, reason), got) in table.iter().zip(&values) {
            assert_eq!(&got.name, name);
            assert_eq!(&got.expression, text);
            assert_eq!(got.value, *value, "{name}: {got:?}");
            assert_eq!(got.reason.as_deref(), *reason, "{name}");
        }
    }

    #[test]
    fn figures_explain_what_is_missing() {
        let results = results();
        assert_eq!(figure(&results, "app.cpu_percent", &[], "avg"), Ok(40.0));
        let labels = [("server".into(), "a".into())];
        let cases = [
            (
                figure(&results, "nats.in_msgs", &[], "p95"),
                FigureError::NoField {
                    name: "nats.in_msgs".into(),
                    field: "p95".into(),
                    error: FieldError::NotApplicable {
                        field: "p95".into(),
                        kind: crate::server::ServerKind::Counter,
                    },
                },
                "`nats.in_msgs` has no p95: `p95` does not apply to a counter, which has value (= delta), count (= delta), delta, rate",
            ),
            (
                figure(&results, "nats.other", &labels, "value"),
                FigureError::NotSampled {
                    name: "nats.other{server:a}".into(),
                    source: "nats".into(),
                    samples: 11,
                },
                "`nats.other{server:a}` was not in any of the 11 samples of source `nats`",
            ),
            (
                figure(&results, "gone.y", &[], "value"),
                FigureError::SourceFailed {
                    name: "gone.y".into(),
                    failure: SourceFailure::Failed {
                        source: "gone".into(),
                        failed: 3,
                        error: "connection refused".into(),
                    },
                },
                "`gone.y` has no samples: source `gone` failed 3 of 3 samples: connection refused",
            ),
            (
                figure(&results, "nowhere.z", &[], "value"),
                FigureError::NoSamples {
                    name: "nowhere.z".into(),
                },
                "`nowhere.z` has no samples",
            ),
        ];
        for (got, error, message) in cases {
            assert_eq!(got.as_ref(), Err(&error));
            assert_eq!(error.to_string(), message);
        }
    }
}
