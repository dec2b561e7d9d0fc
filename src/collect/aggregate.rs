//! The `Aggregator`: one source's samples over the stage, folded as they arrive into the
//! figures of each metric. Memory is per metric, never per sample.
//!
//! - Counters: the increase from the first sample to the last, following resets (a value
//!   below the previous one counts from zero); a series that first appears after the
//!   source's first sample started from zero (Prometheus only exports a labelled series once
//!   it has counted). `rate` is that increase over the time between the first and last
//!   samples of the source.
//! - Gauges: first, last, mean of the samples (they are evenly spaced), min, max.
//! - Histograms: the bucket counts of the last sample minus those of the first (with the
//!   same reset and late-series rules), and quantiles of that window.
//! - Summaries: the server's quantiles cover its own window, not ours; each is averaged
//!   over the samples, and `count`/`sum` are window deltas.

use std::collections::BTreeMap;

use super::reading::{Reading, Value};
use crate::server::{Buckets, ServerKind, ServerMetric, SourceReport};

/// Folds one source's samples.
#[derive(Debug)]
pub struct Aggregator {
    kind: &'static str,
    /// Metrics the plan asked for by name; missing ones are reported.
    expected: Vec<String>,
    samples: u32,
    failed: u32,
    error: Option<String>,
    first_at: Option<f64>,
    last_at: f64,
    metrics: BTreeMap<String, Accumulator>,
    /// Per metric: the last reason it was absent from a sample that otherwise worked.
    problems: BTreeMap<String, String>,
}

#[derive(Debug)]
enum Accumulator {
    Counter {
        last: f64,
        increase: f64,
        samples: u32,
    },
    Gauge {
        first: f64,
        last: f64,
        sum: f64,
        min: f64,
        max: f64,
        samples: u32,
    },
    Histogram {
        previous: Buckets,
        /// Increase so far up to `previous`.
        increase: Buckets,
        samples: u32,
    },
    Summary {
        previous: (f64, f64),
        /// Increase of (count, sum) so far.
        increase: (f64, f64),
        /// Per quantile: sum of the values and how many samples had it.
        quantiles: Vec<(f64, f64, u32)>,
        samples: u32,
    },
}

impl Accumulator {
    fn start(value: &Value, late: bool) -> Self {
        match value {
            Value::Counter(v) => Self::Counter {
                last: if late { 0.0 } else { *v },
                increase: 0.0,
                samples: 0,
            },
            Value::Gauge(v) => Self::Gauge {
                first: *v,
                last: *v,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                samples: 0,
            },
            Value::Histogram(b) => Self::Histogram {
                previous: if late { Buckets::default() } else { b.clone() },
                increase: Buckets::default(),
                samples: 0,
            },
            Value::Summary { count, sum, .. } => Self::Summary {
                previous: if late { (0.0, 0.0) } else { (*count, *sum) },
                increase: (0.0, 0.0),
                quantiles: Vec::new(),
                samples: 0,
            },
        }
    }

    /// Applies one sample's value; a value of another kind than the first is ignored.
    fn add(&mut self, value: &Value) {
        match (self, value) {
            (
                Self::Counter {
                    last,
                    increase,
                    samples,
                },
                Value::Counter(v),
            ) if v.is_finite() => {
                *increase += if *v >= *last { *v - *last } else { *v };
                *last = *v;
                *samples += 1;
            }
            (
                Self::Gauge {
                    first,
                    last,
                    sum,
                    min,
                    max,
                    samples,
                },
                Value::Gauge(v),
            ) if v.is_finite() => {
                if *samples == 0 {
                    *first = *v;
                }
                *last = *v;
                *sum += *v;
                *min = min.min(*v);
                *max = max.max(*v);
                *samples += 1;
            }
            (
                Self::Histogram {
                    previous,
                    increase,
                    samples,
                },
                Value::Histogram(b),
            ) => {
                let step = if b.count >= previous.count {
                    b.minus(previous)
                } else {
                    b.clone()
                };
                *increase = increase.plus(&step);
                *previous = b.clone();
                *samples += 1;
            }
            (
                Self::Summary {
                    previous,
                    increase,
                    quantiles,
                    samples,
                },
                Value::Summary {
                    quantiles: qs,
                    count,
                    sum,
                },
            ) => {
                if *count >= previous.0 {
                    increase.0 += count - previous.0;
                    increase.1 += sum - previous.1;
                } else {
                    increase.0 += count;
                    increase.1 += sum;
                }
                *previous = (*count, *sum);
                for (q, v) in qs.iter().filter(|(_, v)| v.is_finite()) {
                    match quantiles.iter_mut().find(|(known, _, _)| known == q) {
                        Some((_, total, n)) => {
                            *total += v;
                            *n += 1;
                        }
                        None => quantiles.push((*q, *v, 1)),
                    }
                }
                *samples += 1;
            }
            _ => {}
        }
    }

    fn finish(self, seconds: Option<f64>) -> ServerMetric {
        match self {
            Self::Counter {
                increase, samples, ..
            } => ServerMetric {
                kind: Some(ServerKind::Counter),
                samples,
                delta: Some(increase),
                rate: seconds.filter(|s| *s > 0.0).map(|s| increase / s),
                ..ServerMetric::default()
            },
            Self::Gauge {
                first,
                last,
                sum,
                min,
                max,
                samples,
            } => {
                let some = samples > 0;
                ServerMetric {
                    kind: Some(ServerKind::Gauge),
                    samples,
                    delta: some.then_some(last - first),
                    start: some.then_some(first),
                    end: some.then_some(last),
                    avg: some.then(|| sum / f64::from(samples)),
                    min: some.then_some(min),
                    max: some.then_some(max),
                    ..ServerMetric::default()
                }
            }
            Self::Histogram {
                increase, samples, ..
            } => ServerMetric {
                kind: Some(ServerKind::Histogram),
                samples,
                count: Some(increase.count),
                sum: Some(increase.sum),
                avg: (increase.count > 0.0).then(|| increase.sum / increase.count),
                p50: increase.quantile(0.5),
                p95: increase.quantile(0.95),
                p99: increase.quantile(0.99),
                buckets: increase
                    .buckets
                    .iter()
                    .map(|(le, c)| [le.is_finite().then_some(*le), Some(*c)])
                    .collect(),
                ..ServerMetric::default()
            },
            Self::Summary {
                increase,
                quantiles,
                samples,
                ..
            } => {
                let quantiles: Vec<[f64; 2]> = quantiles
                    .into_iter()
                    .map(|(q, total, n)| [q, total / f64::from(n.max(1))])
                    .collect();
                let at = |q: f64| quantiles.iter().find(|p| p[0] == q).map(|p| p[1]);
                ServerMetric {
                    kind: Some(ServerKind::Summary),
                    samples,
                    count: Some(increase.0),
                    sum: Some(increase.1),
                    avg: (increase.0 > 0.0).then(|| increase.1 / increase.0),
                    p50: at(0.5),
                    p95: at(0.95),
                    p99: at(0.99),
                    quantiles,
                    ..ServerMetric::default()
                }
            }
        }
    }
}

impl Aggregator {
    /// An aggregator for a source of `kind` whose plan names `expected` metrics.
    pub fn new(kind: &'static str, expected: Vec<String>) -> Self {
        Self {
            kind,
            expected,
            samples: 0,
            failed: 0,
            error: None,
            first_at: None,
            last_at: 0.0,
            metrics: BTreeMap::new(),
            problems: BTreeMap::new(),
        }
    }

    /// A sample taken `at` seconds into the sampling.
    pub fn record(&mut self, at: f64, reading: &Reading) {
        let late = self.samples > 0;
        for (name, value) in reading {
            self.metrics
                .entry(name.clone())
                .or_insert_with(|| Accumulator::start(value, late))
                .add(value);
        }
        self.samples += 1;
        self.first_at.get_or_insert(at);
        self.last_at = at;
    }

    /// A metric absent from a sample that otherwise worked, and why.
    pub fn problem(&mut self, metric: &str, reason: String) {
        self.problems.insert(metric.to_owned(), reason);
    }

    /// A sample that failed.
    pub fn fail(&mut self, error: String) {
        self.failed += 1;
        self.error = Some(error);
    }

    /// The source's report and its metrics, keyed `SOURCE.metric`.
    pub fn finish(self, source: &str) -> (SourceReport, Vec<(String, ServerMetric)>) {
        let report = SourceReport {
            kind: self.kind.to_owned(),
            samples: self.samples,
            failed: self.failed,
            error: self.error,
        };
        let seconds = self.first_at.map(|first| self.last_at - first);
        let mut out: Vec<(String, ServerMetric)> = Vec::new();
        for name in &self.expected {
            if self.metrics.contains_key(name) {
                continue;
            }
            let missing = report
                .failure(source)
                .map(|failure| failure.to_string())
                .or_else(|| self.problems.get(name).cloned())
                .unwrap_or_else(|| format!("not in any of the {} samples", self.samples));
            out.push((
                format!("{source}.{name}"),
                ServerMetric {
                    missing: Some(missing),
                    ..ServerMetric::default()
                },
            ));
        }
        for (name, accumulator) in self.metrics {
            out.push((format!("{source}.{name}"), accumulator.finish(seconds)));
        }
        (report, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(out: &[(String, ServerMetric)], name: &str) -> ServerMetric {
        out.iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("no {name} in {out:?}"))
    }

    #[test]
    fn counters_are_deltas_with_resets_and_late_series() {
        let mut aggregator = Aggregator::new("prometheus", vec![]);
        let samples = [
            (0.0, vec![("c", 100.0)]),
            (1.0, vec![("c", 150.0), ("late", 5.0)]),
            (2.0, vec![("c", 10.0), ("late", 9.0)]), // c restarted
            (4.0, vec![("c", 30.0), ("late", 12.0)]),
        ];
        for (at, values) in samples {
            let reading: Reading = values
                .into_iter()
                .map(|(n, v)| (n.to_owned(), Value::Counter(v)))
                .collect();
            aggregator.record(at, &reading);
        }
        let (report, out) = aggregator.finish("s");
        assert_eq!((report.samples, report.failed), (4, 0));
        let c = metric(&out, "s.c");
        assert_eq!(c.delta, Some(80.0));
        assert_eq!(c.rate, Some(20.0));
        assert_eq!(metric(&out, "s.late").delta, Some(12.0));
    }

    #[test]
    fn gauges_average_and_keep_extremes() {
        let mut aggregator = Aggregator::new("json", vec!["g".into(), "absent".into()]);
        for (at, v) in [(0.0, 10.0), (1.0, 30.0), (2.0, f64::NAN), (3.0, 20.0)] {
            aggregator.record(at, &vec![("g".to_owned(), Value::Gauge(v))]);
        }
        aggregator.problem("absent", "no `/absent` in the response".into());
        let (_, out) = aggregator.finish("s");
        let g = metric(&out, "s.g");
        assert_eq!(
            (g.start, g.end, g.avg, g.min, g.max, g.delta, g.samples),
            (
                Some(10.0),
                Some(20.0),
                Some(20.0),
                Some(10.0),
                Some(30.0),
                Some(10.0),
                3
            )
        );
        assert_eq!(
            metric(&out, "s.absent").missing.as_deref(),
            Some("no `/absent` in the response")
        );
    }

    #[test]
    fn histograms_use_the_window_buckets() {
        let mut aggregator = Aggregator::new("prometheus", vec![]);
        let h = |a: f64, b: f64| {
            Value::Histogram(Buckets {
                buckets: vec![(0.1, a), (1.0, b), (f64::INFINITY, b)],
                count: b,
                sum: b * 0.2,
            })
        };
        // Before the stage 1000 fast observations; during it 100 slow ones.
        aggregator.record(0.0, &vec![("h".to_owned(), h(1000.0, 1000.0))]);
        aggregator.record(1.0, &vec![("h".to_owned(), h(1000.0, 1050.0))]);
        aggregator.record(2.0, &vec![("h".to_owned(), h(1000.0, 1100.0))]);
        let (_, out) = aggregator.finish("s");
        let m = metric(&out, "s.h");
        assert_eq!(m.count, Some(100.0));
        let p50 = m.p50.unwrap();
        assert!(
            (p50 - 0.55).abs() < 1e-9,
            "inside (0.1, 1], not 0.05: {p50}"
        );
        assert_eq!(m.buckets[0], [Some(0.1), Some(0.0)]);
        assert_eq!(m.buckets[2], [None, Some(100.0)]);
    }

    #[test]
    fn summaries_average_quantiles() {
        let mut aggregator = Aggregator::new("prometheus", vec![]);
        for (at, p99, count) in [(0.0, 0.1, 10.0), (1.0, 0.3, 30.0)] {
            let value = Value::Summary {
                quantiles: vec![(0.5, 0.01), (0.99, p99)],
                count,
                sum: count,
            };
            aggregator.record(at, &vec![("q".to_owned(), value)]);
        }
        let (_, out) = aggregator.finish("s");
        let m = metric(&out, "s.q");
        assert!((m.p99.unwrap() - 0.2).abs() < 1e-9);
        assert_eq!((m.count, m.p95), (Some(20.0), None));
    }

    #[test]
    fn a_failing_source_reports_every_expected_metric_missing() {
        let mut aggregator = Aggregator::new("json", vec!["in_msgs".into()]);
        aggregator.fail("connection refused".into());
        aggregator.fail("connection refused".into());
        let (report, out) = aggregator.finish("nats");
        assert_eq!((report.samples, report.failed), (0, 2));
        assert_eq!(
            metric(&out, "nats.in_msgs").missing.as_deref(),
            Some("source `nats` failed 2 of 2 samples: connection refused")
        );
    }
}
