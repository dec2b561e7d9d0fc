//! A failed `anyOf` (a step, a stage, a threshold: the untagged enums of the model)
//! resolved to the branch with the fewest structural misses, whose errors are then
//! reported; when no branch stands out, one error listing the possible shapes.

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use super::violation::{describe, describe_value, short, ticked, type_name, unit_hint, with_unit};
use super::{Within, instance_path, keyword_parent, property_names, schema_path};
use crate::diag::{Diagnostic, did_you_mean, suggest};
use crate::plan::yaml::{Path, Segment};

/// How badly a branch of an `anyOf` misses, lower is closer: a wrong type at the node
/// itself, then keys it does not know, then how many problems it has.
fn branch_score(branch: &[ValidationError<'_>], at: &Path) -> (usize, usize, usize) {
    let mut wrong_type = 0;
    let mut unknown_keys = 0;
    for error in branch {
        if instance_path(error) != *at {
            continue;
        }
        match error.kind() {
            ValidationErrorKind::Type { .. } => wrong_type += 1,
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                unknown_keys += unexpected.len()
            }
            _ => {}
        }
    }
    (wrong_type, unknown_keys, branch.len())
}

pub(super) fn describe_alternatives(
    document: &Within<'_, '_>,
    schema: &Value,
    error: &ValidationError<'_>,
    path: &Path,
    context: &[Vec<ValidationError<'static>>],
    out: &mut Vec<Diagnostic>,
) {
    // An enum whose values have descriptions is a `oneOf` of constants.
    let constants: Vec<String> = context
        .iter()
        .flatten()
        .filter(|e| instance_path(e) == *path)
        .filter_map(|e| match e.kind() {
            ValidationErrorKind::Constant { expected_value } => Some(
                expected_value
                    .as_str()
                    .map_or_else(|| expected_value.to_string(), str::to_owned),
            ),
            _ => None,
        })
        .collect();
    if !constants.is_empty() && constants.len() == context.len() {
        let found = error.instance();
        let help = found
            .as_str()
            .and_then(|text| did_you_mean(text, constants.iter().map(String::as_str)));
        out.push(
            Diagnostic::error(
                Some(document.value_span(path)),
                format!(
                    "unknown value {}: expected one of {}",
                    short(found),
                    ticked(&constants)
                ),
            )
            .with_help(help),
        );
        return;
    }
    let scores: Vec<_> = context
        .iter()
        .map(|branch| branch_score(branch, path))
        .collect();
    let Some(best) = scores.iter().min().copied() else {
        out.push(Diagnostic::error(
            Some(document.value_span(path)),
            error.to_string(),
        ));
        return;
    };
    let best_branches: Vec<usize> = (0..context.len()).filter(|i| scores[*i] == best).collect();
    let required = branch_required(schema, error);
    if let [only] = best_branches[..]
        && !lacks_every_shape(&required, error.instance())
    {
        describe_branch(document, schema, &context[only], path, out);
        return;
    }
    // No branch stands out: say which shapes are possible.
    if best.0 > 0 {
        // A bare number where a value type (duration, rate) goes: say which unit it lacks.
        if let Value::Number(number) = &**error.instance() {
            let hint = context.iter().flatten().find_map(|e| {
                let parent = keyword_parent(schema, &schema_path(e))?;
                unit_hint(parent.get("pattern")?.as_str()?)
            });
            if let Some((what, unit)) = hint {
                out.push(
                    Diagnostic::error(
                        Some(document.value_span(path)),
                        format!("invalid {what} `{number}`: it needs a unit"),
                    )
                    .with_help(Some(format!("write `{}`", with_unit(number, unit)))),
                );
                return;
            }
        }
        let mut expected: Vec<String> = Vec::new();
        for branch in context {
            for e in branch {
                if let ValidationErrorKind::Type { kind } = e.kind()
                    && instance_path(e) == *path
                {
                    let name = type_name(kind);
                    if !expected.contains(&name) {
                        expected.push(name);
                    }
                }
            }
        }
        out.push(Diagnostic::error(
            Some(document.value_span(path)),
            format!(
                "expected {}, found {}",
                expected.join(" or "),
                describe_value(error.instance())
            ),
        ));
        return;
    }
    let shapes: Vec<String> = required
        .iter()
        .filter(|keys| !keys.is_empty())
        .map(|keys| {
            keys.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect();
    let mut known: Vec<String> = Vec::new();
    for branch in context {
        for e in branch {
            if let ValidationErrorKind::AdditionalProperties { .. } = e.kind() {
                known.extend(property_names(keyword_parent(schema, &schema_path(e))));
            }
        }
    }
    let found: Vec<String> = error
        .instance()
        .as_object()
        .map(|object| {
            object
                .keys()
                .filter(|k| !known.contains(k))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let help = found
        .iter()
        .find_map(|key| suggest(key, known.iter().map(String::as_str)).map(|s| (key, s)))
        .map(|(key, s)| format!("did you mean `{s}` instead of `{key}`?"));
    let found_text = if found.is_empty() {
        String::new()
    } else {
        format!(", found {}", ticked(&found))
    };
    let span = found
        .first()
        .map(|key| {
            let mut key_path = path.clone();
            key_path.push(Segment::Key(key.clone()));
            document.key_span(&key_path)
        })
        .unwrap_or_else(|| document.key_span(path));
    out.push(
        Diagnostic::error(
            Some(span),
            format!("expected one of {}{found_text}", shapes.join(", ")),
        )
        .with_help(help),
    );
}

/// The `required` keys of each branch of the `anyOf` an error comes from.
fn branch_required(schema: &Value, error: &ValidationError<'_>) -> Vec<Vec<String>> {
    let mut keyword_path = schema_path(error);
    keyword_path.push(String::new());
    let Some(branches) = keyword_parent(schema, &keyword_path).and_then(Value::as_array) else {
        return Vec::new();
    };
    branches
        .iter()
        .map(|branch| {
            let branch = match branch.get("$ref").and_then(Value::as_str) {
                Some(reference) => reference
                    .strip_prefix('#')
                    .and_then(|pointer| schema.pointer(pointer))
                    .unwrap_or(branch),
                None => branch,
            };
            branch
                .get("required")
                .and_then(Value::as_array)
                .map(|keys| {
                    keys.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

/// Whether a mapping has none of the keys the branches require: then no branch is closer
/// than another, and the possible shapes are the useful answer.
fn lacks_every_shape(required: &[Vec<String>], instance: &Value) -> bool {
    let Some(object) = instance.as_object() else {
        return false;
    };
    required.iter().any(|keys| !keys.is_empty())
        && !required
            .iter()
            .flatten()
            .any(|key| object.contains_key(key))
}

/// Reports a chosen branch's errors, leaving out a "missing field" whose name an unknown
/// key is a typo of: the unknown key's "did you mean" says it better.
fn describe_branch(
    document: &Within<'_, '_>,
    schema: &Value,
    branch: &[ValidationError<'static>],
    path: &Path,
    out: &mut Vec<Diagnostic>,
) {
    let unknown: Vec<&String> = branch
        .iter()
        .filter(|e| instance_path(e) == *path)
        .filter_map(|e| match e.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => Some(unexpected.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    for error in branch {
        if let ValidationErrorKind::Required { property } = error.kind() {
            let name = property.as_str().unwrap_or_default();
            let typo = unknown.iter().any(|key| suggest(key, [name]).is_some());
            if typo && instance_path(error) == *path {
                continue;
            }
        }
        describe(document, schema, error, out);
    }
}
