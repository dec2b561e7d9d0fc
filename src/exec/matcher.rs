//! Does a message match what an `expect` step or an `on_message` rule asks for? Both are
//! one [`CompiledMatcher`], made when the run is prepared (its regex compiled once). An
//! `on_message` rule matches as written; an `expect` step's strings are templates,
//! rendered once per wait into a [`Rendered`] matcher, so matching a reply builds no JSON.

use regex::Regex;
use serde_json::Value;

use super::run_error::RegexBug;

use crate::plan::json_path::JsonPath;
use crate::plan::model::{Expectation, Matcher};

/// A regex of the plan, which the analyzer already compiled once: a failure here is a bug.
pub fn compile_regex(pattern: &str) -> Result<Regex, RegexBug> {
    Regex::new(pattern).map_err(|error| RegexBug {
        pattern: pattern.to_owned(),
        error,
    })
}

/// A message matcher of the plan. A message matches when it has every part the matcher
/// has: the `json` fields (a subset), the values at the `json_path`s, the `regex`, the
/// exact `text`.
#[derive(Debug)]
pub struct CompiledMatcher {
    json: Option<Value>,
    json_path: Vec<(JsonPath, Value)>,
    regex: Option<Regex>,
    text: Option<String>,
}

impl CompiledMatcher {
    /// An `expect` step's matcher (its strings are templates: see [`Self::render`]).
    pub fn expect(expectation: &Expectation) -> Result<Self, RegexBug> {
        Self::new(
            expectation.json.as_ref(),
            &expectation.json_path,
            expectation.regex.as_deref(),
            expectation.text.as_ref().map(|text| text.as_str()),
        )
    }

    /// An `on_message` rule's `match` (its strings are literal).
    pub fn on_message(matcher: &Matcher) -> Result<Self, RegexBug> {
        Self::new(
            matcher.json.as_ref(),
            &matcher.json_path,
            matcher.regex.as_deref(),
            matcher.text.as_deref(),
        )
    }

    fn new(
        json: Option<&Value>,
        json_path: &indexmap::IndexMap<JsonPath, Value>,
        regex: Option<&str>,
        text: Option<&str>,
    ) -> Result<Self, RegexBug> {
        Ok(Self {
            json: json.cloned(),
            json_path: json_path
                .iter()
                .map(|(path, value)| (path.clone(), value.clone()))
                .collect(),
            regex: regex.map(compile_regex).transpose()?,
            text: text.map(str::to_owned),
        })
    }

    /// Whether a message (its text, and its JSON if it is JSON) matches, every string of
    /// the matcher taken as written.
    pub fn matches(&self, text: &str, json: Option<&Value>) -> bool {
        self.fits(&[], text, json)
    }

    /// The matcher with its template strings rendered for one wait. `render` is called
    /// once for each string, in order: those in `json`, in the `json_path` values, then
    /// `text`; `None` keeps the string as written.
    pub fn render<E>(
        &self,
        render: &mut dyn FnMut(&str) -> Result<Option<String>, E>,
    ) -> Result<Rendered<'_>, E> {
        fn walk<E>(
            value: &Value,
            render: &mut dyn FnMut(&str) -> Result<Option<String>, E>,
            out: &mut Vec<(usize, String)>,
        ) -> Result<(), E> {
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
        let mut strings = Vec::new();
        if let Some(json) = &self.json {
            walk(json, render, &mut strings)?;
        }
        for (_, value) in &self.json_path {
            walk(value, render, &mut strings)?;
        }
        if let Some(text) = &self.text
            && let Some(rendered) = render(text)?
        {
            strings.push((std::ptr::from_ref(text) as usize, rendered));
        }
        Ok(Rendered {
            matcher: self,
            strings,
        })
    }

    /// `rendered`: the renderings of template strings, by the string's address.
    fn fits(&self, rendered: &[(usize, String)], text: &str, json: Option<&Value>) -> bool {
        self.json
            .as_ref()
            .is_none_or(|want| json.is_some_and(|have| subset(want, have, rendered)))
            && self.json_path.iter().all(|(path, want)| {
                json.and_then(|j| path.find(j))
                    .is_some_and(|have| subset(want, have, rendered))
            })
            && self.regex.as_ref().is_none_or(|r| r.is_match(text))
            && self
                .text
                .as_ref()
                .is_none_or(|want| as_rendered(want, rendered) == text)
    }
}

/// A [`CompiledMatcher`] with its templates rendered for one wait: only the rendered
/// strings are owned.
pub struct Rendered<'m> {
    matcher: &'m CompiledMatcher,
    /// Each template string of the matcher, by its address, and its rendering.
    strings: Vec<(usize, String)>,
}

impl Rendered<'_> {
    pub fn matches(&self, text: &str, json: Option<&Value>) -> bool {
        self.matcher.fits(&self.strings, text, json)
    }
}

/// A string of a matcher as rendered for this wait, or as written.
fn as_rendered<'a>(want: &'a String, rendered: &'a [(usize, String)]) -> &'a str {
    let address = std::ptr::from_ref(want) as usize;
    rendered
        .iter()
        .find(|(at, _)| *at == address)
        .map_or(want.as_str(), |(_, text)| text.as_str())
}

/// Whether `actual` contains every field of `expected` with the same value (objects are
/// matched as subsets, recursively; arrays and scalars must be equal). The recursion is
/// bounded by `expected`, a plan value at most `plan::yaml::MAX_DEPTH` (128) levels deep;
/// `actual` comes from `serde_json`, whose parser stops at 128 levels too.
pub fn json_subset(expected: &Value, actual: &Value) -> bool {
    subset(expected, actual, &[])
}

/// [`json_subset`], with the strings of `expected` found in `rendered` replaced by their
/// renderings.
fn subset(expected: &Value, actual: &Value, rendered: &[(usize, String)]) -> bool {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(key, value)| {
            have.get(key)
                .is_some_and(|found| subset(value, found, rendered))
        }),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| subset(w, h, rendered))
        }
        (Value::String(want), actual) => {
            let want = as_rendered(want, rendered);
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

    fn expectation(value: &Value) -> Expectation {
        serde_json::from_value(value.clone()).expect("the test's expectation is valid")
    }

    fn on_message(value: &Value) -> Matcher {
        serde_json::from_value(value.clone()).expect("the test's matcher is valid")
    }

    #[test]
    fn rendered_matchers_match_as_rendered_json_does() {
        let matcher = CompiledMatcher::expect(&expectation(&json!({
            "json": {"type": "pong", "id": "{{ id }}", "n": "{{ n }}", "list": ["a", "{{ id }}"]},
            "json_path": {"$.list[1]": "{{ id }}"}
        })))
        .unwrap();
        let rendered = matcher
            .render::<String>(&mut |text| {
                Ok(match text {
                    "{{ id }}" => Some("x7".to_owned()),
                    "{{ n }}" => Some("3".to_owned()),
                    _ => None,
                })
            })
            .unwrap();
        let as_json = json!({"type": "pong", "id": "x7", "n": "3", "list": ["a", "x7"]});
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
            assert_eq!(rendered.matches("", Some(&actual)), expected, "{actual}");
            assert_eq!(json_subset(&as_json, &actual), expected, "{actual}");
            // Unrendered, the templates are literal text that no message holds.
            assert!(!matcher.matches("", Some(&actual)), "{actual}");
        }
    }

    #[test]
    fn templates_render_in_order_once_each() {
        let matcher = CompiledMatcher::expect(&expectation(&json!({
            "json": {"a": "{{ a }}", "b": ["{{ b }}"]},
            "json_path": {"$.c": "{{ c }}"},
            "text": "{{ d }}"
        })))
        .unwrap();
        let mut seen = Vec::new();
        let rendered = matcher.render::<String>(&mut |text| {
            seen.push(text.to_owned());
            Ok(Some(text.replace("{{ ", "").replace(" }}", "")))
        });
        assert!(rendered.is_ok());
        assert_eq!(seen, ["{{ a }}", "{{ b }}", "{{ c }}", "{{ d }}"]);
        let failed = matcher.render(&mut |text| Err(format!("cannot render {text}")));
        assert_eq!(failed.err().as_deref(), Some("cannot render {{ a }}"));
    }

    #[test]
    fn every_part_of_a_matcher_must_hold() {
        let both =
            CompiledMatcher::on_message(&on_message(&json!({"regex": "^t", "text": "tick"})))
                .unwrap();
        let json = CompiledMatcher::on_message(&on_message(&json!({
            "json": {"kind": "tick"}, "json_path": {"$.n": 1}, "regex": "^\\{"
        })))
        .unwrap();
        for (matcher, text, expected) in [
            (&both, "tick", true),
            (&both, "tick!", false),
            (&both, "Tick", false),
            (&json, r#"{"kind":"tick","n":1}"#, true),
            (&json, r#"{"kind":"tick","n":2}"#, false),
            (&json, r#"{"kind":"tock","n":1}"#, false),
            (&json, r#" {"kind":"tick","n":1}"#, false),
            (&json, "not json", false),
        ] {
            let parsed = serde_json::from_str::<Value>(text).ok();
            assert_eq!(matcher.matches(text, parsed.as_ref()), expected, "{text}");
        }
        // `on_message` strings are not templates.
        let literal =
            CompiledMatcher::on_message(&on_message(&json!({"text": "{{ x }}"}))).unwrap();
        assert!(literal.matches("{{ x }}", None));
    }

    #[test]
    fn a_regex_that_does_not_compile_is_an_error() {
        let error = CompiledMatcher::on_message(&on_message(&json!({"regex": "("}))).unwrap_err();
        assert_eq!(error.pattern, "(");
    }
}
