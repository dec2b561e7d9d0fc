//! Markdown through minijinja: the built-in report and history-row templates (or a plan's
//! own), rendered from the [`Report`] model with filters for durations, percentages and
//! deltas. Strict undefined mode: a misspelt field is an error naming the template, not an
//! empty cell.

use std::io::Write;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::format::{self, Style};
use super::model::Report;

/// The built-in report: the baselines document's `Metric | p50 | p95 | p99 | Threshold | Status` table,
/// the baseline comparison, a line per threshold and the chart.
pub const DEFAULT_TEMPLATE: &str = include_str!("templates/report.md.j2");

/// The built-in history row: the baselines document's `Date | Environment | Mode | Connections |
/// p95 Conn Time | p95 Broadcast | Pass/Fail`.
pub const DEFAULT_ROW_TEMPLATE: &str = include_str!("templates/row.md.j2");

/// The filters templates get besides minijinja's built-in ones.
pub const FILTERS: [&str; 8] = ["ms", "pct", "delta", "num", "secs", "date", "cell", "code"];

/// A template that does not parse or render; each names the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// minijinja's error: a syntax error, an unknown filter, a misspelt field.
    Invalid {
        name: String,
        line: Option<usize>,
        detail: String,
    },
    /// A row template that rendered more than one line.
    RowLines { name: String, lines: usize },
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid { name, line, detail } => {
                let line = line.map(|l| format!(":{l}")).unwrap_or_default();
                write!(f, "{name}{line}: template error: {detail}")
            }
            Self::RowLines { name, lines } => write!(
                f,
                "{name}: a row template must render one line, it rendered {lines}"
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // Python's methods, as in the plan's templates (`{{ run.label.upper() }}`).
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env.add_filter("ms", |v: Option<f64>| {
        v.map_or_else(|| "-".to_owned(), |v| format::ms(v, Style::Document))
    });
    env.add_filter("pct", |v: Option<f64>| {
        v.map_or_else(|| "-".to_owned(), |v| format::percent(v, Style::Document))
    });
    env.add_filter("delta", |v: Option<f64>| {
        v.map_or_else(|| "n/a".to_owned(), format::delta)
    });
    env.add_filter("num", |v: Option<f64>| {
        v.map_or_else(|| "-".to_owned(), |v| format::number(v, Style::Document))
    });
    env.add_filter("secs", |v: Option<f64>| {
        v.map_or_else(|| "-".to_owned(), format::duration)
    });
    env.add_filter("date", crate::plan::template::date);
    // Nothing (a missing label, a figure not measured) is `-`, as the other filters show it.
    env.add_filter("cell", |v: Value| {
        if v.is_none() || v.is_undefined() {
            "-".to_owned()
        } else {
            cell(&v.to_string())
        }
    });
    env.add_filter("code", |v: Value| code(&v.to_string()));
    env
}

/// Text as an inline code span safe in a table cell: nothing in it is Markdown or HTML
/// (a server's text: an error example). The fence is one backtick longer than the longest
/// run of backticks inside; `|` is escaped and line breaks are spaces, as in [`cell`].
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", cell(text))
}

/// Text safe inside a Markdown table cell: `|` escaped, line breaks as spaces.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\r\n", " ")
        .replace(['\n', '\r'], " ")
}

/// Renders `source` (named `name` in errors: a file path or `built-in`) with the report.
pub fn render(report: &Report, name: &str, source: &str) -> Result<String, TemplateError> {
    let mut text = Vec::new();
    write(&mut text, report, name, source)?;
    String::from_utf8(text).map_err(|e| TemplateError::Invalid {
        name: name.to_owned(),
        line: None,
        detail: e.to_string(),
    })
}

/// Renders `source` with the report into `out` as it goes.
pub fn write<W: Write + ?Sized>(
    out: &mut W,
    report: &Report,
    name: &str,
    source: &str,
) -> Result<(), TemplateError> {
    let mut env = environment();
    env.add_template_owned(name.to_owned(), source.to_owned())
        .map_err(|error| describe(name, &error))?;
    let template = env.get_template(name).map_err(|e| describe(name, &e))?;
    template
        .render_captured_to(Value::from(minijinja::value::Serde(report)), out)
        .map(|_| ())
        .map_err(|error| describe(name, &error))
}

/// Parses `source` without rendering it: a syntax error (or an unknown filter) is found
/// before a run, not after its load.
pub fn check(name: &str, source: &str) -> Result<(), TemplateError> {
    let mut env = environment();
    env.add_template_owned(name.to_owned(), source.to_owned())
        .map_err(|error| describe(name, &error))
}

/// Renders a history row: one line, no trailing newline.
pub fn render_row(report: &Report, name: &str, source: &str) -> Result<String, TemplateError> {
    let row = render(report, name, source)?;
    let row = row.trim_end_matches(['\n', '\r']);
    if row.contains('\n') {
        return Err(TemplateError::RowLines {
            name: name.to_owned(),
            lines: row.lines().count(),
        });
    }
    Ok(row.to_owned())
}

fn describe(name: &str, error: &minijinja::Error) -> TemplateError {
    TemplateError::Invalid {
        name: name.to_owned(),
        line: error.line(),
        detail: error
            .detail()
            .map_or_else(|| error.kind().to_string(), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells() {
        assert_eq!(cell("a | b\nc\r\nd"), "a \\| b c d");
        assert_eq!(code("403 <b>x</b>"), "`403 <b>x</b>`");
        assert_eq!(code("a ``b` | c"), "```a ``b` \\| c```");
        assert_eq!(code("`x"), "`` `x ``");
    }
}
