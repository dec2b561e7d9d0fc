//! The Prometheus text exposition format (0.0.4, and the OpenMetrics subset servers send
//! to Prometheus), read by a small tokenizer rather than regexes or a crate.
//!
//! ```text
//! line    = comment | sample | blank
//! comment = "#" [ ("HELP" | "TYPE") name text ]      ; other comments are ignored
//! sample  = name [ "{" [ label { "," label } [","] ] "}" ] value [ timestamp ]
//! label   = name "=" '"' escaped-text '"'            ; escapes: \\  \"  \n
//! value   = float | "NaN" | "+Inf" | "-Inf"
//! ```
//!
//! Why not `prometheus-parse` (0.2.5, the only small crate): it matches lines with regexes,
//! splits labels on `,` and `=` (a value holding either is cut), does not unescape, keys a
//! histogram's buckets by metric name only (so `{route="a"}` and `{route="b"}` buckets are
//! merged) and reads `le` only when it is the first label; and it pulls chrono and
//! lazy_static. This file is the whole grammar, with its errors located by line.

use std::collections::HashMap;
use std::fmt;

/// A metric family's declared type (`# TYPE`); `untyped` when none is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    /// Labels in the order written.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A parsed exposition: its sample lines and the declared types.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    pub lines: Vec<Line>,
    pub types: HashMap<String, FamilyType>,
}

impl Exposition {
    /// The family a sample line belongs to and its type: `x_bucket` of a histogram `x`
    /// belongs to `x`.
    pub fn family<'l>(&self, name: &'l str) -> (&'l str, FamilyType) {
        if let Some(kind) = self.types.get(name) {
            return (name, *kind);
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix)
                && let Some(kind @ (FamilyType::Histogram | FamilyType::Summary)) =
                    self.types.get(base)
                && (suffix != "_bucket" || *kind == FamilyType::Histogram)
            {
                return (base, *kind);
            }
        }
        (name, FamilyType::Untyped)
    }
}

/// The first malformed line of an exposition: `line 3: expected `=`, found `1``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub kind: ParseErrorKind,
}

/// What is wrong with a sample line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// A token other than the one the grammar wants; `found` is `None` at the end of the line.
    Expected {
        expected: Expected,
        found: Option<char>,
    },
    /// A label value's closing `"` is missing.
    UnterminatedLabelValue,
    /// A sample without a value.
    NoValue { name: String },
    /// A value that is not a float, `NaN` or `±Inf`.
    InvalidValue { name: String, text: String },
    /// A timestamp that is not a number.
    InvalidTimestamp { name: String, timestamp: String },
    /// More after the value (and timestamp) than an exemplar.
    Trailing { text: String },
}

/// What the tokenizer wanted where it found something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    MetricName,
    /// A label name, or the `}` that closes the labels.
    LabelName,
    /// Exactly this character.
    Char(char),
    /// The `,` or `}` after a label.
    LabelEnd,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl std::error::Error for ParseError {}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expected { expected, found } => {
                let expected = match expected {
                    Expected::MetricName => "a metric name".to_owned(),
                    Expected::LabelName => "a label name or `}`".to_owned(),
                    Expected::Char(c) => format!("`{c}`"),
                    Expected::LabelEnd => "`,` or `}` after a label".to_owned(),
                };
                match found {
                    Some(c) => write!(f, "expected {expected}, found `{c}`"),
                    None => write!(f, "expected {expected}, found the end of the line"),
                }
            }
            Self::UnterminatedLabelValue => f.write_str("unterminated label value"),
            Self::NoValue { name } => write!(f, "`{name}` has no value"),
            Self::InvalidValue { name, text } => write!(f, "invalid value `{text}` of `{name}`"),
            Self::InvalidTimestamp { name, timestamp } => {
                write!(f, "invalid timestamp `{timestamp}` of `{name}`")
            }
            Self::Trailing { text } => write!(f, "unexpected `{text}` after the value"),
        }
    }
}

/// Parses an exposition; the first malformed line is the error (as Prometheus fails the
/// whole scrape).
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut exposition = Exposition::default();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let result = if let Some(comment) = line.strip_prefix('#') {
            comment_line(comment, &mut exposition.types);
            Ok(())
        } else {
            sample_line(line).map(|sample| exposition.lines.push(sample))
        };
        result.map_err(|kind| ParseError {
            line: index + 1,
            kind,
        })?;
    }
    Ok(exposition)
}

fn comment_line(comment: &str, types: &mut HashMap<String, FamilyType>) {
    let mut words = comment.split_whitespace();
    if words.next() != Some("TYPE") {
        return;
    }
    let (Some(name), Some(kind)) = (words.next(), words.next()) else {
        return;
    };
    let kind = match kind {
        "counter" => FamilyType::Counter,
        "gauge" => FamilyType::Gauge,
        "histogram" => FamilyType::Histogram,
        "summary" => FamilyType::Summary,
        _ => FamilyType::Untyped,
    };
    types.insert(name.to_owned(), kind);
}

/// A cursor over one line.
struct Cursor<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Cursor<'t> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.pos += 1;
        }
    }

    fn expected(&self, expected: Expected) -> ParseErrorKind {
        ParseErrorKind::Expected {
            expected,
            found: self.peek(),
        }
    }

    fn name(&mut self, what: Expected) -> Result<&'t str, ParseErrorKind> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let fits = c.is_ascii_alphabetic()
                || c == '_'
                || c == ':'
                || (self.pos > start && c.is_ascii_digit());
            if !fits {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.expected(what));
        }
        Ok(&self.text[start..self.pos])
    }

    fn expect(&mut self, wanted: char) -> Result<(), ParseErrorKind> {
        if self.peek() == Some(wanted) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.expected(Expected::Char(wanted)))
        }
    }

    fn quoted(&mut self) -> Result<String, ParseErrorKind> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some(c @ ('\\' | '"')) => out.push(c),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => return Err(ParseErrorKind::UnterminatedLabelValue),
                },
                Some(c) => out.push(c),
                None => return Err(ParseErrorKind::UnterminatedLabelValue),
            }
        }
    }

    fn word(&mut self) -> &'t str {
        let start = self.pos;
        while self.peek().is_some_and(|c| !c.is_whitespace()) {
            self.pos += self.peek().map_or(1, char::len_utf8);
        }
        &self.text[start..self.pos]
    }
}

fn sample_line(line: &str) -> Result<Line, ParseErrorKind> {
    let mut cursor = Cursor { text: line, pos: 0 };
    let name = cursor.name(Expected::MetricName)?.to_owned();
    let mut labels = Vec::new();
    cursor.skip_spaces();
    if cursor.peek() == Some('{') {
        cursor.pos += 1;
        loop {
            cursor.skip_spaces();
            if cursor.peek() == Some('}') {
                cursor.pos += 1;
                break;
            }
            let label = cursor.name(Expected::LabelName)?.to_owned();
            cursor.skip_spaces();
            cursor.expect('=')?;
            cursor.skip_spaces();
            let value = cursor.quoted()?;
            labels.push((label, value));
            cursor.skip_spaces();
            match cursor.peek() {
                Some(',') => cursor.pos += 1,
                Some('}') => {
                    cursor.pos += 1;
                    break;
                }
                _ => return Err(cursor.expected(Expected::LabelEnd)),
            }
        }
    }
    cursor.skip_spaces();
    let text = cursor.word();
    if text.is_empty() {
        return Err(ParseErrorKind::NoValue { name });
    }
    let Some(value) = parse_value(text) else {
        return Err(ParseErrorKind::InvalidValue {
            name,
            text: text.to_owned(),
        });
    };
    // OpenMetrics exemplars (`# {trace_id="…"} 1.0`) follow a `#`; they are ignored.
    cursor.skip_spaces();
    if cursor.peek().is_some_and(|c| c != '#') {
        let timestamp = cursor.word();
        if timestamp.parse::<f64>().is_err() {
            return Err(ParseErrorKind::InvalidTimestamp {
                name,
                timestamp: timestamp.to_owned(),
            });
        }
        cursor.skip_spaces();
    }
    if cursor.peek().is_some_and(|c| c != '#') {
        return Err(ParseErrorKind::Trailing {
            text: cursor.word().to_owned(),
        });
    }
    Ok(Line {
        name,
        labels,
        value,
    })
}

/// A sample value: a float in Go's syntax, `NaN`, `+Inf`, `-Inf`.
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" | "nan" => Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"
# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
odd{a="x,y=z", b="}"  ,} 1

# TYPE rpc_duration_seconds histogram
rpc_duration_seconds_bucket{route="a",le="0.05"} 24054
rpc_duration_seconds_bucket{route="a",le="+Inf"} 144320
rpc_duration_seconds_sum{route="a"} 53423
rpc_duration_seconds_count{route="a"} 144320
# TYPE gc_seconds summary
gc_seconds{quantile="0.5"} 0.01
gc_seconds_count 7
"#;

    #[test]
    fn parses_the_format_with_escapes_and_odd_labels() {
        let exposition = parse(FIXTURE).unwrap();
        assert_eq!(exposition.lines.len(), 12);
        let path = &exposition.lines[2];
        assert_eq!(path.labels[0].1, r"C:\DIR\FILE.TXT");
        assert_eq!(path.labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
        assert_eq!(exposition.lines[4].value, f64::INFINITY);
        assert_eq!(
            exposition.lines[5].labels,
            [("a".into(), "x,y=z".into()), ("b".into(), "}".into())]
        );
        assert_eq!(
            exposition.family("rpc_duration_seconds_bucket"),
            ("rpc_duration_seconds", FamilyType::Histogram)
        );
        assert_eq!(
            exposition.family("gc_seconds_count"),
            ("gc_seconds", FamilyType::Summary)
        );
        assert_eq!(
            exposition.family("gc_seconds_bucket"),
            ("gc_seconds_bucket", FamilyType::Untyped)
        );
        assert_eq!(
            exposition.family("http_requests_total"),
            ("http_requests_total", FamilyType::Counter)
        );
    }

    #[test]
    fn locates_malformed_lines() {
        let cases = [
            ("ok 1\nbad{a=1} 2", "line 2: expected `\"`, found `1`"),
            (
                "x{a=\"1\" 2",
                "line 1: expected `,` or `}` after a label, found `2`",
            ),
            ("x", "line 1: `x` has no value"),
            ("x one", "line 1: invalid value `one` of `x`"),
            ("x 1 2 3", "line 1: unexpected `3` after the value"),
            ("x{a=\"1", "line 1: unterminated label value"),
            ("<html>", "line 1: expected a metric name, found `<`"),
            ("x 1 noon", "line 1: invalid timestamp `noon` of `x`"),
        ];
        for (text, message) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), message, "{text}");
        }
    }

    #[test]
    fn errors_carry_the_line_and_the_token() {
        assert_eq!(
            parse("ok 1\nbad{a=1} 2").unwrap_err(),
            ParseError {
                line: 2,
                kind: ParseErrorKind::Expected {
                    expected: Expected::Char('"'),
                    found: Some('1'),
                },
            }
        );
        assert_eq!(
            parse("x{").unwrap_err().kind,
            ParseErrorKind::Expected {
                expected: Expected::LabelName,
                found: None,
            }
        );
        assert_eq!(
            parse("x{").unwrap_err().to_string(),
            "line 1: expected a label name or `}`, found the end of the line"
        );
    }

    #[test]
    fn ignores_exemplars_and_other_comments() {
        let exposition = parse("# EOF\nx_total 3 # {trace_id=\"a\"} 1\n# random words").unwrap();
        assert_eq!(exposition.lines.len(), 1);
        assert_eq!(exposition.lines[0].value, 3.0);
    }
}
