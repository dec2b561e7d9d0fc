//! The plan: YAML text → typed, checked [`CheckedPlan`], or every problem at once.
//!
//! ```text
//! text ──yaml──▶ span tree + JSON value ──schema──▶ violations (located)
//!      ──serde──▶ Plan ──analyze──▶ CheckedPlan (templates, thresholds, expressions compiled)
//! ```
//!
//! Nothing here starts a runtime, and only [`source`] does I/O: it reads the file, up to a
//! size cap, for the caller.

pub mod analyze;
pub mod collect;
pub mod descriptors;
pub mod expr;
pub mod json_path;
pub mod metric;
pub mod model;
pub mod output;
pub mod schema;
pub mod source;
pub mod split;
pub mod stage;
pub mod step;
pub mod table;
pub mod template;
pub mod threshold;
pub mod units;
pub mod yaml;

pub use analyze::{CheckedPlan, Selection, ThresholdRule};
pub use model::Plan;

use crate::diag::{Diagnostic, Diagnostics};
use yaml::{Document, Segment};

/// Loads and checks a plan's text: the checked plan when it has no error, and every
/// diagnostic (errors and warnings), sorted by position.
pub fn load(source: &str, selection: &Selection) -> (Option<CheckedPlan>, Vec<Diagnostic>) {
    let document = match Document::load(source) {
        Ok(document) => document,
        Err(diagnostic) => return (None, vec![diagnostic]),
    };
    let violations = schema::check(&document);
    if !violations.is_empty() {
        let mut diagnostics = Diagnostics::default();
        diagnostics.extend(violations);
        return (None, diagnostics.sorted());
    }
    // Top-level `x-` keys hold YAML anchors for the rest of the plan; they are not plan data.
    let mut value = document.value.clone();
    if let Some(root) = value.as_object_mut() {
        root.retain(|key, _| !key.starts_with("x-"));
    }
    let plan: Plan = match serde_path_to_error::deserialize(&value) {
        Ok(plan) => plan,
        Err(error) => {
            // The schema admits what serde reads, so this is a mismatch between the two;
            // still, point at the value and say what serde said.
            let path: Vec<Segment> = error
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
                    serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                    _ => None,
                })
                .collect();
            let span = document.value_span(&path);
            let message = error.inner().to_string();
            return (None, vec![Diagnostic::error(Some(span), message)]);
        }
    };
    let (checked, diagnostics) = analyze::analyze(plan, &document, selection);
    (checked, diagnostics.sorted())
}
