//! Value newtypes of the plan language: durations, rates, sizes and sleep ranges.
//!
//! Each is written as a string in YAML (`"30s"`, `"500/s"`, `"64KiB"`, `"1s..3s"`), parsed
//! once when the plan loads, and carries its own JSON Schema (a `pattern`, a description and
//! examples) so editors flag a bad value before loadplan sees it. The patterns are stricter
//! than the parsers behind them: humantime would read `1M` as a month, the schema does not.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A value of the plan language that does not parse: which kind of value and the text.
/// Its `Display` is the message the schema check and serde show
/// (``invalid duration `30x`: …``), so the author sees the same words wherever the value
/// is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseUnitError {
    pub kind: ValueKind,
    /// The offending text, as written.
    pub text: String,
}

/// The kinds of value [`ParseUnitError`] speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Duration,
    Rate,
    Size,
    /// A `sleep` range without one of its ends (`1s..`); a bad end is a `Duration` error.
    SleepRange,
    /// A share of iterations: `10%` (`chance:`).
    Percent,
}

impl ParseUnitError {
    fn new(kind: ValueKind, text: &str) -> Self {
        Self {
            kind,
            text: text.to_owned(),
        }
    }
}

impl fmt::Display for ParseUnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.text;
        match self.kind {
            ValueKind::Duration => write!(
                f,
                "invalid duration `{text}`: expected a number with a unit (ms, s, m, h), like `500ms`, `30s` or `1h30m`"
            ),
            ValueKind::Rate => write!(
                f,
                "invalid rate `{text}`: expected a number of events per unit of time, like `500/s`, `30/m` or `100/h`"
            ),
            ValueKind::Size => write!(
                f,
                "invalid size `{text}`: expected a number of bytes with an optional unit (B, KB, KiB, MB, MiB, GB, GiB), like `64KiB`"
            ),
            ValueKind::SleepRange => write!(
                f,
                "invalid sleep range `{text}`: expected `MIN..MAX`, like `1s..3s`"
            ),
            ValueKind::Percent => write!(
                f,
                "invalid chance `{text}`: expected a percentage from 0% to 100%, like `10%` or `0.5%`"
            ),
        }
    }
}

impl std::error::Error for ParseUnitError {}

impl ParseUnitError {
    /// The value as it was probably meant, when the text is a number and a unit this kind
    /// knows written another way — a space (`100 ms`), a word (`30 sec`, `5 mins`,
    /// `2 hours`, `10 per second`), another case (`10 mb`) — and the rewrite parses.
    /// `1M` gets none: a month or a minute cannot be told apart.
    pub fn suggestion(&self) -> Option<String> {
        let text = self.text.trim();
        let rewritten = match self.kind {
            ValueKind::Duration | ValueKind::SleepRange => {
                let ends: Option<Vec<String>> = text.split("..").map(rewrite_duration).collect();
                ends?.join("..")
            }
            ValueKind::Size => rewrite_size(text)?,
            ValueKind::Rate => rewrite_rate(text)?,
            ValueKind::Percent => rewrite_percent(text)?,
        };
        let parses = match self.kind {
            ValueKind::Duration | ValueKind::SleepRange => rewritten.parse::<SleepTime>().is_ok(),
            ValueKind::Size => rewritten.parse::<Size>().is_ok(),
            ValueKind::Rate => rewritten.parse::<Rate>().is_ok(),
            ValueKind::Percent => rewritten.parse::<Chance>().is_ok(),
        };
        (parses && rewritten != self.text).then_some(rewritten)
    }

    /// `write `100ms``, when there is a [`ParseUnitError::suggestion`].
    pub fn help(&self) -> Option<String> {
        self.suggestion().map(|text| format!("write `{text}`"))
    }
}

/// `(number, unit)` pairs of a text like `1 h 30 min`, spaces anywhere between them.
fn numbers_and_units(text: &str) -> Option<Vec<(&str, &str)>> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let (number, after) = rest.split_at(number_len);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        pairs.push((number, unit));
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// `10 %`, `10 percent` → `10%`.
fn rewrite_percent(text: &str) -> Option<String> {
    let number = text
        .strip_suffix("percent")
        .or_else(|| text.strip_suffix('%'))?
        .trim();
    Some(format!("{number}%"))
}

fn rewrite_duration(text: &str) -> Option<String> {
    let mut out = String::new();
    for (number, unit) in numbers_and_units(text)? {
        let unit = match unit {
            // A capital M is a month to humantime and a minute to some: not guessed.
            "M" => return None,
            unit => match unit.to_ascii_lowercase().as_str() {
                "ms" | "msec" | "msecs" | "milli" | "millis" | "millisecond" | "milliseconds" => {
                    "ms"
                }
                "s" | "sec" | "secs" | "second" | "seconds" => "s",
                "m" | "min" | "mins" | "minute" | "minutes" => "m",
                "h" | "hr" | "hrs" | "hour" | "hours" => "h",
                _ => return None,
            },
        };
        out.push_str(number);
        out.push_str(unit);
    }
    Some(out)
}

fn rewrite_size(text: &str) -> Option<String> {
    let [(number, unit)] = numbers_and_units(text)?[..] else {
        return None;
    };
    let unit = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "byte" | "bytes" => "",
        "kb" => "KB",
        "kib" => "KiB",
        "mb" => "MB",
        "mib" => "MiB",
        "gb" => "GB",
        "gib" => "GiB",
        _ => return None,
    };
    Some(format!("{number}{unit}"))
}

fn rewrite_rate(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let (number, unit) = match lower.split_once('/') {
        Some((number, unit)) => (number.trim(), unit.trim()),
        None => {
            let (number, unit) = lower.trim().split_once(char::is_whitespace)?;
            let unit = unit.trim();
            match unit {
                "rps" => (number, "s"),
                "rpm" => (number, "m"),
                _ => (number, unit.strip_prefix("per ")?.trim()),
            }
        }
    };
    let unit = match unit {
        "s" | "sec" | "second" => "s",
        "m" | "min" | "minute" => "m",
        "h" | "hr" | "hour" => "h",
        _ => return None,
    };
    Some(format!("{number}/{unit}"))
}

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Implements `Deserialize` through `FromStr`, `Serialize` through `Display`, and a string
/// `JsonSchema` with the given pattern, description and examples.
macro_rules! string_newtype {
    ($ty:ident, $name:literal, $pattern:expr, $description:literal, [$($example:literal),*]) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "pattern": $pattern,
                    "description": $description,
                    "examples": [$($example),*],
                })
            }
        }
    };
}

const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";

/// A length of time: `500ms`, `30s`, `2m`, `1h30m`, `1.5s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }
}

impl FromStr for Duration {
    type Err = ParseUnitError;

    fn from_str(text: &str) -> Result<Self, ParseUnitError> {
        let invalid = || ParseUnitError::new(ValueKind::Duration, text);
        let mut total = std::time::Duration::ZERO;
        let mut rest = text;
        if rest.is_empty() {
            return Err(invalid());
        }
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(invalid)?;
            let (number, after) = rest.split_at(number_len);
            let unit_len = after
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_len);
            let value: f64 = number.parse().map_err(|_| invalid())?;
            let seconds = match unit {
                "ms" => value / 1000.0,
                "s" => value,
                "m" => value * 60.0,
                "h" => value * 3600.0,
                _ => return Err(invalid()),
            };
            total += std::time::Duration::try_from_secs_f64(seconds).map_err(|_| invalid())?;
            rest = after;
        }
        Ok(Self(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // humantime writes `1h 30m`; the plan language has no spaces.
        let text = humantime::format_duration(self.0)
            .to_string()
            .replace(' ', "");
        f.write_str(if text.is_empty() { "0s" } else { &text })
    }
}

string_newtype!(
    Duration,
    "Duration",
    DURATION_PATTERN,
    "A duration: a number and a unit (`ms`, `s`, `m`, `h`), possibly several in a row",
    ["500ms", "30s", "2m", "1h30m"]
);

/// A rate of events per unit of time: `500/s`, `30/m`, `2.5/s`, `100/h`. Stored per second.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate {
    per_second: f64,
    text_unit: char,
}

impl Rate {
    pub fn per_second(self) -> f64 {
        self.per_second
    }
}

impl FromStr for Rate {
    type Err = ParseUnitError;

    fn from_str(text: &str) -> Result<Self, ParseUnitError> {
        let invalid = || ParseUnitError::new(ValueKind::Rate, text);
        let (number, unit) = text.split_once('/').ok_or_else(invalid)?;
        let value: f64 = number.trim().parse().map_err(|_| invalid())?;
        if !value.is_finite() || value < 0.0 {
            return Err(invalid());
        }
        let (per_second, text_unit) = match unit.trim() {
            "s" => (value, 's'),
            "m" => (value / 60.0, 'm'),
            "h" => (value / 3600.0, 'h'),
            _ => return Err(invalid()),
        };
        Ok(Self {
            per_second,
            text_unit,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = match self.text_unit {
            'm' => self.per_second * 60.0,
            'h' => self.per_second * 3600.0,
            _ => self.per_second,
        };
        write!(f, "{value}/{}", self.text_unit)
    }
}

string_newtype!(
    Rate,
    "Rate",
    r"^[0-9]+(\.[0-9]+)?/(s|m|h)$",
    "A rate: events per second (`/s`), minute (`/m`) or hour (`/h`)",
    ["500/s", "30/m"]
);

/// A size in bytes: `256`, `64KiB`, `1MiB`, `10KB`, `2GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = ParseUnitError;

    fn from_str(text: &str) -> Result<Self, ParseUnitError> {
        let invalid = || ParseUnitError::new(ValueKind::Size, text);
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: u64 = number.parse().map_err(|_| invalid())?;
        let factor: u64 = match unit {
            "" | "B" => 1,
            "KB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1_000_000,
            "MiB" => 1 << 20,
            "GB" => 1_000_000_000,
            "GiB" => 1 << 30,
            _ => return Err(invalid()),
        };
        value.checked_mul(factor).map(Self).ok_or_else(invalid)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

string_newtype!(
    Size,
    "Size",
    r"^[0-9]+(B|KB|KiB|MB|MiB|GB|GiB)?$",
    "A size in bytes, with an optional unit: `B`, `KB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`",
    ["256", "64KiB", "1MiB"]
);

/// How long a `sleep` step waits: a fixed duration (`1s`) or a uniformly random one from a
/// range (`1s..3s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SleepTime {
    pub min: Duration,
    pub max: Duration,
}

impl FromStr for SleepTime {
    type Err = ParseUnitError;

    fn from_str(text: &str) -> Result<Self, ParseUnitError> {
        match text.split_once("..") {
            None => {
                let fixed = text.parse()?;
                Ok(Self {
                    min: fixed,
                    max: fixed,
                })
            }
            Some((min, max)) => {
                if min.is_empty() || max.is_empty() {
                    return Err(ParseUnitError::new(ValueKind::SleepRange, text));
                }
                // A reversed range is reported by the analyzer, with its position.
                Ok(Self {
                    min: min.parse()?,
                    max: max.parse()?,
                })
            }
        }
    }
}

impl fmt::Display for SleepTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..{}", self.min, self.max)
        }
    }
}

string_newtype!(
    SleepTime,
    "SleepTime",
    r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+(\.\.([0-9]+(\.[0-9]+)?(ms|s|m|h))+)?$",
    "A fixed duration (`1s`) or a random one drawn uniformly from a range (`1s..3s`)",
    ["1s", "500ms..2s"]
);

const PERCENT_PATTERN: &str = r"^(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)%$";

/// A probability written as a percentage: `10%`, `0.5%`, `100%`. Stored as a fraction
/// (0 to 1).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Chance(pub f64);

impl FromStr for Chance {
    type Err = ParseUnitError;

    fn from_str(text: &str) -> Result<Self, ParseUnitError> {
        let invalid = || ParseUnitError::new(ValueKind::Percent, text);
        let number = text.strip_suffix('%').ok_or_else(invalid)?;
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
        if !digits(whole) || !digits(fraction) {
            return Err(invalid());
        }
        let percent: f64 = number.parse().map_err(|_| invalid())?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(invalid());
        }
        Ok(Self(percent / 100.0))
    }
}

impl fmt::Display for Chance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0 * 100.0)
    }
}

string_newtype!(
    Chance,
    "Chance",
    PERCENT_PATTERN,
    "A percentage from 0% to 100%: the share of iterations that run the step",
    ["10%", "0.5%", "50%"]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("500ms", 500),
            ("30s", 30_000),
            ("2m", 120_000),
            ("1h30m", 5_400_000),
            ("1.5s", 1_500),
            ("1m30s", 90_000),
        ];
        for (text, millis) in cases {
            let duration: Duration = text.parse().unwrap();
            assert_eq!(duration.0.as_millis(), millis, "{text}");
        }
        for bad in ["", "30", "s", "3x", "1M", "-1s", "1 s", "1.s.s"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn duration_display_round_trips() {
        for text in ["500ms", "30s", "2m", "1h30m"] {
            let duration: Duration = text.parse().unwrap();
            assert_eq!(duration.to_string(), text);
        }
    }

    #[test]
    fn rates() {
        let rate: Rate = "500/s".parse().unwrap();
        assert_eq!(rate.per_second(), 500.0);
        let rate: Rate = "30/m".parse().unwrap();
        assert_eq!(rate.per_second(), 0.5);
        assert_eq!(rate.to_string(), "30/m");
        for bad in ["500", "/s", "5/d", "-1/s", "x/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!("256".parse::<Size>().unwrap().0, 256);
        assert_eq!("64KiB".parse::<Size>().unwrap().0, 65_536);
        assert_eq!("2MB".parse::<Size>().unwrap().0, 2_000_000);
        assert!("1kb".parse::<Size>().is_err());
        assert!("99999999999999999999GiB".parse::<Size>().is_err());
    }

    #[test]
    fn sleep_times() {
        let fixed: SleepTime = "1s".parse().unwrap();
        assert_eq!(fixed.min, fixed.max);
        let range: SleepTime = "500ms..2s".parse().unwrap();
        assert_eq!(range.min.0.as_millis(), 500);
        assert_eq!(range.max.0.as_millis(), 2000);
        let reversed: SleepTime = "3s..1s".parse().unwrap();
        assert!(reversed.min > reversed.max);
    }

    #[test]
    fn recognisable_units_written_another_way_are_suggested() {
        let durations = [
            ("100 ms", Some("100ms")),
            ("1.5 s", Some("1.5s")),
            ("30 sec", Some("30s")),
            ("5 mins", Some("5m")),
            ("2 hours", Some("2h")),
            ("1h 30m", Some("1h30m")),
            ("1 MIN 30 SECONDS", Some("1m30s")),
            ("1M", None),
            ("30x", None),
            ("fast", None),
            ("30", None),
        ];
        for (text, expected) in durations {
            let error = text.parse::<Duration>().unwrap_err();
            assert_eq!(error.suggestion().as_deref(), expected, "{text}");
        }
        let error = "1 s..3 sec".parse::<SleepTime>().unwrap_err();
        assert_eq!(error.text, "1 s");
        let sizes = [
            ("10 MB", Some("10MB")),
            ("10mb", Some("10MB")),
            ("64 kib", Some("64KiB")),
            ("256 bytes", Some("256")),
            ("1.5MB", None),
            ("5 parsecs", None),
        ];
        for (text, expected) in sizes {
            let error = text.parse::<Size>().unwrap_err();
            assert_eq!(error.suggestion().as_deref(), expected, "{text}");
        }
        let rates = [
            ("5/sec", Some("5/s")),
            ("10 per second", Some("10/s")),
            ("30 rpm", Some("30/m")),
            ("100 / hour", Some("100/h")),
            ("5/d", None),
        ];
        for (text, expected) in rates {
            let error = text.parse::<Rate>().unwrap_err();
            assert_eq!(error.suggestion().as_deref(), expected, "{text}");
        }
        let error = "100 ms".parse::<Duration>().unwrap_err();
        assert_eq!(error.help().as_deref(), Some("write `100ms`"));
    }

    #[test]
    fn errors_name_the_value_and_keep_their_words() {
        let cases: [(Result<(), ParseUnitError>, ValueKind, &str, &str); 5] = [
            (
                "30x".parse::<Duration>().map(drop),
                ValueKind::Duration,
                "30x",
                "invalid duration `30x`: expected a number with a unit (ms, s, m, h), like `500ms`, `30s` or `1h30m`",
            ),
            (
                "5/d".parse::<Rate>().map(drop),
                ValueKind::Rate,
                "5/d",
                "invalid rate `5/d`: expected a number of events per unit of time, like `500/s`, `30/m` or `100/h`",
            ),
            (
                "1kb".parse::<Size>().map(drop),
                ValueKind::Size,
                "1kb",
                "invalid size `1kb`: expected a number of bytes with an optional unit (B, KB, KiB, MB, MiB, GB, GiB), like `64KiB`",
            ),
            (
                "1s..".parse::<SleepTime>().map(drop),
                ValueKind::SleepRange,
                "1s..",
                "invalid sleep range `1s..`: expected `MIN..MAX`, like `1s..3s`",
            ),
            // A bad end of a range is that end's error.
            (
                "1s..3x".parse::<SleepTime>().map(drop),
                ValueKind::Duration,
                "3x",
                "invalid duration `3x`: expected a number with a unit (ms, s, m, h), like `500ms`, `30s` or `1h30m`",
            ),
        ];
        for (result, kind, text, message) in cases {
            let error = result.unwrap_err();
            assert_eq!((error.kind, error.text.as_str()), (kind, text));
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn the_chance_pattern_admits_exactly_what_the_parser_does() {
        let pattern = regex::Regex::new(PERCENT_PATTERN).unwrap();
        for text in [
            "0%", "10%", "0.5%", "99.99%", "100%", "100.0%", "150%", "101%", "10", "10 %", "1000%",
            ".5%", "5.%", "1.2.3%",
        ] {
            assert_eq!(
                pattern.is_match(text),
                text.parse::<Chance>().is_ok(),
                "{text}"
            );
        }
        assert_eq!("12.5%".parse::<Chance>().unwrap().0, 0.125);
    }
}
