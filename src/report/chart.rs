//! The chart: latency p50/p95/p99 (left axis, ms) and active VUs (right axis, shaded) over
//! the run, from the per-second timeline, as a small self-contained SVG written by hand
//! (no plotting dependency; the shape is fixed, so a template of lines is enough).

use std::fmt::Write as _;

use super::html::escape;
use crate::results::Second;

/// Reads one figure of a second.
type Figure = fn(&Second) -> Option<f64>;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 60.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 40.0;

/// The SVG of `timeline`; `None` when it is empty (nothing to draw).
pub fn svg(title: &str, timeline: &[Second]) -> Option<String> {
    let last = timeline.iter().map(|s| s.at_s).max()?;
    let span = (last.max(1)) as f64;
    let latency_max = nice(
        timeline
            .iter()
            .filter_map(|s| s.p99_ms.or(s.p95_ms).or(s.p50_ms))
            .fold(0.0, f64::max),
    );
    let vus_max = nice(f64::from(timeline.iter().map(|s| s.vus).max().unwrap_or(0)));
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |at: u64| LEFT + at as f64 / span * plot_w;
    let y_ms = |ms: f64| TOP + plot_h - ms.min(latency_max) / latency_max * plot_h;
    let y_vus = |vus: f64| TOP + plot_h - vus / vus_max * plot_h;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"##
    );
    let _ = writeln!(
        out,
        r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>
<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{}</text>"##,
        escape(title)
    );
    // Grid and axes: five steps on each axis.
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let y = TOP + plot_h - f * plot_h;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e5e5e5"/>
<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{}</text>
<text x="{:.1}" y="{:.1}" fill="#777">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            label(latency_max * f),
            LEFT + plot_w + 6.0,
            y + 4.0,
            label(vus_max * f),
        );
        let at = (span * f).round() as u64;
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444">{at}s</text>"##,
            x(at),
            TOP + plot_h + 16.0
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle" fill="#444">latency (ms)</text>
<text x="{:.1}" y="{:.1}" transform="rotate(90 {:.1} {:.1})" text-anchor="middle" fill="#777">active VUs</text>"##,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        WIDTH - 14.0,
        TOP + plot_h / 2.0,
        WIDTH - 14.0,
        TOP + plot_h / 2.0,
    );
    // VUs as a shaded area.
    let mut area = format!("M{:.1},{:.1}", x(0), y_vus(0.0));
    for second in timeline {
        let _ = write!(
            area,
            " L{:.1},{:.1}",
            x(second.at_s),
            y_vus(f64::from(second.vus))
        );
    }
    let _ = write!(area, " L{:.1},{:.1} Z", x(last), y_vus(0.0));
    let _ = writeln!(
        out,
        r##"<path d="{area}" fill="#d9d9d9" fill-opacity="0.6" stroke="#999" stroke-width="1"/>"##
    );
    // Latency lines, broken where a second had no sample.
    let series: [(&str, &str, Figure); 3] = [
        ("p50", "#1f77b4", |s| s.p50_ms),
        ("p95", "#ff7f0e", |s| s.p95_ms),
        ("p99", "#d62728", |s| s.p99_ms),
    ];
    for (name, color, value) in series {
        let mut path = String::new();
        let mut pen_down = false;
        for second in timeline {
            match value(second) {
                Some(ms) => {
                    let _ = write!(
                        path,
                        "{}{:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        x(second.at_s),
                        y_ms(ms)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !path.is_empty() {
            let _ = writeln!(
                out,
                r##"<path d="{}" fill="none" stroke="{color}" stroke-width="1.8"><title>{name}</title></path>"##,
                path.trim_end()
            );
        }
    }
    // Legend.
    let legend = [
        ("p50", "#1f77b4"),
        ("p95", "#ff7f0e"),
        ("p99", "#d62728"),
        ("VUs", "#999"),
    ];
    for (i, (name, color)) in legend.iter().enumerate() {
        let lx = WIDTH - RIGHT - 240.0 + i as f64 * 60.0;
        let _ = writeln!(
            out,
            r##"<rect x="{lx:.1}" y="24" width="14" height="10" fill="{color}"/>
<text x="{:.1}" y="33">{name}</text>"##,
            lx + 18.0
        );
    }
    out.push_str("</svg>\n");
    Some(out)
}

/// The next "nice" axis maximum (1, 2, 5 × 10ⁿ) at or above `value`.
fn nice(value: f64) -> f64 {
    if value.is_nan() || value <= 0.0 || value.is_infinite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|m| *m >= value)
        .unwrap_or(10.0 * magnitude)
}

fn label(value: f64) -> String {
    super::format::number(
        (value * 100.0).round() / 100.0,
        super::format::Style::Document,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_lines_and_area() {
        let timeline: Vec<Second> = (0..4)
            .map(|at| Second {
                at_s: at,
                vus: 10,
                p50_ms: (at != 2).then_some(5.0),
                p95_ms: Some(8.0),
                p99_ms: Some(12.0),
                ..Second::default()
            })
            .collect();
        let svg = svg("a <b>", &timeline).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("a &lt;b&gt;"));
        assert_eq!(svg.matches("<title>").count(), 3);
        // The p50 line is broken at second 2: two `M`oves.
        let p50 = svg.lines().find(|l| l.contains("<title>p50")).unwrap();
        assert_eq!(p50.matches('M').count(), 2, "{p50}");
        assert!(super::svg("x", &[]).is_none());
        assert_eq!(nice(12.0), 20.0);
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(500.0), 500.0);
    }
}
