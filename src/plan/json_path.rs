//! JSON paths in the plan (`$.id`, `$.data.items[0].id`, `$['odd key']`): the subset that
//! names one value, parsed once into a JSON pointer so that runtime lookups are
//! `serde_json::Value::pointer` calls.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A JSON path naming one value: `$`, then `.field`, `[index]` or `['field']` segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonPath {
    text: String,
    pointer: String,
}

impl JsonPath {
    /// The equivalent JSON pointer (`$.a[0]` is `/a/0`).
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The value this path names in `value`, if there is one.
    pub fn find<'v>(&self, value: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        value.pointer(&self.pointer)
    }
}

/// A JSON path that does not parse: the text and what is wrong with it. `Display` is the
/// message the schema check and serde show (``invalid JSON path `id`: …``).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPathError {
    /// The path as written.
    pub text: String,
    pub kind: JsonPathErrorKind,
}

/// What is wrong with a JSON path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonPathErrorKind {
    /// It does not start with `$`.
    NoRoot,
    /// A `.` with no field name after it.
    EmptyField,
    /// `['` without `']`.
    UnclosedQuotedField,
    /// `[` without `]`.
    UnclosedIndex,
    /// `[…]` holding something other than digits.
    BadIndex,
    /// Anything else where a segment should start.
    UnexpectedSegment,
}

impl fmt::Display for JsonPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            JsonPathErrorKind::NoRoot => "it must start with `$`, like `$.id`",
            JsonPathErrorKind::EmptyField => "a `.` must be followed by a field name",
            JsonPathErrorKind::UnclosedQuotedField => "`['` is not closed by `']`",
            JsonPathErrorKind::UnclosedIndex => "`[` is not closed by `]`",
            JsonPathErrorKind::BadIndex => "an index must be a number, like `[0]`",
            JsonPathErrorKind::UnexpectedSegment => "expected `.field`, `[index]` or `['field']`",
        };
        write!(f, "invalid JSON path `{}`: {why}", self.text)
    }
}

impl std::error::Error for JsonPathError {}

impl FromStr for JsonPath {
    type Err = JsonPathError;

    fn from_str(text: &str) -> Result<Self, JsonPathError> {
        let invalid = |kind| JsonPathError {
            text: text.to_owned(),
            kind,
        };
        let mut rest = text
            .strip_prefix('$')
            .ok_or_else(|| invalid(JsonPathErrorKind::NoRoot))?;
        let mut pointer = String::new();
        let mut push = |segment: &str| {
            pointer.push('/');
            pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        };
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err(invalid(JsonPathErrorKind::EmptyField));
                }
                push(name);
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix("['") {
                let end = after
                    .find("']")
                    .ok_or_else(|| invalid(JsonPathErrorKind::UnclosedQuotedField))?;
                push(&after[..end]);
                rest = &after[end + 2..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after
                    .find(']')
                    .ok_or_else(|| invalid(JsonPathErrorKind::UnclosedIndex))?;
                let index = &after[..end];
                if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(JsonPathErrorKind::BadIndex));
                }
                push(index);
                rest = &after[end + 1..];
            } else {
                return Err(invalid(JsonPathErrorKind::UnexpectedSegment));
            }
        }
        Ok(Self {
            text: text.to_owned(),
            pointer,
        })
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl JsonSchema for JsonPath {
    fn schema_name() -> Cow<'static, str> {
        "JsonPath".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": r"^\$(\.[^.\[]+|\[[0-9]+\]|\['[^']*'\])*$",
            "description": "A JSON path naming one value: `$`, then `.field`, `[index]` or `['field']` segments",
            "examples": ["$.id", "$.data.items[0].id"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_pointers() {
        let cases = [
            ("$", ""),
            ("$.id", "/id"),
            ("$.data.items[0].id", "/data/items/0/id"),
            ("$['a/b'].c", "/a~1b/c"),
        ];
        for (text, pointer) in cases {
            assert_eq!(
                text.parse::<JsonPath>().unwrap().pointer(),
                pointer,
                "{text}"
            );
        }
        for bad in ["id", "$.", "$[x]", "$[0", "$['a'", "$..a", "$a"] {
            assert!(bad.parse::<JsonPath>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        use JsonPathErrorKind::*;
        let cases = [
            ("id", NoRoot, "it must start with `$`, like `$.id`"),
            ("$.", EmptyField, "a `.` must be followed by a field name"),
            ("$['a'", UnclosedQuotedField, "`['` is not closed by `']`"),
            ("$[0", UnclosedIndex, "`[` is not closed by `]`"),
            ("$[x]", BadIndex, "an index must be a number, like `[0]`"),
            (
                "$a",
                UnexpectedSegment,
                "expected `.field`, `[index]` or `['field']`",
            ),
        ];
        for (text, kind, why) in cases {
            let error = text.parse::<JsonPath>().unwrap_err();
            assert_eq!(error.kind, kind, "{text}");
            assert_eq!(
                error.to_string(),
                format!("invalid JSON path `{text}`: {why}")
            );
        }
    }

    #[test]
    fn find_looks_up_values() {
        let value = serde_json::json!({"data": {"items": [{"id": 7}]}});
        let path: JsonPath = "$.data.items[0].id".parse().unwrap();
        assert_eq!(path.find(&value), Some(&serde_json::json!(7)));
    }
}
