//! The CSV history: one row per run appended to a file, with stable columns. The run's
//! columns come first (`started` … `errors`), then each metric's figures
//! (`ws_connect_time.p95_ms`, `http_reqs.count`, …), each collected metric's
//! (`mock.mock_http_requests_total.delta`) and each derived one (`derived.NAME`). A metric the file has not seen adds
//! its columns at the end: the header is rewritten (atomically, with the rows padded with
//! empty cells) and older rows keep their values under their columns.

use std::io::Write;

use indexmap::IndexMap;

use super::collected::history_cells;
use super::format;
use super::model::Report;
use crate::plan::metric::MetricKind;
use crate::plan::table::{self, CsvColumn};

/// Why a history file cannot take a row; it is left as it was.
#[derive(Debug)]
pub enum HistoryError {
    /// The file is not CSV.
    NotCsv(csv::Error),
    /// Its first column is not `started`.
    NotHistory,
    /// Writing the new text failed.
    Io(std::io::Error),
    Write(csv::Error),
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotCsv(e) => write!(f, "not a CSV history file: {e}"),
            Self::NotHistory => write!(
                f,
                "the first column is not `{}`: not a loadplan history file",
                RUN_COLUMNS[0]
            ),
            Self::Io(e) => write!(f, "{e}"),
            Self::Write(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HistoryError {}

/// The run's columns, always first, in this order.
pub use crate::plan::table::RUN_COLUMNS;

/// The columns and cells of one run, in order.
pub fn record(report: &Report) -> Vec<(String, String)> {
    let run = &report.run;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut cells: Vec<(String, String)> = RUN_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .zip([
            run.started.clone(),
            run.finished.clone(),
            run.plan.clone(),
            text(&run.env),
            run.stage.clone(),
            text(&run.label),
            text(&run.git_commit),
            run.loadplan_version.clone(),
            format::csv_seconds(run.duration_s),
            run.vus_max.to_string(),
            run.passed.to_string(),
            run.partial.to_string(),
            run.result.key().to_owned(),
            run.thresholds_passed.to_string(),
            run.thresholds_failed.to_string(),
            run.error_count.to_string(),
        ])
        .collect();
    for metric in &report.metrics {
        let name = &metric.name;
        let mut push = |column: &str, value: Option<f64>| {
            cells.push((
                format!("{name}.{column}"),
                value.map(format::csv_number).unwrap_or_default(),
            ));
        };
        match metric.kind.as_str() {
            "trend" => {
                let t = metric.trend.as_ref();
                push("count", Some(metric.count as f64));
                push("avg_ms", t.map(|t| t.avg));
                push("p50_ms", t.map(|t| t.med));
                push("p90_ms", t.map(|t| t.p90));
                push("p95_ms", t.map(|t| t.p95));
                push("p99_ms", t.map(|t| t.p99));
                push("max_ms", t.map(|t| t.max));
            }
            "counter" => {
                push("count", Some(metric.count as f64));
                push("rate", metric.rate);
            }
            "rate" => {
                push("rate", metric.share);
                push("total", Some(metric.count as f64));
            }
            _ => {
                let g = metric.gauge.as_ref();
                push("last", g.map(|g| g.last));
                push("max", g.map(|g| g.max));
            }
        }
    }
    cells.extend(history_cells(&report.server, &report.derived));
    cells
}

/// The history file's new text with `report`'s row added; `old` is its current text.
pub fn append(old: &str, report: &Report) -> Result<String, HistoryError> {
    let mut text = Vec::with_capacity(old.len() + 1024);
    write_appended(&mut text, old, report)?;
    String::from_utf8(text)
        .map_err(|e| HistoryError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// Writes the history file's new text, `old` with `report`'s row added, to `out`.
pub fn write_appended<W: Write + ?Sized>(
    out: &mut W,
    old: &str,
    report: &Report,
) -> Result<(), HistoryError> {
    write_row(out, old, &record(report), true)
}

/// The cells of the plan's own `columns` (name → expression) for `report`: each
/// expression reads a column of the default history (`http_req_duration.p95` reads
/// `http_req_duration.p95_ms`); a figure the run did not measure is an empty cell.
pub fn column_cells(report: &Report, columns: &IndexMap<String, String>) -> Vec<(String, String)> {
    let all = record(report);
    let cell = |name: &str| {
        all.iter()
            .find(|(column, _)| column == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    columns
        .iter()
        .map(|(name, expression)| {
            let value = match CsvColumn::parse(expression) {
                CsvColumn::Run(column) => cell(column),
                CsvColumn::Derived(derived) => cell(&format!("derived.{derived}")),
                CsvColumn::Figure { metric, figure } => {
                    let kind = match report.metric.get(metric).map(|m| m.kind.as_str()) {
                        Some("trend") => Some(MetricKind::Trend),
                        Some("counter") => Some(MetricKind::Counter),
                        Some("rate") => Some(MetricKind::Rate),
                        Some("gauge") => Some(MetricKind::Gauge),
                        _ if report.server_metric.contains_key(metric) => {
                            Some(MetricKind::Collected)
                        }
                        _ => None,
                    };
                    kind.and_then(|kind| table::csv_source(metric, figure, kind))
                        .map(|column| cell(&column))
                        .unwrap_or_default()
                }
                CsvColumn::Unknown => String::new(),
            };
            (name.clone(), value)
        })
        .collect()
}

/// Writes the history file's new text, `old` with a row of the plan's `columns` added.
/// The file's columns keep their order; a column the plan names and the file lacks is
/// added at the end; a column of the file the plan no longer names stays, empty in this row.
pub fn write_columns<W: Write + ?Sized>(
    out: &mut W,
    old: &str,
    report: &Report,
    columns: &IndexMap<String, String>,
) -> Result<(), HistoryError> {
    write_row(out, old, &column_cells(report, columns), false)
}

/// Writes `old` with the row `cells` added under the file's header, new columns at its end;
/// `history`: the file must be a default history (first column `started`).
fn write_row<W: Write + ?Sized>(
    out: &mut W,
    old: &str,
    cells: &[(String, String)],
    history: bool,
) -> Result<(), HistoryError> {
    let crlf = old.contains("\r\n");
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = Vec::new();
    if !old.trim().is_empty() {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(old.as_bytes());
        for (i, row) in reader.records().enumerate() {
            let row = row.map_err(HistoryError::NotCsv)?;
            let row: Vec<String> = row.iter().map(str::to_owned).collect();
            if i == 0 {
                header = row;
            } else {
                rows.push(row);
            }
        }
        if history && header.first().map(String::as_str) != Some(RUN_COLUMNS[0]) {
            return Err(HistoryError::NotHistory);
        }
    }
    let known = header.len();
    for (column, _) in cells {
        if !header.contains(column) {
            header.push(column.clone());
        }
    }
    let row: Vec<String> = header
        .iter()
        .map(|column| {
            cells
                .iter()
                .find(|(c, _)| c == column)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    let terminator = if crlf {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    };
    let same_columns = known == header.len();
    if same_columns {
        // Same columns: the old text stays byte for byte, one row is added.
        out.write_all(old.as_bytes()).map_err(HistoryError::Io)?;
        if !old.is_empty() && !old.ends_with('\n') {
            let newline: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            out.write_all(newline).map_err(HistoryError::Io)?;
        }
    }
    let mut writer = csv::WriterBuilder::new()
        .terminator(terminator)
        .flexible(true)
        .from_writer(out);
    if !same_columns {
        writer.write_record(&header).map_err(HistoryError::Write)?;
        for mut old_row in rows {
            old_row.resize(header.len().max(old_row.len()), String::new());
            writer.write_record(&old_row).map_err(HistoryError::Write)?;
        }
    }
    writer.write_record(&row).map_err(HistoryError::Write)?;
    writer.flush().map_err(HistoryError::Io)
}
