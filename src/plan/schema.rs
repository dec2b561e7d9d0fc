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
mod foreign;
mod published;
mod violation;

use std::sync::OnceLock;

use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use super::model::Plan;
use super::yaml::{Document, Path, Segment};
use crate::diag::{Diagnostic, Span};
use violation::describe;

/// The plan schema, as `loadplan schema` prints it: the generated one, where plan-time
/// templates are admitted too ([`published`]).
pub fn schema() -> Value {
    published::publish(generated())
}

/// The schema generated from the model's types: what plans are validated against, once
/// their plan-time templates are rendered.
pub fn generated() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Plan>();
    schema.to_value()
}

/// The published schema as pretty JSON with a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

type Compiled = (Value, Result<Validator, String>);

fn compile(schema: Value) -> Compiled {
    let validator = jsonschema::draft202012::new(&schema).map_err(|e| e.to_string());
    (schema, validator)
}

/// The plan's schema, compiled once.
fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| compile(generated()))
}

/// The plan's schema as JSON, made once (the plan-time templates walk beside it).
pub fn value() -> &'static Value {
    &compiled().0
}

/// The schema of one scenario (the plan's `$defs/Scenario`), compiled once.
fn compiled_scenario() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let plan = generated();
        let mut schema = Map::new();
        for key in ["$schema", "$defs"] {
            if let Some(value) = plan.get(key) {
                schema.insert(key.to_owned(), value.clone());
            }
        }
        schema.insert("$ref".to_owned(), Value::from("#/$defs/Scenario"));
        compile(Value::Object(schema))
    })
}

/// Every schema violation of the document, located.
///
/// jsonschema returns a check's errors all at once, each failed `anyOf` (a step) with the
/// errors of every branch: some 40 KB per misspelt step. So a plan with many scenarios is
/// checked one scenario at a time — the plan with its first scenario only, then each other
/// scenario against the scenario schema — and memory holds one scenario's errors, not all.
pub fn check(document: &Document<'_>) -> Vec<Diagnostic> {
    let (schema, validator) = compiled();
    let validator = match validator {
        Ok(validator) => validator,
        Err(error) => return vec![not_compiled(error)],
    };
    if validator.is_valid(&document.value) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut whole = Within {
        document,
        prefix: Vec::new(),
        covered: Vec::new(),
    };
    // A k6 or Artillery shape is said once, with its loadplan equivalent, in place of the
    // schema's violations under it.
    for found in foreign::recognise(&whole) {
        whole.covered.extend(found.covers);
        out.push(found.diagnostic);
    }
    let scenarios = match document.value.get("scenarios") {
        Some(Value::Object(scenarios)) if scenarios.len() > 1 => scenarios,
        _ => {
            for error in validator.iter_errors(&document.value) {
                describe(&whole, schema, &error, &mut out);
            }
            return out;
        }
    };
    let (scenario_schema, scenario_validator) = compiled_scenario();
    let scenario_validator = match scenario_validator {
        Ok(validator) => validator,
        Err(error) => return vec![not_compiled(error)],
    };
    let mut first_only = Map::new();
    for (key, value) in document.value.as_object().into_iter().flatten() {
        let value = if key == "scenarios" {
            Value::Object(
                scenarios
                    .iter()
                    .take(1)
                    .map(|(name, scenario)| (name.clone(), scenario.clone()))
                    .collect(),
            )
        } else {
            value.clone()
        };
        first_only.insert(key.clone(), value);
    }
    for error in validator.iter_errors(&Value::Object(first_only)) {
        describe(&whole, schema, &error, &mut out);
    }
    for (name, scenario) in scenarios.iter().skip(1) {
        if scenario_validator.is_valid(scenario) {
            continue;
        }
        let within = Within {
            document,
            prefix: vec![Segment::from("scenarios"), Segment::Key(name.clone())],
            covered: whole.covered.clone(),
        };
        for error in scenario_validator.iter_errors(scenario) {
            describe(&within, scenario_schema, &error, &mut out);
        }
    }
    out
}

fn not_compiled(error: &str) -> Diagnostic {
    Diagnostic::error(
        None,
        format!(
            "internal error: the plan schema does not compile ({error}); this is a bug in loadplan"
        ),
    )
}

/// The document seen from the node that was checked: an error's instance path is relative
/// to it, and `prefix` leads from the plan's root to it.
struct Within<'d, 'a> {
    document: &'d Document<'a>,
    prefix: Path,
    /// Paths from the plan's root whose violations a foreign shape's error replaces.
    covered: Vec<Path>,
}

impl Within<'_, '_> {
    /// Whether the violations at `path` are said by a foreign shape's error already.
    fn is_covered(&self, path: &[Segment]) -> bool {
        let full = self.full(path);
        self.covered.iter().any(|covered| full.starts_with(covered))
    }

    fn full(&self, path: &[Segment]) -> Path {
        self.prefix.iter().chain(path).cloned().collect()
    }

    fn value_span(&self, path: &[Segment]) -> Span {
        self.document.value_span(&self.full(path))
    }

    fn key_span(&self, path: &[Segment]) -> Span {
        self.document.key_span(&self.full(path))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Checking one scenario at a time finds what checking the whole plan finds.
    #[test]
    fn scenarios_checked_one_at_a_time_give_the_same_diagnostics() {
        let source = "name: x\nstages:\n  s: { vus: 1, duration: 1s }\nbogus: 1\nscenarios:\n\
                      \x20 a:\n    steps:\n      - request: { url: \"http://h/\", tiemout: 1s }\n\
                      \x20 b:\n    weight: ten\n    steps:\n      - sned: { text: x }\n\
                      \x20 c:\n    steps: []\n\
                      \x20 d:\n    steps:\n      - request: { url: \"http://h/\" }\n";
        let document = Document::load(source).expect("loads");
        let (schema, validator) = compiled();
        let validator = validator.as_ref().expect("compiles");
        let whole = Within {
            document: &document,
            prefix: Vec::new(),
            covered: Vec::new(),
        };
        let mut expected = Vec::new();
        for error in validator.iter_errors(&document.value) {
            describe(&whole, schema, &error, &mut expected);
        }
        let mut found = check(&document);
        let key = |d: &Diagnostic| (d.span, d.message.clone(), d.help.clone());
        expected.sort_by_key(key);
        found.sort_by_key(key);
        assert_eq!(found, expected);
        assert!(expected.len() >= 4, "{expected:#?}");
    }
}
