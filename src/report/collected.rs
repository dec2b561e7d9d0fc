//! The report model's view of server-side metrics (`collect:`) and derived metrics
//! (`derived:`): each collected metric with the figures of its kind, the sources that
//! failed samples, and each derived value or why it is n/a. Built from the results'
//! `server`, `sources` and `derived` as they are, so `loadplan report` shows what the run
//! recorded. Figures stay in the metric's own unit; the `*_text` fields format them for
//! reading (`_seconds` metrics in ms, `_bytes` metrics in KiB/MiB/GiB).

use std::collections::BTreeMap;

use serde::Serialize;

use super::format::{self, Style};
use crate::server::{DerivedValue, ServerKind, ServerMetric, SourceReport};

/// One collected metric over the stage's window.
#[derive(Debug, Clone, Serialize)]
pub struct ServerView {
    /// The full name: `mock.mock_http_requests_total{status:200}`.
    pub name: String,
    /// The source's name, the part before the first dot.
    pub source: String,
    /// `counter`, `gauge`, `histogram`, `summary`, or none when missing.
    pub kind: Option<String>,
    /// Samples of the source that had this metric.
    pub samples: u32,
    /// `s` (the name ends in `_seconds`), `bytes` (`_bytes`) or empty: the unit of the
    /// figures below, except `count` and a histogram's `rate`.
    pub unit: String,
    pub delta: Option<f64>,
    pub rate: Option<f64>,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub avg: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub count: Option<f64>,
    pub sum: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// The figures of its kind, formatted: `Δ 485 · 47.95/s`, `avg 37.2 · min 0 · …`,
    /// `p50 0.25ms · p95 0.48ms · p99 0.50ms · 486 observations`; the reason when missing.
    pub figures: String,
    /// Why there are no figures.
    pub missing: Option<String>,
}

/// How sampling one source went.
#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    pub name: String,
    /// `prometheus`, `json`, `process` or `command`.
    pub kind: String,
    /// Samples taken and read, and samples that failed.
    pub samples: u32,
    pub failed: u32,
    /// The last failure.
    pub error: Option<String>,
}

/// One derived metric.
#[derive(Debug, Clone, Serialize)]
pub struct DerivedView {
    pub name: String,
    pub expression: String,
    /// None is n/a.
    pub value: Option<f64>,
    /// The value formatted (`99.6`, `0.0123`), or `n/a`.
    pub value_text: String,
    /// Why it is n/a.
    pub reason: Option<String>,
}

/// The unit of a collected metric's figures, from its name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Seconds,
    Bytes,
    Plain,
}

impl Unit {
    fn of(name: &str) -> Self {
        let base = name.split('{').next().unwrap_or(name);
        if base.ends_with("_seconds") {
            Self::Seconds
        } else if base.ends_with("_bytes") {
            Self::Bytes
        } else {
            Self::Plain
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Bytes => "bytes",
            Self::Plain => "",
        }
    }

    fn format(self, value: f64) -> String {
        match self {
            Self::Seconds => format::ms(value * 1000.0, Style::Document),
            Self::Bytes => format::bytes(value),
            Self::Plain => format::figure(value),
        }
    }
}

/// Every collected metric, in name order.
pub fn server_views(server: &BTreeMap<String, ServerMetric>) -> Vec<ServerView> {
    server
        .iter()
        .map(|(name, metric)| server_view(name, metric))
        .collect()
}

fn server_view(name: &str, metric: &ServerMetric) -> ServerView {
    let unit = Unit::of(name);
    let figures = match metric.kind {
        None => metric
            .missing
            .clone()
            .unwrap_or_else(|| "no samples".to_owned()),
        Some(kind) => figures_text(kind, unit, metric),
    };
    ServerView {
        name: name.to_owned(),
        source: name.split('.').next().unwrap_or(name).to_owned(),
        kind: metric.kind.map(|k| k.name().to_owned()),
        samples: metric.samples,
        unit: unit.name().to_owned(),
        delta: metric.delta,
        rate: metric.rate,
        start: metric.start,
        end: metric.end,
        avg: metric.avg,
        min: metric.min,
        max: metric.max,
        count: metric.count,
        sum: metric.sum,
        p50: metric.p50,
        p95: metric.p95,
        p99: metric.p99,
        figures,
        missing: metric.missing.clone(),
    }
}

fn figures_text(kind: ServerKind, unit: Unit, metric: &ServerMetric) -> String {
    let labelled = |pairs: &[(&str, Option<f64>)]| -> Vec<String> {
        pairs
            .iter()
            .filter_map(|(label, value)| value.map(|v| format!("{label} {}", unit.format(v))))
            .collect()
    };
    let parts: Vec<String> = match kind {
        ServerKind::Counter => [
            metric.delta.map(|d| format!("Δ {}", unit.format(d))),
            metric.rate.map(|r| format!("{}/s", unit.format(r))),
        ]
        .into_iter()
        .flatten()
        .collect(),
        ServerKind::Gauge => labelled(&[
            ("avg", metric.avg),
            ("min", metric.min),
            ("max", metric.max),
            ("start", metric.start),
            ("end", metric.end),
        ]),
        ServerKind::Histogram | ServerKind::Summary => {
            let mut parts = labelled(&[
                ("p50", metric.p50),
                ("p95", metric.p95),
                ("p99", metric.p99),
                ("avg", metric.avg),
            ]);
            if let Some(count) = metric.count {
                parts.push(format!("{} observations", format::figure(count)));
            }
            parts
        }
    };
    if parts.is_empty() {
        format!("no figures in {} samples", metric.samples)
    } else {
        parts.join(" · ")
    }
}

/// Every source, in name order.
pub fn source_views(sources: &BTreeMap<String, SourceReport>) -> Vec<SourceView> {
    sources
        .iter()
        .map(|(name, source)| SourceView {
            name: name.clone(),
            kind: source.kind.clone(),
            samples: source.samples,
            failed: source.failed,
            error: source.error.clone(),
        })
        .collect()
}

/// Every derived metric, in plan order.
pub fn derived_views(derived: &[DerivedValue]) -> Vec<DerivedView> {
    derived
        .iter()
        .map(|d| DerivedView {
            name: d.name.clone(),
            expression: d.expression.clone(),
            value: d.value,
            value_text: d.value.map_or_else(|| "n/a".to_owned(), format::figure),
            reason: match (d.value, &d.reason) {
                (None, None) => Some("no value".to_owned()),
                (_, reason) => reason.clone(),
            },
        })
        .collect()
}

/// The CSV cells of the collected and derived metrics: per collected metric the figures
/// of its kind (`NAME.delta`, `NAME.rate`; `NAME.avg`, `NAME.min`, `NAME.max`;
/// `NAME.count`, `NAME.p50`, `NAME.p95`, `NAME.p99`), in the metric's unit; then
/// `derived.NAME` per derived metric. A missing metric has no cells (its columns, if the
/// file has them, stay empty).
pub fn history_cells(server: &[ServerView], derived: &[DerivedView]) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    for metric in server {
        let figures: &[(&str, Option<f64>)] = match metric.kind.as_deref() {
            Some("counter") => &[("delta", metric.delta), ("rate", metric.rate)],
            Some("gauge") => &[
                ("avg", metric.avg),
                ("min", metric.min),
                ("max", metric.max),
            ],
            Some(_) => &[
                ("count", metric.count),
                ("p50", metric.p50),
                ("p95", metric.p95),
                ("p99", metric.p99),
            ],
            None => &[],
        };
        for (figure, value) in figures {
            cells.push((
                format!("{}.{figure}", metric.name),
                value.map(format::significant).unwrap_or_default(),
            ));
        }
    }
    for d in derived {
        cells.push((
            format!("derived.{}", d.name),
            d.value.map(format::significant).unwrap_or_default(),
        ));
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(kind: ServerKind) -> ServerMetric {
        ServerMetric {
            kind: Some(kind),
            samples: 12,
            ..ServerMetric::default()
        }
    }

    #[test]
    fn figures_by_kind_and_unit() {
        let counter = ServerMetric {
            delta: Some(485.0),
            rate: Some(47.951),
            ..metric(ServerKind::Counter)
        };
        let view = server_view("mock.mock_http_requests_total{status:200}", &counter);
        assert_eq!(view.source, "mock");
        assert_eq!(view.kind.as_deref(), Some("counter"));
        assert_eq!(view.figures, "Δ 485 · 47.95/s");
        let gauge = ServerMetric {
            avg: Some(28_350_805.3),
            min: Some(27_267_072.0),
            max: Some(28_504_064.0),
            start: Some(27_267_072.0),
            end: Some(28_504_064.0),
            ..metric(ServerKind::Gauge)
        };
        assert_eq!(
            server_view("server.rss_bytes", &gauge).figures,
            "avg 27.0 MiB · min 26.0 MiB · max 27.2 MiB · start 26.0 MiB · end 27.2 MiB"
        );
        let histogram = ServerMetric {
            count: Some(486.0),
            avg: Some(0.000014),
            p50: Some(0.00025),
            p95: Some(0.000475),
            p99: Some(0.000495),
            ..metric(ServerKind::Histogram)
        };
        let view = server_view("mock.mock_http_request_duration_seconds", &histogram);
        assert_eq!(view.unit, "s");
        assert_eq!(
            view.figures,
            "p50 0.25ms · p95 0.47ms · p99 0.49ms · avg 0.01ms · 486 observations"
        );
        let missing = ServerMetric {
            missing: Some("source `down` failed 12 of 12 samples: connection refused".into()),
            ..ServerMetric::default()
        };
        let view = server_view("down.in_msgs", &missing);
        assert_eq!(view.kind, None);
        assert_eq!(
            view.figures,
            "source `down` failed 12 of 12 samples: connection refused"
        );
        assert_eq!(
            server_view("x.y", &metric(ServerKind::Counter)).figures,
            "no figures in 12 samples"
        );
    }

    #[test]
    fn history_cells_by_kind() {
        let server = server_views(&BTreeMap::from([
            (
                "a.hits".to_owned(),
                ServerMetric {
                    delta: Some(10.0),
                    rate: Some(0.5),
                    ..metric(ServerKind::Counter)
                },
            ),
            ("b.gone".to_owned(), ServerMetric::default()),
        ]));
        let derived = derived_views(&[DerivedValue {
            name: "ratio".into(),
            expression: "a / b".into(),
            value: None,
            reason: Some("division by zero".into()),
        }]);
        assert_eq!(
            history_cells(&server, &derived),
            [
                ("a.hits.delta".to_owned(), "10".to_owned()),
                ("a.hits.rate".to_owned(), "0.5".to_owned()),
                ("derived.ratio".to_owned(), String::new()),
            ]
        );
        assert_eq!(derived[0].value_text, "n/a");
    }
}
