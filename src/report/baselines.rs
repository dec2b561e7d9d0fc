//! The rows of a WebSocket service's performance-baselines document (the one in
//! `docs/baselines/websocket-baselines.md`), as the built-in templates fill it:
//!
//! - the latency table `Metric | p50 | p95 | p99 | Threshold | Status`, one row per
//!   latency family — Connection Time, Message Latency, Broadcast Delivery, HTTP Duration,
//!   then each custom trend by its name — and per tag filter its thresholds use, with the
//!   baseline comparison
//!   (`Baseline p95 | Δ p95 | Regression limit | Regressed`);
//! - the history table `Date | Environment | Mode | Connections | p95 Conn Time |
//!   p95 Broadcast | Pass/Fail`, one row per run.
//!
//! A template for another document can ignore both and use the metrics directly.

use indexmap::IndexMap;
use serde::Serialize;

use super::build::delta;
use super::json::RunDocument;
use super::model::{MetricView, RunResult, ThresholdView};
use crate::results::{Results, SeriesData};

/// The latency families of the latency table, in the document's order.
const FAMILIES: [(&str, &str); 4] = [
    ("ws_connect_time", "Connection Time"),
    ("ws_message_latency", "Message Latency"),
    ("broadcast_delivery_time", "Broadcast Delivery"),
    ("http_req_duration", "HTTP Duration"),
];

/// A row of the `Metric | p50 | p95 | p99 | Threshold | Status` table.
#[derive(Debug, Clone, Serialize)]
pub struct TableRow {
    pub label: String,
    pub metric: String,
    /// The tag filter of the row (`name:broadcast`), if any.
    pub tags: Option<String>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    /// The checks on this metric (and tags), `p95 < 2000ms, p99 < 5000ms`.
    pub threshold: String,
    /// `✅ Pass`, `❌ Fail`, or `-` when no threshold applies; `⚠ Partial` instead of a
    /// pass when the run stopped early.
    pub status: String,
    pub baseline_p95: Option<f64>,
    pub delta_p95: Option<f64>,
    /// Baseline p95 × the regression factor.
    pub regression_limit: Option<f64>,
    pub regressed: Option<bool>,
}

/// The cells of the history table: Date, Environment, Mode, Connections, p95 Conn Time,
/// p95 Broadcast, Pass/Fail.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    pub date: String,
    pub environment: String,
    pub mode: String,
    /// Peak concurrent WebSocket connections when measured, else peak VUs.
    pub connections: u64,
    pub p95_connect: Option<f64>,
    pub p95_broadcast: Option<f64>,
    pub delta_p95_connect: Option<f64>,
    pub delta_p95_broadcast: Option<f64>,
    /// `✅ Pass`, `❌ Fail`, `⚠ Partial` or `No thresholds` ([`RunResult`]).
    pub result: String,
}

/// `✅ Pass` or `❌ Fail`; a run that stopped early passes nothing: `⚠ Partial`.
pub(super) fn row_status(passed: bool, partial: bool) -> &'static str {
    match (passed, partial) {
        (false, _) => "❌ Fail",
        (true, true) => "⚠ Partial",
        (true, false) => "✅ Pass",
    }
}

/// The history table's cells for `run`; `metric` holds its metrics by name.
pub(super) fn history_view(
    run: &RunDocument,
    metric: &IndexMap<String, MetricView>,
    date: &str,
) -> HistoryView {
    let p95 = |name: &str| {
        metric
            .get(name)
            .and_then(|m| m.trend.as_ref())
            .map(|t| t.p95)
    };
    let delta_p95 = |name: &str| metric.get(name).and_then(|m| m.delta.as_ref()?.p95);
    // The gauge is sampled in every run; it measured something only if a VU connected.
    let connections = metric
        .get("ws_connections_active")
        .and_then(|m| m.gauge.as_ref())
        .filter(|g| g.max > 0.0)
        .map_or(u64::from(run.results.vus_max), |g| g.max as u64);
    HistoryView {
        date: date.to_owned(),
        environment: run.env.clone().unwrap_or_else(|| "-".to_owned()),
        mode: run.stage.clone(),
        connections,
        p95_connect: p95("ws_connect_time"),
        p95_broadcast: p95("broadcast_delivery_time"),
        delta_p95_connect: delta_p95("ws_connect_time"),
        delta_p95_broadcast: delta_p95("broadcast_delivery_time"),
        result: RunResult::of(run.passed, run.partial, run.thresholds.len())
            .text(run.partial)
            .to_owned(),
    }
}

/// The latency rows' metrics and labels: the families the run measured, in the document's
/// order, then every custom trend (`metric: append_latency` of a step) by name, labelled
/// with its name.
fn latency_metrics(results: &Results) -> Vec<(&str, &str)> {
    let measured = results.metrics();
    let mut metrics: Vec<(&str, &str)> = FAMILIES
        .into_iter()
        .filter(|(metric, _)| measured.contains(metric))
        .collect();
    let mut custom: Vec<&str> = measured
        .into_iter()
        .filter(|metric| crate::plan::metric::builtin(metric).is_none())
        .filter(|metric| matches!(results.merged(metric, |_| true), Some(SeriesData::Trend(_))))
        .collect();
    custom.sort_unstable();
    custom.dedup();
    metrics.extend(custom.into_iter().map(|metric| (metric, metric)));
    metrics
}

/// The rows of the latency tables: each family the run measured and each custom trend,
/// one row per tag filter its thresholds use (or one untagged row); `partial` when the run
/// stopped early.
pub(super) fn table_rows(
    results: &Results,
    partial: bool,
    baseline: Option<&Results>,
    thresholds: &[ThresholdView],
    factor: f64,
) -> Vec<TableRow> {
    let mut rows = Vec::new();
    for (metric, label) in latency_metrics(results) {
        let mut filters: Vec<Vec<(String, String)>> = Vec::new();
        for threshold in thresholds.iter().filter(|t| t.metric == metric) {
            if !filters.contains(&threshold.tags) {
                filters.push(threshold.tags.clone());
            }
        }
        if filters.is_empty() {
            filters.push(Vec::new());
        }
        for tags in filters {
            let shown = (!tags.is_empty()).then(|| {
                tags.iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            let checks: Vec<&ThresholdView> = thresholds
                .iter()
                .filter(|t| t.metric == metric && t.tags == tags)
                .collect();
            let [p50, p95, p99] = percentiles(results, metric, &tags);
            let base = baseline.map(|b| percentiles(b, metric, &tags));
            let baseline_p95 = base.and_then(|[_, p95, _]| p95);
            let regression_limit = baseline_p95.map(|b| b * factor);
            rows.push(TableRow {
                label: match &shown {
                    Some(tags) => format!("{label} ({tags})"),
                    None => label.to_owned(),
                },
                metric: metric.to_owned(),
                tags: shown,
                p50,
                p95,
                p99,
                threshold: checks
                    .iter()
                    .map(|t| {
                        if t.regression && t.limit.is_some() {
                            format!("{} ({})", t.check.replace('*', "×"), t.limit_text)
                        } else if t.regression {
                            format!("{} (no baseline)", t.check.replace('*', "×"))
                        } else {
                            t.check.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                status: if checks.is_empty() {
                    "-".to_owned()
                } else {
                    row_status(checks.iter().all(|t| t.passed), partial).to_owned()
                },
                baseline_p95,
                delta_p95: delta(p95, baseline_p95),
                regression_limit,
                regressed: p95.zip(regression_limit).map(|(v, l)| v > l),
            });
        }
    }
    rows
}

/// p50, p95, p99 in ms of `metric`'s series that carry `tags` (`scenario`, `name`).
fn percentiles(results: &Results, metric: &str, tags: &[(String, String)]) -> [Option<f64>; 3] {
    let data = results.merged(metric, |key| {
        tags.iter()
            .all(|(tag, value)| key.has_tag(tag, value).unwrap_or(true))
    });
    match data {
        Some(SeriesData::Trend(h)) if !h.is_empty() => {
            let q = |q: f64| Some(h.median_equivalent(h.value_at_quantile(q)) as f64 / 1000.0);
            [q(0.5), q(0.95), q(0.99)]
        }
        _ => [None, None, None],
    }
}
