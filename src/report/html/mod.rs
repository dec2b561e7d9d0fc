//! The self-contained HTML report: one file, no network (`--out html=FILE`, `outputs: -
//! html:`, `loadplan report --html`). Rendered from the report model, with the run's
//! timeline and histograms from its [`RunDocument`]: the verdict and thresholds, charts
//! over time (`charts.rs`, SVG drawn here), latency distributions from the HDR histograms,
//! tables by scenario, group, name and series (`tables.rs`), errors, server-side and
//! derived metrics, the baseline comparison. The style sheet and script are embedded
//! (`style.css`, `script.js`); every text that came from outside is escaped; every list a
//! run can make long (timeline, series, kinds, server metrics) is capped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::format::{self, Style};
use super::json::RunDocument;
use super::model::{Report, RunResult};
use crate::results::{OTHER_KINDS, Results, Second, SeriesData, SeriesKey};

pub mod charts;
pub mod tables;

pub use charts::{Line, TimeChart, time_chart};
pub use tables::{Cell, Table};

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// Points of a time chart at most: an hour's run is drawn in 10-second steps.
pub const MAX_POINTS: usize = 360;
/// Trend metrics given a distribution chart, and curves per chart.
const MAX_DISTRIBUTIONS: usize = 12;
const MAX_CURVES: usize = 8;
/// Rows of the series table, of each roll-up table, of the server-side table, and error
/// kinds listed.
const MAX_SERIES_ROWS: usize = 200;
const MAX_ROLLUP_ROWS: usize = 100;
const MAX_SERVER_ROWS: usize = 300;
const MAX_ERROR_KINDS: usize = 50;

/// The page of `report` (the run `run`, compared with `baseline` when there is one).
pub fn render(report: &Report, run: &RunDocument, baseline: Option<&RunDocument>) -> String {
    // The report was built from these results, so they decode; a damaged file shows
    // what the report model has.
    let results = run.results().unwrap_or_default();
    let base_results = baseline.and_then(|b| b.results().ok());
    let mut body = String::new();
    header(&mut body, report);
    let mut nav: Vec<(&str, &str)> = vec![("thresholds", "Thresholds"), ("time", "Over time")];
    let mut sections = String::new();
    thresholds(&mut sections, report);
    over_time(&mut sections, &results.timeline, report.run.duration_s);
    if distributions(&mut sections, &results, base_results.as_ref()) {
        nav.push(("latency", "Latency"));
    }
    if breakdown(&mut sections, &results) {
        nav.push(("breakdown", "Breakdown"));
    }
    metrics(&mut sections, report);
    nav.push(("metrics", "Metrics"));
    if report.baseline.is_some() {
        nav.push(("baseline", "Baseline"));
    }
    if errors(&mut sections, report) {
        nav.push(("errors", "Errors"));
    }
    if server(&mut sections, report) {
        nav.push(("server", "Server"));
    }
    if phases(&mut sections, &results) {
        nav.push(("phases", "Setup/teardown"));
    }
    body.push_str(r#"<nav class="toc">"#);
    for (id, name) in nav {
        let _ = write!(body, r##"<a href="#{id}">{name}</a>"##);
    }
    body.push_str("</nav>");
    body.push_str(&sections);
    let _ = write!(
        body,
        r#"<footer>loadplan {} · results of {} · this page works offline: nothing is fetched</footer>"#,
        escape(&report.run.loadplan_version),
        escape(&report.run.started)
    );
    let title = format!("{} · {} — loadplan", report.run.plan, report.run.stage);
    page(&title, &body)
}

/// A whole self-contained page: `title` and `body` (HTML) in the report's shell — its
/// style sheet (light, dark, print, phone width) and script. `loadplan compare --html`
/// renders through this too. The body can use the sheet's classes: `<section id=…>` with
/// an `<h2>`; `p.note` and `p.empty` (muted text); `div.charts` (a responsive grid) of
/// `div.card`s holding a chart ([`time_chart`], [`percentile_chart`]) under an `<h3>`;
/// [`Table`] (wrapped in `div.scroll`, figures in `.num` cells); [`badge`] (`pass`,
/// `fail`, `skipped`, `partial`, `none`); `nav.toc` of anchors; `header.top` with an
/// `<h1>`, `p.verdict.pass|fail|partial|none` and `dl.meta`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<meta name=\"generator\" content=\"loadplan\">\
<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n\
<div id=\"tip\" class=\"tooltip\" hidden></div>\n<script>\n{SCRIPT}</script>\n</body></html>\n",
        escape(title)
    )
}

/// An SVG chart of latency percentile curves (HdrHistogram style: percentile on a log
/// axis, milliseconds up), one curve per `(label, histogram in µs)`, overlaid, with a
/// legend; a note instead when none has a sample.
pub fn percentile_chart(series: &[(String, &Histogram<u64>)]) -> String {
    charts::percentile_chart(series)
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

/// A status badge: `pass`, `fail`, `skipped`, `partial`, `none`.
pub fn badge(class: &str, text: &str) -> String {
    format!(
        r#"<span class="badge {}">{}</span>"#,
        escape(class),
        escape(text)
    )
}

fn header(out: &mut String, report: &Report) {
    let run = &report.run;
    // Marks every font has (the emoji of `run.verdict` may show as boxes).
    let (class, verdict) = match (run.result, run.partial) {
        (RunResult::Pass, _) => ("pass", "✓ Pass"),
        (RunResult::Fail, false) => ("fail", "✗ Fail"),
        (RunResult::Fail, true) => ("fail", "✗ Fail (partial)"),
        (RunResult::Partial, _) => ("partial", "⚠ Partial"),
        (RunResult::NoThresholds, _) => ("none", "No thresholds"),
    };
    let _ = write!(
        out,
        r#"<header class="top"><h1>{}</h1><p class="verdict {class}" data-result="{}">{verdict} <span>{} of {} thresholds passed</span></p>"#,
        escape(&run.plan),
        run.result.key(),
        run.thresholds_passed,
        run.thresholds_passed + run.thresholds_failed
    );
    if run.partial {
        let _ = write!(
            out,
            r#"<p class="warning" role="alert">⚠ The run stopped early{}: its figures cover only what ran.</p>"#,
            run.stopped_early
                .as_deref()
                .map(|why| format!(" ({})", escape(why)))
                .unwrap_or_default()
        );
    }
    out.push_str(r#"<dl class="meta">"#);
    let mut item = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            // A path or a commit does not fit a narrow cell: it takes two, rather than
            // breaking inside a word.
            let wide = if value.chars().count() > 18 {
                r#" class="wide""#
            } else {
                ""
            };
            let _ = write!(
                out,
                "<div{wide}><dt>{name}</dt><dd>{}</dd></div>",
                escape(value)
            );
        }
    };
    item("Environment", Some(run.env.as_deref().unwrap_or("-")));
    item("Stage", Some(&run.stage));
    item("Label", run.label.as_deref());
    item("Started", Some(&run.started));
    item("Duration", Some(&format::duration(run.duration_s)));
    item("Peak VUs", Some(&run.vus_max.to_string()));
    item("Errors", Some(&run.error_count.to_string()));
    item("Git commit", run.git_commit.as_deref());
    item("loadplan", Some(&run.loadplan_version));
    item("Plan file", run.plan_file.as_deref());
    item("Overrides", run.overrides.as_deref());
    if let Some(base) = &report.baseline {
        let what = format!(
            "{} ({}{})",
            base.file_name.as_deref().unwrap_or(&base.started),
            base.stage,
            base.env
                .as_deref()
                .map(|e| format!(", {e}"))
                .unwrap_or_default()
        );
        item("Baseline", Some(&what));
    }
    out.push_str("</dl></header>");
}

fn thresholds(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="thresholds"><h2>Thresholds</h2>"#);
    if report.thresholds.is_empty() {
        out.push_str(r#"<p class="empty">The plan has no thresholds: nothing was judged.</p>"#);
    } else {
        let notes: Vec<String> = report
            .thresholds
            .iter()
            .map(|t| match (&t.reason, t.regression) {
                (Some(reason), _) => reason.clone(),
                (None, true) => "limit from the baseline".to_owned(),
                (None, false) => String::new(),
            })
            .collect();
        // A column of nothing costs a phone its Limit column: shown only when a
        // threshold has a note.
        let with_notes = notes.iter().any(|note| !note.is_empty());
        let head: &[&str] = if with_notes {
            &["Status", "Metric", "Check", "#Value", "#Limit", "Note"]
        } else {
            &["Status", "Metric", "Check", "#Value", "#Limit"]
        };
        let mut table = Table::new(head).class("thr");
        for (t, note) in report.thresholds.iter().zip(notes) {
            let mut cells = vec![
                Cell::Html(badge(&t.status, &t.status)),
                Cell::Html(format!("<code>{}</code>", escape(&t.key))),
                Cell::text(&t.check),
                Cell::figure(&t.value_text),
                Cell::figure(&t.limit_text),
            ];
            if with_notes {
                cells.push(Cell::text(note));
            }
            table.row(cells);
        }
        out.push_str(&table.html());
    }
    out.push_str("</section>");
}

/// The timeline in at most [`MAX_POINTS`] buckets of `step` seconds each.
struct Buckets<'a> {
    starts: Vec<u64>,
    step: u64,
    groups: Vec<&'a [Second]>,
    /// The run's length: its last second may be cut short.
    duration_s: f64,
}

impl<'a> Buckets<'a> {
    fn new(timeline: &'a [Second], duration_s: f64) -> Self {
        let step = timeline.len().div_ceil(MAX_POINTS).max(1);
        let groups: Vec<&[Second]> = timeline.chunks(step).collect();
        Self {
            starts: groups
                .iter()
                .map(|g| g.first().map_or(0, |s| s.at_s))
                .collect(),
            step: step as u64,
            groups,
            duration_s,
        }
    }

    /// The part of second `at_s` the run lasted: 1, or less for the last one (a 10.1 s
    /// run's second 10 is a tenth of a second).
    fn covered(&self, at_s: u64) -> f64 {
        let left = self.duration_s - at_s as f64;
        if left > 0.0 && left.is_finite() {
            left.min(1.0)
        } else {
            1.0
        }
    }

    /// `pick` per second in each bucket: its sum over the time the bucket's seconds
    /// covered; none for a last second too short to say (under a fifth of a second).
    fn rate(&self, pick: impl Fn(&Second) -> u64) -> Vec<Option<f64>> {
        self.groups
            .iter()
            .map(|g| {
                let covered: f64 = g.iter().map(|s| self.covered(s.at_s)).sum();
                (covered >= 0.2).then(|| g.iter().map(&pick).sum::<u64>() as f64 / covered)
            })
            .collect()
    }

    /// The largest `pick` of each bucket's seconds that have one.
    fn peak(&self, pick: impl Fn(&Second) -> Option<f64>) -> Vec<Option<f64>> {
        self.groups
            .iter()
            .map(|g| g.iter().filter_map(&pick).reduce(f64::max))
            .collect()
    }
}

fn per_second(v: f64) -> String {
    format!("{}/s", charts::number(v))
}

fn count(v: f64) -> String {
    charts::number(v)
}

fn over_time(out: &mut String, timeline: &[Second], duration_s: f64) {
    out.push_str(r#"<section id="time"><h2>Over time</h2>"#);
    if timeline.is_empty() {
        out.push_str(r#"<p class="empty">The run has no timeline.</p></section>"#);
        return;
    }
    let buckets = Buckets::new(timeline, duration_s);
    let each = if buckets.step > 1 {
        format!(
            " Each point is {} s: rates are their mean, VUs and latencies the peak second.",
            buckets.step
        )
    } else {
        String::new()
    };
    let _ = write!(
        out,
        r#"<p class="note">Per second of the run.{each} Hover or tap a point for its values.</p><div class="charts">"#
    );
    let chart = |title: &str, lines: Vec<Line>, stacked: bool, format: fn(f64) -> String| {
        time_chart(&TimeChart {
            title,
            starts: &buckets.starts,
            step: buckets.step,
            lines,
            stacked,
            format,
        })
    };
    let mut traffic = Vec::new();
    for (label, pick) in [
        (
            "requests/s",
            (|s: &Second| s.requests) as fn(&Second) -> u64,
        ),
        ("messages/s", |s| s.messages),
        ("iterations/s", |s| s.iterations),
    ] {
        if timeline.iter().any(|s| pick(s) > 0) {
            traffic.push(Line {
                label: label.to_owned(),
                values: buckets.rate(pick),
                colour: traffic.len(),
            });
        }
    }
    if traffic.is_empty() {
        traffic.push(Line {
            label: "requests/s".to_owned(),
            values: buckets.rate(|s| s.requests),
            colour: 0,
        });
    }
    card(
        out,
        "Throughput",
        chart(
            "requests, messages and iterations per second",
            traffic,
            false,
            per_second,
        ),
    );
    let mut vus = vec![Line {
        label: "VUs".to_owned(),
        values: buckets.peak(|s| Some(f64::from(s.vus))),
        colour: 0,
    }];
    if timeline.iter().any(|s| s.ws.is_some()) {
        vus.push(Line {
            label: "WebSockets open".to_owned(),
            values: buckets.peak(|s| s.ws.map(f64::from)),
            colour: 1,
        });
    }
    card(out, "Virtual users", chart("active VUs", vus, false, count));
    let total: u64 = timeline.iter().map(|s| s.errors).sum();
    if total == 0 {
        out.push_str(r#"<div class="card"><h3>Errors</h3><p class="empty">No errors.</p></div>"#);
    } else {
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for second in timeline {
            for (kind, n) in &second.errors_by_kind {
                *totals.entry(kind.as_str()).or_default() += n;
            }
        }
        let mut kinds: Vec<(&str, u64)> = totals.into_iter().collect();
        kinds.sort_by(|a, b| {
            (a.0 == OTHER_KINDS)
                .cmp(&(b.0 == OTHER_KINDS))
                .then(b.1.cmp(&a.1))
                .then(a.0.cmp(b.0))
        });
        let mut lines: Vec<Line> = kinds
            .iter()
            .enumerate()
            .map(|(i, (kind, _))| Line {
                label: (*kind).to_owned(),
                values: buckets.rate(|s| s.errors_by_kind.get(*kind).copied().unwrap_or(0)),
                colour: if *kind == OTHER_KINDS {
                    charts::OTHER
                } else {
                    i % charts::COLOURS
                },
            })
            .collect();
        let named: u64 = kinds.iter().map(|(_, n)| n).sum();
        if named < total {
            // Runs saved before the timeline kept kinds (or errors it did not name).
            lines.push(Line {
                label: if named == 0 {
                    "errors (kinds not recorded)".to_owned()
                } else {
                    "errors of no recorded kind".to_owned()
                },
                values: buckets.rate(|s| {
                    s.errors
                        .saturating_sub(s.errors_by_kind.values().sum::<u64>())
                }),
                colour: charts::OTHER,
            });
        }
        card(
            out,
            "Errors by kind",
            chart("errors per second by kind", lines, true, per_second),
        );
    }
    let latency: [(&str, Pick); 3] = [
        ("p50", |s| s.p50_ms),
        ("p95", |s| s.p95_ms),
        ("p99", |s| s.p99_ms),
    ];
    let lines = latency
        .iter()
        .enumerate()
        .map(|(i, (label, pick))| Line {
            label: (*label).to_owned(),
            values: buckets.peak(pick),
            colour: i,
        })
        .collect();
    if timeline.iter().any(|s| s.p50_ms.is_some()) {
        card(
            out,
            "Latency per second",
            chart(
                "latency percentiles per second (HTTP durations and WebSocket message latencies)",
                lines,
                false,
                charts::ms_text,
            ),
        );
    } else {
        out.push_str(r#"<div class="card"><h3>Latency per second</h3><p class="empty">No latency samples.</p></div>"#);
    }
    out.push_str("</div></section>");
}

/// A figure of one second, when it has one.
type Pick = fn(&Second) -> Option<f64>;

fn card(out: &mut String, title: &str, chart: Option<String>) {
    let _ = write!(out, r#"<div class="card"><h3>{}</h3>"#, escape(title));
    match chart {
        Some(chart) => out.push_str(&chart),
        None => out.push_str(r#"<p class="empty">Nothing to draw.</p>"#),
    }
    out.push_str("</div>");
}

/// A series' tags as a label: `browse · checkout · add_to_cart · POST 200`.
pub fn series_label(key: &SeriesKey) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !key.scenario.is_empty() {
        parts.push(key.scenario.to_string());
    }
    if let Some(group) = &key.group {
        parts.push(format!("group {group}"));
    }
    if let Some(name) = &key.name {
        parts.push(name.to_string());
    }
    if let Some(tags) = &key.response {
        let mut tag = String::new();
        if !tags.method.is_empty() {
            let _ = write!(tag, "{} {}", tags.method, tags.status);
        }
        if !tags.expected {
            tag.push_str(if tag.is_empty() { "failed" } else { " failed" });
        }
        if !tag.is_empty() {
            parts.push(tag);
        }
    }
    if parts.is_empty() {
        "all".to_owned()
    } else {
        parts.join(" · ")
    }
}

fn trends(results: &Results) -> BTreeMap<&str, Vec<(&SeriesKey, &Histogram<u64>)>> {
    let mut by_metric: BTreeMap<&str, Vec<(&SeriesKey, &Histogram<u64>)>> = BTreeMap::new();
    for (key, data) in &results.series {
        if let SeriesData::Trend(h) = data {
            by_metric.entry(&key.metric).or_default().push((key, h));
        }
    }
    by_metric
}

fn distributions(out: &mut String, results: &Results, baseline: Option<&Results>) -> bool {
    let by_metric = trends(results);
    if by_metric.is_empty() {
        return false;
    }
    out.push_str(r#"<section id="latency"><h2>Latency distribution</h2><p class="note">Each curve is a series' latency at every percentile, read from its HDR histogram: the x axis is log-scaled (0%, 90%, 99%, 99.9%…), so the tail is as wide as the body.</p><div class="charts">"#);
    // The request and message latencies first, then the rest by name.
    let mut metrics: Vec<&str> = by_metric.keys().copied().collect();
    metrics.sort_by_key(|m| {
        (
            match *m {
                "http_req_duration" => 0,
                "ws_message_latency" => 1,
                "ws_connect_time" => 2,
                _ => 3,
            },
            *m,
        )
    });
    let shown = metrics.len().min(MAX_DISTRIBUTIONS);
    for metric in &metrics[..shown] {
        let mut series = by_metric[metric].clone();
        series.retain(|(_, h)| !h.is_empty());
        series.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let mut all = crate::results::new_histogram();
        for (_, h) in &series {
            let _ = all.add(*h);
        }
        let base = baseline.and_then(|b| match b.merged(metric, |_| true) {
            Some(SeriesData::Trend(h)) if !h.is_empty() => Some(h),
            _ => None,
        });
        let mut curves: Vec<(String, &Histogram<u64>)> = Vec::new();
        if series.len() > 1 || base.is_some() {
            curves.push(("all".to_owned(), &all));
        }
        if let Some(base) = &base {
            curves.push(("all, baseline".to_owned(), base));
        }
        let room = MAX_CURVES.saturating_sub(curves.len());
        let more = series.len().saturating_sub(room);
        if series.len() > 1 || base.is_none() {
            for (key, h) in series.iter().take(room) {
                curves.push((series_label(key), *h));
            }
        }
        let _ = write!(
            out,
            r#"<div class="card"><h3><code>{}</code></h3>{}"#,
            escape(metric),
            percentile_chart(&curves)
        );
        if more > 0 {
            let _ = write!(
                out,
                r#"<p class="note">{more} more series not drawn (the smallest; they are in “all”).</p>"#
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
    if metrics.len() > shown {
        let _ = write!(
            out,
            r#"<p class="note">{} more trend metrics not drawn.</p>"#,
            metrics.len() - shown
        );
    }
    out.push_str("</section>");
    true
}

/// The figures of one histogram as table cells: count, rate, p50, p95, p99, max.
fn trend_cells(h: &Histogram<u64>, seconds: f64) -> Vec<Cell> {
    let ms = |micros: u64| format::ms(h.median_equivalent(micros) as f64 / 1000.0, Style::Document);
    if h.is_empty() {
        return vec![
            Cell::figure("0"),
            Cell::figure("-"),
            Cell::figure("-"),
            Cell::figure("-"),
            Cell::figure("-"),
            Cell::figure("-"),
        ];
    }
    vec![
        Cell::figure(h.len().to_string()),
        Cell::figure(format!(
            "{}/s",
            format::number(h.len() as f64 / seconds, Style::Document)
        )),
        Cell::figure(ms(h.value_at_quantile(0.5))),
        Cell::figure(ms(h.value_at_quantile(0.95))),
        Cell::figure(ms(h.value_at_quantile(0.99))),
        Cell::figure(ms(h.max())),
    ]
}

/// The share of failed requests among `http_req_failed`'s series passing `filter`.
fn failed_share(results: &Results, filter: impl Fn(&SeriesKey) -> bool) -> Cell {
    match results.merged("http_req_failed", filter) {
        Some(SeriesData::Rate { trues, total }) if total > 0 => Cell::figure(format::percent(
            trues as f64 / total as f64,
            Style::Document,
        )),
        _ => Cell::figure("-"),
    }
}

const TREND_HEAD: [&str; 7] = ["#Count", "#Rate", "#p50", "#p95", "#p99", "#Max", "#Failed"];

fn breakdown(out: &mut String, results: &Results) -> bool {
    let by_metric = trends(results);
    if by_metric.is_empty() {
        return false;
    }
    let seconds = results.duration.as_secs_f64().max(1e-9);
    out.push_str(r#"<section id="breakdown"><h2>Breakdown</h2><p class="note">Latencies by scenario, group and request name, then every series with its tags. “Failed” is the share of HTTP requests that failed (<code>http_req_failed</code>).</p>"#);
    type Dim = (&'static str, fn(&SeriesKey) -> Option<String>);
    let dims: [Dim; 3] = [
        ("Scenario", |k| {
            (!k.scenario.is_empty()).then(|| k.scenario.to_string())
        }),
        ("Group", |k| k.group.as_deref().map(str::to_owned)),
        ("Name", |k| k.name.as_deref().map(str::to_owned)),
    ];
    for (dim, value_of) in dims {
        let mut values: std::collections::BTreeSet<(String, &str)> = Default::default();
        for (metric, series) in &by_metric {
            for (key, _) in series {
                if let Some(value) = value_of(key) {
                    values.insert((value, metric));
                }
            }
        }
        if values.is_empty() {
            continue;
        }
        let mut head = vec![dim, "Metric"];
        head.extend(TREND_HEAD);
        let mut table = Table::new(&head).limit(MAX_ROLLUP_ROWS);
        for (value, metric) in &values {
            if table.is_full() {
                table.skip();
                continue;
            }
            let same = |k: &SeriesKey| value_of(k).as_deref() == Some(value.as_str());
            let Some(SeriesData::Trend(h)) = results.merged(metric, same) else {
                continue;
            };
            let mut row = vec![
                Cell::text(value),
                Cell::Html(format!("<code>{}</code>", escape(metric))),
            ];
            row.extend(trend_cells(&h, seconds));
            row.push(if *metric == "http_req_duration" {
                failed_share(results, same)
            } else {
                Cell::figure("-")
            });
            table.row(row);
        }
        let _ = write!(out, "<h3>By {}</h3>{}", dim.to_lowercase(), table.html());
    }
    let mut head = vec![
        "Metric", "Scenario", "Group", "Name", "Method", "Status", "Expected",
    ];
    head.extend(TREND_HEAD);
    let mut table = Table::new(&head).limit(MAX_SERIES_ROWS);
    for (metric, series) in &by_metric {
        for (key, h) in series {
            if table.is_full() {
                table.skip();
                continue;
            }
            let tags = key.response.as_ref();
            let mut row = vec![
                Cell::Html(format!("<code>{}</code>", escape(metric))),
                Cell::text(key.scenario.to_string()),
                Cell::text(key.group.as_deref().unwrap_or("")),
                Cell::text(key.name.as_deref().unwrap_or("")),
                Cell::text(tags.map_or(String::new(), |t| t.method.to_string())),
                Cell::text(
                    tags.filter(|t| !t.method.is_empty())
                        .map_or(String::new(), |t| {
                            if t.status == 0 {
                                "none".to_owned()
                            } else {
                                t.status.to_string()
                            }
                        }),
                ),
                Cell::text(tags.map_or(String::new(), |t| t.expected.to_string())),
            ];
            row.extend(trend_cells(h, seconds));
            row.push(if *metric == "http_req_duration" {
                failed_share(results, |k| {
                    k.scenario == key.scenario
                        && k.name == key.name
                        && k.group == key.group
                        && k.response == key.response
                })
            } else {
                Cell::figure("-")
            });
            table.row(row);
        }
    }
    let _ = write!(out, "<h3>Every series</h3>{}</section>", table.html());
    true
}

fn metrics(out: &mut String, report: &Report) {
    out.push_str(r#"<section id="metrics"><h2>Metrics</h2>"#);
    let d = Style::Document;
    let ms = |v: f64| format::ms(v, d);
    let mut table = Table::new(&[
        "Metric", "Kind", "#Count", "#Rate", "#p50", "#p95", "#p99", "#Max", "#Value",
    ]);
    for m in &report.metrics {
        let t = m.trend.as_ref();
        let value = match (&m.share, &m.gauge) {
            (Some(share), _) => format::percent(*share, d),
            (None, Some(g)) => format!(
                "{} (min {}, max {})",
                format::number(g.last, d),
                format::number(g.min, d),
                format::number(g.max, d)
            ),
            _ => String::new(),
        };
        table.row(vec![
            Cell::Html(format!("<code>{}</code>", escape(&m.name))),
            Cell::text(&m.kind),
            Cell::figure(if m.kind == "gauge" {
                String::new()
            } else {
                m.count.to_string()
            }),
            Cell::figure(
                m.rate
                    .map_or(String::new(), |r| format!("{}/s", format::number(r, d))),
            ),
            Cell::figure(t.map_or(String::new(), |t| ms(t.med))),
            Cell::figure(t.map_or(String::new(), |t| ms(t.p95))),
            Cell::figure(t.map_or(String::new(), |t| ms(t.p99))),
            Cell::figure(t.map_or(String::new(), |t| ms(t.max))),
            Cell::figure(value),
        ]);
    }
    out.push_str(&table.html());
    if let Some(base) = &report.baseline {
        let _ = write!(
            out,
            r#"<h3 id="baseline">Compared with the baseline</h3><p class="note">The baseline run: {} · {}{}{} · {}. Change is this run against it; for latencies and failures, lower is better.</p>"#,
            escape(base.file_name.as_deref().unwrap_or(&base.started)),
            escape(&base.stage),
            base.env
                .as_deref()
                .map(|e| format!(" · {}", escape(e)))
                .unwrap_or_default(),
            base.git_commit
                .as_deref()
                .map(|c| format!(" · <code>{}</code>", escape(c.get(..12).unwrap_or(c))))
                .unwrap_or_default(),
            if base.passed { "passed" } else { "failed" }
        );
        let mut table = Table::new(&["Metric", "Figure", "#This run", "#Baseline", "#Change"]);
        for m in &report.metrics {
            let (Some(base), Some(delta)) = (&m.baseline, &m.delta) else {
                continue;
            };
            let mut rows: Vec<(&str, String, String, Option<f64>)> = Vec::new();
            if let (Some(now), Some(then)) = (&m.trend, &base.trend) {
                rows.push(("p50", ms(now.med), ms(then.med), delta.med));
                rows.push(("p95", ms(now.p95), ms(then.p95), delta.p95));
                rows.push(("p99", ms(now.p99), ms(then.p99), delta.p99));
            }
            if let (Some(now), Some(then)) = (m.rate, base.rate) {
                rows.push((
                    "rate",
                    format!("{}/s", format::number(now, d)),
                    format!("{}/s", format::number(then, d)),
                    delta.rate,
                ));
            }
            if let (Some(now), Some(then)) = (m.share, base.share) {
                rows.push((
                    "share",
                    format::percent(now, d),
                    format::percent(then, d),
                    delta.share,
                ));
            }
            for (figure, now, then, change) in rows {
                table.row(vec![
                    Cell::Html(format!("<code>{}</code>", escape(&m.name))),
                    Cell::text(figure),
                    Cell::figure(now),
                    Cell::figure(then),
                    Cell::figure(change.map_or_else(|| "n/a".to_owned(), format::delta)),
                ]);
            }
        }
        if table.is_empty() {
            out.push_str(r#"<p class="empty">No metric of this run is in the baseline.</p>"#);
        } else {
            out.push_str(&table.html());
        }
    }
    out.push_str("</section>");
}

fn errors(out: &mut String, report: &Report) -> bool {
    let run = &report.run;
    if run.errors.is_empty() {
        return false;
    }
    let _ = write!(
        out,
        r#"<section id="errors"><h2>Errors</h2><p class="note">{} errors by kind; the examples are the first distinct texts the server or system gave, with secrets redacted.</p>"#,
        run.error_count
    );
    let mut kinds: Vec<(&String, &u64)> = run.errors.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut table = Table::new(&["Kind", "#Count", "#Share", "Examples"]).limit(MAX_ERROR_KINDS);
    for (kind, n) in kinds {
        let examples = run
            .error_examples
            .get(kind)
            .map(|examples| {
                examples
                    .iter()
                    .map(|e| format!("<code>{}</code>", escape(e)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default();
        table.row(vec![
            Cell::Html(format!("<code>{}</code>", escape(kind))),
            Cell::figure(n.to_string()),
            Cell::figure(format::percent(
                *n as f64 / run.error_count.max(1) as f64,
                Style::Document,
            )),
            Cell::Html(examples),
        ]);
    }
    out.push_str(&table.html());
    out.push_str("</section>");
    true
}

fn server(out: &mut String, report: &Report) -> bool {
    if report.server.is_empty() && report.sources.is_empty() && report.derived.is_empty() {
        return false;
    }
    out.push_str(r#"<section id="server"><h2>Server-side and derived metrics</h2>"#);
    if !report.server.is_empty() {
        let mut table =
            Table::new(&["Metric", "Kind", "#Samples", "Figures"]).limit(MAX_SERVER_ROWS);
        for m in &report.server {
            table.row(vec![
                Cell::Html(format!("<code>{}</code>", escape(&m.name))),
                Cell::text(m.kind.as_deref().unwrap_or("missing")),
                Cell::figure(m.samples.to_string()),
                Cell::text(&m.figures),
            ]);
        }
        let _ = write!(out, "<h3>Collected</h3>{}", table.html());
    }
    if !report.sources.is_empty() {
        let mut table = Table::new(&["Source", "Kind", "#Samples", "#Failed", "Last error"])
            .limit(MAX_SERVER_ROWS);
        for s in &report.sources {
            table.row(vec![
                Cell::text(&s.name),
                Cell::text(&s.kind),
                Cell::figure(s.samples.to_string()),
                Cell::figure(s.failed.to_string()),
                Cell::text(s.error.as_deref().unwrap_or("")),
            ]);
        }
        let _ = write!(out, "<h3>Sources</h3>{}", table.html());
    }
    if !report.derived.is_empty() {
        let mut table =
            Table::new(&["Derived", "Expression", "#Value", "Why n/a"]).limit(MAX_SERVER_ROWS);
        for d in &report.derived {
            table.row(vec![
                Cell::Html(format!("<code>{}</code>", escape(&d.name))),
                Cell::Html(format!("<code>{}</code>", escape(&d.expression))),
                Cell::figure(&d.value_text),
                Cell::text(if d.value.is_none() {
                    d.reason.as_deref().unwrap_or("")
                } else {
                    ""
                }),
            ]);
        }
        let _ = write!(out, "<h3>Derived</h3>{}", table.html());
    }
    out.push_str("</section>");
    true
}

fn phases(out: &mut String, results: &Results) -> bool {
    if results.phases.is_empty() {
        return false;
    }
    let mut table = Table::new(&["Phase", "#Duration", "Outcome"]).limit(MAX_ROLLUP_ROWS);
    for phase in &results.phases {
        table.row(vec![
            Cell::text(&phase.phase),
            Cell::figure(format::duration(phase.duration_s)),
            Cell::Html(match &phase.error {
                None => badge("pass", "passed"),
                Some(error) => format!("{} {}", badge("fail", "failed"), escape(error)),
            }),
        ]);
    }
    let _ = write!(
        out,
        r#"<section id="phases"><h2>Setup and teardown</h2>{}</section>"#,
        table.html()
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_outside_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
        let page = page("a <b>", "<p>body</p>");
        assert!(page.contains("<title>a &lt;b&gt;</title>"));
        assert!(page.contains("<p>body</p>"));
        assert!(!page.contains("http://") || !page.contains("src=\"http"));
    }

    #[test]
    fn buckets_keep_the_timeline_bounded() {
        let timeline: Vec<Second> = (0..3600)
            .map(|at_s| Second {
                at_s,
                requests: 10,
                ..Second::default()
            })
            .collect();
        let buckets = Buckets::new(&timeline, 3600.0);
        assert_eq!(buckets.step, 10);
        assert_eq!(buckets.starts.len(), 360);
        assert!(
            buckets
                .rate(|s| s.requests)
                .iter()
                .all(|v| *v == Some(10.0))
        );
        // A 4.5 s run: its second 4 lasted half a second; a 4.1 s run's too little.
        let short = Buckets::new(&timeline[..5], 4.5);
        assert_eq!((short.step, short.starts.len()), (1, 5));
        assert_eq!(short.rate(|s| s.requests)[4], Some(20.0));
        let shorter = Buckets::new(&timeline[..5], 4.1);
        assert_eq!(shorter.rate(|s| s.requests)[4], None);
        assert_eq!(shorter.rate(|s| s.requests)[3], Some(10.0));
    }
}
