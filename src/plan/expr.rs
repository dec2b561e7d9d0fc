//! Arithmetic expressions of `derived:` metrics, parsed when the plan loads.
//!
//! ```text
//! expr   = term { ("+" | "-") term }
//! term   = factor { ("*" | "/") factor }
//! factor = number | name | "(" expr ")" | "-" factor
//! name   = word { "." word }        ; `duration_s`, `vars.n_consumers`, `shuffler.messages_read_total`
//! ```
//!
//! A name is a run value (`duration_s`, `vus_max`, `iterations`…), a plan variable
//! (`vars.NAME`), another metric's figure (`http_req_duration.p95`, `http_reqs.count`,
//! `shuffler.cpu_percent.avg`) or another derived metric. Dividing by zero gives no value
//! ("n/a" in reports), never infinity.

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    /// A name and its character offset in the expression text.
    Name(String, usize),
    Neg(Box<Expr>),
    Binary(char, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Every name the expression uses, with its offset.
    pub fn names(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names<'e>(&'e self, out: &mut Vec<(&'e str, usize)>) {
        match self {
            Self::Number(_) => {}
            Self::Name(name, offset) => out.push((name, *offset)),
            Self::Neg(inner) => inner.collect_names(out),
            Self::Binary(_, left, right) => {
                left.collect_names(out);
                right.collect_names(out);
            }
        }
    }

    /// The value, given the value of each name; `None` when a name has no value or a
    /// division by zero happens.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        Some(match self {
            Self::Number(value) => *value,
            Self::Name(name, _) => lookup(name)?,
            Self::Neg(inner) => -inner.eval(lookup)?,
            Self::Binary(op, left, right) => {
                let (left, right) = (left.eval(lookup)?, right.eval(lookup)?);
                match op {
                    '+' => left + right,
                    '-' => left - right,
                    '*' => left * right,
                    _ if right == 0.0 => return None,
                    _ => left / right,
                }
            }
        })
    }
}

/// A parse error with its character offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub message: String,
    pub offset: usize,
}

/// Parses an expression.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser { chars, pos: 0 };
    let expr = parser.expr()?;
    parser.skip_spaces();
    if parser.pos < parser.chars.len() {
        return Err(parser.error(format!("unexpected `{}`", parser.chars[parser.pos])));
    }
    Ok(expr)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> ExprError {
        ExprError {
            message: message.into(),
            offset: self.pos,
        }
    }

    fn skip_spaces(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_spaces();
        self.chars.get(self.pos).copied()
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.term()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.factor()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Expr, ExprError> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.expr()?;
                if self.peek() != Some(')') {
                    return Err(self.error("expected `)`"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some('-') => {
                self.pos += 1;
                Ok(Expr::Neg(Box::new(self.factor()?)))
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_digit() || *c == '.')
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                text.parse().map(Expr::Number).map_err(|_| ExprError {
                    message: format!("invalid number `{text}`"),
                    offset: start,
                })
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                if name.ends_with('.') || name.contains("..") {
                    return Err(ExprError {
                        message: format!("invalid name `{name}`"),
                        offset: start,
                    });
                }
                Ok(Expr::Name(name, start))
            }
            Some(c) => Err(self.error(format!("expected a number, a name or `(`, found `{c}`"))),
            None => {
                Err(self.error("expected a number, a name or `(` at the end of the expression"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<f64> {
        match name {
            "a" => Some(10.0),
            "b.c" => Some(4.0),
            "zero" => Some(0.0),
            _ => None,
        }
    }

    #[test]
    fn evaluates_with_precedence() {
        let cases = [
            ("a / b.c * 100", Some(250.0)),
            ("(a + 2) * 2", Some(24.0)),
            ("a - -2", Some(12.0)),
            ("a + b.c * 2", Some(18.0)),
            ("a / zero", None),
            ("missing + 1", None),
        ];
        for (text, value) in cases {
            assert_eq!(parse(text).unwrap().eval(&lookup), value, "{text}");
        }
    }

    #[test]
    fn reports_errors_with_offsets() {
        let cases = [
            (
                "a +",
                3,
                "expected a number, a name or `(` at the end of the expression",
            ),
            ("(a + 1", 6, "expected `)`"),
            ("a b", 2, "unexpected `b`"),
            ("a * $", 4, "expected a number, a name or `(`, found `$`"),
        ];
        for (text, offset, message) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(
                (error.offset, error.message.as_str()),
                (offset, message),
                "{text}"
            );
        }
    }

    #[test]
    fn lists_names() {
        let expr = parse("x.total / (y + vars.n)").unwrap();
        assert_eq!(expr.names(), [("x.total", 0), ("y", 11), ("vars.n", 15)]);
    }
}
