//! Every figure and unit of every report, formatted in one place: the terminal summary,
//! the Markdown filters and model texts, CSV cells, JUnit properties and chart labels.
//!
//! Two contexts differ on purpose, chosen by [`Style`]:
//!
//! - [`Style::Terminal`]: fixed-width columns read at a glance — times switch unit
//!   (`420µs`, `12.34ms`, `1.50s`) with two decimals, percentages have two decimals,
//!   plain numbers up to three.
//! - [`Style::Document`]: Markdown, CSV, JUnit — times always in milliseconds, so a table
//!   column and a history file compare in one unit (`0.42ms`, `12.3ms`, `1500ms`),
//!   percentages and numbers without needless decimals (`4.2%`, `6.67`).
//!
//! Collected and derived figures (their own unit), bytes, changes and durations read the
//! same everywhere.

use crate::verdict::FigureUnit;

/// Where a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Terminal,
    Document,
}

/// Milliseconds: `0.42ms`, `12.3ms`, `2000ms` in documents; `420µs`, `12.34ms`, `2.00s` in
/// the terminal.
pub fn ms(ms: f64, style: Style) -> String {
    match style {
        Style::Terminal => {
            if ms >= 1000.0 {
                format!("{:.2}s", ms / 1000.0)
            } else if ms >= 1.0 {
                format!("{ms:.2}ms")
            } else {
                format!("{:.0}µs", ms * 1000.0)
            }
        }
        Style::Document => {
            if !ms.is_finite() {
                "-".to_owned()
            } else if ms == ms.trunc() {
                format!("{ms:.0}ms")
            } else if ms < 10.0 {
                format!("{ms:.2}ms")
            } else if ms < 100.0 {
                format!("{ms:.1}ms")
            } else {
                format!("{ms:.0}ms")
            }
        }
    }
}

/// A fraction as a percentage: `0.042` → `4.2%` in documents, `4.20%` in the terminal.
pub fn percent(fraction: f64, style: Style) -> String {
    let p = fraction * 100.0;
    match style {
        Style::Terminal => format!("{p:.2}%"),
        Style::Document if p == p.trunc() => format!("{p:.0}%"),
        Style::Document if p.abs() < 1.0 => format!("{p:.2}%"),
        Style::Document => format!("{p:.1}%"),
    }
}

/// A count or rate: integers without decimals, others with up to two (documents) or three
/// (terminal) decimals, trailing zeros dropped.
pub fn number(value: f64, style: Style) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let text = match style {
        Style::Terminal => format!("{value:.3}"),
        Style::Document => format!("{value:.2}"),
    };
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A per-second rate in the terminal's metric table: `38.9/s`.
pub fn per_second(rate: f64) -> String {
    format!("{rate:.1}/s")
}

/// A collected or derived figure: whole numbers as they are, others to about four
/// significant digits, without trailing zeros (`485`, `1234.5`, `47.95`, `6.6`,
/// `0.000475`).
pub fn figure(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        "-".to_owned()
    } else if value.fract() == 0.0 && magnitude < 1e15 {
        format!("{value:.0}")
    } else {
        let decimals = if magnitude >= 100.0 {
            1
        } else if magnitude >= 1.0 {
            2
        } else {
            6
        };
        let text = format!("{value:.decimals$}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A threshold's value or limit in its unit; `-` when there is none.
pub fn threshold(value: Option<f64>, unit: FigureUnit, style: Style) -> String {
    let Some(value) = value else {
        return "-".to_owned();
    };
    match unit {
        FigureUnit::Millis | FigureUnit::OwnSecondsInMillis => ms(value, style),
        FigureUnit::Fraction => percent(value, style),
        FigureUnit::Number => number(value, style),
        FigureUnit::Own => figure(value),
    }
}

/// The unit's name in the report model: `ms`, `%` (a fraction shown as a percentage) or
/// empty (a number, or a collected or derived metric's own unit).
pub fn unit_name(unit: FigureUnit) -> &'static str {
    match unit {
        FigureUnit::Millis | FigureUnit::OwnSecondsInMillis => "ms",
        FigureUnit::Fraction => "%",
        FigureUnit::Number | FigureUnit::Own => "",
    }
}

/// A change in percent with its sign: `+12.5%`, `-3.0%`, `±0.0%`.
pub fn delta(percent: f64) -> String {
    if !percent.is_finite() {
        "n/a".to_owned()
    } else if percent.abs() < 0.05 {
        "±0.0%".to_owned()
    } else {
        format!("{percent:+.1}%")
    }
}

/// A run's length: `42s`, `2.5s`, `3m 05s`, `1h 02m`.
pub fn duration(s: f64) -> String {
    let whole = s.round().max(0.0) as u64;
    match whole {
        0..60 => format!("{}s", number((s * 10.0).round() / 10.0, Style::Document)),
        60..3600 => format!("{}m {:02}s", whole / 60, whole % 60),
        _ => format!("{}h {:02}m", whole / 3600, whole % 3600 / 60),
    }
}

/// The run's length in the terminal heading: `10.5s`.
pub fn elapsed(s: f64) -> String {
    format!("{s:.1}s")
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `27.2 MiB`.
pub fn bytes(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes.abs() < 1024.0 {
        return format!("{} B", figure(bytes));
    }
    let mut value = bytes;
    let mut unit = "B";
    for next in UNITS {
        if value.abs() < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// A number to six significant digits, without trailing zeros, for CSV cells of collected
/// and derived metrics: `0.000475`, `47.9512`, `28350805`; empty when not finite.
pub fn significant(value: f64) -> String {
    if !value.is_finite() {
        return String::new();
    }
    if value == value.trunc() && value.abs() < 1e15 {
        return format!("{value:.0}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = usize::try_from((5 - magnitude).clamp(0, 15)).unwrap_or(0);
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A built-in metric's figure in a CSV cell: rounded to three decimals, then written as
/// [`number`] writes it in documents.
pub fn csv_number(value: f64) -> String {
    number((value * 1000.0).round() / 1000.0, Style::Document)
}

/// A run's length in a CSV cell: seconds with three decimals (`30.004`).
pub fn csv_seconds(s: f64) -> String {
    format!("{s:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_style() {
        let d = Style::Document;
        assert_eq!(ms(0.4213, d), "0.42ms");
        assert_eq!(ms(12.34, d), "12.3ms");
        assert_eq!(ms(10.0, d), "10ms");
        assert_eq!(ms(1500.0, d), "1500ms");
        assert_eq!(percent(0.042, d), "4.2%");
        assert_eq!(percent(0.05, d), "5%");
        assert_eq!(delta(12.46), "+12.5%");
        assert_eq!(delta(-3.0), "-3.0%");
        assert_eq!(delta(0.01), "±0.0%");
        assert_eq!(number(17.0, d), "17");
        assert_eq!(number(1.5, d), "1.5");
        assert_eq!(number(6.6667, d), "6.67");
        assert_eq!(csv_number(6.6667), "6.67");
    }

    #[test]
    fn terminal_style() {
        let t = Style::Terminal;
        assert_eq!(ms(1500.0, t), "1.50s");
        assert_eq!(ms(12.344, t), "12.34ms");
        assert_eq!(ms(0.42, t), "420µs");
        assert_eq!(percent(0.042, t), "4.20%");
        assert_eq!(number(6.6667, t), "6.667");
        assert_eq!(per_second(38.94), "38.9/s");
    }

    #[test]
    fn thresholds_by_unit() {
        let d = Style::Document;
        assert_eq!(threshold(Some(10.5), FigureUnit::Millis, d), "10.5ms");
        assert_eq!(threshold(Some(0.25), FigureUnit::Fraction, d), "25%");
        assert_eq!(threshold(Some(0.0123), FigureUnit::Own, d), "0.0123");
        assert_eq!(
            threshold(Some(0.48), FigureUnit::OwnSecondsInMillis, Style::Terminal),
            "480µs"
        );
        assert_eq!(threshold(None, FigureUnit::Number, d), "-");
    }

    #[test]
    fn durations_bytes_and_significant_digits() {
        assert_eq!(duration(2.04), "2s");
        assert_eq!(duration(2.5), "2.5s");
        assert_eq!(duration(185.0), "3m 05s");
        assert_eq!(duration(3720.0), "1h 02m");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
        assert_eq!(significant(0.000475), "0.000475");
        assert_eq!(significant(47.951234), "47.9512");
        assert_eq!(significant(28_350_805.3), "28350805");
        assert_eq!(significant(-1.5), "-1.5");
        assert_eq!(significant(485.0), "485");
        assert_eq!(significant(f64::NAN), "");
    }
}
