//! One schema violation → located diagnostics: the message in our words (a value type's
//! own parser error, a "did you mean" for unknown keys and values), at the key or value
//! it is about. A failed `anyOf` is handed to `any_of`.

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use super::any_of::describe_alternatives;
use super::{Within, instance_path, keyword_parent, property_names, schema_path};
use crate::diag::{Diagnostic, did_you_mean};
use crate::plan::units::{Duration, Rate, Size, SleepTime};
use crate::plan::yaml::Segment;

pub(super) fn describe_value(value: &Value) -> String {
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

pub(super) fn type_name(kind: &TypeKind) -> String {
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
/// value's own parser, and the value as it was probably meant (`100 ms` → `100ms`).
fn pattern_message(pattern: &str, text: &str) -> (String, Option<String>) {
    let unit_error = match pattern {
        p if p.contains("(ms|s|m|h))+(") => text.parse::<SleepTime>().err(),
        p if p.contains("(ms|s|m|h))+$") => text.parse::<Duration>().err(),
        p if p.contains("/(s|m|h)") => text.parse::<Rate>().err(),
        p if p.contains("KiB") => text.parse::<Size>().err(),
        p if p.ends_with("%$") => text.parse::<crate::plan::units::Chance>().err(),
        _ => None,
    };
    if let Some(error) = unit_error {
        return (error.to_string(), error.help());
    }
    let specific = match pattern {
        p if p.starts_with(r"^\$") => text
            .parse::<crate::plan::json_path::JsonPath>()
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
    let message =
        specific.unwrap_or_else(|| format!("`{text}` does not match the pattern `{pattern}`"));
    (message, None)
}

pub(super) fn describe(
    document: &Within<'_, '_>,
    schema: &Value,
    error: &ValidationError<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let path = instance_path(error);
    if document.is_covered(&path) {
        return;
    }
    let value_span = Some(document.value_span(&path));
    let key_span = Some(document.key_span(&path));
    let diagnostic = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = property_names(keyword_parent(schema, &schema_path(error)));
            for key in unexpected {
                let mut key_path = path.clone();
                key_path.push(Segment::Key(key.clone()));
                if document.is_covered(&key_path) {
                    continue;
                }
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
            let mut field = path.clone();
            field.push(Segment::from(name));
            if document.is_covered(&field) {
                return;
            }
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
                .with_help(Some(format!("write `{}`", with_unit(number, unit)))),
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
            let (message, help) = pattern_message(pattern, text);
            Diagnostic::error(value_span, message).with_help(help)
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
pub(super) fn unit_hint(pattern: &str) -> Option<(&'static str, &'static str)> {
    if pattern.contains("/(s|m|h)") {
        Some(("rate", "/s"))
    } else if pattern.contains("(ms|s|m|h))+(") {
        Some(("sleep time", "s"))
    } else if pattern.contains("(ms|s|m|h))+$") {
        Some(("duration", "s"))
    } else if pattern.ends_with("%$") {
        Some(("percentage", "%"))
    } else {
        None
    }
}

/// A bare number with the unit it lacks: `10` → `10s`. A percentage written as a fraction
/// (`chance: 0.1`, at most 1) is read as one: `10%`; above 1 it is a number of percent.
pub(super) fn with_unit(number: &serde_json::Number, unit: &str) -> String {
    match number.as_f64() {
        Some(fraction) if unit == "%" && (0.0..=1.0).contains(&fraction) => {
            // Rounded to what a percentage is written with: 0.1 * 100 is 10.000000000000002.
            let percent = (fraction * 100.0 * 1e6).round() / 1e6;
            format!("{percent}%")
        }
        _ => format!("{number}{unit}"),
    }
}

pub(super) fn short(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

pub(super) fn ticked(names: &[String]) -> String {
    let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    ticked.join(", ")
}
