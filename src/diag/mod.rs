//! Diagnostics: located errors and warnings about a plan, and how they are printed.

mod diagnostic;
mod render;
mod span;
mod suggest;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use render::render;
pub use span::Span;
pub use suggest::{did_you_mean, suggest};
