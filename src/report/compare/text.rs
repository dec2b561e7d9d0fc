//! A [`Comparison`] as text: the terminal table, sized to a width, and GitHub Markdown.
//!
//! The terminal table has a name column, the figure, then per run its value and, for each
//! later run, the change against the reference and its mark. When it does not fit the
//! width it gives up, in this order: the name column down to 24 characters (cut with `…`),
//! long marks for one-character ones (`✓ ✗ = ~`, with a legend), the values of the later
//! runs (the changes stay), then the name column down to 12 characters; a line that still
//! does not fit is cut at the width.

use std::fmt::Write as _;

use super::{Comparison, Judged, Mark, Row, RowUnit, Section, ThresholdRow, status_word};
use crate::report::format::{self, Style};

/// The narrowest table drawn; a narrower terminal gets lines cut at its width.
const NARROWEST: usize = 20;

/// The shortest the name column gets before lines are cut.
const NAME_MIN: usize = 12;

/// The name column is cut down to this before columns are dropped.
const NAME_SOFT: usize = 24;

/// A value in its unit; `—` when the run has none.
fn value(value: Option<f64>, unit: RowUnit, style: Style) -> String {
    let Some(value) = value else {
        return "—".to_owned();
    };
    match unit {
        RowUnit::Millis => format::ms(value, style),
        RowUnit::Share => format::percent(value, style),
        RowUnit::PerSecond => match style {
            Style::Terminal => format::per_second(value),
            Style::Document => format!("{}/s", format::number(value, style)),
        },
        RowUnit::Count => format::number(value, style),
        RowUnit::Plain => format::figure(value),
    }
}

/// A change: `+12.5%`, `±0.0%`, `+∞%` from 0; empty without both values.
fn change(change: Option<f64>) -> String {
    match change {
        None => String::new(),
        Some(c) if c == f64::INFINITY => "+∞%".to_owned(),
        Some(c) if c == f64::NEG_INFINITY => "-∞%".to_owned(),
        Some(c) => format::delta(c),
    }
}

/// A mark in words (`short`: one character), for run `i` of `runs`.
fn mark(mark: Mark, i: usize, comparison: &Comparison, short: bool) -> String {
    let two = comparison.runs.len() == 2;
    let letter = |i: usize| {
        comparison
            .runs
            .get(i)
            .map_or_else(String::new, |r| r.letter.clone())
    };
    let reference = letter(0);
    let this = letter(i);
    match (mark, short) {
        (Mark::Same, false) => "same".into(),
        (Mark::Same, true) => "=".into(),
        (Mark::Better, false) => "better".into(),
        (Mark::Better, true) => "✓".into(),
        (Mark::Worse, false) => "worse".into(),
        (Mark::Worse, true) => "✗".into(),
        (Mark::Changed, false) => "changed".into(),
        (Mark::Changed, true) => "~".into(),
        (Mark::OnlyReference, true) => "gone".into(),
        (Mark::NotInReference, true) => "new".into(),
        (Mark::OnlyReference, _) if two => format!("only in {reference}"),
        (Mark::OnlyReference, _) => format!("not in {this}"),
        (Mark::NotInReference, _) if two => format!("only in {this}"),
        (Mark::NotInReference, _) => format!("not in {reference}"),
        (Mark::Absent, _) => String::new(),
    }
}

/// A threshold's outcome in a cell: `pass 12.3ms`, `FAIL 250ms`, `—`.
fn judged(judged: Option<&Judged>, row: &ThresholdRow, style: Style) -> String {
    let Some(judged) = judged else {
        return "—".to_owned();
    };
    match judged.value {
        Some(v) => format!(
            "{} {}",
            status_word(judged),
            format::threshold(Some(v), row.unit, style)
        ),
        None => status_word(judged).to_owned(),
    }
}

/// The name cell of a row: the metric on its first figure, a series indented under it.
fn name_cell(row: &Row, previous: Option<&Row>) -> String {
    let same_group = previous.is_some_and(|p| {
        p.metric == row.metric && p.series == row.series && p.section == row.section
    });
    if same_group {
        return String::new();
    }
    match &row.series {
        Some(series) => format!("  {series}"),
        None => row.metric.clone(),
    }
}

/// The columns `text` takes on a terminal (a CJK character two, a combining mark none).
fn width_of(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` cut to `width` columns, ending in `…` when cut.
fn cut(text: &str, width: usize) -> String {
    if width_of(text) <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// One control character or more is shown as a space: a name never moves the cursor.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

/// A table: header, rows, alignment per column; `name` is the column that shrinks.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    align: Vec<Align>,
}

impl Table {
    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| width_of(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width_of(cell));
            }
        }
        widths
    }

    /// Whether the table fits `width` with its name column shrunk to `name_floor` at most.
    fn fits(&self, width: usize, name_floor: usize) -> bool {
        let widths = self.widths();
        let shrink = widths.first().map_or(0, |w| w.saturating_sub(name_floor));
        Self::total(&widths) - shrink <= width
    }

    fn total(widths: &[usize]) -> usize {
        widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1)
    }

    /// Drops the columns whose index `drop` says.
    fn drop_columns(&mut self, drop: impl Fn(usize) -> bool) {
        let keep = |cells: &mut Vec<String>| {
            let mut i = 0;
            cells.retain(|_| {
                i += 1;
                !drop(i - 1)
            });
        };
        keep(&mut self.header);
        for row in &mut self.rows {
            keep(row);
        }
        let mut i = 0;
        self.align.retain(|_| {
            i += 1;
            !drop(i - 1)
        });
    }

    /// The table as lines no wider than `width`: column 0 shrinks to fit (not below
    /// [`NAME_MIN`]); what still does not fit is cut.
    fn render(&self, width: usize, out: &mut String) {
        let mut widths = self.widths();
        let over = Self::total(&widths).saturating_sub(width);
        if let Some(first) = widths.first_mut() {
            *first = first.saturating_sub(over).max(NAME_MIN.min(*first));
        }
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let cell = cut(cell, *w);
                let pad = w.saturating_sub(width_of(&cell));
                match self.align.get(i) {
                    Some(Align::Right) => {
                        text.push_str(&" ".repeat(pad));
                        text.push_str(&cell);
                    }
                    _ => {
                        text.push_str(&cell);
                        text.push_str(&" ".repeat(pad));
                    }
                }
            }
            let text = text.trim_end();
            out.push_str(&cut(text, width));
            out.push('\n');
        };
        line(&self.header);
        for row in &self.rows {
            line(row);
        }
    }
}

/// The metric table's cells: name, figure, then A's value, and per later run its value,
/// change and mark (`short` marks when asked).
fn metric_table(comparison: &Comparison, rows: &[&Row], short: bool) -> Table {
    let runs = &comparison.runs;
    let mut header = vec!["metric".to_owned(), "".to_owned()];
    let mut align = vec![Align::Left, Align::Left];
    for (i, run) in runs.iter().enumerate() {
        header.push(run.letter.clone());
        align.push(Align::Right);
        if i > 0 {
            header.push(format!("Δ {}", run.letter));
            header.push(String::new());
            align.extend([Align::Right, Align::Left]);
        }
    }
    let mut cells = Vec::new();
    let mut previous: Option<&Row> = None;
    for row in rows {
        let mut line = vec![printable(&name_cell(row, previous)), row.figure.to_owned()];
        for i in 0..runs.len() {
            line.push(value(
                row.values.get(i).copied().flatten(),
                row.unit,
                Style::Terminal,
            ));
            if i > 0 {
                line.push(change(row.change(i)));
                line.push(mark(row.mark(i), i, comparison, short));
            }
        }
        cells.push(line);
        previous = Some(row);
    }
    Table {
        header,
        rows: cells,
        align,
    }
}

fn section_rows(comparison: &Comparison, section: Section) -> Vec<&Row> {
    comparison
        .rows
        .iter()
        .filter(|row| row.section == section)
        .collect()
}

/// The runs, one a line: letter, file, plan, environment, stage, start, length, VUs.
fn run_line(run: &super::RunInfo) -> String {
    let mut parts = vec![
        run.file.clone(),
        run.plan.clone(),
        run.env
            .clone()
            .unwrap_or_else(|| "(no environment)".to_owned()),
        run.stage.clone(),
        run.started.clone(),
        format::elapsed(run.duration_s),
        format!("{} VUs", run.vus_max),
    ];
    if let Some(label) = &run.label {
        parts.push(label.clone());
    }
    if let Some(commit) = &run.git_commit {
        parts.push(commit.chars().take(12).collect());
    }
    parts.join(" · ")
}

/// The comparison for a terminal `width` columns wide (at least [`NARROWEST`] are drawn;
/// every line fits the width it is given when that is at least 20). `limit` is
/// `--fail-on-regression` as a fraction, when given.
pub fn terminal(comparison: &Comparison, width: usize, limit: Option<f64>) -> String {
    let mut out = String::new();
    let screen = width.max(1);
    let width = width.max(NARROWEST);
    let say = |out: &mut String, text: &str| {
        for line in wrap(&printable(text), width) {
            out.push_str(&line);
            out.push('\n');
        }
    };
    let reference = comparison.runs.first().map_or("A", |r| r.letter.as_str());
    say(
        &mut out,
        &format!(
            "Comparing {} runs; changes are against {reference}, the reference",
            comparison.runs.len()
        ),
    );
    for run in &comparison.runs {
        say(&mut out, &format!("  {}  {}", run.letter, run_line(run)));
    }
    for note in &comparison.notes {
        say(&mut out, &format!("  note: {note}"));
    }
    let mut legend = Vec::new();
    for (section, title) in [
        (Section::Client, None),
        (Section::Server, Some("server-side (collect:)")),
        (Section::Derived, Some("derived")),
    ] {
        let rows = section_rows(comparison, section);
        if rows.is_empty() {
            continue;
        }
        out.push('\n');
        if let Some(title) = title {
            say(&mut out, title);
        }
        let mut table = metric_table(comparison, &rows, false);
        if !table.fits(width, NAME_SOFT) {
            table = metric_table(comparison, &rows, true);
            legend.push(
                "✓ better  ✗ worse  = same (within 5%)  ~ changed (no better side)  \
                 new: not in the reference  gone: only in the reference",
            );
        }
        let later = comparison.runs.len().saturating_sub(1);
        if !table.fits(width, NAME_SOFT) && later > 0 {
            // Columns: name, figure, A, then (value, Δ, mark) per later run.
            table.drop_columns(|i| i >= 3 && (i - 3) % 3 == 0);
            legend.push("the values of the later runs are left out at this width: Δ is against the reference");
        }
        table.render(width, &mut out);
    }
    if !legend.is_empty() {
        legend.dedup();
        out.push('\n');
        for line in legend {
            say(&mut out, line);
        }
    }
    if !comparison.thresholds.is_empty() {
        out.push('\n');
        say(
            &mut out,
            &format!(
                "thresholds: as each run recorded them, and {reference}'s re-judged on each later run"
            ),
        );
        threshold_table(comparison, Style::Terminal).render(width, &mut out);
    }
    verdict_lines(comparison, limit, &mut |line| say(&mut out, line));
    if screen < width {
        // Narrower than any table: every line cut at the screen's width.
        return out.lines().map(|line| cut(line, screen) + "\n").collect();
    }
    out
}

/// `text` in lines of at most `width` characters, broken at the last space that fits; a
/// continuation is indented as the text is, plus two. A word longer than a line is cut.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let indent = text.len() - text.trim_start_matches(' ').len();
    let hang = " ".repeat((indent + 2).min(width / 2));
    let mut lines = Vec::new();
    let mut rest: String = text.to_owned();
    while width_of(&rest) > width {
        let mut used = 0;
        let head: String = rest
            .chars()
            .take_while(|&c| {
                used += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                used <= width + 1
            })
            .collect();
        let start = if lines.is_empty() { indent } else { hang.len() };
        let at = head
            .char_indices()
            .rev()
            .find(|&(i, c)| c == ' ' && i > start)
            .map(|(i, _)| i);
        let Some(at) = at else { break };
        let (line, tail) = rest.split_at(at);
        lines.push(line.trim_end().to_owned());
        rest = format!("{hang}{}", tail.trim_start());
    }
    lines.push(rest);
    lines.into_iter().map(|line| cut(&line, width)).collect()
}

fn threshold_table(comparison: &Comparison, style: Style) -> Table {
    let reference = comparison.runs.first().map_or("A", |r| r.letter.as_str());
    let mut header = vec!["threshold".to_owned()];
    let mut align = vec![Align::Left];
    for (i, run) in comparison.runs.iter().enumerate() {
        header.push(run.letter.clone());
        align.push(Align::Left);
        if i > 0 {
            header.push(format!("{} by {reference}'s", run.letter));
            align.push(Align::Left);
        }
    }
    let rows = comparison
        .thresholds
        .iter()
        .map(|row| {
            let mut cells = vec![printable(&format!("{}: {}", row.key, row.check))];
            for i in 0..comparison.runs.len() {
                cells.push(judged(
                    row.recorded.get(i).and_then(Option::as_ref),
                    row,
                    style,
                ));
                if i > 0 {
                    cells.push(judged(
                        row.rejudged.get(i).and_then(Option::as_ref),
                        row,
                        style,
                    ));
                }
            }
            cells
        })
        .collect();
    Table {
        header,
        rows,
        align,
    }
}

/// The lines after the tables: regressions beyond the limit, re-judged thresholds that
/// fail.
fn verdict_lines(comparison: &Comparison, limit: Option<f64>, say: &mut dyn FnMut(&str)) {
    if let Some(limit) = limit {
        let regressions = comparison.regressions(limit);
        say("");
        if regressions.is_empty() {
            say(&format!(
                "no judged figure regressed beyond {}",
                format::percent(limit, Style::Document)
            ));
        } else {
            say(&format!(
                "regressed beyond {} (p95/p99, error rates, throughput):",
                format::percent(limit, Style::Document)
            ));
            for regression in &regressions {
                say(&format!(
                    "  {}  {}  {}",
                    regression.run,
                    printable(&regression.what),
                    change(Some(regression.change))
                ));
            }
        }
    }
    let failed = comparison.failed_thresholds();
    if !failed.is_empty() {
        let reference = comparison.runs.first().map_or("A", |r| r.letter.as_str());
        say("");
        say(&format!(
            "{reference}'s thresholds that fail on a later run:"
        ));
        for (run, threshold) in &failed {
            say(&format!("  {run}  {}", printable(threshold)));
        }
    }
}

/// `text` safe in a Markdown table cell: `|` escaped, line breaks and HTML's `<`, `>`,
/// `&` made inert.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push('\''),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The comparison as GitHub Markdown: the runs, notes, a table per section, the
/// thresholds, and the regressions when `limit` is given.
pub fn markdown(comparison: &Comparison, limit: Option<f64>) -> String {
    let mut out = String::new();
    let runs = &comparison.runs;
    let reference = runs.first().map_or("A", |r| r.letter.as_str());
    let _ = writeln!(out, "## Comparison of {} runs\n", runs.len());
    let _ = writeln!(
        out,
        "Changes are against {reference}, the reference. Better or worse: latency, errors and failed shares are better lower, throughput higher; other figures are `changed`. Within 5% (or 0.1 percentage point of a share) is `same`.\n"
    );
    out.push_str(
        "| Run | File | Plan | Environment | Stage | Started | Duration | VUs | Label |\n",
    );
    out.push_str("|---|---|---|---|---|---|---:|---:|---|\n");
    for run in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            run.letter,
            cell(&run.file),
            cell(&run.plan),
            cell(run.env.as_deref().unwrap_or("-")),
            cell(&run.stage),
            cell(&run.started),
            format::duration(run.duration_s),
            run.vus_max,
            cell(run.label.as_deref().unwrap_or("")),
        );
    }
    if !comparison.notes.is_empty() {
        out.push('\n');
        for note in &comparison.notes {
            let _ = writeln!(out, "> **Note:** {}", cell(note));
        }
    }
    for (section, title) in [
        (Section::Client, "Metrics"),
        (Section::Server, "Server-side (`collect:`)"),
        (Section::Derived, "Derived"),
    ] {
        let rows = section_rows(comparison, section);
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {title}\n");
        out.push_str("| Metric | Series | Figure |");
        let mut rule = String::from("|---|---|---|");
        for (i, run) in runs.iter().enumerate() {
            let _ = write!(out, " {} |", run.letter);
            rule.push_str("---:|");
            if i > 0 {
                let _ = write!(out, " Δ {} | {} vs {reference} |", run.letter, run.letter);
                rule.push_str("---:|---|");
            }
        }
        let _ = writeln!(out, "\n{rule}");
        for row in rows {
            let _ = write!(
                out,
                "| {} | {} | {} |",
                cell(&row.metric),
                cell(row.series.as_deref().unwrap_or("")),
                row.figure
            );
            for i in 0..runs.len() {
                let _ = write!(
                    out,
                    " {} |",
                    value(
                        row.values.get(i).copied().flatten(),
                        row.unit,
                        Style::Document
                    )
                );
                if i > 0 {
                    let _ = write!(
                        out,
                        " {} | {} |",
                        change(row.change(i)),
                        mark(row.mark(i), i, comparison, false)
                    );
                }
            }
            out.push('\n');
        }
    }
    if !comparison.thresholds.is_empty() {
        let _ = writeln!(
            out,
            "\n### Thresholds\n\nAs each run recorded them, and {reference}'s re-judged on each later run (`baseline * k` against {reference}).\n"
        );
        let table = threshold_table(comparison, Style::Document);
        let _ = writeln!(
            out,
            "| {} |",
            table
                .header
                .iter()
                .map(|h| cell(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "|{}", "---|".repeat(table.header.len()));
        for row in &table.rows {
            let _ = writeln!(
                out,
                "| {} |",
                row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            );
        }
    }
    let mut lines = Vec::new();
    verdict_lines(comparison, limit, &mut |line| lines.push(line.to_owned()));
    if !lines.is_empty() {
        out.push('\n');
        for line in lines.iter().filter(|l| !l.is_empty()) {
            match line.strip_prefix("  ") {
                Some(item) => {
                    let _ = writeln!(out, "- {}", cell(item));
                }
                None => {
                    let _ = writeln!(out, "\n{}\n", cell(line));
                }
            }
        }
    }
    out
}

/// Run `i`'s value of `row` as text.
pub(super) fn value_text(row: &Row, i: usize, style: Style) -> String {
    value(row.values.get(i).copied().flatten(), row.unit, style)
}

/// A change as text (`+12.5%`, `+∞%`).
pub(super) fn change_text(c: Option<f64>) -> String {
    change(c)
}

/// A mark in words.
pub(super) fn mark_text(m: Mark, i: usize, comparison: &Comparison) -> String {
    mark(m, i, comparison, false)
}

/// The threshold table's header and cells.
pub(super) fn threshold_cells(
    comparison: &Comparison,
    style: Style,
) -> (Vec<String>, Vec<Vec<String>>) {
    let table = threshold_table(comparison, style);
    (table.header, table.rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_and_cells() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(cell("a|b<script>`x`\n"), "a\\|b&lt;script&gt;'x' ");
        assert_eq!(printable("a\x1b[2Jb"), "a [2Jb");
        assert_eq!(
            wrap("  note: one two three", 14),
            ["  note: one", "    two three"]
        );
        assert_eq!(wrap("abcdefghijklmnop", 8), ["abcdefg…"]);
        // Wide characters take two columns.
        assert_eq!(cut("名前名前名前", 7), "名前名…");
        assert_eq!(width_of(&cut("名前名前名前", 7)), 7);
    }

    #[test]
    fn the_name_column_shrinks_and_lines_fit() {
        let table = Table {
            header: vec!["metric".into(), "A".into()],
            rows: vec![vec![
                "a_very_long_metric_name_indeed_yes".into(),
                "12.00ms".into(),
            ]],
            align: vec![Align::Left, Align::Right],
        };
        let mut out = String::new();
        table.render(24, &mut out);
        assert!(out.lines().all(|l| l.chars().count() <= 24), "{out}");
        assert!(out.contains('…'), "{out}");
    }
}
