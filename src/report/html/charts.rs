//! The HTML report's charts: SVG drawn here, not by a script, so a page opened without
//! JavaScript (a CI artifact viewer, a mail client, print) shows every chart, and the page
//! stays small and checkable in tests. Sizes are in the `viewBox`'s units; CSS scales each
//! chart to the page's width and colours it (`s0`…`s10` classes, light and dark). Every
//! point a reader may hover carries an SVG `<title>` (a tooltip without JavaScript); the
//! page's script shows the same text at once, with a guide line.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::escape;

/// The `viewBox` of every chart.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 250.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 34.0;

/// Colours the style sheet defines (`s0`…`s9`); [`OTHER`] is the grey of "other kinds".
pub const COLOURS: usize = 10;
pub const OTHER: usize = 10;

/// One line (or stacked band) of a time chart: a value per point, `None` where there is
/// none (the line breaks).
#[derive(Debug, Clone)]
pub struct Line {
    pub label: String,
    pub values: Vec<Option<f64>>,
    /// The colour class index (`s{colour}`).
    pub colour: usize,
}

/// A chart over the run's time: each point stands for `step` seconds from `starts[i]`.
#[derive(Debug, Clone)]
pub struct TimeChart<'a> {
    /// What the chart shows, for screen readers (`aria-label`).
    pub title: &'a str,
    pub starts: &'a [u64],
    pub step: u64,
    pub lines: Vec<Line>,
    /// Bands stacked on each other (errors by kind) instead of lines.
    pub stacked: bool,
    /// A value as a tooltip and the y axis show it (`12.5 ms`, `40/s`).
    pub format: fn(f64) -> String,
}

/// A time chart as a `<figure>`: the SVG and an HTML legend (which wraps on a phone);
/// `None` when there is no point to draw.
pub fn time_chart(chart: &TimeChart<'_>) -> Option<String> {
    let n = chart.starts.len();
    if n == 0 || chart.lines.is_empty() {
        return None;
    }
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let step = chart.step.max(1);
    let first = chart.starts.first().copied().unwrap_or(0);
    let span = (n as u64 * step).max(1) as f64;
    let x_of = |t: f64| LEFT + (t - first as f64) / span * plot_w;
    let centre = |i: usize| x_of(chart.starts[i] as f64 + step as f64 / 2.0);
    let top = if chart.stacked {
        (0..n)
            .map(|i| {
                chart
                    .lines
                    .iter()
                    .filter_map(|l| l.values.get(i).copied().flatten())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    } else {
        chart
            .lines
            .iter()
            .flat_map(|l| l.values.iter().copied().flatten())
            .fold(0.0, f64::max)
    };
    let y_max = nice(top);
    let y_of = |v: f64| TOP + plot_h - (v / y_max).clamp(0.0, 1.0) * plot_h;
    let mut svg = open_svg(chart.title);
    y_axis(&mut svg, y_max, chart.format);
    // Time ticks at a round interval, at most 8.
    let tick = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200,
    ]
    .into_iter()
    .find(|t| span / *t as f64 <= 8.0)
    .unwrap_or(86400);
    let mut t = first.div_ceil(tick) * tick;
    while (t as f64) <= first as f64 + span {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x_of(t as f64),
            HEIGHT - 12.0,
            clock(t)
        );
        t += tick;
    }
    if chart.stacked {
        // Over the points where some band has a value (a last second too short has none).
        let shown: Vec<usize> = (0..n)
            .filter(|i| {
                chart
                    .lines
                    .iter()
                    .any(|l| l.values.get(*i).copied().flatten().is_some())
            })
            .collect();
        let mut below = vec![0.0; n];
        for line in &chart.lines {
            let above: Vec<f64> = (0..n)
                .map(|i| below[i] + line.values.get(i).copied().flatten().unwrap_or(0.0))
                .collect();
            let mut d = String::new();
            for (k, i) in shown.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if k == 0 { "M" } else { "L" },
                    centre(*i),
                    y_of(above[*i])
                );
            }
            for i in shown.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1}", centre(*i), y_of(below[*i]));
            }
            if shown.is_empty() {
                continue;
            }
            let _ = write!(
                svg,
                r#"<path class="band s{}" d="{d}Z"><title>{}</title></path>"#,
                line.colour,
                escape(&line.label)
            );
            below = above;
        }
    } else {
        for line in &chart.lines {
            let mut d = String::new();
            let mut pen = false;
            for i in 0..n {
                match line.values.get(i).copied().flatten() {
                    Some(v) => {
                        let _ = write!(
                            d,
                            "{}{:.1},{:.1}",
                            if pen { "L" } else { "M" },
                            centre(i),
                            y_of(v)
                        );
                        pen = true;
                    }
                    None => pen = false,
                }
            }
            if d.is_empty() {
                continue;
            }
            // A lone point (a one-second run) is drawn as a dot.
            if n == 1 {
                let _ = write!(
                    svg,
                    r#"<circle class="dot s{}" cx="{:.1}" cy="{:.1}" r="3"/>"#,
                    line.colour,
                    centre(0),
                    line.values[0].map_or(TOP + plot_h, y_of)
                );
            }
            let _ = write!(
                svg,
                r#"<path class="line s{}" d="{d}"><title>{}</title></path>"#,
                line.colour,
                escape(&line.label)
            );
        }
    }
    // Hover targets: one column per point, its title every line's value there.
    let width = plot_w / n as f64;
    svg.push_str(r#"<g class="hits">"#);
    for i in 0..n {
        let start = chart.starts[i];
        let when = if step == 1 {
            clock(start)
        } else {
            format!("{}–{}", clock(start), clock(start + step))
        };
        let mut tip = when;
        for line in &chart.lines {
            match line.values.get(i).copied().flatten() {
                Some(v) if !chart.stacked || v > 0.0 => {
                    let _ = write!(tip, "\n{}: {}", line.label, (chart.format)(v));
                }
                None if !chart.stacked => {
                    let _ = write!(tip, "\n{}: -", line.label);
                }
                _ => {}
            }
        }
        let _ = write!(
            svg,
            r#"<rect class="tip" x="{:.1}" y="{TOP}" width="{:.2}" height="{plot_h}"><title>{}</title></rect>"#,
            LEFT + i as f64 * width,
            width,
            escape(&tip)
        );
    }
    svg.push_str("</g></svg>");
    let legend: Vec<(usize, &str)> = chart
        .lines
        .iter()
        .map(|l| (l.colour, l.label.as_str()))
        .collect();
    Some(figure(&svg, &legend, ""))
}

/// A curve to draw: its colour index, label, and `(x in decades, ms)` points.
type Curve<'a> = (usize, &'a String, Vec<(f64, f64)>);

/// The percentile curve of each `(label, histogram in µs)`, overlaid (HdrHistogram's plot:
/// x is the percentile on a log scale of 1/(1−q) — 0%, 90%, 99%, 99.9%… — y milliseconds),
/// with a legend; a note instead when no histogram has a sample.
pub fn percentile_chart(series: &[(String, &Histogram<u64>)]) -> String {
    let drawn: Vec<(usize, &String, &Histogram<u64>)> = series
        .iter()
        .enumerate()
        .filter(|(_, (_, h))| !h.is_empty())
        .map(|(i, (label, h))| (i, label, *h))
        .collect();
    if drawn.is_empty() {
        return r#"<p class="empty">No latency samples to draw.</p>"#.to_owned();
    }
    let ms = |h: &Histogram<u64>, micros: u64| h.median_equivalent(micros) as f64 / 1000.0;
    // Decades of the x axis: as many as the largest histogram resolves (99.9% needs 1,000
    // samples), at least 2, at most 6 (99.9999%).
    let largest = drawn.iter().map(|(_, _, h)| h.len()).max().unwrap_or(1);
    let decades = ((largest as f64).log10().ceil() as usize).clamp(2, 6);
    let curves: Vec<Curve<'_>> = drawn
        .iter()
        .map(|(i, label, h)| {
            let own = ((h.len() as f64).log10().ceil() as usize).clamp(1, decades);
            let mut points: Vec<(f64, f64)> = (0..own * 5)
                .map(|k| {
                    let x = k as f64 / 5.0;
                    let q = 1.0 - 10f64.powf(-x);
                    (x, ms(h, h.value_at_quantile(q)))
                })
                .collect();
            points.push((own as f64, ms(h, h.max())));
            (*i, *label, points)
        })
        .collect();
    let top = curves
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0, f64::max);
    let y_max = nice(top);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x_of = |x: f64| LEFT + x / decades as f64 * plot_w;
    let y_of = |v: f64| TOP + plot_h - (v / y_max).clamp(0.0, 1.0) * plot_h;
    let mut svg = open_svg("latency by percentile");
    y_axis(&mut svg, y_max, ms_text);
    for d in 0..=decades {
        let x = x_of(d as f64);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + plot_h,
            HEIGHT - 12.0,
            percentile_label(d as f64)
        );
    }
    for (i, label, points) in &curves {
        let colour = i % COLOURS;
        let mut d = String::new();
        for (k, (x, y)) in points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if k == 0 { "M" } else { "L" },
                x_of(*x),
                y_of(*y)
            );
        }
        let _ = write!(
            svg,
            r#"<path class="line s{colour}" d="{d}"><title>{}</title></path>"#,
            escape(label)
        );
        svg.push_str(r#"<g class="pts">"#);
        let last = points.len() - 1;
        for (k, (x, y)) in points.iter().enumerate() {
            let what = if k == last {
                "max".to_owned()
            } else {
                percentile_label(*x)
            };
            let _ = write!(
                svg,
                r#"<circle class="tip pt s{colour}" cx="{:.1}" cy="{:.1}" r="3"><title>{}
{what}: {}</title></circle>"#,
                x_of(*x),
                y_of(*y),
                escape(label),
                ms_text(*y)
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    let legend: Vec<(usize, &str)> = curves
        .iter()
        .map(|(i, label, _)| (i % COLOURS, label.as_str()))
        .collect();
    let skipped = series.len() - drawn.len();
    let note = if skipped > 0 {
        format!(r#"<p class="note">{skipped} without samples not drawn.</p>"#)
    } else {
        String::new()
    };
    figure(&svg, &legend, &note)
}

fn open_svg(title: &str) -> String {
    format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}"><line class="guide" x1="0" y1="{TOP}" x2="0" y2="{:.1}"/>"#,
        escape(title),
        HEIGHT - BOTTOM
    )
}

/// Grid lines and labels of the y axis: 0 to `y_max` (from [`nice`]) in round steps.
fn y_axis(svg: &mut String, y_max: f64, format: fn(f64) -> String) {
    let plot_h = HEIGHT - TOP - BOTTOM;
    let step = axis_step(y_max);
    let steps = ((y_max / step).round() as u32).clamp(1, 8);
    for k in 0..=steps {
        let v = step * f64::from(k);
        let y = TOP + plot_h - v / y_max * plot_h;
        let _ = write!(
            svg,
            r#"<line class="{}" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            if k == 0 { "axis" } else { "grid" },
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            escape(&format(v))
        );
    }
}

/// The SVG with its legend (an HTML list: it wraps) and a note, as a figure.
fn figure(svg: &str, legend: &[(usize, &str)], note: &str) -> String {
    let mut out = String::from(r#"<figure class="plot">"#);
    out.push_str(svg);
    out.push_str(r#"<ul class="legend">"#);
    for (colour, label) in legend {
        let _ = write!(
            out,
            r#"<li><span class="key s{colour}"></span>{}</li>"#,
            escape(label)
        );
    }
    out.push_str("</ul>");
    out.push_str(note);
    out.push_str("</figure>");
    out
}

/// `x` decades along the percentile axis as a percentile: 0 → `0%`, 1 → `90%`, 2.5 →
/// `99.68%`, 3 → `99.9%`.
pub fn percentile_label(x: f64) -> String {
    let q = (1.0 - 10f64.powf(-x)) * 100.0;
    if x == 0.0 {
        return "0%".to_owned();
    }
    let decimals = (x.ceil() as usize)
        .saturating_sub(1)
        .max(if x.fract() == 0.0 { 0 } else { 2 });
    let text = format!("{q:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    format!("{text}%")
}

/// Milliseconds for axes and tooltips: `0.42 ms`, `12.3 ms`, `1500 ms`; from 10 s on in
/// seconds (`12.5 s`), so an axis label stays short.
pub fn ms_text(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{} s", number(ms / 1000.0))
    } else {
        format!("{} ms", number(ms))
    }
}

/// A plain figure to three significant digits or so: `0.42`, `12.3`, `1500`.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_owned();
    }
    let text = if v == v.trunc() || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Seconds into the run as a clock: `45s`, `2m`, `2m30s`, `1h05m`.
pub fn clock(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 if s.is_multiple_of(60) => format!("{}m", s / 60),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The next round axis maximum at or above `value`: a multiple of a round step (1, 2,
/// 2.5, 5 × 10ⁿ) about a quarter of it, so the grid's labels are round too; 1 for nothing.
pub fn nice(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let step = round_step(value / 4.0);
    (value / step - 1e-9).ceil().max(1.0) * step
}

/// The y axis' step for `y_max` (as [`nice`] made it): the grid has a line per step.
fn axis_step(y_max: f64) -> f64 {
    round_step(y_max / 4.0 * (1.0 - 1e-9))
}

fn round_step(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|m| *m >= value * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_read_as_people_write_them() {
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(5.0), "99.999%");
        assert_eq!(percentile_label(0.2), "36.9%");
        assert_eq!(clock(0), "0s");
        assert_eq!(clock(150), "2m30s");
        assert_eq!(clock(3900), "1h05m");
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(12.0), 15.0);
        assert_eq!(nice(2.3), 3.0);
        assert_eq!(nice(2.5), 3.0);
        assert_eq!(nice(50.0), 60.0);
        assert_eq!(nice(40.0), 40.0);
        assert_eq!(nice(230.0), 300.0);
        assert_eq!(axis_step(nice(230.0)), 100.0);
        assert_eq!(axis_step(nice(12.0)), 5.0);
        assert_eq!(nice(f64::NAN), 1.0);
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(ms_text(1500.0), "1500 ms");
        assert_eq!(ms_text(3_600_000.0), "3600 s");
    }

    #[test]
    fn a_percentile_curve_has_a_point_per_fifth_of_a_decade_and_the_max() {
        let mut h = crate::results::new_histogram();
        for v in 1..=10_000_u64 {
            h.saturating_record(v);
        }
        let empty = crate::results::new_histogram();
        let html = percentile_chart(&[("a <b>".into(), &h), ("none".into(), &empty)]);
        // 4 decades (10,000 samples) × 5 + the max.
        assert_eq!(html.matches(r#"<circle class="tip pt"#).count(), 21);
        assert!(html.contains("a &lt;b&gt;") && !html.contains("a <b>"));
        assert!(html.contains("99.99%"));
        assert!(html.contains("1 without samples not drawn"));
        let none = percentile_chart(&[("none".into(), &empty)]);
        assert!(!none.contains("<svg"));
    }

    #[test]
    fn time_charts_break_lines_and_stack_bands() {
        let starts = [0, 1, 2, 3];
        let chart = TimeChart {
            title: "t",
            starts: &starts,
            step: 1,
            lines: vec![
                Line {
                    label: "p50".into(),
                    values: vec![Some(1.0), None, Some(2.0), Some(3.0)],
                    colour: 0,
                },
                Line {
                    label: "<x>".into(),
                    values: vec![Some(1.0); 4],
                    colour: 1,
                },
            ],
            stacked: false,
            format: ms_text,
        };
        let svg = time_chart(&chart).expect("points");
        let p50 = svg
            .split("<path")
            .find(|p| p.contains("<title>p50"))
            .expect("the p50 line");
        assert_eq!(p50.matches('M').count(), 2, "{p50}");
        assert_eq!(svg.matches(r#"<rect class="tip""#).count(), 4);
        assert!(svg.contains("&lt;x&gt;") && !svg.contains("<x>"));
        let stacked = time_chart(&TimeChart {
            stacked: true,
            ..chart.clone()
        })
        .expect("points");
        assert_eq!(stacked.matches(r#"class="band"#).count(), 2);
        assert!(
            time_chart(&TimeChart {
                starts: &[],
                ..chart
            })
            .is_none()
        );
    }
}
