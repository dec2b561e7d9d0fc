//! Prints diagnostics as `path:line:col: error: message`, the source line with a caret
//! under the problem, and a `help:` line. The first line has the shape compilers use, so
//! editors and CI annotators jump to it.

use std::fmt::Write;

use super::diagnostic::Diagnostic;

/// Renders one diagnostic about the file `path` whose text is `source`.
pub fn render(path: &str, source: &str, diagnostic: &Diagnostic) -> String {
    let mut out = String::new();
    let Some(span) = diagnostic.span else {
        let _ = writeln!(
            out,
            "{path}: {}: {}",
            diagnostic.severity, diagnostic.message
        );
        if let Some(help) = &diagnostic.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        return out;
    };
    let _ = writeln!(
        out,
        "{path}:{}:{}: {}: {}",
        span.line, span.col, diagnostic.severity, diagnostic.message
    );
    let line_text = source
        .lines()
        .nth(span.line.saturating_sub(1))
        .unwrap_or("")
        .trim_end_matches('\r');
    let gutter = span.line.to_string().len();
    let line_len = line_text.chars().count();
    let start = span.col.saturating_sub(1).min(line_len);
    let carets = span.len.clamp(1, (line_len - start).max(1));
    let pad: String = line_text
        .chars()
        .take(start)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let _ = writeln!(out, "{:gutter$} |", "");
    let _ = writeln!(out, "{} | {line_text}", span.line);
    let _ = writeln!(out, "{:gutter$} | {pad}{}", "", "^".repeat(carets));
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "{:gutter$} = help: {help}", "");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    #[test]
    fn renders_caret_under_span() {
        let source = "name: x\nstages:\n  smoke: {vus: ten}\n";
        let diagnostic = Diagnostic::error(Some(Span::new(0, 3, 16, 3)), "expected an integer")
            .with_help(Some("write a number, like `10`".into()));
        assert_eq!(
            render("plan.yaml", source, &diagnostic),
            "plan.yaml:3:16: error: expected an integer
  |
3 |   smoke: {vus: ten}
  |                ^^^
  = help: write a number, like `10`
"
        );
    }

    #[test]
    fn renders_unlocated() {
        let diagnostic = Diagnostic::error(None, "cannot read the plan");
        assert_eq!(
            render("plan.yaml", "", &diagnostic),
            "plan.yaml: error: cannot read the plan\n"
        );
    }
}
