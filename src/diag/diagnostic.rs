//! One located problem, and the list a check collects.

use std::fmt;

use std::collections::HashMap;

use indexmap::IndexSet;

use super::span::Span;

/// How bad a problem is: errors make a plan invalid (exit 2), warnings are printed only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// A problem in a plan: where (when known), what, and how to fix it (when we can tell).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Option<Span>,
    /// Lowercase, no trailing period, names in backticks.
    pub message: String,
    pub help: Option<String>,
    /// Whether the same problem found elsewhere (same severity, message and help) is one
    /// cause with one fix, so that [`Diagnostics::sorted`] folds its repeats into the first:
    /// every warning, and errors made with [`Diagnostic::folding`] (a name used in five
    /// templates that no environment sets). A misspelt key in 10,000 places stays 10,000
    /// errors: each is its own fix.
    pub folds: bool,
    /// Where the folded repeats were, after `span`, in source order.
    pub again: Vec<Span>,
}

impl Diagnostic {
    pub fn error(span: Option<Span>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            span,
            message: message.into(),
            help: None,
            folds: false,
            again: Vec::new(),
        }
    }

    pub fn warning(span: Option<Span>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            span,
            message: message.into(),
            help: None,
            folds: true,
            again: Vec::new(),
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Marks an error whose repeats elsewhere are the same cause, to be said once with
    /// where else it occurs.
    pub fn folding(mut self) -> Self {
        self.folds = true;
        self
    }
}

/// The problems found in one plan, kept in source order once sorted. A set, so that
/// telling a repeat from a new problem costs the same with 100,000 problems as with one.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: IndexSet<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        // The same problem can be reached twice (an anchor merged into two places); say it once.
        self.items.insert(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    /// Sorts by position, errors before warnings at one position, and folds repeats of a
    /// folding diagnostic into its first occurrence ([`Diagnostic::again`]). Unlocated ones
    /// come first: they are about the command line (`--env`, `--var`) or the whole file,
    /// and what they say often explains the located ones after them.
    pub fn sorted(self) -> Vec<Diagnostic> {
        let mut items: Vec<Diagnostic> = self.items.into_iter().collect();
        items.sort_by_key(|d| (d.span.map(|s| (s.line, s.col)), d.severity));
        let mut first: HashMap<(Severity, String, Option<String>), usize> = HashMap::new();
        let mut kept: Vec<Diagnostic> = Vec::with_capacity(items.len());
        for diagnostic in items {
            if diagnostic.folds {
                let key = (
                    diagnostic.severity,
                    diagnostic.message.clone(),
                    diagnostic.help.clone(),
                );
                if let Some(&at) = first.get(&key) {
                    if let Some(span) = diagnostic.span {
                        kept[at].again.push(span);
                    }
                    continue;
                }
                first.insert(key, kept.len());
            }
            kept.push(diagnostic);
        }
        kept
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, iter: I) {
        for diagnostic in iter {
            self.push(diagnostic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize) -> Option<Span> {
        Some(Span::new(line * 10, line, 3, 4))
    }

    #[test]
    fn repeats_of_one_cause_fold_and_unlocated_come_first() {
        let mut diagnostics = Diagnostics::default();
        for line in [9, 7, 8] {
            diagnostics.push(Diagnostic::error(at(line), "`env.x` is used").folding());
            diagnostics.push(Diagnostic::error(at(line), "unknown field `tiemout`"));
            diagnostics.push(Diagnostic::warning(at(line), "a warning"));
        }
        diagnostics.push(Diagnostic::error(None, "--env `a`: no such environment"));
        let sorted = diagnostics.sorted();
        let said: Vec<(Option<usize>, &str, usize)> = sorted
            .iter()
            .map(|d| (d.span.map(|s| s.line), d.message.as_str(), d.again.len()))
            .collect();
        assert_eq!(
            said,
            [
                (None, "--env `a`: no such environment", 0),
                (Some(7), "`env.x` is used", 2),
                (Some(7), "unknown field `tiemout`", 0),
                (Some(7), "a warning", 2),
                (Some(8), "unknown field `tiemout`", 0),
                (Some(9), "unknown field `tiemout`", 0),
            ]
        );
        let lines: Vec<usize> = sorted[1].again.iter().map(|s| s.line).collect();
        assert_eq!(lines, [8, 9]);
    }
}
