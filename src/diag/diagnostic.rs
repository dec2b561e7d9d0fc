//! One located problem, and the list a check collects.

use std::fmt;

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
}

impl Diagnostic {
    pub fn error(span: Option<Span>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(span: Option<Span>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
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

    /// Sorts by position (unlocated ones last), errors before warnings at one position.
    pub fn sorted(self) -> Vec<Diagnostic> {
        let mut items: Vec<Diagnostic> = self.items.into_iter().collect();
        items.sort_by_key(|d| {
            (
                d.span.map_or((usize::MAX, 0), |s| (s.line, s.col)),
                d.severity,
            )
        });
        items
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, iter: I) {
        for diagnostic in iter {
            self.push(diagnostic);
        }
    }
}
