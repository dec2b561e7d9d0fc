//! A [`Comparison`] as a self-contained HTML page, through the report's shell
//! (`html::page`): the runs, the metric tables, the thresholds, and per trend (and trend
//! series) the runs' latency percentile curves overlaid (`html::percentile_chart`). Every
//! text from a results file goes through `html::escape`.

use std::fmt::Write as _;

use super::{Comparison, MAX_CHARTS, Row, Section};
use crate::report::format::Style;
use crate::report::html::{escape, page, percentile_chart};

/// The page.
pub fn html(comparison: &Comparison) -> String {
    let mut body = String::new();
    let runs = &comparison.runs;
    let title = format!(
        "loadplan compare: {}",
        runs.iter()
            .map(|r| format!("{} {}", r.letter, r.file))
            .collect::<Vec<_>>()
            .join(" · ")
    );
    let reference = runs.first().map_or("A", |r| r.letter.as_str());
    let _ = writeln!(
        body,
        "<h1>Comparison of {} runs</h1>\n<p>Changes are against {}, the reference.</p>",
        runs.len(),
        escape(reference)
    );
    body.push_str("<div class=\"scroll\"><table class=\"runs\"><thead><tr><th>Run</th><th>File</th><th>Plan</th><th>Environment</th><th>Stage</th><th>Started</th><th>Duration</th><th>VUs</th><th>Label</th><th>Commit</th></tr></thead><tbody>\n");
    for run in runs {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&run.letter),
            escape(&run.file),
            escape(&run.plan),
            escape(run.env.as_deref().unwrap_or("-")),
            escape(&run.stage),
            escape(&run.started),
            escape(&crate::report::format::duration(run.duration_s)),
            run.vus_max,
            escape(run.label.as_deref().unwrap_or("")),
            escape(run.git_commit.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</tbody></table></div>\n");
    for note in &comparison.notes {
        let _ = writeln!(body, "<p class=\"note\">Note: {}</p>", escape(note));
    }
    for (section, title) in [
        (Section::Client, "Metrics"),
        (Section::Server, "Server-side (collect:)"),
        (Section::Derived, "Derived"),
    ] {
        let rows: Vec<&Row> = comparison
            .rows
            .iter()
            .filter(|row| row.section == section)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(body, "<h2>{}</h2>", escape(title));
        body.push_str(
            "<div class=\"scroll\"><table class=\"compare\"><thead><tr><th>Metric</th><th>Series</th><th>Figure</th>",
        );
        for (i, run) in runs.iter().enumerate() {
            let _ = write!(body, "<th>{}</th>", escape(&run.letter));
            if i > 0 {
                let _ = write!(body, "<th>Δ {}</th><th></th>", escape(&run.letter));
            }
        }
        body.push_str("</tr></thead><tbody>\n");
        for row in rows {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td>",
                escape(&row.metric),
                escape(row.series.as_deref().unwrap_or("")),
                escape(row.figure)
            );
            for i in 0..runs.len() {
                let value = super::text::value_text(row, i, Style::Document);
                let _ = write!(body, "<td class=\"num\">{}</td>", escape(&value));
                if i > 0 {
                    let mark = super::text::mark_text(row.mark(i), i, comparison);
                    let _ = write!(
                        body,
                        "<td class=\"num\">{}</td><td class=\"mark {}\">{}</td>",
                        escape(&super::text::change_text(row.change(i))),
                        escape(&mark.replace(' ', "-")),
                        escape(&mark)
                    );
                }
            }
            body.push_str("</tr>\n");
        }
        body.push_str("</tbody></table></div>\n");
    }
    if !comparison.thresholds.is_empty() {
        let _ = writeln!(
            body,
            "<h2>Thresholds</h2>\n<p>As each run recorded them, and {}'s re-judged on each later run.</p>",
            escape(reference)
        );
        let (header, rows) = super::text::threshold_cells(comparison, Style::Document);
        body.push_str("<div class=\"scroll\"><table class=\"thresholds\"><thead><tr>");
        for h in &header {
            let _ = write!(body, "<th>{}</th>", escape(h));
        }
        body.push_str("</tr></thead><tbody>\n");
        for row in &rows {
            body.push_str("<tr>");
            for c in row {
                let _ = write!(body, "<td>{}</td>", escape(c));
            }
            body.push_str("</tr>\n");
        }
        body.push_str("</tbody></table></div>\n");
    }
    let charts: Vec<_> = comparison
        .curves
        .iter()
        .filter(|c| !c.runs.is_empty())
        .collect();
    if !charts.is_empty() {
        body.push_str("<h2>Latency percentiles</h2>\n");
        if comparison.trends > comparison.curves.len() {
            let _ = writeln!(
                body,
                "<p>The first {MAX_CHARTS} of {} trends and trend series.</p>",
                comparison.trends
            );
        }
        body.push_str("<div class=\"charts\">\n");
        for curves in &charts {
            let series: Vec<(String, &hdrhistogram::Histogram<u64>)> = curves
                .runs
                .iter()
                .map(|(letter, h)| (letter.clone(), h))
                .collect();
            let _ = writeln!(
                body,
                "<div class=\"card\"><h3><code>{}</code></h3>\n{}\n</div>",
                escape(&curves.title),
                percentile_chart(&series)
            );
        }
        body.push_str("</div>\n");
    }
    page(&title, &body)
}
