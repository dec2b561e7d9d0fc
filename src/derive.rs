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
//! `verdict` (whose collected-metric thresholds use [`figure`]); the exec calls [`derive`]
//! once the stage is over.

use std::cell::RefCell;

use indexmap::IndexMap;

use crate::plan::expr::Expr;
use crate::plan::threshold::{Aggregation, parse_check};
use crate::results::Results;
use crate::server::{DerivedValue, key};

/// The figure `field` of the collected metric `metric` with `labels` (as in a threshold
/// key `nats.in_msgs{server:a}`), or why there is none.
pub fn figure(
    results: &Results,
    metric: &str,
    labels: &[(String, String)],
    field: &str,
) -> Result<f64, String> {
    let name = key(metric, labels);
    if let Some(found) = results.server.get(&name) {
        return found
            .field(field)
            .map_err(|reason| format!("`{name}` has no {field}: {reason}"));
    }
    let source = metric.split_once('.').map_or(metric, |(s, _)| s);
    Err(match results.sources.get(source) {
        Some(report) => match report.failure(source) {
            Some(failure) => format!("`{name}` has no samples: {failure}"),
            None => format!(
                "`{name}` was not in any of the {} samples of source `{source}`",
                report.samples
            ),
        },
        None => format!("`{name}` has no samples"),
    })
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
        let problem: RefCell<Option<String>> = RefCell::new(None);
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
            (None, Some(reason)) => Some(reason),
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
) -> Result<f64, String> {
    match name {
        "duration_s" => return Ok(results.duration.as_secs_f64()),
        "stage_duration_s" => return Ok(run.stage_duration_s),
        "vus_max" => return Ok(f64::from(results.vus_max)),
        "iterations" => return results.figure("iterations", Aggregation::Count, |_| true, true),
        _ => {}
    }
    if let Some(var) = name.strip_prefix("vars.") {
        return match run.vars.get(var) {
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .ok_or_else(|| format!("`{name}` is out of range")),
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("`{name}` is {s:?}, not a number")),
            Some(other) => Err(format!("`{name}` is {other}, not a number")),
            None => Err(format!("`{name}` is not set")),
        };
    }
    if let Some(value) = earlier.iter().find(|d| d.name == name) {
        return value.value.ok_or_else(|| format!("`{name}` is n/a"));
    }
    let source = name.split_once('.').map(|(s, _)| s);
    if source.is_some_and(|s| results.sources.contains_key(s)) {
        if results.server.contains_key(name) {
            return figure(results, name, &[], "value");
        }
        if let Some((metric, field)) = name.rsplit_once('.')
            && results.server.contains_key(metric)
        {
            return figure(results, metric, &[], field);
        }
        return figure(results, name, &[], "value");
    }
    let (metric, aggregation) = name
        .rsplit_once('.')
        .ok_or_else(|| format!("`{name}` is not a known value"))?;
    let aggregation = parse_check(&format!("{aggregation} > 0"))
        .map_err(|_| format!("`{aggregation}` is not an aggregation"))?
        .aggregation;
    // A count of something that never happened is 0, not n/a: a run without a single
    // `ws_connect_errors` sample, or one whose every handshake failed (no
    // `ws_connect_time`), still has a connection failure rate.
    let zero_if_absent = matches!(aggregation, Aggregation::Count)
        || crate::plan::metric::builtin(metric) == Some(crate::plan::metric::MetricKind::Counter);
    results.figure(metric, aggregation, |_| true, zero_if_absent)
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
        assert_eq!(
            figure(&results, "nats.in_msgs", &[], "p95"),
            Err("`nats.in_msgs` has no p95: `p95` does not apply to a counter, which has value (= delta), count (= delta), delta, rate".into())
        );
        assert_eq!(
            figure(
                &results,
                "nats.other",
                &[("server".into(), "a".into())],
                "value"
            ),
            Err("`nats.other{server:a}` was not in any of the 11 samples of source `nats`".into())
        );
        assert_eq!(
            figure(&results, "gone.y", &[], "value"),
            Err(
                "`gone.y` has no samples: source `gone` failed 3 of 3 samples: connection refused"
                    .into()
            )
        );
    }
}
