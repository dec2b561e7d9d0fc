//! The plan reference cannot drift from the schema: every key the schema knows is
//! documented in docs/plan-reference.md (written in backticks).

use crate::common::{loadplan, root};

fn property_names(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
                out.extend(properties.keys().cloned());
            }
            for child in map.values() {
                property_names(child, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                property_names(item, out);
            }
        }
        _ => {}
    }
}

#[test]
fn plan_reference_documents_every_schema_key() {
    let schema: serde_json::Value =
        serde_json::from_str(&loadplan(&["schema"]).stdout).expect("the schema is JSON");
    let mut names = Vec::new();
    property_names(&schema, &mut names);
    names.sort();
    names.dedup();
    let doc = std::fs::read_to_string(root().join("docs/plan-reference.md"))
        .expect("docs/plan-reference.md exists");
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| !doc.contains(&format!("`{name}`")) && !doc.contains(&format!("`{name}:")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/plan-reference.md does not document {missing:?}"
    );
}
