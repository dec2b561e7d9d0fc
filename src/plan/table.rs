//! The team's own tables: `fill:` of a `markdown` output (a table of a document filled in
//! place) and `columns:` of a `csv` output (the history's columns, named by the plan).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::metric::MetricKind;
use super::template::Template;

/// Fills the cells of a table that is already in the document (`append_to`), in place.
/// Rows are matched by their first cell to metrics (`rows`, over built-in names such as
/// `Connection Time`), columns by their header (`p50`, `p90`, `p95`, `p99`, `avg`, `min`,
/// `max`, `count`, `rate`, `Target`, `Status`, case-insensitive, or `columns`). The first
/// column and every other line of the document stay as they are, byte for byte. A row or
/// column that matches nothing stops the run before the load, unless it is in `keep`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fill {
    /// The heading above the table: the first heading line that starts with this text
    /// (`### Scale Test Results` matches `### Scale Test Results (100+ connections)`). The
    /// table is the first one in that heading's section. A template, like output paths
    /// (`"### {{ stage | title }} Test Results"`).
    #[schemars(example = "### {{ stage | title }} Test Results")]
    pub under: Template,
    /// A row's first cell → the metric whose figures fill it (`"Connection Time":
    /// ws_connect_time`). Matched without case and surrounding spaces; these come on top of
    /// the built-in names (docs/reports.md "Filling the team's table").
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub rows: IndexMap<String, String>,
    /// A column's header → the figure it shows, for headers that are not built-in names
    /// (`"95th pct": p95`). Figures: p50, p90, p95, p99, avg, min, max, count, rate,
    /// target, status.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub columns: IndexMap<String, String>,
    /// Row labels (first cells) and column headers left as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
}

/// A CSV history file: its path, or the path and the columns the plan names.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CsvOutput {
    /// Every column loadplan knows (the run's, then each metric's figures).
    File(Template),
    /// Only the columns named here, in this order.
    Columns(CsvColumns),
}

/// A CSV history with the plan's own columns.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvColumns {
    /// The history file; one row is appended per run.
    pub file: Template,
    /// Column name → what it holds: a run column (`started`, `env`, `stage`, `passed`, …),
    /// `METRIC.FIGURE` (`http_req_duration.p95`, `http_req_failed.rate`,
    /// `ws_connect_time.count`), `derived.NAME` or `SOURCE.metric.FIGURE` of a `collect`
    /// source. An existing file keeps its columns in their order; new ones are added at the
    /// end, and a column no longer named stays with empty cells.
    pub columns: IndexMap<String, String>,
}

impl CsvOutput {
    /// The history file's path.
    pub fn file(&self) -> &Template {
        match self {
            Self::File(file) | Self::Columns(CsvColumns { file, .. }) => file,
        }
    }

    /// The plan's columns, if it names them.
    pub fn columns(&self) -> Option<&IndexMap<String, String>> {
        match self {
            Self::File(_) => None,
            Self::Columns(c) => Some(&c.columns),
        }
    }
}

/// The run's columns of the default CSV history, always first, in this order; each is also
/// a column expression of `csv: { columns }`.
pub const RUN_COLUMNS: [&str; 16] = [
    "started",
    "finished",
    "plan",
    "env",
    "stage",
    "label",
    "git_commit",
    "loadplan_version",
    "duration_s",
    "vus_max",
    "passed",
    "partial",
    "result",
    "thresholds_passed",
    "thresholds_failed",
    "errors",
];

/// The figures a `METRIC.FIGURE` column may name per kind of metric, each with the default
/// history's column suffix it reads (`http_req_duration.p95` is `http_req_duration.p95_ms`).
pub fn csv_figures(kind: MetricKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        MetricKind::Trend => &[
            ("count", "count"),
            ("avg", "avg_ms"),
            ("med", "p50_ms"),
            ("p50", "p50_ms"),
            ("p90", "p90_ms"),
            ("p95", "p95_ms"),
            ("p99", "p99_ms"),
            ("max", "max_ms"),
            ("avg_ms", "avg_ms"),
            ("p50_ms", "p50_ms"),
            ("p90_ms", "p90_ms"),
            ("p95_ms", "p95_ms"),
            ("p99_ms", "p99_ms"),
            ("max_ms", "max_ms"),
        ],
        MetricKind::Counter => &[("count", "count"), ("rate", "rate")],
        MetricKind::Rate => &[("rate", "rate"), ("total", "total"), ("count", "total")],
        MetricKind::Gauge => &[("last", "last"), ("value", "last"), ("max", "max")],
        MetricKind::Collected => &[
            ("delta", "delta"),
            ("rate", "rate"),
            ("avg", "avg"),
            ("min", "min"),
            ("max", "max"),
            ("count", "count"),
            ("p50", "p50"),
            ("p95", "p95"),
            ("p99", "p99"),
        ],
        MetricKind::Derived => &[],
    }
}

/// What a CSV column expression names, split but not yet checked against the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvColumn<'a> {
    /// One of [`RUN_COLUMNS`].
    Run(&'a str),
    /// `derived.NAME`.
    Derived(&'a str),
    /// `METRIC.FIGURE` (a collected metric's name holds a dot: `SOURCE.metric.FIGURE`).
    Figure { metric: &'a str, figure: &'a str },
    /// Neither: no dot and not a run column.
    Unknown,
}

impl<'a> CsvColumn<'a> {
    pub fn parse(expression: &'a str) -> Self {
        let expression = expression.trim();
        if RUN_COLUMNS.contains(&expression) {
            return Self::Run(expression);
        }
        if let Some(name) = expression.strip_prefix("derived.") {
            return Self::Derived(name);
        }
        match expression.rsplit_once('.') {
            Some((metric, figure)) if !metric.is_empty() && !figure.is_empty() => {
                Self::Figure { metric, figure }
            }
            _ => Self::Unknown,
        }
    }
}

/// The default history's column that `METRIC.FIGURE` reads, for a metric of `kind`.
pub fn csv_source(metric: &str, figure: &str, kind: MetricKind) -> Option<String> {
    csv_figures(kind)
        .iter()
        .find(|(name, _)| *name == figure)
        .map(|(_, suffix)| format!("{metric}.{suffix}"))
}

/// The figures a `fill` column shows, by their header (lowercase).
pub const FILL_FIGURES: [&str; 13] = [
    "p50",
    "med",
    "p90",
    "p95",
    "p99",
    "avg",
    "min",
    "max",
    "count",
    "rate",
    "target",
    "threshold",
    "status",
];

/// A row label → metric of every `fill`, before the plan's own `rows`.
pub const FILL_ROWS: [(&str, &str); 14] = [
    ("Connection Time", "ws_connect_time"),
    ("Connect Time", "ws_connect_time"),
    ("Connection Errors", "ws_connect_errors"),
    ("Message Latency", "ws_message_latency"),
    ("Broadcast Delivery", "broadcast_delivery_time"),
    ("Broadcast Delivery Time", "broadcast_delivery_time"),
    ("Broadcast Success", "broadcast_delivered"),
    ("Reconnection Time", "ws_reconnect_time"),
    ("Reconnect Time", "ws_reconnect_time"),
    ("HTTP Duration", "http_req_duration"),
    ("HTTP Request Duration", "http_req_duration"),
    ("HTTP Errors", "http_req_failed"),
    ("HTTP Requests", "http_reqs"),
    ("Iteration Duration", "iteration_duration"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_split_and_read_the_default_history() {
        assert_eq!(CsvColumn::parse(" stage "), CsvColumn::Run("stage"));
        assert_eq!(CsvColumn::parse("derived.tput"), CsvColumn::Derived("tput"));
        assert_eq!(
            CsvColumn::parse("mock.requests_total.delta"),
            CsvColumn::Figure {
                metric: "mock.requests_total",
                figure: "delta"
            }
        );
        assert_eq!(CsvColumn::parse("p95"), CsvColumn::Unknown);
        assert_eq!(CsvColumn::parse("x."), CsvColumn::Unknown);
        let read = |m, f, k| csv_source(m, f, k);
        assert_eq!(
            read("http_req_duration", "p95", MetricKind::Trend).as_deref(),
            Some("http_req_duration.p95_ms")
        );
        assert_eq!(
            read("http_req_failed", "count", MetricKind::Rate).as_deref(),
            Some("http_req_failed.total")
        );
        assert_eq!(read("vus", "p95", MetricKind::Gauge), None);
    }
}
