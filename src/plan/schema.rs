//! The JSON Schema of plans: generated from the model's types, and checked against a plan
//! with every violation turned into a located, readable diagnostic.
//!
//! `anyOf` failures (a step, a stage, a threshold: the untagged enums of the model) are
//! resolved to the branch the author most likely meant — the one whose keys fit — so that
//! a typo inside a `send` step is reported inside it, not as "matches no step kind".
//!
//! Turning one violation into diagnostics is `violation`'s job; resolving a failed
//! `anyOf` to a branch is `any_of`'s. This file generates the schema, runs it, and holds
//! the helpers both use to walk an error's instance and schema paths.

mod any_of;
mod violation;

use std::sync::OnceLock;

use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::model::Plan;
use super::yaml::{Document, Path, Segment};
use crate::diag::Diagnostic;
use violation::describe;

/// The plan schema, as `loadplan schema` prints it.
pub fn schema() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Plan>();
    schema.to_value()
}

/// The schema as pretty JSON with a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

fn compiled() -> &'static (Value, Result<Validator, String>) {
    static COMPILED: OnceLock<(Value, Result<Validator, String>)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema = schema();
        let validator = jsonschema::draft202012::new(&schema).map_err(|e| e.to_string());
        (schema, validator)
    })
}

/// Every schema violation of the document, located.
pub fn check(document: &Document<'_>) -> Vec<Diagnostic> {
    let (schema, validator) = compiled();
    let validator = match validator {
        Ok(validator) => validator,
        Err(error) => {
            return vec![Diagnostic::error(
                None,
                format!(
                    "internal error: the plan schema does not compile ({error}); this is a bug in loadplan"
                ),
            )];
        }
    };
    let mut out = Vec::new();
    for error in validator.iter_errors(&document.value) {
        describe(document, schema, &error, &mut out);
    }
    out
}

fn instance_path(error: &ValidationError<'_>) -> Path {
    error
        .instance_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(name) => Segment::Key(name.to_string()),
            LocationSegment::Index(index) => Segment::Index(index),
        })
        .collect()
}

fn schema_path(error: &ValidationError<'_>) -> Vec<String> {
    error
        .schema_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(name) => name.to_string(),
            LocationSegment::Index(index) => index.to_string(),
        })
        .collect()
}

/// The schema object a keyword belongs to: the schema path without its last segment,
/// following `$ref`s on the way.
fn keyword_parent<'s>(root: &'s Value, path: &[String]) -> Option<&'s Value> {
    let mut node = root;
    for segment in &path[..path.len().saturating_sub(1)] {
        if segment == "$ref" {
            let target = node.get("$ref")?.as_str()?.strip_prefix('#')?;
            node = root.pointer(target)?;
        } else {
            node = match node {
                Value::Object(map) => map.get(segment)?,
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
    }
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) if node.get("properties").is_none() => {
            root.pointer(reference.strip_prefix('#')?)
        }
        _ => Some(node),
    }
}

fn property_names(schema_object: Option<&Value>) -> Vec<String> {
    schema_object
        .and_then(|object| object.get("properties"))
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}
