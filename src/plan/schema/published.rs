//! The schema as `loadplan schema` publishes it for editors: the generated schema, where
//! every field a [plan-time template](crate::plan::knobs) may set — numbers, and the
//! `Duration`, `Rate`, `Size` and `SleepTime` strings — also admits a `{{ … }}` string
//! (`$defs/PlanTemplate`), so that an editor does not underline `vus: "{{ vars.vus }}"`.
//!
//! Plans are validated against the generated schema itself, after their plan-time
//! templates are rendered: a value is then checked as the literal it became, and its
//! errors say what the field wants, not that it matches neither branch.

use serde_json::{Map, Value, json};

/// The value types whose strings a plan-time template may stand for.
const UNIT_TYPES: [&str; 4] = ["Duration", "Rate", "Size", "SleepTime"];

const PLAN_TEMPLATE: &str = "#/$defs/PlanTemplate";

/// `schema` with plan-time templates admitted where they are rendered.
pub fn publish(mut schema: Value) -> Value {
    if let Some(Value::Object(defs)) = schema.get_mut("$defs") {
        for (name, def) in defs.iter_mut() {
            if name == "Template" {
                continue;
            }
            if UNIT_TYPES.contains(&name.as_str()) {
                *def = either(std::mem::take(def));
            } else {
                numbers(def);
            }
        }
        defs.insert(
            "PlanTemplate".to_owned(),
            json!({
                "type": "string",
                "pattern": r"\{\{|\{%",
                "description": "A plan-time template of `vars`, `env` and `stage` (`\"{{ vars.vus }}\"`), rendered when the plan loads; what it renders must fit the field.",
            }),
        );
    }
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for property in properties.values_mut() {
            numbers(property);
        }
    }
    schema
}

/// `{"anyOf": [node, PlanTemplate]}`, with the node's description and examples lifted to
/// the wrapper, where editors show them.
fn either(mut node: Value) -> Value {
    let mut wrapper = Map::new();
    if let Value::Object(object) = &mut node {
        for key in ["description", "examples"] {
            if let Some(value) = object.remove(key) {
                wrapper.insert(key.to_owned(), value);
            }
        }
    }
    wrapper.insert("anyOf".to_owned(), json!([node, { "$ref": PLAN_TEMPLATE }]));
    Value::Object(wrapper)
}

fn is_number(node: &Value) -> bool {
    let number = |t: &Value| matches!(t.as_str(), Some("integer" | "number"));
    match node.get("type") {
        Some(Value::Array(types)) => types.iter().any(number),
        Some(single) => number(single),
        None => false,
    }
}

/// Wraps every number-typed schema under `node`.
fn numbers(node: &mut Value) {
    if is_number(node) {
        *node = either(std::mem::take(node));
        return;
    }
    if let Value::Object(object) = node {
        for (key, child) in object.iter_mut() {
            match key.as_str() {
                "properties" | "patternProperties" | "$defs" => {
                    if let Value::Object(children) = child {
                        children.values_mut().for_each(numbers);
                    }
                }
                "items" | "additionalProperties" => numbers(child),
                "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                    if let Value::Array(children) = child {
                        children.iter_mut().for_each(numbers);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the published schema admits: a template where a plan-time one is rendered,
    /// and still nothing else there.
    #[test]
    fn knob_fields_admit_a_template_and_nothing_more() {
        let published = publish(crate::plan::schema::generated());
        let validator = jsonschema::draft202012::new(&published).expect("compiles");
        let plan = |stage: Value| {
            json!({
                "name": "x",
                "stages": { "s": stage },
                "scenarios": { "a": { "weight": "{{ vars.w }}", "steps": [ { "sleep": "{{ vars.t }}" } ] } },
            })
        };
        assert!(validator.is_valid(&plan(
            json!({"vus": "{{ vars.vus }}", "duration": "{{ vars.d }}"})
        )));
        assert!(validator.is_valid(&plan(json!({"vus": 3, "duration": "3s"}))));
        assert!(!validator.is_valid(&plan(json!({"vus": "three", "duration": "3s"}))));
        assert!(!validator.is_valid(&plan(json!({"vus": 3, "duration": "3 s"}))));
    }
}
