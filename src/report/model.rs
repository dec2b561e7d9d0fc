//! The report model: one plain view of a run, built from its [`RunDocument`] (and an
//! optional baseline run), that every output renders from — Markdown templates, the
//! history row, CSV, JUnit. `loadplan run` and `loadplan report` build it the same way, so
//! a saved run re-renders exactly. Everything here is pure; figures are in milliseconds
//! (trends), fractions (rates) and plain numbers (counters, gauges).

use indexmap::IndexMap;
use serde::Serialize;

use super::collected::{
    DerivedView, ServerView, SourceView, derived_views, server_views, source_views,
};
use super::json::RunDocument;
use super::{Figures, Trend};
use crate::results::{Results, SeriesData};
use crate::verdict::{FigureUnit, Status};

/// The regression rule of the baselines document: baseline × 1.2.
pub const DEFAULT_REGRESSION_FACTOR: f64 = 1.2;

/// The latency families of the baselines document's tables, in its order.
const FAMILIES: [(&str, &str); 4] = [
    ("ws_connect_time", "Connection Time"),
    ("ws_message_latency", "Message Latency"),
    ("broadcast_delivery_time", "Broadcast Delivery"),
    ("http_req_duration", "HTTP Duration"),
];

/// What the report of one run shows; templates see every field (docs/reports.md).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run: RunView,
    /// Every metric measured, in name order.
    pub metrics: Vec<MetricView>,
    /// The same, by name: `metric.ws_connect_time.trend.p95`.
    pub metric: IndexMap<String, MetricView>,
    /// Every threshold with its value, limit and status.
    pub thresholds: Vec<ThresholdView>,
    /// The baselines document's table rows: connection time, message latency, broadcast
    /// delivery, HTTP duration — those the run measured (one row per tag filter used by a
    /// threshold).
    pub tables: Vec<TableRow>,
    /// The run compared with, if any.
    pub baseline: Option<BaselineView>,
    /// The regression limit is the baseline's figure × this factor.
    pub regression_factor: f64,
    /// The SVG chart's path relative to the Markdown, once written.
    pub chart: Option<String>,
    /// The cells of the history table row (seed 004's columns).
    pub history: HistoryView,
    /// Every collected (`collect:`) metric, in name order; empty without sources.
    pub server: Vec<ServerView>,
    /// The same, by full name: `server_metric["mock.mock_http_requests_total"].delta`.
    pub server_metric: IndexMap<String, ServerView>,
    /// Every `collect:` source with its samples and failures, in name order.
    pub sources: Vec<SourceView>,
    /// Every derived metric, in plan order.
    pub derived: Vec<DerivedView>,
    /// The same, by name: `derived_metric.throughput_msg_per_sec.value`.
    pub derived_metric: IndexMap<String, DerivedView>,
}

/// Run metadata.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub plan: String,
    pub plan_file: Option<String>,
    pub env: Option<String>,
    pub stage: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: String,
    /// The day the run started (`2026-11-25`).
    pub date: String,
    pub duration_s: f64,
    pub vus_max: u32,
    pub loadplan_version: String,
    pub git_commit: Option<String>,
    pub label: Option<String>,
    pub passed: bool,
    /// True when the run stopped early; figures cover what ran.
    pub partial: bool,
    pub stopped_early: Option<String>,
    /// Errors by kind, and their total.
    pub errors: std::collections::BTreeMap<String, u64>,
    pub error_count: u64,
    pub thresholds_passed: usize,
    pub thresholds_failed: usize,
}

/// One metric's figures, with the baseline's and the change in % when there is a baseline.
#[derive(Debug, Clone, Serialize)]
pub struct MetricView {
    pub name: String,
    /// `trend`, `counter`, `rate` or `gauge`.
    pub kind: String,
    pub count: u64,
    pub rate: Option<f64>,
    pub trend: Option<Trend>,
    pub share: Option<f64>,
    pub gauge: Option<GaugeView>,
    pub baseline: Option<Figures>,
    pub delta: Option<Delta>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GaugeView {
    pub last: f64,
    pub min: f64,
    pub max: f64,
}

/// Change against the baseline in percent (`+12.5` is 12.5% higher); absent when either
/// side has no figure or the baseline's is zero.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delta {
    pub avg: Option<f64>,
    pub med: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub count: Option<f64>,
    pub rate: Option<f64>,
    pub share: Option<f64>,
}

/// One threshold's outcome, with its figures formatted in the metric's unit.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdView {
    /// The key as written: `http_req_duration{name:broadcast}`.
    pub key: String,
    pub metric: String,
    /// The key's tag filters, which pick the latency-table row it belongs to.
    #[serde(skip)]
    pub tags: Vec<(String, String)>,
    pub check: String,
    pub value: Option<f64>,
    pub limit: Option<f64>,
    /// `ms`, `%` (a fraction shown as a percentage) or empty.
    pub unit: String,
    pub value_text: String,
    pub limit_text: String,
    pub passed: bool,
    /// Not judged (a `baseline * k` check with no earlier run yet); `passed` is true.
    pub skipped: bool,
    /// `pass`, `fail` or `skipped`.
    pub status: String,
    pub reason: Option<String>,
    /// Whether the limit came from the baseline (`baseline * k`).
    pub regression: bool,
}

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
    /// `✅ Pass`, `❌ Fail`, or `-` when no threshold applies.
    pub status: String,
    pub baseline_p95: Option<f64>,
    pub delta_p95: Option<f64>,
    /// Baseline p95 × the regression factor.
    pub regression_limit: Option<f64>,
    pub regressed: Option<bool>,
}

/// The baseline run.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineView {
    pub started: String,
    pub date: String,
    pub env: Option<String>,
    pub stage: String,
    pub label: Option<String>,
    pub git_commit: Option<String>,
    pub passed: bool,
}

/// The cells of seed 004's history table: Date, Environment, Mode, Connections,
/// p95 Conn Time, p95 Broadcast, Pass/Fail.
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
    /// `✅ Pass` or `❌ Fail`.
    pub result: String,
}

/// Inputs of a report besides the run.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Overrides the run's own label.
    pub label: Option<String>,
    pub regression_factor: Option<f64>,
}

impl Report {
    /// Builds the report of `run`, compared with `baseline` when given.
    pub fn new(
        run: &RunDocument,
        baseline: Option<&RunDocument>,
        options: &ReportOptions,
    ) -> Result<Self, String> {
        let results = run.results()?;
        let base_results = baseline.map(RunDocument::results).transpose()?;
        let factor = options
            .regression_factor
            .unwrap_or(DEFAULT_REGRESSION_FACTOR);
        let metrics: Vec<MetricView> = run
            .metrics
            .iter()
            .map(|figures| {
                let base = baseline
                    .and_then(|b| b.metrics.iter().find(|m| m.metric == figures.metric))
                    .cloned();
                metric_view(figures, base)
            })
            .collect();
        let metric: IndexMap<String, MetricView> = metrics
            .iter()
            .map(|m| (m.name.clone(), m.clone()))
            .collect();
        let thresholds: Vec<ThresholdView> = run
            .thresholds
            .iter()
            .map(|outcome| {
                let unit = outcome.unit;
                let text = |v: Option<f64>| match v {
                    // Collected and derived figures keep their precision (`0.0123`, `37.46`).
                    Some(v) if unit == FigureUnit::Own => format_figure(v),
                    _ => format_in(v, unit_name(unit)),
                };
                ThresholdView {
                    key: outcome.key.clone(),
                    metric: outcome.selector.metric.clone(),
                    tags: outcome.selector.tags.clone(),
                    check: outcome.check.clone(),
                    value: outcome.value,
                    limit: outcome.limit,
                    value_text: text(outcome.value),
                    limit_text: text(outcome.limit),
                    unit: unit_name(unit).to_owned(),
                    passed: outcome.status.passed(),
                    skipped: outcome.status.skipped(),
                    status: match outcome.status {
                        Status::Skipped { .. } => "skipped",
                        Status::Passed => "pass",
                        Status::Failed { .. } => "fail",
                    }
                    .to_owned(),
                    reason: outcome.status.reason().map(ToString::to_string),
                    regression: outcome.is_regression(),
                }
            })
            .collect();
        let tables = table_rows(&results, base_results.as_ref(), &thresholds, factor);
        let passed = thresholds.iter().filter(|t| t.passed).count();
        let run_view = RunView {
            plan: run.plan.clone(),
            plan_file: run.plan_file.clone(),
            env: run.env.clone(),
            stage: run.stage.clone(),
            started: run.started.clone(),
            finished: run.finished.clone(),
            date: day(&run.started),
            duration_s: run.results.duration_s,
            vus_max: run.results.vus_max,
            loadplan_version: run.loadplan_version.clone(),
            git_commit: run.git_commit.clone(),
            label: options.label.clone().or_else(|| run.label.clone()),
            passed: run.passed,
            partial: run.partial,
            stopped_early: run.results.stopped_early.clone(),
            errors: run.results.errors.clone(),
            error_count: run.results.errors.values().sum(),
            thresholds_passed: passed,
            thresholds_failed: thresholds.len() - passed,
        };
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
        let history = HistoryView {
            date: run_view.date.clone(),
            environment: run.env.clone().unwrap_or_else(|| "-".to_owned()),
            mode: run.stage.clone(),
            connections,
            p95_connect: p95("ws_connect_time"),
            p95_broadcast: p95("broadcast_delivery_time"),
            delta_p95_connect: delta_p95("ws_connect_time"),
            delta_p95_broadcast: delta_p95("broadcast_delivery_time"),
            result: pass_fail(run.passed).to_owned(),
        };
        let server = server_views(&run.results.server);
        let derived = derived_views(&run.results.derived);
        Ok(Self {
            run: run_view,
            metrics,
            metric,
            thresholds,
            tables,
            baseline: baseline.map(|b| BaselineView {
                started: b.started.clone(),
                date: day(&b.started),
                env: b.env.clone(),
                stage: b.stage.clone(),
                label: b.label.clone(),
                git_commit: b.git_commit.clone(),
                passed: b.passed,
            }),
            regression_factor: factor,
            chart: None,
            history,
            server_metric: server.iter().map(|m| (m.name.clone(), m.clone())).collect(),
            server,
            sources: source_views(&run.results.sources),
            derived_metric: derived
                .iter()
                .map(|d| (d.name.clone(), d.clone()))
                .collect(),
            derived,
        })
    }
}

fn pass_fail(passed: bool) -> &'static str {
    if passed { "✅ Pass" } else { "❌ Fail" }
}

fn day(timestamp: &str) -> String {
    timestamp.get(..10).unwrap_or(timestamp).to_owned()
}

/// Change from `base` to `now` in percent.
pub fn delta(now: Option<f64>, base: Option<f64>) -> Option<f64> {
    match (now, base) {
        (Some(now), Some(base)) if base != 0.0 && now.is_finite() && base.is_finite() => {
            Some((now - base) / base * 100.0)
        }
        _ => None,
    }
}

fn metric_view(figures: &Figures, baseline: Option<Figures>) -> MetricView {
    let delta = baseline.as_ref().map(|base| {
        let t =
            |f: fn(&Trend) -> f64| delta(figures.trend.as_ref().map(f), base.trend.as_ref().map(f));
        Delta {
            avg: t(|t| t.avg),
            med: t(|t| t.med),
            p90: t(|t| t.p90),
            p95: t(|t| t.p95),
            p99: t(|t| t.p99),
            max: t(|t| t.max),
            count: delta(Some(figures.count as f64), Some(base.count as f64)),
            rate: delta(figures.rate, base.rate),
            share: delta(figures.share, base.share),
        }
    });
    MetricView {
        name: figures.metric.clone(),
        kind: figures.kind.clone(),
        count: figures.count,
        rate: figures.rate,
        trend: figures.trend.clone(),
        share: figures.share,
        gauge: figures
            .gauge
            .map(|[last, min, max]| GaugeView { last, min, max }),
        baseline,
        delta,
    }
}

/// The name of a threshold figure's unit in the model: `ms`, `%` (a fraction shown as a
/// percentage) or empty (a number, or a collected or derived metric's own unit).
fn unit_name(unit: FigureUnit) -> &'static str {
    match unit {
        FigureUnit::Millis | FigureUnit::OwnSecondsInMillis => "ms",
        FigureUnit::Fraction => "%",
        FigureUnit::Number | FigureUnit::Own => "",
    }
}

/// A figure in a unit: `12.3ms`, `4.2%`, `17`.
pub fn format_in(value: Option<f64>, unit: &str) -> String {
    match (value, unit) {
        (None, _) => "-".to_owned(),
        (Some(v), "ms") => format_ms(v),
        (Some(v), "%") => format_percent(v),
        (Some(v), _) => format_number(v),
    }
}

/// A collected or derived figure: whole numbers as they are, others to about four
/// significant digits, without trailing zeros (`485`, `1234.5`, `47.95`, `6.6`,
/// `0.000475`).
pub fn format_figure(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        "-".to_owned()
    } else if value.fract() == 0.0 && magnitude < 1e15 {
        format!("{value:.0}")
    } else {
        let decimals = if magnitude >= 100.0 {
            1
        } else if magnitude >= 1.0 {
            2
        } else {
            6
        };
        let text = format!("{value:.decimals$}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Milliseconds with a precision that fits: `0.42ms`, `12.3ms`, `2000ms`.
pub fn format_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "-".to_owned();
    }
    if ms == ms.trunc() {
        format!("{ms:.0}ms")
    } else if ms < 10.0 {
        format!("{ms:.2}ms")
    } else if ms < 100.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{ms:.0}ms")
    }
}

/// A fraction as a percentage: `0.042` → `4.2%`.
pub fn format_percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p == p.trunc() {
        format!("{p:.0}%")
    } else if p.abs() < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A change in percent with its sign: `+12.5%`, `-3.0%`, `±0.0%`.
pub fn format_delta(percent: f64) -> String {
    if !percent.is_finite() {
        "n/a".to_owned()
    } else if percent.abs() < 0.05 {
        "±0.0%".to_owned()
    } else {
        format!("{percent:+.1}%")
    }
}

/// Integers without decimals, others with up to two.
pub fn format_number(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The rows of the latency tables: each family the run measured, one row per tag filter
/// its thresholds use (or one untagged row).
fn table_rows(
    results: &Results,
    baseline: Option<&Results>,
    thresholds: &[ThresholdView],
    factor: f64,
) -> Vec<TableRow> {
    let mut rows = Vec::new();
    for (metric, label) in FAMILIES {
        if !results.metrics().contains(&metric) {
            continue;
        }
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
                    pass_fail(checks.iter().all(|t| t.passed)).to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_ms(0.4213), "0.42ms");
        assert_eq!(format_ms(12.34), "12.3ms");
        assert_eq!(format_ms(10.0), "10ms");
        assert_eq!(format_ms(2000.0), "2000ms");
        assert_eq!(format_percent(0.042), "4.2%");
        assert_eq!(format_percent(0.05), "5%");
        assert_eq!(format_delta(12.46), "+12.5%");
        assert_eq!(format_delta(-3.0), "-3.0%");
        assert_eq!(format_delta(0.01), "±0.0%");
        assert_eq!(format_number(17.0), "17");
        assert_eq!(format_number(1.5), "1.5");
        assert_eq!(delta(Some(12.0), Some(10.0)), Some(20.0));
        assert_eq!(delta(Some(12.0), Some(0.0)), None);
    }
}
