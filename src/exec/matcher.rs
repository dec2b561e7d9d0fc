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

/// A JSON pattern of the plan (`expect: {json: …}`) with its templates rendered once for
/// one wait: the pattern stays borrowed from the plan and only the rendered strings are
/// owned, so matching a reply builds no JSON.
pub struct Pattern<'p> {
    template: &'p Value,
    /// Each template string of the pattern, by its address in the plan, and its rendering.
    rendered: Vec<(usize, String)>,
}

impl<'p> Pattern<'p> {
    /// `render` is called once for each template string in `template`, in order.
    pub fn new(
        template: &'p Value,
        render: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
    ) -> Result<Self, String> {
        fn walk(
            value: &Value,
            render: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
            out: &mut Vec<(usize, String)>,
        ) -> Result<(), String> {
            match value {
                Value::String(text) => {
                    if let Some(rendered) = render(text)? {
                        out.push((std::ptr::from_ref(text) as usize, rendered));
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        walk(item, render, out)?;
                    }
                }
                Value::Object(fields) => {
                    for item in fields.values() {
                        walk(item, render, out)?;
                    }
                }
                _ => {}
            }
            Ok(())
        }
        let mut rendered = Vec::new();
        walk(template, render, &mut rendered)?;
        Ok(Self { template, rendered })
    }

    /// Whether `actual` holds the pattern, as [`json_subset`] judges it.
    pub fn matches(&self, actual: &Value) -> bool {
        self.subset(self.template, actual)
    }

    fn subset(&self, expected: &Value, actual: &Value) -> bool {
        match (expected, actual) {
            (Value::Object(want), Value::Object(have)) => want
                .iter()
                .all(|(key, value)| have.get(key).is_some_and(|found| self.subset(value, found))),
            (Value::Array(want), Value::Array(have)) => {
                want.len() == have.len() && want.iter().zip(have).all(|(w, h)| self.subset(w, h))
            }
            (Value::String(want), actual) => {
                let address = std::ptr::from_ref(want) as usize;
                let want = self
                    .rendered
                    .iter()
                    .find(|(at, _)| *at == address)
                    .map_or(want.as_str(), |(_, text)| text.as_str());
                match actual {
                    Value::String(have) => want == have,
                    // A template renders to a string; let `"7"` match `7`.
                    Value::Number(have) => want == have.to_string(),
                    _ => false,
                }
            }
            _ => expected == actual,
        }
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

    #[test]
    fn patterns_match_as_rendered_json_does() {
        let template =
            json!({"type": "pong", "id": "{{ id }}", "n": "{{ n }}", "list": ["a", "{{ id }}"]});
        let pattern = Pattern::new(&template, &mut |text| {
            Ok(match text {
                "{{ id }}" => Some("x7".to_owned()),
                "{{ n }}" => Some("3".to_owned()),
                _ => None,
            })
        })
        .unwrap();
        let rendered = json!({"type": "pong", "id": "x7", "n": "3", "list": ["a", "x7"]});
        for (actual, expected) in [
            (
                json!({"type": "pong", "id": "x7", "n": 3, "list": ["a", "x7"], "extra": 1}),
                true,
            ),
            (
                json!({"type": "pong", "id": "x8", "n": 3, "list": ["a", "x7"]}),
                false,
            ),
            (
                json!({"type": "pong", "id": "x7", "n": 3, "list": ["a", "x8"]}),
                false,
            ),
            (
                json!({"type": "ping", "id": "x7", "n": 3, "list": ["a", "x7"]}),
                false,
            ),
            (json!({"type": "pong", "id": "x7", "n": "3"}), false),
            (json!("pong"), false),
        ] {
            assert_eq!(pattern.matches(&actual), expected, "{actual}");
            assert_eq!(json_subset(&rendered, &actual), expected, "{actual}");
        }
    }
}
