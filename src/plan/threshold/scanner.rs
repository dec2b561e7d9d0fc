//! The check parser: `p95 < 200ms` read left to right by a `Scanner` over the text,
//! one method per part of the `check` rule (aggregation, operator, operand), each error
//! with the character offset it is about.

use super::{Aggregation, Check, Operand, Operator, ParseError, Unit};

const AGGREGATIONS: [&str; 8] = ["count", "rate", "value", "avg", "min", "med", "max", "p95"];

/// Parses one check, like `p95 < 200ms`.
pub fn parse_check(text: &str) -> Result<Check, ParseError> {
    let mut scanner = Scanner { text, pos: 0 };
    scanner.skip_spaces();
    let aggregation = scanner.aggregation()?;
    scanner.skip_spaces();
    let operator = scanner.operator()?;
    scanner.skip_spaces();
    let operand = scanner.operand()?;
    scanner.skip_spaces();
    if scanner.pos < text.len() {
        let rest = &text[scanner.pos..];
        return Err(ParseError::new(
            format!("unexpected `{}` after the threshold value", rest.trim_end()),
            scanner.char_offset(),
            rest.trim_end().chars().count(),
        ));
    }
    Ok(Check {
        aggregation,
        operator,
        operand,
    })
}

struct Scanner<'t> {
    text: &'t str,
    /// Byte position.
    pos: usize,
}

impl Scanner<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn char_offset(&self) -> usize {
        self.text[..self.pos].chars().count()
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn word(&self) -> &str {
        let rest = self.rest();
        let end = rest
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || c == '.' || c == '(' || c == ')' || c == '_')
            })
            .unwrap_or(rest.len());
        &rest[..end]
    }

    fn aggregation(&mut self) -> Result<Aggregation, ParseError> {
        let word = self.word().to_owned();
        let offset = self.char_offset();
        let aggregation = match word.as_str() {
            "count" => Aggregation::Count,
            "rate" => Aggregation::Rate,
            "value" => Aggregation::Value,
            "avg" => Aggregation::Avg,
            "min" => Aggregation::Min,
            "med" => Aggregation::Med,
            "max" => Aggregation::Max,
            "" => {
                return Err(ParseError::new(
                    "a threshold starts with an aggregation: count, rate, value, avg, min, med, max or pN",
                    offset,
                    1,
                )
                .help("write it like `p95 < 200ms` or `rate < 5%`"));
            }
            _ => {
                let number = word
                    .strip_prefix("p(")
                    .and_then(|inner| inner.strip_suffix(')'))
                    .or_else(|| word.strip_prefix('p'));
                match number.and_then(|n| n.parse::<f64>().ok()) {
                    Some(p) if p > 0.0 && p <= 100.0 => Aggregation::Percentile(p),
                    Some(_) => {
                        return Err(ParseError::new(
                            format!(
                                "percentile `{word}` is out of range: it must be above 0 and at most 100"
                            ),
                            offset,
                            word.chars().count(),
                        ));
                    }
                    None => {
                        let error = ParseError::new(
                            format!(
                                "unknown aggregation `{word}`: expected count, rate, value, avg, min, med, max or pN (like p95 or p(99.9))"
                            ),
                            offset,
                            word.chars().count(),
                        );
                        return Err(match crate::diag::suggest(&word, AGGREGATIONS) {
                            Some(found) => error.help(format!("did you mean `{found}`?")),
                            None => error,
                        });
                    }
                }
            }
        };
        self.pos += word.len();
        Ok(aggregation)
    }

    fn operator(&mut self) -> Result<Operator, ParseError> {
        let rest = self.rest();
        let (operator, len) = if rest.starts_with("<=") {
            (Operator::Le, 2)
        } else if rest.starts_with(">=") {
            (Operator::Ge, 2)
        } else if rest.starts_with("==") {
            (Operator::Eq, 2)
        } else if rest.starts_with("!=") {
            (Operator::Ne, 2)
        } else if rest.starts_with('<') {
            (Operator::Lt, 1)
        } else if rest.starts_with('>') {
            (Operator::Gt, 1)
        } else {
            let found = rest.split_whitespace().next().unwrap_or("");
            let error = ParseError::new(
                if found.is_empty() {
                    "expected an operator (<, <=, >, >=, ==, !=) after the aggregation".to_owned()
                } else {
                    format!("expected an operator (<, <=, >, >=, ==, !=), found `{found}`")
                },
                self.char_offset(),
                found.chars().count(),
            );
            return Err(if found == "=" {
                error.help("write `==` to compare for equality")
            } else {
                error
            });
        };
        self.pos += len;
        Ok(operator)
    }

    fn number(&mut self) -> Option<f64> {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value = rest[..end].parse().ok()?;
        self.pos += end;
        Some(value)
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let offset = self.char_offset();
        if let Some(after) = self.rest().strip_prefix("baseline") {
            let after = after.to_owned();
            self.pos += "baseline".len();
            let trimmed = after.trim_start();
            if trimmed.starts_with('*') {
                self.pos += after.len() - trimmed.len() + 1;
                self.skip_spaces();
                let at = self.char_offset();
                let factor = self.number().ok_or_else(|| {
                    ParseError::new(
                        "expected a number after `baseline *`, like `baseline * 1.2`",
                        at,
                        1,
                    )
                })?;
                return Ok(Operand::Baseline { factor });
            }
            return Ok(Operand::Baseline { factor: 1.0 });
        }
        let Some(value) = self.number() else {
            let found = self.rest().split_whitespace().next().unwrap_or("");
            return Err(ParseError::new(
                if found.is_empty() {
                    "expected a value after the operator, like `200ms`, `5%` or `baseline * 1.2`"
                        .to_owned()
                } else {
                    format!(
                        "expected a value, like `200ms`, `5%` or `baseline * 1.2`, found `{found}`"
                    )
                },
                offset,
                found.chars().count(),
            ));
        };
        let rest = self.rest();
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix('*') {
            let after_trim = after.trim_start();
            if after_trim.starts_with("baseline") {
                self.pos += rest.len() - after_trim.len() + "baseline".len();
                return Ok(Operand::Baseline { factor: value });
            }
        }
        let unit_text: String = rest
            .chars()
            .take_while(|c| c.is_alphabetic() || *c == '%')
            .collect();
        let (value, unit) = match unit_text.as_str() {
            "" => (value, Unit::None),
            "us" | "µs" => (value / 1000.0, Unit::Time),
            "ms" => (value, Unit::Time),
            "s" => (value * 1000.0, Unit::Time),
            "m" => (value * 60_000.0, Unit::Time),
            "%" => (value / 100.0, Unit::Percent),
            other => {
                return Err(ParseError::new(
                    format!("unknown unit `{other}`: expected us, ms, s, m or %"),
                    self.char_offset(),
                    other.chars().count(),
                ));
            }
        };
        self.pos += unit_text.len();
        Ok(Operand::Value { value, unit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(value: f64, unit: Unit) -> Operand {
        Operand::Value { value, unit }
    }

    #[test]
    fn parses_checks() {
        let cases = [
            (
                "p95 < 200ms",
                Aggregation::Percentile(95.0),
                Operator::Lt,
                value(200.0, Unit::Time),
            ),
            (
                "p(99.9) <= 1s",
                Aggregation::Percentile(99.9),
                Operator::Le,
                value(1000.0, Unit::Time),
            ),
            (
                "p99.9<1.5s",
                Aggregation::Percentile(99.9),
                Operator::Lt,
                value(1500.0, Unit::Time),
            ),
            (
                "rate < 5%",
                Aggregation::Rate,
                Operator::Lt,
                value(0.05, Unit::Percent),
            ),
            (
                "rate > 0.95",
                Aggregation::Rate,
                Operator::Gt,
                value(0.95, Unit::None),
            ),
            (
                "count < 10",
                Aggregation::Count,
                Operator::Lt,
                value(10.0, Unit::None),
            ),
            (
                "value != 0",
                Aggregation::Value,
                Operator::Ne,
                value(0.0, Unit::None),
            ),
            (
                "avg >= 250us",
                Aggregation::Avg,
                Operator::Ge,
                value(0.25, Unit::Time),
            ),
            (
                "med == 2m",
                Aggregation::Med,
                Operator::Eq,
                value(120_000.0, Unit::Time),
            ),
            (
                "p95 < baseline * 1.2",
                Aggregation::Percentile(95.0),
                Operator::Lt,
                Operand::Baseline { factor: 1.2 },
            ),
            (
                "p95 < 1.2 * baseline",
                Aggregation::Percentile(95.0),
                Operator::Lt,
                Operand::Baseline { factor: 1.2 },
            ),
            (
                "max <= baseline",
                Aggregation::Max,
                Operator::Le,
                Operand::Baseline { factor: 1.0 },
            ),
        ];
        for (text, aggregation, operator, operand) in cases {
            let check = parse_check(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(
                check,
                Check {
                    aggregation,
                    operator,
                    operand
                },
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_bad_checks_with_positions() {
        let cases = [
            (
                "p95 200ms",
                4,
                "expected an operator (<, <=, >, >=, ==, !=), found `200ms`",
            ),
            (
                "p95 = 200ms",
                4,
                "expected an operator (<, <=, >, >=, ==, !=), found `=`",
            ),
            (
                "pp95 < 1",
                0,
                "unknown aggregation `pp95`: expected count, rate, value, avg, min, med, max or pN (like p95 or p(99.9))",
            ),
            (
                "p101 < 1",
                0,
                "percentile `p101` is out of range: it must be above 0 and at most 100",
            ),
            (
                "p95 < fast",
                6,
                "expected a value, like `200ms`, `5%` or `baseline * 1.2`, found `fast`",
            ),
            (
                "p95 < 200 ms",
                10,
                "unexpected `ms` after the threshold value",
            ),
            (
                "p95 < 200sec",
                9,
                "unknown unit `sec`: expected us, ms, s, m or %",
            ),
            (
                "p95 < baseline *",
                16,
                "expected a number after `baseline *`, like `baseline * 1.2`",
            ),
            (
                "",
                0,
                "a threshold starts with an aggregation: count, rate, value, avg, min, med, max or pN",
            ),
        ];
        for (text, offset, message) in cases {
            let error = parse_check(text).unwrap_err();
            assert_eq!(
                (error.offset, error.message.as_str()),
                (offset, message),
                "{text}"
            );
        }
    }
}
