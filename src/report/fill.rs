//! Filling the team's own table in place (`markdown: { append_to, fill }`): the table
//! under a heading keeps its lines, its first column and every cell we do not own; the
//! cells whose row names a metric and whose column names a figure get the run's figure.
//! Pure text → text. [`check`] needs only the document, so it runs before the load.
//!
//! ```text
//! ### Scale Test Results (100+ connections)       ← the first heading starting with `under`
//!
//! | Metric          | p50 | p95 | p99 | Status |  ← columns by header (built-in names, `columns`)
//! |-----------------|-----|-----|-----|--------|
//! | Connection Time | Xms | Xms | Xms | -      |  ← rows by first cell (`rows`, built-in names)
//! ```
//!
//! A cell's text is replaced between its padding: `| Xms |` becomes `| 12.3ms |`, the
//! spaces around it stay. Line endings stay (CRLF stays CRLF).

use indexmap::IndexMap;

use super::baselines::row_status;
use super::document::{fenced, level, table_in};
use super::format::{self, Style};
use super::model::Report;
use crate::diag::did_you_mean;
use crate::plan::table::{FILL_ROWS, Fill};
use crate::plan::threshold::{Selector, parse_selector};

/// A figure a column shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    P50,
    P90,
    P95,
    P99,
    Avg,
    Min,
    Max,
    Count,
    Rate,
    /// The metric's threshold checks (`p95 < 2000ms, p99 < 5000ms`).
    Target,
    /// `✅ Pass` / `❌ Fail` of the metric's thresholds, `-` when it has none.
    Status,
}

impl Column {
    /// A figure's name (a header, or a value of `columns`), without case.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match key(name).as_str() {
            "p50" | "med" | "median" => Self::P50,
            "p90" => Self::P90,
            "p95" => Self::P95,
            "p99" => Self::P99,
            "avg" | "mean" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "count" => Self::Count,
            "rate" => Self::Rate,
            "target" | "threshold" => Self::Target,
            "status" => Self::Status,
            _ => return None,
        })
    }
}

/// How a label or header is matched: without case, surrounding spaces, or the emphasis
/// and code marks around it (`**Status**`, `` `p95` ``).
fn key(text: &str) -> String {
    text.trim()
        .trim_matches(['*', '`', '_'])
        .trim()
        .to_lowercase()
}

/// What to fill: the heading (rendered), rows and columns by name.
#[derive(Debug, Clone)]
pub struct Spec {
    pub under: String,
    /// Lowercased label → metric; the plan's first, then the built-in ones.
    pub rows: IndexMap<String, String>,
    /// Lowercased header → figure, from the plan.
    pub columns: IndexMap<String, Column>,
    /// Lowercased labels and headers left alone.
    pub keep: Vec<String>,
}

impl Spec {
    /// The spec of the plan's `fill`, its heading rendered as `under`. A figure name of
    /// `columns` that is not one is left out (the plan's check rejects it).
    pub fn new(fill: &Fill, under: String) -> Self {
        let mut rows: IndexMap<String, String> = fill
            .rows
            .iter()
            .map(|(label, metric)| (key(label), metric.trim().to_owned()))
            .collect();
        for (label, metric) in FILL_ROWS {
            rows.entry(key(label)).or_insert_with(|| metric.to_owned());
        }
        Self {
            under,
            rows,
            columns: fill
                .columns
                .iter()
                .filter_map(|(header, figure)| Some((key(header), Column::parse(figure)?)))
                .collect(),
            keep: fill.keep.iter().map(|k| key(k)).collect(),
        }
    }
}

/// Why a table cannot be filled; the document is left as it was. Lines count from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FillError {
    NoHeading {
        under: String,
    },
    NoTable {
        heading: String,
        line: usize,
    },
    UnknownColumn {
        heading: String,
        header: String,
        line: usize,
    },
    UnknownRow {
        heading: String,
        label: String,
        line: usize,
        help: Option<String>,
    },
    Cells {
        heading: String,
        line: usize,
        want: usize,
        have: usize,
    },
}

impl std::fmt::Display for FillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoHeading { under } => write!(
                f,
                "no heading starts with `{under}` (`fill.under`), so there is no table to fill"
            ),
            Self::NoTable { heading, line } => {
                write!(f, "line {line}: the section `{heading}` has no table")
            }
            Self::UnknownColumn {
                heading,
                header,
                line,
            } => write!(
                f,
                "line {line}: the column `{header}` of the table under `{heading}` is not a figure \
                 (p50, p90, p95, p99, avg, min, max, count, rate, Target, Status); name it in \
                 `fill.columns` (`\"{header}\": p95`) or leave it with `fill.keep`"
            ),
            Self::UnknownRow {
                heading,
                label,
                line,
                help,
            } => {
                write!(
                    f,
                    "line {line}: the row `{label}` of the table under `{heading}` names no \
                     metric; map it in `fill.rows` (`\"{label}\": METRIC`) or leave it with `fill.keep`"
                )?;
                match help {
                    Some(help) => write!(f, " ({help})"),
                    None => Ok(()),
                }
            }
            Self::Cells {
                heading,
                line,
                want,
                have,
            } => write!(
                f,
                "line {line}: the table under `{heading}` has {want} columns but this row has {have}"
            ),
        }
    }
}

impl std::error::Error for FillError {}

/// Where the figures go: per row, its line and metric; per column, its figure (`None`:
/// the label column, or one kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The heading line as written (trimmed).
    pub heading: String,
    pub rows: Vec<(usize, String)>,
    pub columns: Vec<Option<Column>>,
}

/// Checks that `text` holds the table of `spec` and that every row and column is matched;
/// the layout of the table when it does.
pub fn check(text: &str, spec: &Spec) -> Result<Layout, FillError> {
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let fence = fenced(&lines);
    let under = spec.under.trim();
    let start = (0..lines.len())
        .find(|&i| {
            let line = lines[i].trim();
            !fence[i] && level(line).is_some() && line.starts_with(under)
        })
        .ok_or_else(|| FillError::NoHeading {
            under: under.to_owned(),
        })?;
    let heading = lines[start].trim().to_owned();
    let own = level(&heading).unwrap_or(6);
    let end = (start + 1..lines.len())
        .find(|&i| !fence[i] && level(lines[i].trim_end()).is_some_and(|l| l <= own))
        .unwrap_or(lines.len());
    let (header, last) = table_in(&lines, start + 1, end).ok_or_else(|| FillError::NoTable {
        heading: heading.clone(),
        line: start + 1,
    })?;
    let headers = cell_texts(&lines[header]);
    let mut columns = vec![None];
    for name in headers.iter().skip(1) {
        let key = key(name);
        if spec.keep.contains(&key) {
            columns.push(None);
            continue;
        }
        let column = spec
            .columns
            .get(&key)
            .copied()
            .or_else(|| Column::parse(&key))
            .ok_or_else(|| FillError::UnknownColumn {
                heading: heading.clone(),
                header: name.trim().to_owned(),
                line: header + 1,
            })?;
        columns.push(Some(column));
    }
    let mut rows = Vec::new();
    for (i, line) in lines.iter().enumerate().take(last + 1).skip(header + 2) {
        let cells = cell_texts(line);
        if cells.len() != headers.len() {
            return Err(FillError::Cells {
                heading: heading.clone(),
                line: i + 1,
                want: headers.len(),
                have: cells.len(),
            });
        }
        let label = cells.first().map_or("", |c| c.trim());
        let key = key(label);
        if spec.keep.contains(&key) {
            continue;
        }
        let Some(metric) = spec.rows.get(&key) else {
            return Err(FillError::UnknownRow {
                heading: heading.clone(),
                label: label.to_owned(),
                line: i + 1,
                help: did_you_mean(&key, spec.rows.keys().map(String::as_str)),
            });
        };
        rows.push((i, metric.clone()));
    }
    Ok(Layout {
        heading,
        rows,
        columns,
    })
}

/// `text` with the table of `spec` filled: each matched cell gets `figure(metric, column)`.
pub fn fill(
    text: &str,
    spec: &Spec,
    figure: impl Fn(&str, Column) -> String,
) -> Result<String, FillError> {
    let layout = check(text, spec)?;
    let mut out = String::with_capacity(text.len() + 256);
    let mut rows = layout.rows.iter().peekable();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let Some((_, metric)) = rows.next_if(|(at, _)| *at == i) else {
            out.push_str(line);
            continue;
        };
        let mut last = 0;
        for (span, column) in cell_spans(line).into_iter().zip(&layout.columns) {
            let Some(column) = column else {
                continue;
            };
            let value = figure(metric, *column).replace('|', "\\|");
            let cell = &line[span.clone()];
            let content = cell.trim();
            let (from, to) = if content.is_empty() {
                (span.start, span.end)
            } else {
                let lead = cell.len() - cell.trim_start().len();
                (span.start + lead, span.start + lead + content.len())
            };
            out.push_str(&line[last..from]);
            if content.is_empty() {
                out.push(' ');
                out.push_str(&value);
                out.push(' ');
            } else {
                out.push_str(&value);
            }
            last = to;
        }
        out.push_str(&line[last..]);
    }
    Ok(out)
}

/// The byte ranges of a table line's cells, between unescaped `|` (not the line ending).
fn cell_spans(line: &str) -> Vec<std::ops::Range<usize>> {
    let body = line.trim_end_matches(['\n', '\r']);
    let mut pipes = Vec::new();
    let mut escaped = false;
    for (at, c) in body.char_indices() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '|' if !escaped => pipes.push(at),
            _ => {}
        }
        escaped = false;
    }
    let mut spans = Vec::new();
    let leading = body.trim_start().starts_with('|');
    let mut from = if leading { None } else { Some(0) };
    for at in pipes {
        if let Some(start) = from {
            spans.push(start..at);
        }
        from = Some(at + 1);
    }
    if let Some(start) = from
        && !body[start..].trim().is_empty()
    {
        spans.push(start..body.len());
    }
    spans
}

fn cell_texts(line: &str) -> Vec<&str> {
    cell_spans(line).into_iter().map(|s| &line[s]).collect()
}

/// The text of `column` for `metric` in `report`, as documents show figures; `-` for a
/// figure the run did not measure.
pub fn figure(report: &Report, metric: &str, column: Column) -> String {
    let document = Style::Document;
    let none = || "-".to_owned();
    if let Ok(selector) = parse_selector(metric)
        && !selector.tags.is_empty()
    {
        return tagged(report, &selector, column);
    }
    let thresholds: Vec<_> = report
        .thresholds
        .iter()
        .filter(|t| t.metric == metric)
        .collect();
    match column {
        Column::Target => {
            let checks: Vec<String> = thresholds
                .iter()
                .filter(|t| !t.regression)
                .map(|t| {
                    if t.tags.is_empty() {
                        t.check.clone()
                    } else {
                        format!("{}: {}", t.key, t.check)
                    }
                })
                .collect();
            if checks.is_empty() {
                none()
            } else {
                checks.join(", ")
            }
        }
        Column::Status if thresholds.is_empty() => none(),
        Column::Status => {
            row_status(thresholds.iter().all(|t| t.passed), report.run.partial).to_owned()
        }
        _ => {
            let Some(m) = report.metric.get(metric) else {
                return none();
            };
            let ms = |v: Option<f64>| v.map_or_else(none, |v| format::ms(v, document));
            let trend = m.trend.as_ref();
            let gauge = m.gauge.as_ref();
            let number = |v: Option<f64>| v.map_or_else(none, |v| format::number(v, document));
            match (column, m.kind.as_str()) {
                (Column::P50, _) => ms(trend.map(|t| t.med)),
                (Column::P90, _) => ms(trend.map(|t| t.p90)),
                (Column::P95, _) => ms(trend.map(|t| t.p95)),
                (Column::P99, _) => ms(trend.map(|t| t.p99)),
                (Column::Avg, _) => ms(trend.map(|t| t.avg)),
                (Column::Min, "gauge") => number(gauge.map(|g| g.min)),
                (Column::Max, "gauge") => number(gauge.map(|g| g.max)),
                (Column::Min, _) => ms(trend.map(|t| t.min)),
                (Column::Max, _) => ms(trend.map(|t| t.max)),
                (Column::Count, "gauge") => none(),
                (Column::Count, _) => number(Some(m.count as f64)),
                (Column::Rate, "rate") => {
                    m.share.map_or_else(none, |s| format::percent(s, document))
                }
                (Column::Rate, _) => m
                    .rate
                    .map_or_else(none, |r| format!("{}/s", format::number(r, document))),
                (Column::Target | Column::Status, _) => none(),
            }
        }
    }
}

/// A row of a tag filter (`http_req_duration{name:broadcast}`): the figures of the latency
/// table's row for that filter (p50, p95, p99, the checks and their status), which a
/// threshold on the filter makes; `-` for the others.
fn tagged(report: &Report, selector: &Selector, column: Column) -> String {
    let mut want: Vec<(&str, &str)> = selector
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    want.sort_unstable();
    let row = report.tables.iter().find(|row| {
        let mut have: Vec<(&str, &str)> = row
            .tags
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter_map(|tag| tag.split_once(':'))
            .collect();
        have.sort_unstable();
        row.metric == selector.metric && have == want
    });
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format::ms(v, Style::Document));
    match (row, column) {
        (Some(row), Column::P50) => ms(row.p50),
        (Some(row), Column::P95) => ms(row.p95),
        (Some(row), Column::P99) => ms(row.p99),
        (Some(row), Column::Target) if !row.threshold.is_empty() => row.threshold.clone(),
        (Some(row), Column::Status) => row.status.clone(),
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Baselines\n\n## Template\n\n### Scale Test Results (100+ connections)\n\n| Metric | p50 | p95 | p99 | Status |\n|--------|-----|-----|-----|--------|\n| Connection Time | Xms | Xms | Xms | - |\n| Message Latency | Xms | Xms | Xms | - |\n\n### Sustained Test Results (5 minutes)\n\n| Metric | p50 | Notes |\n|---|---|---|\n| Connection Time | Xms | keep me |\n| Custom | Xms | x |\n";

    fn spec(under: &str, fill: &str) -> Spec {
        let fill: Fill = serde_json::from_str(fill).expect("a valid fill");
        Spec::new(&fill, under.to_owned())
    }

    fn figures(metric: &str, column: Column) -> String {
        format!("{metric}:{column:?}")
    }

    #[test]
    fn fills_the_table_under_a_heading_that_starts_with_the_text() {
        let spec = spec("### Scale Test Results", r#"{"under": "x"}"#);
        let out = fill(DOC, &spec, figures).unwrap();
        let expected = DOC
            .replace(
                "| Connection Time | Xms | Xms | Xms | - |\n| Message",
                "| Connection Time | ws_connect_time:P50 | ws_connect_time:P95 | ws_connect_time:P99 | ws_connect_time:Status |\n| Message",
            )
            .replace(
                "| Message Latency | Xms | Xms | Xms | - |",
                "| Message Latency | ws_message_latency:P50 | ws_message_latency:P95 | ws_message_latency:P99 | ws_message_latency:Status |",
            );
        assert_eq!(out, expected);
    }

    #[test]
    fn kept_columns_and_rows_and_plan_rows() {
        let spec = spec(
            "### Sustained",
            r#"{"under": "x", "rows": {"custom": "my_trend"}, "keep": ["notes"]}"#,
        );
        let out = fill(DOC, &spec, |m, _| m.len().to_string()).unwrap();
        assert!(
            out.ends_with("| Connection Time | 15 | keep me |\n| Custom | 8 | x |\n"),
            "{out}"
        );
        // The Scale table is untouched.
        assert_eq!(
            out[..DOC.find("### Sustained").unwrap()],
            DOC[..DOC.find("### Sustained").unwrap()]
        );
    }

    #[test]
    fn unmatched_rows_columns_and_headings_are_located() {
        let error = check(
            DOC,
            &spec("### Sustained", r#"{"under": "x", "keep": ["notes"]}"#),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 17: the row `Custom` of the table under `### Sustained Test Results (5 minutes)` names no metric; map it in `fill.rows` (`\"Custom\": METRIC`) or leave it with `fill.keep`"
        );
        let error = check(DOC, &spec("### Sustained", r#"{"under": "x"}"#)).unwrap_err();
        assert!(
            matches!(error, FillError::UnknownColumn { ref header, line: 14, .. } if header == "Notes"),
            "{error}"
        );
        let error = check(DOC, &spec("### Smoke", r#"{"under": "x"}"#)).unwrap_err();
        assert_eq!(
            error,
            FillError::NoHeading {
                under: "### Smoke".into()
            }
        );
        let bare = "## A\n\ntext\n\n## B\n\n| Metric | p95 |\n|-|-|\n";
        let error = check(bare, &spec("## A", r#"{"under": "x"}"#)).unwrap_err();
        assert_eq!(
            error,
            FillError::NoTable {
                heading: "## A".into(),
                line: 1
            }
        );
        let typo = DOC.replace("| Message Latency |", "| Mesage Latency |");
        let error = check(&typo, &spec("### Scale", r#"{"under": "x"}"#)).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("(did you mean `message latency`?)"),
            "{error}"
        );
    }

    #[test]
    fn plan_columns_crlf_empty_cells_and_pipes() {
        let doc = "## T\r\n\r\n|Metric|95th pct|\r\n|-|-|\r\n|connection time||\r\n";
        let spec = spec("## T", r#"{"under": "x", "columns": {"95th PCT": "p95"}}"#);
        let out = fill(doc, &spec, |_, c| format!("{c:?}|x")).unwrap();
        assert_eq!(
            out,
            "## T\r\n\r\n|Metric|95th pct|\r\n|-|-|\r\n|connection time| P95\\|x |\r\n"
        );
        let short = "## T\n\n| Metric | p95 |\n|-|-|\n| Connection Time |\n";
        assert!(matches!(
            check(short, &spec).unwrap_err(),
            FillError::Cells {
                line: 5,
                want: 2,
                have: 1,
                ..
            }
        ));
    }

    #[test]
    fn marks_around_labels_and_headers_are_not_part_of_the_name() {
        let doc = "## T\n\n| Metric | **p95** | `Status` |\n|-|-|-|\n| **Message Latency** | | |\n";
        let out = fill(doc, &spec("## T", r#"{"under": "x"}"#), |m, c| {
            format!("{m} {c:?}")
        })
        .unwrap();
        assert!(
            out.ends_with(
                "| **Message Latency** | ws_message_latency P95 | ws_message_latency Status |\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn headings_in_fences_do_not_count() {
        let doc =
            "```\n### Scale Test Results\n| Metric | p95 |\n|-|-|\n| Connection Time | X |\n```\n";
        assert!(matches!(
            check(doc, &spec("### Scale", r#"{"under": "x"}"#)),
            Err(FillError::NoHeading { .. })
        ));
    }
}
