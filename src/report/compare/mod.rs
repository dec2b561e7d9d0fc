//! `loadplan compare A.json B.json [C.json…]`: saved runs side by side, each later run
//! judged against the first (the reference).
//!
//! ```text
//! RunDocument + Results (per file) ─▶ Comparison::new ─▶ text.rs (terminal, Markdown)
//!                                                     └─▶ page.rs (HTML, percentile curves)
//! ```
//!
//! [`Comparison`] is plain data: a row per metric (merged over its series) and per series
//! (scenario, group, `name` tag), per server-side and derived metric, each with one value
//! per run and, for every later run, its change against the reference and a [`Mark`]. The
//! rules (which way is better, the "same" band) are documented in `docs/reports.md`
//! ("loadplan compare") and implemented in [`direction`], [`mark`].

mod page;
mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use hdrhistogram::Histogram;

use super::error::{OutputError, ReportError};
use super::json::RunDocument;
use crate::plan::ThresholdRule;
use crate::plan::metric::MetricKind;
use crate::results::{Results, SeriesData, SeriesKey};
use crate::server::{DerivedValue, ServerKind, ServerMetric};
use crate::verdict::{FigureUnit, Outcome, Reason, Status};

pub use page::html;
pub use text::{markdown, terminal};

/// A change smaller than this (in %, either way) is "same": well above the HdrHistogram's
/// own error (3 significant digits: 0.1%), below what a reader would act on.
pub const SAME_PERCENT: f64 = 5.0;

/// Two shares (error rates) closer than this (0.1 percentage point) are "same", whatever
/// their ratio: 0 → 0.02% is noise, not an infinite regression.
pub const SAME_SHARE: f64 = 0.001;

/// What `loadplan compare` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct CompareCommand {
    /// The results files; the first is the reference.
    pub results: Vec<PathBuf>,
    /// `--fail-on-regression`, as a fraction (`20%` → 0.2).
    pub fail_on_regression: Option<f64>,
    pub fail_on_threshold: bool,
}

/// One run as the comparison names it.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// `A`, `B`, `C`…
    pub letter: String,
    /// The results file, as given.
    pub file: String,
    pub plan: String,
    pub env: Option<String>,
    pub stage: String,
    pub started: String,
    pub label: Option<String>,
    pub git_commit: Option<String>,
    pub partial: bool,
    pub duration_s: f64,
    pub vus_max: u32,
}

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Latency, errors, failed shares.
    LowerIsBetter,
    /// Throughput (`http_reqs`, `ws_msgs_received` per second), delivered shares, checks.
    HigherIsBetter,
    /// Unknown meaning (custom counters, gauges, server-side and derived metrics): a change
    /// is said, not judged.
    Neutral,
}

/// How a later run's figure compares with the reference's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// Inside the same band ([`SAME_PERCENT`], [`SAME_SHARE`]).
    Same,
    Better,
    Worse,
    /// Outside the band, on a figure with no better side.
    Changed,
    /// The reference has it, this run does not.
    OnlyReference,
    /// This run has it, the reference does not.
    NotInReference,
    /// Neither has it.
    Absent,
}

/// The unit a row's values are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowUnit {
    Millis,
    /// A fraction, shown as a percentage.
    Share,
    PerSecond,
    Count,
    /// A gauge, a server-side or derived figure in its own unit.
    Plain,
}

/// What part of the results a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// A client-side metric (merged over its series, or one series).
    Client,
    /// A `collect:` metric (`SOURCE.metric{labels}`).
    Server,
    /// A `derived:` metric.
    Derived,
}

/// One figure of one metric (or series), per run.
#[derive(Debug, Clone)]
pub struct Row {
    pub section: Section,
    pub metric: String,
    /// The series (`browse group=checkout name=add_to_cart`); `None` for the whole metric.
    pub series: Option<String>,
    /// `count`, `rate`, `p50`, `p95`, `p99`, `share`, `value`, `delta`, `avg`…
    pub figure: &'static str,
    pub unit: RowUnit,
    pub direction: Direction,
    /// Counts for `--fail-on-regression`: p95/p99 of trends, shares with a better side,
    /// the per-second rate of counters with a better side.
    pub judged: bool,
    /// One per run; `None` when that run has no such metric or series.
    pub values: Vec<Option<f64>>,
}

impl Row {
    /// The change of run `i` against the reference, in % (`None` without both values;
    /// infinite when the reference is 0 and the run is not).
    pub fn change(&self, i: usize) -> Option<f64> {
        let reference = self.values.first().copied().flatten()?;
        let value = self.values.get(i).copied().flatten()?;
        Some(change(reference, value))
    }

    /// Run `i`'s mark against the reference.
    pub fn mark(&self, i: usize) -> Mark {
        let reference = self.values.first().copied().flatten();
        let value = self.values.get(i).copied().flatten();
        mark(reference, value, self.unit, self.direction)
    }
}

/// The change from `reference` to `value` in %.
pub fn change(reference: f64, value: f64) -> f64 {
    if reference == value {
        0.0
    } else if reference == 0.0 {
        f64::INFINITY.copysign(value)
    } else {
        (value - reference) / reference.abs() * 100.0
    }
}

/// The rule: missing sides first, then the same band (|change| < [`SAME_PERCENT`], or
/// shares within [`SAME_SHARE`]), then the direction.
pub fn mark(
    reference: Option<f64>,
    value: Option<f64>,
    unit: RowUnit,
    direction: Direction,
) -> Mark {
    let (reference, value) = match (reference, value) {
        (None, None) => return Mark::Absent,
        (Some(_), None) => return Mark::OnlyReference,
        (None, Some(_)) => return Mark::NotInReference,
        (Some(r), Some(v)) => (r, v),
    };
    let same = change(reference, value).abs() < SAME_PERCENT
        || (unit == RowUnit::Share && (value - reference).abs() < SAME_SHARE);
    if same {
        return Mark::Same;
    }
    match (direction, value > reference) {
        (Direction::Neutral, _) => Mark::Changed,
        (Direction::LowerIsBetter, true) | (Direction::HigherIsBetter, false) => Mark::Worse,
        _ => Mark::Better,
    }
}

/// Which way a client-side figure is better: by metric for built-in counters and rates,
/// by kind otherwise (a trend is a duration: lower is better; a custom counter or rate,
/// a gauge: neutral).
pub fn direction(metric: &str, kind: &SeriesData, figure: &str) -> Direction {
    // Bytes (`data_sent`, `data_received`) follow the payloads as much as the pace: neutral.
    const HIGHER: [&str; 8] = [
        "http_reqs",
        "ws_msgs_sent",
        "ws_msgs_received",
        "iterations",
        "ws_sequence_messages",
        "broadcast_delivered",
        "checks",
        "ws_sessions",
    ];
    const LOWER: [&str; 10] = [
        "http_req_failed",
        "ws_connect_errors",
        "dropped_iterations",
        "iterations_interrupted",
        "iteration_backoffs",
        "errors",
        "ws_sequence_gaps",
        "ws_sequence_duplicates",
        "ws_sequence_reorders",
        "ws_sequence_invalid",
    ];
    match kind {
        // How long sessions last is what the plan made them, not a quality.
        SeriesData::Trend(_) if metric == "ws_session_duration" => Direction::Neutral,
        SeriesData::Trend(_) if figure == "count" => Direction::Neutral,
        SeriesData::Trend(_) => Direction::LowerIsBetter,
        // A count depends on the run's length; its rate per second is what compares.
        SeriesData::Counter(_) if figure == "count" => Direction::Neutral,
        SeriesData::Counter(_) | SeriesData::Rate { .. } => {
            if HIGHER.contains(&metric) {
                Direction::HigherIsBetter
            } else if LOWER.contains(&metric) {
                Direction::LowerIsBetter
            } else {
                Direction::Neutral
            }
        }
        SeriesData::Gauge { .. } => Direction::Neutral,
    }
}

/// A threshold's outcome on one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub passed: bool,
    pub skipped: bool,
    pub value: Option<f64>,
    pub limit: Option<f64>,
    /// Why it was not compared (no samples, no baseline).
    pub reason: Option<String>,
}

impl From<&Outcome> for Judged {
    fn from(outcome: &Outcome) -> Self {
        Self {
            passed: outcome.status.passed(),
            skipped: outcome.status.skipped(),
            value: outcome.value,
            limit: outcome.limit,
            reason: outcome.status.reason().map(ToString::to_string),
        }
    }
}

/// One threshold (key and check) across the runs.
#[derive(Debug, Clone)]
pub struct ThresholdRow {
    pub key: String,
    pub check: String,
    pub unit: FigureUnit,
    /// What each run recorded; `None` when its plan had no such threshold.
    pub recorded: Vec<Option<Judged>>,
    /// The reference's threshold judged on each run's results (`baseline * k` against the
    /// reference); `None` for the reference itself and for thresholds it does not have.
    pub rejudged: Vec<Option<Judged>>,
}

/// The latency curves of one trend (or trend series) across the runs, for the HTML page.
#[derive(Debug, Clone)]
pub struct Curves {
    pub title: String,
    /// `(run letter and file, histogram in µs)` of the runs that have it.
    pub runs: Vec<(String, Histogram<u64>)>,
}

/// A later run's figure worse than the reference's by more than the limit.
#[derive(Debug, Clone)]
pub struct Regression {
    pub run: String,
    pub what: String,
    /// In %: positive for a rise, negative for a drop; infinite from 0.
    pub change: f64,
}

/// Every run side by side.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub runs: Vec<RunInfo>,
    /// What differs between the runs besides their figures (plan, environment, stage,
    /// a partial run): said in the header, never an error.
    pub notes: Vec<String>,
    pub rows: Vec<Row>,
    pub thresholds: Vec<ThresholdRow>,
    /// The first [`MAX_CHARTS`] trends' and trend series' curves, in the tables' order.
    pub curves: Vec<Curves>,
    /// How many trends and trend series there are (curves or not).
    pub trends: usize,
}

/// The most percentile charts kept (and drawn): a plan with hundreds of request names
/// would make a page nobody reads, and each chart holds a histogram per run.
pub const MAX_CHARTS: usize = 60;

/// Reads each results file (a file that is not one is a [`ReportError::Results`] naming
/// it, as `loadplan report` says).
pub fn load(files: &[PathBuf]) -> Result<Vec<(String, RunDocument, Results)>, ReportError> {
    files
        .iter()
        .map(|file| {
            let shown = file.display().to_string();
            let document = RunDocument::load(file)?;
            let results = document.results().map_err(|e| e.about(&shown))?;
            Ok((shown, document, results))
        })
        .collect()
}

/// Writes the HTML page of `comparison` to `file` (replacing it).
pub fn write_html(file: &std::path::Path, comparison: &Comparison) -> Result<(), ReportError> {
    super::write::replace(file, &html(comparison))
        .map_err(|e| ReportError::Write(vec![OutputError::Write(e)]))
}

/// The letter of run `i`: `A`…`Z`, then `R27`, `R28`…
fn letter(i: usize) -> String {
    match u8::try_from(i) {
        Ok(i) if i < 26 => char::from(b'A' + i).to_string(),
        _ => format!("R{}", i + 1),
    }
}

/// The series of a client-side metric: scenario, group, `name` tag.
type SeriesId = (String, Option<String>, Option<String>);

fn series_id(key: &SeriesKey) -> SeriesId {
    (
        key.scenario.to_string(),
        key.group.as_deref().map(str::to_owned),
        key.name.as_deref().map(str::to_owned),
    )
}

/// Whether `key` is of series `id` (without building an id: this runs per series per id).
fn is_series(key: &SeriesKey, (scenario, group, name): &SeriesId) -> bool {
    *key.scenario == **scenario
        && key.group.as_deref() == group.as_deref()
        && key.name.as_deref() == name.as_deref()
}

/// `browse group=checkout name=add_to_cart`; `(run)` for a run-wide series.
fn series_label((scenario, group, name): &SeriesId) -> String {
    let mut label = if scenario.is_empty() {
        "(run)".to_owned()
    } else {
        scenario.clone()
    };
    if let Some(group) = group {
        label.push_str(" group=");
        label.push_str(group);
    }
    if let Some(name) = name {
        label.push_str(" name=");
        label.push_str(name);
    }
    label
}

/// The figures a client-side row shows for a kind of data: `(figure, unit, judged when it
/// has a better side)`.
fn client_figures(data: &SeriesData) -> &'static [(&'static str, RowUnit, bool)] {
    match data {
        SeriesData::Trend(_) => &[
            ("count", RowUnit::Count, false),
            ("p50", RowUnit::Millis, false),
            ("p95", RowUnit::Millis, true),
            ("p99", RowUnit::Millis, true),
        ],
        SeriesData::Counter(_) => &[
            ("count", RowUnit::Count, false),
            ("rate", RowUnit::PerSecond, true),
        ],
        SeriesData::Rate { .. } => &[("share", RowUnit::Share, true)],
        SeriesData::Gauge { .. } => &[("value", RowUnit::Plain, false)],
    }
}

/// Whether `data` has samples enough for `figure` to say something of its own: a
/// percentile p needs 1/(1−p) samples (20 for p95, 100 for p99) — below that it is the
/// series' maximum, one sample's luck, and `--fail-on-regression` does not judge it.
fn resolves(data: &SeriesData, figure: &str) -> bool {
    let needed = match figure {
        "p95" => 20,
        "p99" => 100,
        _ => return true,
    };
    match data {
        SeriesData::Trend(h) => h.len() >= needed,
        _ => true,
    }
}

/// One figure of merged series data; `None` when it does not apply.
fn client_value(data: &SeriesData, figure: &str, seconds: f64) -> Option<f64> {
    let ms =
        |h: &Histogram<u64>, q: f64| h.median_equivalent(h.value_at_quantile(q)) as f64 / 1000.0;
    match (data, figure) {
        (SeriesData::Trend(h), "count") => Some(h.len() as f64),
        (SeriesData::Trend(h), "p50") if !h.is_empty() => Some(ms(h, 0.5)),
        (SeriesData::Trend(h), "p95") if !h.is_empty() => Some(ms(h, 0.95)),
        (SeriesData::Trend(h), "p99") if !h.is_empty() => Some(ms(h, 0.99)),
        (SeriesData::Counter(n), "count") => Some(*n as f64),
        (SeriesData::Counter(n), "rate") => Some(*n as f64 / seconds.max(1e-9)),
        (SeriesData::Rate { trues, total }, "share") if *total > 0 => {
            Some(*trues as f64 / *total as f64)
        }
        (SeriesData::Gauge { last, .. }, "value") => Some(*last),
        _ => None,
    }
}

/// Whether two data are of the same kind (a custom metric could change kind between
/// plans; its figures are then not compared).
fn same_kind(a: &SeriesData, b: &SeriesData) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

impl Comparison {
    /// Compares `runs` (results file as shown, its document, its results); the first is
    /// the reference.
    pub fn new(runs: &[(String, RunDocument, Results)]) -> Self {
        let infos: Vec<RunInfo> = runs
            .iter()
            .enumerate()
            .map(|(i, (file, doc, results))| RunInfo {
                letter: letter(i),
                file: file.clone(),
                plan: doc.plan.clone(),
                env: doc.env.clone(),
                stage: doc.stage.clone(),
                started: doc.started.clone(),
                label: doc.label.clone(),
                git_commit: doc.git_commit.clone(),
                partial: doc.partial,
                duration_s: results.duration.as_secs_f64(),
                vus_max: results.vus_max,
            })
            .collect();
        let results: Vec<&Results> = runs.iter().map(|(_, _, r)| r).collect();
        let mut comparison = Self {
            notes: notes(&infos),
            runs: infos,
            rows: Vec::new(),
            thresholds: Vec::new(),
            curves: Vec::new(),
            trends: 0,
        };
        comparison.client_rows(&results);
        comparison.server_rows(&results);
        comparison.derived_rows(&results);
        let documents: Vec<&RunDocument> = runs.iter().map(|(_, d, _)| d).collect();
        comparison.thresholds = thresholds(&documents, &results);
        comparison
    }

    fn client_rows(&mut self, results: &[&Results]) {
        // Metrics in name order, over every run.
        let metrics: BTreeSet<&str> = results.iter().flat_map(|r| r.metrics()).collect();
        for metric in metrics {
            let merged: Vec<Option<SeriesData>> =
                results.iter().map(|r| r.merged(metric, |_| true)).collect();
            let Some(kind) = merged.iter().flatten().next().cloned() else {
                continue;
            };
            let ids: BTreeSet<SeriesId> = results
                .iter()
                .flat_map(|r| r.series.keys())
                .filter(|key| &*key.metric == metric)
                .map(series_id)
                .collect();
            let mut groups: Vec<(Option<String>, Vec<Option<SeriesData>>)> = vec![(None, merged)];
            // Per series only when there is more than one: one series is the metric.
            if ids.len() > 1 {
                for id in &ids {
                    let data = results
                        .iter()
                        .map(|r| r.merged(metric, |key| is_series(key, id)))
                        .collect();
                    groups.push((Some(series_label(id)), data));
                }
            }
            for (series, data) in groups {
                let data: Vec<Option<SeriesData>> = data
                    .into_iter()
                    .map(|d| d.filter(|d| same_kind(d, &kind)))
                    .collect();
                if let SeriesData::Trend(_) = kind {
                    self.trends += 1;
                }
                if matches!(kind, SeriesData::Trend(_)) && self.curves.len() < MAX_CHARTS {
                    let runs = data
                        .iter()
                        .zip(&self.runs)
                        .filter_map(|(d, run)| match d {
                            Some(SeriesData::Trend(h)) if !h.is_empty() => {
                                Some((format!("{} {}", run.letter, run.file), h.clone()))
                            }
                            _ => None,
                        })
                        .collect();
                    let title = match &series {
                        Some(series) => format!("{metric} · {series}"),
                        None => metric.to_owned(),
                    };
                    self.curves.push(Curves { title, runs });
                }
                for &(figure, unit, judged) in client_figures(&kind) {
                    let direction = direction(metric, &kind, figure);
                    let values = data
                        .iter()
                        .zip(results)
                        .map(|(d, r)| {
                            d.as_ref()
                                .and_then(|d| client_value(d, figure, r.duration.as_secs_f64()))
                        })
                        .collect();
                    self.rows.push(Row {
                        section: Section::Client,
                        metric: metric.to_owned(),
                        series: series.clone(),
                        figure,
                        unit,
                        direction,
                        judged: judged
                            && direction != Direction::Neutral
                            && data.iter().flatten().all(|d| resolves(d, figure)),
                        values,
                    });
                }
            }
        }
    }

    fn server_rows(&mut self, results: &[&Results]) {
        let keys: BTreeSet<&String> = results.iter().flat_map(|r| r.server.keys()).collect();
        for key in keys {
            let metrics: Vec<Option<&ServerMetric>> =
                results.iter().map(|r| r.server.get(key)).collect();
            let kind = metrics.iter().flatten().find_map(|m| m.kind);
            let figures: &[&'static str] = match kind {
                Some(ServerKind::Counter) => &["delta", "rate"],
                Some(ServerKind::Gauge) => &["avg", "max", "end"],
                Some(ServerKind::Histogram | ServerKind::Summary) => {
                    &["count", "p50", "p95", "p99"]
                }
                // Missing in every run: one row saying so.
                None => &["value"],
            };
            for &figure in figures {
                let values = metrics
                    .iter()
                    .map(|m| m.and_then(|m| m.field(figure).ok()))
                    .collect();
                self.rows.push(Row {
                    section: Section::Server,
                    metric: key.clone(),
                    series: None,
                    figure,
                    unit: RowUnit::Plain,
                    direction: Direction::Neutral,
                    judged: false,
                    values,
                });
            }
        }
    }

    fn derived_rows(&mut self, results: &[&Results]) {
        let mut names: Vec<&str> = Vec::new();
        for r in results {
            for d in &r.derived {
                if !names.contains(&d.name.as_str()) {
                    names.push(&d.name);
                }
            }
        }
        for name in names {
            let values = results
                .iter()
                .map(|r| {
                    r.derived
                        .iter()
                        .find(|d| d.name == name)
                        .and_then(|d: &DerivedValue| d.value)
                })
                .collect();
            self.rows.push(Row {
                section: Section::Derived,
                metric: name.to_owned(),
                series: None,
                figure: "value",
                unit: RowUnit::Plain,
                direction: Direction::Neutral,
                judged: false,
                values,
            });
        }
    }

    /// The judged figures of later runs worse than the reference's by more than `limit`
    /// (a fraction: 0.2 for `20%`).
    pub fn regressions(&self, limit: f64) -> Vec<Regression> {
        let mut found = Vec::new();
        for row in self.rows.iter().filter(|row| row.judged) {
            for (i, run) in self.runs.iter().enumerate().skip(1) {
                let (Some(change), Mark::Worse) = (row.change(i), row.mark(i)) else {
                    continue;
                };
                if change.abs() > limit * 100.0 {
                    found.push(Regression {
                        run: run.letter.clone(),
                        what: row_name(row),
                        change,
                    });
                }
            }
        }
        found
    }

    /// The reference's thresholds that fail when re-judged on a later run:
    /// `(run letter, key: check)`.
    pub fn failed_thresholds(&self) -> Vec<(String, String)> {
        let mut failed = Vec::new();
        for row in &self.thresholds {
            for (judged, run) in row.rejudged.iter().zip(&self.runs).skip(1) {
                if judged.as_ref().is_some_and(|j| !j.passed) {
                    failed.push((run.letter.clone(), format!("{}: {}", row.key, row.check)));
                }
            }
        }
        failed
    }
}

/// `http_req_duration p95`, `http_req_duration{browse name=items} p95`.
pub fn row_name(row: &Row) -> String {
    match &row.series {
        Some(series) => format!("{} [{series}] {}", row.metric, row.figure),
        None => format!("{} {}", row.metric, row.figure),
    }
}

/// What differs between the runs besides their figures.
fn notes(runs: &[RunInfo]) -> Vec<String> {
    let mut notes = Vec::new();
    let differ = |what: &str, value: &dyn Fn(&RunInfo) -> String| {
        let first = runs.first().map(value);
        if runs.iter().all(|run| Some(value(run)) == first) {
            return None;
        }
        let each: Vec<String> = runs
            .iter()
            .map(|run| format!("{} {}", run.letter, value(run)))
            .collect();
        Some(format!(
            "the runs are of different {what}: {}; figures are matched by metric and series name",
            each.join(", ")
        ))
    };
    if let Some(note) = differ("plans", &|run| format!("`{}`", run.plan)) {
        notes.push(note);
    }
    if let Some(note) = differ("environments", &|run| {
        run.env
            .as_deref()
            .map_or_else(|| "(none)".to_owned(), |env| format!("`{env}`"))
    }) {
        notes.push(note);
    }
    if let Some(note) = differ("stages", &|run| format!("`{}`", run.stage)) {
        notes.push(note);
    }
    for run in runs.iter().filter(|run| run.partial) {
        notes.push(format!(
            "{} stopped early: its figures cover only what ran",
            run.letter
        ));
    }
    notes
}

/// The kind of the metric a saved outcome judges, for judging it again: built-in metrics
/// by name, collected and derived by the unit it was saved with, custom ones by the data
/// a run has for them.
fn rule_kind(outcome: &Outcome, results: &[&Results]) -> MetricKind {
    let metric = outcome.selector.metric.as_str();
    if outcome.unit.is_own() {
        let derived = results
            .iter()
            .any(|r| r.derived.iter().any(|d| d.name == metric));
        return if derived {
            MetricKind::Derived
        } else {
            MetricKind::Collected
        };
    }
    if let Some(kind) = crate::plan::metric::builtin(metric) {
        return kind;
    }
    let data = results
        .iter()
        .find_map(|r| r.series.iter().find(|(k, _)| &*k.metric == metric));
    match data.map(|(_, d)| d) {
        Some(SeriesData::Trend(_)) => MetricKind::Trend,
        Some(SeriesData::Counter(_)) => MetricKind::Counter,
        Some(SeriesData::Rate { .. }) => MetricKind::Rate,
        Some(SeriesData::Gauge { .. }) => MetricKind::Gauge,
        None => match outcome.unit {
            FigureUnit::Fraction => MetricKind::Rate,
            FigureUnit::Number => MetricKind::Counter,
            _ => MetricKind::Trend,
        },
    }
}

/// Every threshold any run recorded, side by side; the reference's re-judged on each
/// later run.
fn thresholds(documents: &[&RunDocument], results: &[&Results]) -> Vec<ThresholdRow> {
    let mut rows: Vec<ThresholdRow> = Vec::new();
    let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, document) in documents.iter().enumerate() {
        for outcome in &document.thresholds {
            let id = (outcome.key.clone(), outcome.check.clone());
            let at = *index.entry(id).or_insert_with(|| {
                rows.push(ThresholdRow {
                    key: outcome.key.clone(),
                    check: outcome.check.clone(),
                    unit: outcome.unit,
                    recorded: vec![None; documents.len()],
                    rejudged: vec![None; documents.len()],
                });
                rows.len() - 1
            });
            if let Some(slot) = rows.get_mut(at).and_then(|row| row.recorded.get_mut(i)) {
                *slot = Some(Judged::from(outcome));
            }
        }
    }
    let (Some(reference), Some(reference_results)) = (documents.first(), results.first()) else {
        return rows;
    };
    let rules: Vec<ThresholdRule> = reference
        .thresholds
        .iter()
        .map(|outcome| ThresholdRule {
            key: outcome.key.clone(),
            selector: outcome.selector.clone(),
            source: outcome.check.clone(),
            check: outcome.parsed.clone(),
            abort_on_fail: false,
            delay_abort: None,
            kind: rule_kind(outcome, results),
        })
        .collect();
    for (i, run) in results.iter().enumerate().skip(1) {
        let mut verdict = crate::verdict::judge(&rules, run, Some(reference_results));
        // What the reference left out by design (a scenario `--scenario` did not run, a
        // segment's share) stays out: judged, it would fail for want of data.
        for (judged, recorded) in verdict.outcomes.iter_mut().zip(&reference.thresholds) {
            if let Status::Skipped {
                reason: reason @ (Reason::ScenarioNotRun(_) | Reason::Segment),
            } = &recorded.status
            {
                judged.value = None;
                judged.limit = None;
                judged.set_status(Status::Skipped {
                    reason: reason.clone(),
                });
            }
        }
        for outcome in &verdict.outcomes {
            let id = (outcome.key.clone(), outcome.check.clone());
            if let Some(slot) = index
                .get(&id)
                .and_then(|&at| rows.get_mut(at))
                .and_then(|row| row.rejudged.get_mut(i))
            {
                *slot = Some(Judged::from(outcome));
            }
        }
    }
    rows
}

/// Whether an outcome passed, for the marks (skipped counts as passed, as in a verdict).
pub fn status_word(judged: &Judged) -> &'static str {
    match (judged.skipped, judged.passed) {
        (true, _) => "skip",
        (false, true) => "pass",
        (false, false) => "FAIL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_band_and_the_directions() {
        let lower = Direction::LowerIsBetter;
        let higher = Direction::HigherIsBetter;
        let ms = RowUnit::Millis;
        assert_eq!(mark(Some(100.0), Some(104.9), ms, lower), Mark::Same);
        assert_eq!(mark(Some(100.0), Some(95.1), ms, lower), Mark::Same);
        assert_eq!(mark(Some(100.0), Some(105.1), ms, lower), Mark::Worse);
        assert_eq!(mark(Some(100.0), Some(90.0), ms, lower), Mark::Better);
        assert_eq!(
            mark(Some(100.0), Some(90.0), RowUnit::PerSecond, higher),
            Mark::Worse
        );
        assert_eq!(
            mark(Some(100.0), Some(120.0), RowUnit::PerSecond, higher),
            Mark::Better
        );
        assert_eq!(
            mark(Some(100.0), Some(120.0), RowUnit::Plain, Direction::Neutral),
            Mark::Changed
        );
        assert_eq!(mark(Some(0.0), Some(0.0), ms, lower), Mark::Same);
        // Shares: 0 → 0.05% is inside the absolute band; 0 → 1% is worse.
        assert_eq!(
            mark(Some(0.0), Some(0.0005), RowUnit::Share, lower),
            Mark::Same
        );
        assert_eq!(
            mark(Some(0.0), Some(0.01), RowUnit::Share, lower),
            Mark::Worse
        );
        assert_eq!(mark(Some(1.0), None, ms, lower), Mark::OnlyReference);
        assert_eq!(mark(None, Some(1.0), ms, lower), Mark::NotInReference);
        assert_eq!(mark(None, None, ms, lower), Mark::Absent);
    }

    #[test]
    fn changes_from_zero_are_infinite_and_signed() {
        assert_eq!(change(0.0, 0.0), 0.0);
        assert_eq!(change(0.0, 3.0), f64::INFINITY);
        assert_eq!(change(0.0, -3.0), f64::NEG_INFINITY);
        assert!((change(200.0, 250.0) - 25.0).abs() < 1e-9);
        assert!((change(200.0, 100.0) + 50.0).abs() < 1e-9);
    }

    #[test]
    fn a_percentile_needs_its_samples_to_be_judged() {
        let mut h = crate::results::new_histogram();
        for v in 1..=99 {
            h.record(v).expect("in the histogram's range");
        }
        let trend = SeriesData::Trend(h.clone());
        assert!(resolves(&trend, "p95"));
        assert!(!resolves(&trend, "p99"), "99 samples: p99 is their maximum");
        h.record(100).expect("in the histogram's range");
        assert!(resolves(&SeriesData::Trend(h), "p99"));
        let mut few = crate::results::new_histogram();
        few.record(5).expect("in the histogram's range");
        assert!(!resolves(&SeriesData::Trend(few), "p95"));
        assert!(resolves(&SeriesData::Counter(1), "rate"));
    }

    #[test]
    fn directions_by_metric_then_by_kind() {
        let counter = SeriesData::Counter(1);
        let rate = SeriesData::Rate { trues: 0, total: 1 };
        let trend = SeriesData::Trend(crate::results::new_histogram());
        assert_eq!(
            direction("http_reqs", &counter, "rate"),
            Direction::HigherIsBetter
        );
        assert_eq!(
            direction("http_reqs", &counter, "count"),
            Direction::Neutral
        );
        assert_eq!(
            direction("ws_connect_errors", &counter, "rate"),
            Direction::LowerIsBetter
        );
        assert_eq!(
            direction("my_counter", &counter, "rate"),
            Direction::Neutral
        );
        assert_eq!(
            direction("http_req_failed", &rate, "share"),
            Direction::LowerIsBetter
        );
        assert_eq!(
            direction("checks", &rate, "share"),
            Direction::HigherIsBetter
        );
        assert_eq!(
            direction("my_trend", &trend, "p95"),
            Direction::LowerIsBetter
        );
        assert_eq!(direction("my_trend", &trend, "count"), Direction::Neutral);
    }

    fn key(metric: &str, name: &str) -> SeriesKey {
        SeriesKey::from(crate::results::Series {
            metric: metric.into(),
            scenario: "s".into(),
            name: Some(name.into()),
            group: None,
            response: None,
        })
    }

    /// A run whose `name` requests took 1..=100 ms times `scale`.
    fn run(name: &str, scale: u64, rules: &[ThresholdRule]) -> (String, RunDocument, Results) {
        use crate::results::Sample;
        let mut results = Results {
            duration: std::time::Duration::from_secs(10),
            ..Results::default()
        };
        for ms in 1..=100 {
            results.record(Sample::Trend(
                key("http_req_duration", name),
                std::time::Duration::from_millis(ms * scale),
            ));
        }
        results.record(Sample::Count(key("http_reqs", name), 100 / scale));
        let verdict = crate::verdict::judge(rules, &results, None);
        let now = std::time::SystemTime::UNIX_EPOCH;
        let meta = super::super::json::Meta {
            plan: "p",
            plan_file: None,
            env: Some(name),
            stage: "smoke",
            started: now,
            finished: now,
            label: None,
            git_commit: None,
        };
        let figures = super::super::figures(&results);
        let document = RunDocument::new(&meta, &results, &figures, &verdict);
        (format!("{name}.json"), document, results)
    }

    fn rule(key: &str, check: &str) -> ThresholdRule {
        use crate::plan::threshold::{parse_check, parse_selector};
        let selector = parse_selector(key).expect("a selector");
        ThresholdRule {
            key: key.into(),
            kind: crate::plan::metric::builtin(&selector.metric).unwrap_or(MetricKind::Trend),
            selector,
            source: check.into(),
            check: parse_check(check).expect("a check"),
            abort_on_fail: false,
            delay_abort: None,
        }
    }

    /// B is twice as slow and half as fast: worse; A's thresholds judged on B, the
    /// `baseline * k` one against A; B's own series is only in B; the notes say the
    /// environments differ.
    #[test]
    fn a_comparison_of_two_runs() {
        let rules = [
            rule("http_req_duration", "p95 < 150ms"),
            rule("http_req_duration", "p95 < baseline * 1.5"),
        ];
        let a = run("a", 1, &rules);
        let b = run("b", 2, &[]);
        let comparison = Comparison::new(&[a, b]);
        let p95 = comparison
            .rows
            .iter()
            .find(|r| r.metric == "http_req_duration" && r.series.is_none() && r.figure == "p95")
            .expect("a p95 row");
        assert_eq!(p95.mark(1), Mark::Worse);
        let rate = comparison
            .rows
            .iter()
            .find(|r| r.metric == "http_reqs" && r.series.is_none() && r.figure == "rate")
            .expect("a rate row");
        assert_eq!(rate.mark(1), Mark::Worse);
        assert!((rate.change(1).expect("a change") + 50.0).abs() < 1e-9);
        let only_b = comparison
            .rows
            .iter()
            .find(|r| r.series.as_deref() == Some("s name=b") && r.figure == "p95")
            .expect("B's series");
        assert_eq!(only_b.mark(1), Mark::NotInReference);
        assert!(comparison.notes.iter().any(|n| n.contains("environments")));
        // p95 ≈ 95 ms on A, 190 ms on B: fails `< 150ms` and `< 95 × 1.5`.
        let failed = comparison.failed_thresholds();
        assert_eq!(failed.len(), 2, "{failed:?}");
        let baseline = &comparison.thresholds[1];
        let judged = baseline.rejudged[1].as_ref().expect("re-judged on B");
        assert!(!judged.passed);
        assert!(
            (judged.limit.expect("a limit") - 95.0 * 1.5).abs() < 0.5,
            "{judged:?}"
        );
        // A's own recorded `baseline * k` had no baseline: failed, as it ran.
        assert!(!baseline.recorded[0].as_ref().expect("recorded").passed);
        assert!(baseline.recorded[1].is_none());
        // A threshold the reference skipped by design stays skipped on B.
        let mut a = run(
            "a",
            1,
            &[rule("http_req_duration{scenario:other}", "p95 < 1ms")],
        );
        a.1.thresholds[0].set_status(Status::Skipped {
            reason: Reason::ScenarioNotRun("other".into()),
        });
        let skipped = Comparison::new(&[a, run("b", 2, &[])]);
        let judged = skipped.thresholds[0].rejudged[1]
            .as_ref()
            .expect("re-judged");
        assert!(judged.skipped && judged.passed, "{judged:?}");
        assert!(skipped.failed_thresholds().is_empty());
        let regressions = comparison.regressions(0.2);
        assert!(
            regressions
                .iter()
                .any(|r| r.what == "http_req_duration p95")
        );
        assert!(comparison.regressions(100.0).is_empty());
    }

    /// Hundreds of request names: every series compared, curves kept for the first
    /// [`MAX_CHARTS`] only, the total counted.
    #[test]
    fn many_series_keep_few_curves() {
        use crate::results::Sample;
        let mut results = Results {
            duration: std::time::Duration::from_secs(1),
            ..Results::default()
        };
        for n in 0..300 {
            results.record(Sample::Trend(
                key("http_req_duration", &format!("r{n}")),
                std::time::Duration::from_millis(5),
            ));
        }
        let doc = run("a", 1, &[]).1;
        let comparison = Comparison::new(&[
            ("a.json".into(), doc.clone(), results.clone()),
            ("b.json".into(), doc, results),
        ]);
        assert_eq!(comparison.curves.len(), MAX_CHARTS);
        assert_eq!(comparison.trends, 301);
        let p95 = comparison
            .rows
            .iter()
            .filter(|r| r.figure == "p95" && r.series.is_some())
            .count();
        assert_eq!(p95, 300);
        assert!(html(&comparison).contains("The first 60 of 301"));
    }

    #[test]
    fn letters_run_past_z() {
        assert_eq!(letter(0), "A");
        assert_eq!(letter(25), "Z");
        assert_eq!(letter(26), "R27");
    }
}
