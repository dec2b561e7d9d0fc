//! The JSON Schema of plans: generated from the model's types, and checked against a plan
//! with every violation turned into a located, readable diagnostic.
//!
//! `anyOf` failures (a step, a stage, a threshold: the untagged enums of the model) are
//! resolved to the branch the author most likely meant — the one whose keys fit — so that
//! a typo inside a `send` step is reported inside it, not as "matches no step kind".

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::model::Plan;
use super::units::{Duration, Rate, Size, SleepTime};
use super::yaml::{Document, Path, Segment};
use crate::diag::{Diagnostic, did_you_mean, suggest};

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

fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => format!("a boolean `{b}`"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("an integer `{n}`"),
        Value::Number(n) => format!("a number `{n}`"),
        Value::String(s) => format!("a string `{s}`"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn type_name(kind: &TypeKind) -> String {
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        "integer" => "an integer".to_owned(),
        "null" => "nothing (null)".to_owned(),
        other => format!("a {other}"),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(set) => {
            // `Option<T>` admits null; saying so only distracts from the type wanted.
            let names: Vec<String> = set
                .iter()
                .filter(|t| t.to_string() != "null" || set.iter().count() == 1)
                .map(|t| name(&t))
                .collect();
            names.join(" or ")
        }
    }
}

/// What is wrong with a string that fails one of our value patterns, in the words of the
/// value's own parser.
fn pattern_message(pattern: &str, text: &str) -> String {
    let specific = match pattern {
        p if p.contains("(ms|s|m|h))+(") => text.parse::<SleepTime>().err().map(|e| e.to_string()),
        p if p.contains("(ms|s|m|h))+$") => text.parse::<Duration>().err().map(|e| e.to_string()),
        p if p.contains("/(s|m|h)") => text.parse::<Rate>().err().map(|e| e.to_string()),
        p if p.contains("KiB") => text.parse::<Size>().err().map(|e| e.to_string()),
        p if p.starts_with(r"^\$") => text
            .parse::<super::json_path::JsonPath>()
            .err()
            .map(|e| e.to_string()),
        r"^[A-Za-z_][A-Za-z0-9_]*$" => Some(format!(
            "invalid name `{text}`: use letters, digits and `_`, not starting with a digit"
        )),
        r"^[1-5]xx$" => Some(format!(
            "invalid status class `{text}`: expected `2xx`, `3xx`, `4xx` or `5xx`"
        )),
        _ => None,
    };
    specific.unwrap_or_else(|| format!("`{text}` does not match the pattern `{pattern}`"))
}

fn describe(
    document: &Document<'_>,
    schema: &Value,
    error: &ValidationError<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let path = instance_path(error);
    let value_span = Some(document.value_span(&path));
    let key_span = Some(document.key_span(&path));
    let diagnostic = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = property_names(keyword_parent(schema, &schema_path(error)));
            for key in unexpected {
                let mut key_path = path.clone();
                key_path.push(Segment::Key(key.clone()));
                let help = did_you_mean(key, allowed.iter().map(String::as_str)).or_else(|| {
                    (!allowed.is_empty()).then(|| format!("expected one of {}", ticked(&allowed)))
                });
                out.push(
                    Diagnostic::error(
                        Some(document.key_span(&key_path)),
                        format!("unknown field `{key}`"),
                    )
                    .with_help(help),
                );
            }
            return;
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            Diagnostic::error(key_span, format!("missing field `{name}`"))
        }
        ValidationErrorKind::Type { kind } => {
            let pattern = keyword_parent(schema, &schema_path(error))
                .and_then(|parent| parent.get("pattern"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            match (&**error.instance(), unit_hint(pattern)) {
                (Value::Number(number), Some((what, unit))) => Diagnostic::error(
                    value_span,
                    format!("invalid {what} `{number}`: it needs a unit"),
                )
                .with_help(Some(format!("write `{number}{unit}`"))),
                _ => Diagnostic::error(
                    value_span,
                    format!(
                        "expected {}, found {}",
                        type_name(kind),
                        describe_value(error.instance())
                    ),
                ),
            }
        }
        ValidationErrorKind::Pattern { pattern } => {
            let text = error.instance().as_str().unwrap_or_default();
            Diagnostic::error(value_span, pattern_message(pattern, text))
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let found = error.instance();
            let help = found
                .as_str()
                .and_then(|text| did_you_mean(text, options.iter().map(String::as_str)));
            Diagnostic::error(
                value_span,
                format!(
                    "unknown value {}: expected one of {}",
                    short(found),
                    ticked(&options)
                ),
            )
            .with_help(help)
        }
        ValidationErrorKind::Constant { expected_value } => Diagnostic::error(
            value_span,
            format!(
                "expected `{expected_value}`, found {}",
                describe_value(error.instance())
            ),
        ),
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => Diagnostic::error(
            value_span,
            format!(
                "{} is below the minimum of {limit}",
                short(error.instance())
            ),
        ),
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => Diagnostic::error(
            value_span,
            format!(
                "{} is above the maximum of {limit}",
                short(error.instance())
            ),
        ),
        ValidationErrorKind::MinItems { limit } => Diagnostic::error(
            value_span,
            format!(
                "expected at least {limit} item{}",
                if *limit == 1 { "" } else { "s" }
            ),
        ),
        ValidationErrorKind::MinProperties { limit } => Diagnostic::error(
            value_span,
            format!(
                "expected at least {limit} entr{}",
                if *limit == 1 { "y" } else { "ies" }
            ),
        ),
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            describe_alternatives(document, schema, error, &path, context, out);
            return;
        }
        _ => Diagnostic::error(value_span, error.to_string()),
    };
    out.push(diagnostic);
}

/// For a value type written as a bare number: what it is and a likely unit.
fn unit_hint(pattern: &str) -> Option<(&'static str, &'static str)> {
    if pattern.contains("/(s|m|h)") {
        Some(("rate", "/s"))
    } else if pattern.contains("(ms|s|m|h))+(") {
        Some(("sleep time", "s"))
    } else if pattern.contains("(ms|s|m|h))+$") {
        Some(("duration", "s"))
    } else {
        None
    }
}

fn short(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn ticked(names: &[String]) -> String {
    let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    ticked.join(", ")
}

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

fn describe_alternatives(
    document: &Document<'_>,
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
                    .with_help(Some(format!("write `{number}{unit}`"))),
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
    document: &Document<'_>,
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
