//! Threshold expressions, parsed when the plan loads (k6's syntax, which users know).
//!
//! A threshold key selects a metric; each of its checks compares one aggregation of it:
//!
//! ```text
//! key         = metric [ "{" tag ":" value { "," tag ":" value } "}" ] [ "#" label ]
//! metric      = name { "." name }            ; `shuffler.cpu_percent` for collected metrics
//! check       = aggregation operator operand
//! aggregation = "count" | "rate" | "value" | "avg" | "min" | "med" | "max"
//!             | "p" number | "p(" number ")"     ; percentile, 0 < number <= 100
//! operator    = "<" | "<=" | ">" | ">=" | "==" | "!="
//! operand     = number [ unit ]
//!             | "baseline" [ "*" number ]         ; the same figure of the baseline run
//!             | number "*" "baseline"
//! unit        = "us" | "ms" | "s" | "m" | "%"
//! ```
//!
//! Times are normalised to milliseconds (a bare number on a trend is milliseconds, as in
//! k6) and percentages to fractions (`5%` is `0.05`, as is a bare `0.05` on a rate).
//!
//! This file holds the parsed types and the key parser; checks are parsed in
//! `threshold/scanner.rs`.

mod scanner;

use std::fmt;

pub use scanner::parse_check;

/// A parsed threshold key: `http_req_duration{name:broadcast}#regression`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub metric: String,
    /// Tag filters, in the order written.
    pub tags: Vec<(String, String)>,
    pub label: Option<String>,
    /// Character offsets of the metric name and of each tag name in the key, for errors.
    pub tag_offsets: Vec<usize>,
}

/// How a metric's samples are reduced to one number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregation {
    Count,
    Rate,
    Value,
    Avg,
    Min,
    Med,
    Max,
    Percentile(f64),
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count => f.write_str("count"),
            Self::Rate => f.write_str("rate"),
            Self::Value => f.write_str("value"),
            Self::Avg => f.write_str("avg"),
            Self::Min => f.write_str("min"),
            Self::Med => f.write_str("med"),
            Self::Max => f.write_str("max"),
            Self::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Operator {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Self::Lt => left < right,
            Self::Le => left <= right,
            Self::Gt => left > right,
            Self::Ge => left >= right,
            Self::Eq => left == right,
            Self::Ne => left != right,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// The unit an operand was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    None,
    Time,
    Percent,
}

/// The right-hand side of a check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operand {
    /// A number, normalised: times in ms, percentages as fractions.
    Value { value: f64, unit: Unit },
    /// The same aggregation of the same metric in the baseline run, times a factor.
    Baseline { factor: f64 },
}

/// One parsed check: `p95 < 200ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub aggregation: Aggregation,
    pub operator: Operator,
    pub operand: Operand,
}

/// A parse error: what is wrong and where in the text (character offset and length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub offset: usize,
    pub len: usize,
    pub help: Option<String>,
}

impl ParseError {
    fn new(message: impl Into<String>, offset: usize, len: usize) -> Self {
        Self {
            message: message.into(),
            offset,
            len: len.max(1),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Parses a threshold key.
pub fn parse_selector(key: &str) -> Result<Selector, ParseError> {
    let (body, label) = match key.split_once('#') {
        Some((body, label)) => {
            if label.is_empty()
                || !label
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                return Err(ParseError::new(
                    "a threshold label after `#` must be a word, like `#regression`",
                    body.len(),
                    label.len() + 1,
                ));
            }
            (body, Some(label.to_owned()))
        }
        None => (key, None),
    };
    let (metric, tags_text) = match body.split_once('{') {
        Some((metric, rest)) => {
            let Some(inner) = rest.strip_suffix('}') else {
                return Err(ParseError::new(
                    "a tag filter must end with `}`, like `http_req_duration{name:login}`",
                    metric.len(),
                    rest.len() + 1,
                ));
            };
            (metric, Some((metric.len() + 1, inner)))
        }
        None => (body, None),
    };
    let metric_ok = !metric.is_empty()
        && metric.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    if !metric_ok {
        return Err(ParseError::new(
            format!("invalid metric name `{metric}`: use letters, digits, `_` and `.`"),
            0,
            metric.chars().count(),
        ));
    }
    let mut tags = Vec::new();
    let mut tag_offsets = Vec::new();
    if let Some((start, inner)) = tags_text {
        let mut offset = start;
        for part in inner.split(',') {
            let Some((tag, value)) = part.split_once(':') else {
                return Err(ParseError::new(
                    format!("invalid tag filter `{part}`: expected `tag:value`"),
                    offset,
                    part.chars().count(),
                ));
            };
            let lead = tag.len() - tag.trim_start().len();
            if tag.trim().is_empty() || value.trim().is_empty() {
                return Err(ParseError::new(
                    format!("invalid tag filter `{part}`: expected `tag:value`"),
                    offset,
                    part.chars().count(),
                ));
            }
            tag_offsets.push(offset + lead);
            tags.push((tag.trim().to_owned(), value.trim().to_owned()));
            offset += part.len() + 1;
        }
    }
    Ok(Selector {
        metric: metric.to_owned(),
        tags,
        label,
        tag_offsets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_selectors() {
        let selector =
            parse_selector("http_req_duration{name:broadcast, scenario:user}#slow").unwrap();
        assert_eq!(selector.metric, "http_req_duration");
        assert_eq!(
            selector.tags,
            [
                ("name".into(), "broadcast".into()),
                ("scenario".into(), "user".into())
            ]
        );
        assert_eq!(selector.tag_offsets, [18, 34]);
        assert_eq!(selector.label.as_deref(), Some("slow"));
        assert_eq!(
            parse_selector("shuffler.cpu_percent").unwrap().metric,
            "shuffler.cpu_percent"
        );
        assert!(parse_selector("http_req_duration{name:x").is_err());
        assert!(parse_selector("http req").is_err());
        assert!(parse_selector("a{name}").is_err());
        assert!(parse_selector("a#").is_err());
    }
}
