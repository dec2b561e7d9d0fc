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
        write_help(&mut out, 1, diagnostic);
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
    let shown = Window::new(line_text, span.col.saturating_sub(1), span.len);
    let _ = writeln!(out, "{:gutter$} |", "");
    let _ = writeln!(
        out,
        "{} | {}{}{}",
        span.line, shown.before, shown.text, shown.after
    );
    let _ = writeln!(
        out,
        "{:gutter$} | {}{}",
        "",
        shown.pad,
        "^".repeat(shown.carets)
    );
    write_help(&mut out, gutter, diagnostic);
    out
}

/// The most places of a folded diagnostic's repeats that are listed; the rest are counted.
const MAX_AGAIN: usize = 5;

/// The `= help:` lines (a help of several lines, such as a YAML example, indented under
/// its first) and the `= note:` naming where a folded diagnostic occurs again.
fn write_help(out: &mut String, gutter: usize, diagnostic: &Diagnostic) {
    if let Some(help) = &diagnostic.help {
        let mut lines = help.lines();
        let _ = writeln!(
            out,
            "{:gutter$} = help: {}",
            "",
            lines.next().unwrap_or_default()
        );
        for line in lines {
            let _ = writeln!(out, "{:gutter$}         {line}", "");
        }
    }
    let again = &diagnostic.again;
    if again.is_empty() {
        return;
    }
    let mut places: Vec<String> = again
        .iter()
        .take(MAX_AGAIN)
        .map(|span| format!("{}:{}", span.line, span.col))
        .collect();
    let rest = again.len() - places.len();
    if rest > 0 {
        places.push(format!(
            "{rest} more place{}",
            if rest == 1 { "" } else { "s" }
        ));
    }
    let listed = match places.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => places.join(""),
    };
    let _ = writeln!(
        out,
        "{:gutter$} = note: the same {} {} more time{}: at {listed}",
        "",
        diagnostic.severity,
        again.len(),
        if again.len() == 1 { "" } else { "s" }
    );
}

/// The widest part of a source line printed, in characters. A longer line (a generated
/// plan, a flow mapping written on one line) is cut around the problem, with `…` where
/// text was left out.
pub const MAX_WIDTH: usize = 120;

/// How many characters of context are kept before the problem when a line is cut.
const CONTEXT_BEFORE: usize = 40;

/// The part of a line that is printed, and the caret line under it.
struct Window<'a> {
    before: &'static str,
    text: &'a str,
    after: &'static str,
    /// Blanks up to the problem (tabs kept, so the caret lines up).
    pad: String,
    carets: usize,
}

impl<'a> Window<'a> {
    /// `start` is the problem's 0-based character column and `len` its length.
    fn new(line: &'a str, start: usize, len: usize) -> Self {
        let ascii = line.is_ascii();
        let line_len = if ascii {
            line.len()
        } else {
            line.chars().count()
        };
        let start = start.min(line_len);
        let (low, high) = if line_len <= MAX_WIDTH {
            (0, line_len)
        } else {
            let low = start
                .saturating_sub(CONTEXT_BEFORE)
                .min(line_len - MAX_WIDTH);
            (low, low + MAX_WIDTH)
        };
        // Byte offset of a character column (columns here are within the line).
        let byte = |col: usize| {
            if ascii {
                col
            } else {
                line.char_indices()
                    .nth(col)
                    .map_or(line.len(), |(at, _)| at)
            }
        };
        let text = &line[byte(low)..byte(high)];
        let cut_before = low > 0;
        let pad: String = (if cut_before { " " } else { "" }).to_owned()
            + &line[byte(low)..byte(start)]
                .chars()
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect::<String>();
        Self {
            before: if cut_before { "…" } else { "" },
            text,
            after: if high < line_len { "…" } else { "" },
            pad,
            carets: len.clamp(1, high.saturating_sub(start).max(1)),
        }
    }
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
    fn a_long_line_is_cut_around_the_problem() {
        let line = format!("{}{}{}", "- ".repeat(3000), "bad", " x".repeat(3000));
        let col = 6001;
        let diagnostic = Diagnostic::error(Some(Span::new(0, 2, col, 3)), "too deep");
        let rendered = render("p.yaml", &format!("v:\n{line}\n"), &diagnostic);
        let lines: Vec<&str> = rendered.lines().collect();
        let shown = lines[2].strip_prefix("2 | ").unwrap();
        assert_eq!(shown.chars().count(), MAX_WIDTH + 2, "{shown}");
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        // The caret is under `bad`.
        let caret = lines[3].strip_prefix("  | ").unwrap();
        let at = caret.find('^').unwrap();
        assert_eq!(&caret[at..], "^^^");
        let under: String = shown.chars().skip(at).take(3).collect();
        assert_eq!(under, "bad");
    }

    #[test]
    fn a_long_line_is_cut_at_its_end_and_start() {
        let line = format!("{}é", "a".repeat(300));
        let at_end = Window::new(&line, 300, 5);
        assert_eq!((at_end.before, at_end.after), ("…", ""));
        assert!(at_end.text.ends_with('é'));
        assert_eq!(at_end.carets, 1);
        assert_eq!(at_end.pad.chars().count(), MAX_WIDTH);
        let at_start = Window::new(&line, 0, 2);
        assert_eq!(
            (at_start.before, at_start.after, at_start.carets),
            ("", "…", 2)
        );
        assert_eq!(at_start.text.chars().count(), MAX_WIDTH);
    }

    #[test]
    fn a_folded_diagnostic_says_where_else_and_a_long_help_is_indented() {
        let source = "a\nb\nc\n";
        let mut diagnostic = Diagnostic::error(Some(Span::new(0, 1, 1, 1)), "`env.x` is used")
            .with_help(Some("like this:\n  stages:\n    smoke: {}".into()));
        diagnostic.again = (2..=8).map(|line| Span::new(0, line, 4, 1)).collect();
        assert_eq!(
            render("p.yaml", source, &diagnostic),
            "p.yaml:1:1: error: `env.x` is used
  |
1 | a
  | ^
  = help: like this:
            stages:
              smoke: {}
  = note: the same error 7 more times: at 2:4, 3:4, 4:4, 5:4, 6:4 and 2 more places
"
        );
        diagnostic.again.truncate(1);
        diagnostic.help = None;
        assert!(
            render("p.yaml", source, &diagnostic)
                .ends_with("  = note: the same error 1 more time: at 2:4\n")
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
