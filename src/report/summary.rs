//! The terminal summary: a line per metric and a pass/fail line per threshold.

use std::io::{self, Write};

use super::Figures;
use super::format::{self, Style};
use super::model::RunResult;
use crate::results::Results;
use crate::server::ServerKind;
use crate::verdict::{Status, Verdict};

/// The summary's width when neither stdout nor stderr is a terminal and `COLUMNS` is not
/// set (or not a number).
pub const DEFAULT_WIDTH: usize = 100;

/// The width the summary and `loadplan compare` fit: `COLUMNS`, else the terminal's
/// (stdout's, else stderr's), else [`DEFAULT_WIDTH`]. The one place either reads its
/// surroundings.
pub fn terminal_width() -> usize {
    let terminal = [console::Term::stdout(), console::Term::stderr()]
        .iter()
        .find_map(console::Term::size_checked)
        .map(|(_, columns)| columns);
    width_from(terminal, std::env::var("COLUMNS").ok().as_deref())
}

/// [`terminal_width`] from what it read: `COLUMNS` (a positive number: what the user
/// asked for, as clap and most tools read it) wins, then a terminal's columns, then
/// [`DEFAULT_WIDTH`].
fn width_from(terminal: Option<u16>, columns: Option<&str>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
        .or_else(|| terminal.map(usize::from).filter(|&w| w > 0))
        .unwrap_or(DEFAULT_WIDTH)
}

/// Which families of built-in metrics the plan's steps can record: an HTTP-only plan
/// never has WebSocket figures, so its summary leaves out `ws_*` rows that have no
/// samples (the collector keeps `ws_connections_active` at 0 for every run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Producible {
    /// A `request` step somewhere (scenarios, setup, teardown): `http_*`.
    pub http: bool,
    /// A `connect` or `reconnect` step: `ws_*`, `broadcast_*`.
    pub websocket: bool,
}

impl Producible {
    /// Every family: when the plan is not known.
    pub const ALL: Self = Self {
        http: true,
        websocket: true,
    };

    /// What `plan`'s steps can record.
    pub fn of(plan: &crate::plan::model::Plan) -> Self {
        use crate::plan::step::{Step, any_step};
        let lists = plan
            .scenarios
            .values()
            .map(|scenario| scenario.steps.as_slice())
            .chain(plan.setup.iter().map(|phase| phase.steps()))
            .chain(plan.teardown.iter().map(|phase| phase.steps()));
        let mut producible = Self {
            http: false,
            websocket: false,
        };
        for steps in lists {
            producible.http |= any_step(steps, &|step| matches!(step, Step::Request(_)));
            producible.websocket |= any_step(steps, &|step| {
                matches!(step, Step::Connect(_) | Step::Reconnect(_))
            });
        }
        producible
    }

    /// Whether a metric of this name can have samples in this plan's runs (custom and
    /// run-wide metrics always can).
    fn can(self, metric: &str) -> bool {
        if metric.starts_with("http_") {
            self.http
        } else if metric.starts_with("ws_") || metric.starts_with("broadcast_") {
            self.websocket
        } else {
            true
        }
    }

    /// Counters the plan can produce that are worth a `0` row when nothing was counted.
    fn zero_rows(self) -> Vec<&'static str> {
        let mut rows = vec!["errors"];
        if self.websocket {
            rows.push("ws_connect_errors");
        }
        rows
    }
}

/// What the summary's heading says about the run.
pub struct Heading<'a> {
    pub plan: &'a str,
    pub env: Option<&'a str>,
    pub stage: &'a str,
    pub seconds: f64,
    pub vus_max: u32,
    /// The run compared with (`compared with results/….json (started …, commit …)`), or
    /// why there is none, when the plan asks for one.
    pub baseline: Option<String>,
    /// The columns every line fits in ([`terminal_width`]).
    pub width: usize,
    /// Which metrics the plan can produce; rows of others without samples are left out.
    pub producible: Producible,
}

/// The server section: each collected metric's figures, sources that failed, and the
/// derived metrics.
fn server<W: Write>(out: &mut W, results: &Results) -> io::Result<()> {
    if !results.server.is_empty() {
        writeln!(out, "\n  server")?;
    }
    // As wide as the longest name, up to 48: the figures after it keep more of a narrow
    // terminal.
    let name_width = results
        .server
        .keys()
        .map(|name| console::measure_text_width(name))
        .max()
        .unwrap_or(0)
        .min(48);
    for (name, metric) in &results.server {
        let pair = |label: &str, value: Option<f64>| {
            value.map(|v| format!("{label} {}", format::figure(v)))
        };
        let parts: Vec<String> = match metric.kind {
            None => vec![format!(
                "missing: {}",
                metric.missing.as_deref().unwrap_or("no samples")
            )],
            Some(ServerKind::Counter) => vec![
                pair("delta", metric.delta),
                metric.rate.map(|r| format!("rate {}/s", format::figure(r))),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Some(ServerKind::Gauge) => [
                ("avg", metric.avg),
                ("min", metric.min),
                ("max", metric.max),
                ("start", metric.start),
                ("end", metric.end),
            ]
            .into_iter()
            .filter_map(|(l, v)| pair(l, v))
            .collect(),
            Some(ServerKind::Histogram | ServerKind::Summary) => [
                ("count", metric.count),
                ("avg", metric.avg),
                ("p50", metric.p50),
                ("p95", metric.p95),
                ("p99", metric.p99),
            ]
            .into_iter()
            .filter_map(|(l, v)| pair(l, v))
            .collect(),
        };
        let kind = metric.kind.map_or("", ServerKind::name);
        writeln!(
            out,
            "    {} {kind:<9} {}",
            format_args!("{:<name_width$}", fit_name(name, name_width)),
            parts.join("  ")
        )?;
    }
    let failing: Vec<_> = results
        .sources
        .iter()
        .filter(|(_, s)| s.failed > 0)
        .collect();
    if !failing.is_empty() {
        writeln!(out, "\n  sources with failed samples")?;
        for (name, source) in failing {
            writeln!(
                out,
                "    {name:<20} {:<10} {} of {} samples failed: {}",
                source.kind,
                source.failed,
                source.failed + source.samples,
                source.error.as_deref().unwrap_or("unknown error")
            )?;
        }
    }
    if !results.derived.is_empty() {
        writeln!(out, "\n  derived")?;
        for derived in &results.derived {
            let value = match (derived.value, &derived.reason) {
                (Some(value), _) => format::figure(value),
                (None, Some(reason)) => format!("n/a ({reason})"),
                (None, None) => "n/a".to_owned(),
            };
            writeln!(
                out,
                "    {:<36} {value:<14} = {}",
                derived.name, derived.expression
            )?;
        }
    }
    Ok(())
}

/// The realised share of each step's `chance:` and `if:` (`step_chance`, `step_if` by
/// scenario and `name`): their totals over all steps, in the table above, mix steps of
/// different odds.
fn guards<W: Write>(out: &mut W, results: &Results, width: usize) -> io::Result<()> {
    // Room for the series name beside `{trues:>9} of {total:<9} {share}`.
    let name_width = width.saturating_sub(4 + 30).clamp(12, 44);
    let mut lines = Vec::new();
    for (key, data) in &results.series {
        if !matches!(&*key.metric, "step_chance" | "step_if") {
            continue;
        }
        let crate::results::SeriesData::Rate { trues, total } = data else {
            continue;
        };
        let share = if *total == 0 {
            0.0
        } else {
            *trues as f64 / *total as f64
        };
        let name = key.name.as_deref().unwrap_or("-");
        lines.push(format!(
            "    {:<name_width$} {:>9} of {:<9} {}",
            fit_name(
                &format!("{}{{scenario:{}, name:{name}}}", key.metric, key.scenario),
                name_width
            ),
            trues,
            total,
            format::percent(share, Style::Terminal)
        ));
    }
    if !lines.is_empty() {
        writeln!(out, "\n  steps run (chance: drawn, if: held)")?;
        for line in lines {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Writes the summary to `out` (the terminal), every line at most `heading.width`
/// columns: the table drops columns that do not fit (the least read first), long names
/// are cut with `…`, and any line still too long is cut at the width.
pub fn write<W: Write>(
    out: &mut W,
    heading: &Heading<'_>,
    figures: &[Figures],
    verdict: &Verdict,
    results: &Results,
) -> io::Result<()> {
    let mut text = Vec::new();
    write_unfitted(&mut text, heading, figures, verdict, results)?;
    let text = String::from_utf8_lossy(&text);
    for line in text.split_inclusive('\n') {
        let (line, newline) = match line.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (line, ""),
        };
        write!(out, "{}{newline}", fit(line, heading.width))?;
    }
    Ok(())
}

/// What a live output's sending came to: `prometheus URL: 12 requests sent, 0 failed, 0
/// samples dropped`, then whether the final flush gave up and the last failure.
pub fn delivery_line(delivery: &crate::results::Delivery) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(
        "{} {}: {} sent, {} failed, {} dropped",
        delivery.kind,
        delivery.url,
        plural(delivery.requests, "request", "requests"),
        delivery.failed,
        plural(delivery.dropped, "sample", "samples"),
    );
    if delivery.retries > 0 {
        line += &format!(" ({})", plural(delivery.retries, "retry", "retries"));
    }
    if !delivery.flushed {
        line += "; the final flush gave up";
    }
    if let Some(error) = &delivery.error {
        line += &format!("; last error: {error}");
    }
    line
}

/// `text` cut to `width` columns with `…` at the end when it is longer (trailing spaces
/// first dropped).
fn fit(text: &str, width: usize) -> std::borrow::Cow<'_, str> {
    let text = text.trim_end();
    if console::measure_text_width(text) <= width {
        return text.into();
    }
    console::truncate_str(text, width, if width == 0 { "" } else { "…" })
}

/// A metric or series name in `width` columns: as it is when it fits; else the part
/// before `{` is cut with `…` so the tags stay readable (`http_req_dur…{name:items}`);
/// else the whole is cut.
fn fit_name(name: &str, width: usize) -> String {
    if console::measure_text_width(name) <= width {
        return name.to_owned();
    }
    if let Some(brace) = name.find('{') {
        let (metric, tags) = name.split_at(brace);
        let tags_width = console::measure_text_width(tags);
        if tags_width + 4 <= width {
            return format!("{}{tags}", fit(metric, width - tags_width));
        }
    }
    fit(name, width).into_owned()
}

/// `text` in lines of at most `width` columns, broken at spaces (a word longer than the
/// width is left whole, for the final cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let Some(line) = lines.last_mut() else {
            break;
        };
        let used = console::measure_text_width(line);
        if used > 0 && used + 1 + console::measure_text_width(word) > width {
            lines.push(word.to_owned());
        } else {
            if used > 0 {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// The trend table's figure columns, in the order they are shown.
const COLUMNS: [&str; 9] = [
    "count", "rate", "min", "avg", "med", "p90", "p95", "p99", "max",
];

/// Columns kept at any width, then the others in the order they are added while they
/// fit (k6 too keeps avg and the tail: at 80 columns count, avg, p95, p99 and max).
const KEPT: [&str; 5] = ["count", "avg", "p95", "p99", "max"];
const ADDED: [&str; 4] = ["rate", "med", "p90", "min"];

/// The metric rows: the figures the plan can produce (a metric of a family the plan has
/// no step for is left out unless it has samples), with `0` rows for the counters the
/// plan can produce that counted nothing (`errors`), in name order.
fn rows(figures: &[Figures], producible: Producible) -> Vec<Figures> {
    let has_samples =
        |f: &Figures| f.count > 0 || f.gauge.is_some_and(|g| g.iter().any(|v| *v != 0.0));
    let mut rows: Vec<Figures> = figures
        .iter()
        .filter(|f| producible.can(&f.metric) || has_samples(f))
        .cloned()
        .collect();
    for metric in producible.zero_rows() {
        if !rows.iter().any(|f| f.metric == metric) {
            rows.push(Figures {
                metric: metric.to_owned(),
                kind: "counter".to_owned(),
                count: 0,
                rate: Some(0.0),
                trend: None,
                share: None,
                gauge: None,
            });
        }
    }
    rows.sort_by(|a, b| a.metric.cmp(&b.metric));
    rows
}

/// The metric table, fitted to `width`.
fn table<W: Write>(out: &mut W, rows: &[Figures], width: usize) -> io::Result<()> {
    let cells: Vec<Option<[String; 9]>> = rows
        .iter()
        .map(|f| {
            f.trend.as_ref().map(|t| {
                let ms = |v: f64| format::ms(v, Style::Terminal);
                [
                    f.count.to_string(),
                    f.rate.map_or(String::new(), format::per_second),
                    ms(t.min),
                    ms(t.avg),
                    ms(t.med),
                    ms(t.p90),
                    ms(t.p95),
                    ms(t.p99),
                    ms(t.max),
                ]
            })
        })
        .collect();
    // Each column as wide as its widest cell (the counts and rates of every row), and
    // at least as wide as `25.16ms`, so that columns stay apart.
    let mut widths = [7; 9];
    for row in cells.iter().flatten() {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(console::measure_text_width(cell));
        }
    }
    for f in rows {
        widths[0] = widths[0].max(f.count.to_string().len());
        if f.trend.is_none() && f.share.is_none() {
            widths[1] = widths[1].max(f.rate.map_or(0, |r| format::per_second(r).len()));
        }
    }
    let index = |name: &str| COLUMNS.iter().position(|c| *c == name).unwrap_or(0);
    let kept: usize = KEPT.iter().map(|c| 1 + widths[index(c)]).sum();
    let longest = rows
        .iter()
        .map(|f| console::measure_text_width(&f.metric))
        .fold("metric".len(), usize::max);
    let name_width = longest.min(width.saturating_sub(2 + kept).max(12));
    let mut room = width.saturating_sub(2 + name_width + kept);
    let mut shown: Vec<bool> = COLUMNS.iter().map(|c| KEPT.contains(c)).collect();
    for column in ADDED {
        let i = index(column);
        if widths[i] < room {
            room -= 1 + widths[i];
            shown[i] = true;
        }
    }
    let line = |name: &str, cells: &[String]| {
        let mut line = format!("  {:<name_width$}", fit_name(name, name_width));
        for (i, cell) in cells.iter().enumerate().filter(|(i, _)| shown[*i]) {
            line.push_str(&format!(" {cell:>w$}", w = widths[i]));
        }
        line
    };
    let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    writeln!(out, "{}", line("metric", &header))?;
    let (count_width, rate_width) = (widths[0], widths[1]);
    for (f, cells) in rows.iter().zip(&cells) {
        let name = fit_name(&f.metric, name_width);
        let rate = f.rate.map_or(String::new(), format::per_second);
        // The rate column, or the rate after the count when that column was dropped.
        let after_count = |text: &str| {
            if shown[1] {
                format!(" {text:>rate_width$}")
            } else {
                format!(" {text}")
            }
        };
        let text = match (cells, f.share, f.gauge) {
            (Some(cells), _, _) => line(&f.metric, cells),
            (None, Some(share), _) => format!(
                "  {name:<name_width$} {:>count_width$}{} {} true",
                f.count,
                if shown[1] {
                    " ".repeat(rate_width + 1)
                } else {
                    String::new()
                },
                format::percent(share, Style::Terminal)
            ),
            (None, None, Some([last, min, max])) => format!(
                "  {name:<name_width$} {:>count_width$}{} last {}, min {}, max {}",
                "",
                if shown[1] {
                    " ".repeat(rate_width + 1)
                } else {
                    String::new()
                },
                format::figure(last),
                format::figure(min),
                format::figure(max)
            ),
            (None, None, None) => format!(
                "  {name:<name_width$} {:>count_width$}{}",
                f.count,
                after_count(&rate)
            ),
        };
        writeln!(out, "{text}")?;
    }
    Ok(())
}

/// The summary's lines before they are fitted to the width.
fn write_unfitted<W: Write>(
    out: &mut W,
    heading: &Heading<'_>,
    figures: &[Figures],
    verdict: &Verdict,
    results: &Results,
) -> io::Result<()> {
    let errors = &results.errors;
    writeln!(
        out,
        "\n{} · env {} · stage {} · {} · {} VUs max\n",
        heading.plan,
        heading.env.unwrap_or("-"),
        heading.stage,
        format::elapsed(heading.seconds),
        heading.vus_max
    )?;
    if let Some(baseline) = &heading.baseline {
        writeln!(out, "  {baseline}\n")?;
    }
    table(out, &rows(figures, heading.producible), heading.width)?;
    guards(out, results, heading.width)?;
    if !results.phases.is_empty() {
        writeln!(out, "\n  phases")?;
        for phase in &results.phases {
            let how = phase
                .error
                .as_deref()
                .map_or_else(|| "ok".to_owned(), |error| format!("failed: {error}"));
            writeln!(
                out,
                "  {:<30} {:>9.3}s  {how}",
                phase.phase, phase.duration_s
            )?;
        }
    }
    if !results.deliveries.is_empty() {
        writeln!(out)?;
        for delivery in &results.deliveries {
            // Wrapped rather than cut: its end says whether the last figures arrived.
            for (i, line) in wrap(&delivery_line(delivery), heading.width.saturating_sub(4))
                .iter()
                .enumerate()
            {
                writeln!(out, "{}{line}", if i == 0 { "  " } else { "    " })?;
            }
        }
    }
    if !errors.is_empty() {
        writeln!(out, "\n  errors")?;
        for (kind, tally) in errors.iter() {
            writeln!(out, "    {:>8}  {kind}", tally.count)?;
            for example in &tally.examples {
                // Wrapped rather than cut: the example is what says what went wrong.
                let indent = " ".repeat(19);
                for (i, line) in wrap(example, heading.width.saturating_sub(19))
                    .iter()
                    .enumerate()
                {
                    let lead = if i == 0 {
                        "              e.g. "
                    } else {
                        &indent
                    };
                    writeln!(out, "{lead}{line}")?;
                }
            }
        }
    }
    server(out, results)?;
    let partial = results.stopped_early.is_some();
    let result = RunResult::of(verdict.passed(), partial, verdict.outcomes.len());
    if !verdict.outcomes.is_empty() {
        writeln!(out, "\n  thresholds")?;
        for outcome in &verdict.outcomes {
            let mark = match outcome.status {
                Status::Skipped { .. } => "-",
                Status::Passed => "✓",
                Status::Failed { .. } => "✗",
            };
            let value = match (outcome.value, outcome.status.reason()) {
                (_, Some(reason)) => reason.to_string(),
                (Some(value), None) => {
                    format::threshold(Some(value), outcome.unit, Style::Terminal)
                }
                (None, None) => String::new(),
            };
            writeln!(
                out,
                "    {mark} {:<36} {:<24} {value}",
                outcome.key, outcome.check
            )?;
        }
        let failed = verdict
            .outcomes
            .iter()
            .filter(|o| !o.status.passed())
            .count();
        writeln!(
            out,
            "\n  {} of {} thresholds passed{} — {}",
            verdict.outcomes.len() - failed,
            verdict.outcomes.len(),
            skipped_note(verdict),
            result.text(partial)
        )?;
    } else {
        writeln!(
            out,
            "\n  no thresholds: nothing was judged{}",
            if partial { " — ⚠ Partial" } else { "" }
        )?;
    }
    Ok(())
}

/// ` (2 skipped: no baseline yet)`, ` (3 skipped: 1 no baseline yet, 2 scenarios not run)`:
/// the skipped thresholds counted by why, or nothing when none was skipped.
fn skipped_note(verdict: &Verdict) -> String {
    use crate::verdict::Reason;
    let (mut no_baseline, mut not_run, mut segment) = (0, 0, 0);
    for outcome in verdict.outcomes.iter().filter(|o| o.status.skipped()) {
        match outcome.status.reason() {
            Some(Reason::ScenarioNotRun(_)) => not_run += 1,
            Some(Reason::Segment) => segment += 1,
            _ => no_baseline += 1,
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if segment > 0 {
        return format!(" ({segment} skipped: judged by loadplan merge on the whole run)");
    }
    match (no_baseline, not_run) {
        (0, 0) => String::new(),
        (n, 0) => format!(" ({n} skipped: no baseline yet)"),
        (0, n) => format!(" ({n} skipped: scenario{} not run)", plural(n)),
        (b, n) => format!(
            " ({} skipped: {b} no baseline yet, {n} scenario{} not run)",
            b + n,
            plural(n)
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::plan::ThresholdRule;
    use crate::plan::threshold::{parse_check, parse_selector};
    use crate::results::{Sample, Series, SeriesKey};

    fn rule(key: &str, check: &str) -> ThresholdRule {
        let selector = parse_selector(key).unwrap();
        ThresholdRule {
            key: key.into(),
            kind: crate::plan::metric::builtin(&selector.metric).unwrap(),
            selector,
            source: check.into(),
            check: parse_check(check).unwrap(),
            abort_on_fail: false,
            delay_abort: None,
        }
    }

    #[test]
    fn wrap_breaks_at_spaces_within_the_width() {
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
        assert_eq!(wrap("abcdefgh ij", 4), ["abcdefgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
    }

    #[test]
    fn names_are_cut_keeping_their_tags() {
        assert_eq!(fit_name("http_req_duration", 20), "http_req_duration");
        assert_eq!(
            fit_name("step_chance_long_metric{name:items}", 24),
            "step_chance…{name:items}"
        );
        assert_eq!(fit_name("a{very_long_tag:value}", 8), "a{very_…");
        assert_eq!(fit("héllo wörld  ", 5), "héll…");
        assert_eq!(fit("abc", 0), "");
    }

    #[test]
    fn the_width_comes_from_the_terminal_then_columns() {
        assert_eq!(width_from(Some(132), Some("80")), 80);
        assert_eq!(width_from(Some(132), None), 132);
        assert_eq!(width_from(None, Some("80")), 80);
        assert_eq!(width_from(None, Some(" 90 ")), 90);
        assert_eq!(width_from(None, Some("wide")), DEFAULT_WIDTH);
        assert_eq!(width_from(None, Some("0")), DEFAULT_WIDTH);
        assert_eq!(width_from(None, None), DEFAULT_WIDTH);
    }

    #[test]
    fn threshold_lines_show_the_figure_in_its_unit() {
        let mut results = Results {
            duration: Duration::from_secs(10),
            ..Results::default()
        };
        let key = |metric: &str| {
            SeriesKey::from(Series {
                metric: metric.into(),
                scenario: "s".into(),
                name: None,
                group: None,
                response: None,
            })
        };
        for ms in [1, 2, 1500] {
            let sample = Sample::Trend(key("http_req_duration"), Duration::from_millis(ms));
            results.record(sample);
        }
        for failed in [true, false, false, false] {
            results.record(Sample::Rate(key("http_req_failed"), failed));
        }
        let rules = [
            rule("http_req_duration", "max < 2s"),
            rule("http_req_failed", "rate < 0.2"),
            rule("http_req_duration", "count == 3"),
            rule("http_req_duration", "p95 < baseline * 1.2"),
        ];
        let mut verdict = crate::verdict::judge(&rules, &results, None);
        verdict.skip_missing_baseline();
        let heading = Heading {
            plan: "p",
            env: None,
            stage: "smoke",
            seconds: 10.0,
            vus_max: 1,
            baseline: None,
            width: 120,
            producible: Producible::ALL,
        };
        let mut out = Vec::new();
        write(&mut out, &heading, &[], &verdict, &results).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("    ")).collect();
        let ends = [
            "1.50s",
            "25.00%",
            " 3",
            "skipped: no earlier run to compare with yet",
        ];
        for (line, end) in lines.iter().zip(ends) {
            assert!(line.ends_with(end), "{line:?} should end with {end:?}");
        }
        assert!(lines[0].starts_with("    ✓"), "{}", lines[0]);
        assert!(lines[1].starts_with("    ✗"), "{}", lines[1]);
        assert!(lines[3].starts_with("    -"), "{}", lines[3]);
        assert!(
            text.contains("3 of 4 thresholds passed (1 skipped: no baseline yet) — ❌ Fail"),
            "{text}"
        );
    }

    /// A run that stopped early never reads as a pass, with thresholds or without.
    #[test]
    fn a_partial_run_is_marked_partial() {
        let mut results = Results::default();
        let key = SeriesKey::from(Series {
            metric: "http_req_failed".into(),
            scenario: "s".into(),
            name: None,
            group: None,
            response: None,
        });
        results.record(Sample::Rate(key, false));
        results.stopped_early = Some("interrupted (SIGINT)".to_owned());
        let heading = Heading {
            plan: "p",
            env: None,
            stage: "smoke",
            seconds: 1.0,
            vus_max: 1,
            baseline: Some("baseline: none, no earlier complete run".to_owned()),
            width: 120,
            producible: Producible::ALL,
        };
        let rules = [rule("http_req_failed", "rate < 0.2")];
        for (rules, line) in [
            (&rules[..], "1 of 1 thresholds passed — ⚠ Partial"),
            (&[][..], "no thresholds: nothing was judged — ⚠ Partial"),
        ] {
            let verdict = crate::verdict::judge(rules, &results, None);
            let mut out = Vec::new();
            write(&mut out, &heading, &[], &verdict, &results).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(line), "{text}");
            assert!(!text.contains("Pass"), "{text}");
            assert!(
                text.contains("  baseline: none, no earlier complete run\n"),
                "{text}"
            );
        }
    }
}
