//! `outputs:` where a run's results go.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::table::{CsvOutput, Fill};
use super::template::Template;

/// A destination for results. Paths are templates (`results/{{ run.started | date }}-{{ stage }}.json`),
/// relative to the plan file's folder; missing folders are created when the outputs are
/// written, and `run`/`validate` check before the load that they can be.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Output {
    /// A Markdown report: a new file, appended to a document, or a section replaced in it.
    Markdown(MarkdownOutput),
    /// The full results as JSON, with histograms, for `loadplan report` and baselines. Never
    /// written over an existing file: a taken name gets `-2`, `-3`… before the extension.
    Json(Template),
    /// One row per run appended to a CSV history file with stable columns: a path (every
    /// column loadplan knows), or `{ file, columns }` with the plan's own columns.
    Csv(CsvOutput),
    /// JUnit XML: one test case per threshold.
    Junit(Template),
    /// A self-contained HTML report (one file, no network): the verdict and thresholds,
    /// time series over the run, latency percentile curves, tables per scenario, name and
    /// group, server-side and derived metrics, and the baseline comparison
    /// (docs/reports.md "The HTML report"). Replaces the file.
    #[schemars(example = "results/{{ stage }}.html")]
    Html(Template),
    /// Live metrics during the run: Prometheus remote write (protobuf + snappy, protocol
    /// 1.0) every `every`, trends as native histograms (docs/outputs.md). Sending never
    /// blocks a VU: a slow or failing receiver costs counted `output_dropped` samples.
    Prometheus(PrometheusOutput),
}

/// Where and how live metrics are sent (Prometheus, Grafana Cloud, Mimir, any remote-write
/// receiver).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrometheusOutput {
    /// The remote-write endpoint: `http://127.0.0.1:9090/api/v1/write` for a Prometheus
    /// started with `--web.enable-remote-write-receiver`. A template (`{{ secrets.… }}`
    /// is redacted wherever the URL is shown).
    #[schemars(example = "http://127.0.0.1:9090/api/v1/write")]
    pub url: Template,
    /// How often the metrics so far are sent (default 5s; at least 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "5s")]
    pub every: Option<super::units::Duration>,
    /// Labels added to every series sent (`team: payments`); values are templates.
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub labels: indexmap::IndexMap<String, Template>,
    /// HTTP headers of every request, for the receiver's auth (`Authorization: "Bearer {{
    /// secrets.MIMIR_TOKEN }}"`, `X-Scope-OrgID: tenant-1`); values are templates, redacted
    /// in every output.
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub headers: indexmap::IndexMap<String, Template>,
    /// Send trends as classic histograms with these upper bounds (`[10ms, 50ms, 100ms,
    /// 500ms, 1s]`) instead of native histograms, for receivers without native-histogram
    /// support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<super::units::Duration>>,
}

/// The labels loadplan itself puts on series sent to Prometheus; a plan's `labels:` may
/// not name one (after [`label_name`]).
pub const BUILT_IN_LABELS: [&str; 11] = [
    "plan",
    "env",
    "stage",
    "scenario",
    "phase",
    "name",
    "group",
    "method",
    "status",
    "expected_response",
    "segment",
];

/// The default of a `prometheus` output's `every`, and its least.
pub const EVERY_DEFAULT: std::time::Duration = std::time::Duration::from_secs(5);
pub const EVERY_MIN: std::time::Duration = std::time::Duration::from_secs(1);

/// A label name as Prometheus takes it: `[a-zA-Z_][a-zA-Z0-9_]*`, every other character
/// (and a leading digit) as `_`.
pub fn label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Where and how the Markdown report is written. Give one of `file`, `append_to`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkdownOutput {
    /// Write the report to this file (replacing it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Template>,
    /// Append to this existing document (relative to the plan file). It must exist: `run`
    /// and `validate` check it, and the `under` heading in it, before the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "docs/websocket-baselines.md")]
    pub append_to: Option<Template>,
    /// With `append_to`: the heading under which to add a row to its table (or the block at
    /// the end of its section). A template, like the paths, so each stage can have its own:
    /// `"### {{ stage | title }} Test Results"`. `loadplan run` and `validate` check that
    /// the document holds it before anything is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "## Historical Results")]
    pub under: Option<Template>,
    /// With `append_to`: replace the content between `<!-- loadplan:begin ID -->` and
    /// `<!-- loadplan:end ID -->`. The first time, the markers are added at the end of the
    /// `under` heading's section, or at the end of the document. A template, like the
    /// paths (`latest-{{ stage }}`: one block per stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<Template>,
    /// A minijinja template file (its path relative to the plan file) to render instead of
    /// the built-in report; it sees the whole report model (docs/reports.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = "templates/report.md.j2")]
    pub template: Option<String>,
    /// With `under`: a minijinja template file (relative to the plan file) for the one-line
    /// row added to the heading's
    /// table, instead of the built-in row (Date, Environment, Mode, Connections,
    /// p95 Conn Time, p95 Broadcast, Pass/Fail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_template: Option<String>,
    /// Regression limit factor shown beside each figure (default 1.2: baseline × 1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regression_factor: Option<f64>,
    /// With `append_to`: fill the cells of a table already in the document, in place,
    /// instead of adding a report (docs/reports.md "Filling the team's own table").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<Box<Fill>>,
}
