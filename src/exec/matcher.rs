//! Does a message match what an `expect` or an `on_message` rule asks for?

use serde_json::Value;

/// Whether `actual` contains every field of `expected` with the same value (objects are
/// matched as subsets, recursively; arrays and scalars must be equal).
pub fn json_subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .all(|(key, value)| have.get(key).is_some_and(|found| json_subset(value, found))),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| json_subset(w, h))
        }
        // A template renders to a string; let `"7"` match `7`.
        (Value::String(want), Value::Number(have)) => *want == have.to_string(),
        _ => expected == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subsets_match() {
        assert!(json_subset(
            &json!({"type": "pong"}),
            &json!({"type": "pong", "id": 1})
        ));
        assert!(json_subset(
            &json!({"a": {"b": 1}}),
            &json!({"a": {"b": 1, "c": 2}})
        ));
        assert!(!json_subset(
            &json!({"type": "pong"}),
            &json!({"type": "ping"})
        ));
        assert!(!json_subset(&json!({"id": 1}), &json!({})));
        assert!(json_subset(&json!({"id": "7"}), &json!({"id": 7})));
        assert!(json_subset(
            &json!([1, {"a": 1}]),
            &json!([1, {"a": 1, "b": 2}])
        ));
        assert!(!json_subset(&json!([1]), &json!([1, 2])));
    }
}
