//! The report model: one plain view of a run that every output renders from — Markdown
//! templates, the history row, CSV, JUnit. Templates see every field (docs/reports.md).
//! Figures are numbers in milliseconds (trends), fractions (rates) and plain numbers
//! (counters, gauges); the `*_text` fields are formatted by [`super::format`]. Built by
//! [`super::build`].

use indexmap::IndexMap;
use serde::Serialize;

use super::baselines::{HistoryView, TableRow};
use super::collected::{DerivedView, ServerView, SourceView};
use super::{Figures, Trend};

/// The regression rule: the baseline run's figure × 1.2.
pub const DEFAULT_REGRESSION_FACTOR: f64 = 1.2;

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
    /// The latency table rows: connection time, message latency, broadcast delivery, HTTP
    /// duration — those the run measured (one row per tag filter used by a threshold).
    pub tables: Vec<TableRow>,
    /// The run compared with, if any.
    pub baseline: Option<BaselineView>,
    /// The regression limit is the baseline's figure × this factor.
    pub regression_factor: f64,
    /// The SVG chart's path relative to the Markdown, once written.
    pub chart: Option<String>,
    /// The cells of the history table row (Date, Environment, Mode, Connections, …).
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
    /// What the command line changed of the stage (`--vus 5, --duration 10s`), if anything.
    pub overrides: Option<String>,
    pub passed: bool,
    /// True when the run stopped early; figures cover what ran.
    pub partial: bool,
    pub stopped_early: Option<String>,
    /// Errors by kind's key (`docs/reports.md`), and their total.
    pub errors: std::collections::BTreeMap<String, u64>,
    pub error_count: u64,
    /// A few redacted examples of each kind (the server's text its key leaves out), by key;
    /// kinds without any are absent.
    pub error_examples: std::collections::BTreeMap<String, Vec<String>>,
    pub thresholds_passed: usize,
    pub thresholds_failed: usize,
    /// What the run came to: `pass`, `fail`, `partial` or `no_thresholds` ([`RunResult`]).
    pub result: RunResult,
    /// The same as every table shows it: `✅ Pass`, `❌ Fail`, `⚠ Partial`, `No thresholds`.
    pub verdict: String,
}

/// What a run came to, as the history row, the CSV, JUnit, the Markdown and the terminal
/// summary say it. A failed threshold wins (`❌ Fail`, even when the run also stopped early:
/// what ran already failed); else a run that stopped early is `⚠ Partial`, never a pass;
/// else a run without thresholds is `No thresholds` — nothing was judged, so no green
/// check, whatever its errors (k6 shows no verdict either); else `✅ Pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    Pass,
    Fail,
    Partial,
    NoThresholds,
}

impl RunResult {
    /// The result of a run whose thresholds `passed` (all of `thresholds`), `partial` when
    /// it stopped early.
    pub fn of(passed: bool, partial: bool, thresholds: usize) -> Self {
        if !passed {
            Self::Fail
        } else if partial {
            Self::Partial
        } else if thresholds == 0 {
            Self::NoThresholds
        } else {
            Self::Pass
        }
    }

    /// `pass`, `fail`, `partial`, `no_thresholds`: the CSV's `result` column.
    pub fn key(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Partial => "partial",
            Self::NoThresholds => "no_thresholds",
        }
    }

    /// The mark tables show; a failed run that also stopped early says so.
    pub fn text(self, partial: bool) -> &'static str {
        match (self, partial) {
            (Self::Pass, _) => "✅ Pass",
            (Self::Fail, false) => "❌ Fail",
            (Self::Fail, true) => "❌ Fail (partial)",
            (Self::Partial, _) => "⚠ Partial",
            (Self::NoThresholds, _) => "No thresholds",
        }
    }
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

/// The baseline run.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineView {
    /// The results file it was read from, as the run recorded it, when it did.
    pub file: Option<String>,
    /// That file's name (`20261118T110640Z-smoke.json`).
    pub file_name: Option<String>,
    pub started: String,
    pub date: String,
    pub env: Option<String>,
    pub stage: String,
    pub label: Option<String>,
    pub git_commit: Option<String>,
    pub passed: bool,
    pub partial: bool,
}

/// Inputs of a report besides the run.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Overrides the run's own label.
    pub label: Option<String>,
    pub regression_factor: Option<f64>,
    /// Where the baseline was read from, when not the run's own `baseline_file`
    /// (`loadplan report --baseline FILE`).
    pub baseline_file: Option<String>,
}
