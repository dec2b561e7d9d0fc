//! The plan: YAML text → typed, checked [`CheckedPlan`], or every problem at once.
//!
//! ```text
//! text ──yaml──▶ span tree + JSON value ──vars──▶ variables (--var, $ENV, environment, default)
//!      ──knobs──▶ plan-time templates rendered in the value ──schema──▶ violations (located)
//!      ──serde──▶ Plan ──overrides──▶ --vus, --duration, --scenario applied
//!      ──analyze──▶ CheckedPlan (templates, thresholds, expressions compiled)
//! ```
//!
//! A diagnostic about a value a plan-time template made points at the template and names
//! where its values came from (`(from --var send_interval)`).
//!
//! Nothing here starts a runtime, and only [`source`] does I/O: it reads the file, up to a
//! size cap, for the caller.

pub mod analyze;
pub mod collect;
pub mod data;
pub mod descriptors;
pub mod expr;
pub mod json_path;
pub mod knobs;
pub mod metric;
pub mod model;
pub mod output;
pub mod overrides;
pub mod schema;
pub mod source;
pub mod split;
pub mod stage;
pub mod step;
pub mod table;
pub mod template;
pub mod threshold;
pub mod units;
pub mod vars;
pub mod yaml;

pub use analyze::{CheckedPlan, EnvLookup, FileLookup, Selection, ThresholdRule};
pub use model::Plan;

use crate::diag::{Diagnostic, Diagnostics};
use yaml::{Document, Segment};

/// Loads and checks a plan's text: the checked plan when it has no error, and every
/// diagnostic (errors and warnings), sorted by position.
pub fn load(source: &str, selection: &Selection) -> (Option<CheckedPlan>, Vec<Diagnostic>) {
    let mut document = match Document::load(source) {
        Ok(document) => document,
        Err(diagnostic) => return (None, vec![diagnostic]),
    };
    let mut diagnostics = Diagnostics::default();
    let (vars, substitutions, found) = knobs::render(&mut document, selection);
    diagnostics.extend(found);
    let finish = |diagnostics: Diagnostics| {
        let mut diagnostics = diagnostics.sorted();
        substitutions.annotate(&mut diagnostics);
        diagnostics
    };
    // A template that did not render is reported; the schema's view of its text is not.
    let (violations, dropped) = substitutions.without_failed(schema::check(&document));
    if !violations.is_empty() || dropped {
        diagnostics.extend(violations);
        return (None, finish(diagnostics));
    }
    // Top-level `x-` keys hold YAML anchors for the rest of the plan; they are not plan data.
    let mut value = document.value.clone();
    if let Some(root) = value.as_object_mut() {
        root.retain(|key, _| !key.starts_with("x-"));
    }
    let mut plan: Plan = match serde_path_to_error::deserialize(&value) {
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
            diagnostics.push(Diagnostic::error(Some(span), message));
            return (None, finish(diagnostics));
        }
    };
    diagnostics.extend(overrides::apply(&mut plan, selection));
    let (mut checked, analyzed) = analyze::analyze(plan, &document, selection, vars.values);
    if let Some(checked) = &mut checked {
        checked.from_env = vars
            .origins
            .values()
            .filter_map(|origin| match origin {
                vars::Origin::ProcessEnv(variable) => Some(variable.clone()),
                _ => None,
            })
            .collect();
    }
    diagnostics.extend(analyzed.sorted());
    let diagnostics = finish(diagnostics);
    if diagnostics
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error)
    {
        return (None, diagnostics);
    }
    (checked, diagnostics)
}
